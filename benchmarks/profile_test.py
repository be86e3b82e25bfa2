"""Where ``backprop-harness test`` of one file spends its time.

    .venv/bin/python benchmarks/profile_test.py [SPEC] [--repeat 3] [--top 25] [--tests 25] [--out DIR]
        [--parts wall,imports,run,cprofile,exit] [-- pytest options]

SPEC defaults to ``zoo4``: four correct zoo entries (``value_micrograd``,
``manual_222_numpy``, ``mlp_einsum``, ``softmax_explicit_jacobian``) written into one
file under --out, outside the harness's folder, so that it runs sandboxed as a
student's file does (``reference/protocol.py`` provides all four systems too, but code
inside the harness's folder runs unsandboxed: docs/sandbox.md). Five measurements (the first
after one warm run: disk caches, JAX's compilations and the .pyc files), wall-clock seconds and CPU seconds (the CPU
figures hold better than the wall ones on a machine others share):

1. wall     ``python -m backprop_harness.cli test SPEC`` as a user types it, median
            of --repeat runs, and the same with ``-- -n 0`` (one process, no xdist),
            with the CPU seconds of all its processes
2. imports  each heavy import in a fresh interpreter (wall and CPU), and
            ``python -X importtime`` of what a pytest process of the run imports
3. run      one run of the same command with a small plugin (``-p``) in every pytest
            process (the controller and each xdist worker):
            * the process's timeline: interpreter start -> plugin loaded (pytest
              imported) -> configured -> collected -> first test -> last test -> end,
              in seconds and in the process's CPU seconds
            * the heavy packages each process ended up importing
            * per test: seconds, Hypothesis examples (calls of the inner test),
              the time drawing its cases (``_draw_case``), worker round trips
              (``Worker.call``) and their seconds, worker
              processes started (``Worker._start``: the implementation's worker and
              the determinism check's fresh ones, on background threads), and the
              seconds inside each oracle (``oracles.gradient``, ``oracles.directional``,
              by name) and the rounding magnitude
            and the same figures summed per check (the conformance checks of
            ``backprop_harness.protocol``) and per system
4. cprofile the same run under cProfile in every pytest process (slower: its figures
            are for ranking), the top --top functions of the controller and of gw0
5. exit     seconds from a process's last statement to its end (interpreter shutdown):
            numpy alone, after importing torch, after JAX's precompilation, and
            torch with ``gc.freeze()`` or ``os._exit`` at the end

The tests of one xdist worker run one after the other, so the per-test seconds of
a worker add up to its busy time, and the two workers overlap. The plugin's module
is written to --out (a temporary folder by default, kept for the profiles) and
``benchmarks/profile_grade.py`` uses it too.
"""
from __future__ import annotations

import argparse
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZOO4 = ("value_micrograd", "manual_222_numpy", "mlp_einsum", "softmax_explicit_jacobian")
HEAVY = ("numpy", "hypothesis", "torch", "jax", "jaxlib", "scipy", "xdist", "execnet", "pytest")

PLUGIN = textwrap.dedent('''
    """profile_test's plugin: timings, counts and a cProfile of one pytest process."""
    import cProfile, json, os, sys, time
    from collections import defaultdict

    def _process_start():
        """Seconds since the epoch when this process started (Linux /proc, to 10 ms)."""
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))

    T = {"start": _process_start(), "plugin": time.time()}
    CPU = {"plugin": time.process_time()}        # this process's CPU seconds at each point
    PROF = cProfile.Profile() if os.environ.get("PROFILE_TEST_CPROFILE") else None
    if PROF:
        PROF.enable()
    TESTS = defaultdict(lambda: defaultdict(float))
    CURRENT = ["(outside tests)"]
    STARTS = []
    ROLE = ["controller"]

    def _wrap(owner, name, key, extra=None):
        inner = getattr(owner, name)
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                d = time.perf_counter() - t
                tag = key if extra is None else f"{key} {extra(a, k)}"
                TESTS[CURRENT[0]][tag + " s"] += d
                TESTS[CURRENT[0]][tag + " n"] += 1
        setattr(owner, name, wrapper)

    def pytest_configure(config):
        if hasattr(config, "workerinput"):
            ROLE[0] = config.workerinput["workerid"]
        T["configured"], CPU["configured"] = time.time(), time.process_time()
        from backprop_harness import isolation
        _wrap(isolation.Worker, "call", "round trip")
        inner_start = isolation.Worker._start
        def start(self, label):
            t = time.perf_counter()
            try:
                return inner_start(self, label)
            finally:
                STARTS.append((CURRENT[0], time.perf_counter() - t))
                TESTS[CURRENT[0]]["worker starts n"] += 1
        isolation.Worker._start = start
        import oracles
        _wrap(oracles, "gradient", "oracle", lambda a, k: a[1] if len(a) > 1 else k.get("oracle"))
        _wrap(oracles, "directional", "directional", lambda a, k: a[2] if len(a) > 2 else k.get("oracle"))

    def pytest_collection_finish(session):
        T["collected"], CPU["collected"] = time.time(), time.process_time()
        mod = sys.modules.get("backprop_harness.conformance.test_conformance")
        if mod is not None and hasattr(mod, "magnitude"):
            _wrap(mod, "magnitude", "oracle", lambda a, k: "magnitude")
        if mod is not None and hasattr(mod, "_draw_case"):
            _wrap(mod, "_draw_case", "draw")
        for item in session.items:
            hyp = getattr(getattr(item, "obj", None), "hypothesis", None)
            if hyp is not None and not getattr(hyp.inner_test, "_counted", False):
                inner = hyp.inner_test
                def counted(*a, _inner=inner, **k):
                    TESTS[CURRENT[0]]["examples n"] += 1
                    return _inner(*a, **k)
                counted._counted = True
                hyp.inner_test = counted

    def pytest_runtest_logstart(nodeid, location):
        T.setdefault("first test", time.time())
        CPU.setdefault("first test", time.process_time())
        CURRENT[0] = nodeid
        CPU["test"] = time.process_time()

    def pytest_runtest_logreport(report):
        TESTS[report.nodeid]["seconds s"] += report.duration
        if report.when == "setup":
            TESTS[report.nodeid]["setup s"] += report.duration
        if report.when == "teardown":
            T["last test"], CPU["last test"] = time.time(), time.process_time()
            if "test" in CPU:
                TESTS[report.nodeid]["cpu s"] += time.process_time() - CPU.pop("test")
            TESTS[report.nodeid]["checks"] = [v for k, v in report.user_properties if k == "check"]
            TESTS[report.nodeid]["system"] = next((v for k, v in report.user_properties if k == "system"), "")
            CURRENT[0] = "(outside tests)"

    def pytest_unconfigure(config):
        T["end"], CPU["end"] = time.time(), time.process_time()
        import resource
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        T["cpu"], T["children cpu"] = me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime
        out = os.environ["PROFILE_TEST_OUT"]
        if PROF:
            PROF.disable()
            PROF.dump_stats(os.path.join(out, f"{ROLE[0]}.prof"))
        heavy = sorted(m for m in os.environ["PROFILE_TEST_HEAVY"].split(",") if m in sys.modules)
        with open(os.path.join(out, f"profile-{ROLE[0]}.json"), "w") as f:
            json.dump({"role": ROLE[0], "times": T, "cpu": CPU, "heavy": heavy, "starts": STARTS,
                       "tests": {k: dict(v) for k, v in TESTS.items()}}, f)
''')


def zoo4(folder: Path) -> str:
    """One file providing all four systems: the ZOO4 entries, each one's module-level helpers
    renamed apart (three of them define their own ``sigmoid``)."""
    import re
    parts = []
    for name in ZOO4:
        text = (ROOT / "zoo" / "correct" / f"{name}.py").read_text()
        text = re.sub(r"^ZOO = .*$", "", text, flags=re.M)
        for helper in re.findall(r"^def (\w+)\(", text, flags=re.M):
            if helper not in ("forward", "gradients", "mlp_gradients", "softmax_gradients"):
                text = re.sub(rf"(?<![\w.]){helper}\(", f"{name}_{helper}(", text)
        parts.append(f"# --- zoo/correct/{name}.py\n{text}")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    path = folder / "four_systems.py"
    path.write_text("\n\n".join(parts))
    path.chmod(0o644)
    return str(path)


def cli(spec, extra):
    return [sys.executable, "-m", "backprop_harness.cli", "test", spec] + (["--", *extra] if extra else [])


CGROUPS = Path("/sys/fs/cgroup")
# the weight a measured command gets over everything else on the machine with --exclusive
EXCLUSIVE_SHARES = 262144


def cgroup(exclusive: bool):
    """A new cgroup (v1 ``cpuacct``, and ``cpu`` when exclusive) for one measured command, or
    None where there is none (no cgroup v1 hierarchy, not root): its folders."""
    name = f"benchmark-{os.getpid()}-{time.monotonic_ns()}"
    folders = [CGROUPS / "cpuacct" / name] + ([CGROUPS / "cpu" / name] if exclusive else [])
    try:
        for folder in folders:
            folder.mkdir()
        if exclusive:
            (folders[1] / "cpu.shares").write_text(str(EXCLUSIVE_SHARES))
    except OSError:
        for folder in folders:
            folder.exists() and folder.rmdir()
        return None
    return folders


def timed(cmd, env=None, exclusive: bool = False) -> tuple[float, int, str, float]:
    """(wall seconds, exit status, output, CPU seconds). The CPU is that of every process the
    command started, the sandboxed ones too, where a cgroup can hold them (root, cgroup v1);
    elsewhere of the process tree it waited for (without the sandboxed workers, which are reaped
    inside their PID namespace). ``exclusive``: the command's cgroup weighs EXCLUSIVE_SHARES
    times the rest of the machine, whose work then yields to it, as on an idle machine."""
    import resource
    folders = cgroup(exclusive)
    if exclusive and folders is None:
        raise SystemExit("--exclusive needs root and cgroup v1's cpu and cpuacct controllers")

    def enter():
        for folder in folders or ():
            (folder / "cgroup.procs").write_text(str(os.getpid()))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          preexec_fn=enter if folders else None)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if folders:
        cpu = int((folders[0] / "cpuacct.usage").read_text()) / 1e9
        for folder in folders:
            try:
                folder.rmdir()
            except OSError:          # a process of the command outlived it: left for the kernel to empty
                pass
    return wall, proc.returncode, proc.stdout, cpu


def walls(spec, extra, repeat, exclusive=False):
    print("1. wall time (median of runs after a warm one), and the CPU seconds of all its processes"
          + (" (--exclusive: the rest of the machine yields to each run)" if exclusive else ""))
    timed(cli(spec, extra), exclusive=exclusive)
    for label, more in (("default (xdist, every core)", []), ("-n 0 (one process)", ["-n", "0"])):
        runs = [timed(cli(spec, extra + more), exclusive=exclusive) for _ in range(repeat)]
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[3] for r in runs)
        print(f"   {label:<30}{wall:>7.2f} s wall{cpu:>7.2f}"
              f" s CPU  (runs: {', '.join(f'{r[0]:.2f}' for r in runs)}; exit {runs[-1][1]})", flush=True)


IMPORTS = {"python": "pass",
           "numpy": "import numpy",
           "pytest, hypothesis, xdist": "import pytest, hypothesis, xdist.plugin",
           "the run's own modules (conftest, test module)": ("import conftest, hypothesis; hypothesis.settings."
                                                             "register_profile('conformance'); "
                                                             "import backprop_harness.conformance.test_conformance"),
           "torch (oracles.torch64)": "import oracles.torch64",
           "jax (oracles.jax64)": "import oracles.jax64",
           "jax + precompile (disk cache warm)": "import oracles; oracles.precompile_jax(('gradient',)).join()",
           "the command (backprop_harness.cli)": "import backprop_harness.cli; backprop_harness.cli.main(['-h'])",
           "the plug-in worker's modules": "import backprop_harness.worker"}


def _child(cmd, env) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stderr) of one child process."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{cmd} failed:\n{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stderr


def imports(repeat, top):
    print("\n2. imports: each statement in a fresh interpreter (python -c), median wall and CPU seconds; "
          "the interpreter's own start is the first line")
    env = {**os.environ, "JAX_ENABLE_X64": "1", "PYTHONPATH": str(ROOT)}
    for label, stmt in IMPORTS.items():
        runs = [_child([sys.executable, "-c", stmt], env) for _ in range(repeat)]
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"   {label:<48}{wall:>6.2f} s wall{cpu:>6.2f} s CPU"
              f"   python -c \"{stmt}\"", flush=True)
    stmt = IMPORTS["the run's own modules (conftest, test module)"] + ", oracles.torch64, oracles.jax64"
    _, _, err = _child([sys.executable, "-X", "importtime", "-c", stmt], env)
    rows = []
    for line in err.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].strip(), len(parts[2]) - len(parts[2].lstrip())))
    top_level = [(us, name) for us, name, depth in rows if depth == 1]     # imported by the statement itself
    print(f"\n   python -X importtime -c \"{stmt}\": the top {top} modules it imports itself, by cumulative time")
    for us, name in sorted(top_level, reverse=True)[:top]:
        print(f"   {name:<40}{us / 1000:>8.0f} ms")


EXITS = {"numpy": "import numpy",
         "torch (oracles.torch64)": "import oracles.torch64",
         "jax + precompile": "import oracles; oracles.precompile_jax(('gradient',)).join()",
         "torch, then gc.freeze()": "import oracles.torch64, gc; gc.freeze()",
         "torch, then os._exit(0)": "import oracles.torch64"}


def exits(repeat):
    print("\n5. exit: seconds from a process's last statement to its exit (interpreter shutdown), median")
    env = {**os.environ, "JAX_ENABLE_X64": "1", "PYTHONPATH": str(ROOT)}
    for label, stmt in EXITS.items():
        tail = "sys.stdout.write(repr(time.time())); sys.stdout.flush()" + ("; os._exit(0)" if "_exit" in label else "")
        xs = []
        for _ in range(repeat):
            proc = subprocess.Popen([sys.executable, "-c", f"import os, sys, time\n{stmt}\n{tail}"], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE)
            last = float(proc.stdout.read())
            proc.wait()
            xs.append(time.time() - last)
        print(f"   {label:<30}{statistics.median(xs):>6.2f} s  ({', '.join(f'{x:.2f}' for x in xs)})", flush=True)


ORACLE_COLUMNS = ("torch64", "jax64", "complex_step", "richardson", "central", "magnitude")


def plugin_env(out: Path, cprofile: bool = False, env=None) -> dict:
    """The environment that loads the plugin (with ``-p profile_test_plugin``) and writes to ``out``."""
    plugin_dir = out / "plugin"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    (plugin_dir / "profile_test_plugin.py").write_text(PLUGIN)
    env = dict(os.environ if env is None else env)
    env.update(PYTHONPATH=os.pathsep.join(p for p in [str(plugin_dir), env.get("PYTHONPATH")] if p),
               PROFILE_TEST_OUT=str(out), PROFILE_TEST_HEAVY=",".join(HEAVY))
    if cprofile:
        env["PROFILE_TEST_CPROFILE"] = "1"
    for f in list(out.glob("profile-*.json")) + list(out.glob("*.prof")):
        f.unlink()
    return env


def processes(out: Path) -> list:
    """What the plugin wrote, one record per pytest process."""
    return [json.loads(f.read_text()) for f in sorted(out.glob("profile-*.json"))]


def print_timeline(procs, started):
    print(f"   {'process':<12}{'started':>9}{'plugin':>9}{'configured':>12}{'collected':>11}{'1st test':>10}"
          f"{'last test':>11}{'end':>8}{'cpu':>7}{'child cpu':>10}  heavy packages imported")
    for p in procs:
        t = p["times"]
        cells = [t.get(k) for k in ("start", "plugin", "configured", "collected", "first test", "last test", "end")]
        print(f"   {p['role']:<12}" + "".join(f"{(c - started) if c else float('nan'):>{w}.2f}"
                                            for c, w in zip(cells, (9, 9, 12, 11, 10, 11, 8)))
              + f"{t.get('cpu', float('nan')):>7.2f}{t.get('children cpu', float('nan')):>10.2f}"
              + f"  {', '.join(p['heavy'])}")
        c = p.get("cpu", {})
        print(f"   {'  its CPU':<12}{'':>9}" + "".join(f"{c[k]:>{w}.2f}" if k in c else f"{'':>{w}}"
                                                     for k, w in (("plugin", 9), ("configured", 12),
                                                                  ("collected", 11), ("first test", 10),
                                                                  ("last test", 11), ("end", 8))))
    print("   (seconds from the command's start; cpu: the process's own CPU seconds; child cpu: of the processes "
          "it started and waited for: the controller's are the xdist workers, a test process's the plug-in "
          "workers it stopped)")


def per_test(procs) -> dict:
    """nodeid -> figures, over all processes."""
    tests = {}
    xdist = any(p["role"] != "controller" for p in procs)
    for p in procs:
        # under xdist the controller sees every test's reports (not its work): its own figures
        # (the report header's worker) go under one line of their own
        merged = defaultdict(lambda: defaultdict(float))
        for nodeid, figures in p["tests"].items():
            key = "(controller)" if xdist and p["role"] == "controller" else nodeid
            for k, v in figures.items():
                if key == "(controller)" and k in ("seconds s", "setup s", "checks", "system"):
                    continue
                if isinstance(v, (int, float)):
                    merged[key][k] += v
                else:
                    merged[key][k] = v
        for nodeid, figures in merged.items():
            tests.setdefault(nodeid, defaultdict(float))
            for k, v in figures.items():
                if isinstance(v, (int, float)):
                    tests[nodeid][k] += v
                else:
                    tests[nodeid][k] = v
            tests[nodeid]["process"] = p["role"]
    return tests


HEAD = (f"   {'test':<52}{'proc':>5}{'s':>6}{'cpu':>6}{'setup':>6}{'examples':>9}{'draw s':>7}{'trips':>6}{'trip s':>7}"
        f"{'starts':>7}" + "".join(f"{c[:8]:>9}" for c in ORACLE_COLUMNS))


def _row(name, f, proc=""):
    oracle = [f.get(f"oracle {c} s", 0.0) + f.get(f"directional {c} s", 0.0) for c in ORACLE_COLUMNS]
    return (f"   {name[:51]:<52}{proc:>5}{f.get('seconds s', 0):>6.2f}{f.get('cpu s', 0):>6.2f}"
            f"{f.get('setup s', 0):>6.2f}"
            f"{int(f.get('examples n', 0)):>9}{f.get('draw s', 0):>7.2f}"
            f"{int(f.get('round trip n', 0)):>6}{f.get('round trip s', 0):>7.2f}{int(f.get('worker starts n', 0)):>7}"
            + "".join(f"{x:>9.2f}" for x in oracle))


def print_tests(procs, tests_shown, groups=("checks", "system")):
    tests = per_test(procs)
    starts = [s for p in procs for s in p["starts"]]
    print(f"   worker processes started: {len(starts)} (median {statistics.median(s[1] for s in starts):.2f} s "
          f"each, on the starting thread's clock)" if starts else "   no worker process started")
    if tests_shown:
        print(f"\n   per test, the {tests_shown} slowest (s: seconds, setup included; cpu: the test process's CPU "
              f"seconds (not the plug-in worker's); setup: waiting for JAX's "
              f"warm-up among others; examples: Hypothesis's calls of the test; draw s: drawing the cases; trips: "
              f"worker round trips; starts: worker processes started; the oracle columns: seconds inside each)")
        print(HEAD)
        for nodeid, f in sorted(tests.items(), key=lambda kv: -kv[1].get("seconds s", 0))[:tests_shown]:
            print(_row(nodeid.split("::")[-1], f, f.get("process", "")))
    total = defaultdict(float)
    for f in tests.values():
        for k, v in f.items():
            if isinstance(v, (int, float)):
                total[k] += v
    print(_row(f"all {sum(1 for k in tests if not k.startswith('('))} tests and the rest", total))
    for group in groups:
        sums = defaultdict(lambda: defaultdict(float))
        for nodeid, f in tests.items():
            labels = f.get(group) or [nodeid if nodeid.startswith("(") else "-"]
            label = labels[0] if isinstance(labels, list) else labels   # a test's first check
            for k, v in f.items():
                if isinstance(v, (int, float)):
                    sums[label][k] += v
            sums[label]["tests n"] += 1
        print(f"\n   per {'check (a test counted under its first check)' if group == 'checks' else 'system'}:")
        print(HEAD.replace(f"{'test':<52}", f"{'':<52}"))
        for label, f in sorted(sums.items(), key=lambda kv: -kv[1]["seconds s"]):
            print(_row(f"{label} ({int(f['tests n'])} tests)", f))
    return total


def run(spec, extra, out: Path, top: int, tests_shown: int, cprofile: bool):
    print(f"\n{'4. one run under cProfile (every pytest process)' if cprofile else '3. one instrumented run'}")
    env = plugin_env(out, cprofile)
    started = time.time()
    wall, status, output, cpu = timed(cli(spec, extra + ["-p", "profile_test_plugin"]), env=env)
    procs = processes(out)
    if not procs:
        print(output[-3000:])
        return
    print(f"   wall {wall:.2f} s, CPU {cpu:.2f} s, exit {status}")
    print_timeline(procs, started)
    if cprofile:
        for role in ("controller", "gw0"):
            path = out / f"{role}.prof"
            if path.exists():
                print(f"\n   cProfile of {role}: the top {top} by cumulative time ({path})")
                pstats.Stats(str(path)).sort_stats("cumulative").print_stats(top)
        return
    print_tests(procs, tests_shown)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", nargs="?", default="zoo4",
                        help="the implementation (default zoo4: four correct zoo entries in one file)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, help="where the profiles go (default: a temporary folder, kept)")
    parser.add_argument("--tests", type=int, default=25, help="the slowest tests shown")
    parser.add_argument("--exclusive", action="store_true",
                        help="part wall: each run in a cgroup weighing 256 times the rest of the machine, whose other "
                             "work then yields to it (root, cgroup v1): other people's work nearly stops meanwhile")
    parser.add_argument("--parts", default="wall,imports,run,cprofile,exit",
                        help="comma-separated, of wall, imports, run, cprofile, exit")
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    parts = {p.strip() for p in args.parts.split(",")}
    out = args.out or Path(tempfile.mkdtemp(prefix="profile-test-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.spec == "zoo4":
        out.chmod(0o755)                       # the sandbox's own uid reads the file
        args.spec = zoo4(out / "student")
    print(f"backprop-harness test {args.spec}{' -- ' + ' '.join(extra) if extra else ''}; {os.cpu_count()} cores, "
          f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    if "wall" in parts:
        walls(args.spec, extra, args.repeat, args.exclusive)
    if "imports" in parts:
        imports(args.repeat, min(args.top, 15))
    if "run" in parts:
        run(args.spec, extra, out, args.top, args.tests, cprofile=False)
    if "cprofile" in parts:
        run(args.spec, extra, out, args.top, args.tests, cprofile=True)
    if "exit" in parts:
        exits(args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
