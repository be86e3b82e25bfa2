"""Where ``backprop-harness grade`` of a class spends its time.

    .venv/bin/python benchmarks/profile_grade.py [--size 50] [--jobs 2] [--sample 3] [--parts class,one,copy]
        [--out DIR]

The class: ``--size`` zoo entries in one folder, every correct one first, then the buggy
ones in name order (50: the 16 correct and the first 34 buggy), symlinked.

class   ``python -m backprop_harness.cli grade CLASS --out OUT --jobs J`` as a teacher
        types it (the sandbox on, the harness's self-check first): its wall time and
        CPU seconds (of every process, the sandboxed ones too, where it can run in a
        cgroup of its own: root, cgroup v1; ``--exclusive`` weighs that cgroup 256 times
        the rest of the machine, whose other work then yields), and from its records the
        seconds per submission (median, 90th percentile, slowest) and the statuses; the self-check
        (``grade.check_harness``) timed on its own
one     --sample submissions (a correct one, a buggy one, ...), each run as ``grade``
        runs one (``pytest -n 0 --impl ... --oracles complex_step``, profile ci,
        HTML report, its own bytecode cache) in a private copy of the harness, with
        ``benchmarks/profile_test.py``'s plugin: the timeline of the pytest process
        (interpreter and pytest, conftest, collection, tests, exit), its CPU and its
        workers', and per check: Hypothesis examples, drawing, worker round trips,
        worker starts, oracle seconds. Each sample four ways: sandbox strict and off,
        bytecode "cold" (a fresh copy of the harness, as every submission of a class
        gets: the class's bytecode cache holds the site-packages' modules, not this
        copy's, whose path is new) and "warm" (the same copy run again). The CPU
        seconds of a strict run leave out its sandboxed workers (the kernel reaps
        them inside their PID namespace).
launch  --sample submissions graded one at a time by ``grade.run_one`` (strict sandbox), each
        twice over in alternation: forked from the class's pre-imported process
        (``grade.Forks``) and as a new interpreter on a private copy of the harness (the
        unsandboxed path); the seconds of each run, their medians and sums, and whether the
        two ways gave the same record (status, score, verdicts)
copy    what ``run_one`` does before pytest starts: a copy of ``grade.HARNESS_PARTS``
        (the private harness of one submission), timed
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from profile_test import CGROUPS, cgroup, plugin_env, print_tests, print_timeline, processes, timed  # noqa: E402

from backprop_harness import grade  # noqa: E402


def make_class(folder: Path, size: int) -> list:
    entries = sorted((ROOT / "zoo" / "correct").glob("*.py")) + sorted((ROOT / "zoo" / "buggy").glob("*.py"))
    if size > len(entries):
        raise SystemExit(f"--size {size}: the zoo has {len(entries)} entries")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in entries[:size]:
        (folder / path.name).symlink_to(path)
    return entries[:size]


def whole_class(klass: Path, out: Path, jobs: int, exclusive: bool = False):
    print(f"class: python -m backprop_harness.cli grade {klass} --out {out} --jobs {jobs}")
    t = time.perf_counter()
    changed = grade.check_harness()
    print(f"   the harness's self-check alone (grade.check_harness): {time.perf_counter() - t:.2f} s"
          + (f"; the tree differs from its commit in {len(changed)} files" if changed else ""))
    cmd = [sys.executable, "-m", "backprop_harness.cli", "grade", str(klass), "--out", str(out), "--jobs", str(jobs)]
    if changed:
        cmd.append("--allow-modified-harness")
    wall, status, output, cpu = timed(cmd, exclusive=exclusive)
    summary = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else None
    if summary is None:
        print(output[-3000:])
        return
    seconds = sorted(r["seconds"] for r in summary["submissions"])
    statuses = {s: sum(r["status"] == s for r in summary["submissions"])
                for s in sorted({r["status"] for r in summary["submissions"]})}
    print(f"   wall {wall:.1f} s, CPU {cpu:.1f} s (every process), exit {status}; {len(seconds)} submissions, "
          f"{jobs} at a time" + (" (--exclusive)" if exclusive else ""))
    print(f"   per submission: median {statistics.median(seconds):.2f} s, 90th percentile "
          f"{seconds[int(0.9 * (len(seconds) - 1))]:.2f} s, slowest {seconds[-1]:.2f} s, sum {sum(seconds):.0f} s; "
          f"statuses {statuses}")
    print(f"   wall / (submissions / jobs) = {wall / (len(seconds) / jobs):.2f} s per submission slot")


def private_harness(target: Path) -> Path:
    """A copy of the harness as ``grade`` makes one per submission (``grade.HARNESS_PARTS``)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for part in grade.HARNESS_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, target / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.is_file():
            shutil.copy2(src, target / part)
    return target


def one(entry: Path, tmp: Path, sandbox: str, cache: str, tests_shown: int):
    out = tmp / "one" / f"{entry.stem}-{sandbox}-{cache}"
    out.mkdir(parents=True, exist_ok=True)
    # the class's one bytecode cache (grade's PYTHONPYCACHEPREFIX): the site-packages' modules are
    # compiled there once for the class; "cold" is a fresh copy of the harness at a new path, as each
    # submission gets (its modules compiled again), "warm" the same copy run again
    pycache = tmp / "pycache"
    harness = tmp / f"harness-{entry.stem}-{sandbox}"
    if cache == "cold" or not harness.exists():
        private_harness(harness)
    env = {**os.environ, "PYTHONPATH": str(harness), "HYPOTHESIS_PROFILE": "ci", "BACKPROP_SANDBOX": sandbox,
           "PYTHONPYCACHEPREFIX": str(pycache), "BACKPROP_JAX_CACHE": str(tmp / "jax")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env = plugin_env(out, env=env)
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    submission = tmp / "submission" / entry.stem          # a copy, as grade plugs in (out/NAME/submission/)
    submission.mkdir(parents=True, exist_ok=True)
    shutil.copy2(entry, submission / entry.name)
    entry = submission / entry.name
    for path in (tmp, submission.parent, submission):     # readable by the sandbox's uid, as grade makes it
        path.chmod(0o755)
    (entry).chmod(0o644)
    cmd = [sys.executable, "-m", "pytest", "--rootdir", str(harness), "-c", str(harness / "pyproject.toml"),
           "-p", "no:cacheprovider", "-q", "-n", "0", "--impl", str(entry), "--impl-timeout", "5",
           "--oracles", "complex_step", "--conformance-json", str(out / "conformance.json"),
           "--report-html", str(out / "report.html"), "-p", "profile_test_plugin",
           str(harness / "backprop_harness" / "conformance" / "test_conformance.py")]
    started = time.time()
    t = time.perf_counter()
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    procs = processes(out)
    print(f"\n   {entry.name}, sandbox {sandbox}, bytecode cache {cache}: wall {wall:.2f} s, "
          f"CPU {cpu:.2f} s, exit {proc.returncode}")
    if not procs:
        print(proc.stdout[-3000:])
        return
    print_timeline(procs, started)
    print_tests(procs, tests_shown, groups=("checks",))


def copy_cost(tmp: Path, repeat: int = 3):
    runs = []
    for i in range(repeat):
        t = time.perf_counter()
        target = private_harness(tmp / f"copy-{i}")
        runs.append(time.perf_counter() - t)
        files = sum(1 for p in target.rglob("*") if p.is_file())
        shutil.rmtree(target)
    print(f"\ncopy: the private harness of one submission ({files} files of {', '.join(grade.HARNESS_PARTS)}): "
          f"median {statistics.median(runs):.3f} s")


def launch(entries: list, tmp: Path, rounds: int = 2):
    print(f"\nlaunch: {len(entries)} submissions, forked and new interpreters alternating, {rounds} rounds")
    caches = tmp / "launch-caches"
    shutil.rmtree(caches, ignore_errors=True)
    caches.mkdir(parents=True)
    # this process in a cgroup of its own (root, cgroup v1): each run's CPU, its sandboxed workers'
    # included, is the cgroup's usage across it
    group = cgroup(False)
    if group:
        home = next(line.split(":")[2].strip() for line in Path("/proc/self/cgroup").read_text().splitlines()
                    if "cpuacct" in line.split(":")[1].split(","))
        (group[0] / "cgroup.procs").write_text(str(os.getpid()))

    def usage():
        return int((group[0] / "cpuacct.usage").read_text()) / 1e9 if group else float("nan")
    settings = grade.Settings(sandbox="strict", caches=caches)
    settings.forks = grade.Forks(caches, settings)
    plain = grade.Settings(**{**settings.__dict__, "forks": None})
    seconds, cpu, records = {"forked": [], "new interpreter": []}, {"forked": [], "new interpreter": []}, {}
    try:
        for _ in range(rounds):
            for entry in entries:
                sub = grade.Submission(entry.stem, entry, entry, "-")
                for way, chosen in (("forked", settings), ("new interpreter", plain)):
                    t, c = time.perf_counter(), usage()
                    record = grade.run_one(sub, tmp / "launch" / way, chosen)
                    seconds[way].append(time.perf_counter() - t)
                    cpu[way].append(usage() - c)
                    records.setdefault(entry.stem, {})[way] = (record["status"], record["score"],
                                                               json.dumps(record.get("systems"), sort_keys=True))
    finally:
        settings.forks.close()
        if group:
            (CGROUPS / "cpuacct" / home.lstrip("/") / "cgroup.procs").write_text(str(os.getpid()))
            try:
                group[0].rmdir()
            except OSError:          # a process of a run outlived it: left for the kernel to empty
                pass
    for way in seconds:
        print(f"   {way:16s} wall: median {statistics.median(seconds[way]):.2f} s, sum {sum(seconds[way]):.1f} s; "
              f"CPU of every process: median {statistics.median(cpu[way]):.2f} s, sum {sum(cpu[way]):.1f} s "
              f"({len(seconds[way])} runs)")
    differ = [name for name, r in records.items() if r["forked"] != r["new interpreter"]]
    print(f"   the same record both ways: {len(records) - len(differ)} of {len(records)}"
          + (f"; different: {', '.join(differ)}" if differ else ""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sample", type=int, default=2, help="submissions profiled one by one (part one)")
    parser.add_argument("--tests", type=int, default=0, help="the slowest tests shown per sample (0: none)")
    parser.add_argument("--parts", default="copy,one,class", help="comma-separated, of class, one, launch, copy")
    parser.add_argument("--out", type=Path, help="the working folder (default: a temporary one, removed)")
    parser.add_argument("--exclusive", action="store_true",
                        help="part class: the command in a cgroup weighing 256 times the rest of the machine, whose "
                             "other work then yields to it (root, cgroup v1): other people's work on the machine "
                             "nearly stops while it runs")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",")}
    tmp = args.out or Path(tempfile.mkdtemp(prefix="profile-grade-"))
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    try:
        entries = make_class(tmp / "class", args.size)
        if "copy" in parts:
            copy_cost(tmp)
        if "one" in parts:
            print("\none: submissions run one at a time as grade runs them")
            picks = [entries[0], entries[-1]] + entries[1:max(0, args.sample - 2) + 1]
            for entry in picks[:args.sample]:
                for sandbox, cache in (("strict", "cold"), ("strict", "warm"), ("off", "cold"), ("off", "warm")):
                    one(entry.resolve(), tmp, sandbox, cache, args.tests)
        if "launch" in parts:
            picks = [entries[0], entries[-1]] + entries[1:max(0, args.sample - 2) + 1]
            launch([e.resolve() for e in picks[:args.sample]], tmp)
        if "class" in parts:
            print()
            whole_class(tmp / "class", tmp / "graded", args.jobs, args.exclusive)
    finally:
        if args.out is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
