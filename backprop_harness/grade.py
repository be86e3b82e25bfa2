"""``backprop-harness grade DIR --out OUTDIR``: a whole class through the plug-in path.

Every submission in DIR (a ``.py`` file, or a folder holding one) is checked by
``pytest --impl`` in processes of its own, several at a time, each against a
private copy of the harness, so that a submission that rewrites the fixtures,
the reference or the tests spoils only its own run. It hangs: its run is killed
after ``--timeout`` seconds and its row says so. It floods its output: the
worker keeps a tail, and so does this command of each run's log. It crashes:
the harness reports the crash per function, and a run that dies is a row of its
own. The others are unaffected.

OUTDIR gets, per submission, ``NAME/result.json`` (this command's record),
``NAME/conformance.json`` and ``NAME/report.html`` (the run's report),
``NAME/submission/`` (the copy that was graded: the reproducers import it),
``NAME/gradescope/results.json`` (Gradescope's format) and ``NAME/pytest.log``;
for the class, ``gradebook.csv`` and ``results.json``. A submission whose
``result.json`` matches its content and the grading settings is not run again:
re-running the command resumes where it stopped.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from backprop_harness import write_atomically
from fixtures import SYSTEMS

__all__ = ["Submission", "discover", "grade", "main"]

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "backprop-harness/gradebook/1"
# what a run needs of the project: copied per submission
HARNESS_PARTS = ("backprop_harness", "reference", "oracles", "fixtures", "tests", "templates",
                 "conftest.py", "pyproject.toml")
LOG_KEEP = 64 * 1024                # bytes of a run's log kept at each end


@dataclass(frozen=True)
class Submission:
    name: str                       # the row's name: the file's stem or the folder's name
    path: Path                      # what was found in DIR
    entry: Path | None              # the .py file to plug in (None: the folder has no single one)
    sha256: str
    problem: str | None = None      # why it cannot be graded, if it cannot


@dataclass
class Settings:
    profile: str = "ci"
    timeout: float = 300.0
    impl_timeout: float = 5.0
    html: bool = True
    oracles: str = "complex_step"

    def key(self) -> dict:
        """What a stored result must have been graded with to be reused."""
        return {"profile": self.profile, "impl_timeout": self.impl_timeout, "oracles": self.oracles,
                "harness": _harness_digest()}


# --- finding the submissions ------------------------------------------------------------------------

def _digest_files(paths) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _files_under(folder: Path) -> list:
    return [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)]


_HARNESS_DIGEST: list = []


def _harness_digest() -> str:
    """The harness's own files: results graded by another version are not reused."""
    if not _HARNESS_DIGEST:
        files = [p for part in HARNESS_PARTS for p in ([ROOT / part] if (ROOT / part).is_file()
                                                        else _files_under(ROOT / part))]
        _HARNESS_DIGEST.append(_digest_files(files))
    return _HARNESS_DIGEST[0]


def discover(directory: Path, exclude: Path | None = None) -> list:
    """The submissions in ``directory``, by name: each ``.py`` file, and each folder with
    one ``.py`` file at its top (or, among several, one named ``submission.py`` or after
    the folder). Names starting with "." or "_" (hidden, ``__pycache__``) are ignored, and
    so is ``exclude`` (the output folder, when it is inside ``directory``)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no such directory: {directory}")
    found = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith((".", "_")):         # hidden, __pycache__, _helpers.py
            continue
        if exclude is not None and path.resolve() == exclude.resolve():
            continue
        if path.is_file() and path.suffix == ".py":
            found.append(Submission(path.stem, path, path, _digest_files([path])))
        elif path.is_dir():
            files = _files_under(path)
            digest = _digest_files(files) if files else hashlib.sha256(b"").hexdigest()
            tops = sorted(p for p in path.glob("*.py"))
            named = [p for p in tops if p.name in ("submission.py", f"{path.name}.py")]
            if len(tops) == 1 or len(named) == 1:
                found.append(Submission(path.name, path, tops[0] if len(tops) == 1 else named[0], digest))
            else:
                why = ("has no .py file at its top" if not tops else
                       f"has {len(tops)} .py files at its top ({', '.join(p.name for p in tops)}) and none "
                       f"named submission.py or {path.name}.py")
                found.append(Submission(path.name, path, None, digest, f"the folder {why}"))
    names = [s.name for s in found]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ValueError(f"two submissions would share a row: {clashes} (a file and a folder of the same name)")
    return found


# --- one submission ---------------------------------------------------------------------------------

class _Tail:
    """Reads a stream to its end, keeping its first and last LOG_KEEP bytes."""

    def __init__(self, stream):
        self.head, self.tail, self.dropped = bytearray(), bytearray(), 0
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for chunk in iter(lambda: stream.read(65536), b""):
            room = LOG_KEEP - len(self.head)
            self.head += chunk[:room]
            self.tail += chunk[room:] if room > 0 else chunk
            if len(self.tail) > LOG_KEEP:
                self.dropped += len(self.tail) - LOG_KEEP
                del self.tail[:-LOG_KEEP]

    def text(self, wait: float = 5.0) -> str:
        self._thread.join(wait)
        cut = f"\n[... {self.dropped} bytes of output left out ...]\n" if self.dropped else ""
        return (bytes(self.head).decode(errors="replace") + cut + bytes(self.tail).decode(errors="replace"))


def _copy_harness(target: Path):
    for part in HARNESS_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, target / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.is_file():
            shutil.copy2(src, target / part)


def _command(sub: Submission, harness: Path, out: Path, settings: Settings) -> list:
    cmd = [sys.executable, "-m", "pytest", "--rootdir", str(harness), "-c", str(harness / "pyproject.toml"),
           "-p", "no:cacheprovider", "-q", "-n", "0", "--impl", str(sub.entry), "--impl-timeout", str(settings.impl_timeout),
           "--oracles", settings.oracles, "--conformance-json", str(out / "conformance.json")]
    if settings.html:
        cmd += ["--report-html", str(out / "report.html")]
    return cmd + [str(harness / "tests" / "test_conformance.py")]


def run_one(sub: Submission, outdir: Path, settings: Settings) -> dict | None:
    """Grade one submission in a scratch copy of the harness; its record (``result.json``),
    or None when an interrupt stopped it (it is graded again on resume)."""
    out = outdir / sub.name
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("conformance.json", "report.html"):
        (out / stale).unlink(missing_ok=True)
    started = time.perf_counter()
    record = {"name": sub.name, "path": str(sub.path), "sha256": sub.sha256, "settings": settings.key(),
              "graded": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if sub.problem:
        return _finish(record, out, "invalid", sub.problem, None, started, "")
    with tempfile.TemporaryDirectory(prefix=f"grade-{sub.name[:40]}-") as scratch:
        scratch = Path(scratch)
        # the submission as graded stays beside its report, so the reproducers' paths work
        harness, work, plugged = scratch / "harness", scratch / "run", out / "submission"
        _copy_harness(harness)
        work.mkdir()
        shutil.rmtree(plugged, ignore_errors=True)
        if sub.path.is_dir():
            shutil.copytree(sub.path, plugged)
            entry = plugged / sub.entry.relative_to(sub.path)
        else:
            plugged.mkdir()
            entry = plugged / sub.entry.name
            shutil.copy2(sub.entry, entry)
        before = _digest_files(_files_under(harness))
        env = {**os.environ, "PYTHONPATH": str(harness), "HYPOTHESIS_PROFILE": settings.profile}
        env.pop("BACKPROP_IMPL", None)
        # pytest rewrites the asserts of every module of a plugin's distribution (76 of
        # Hypothesis's) and caches the result as bytecode: without the cache, 1.5 s a run
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        proc = subprocess.Popen(_command(Submission(sub.name, sub.path, entry, sub.sha256), harness, out, settings),
                                cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        with _LOCK:
            _RUNNING.add(proc)
        log = _Tail(proc.stdout)
        try:
            proc.wait(timeout=settings.timeout)
            status, note = None, None
        except subprocess.TimeoutExpired:
            _kill(proc)
            status, note = "timeout", f"the run did not finish in {settings.timeout:g} s and was killed"
        finally:
            _kill(proc)                       # and whatever it left running in its session
            with _LOCK:
                _RUNNING.discard(proc)
        if _STOPPING.is_set():                # killed by an interrupt: no record, graded again on resume
            return None
        text = log.text()
        tampered = _digest_files(_files_under(harness)) != before
    conformance = _read_json(out / "conformance.json")
    if status is None:
        if conformance is None:
            status, note = "crashed", f"the run ended (exit status {proc.returncode}) without its report"
        elif not conformance.get("fixtures_unchanged", True) or tampered:
            status = "tampered"
            note = ("it changed the harness's files during its run"
                    + (": " + "; ".join(conformance.get("fixture_changes", [])) if conformance.get("fixture_changes")
                       else "") + " (its private copy; nothing else was affected)")
        elif conformance["implementation"].get("load_error"):
            status, note = "load error", conformance["implementation"]["load_error"].strip().splitlines()[-1]
        else:
            status = "graded"
    return _finish(record, out, status, note, conformance, started, text)


# the runs under way (their own sessions: Ctrl-C does not reach them), killed on an interrupt
_RUNNING: set = set()
_LOCK = threading.Lock()
_STOPPING = threading.Event()


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _finish(record, out: Path, status: str, note, conformance, started: float, log: str) -> dict:
    systems = {}
    for system in SYSTEMS:
        s = (conformance or {}).get("systems", {}).get(system, {})
        verdict = s.get("status", "error")
        if status in ("tampered", "timeout", "crashed", "invalid", "load error"):
            verdict = "error" if status != "load error" or verdict != "not provided" else verdict
        first = s.get("first_failure") or {}
        systems[system] = {"status": verdict, "diagnosis": s.get("diagnosis") or [],
                           "message": first.get("message")}
    score = sum(1 for s in systems.values() if s["status"] == "pass")
    record.update(status=status, note=note, systems=systems, score=score, max_score=len(SYSTEMS),
                  seconds=round(time.perf_counter() - started, 2),
                  files={k: v for k, v in (("conformance", "conformance.json"), ("report", "report.html"))
                         if (out / v).exists()})
    write_atomically(out / "pytest.log", log)
    write_atomically(out / "gradescope" / "results.json", json.dumps(gradescope(record), indent=2) + "\n")
    record["files"]["gradescope"] = "gradescope/results.json"
    record["files"]["log"] = "pytest.log"
    write_atomically(out / "result.json", json.dumps(record, indent=2) + "\n")
    return record


def gradescope(record: dict) -> dict:
    """The record in Gradescope's autograder ``results.json`` format: a test per system."""
    tests = []
    for number, (system, s) in enumerate(record["systems"].items(), 1):
        lines = [f"{system}: {s['status']}"]
        if s["diagnosis"] and s["status"] == "fail":
            lines.append("diagnosis: " + ", ".join(s["diagnosis"]))
        if s["message"]:
            lines.append(s["message"])
        if record["status"] != "graded" and record["note"]:
            lines.append(f"{record['status']}: {record['note']}")
        tests.append({"name": system, "number": str(number), "score": 1.0 if s["status"] == "pass" else 0.0,
                      "max_score": 1.0, "status": "passed" if s["status"] == "pass" else "failed",
                      "output": "\n".join(lines), "visibility": "visible"})
    return {"score": float(record["score"]), "max_score": float(record["max_score"]),
            "execution_time": record["seconds"], "visibility": "visible", "stdout_visibility": "hidden",
            "output": f"backprop-harness: {record['score']}/{record['max_score']} systems pass"
                      + (f" ({record['status']}: {record['note']})" if record["status"] != "graded" else ""),
            "tests": tests}


# --- the class ---------------------------------------------------------------------------------------

COLUMNS = ("submission", *SYSTEMS, "diagnosis", "score", "max_score", "seconds", "status", "note")


def gradebook_csv(records: list) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in records:
        codes = [f"{system}:{code}" for system, s in r["systems"].items() if s["status"] == "fail"
                 for code in s["diagnosis"]]
        w.writerow([r["name"], *(r["systems"][s]["status"] for s in SYSTEMS), " ".join(codes), r["score"],
                    r["max_score"], f"{r['seconds']:.1f}", r["status"], r["note"] or ""])
    return buf.getvalue()


class Progress:
    """done / running / left, on one line of a terminal, or a line per finished submission."""

    def __init__(self, total: int, reused: int, stream=sys.stderr):
        self.total, self.done, self.running, self.stream = total, reused, 0, stream
        self.tty = getattr(stream, "isatty", lambda: False)()
        self.t0 = time.perf_counter()
        self.lock = threading.Lock()

    def _line(self) -> str:
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        left = self.total - self.done - self.running
        return (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} done, {self.running} running, "
                f"{left} left, {time.perf_counter() - self.t0:.0f} s")

    def start(self):
        with self.lock:
            self.running += 1
            if self.tty:
                self.stream.write("\r" + self._line())
                self.stream.flush()

    def finish(self, record: dict):
        with self.lock:
            self.running -= 1
            self.done += 1
            what = f"{record['name']}: {record['score']}/{record['max_score']} ({record['status']}, {record['seconds']:.0f} s)"
            self.stream.write(("\r\x1b[K" if self.tty else "") + what + "\n" + (self._line() if self.tty else ""))
            self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\n")


def grade(directory: Path, outdir: Path, settings: Settings, jobs: int, progress_stream=sys.stderr) -> list:
    """Grade every submission in ``directory``; reuse the records of those already graded."""
    subs = discover(directory, exclude=outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    key = settings.key()
    records, todo = {}, []
    for sub in subs:
        old = _read_json(outdir / sub.name / "result.json")
        if old and old.get("sha256") == sub.sha256 and old.get("settings") == key:
            records[sub.name] = old
        else:
            todo.append(sub)
    progress = Progress(len(subs), len(records), progress_stream)
    if records:
        progress_stream.write(f"{len(records)} submission(s) graded before with these settings: reused\n")

    def task(sub):
        if _STOPPING.is_set():
            return None
        progress.start()
        record = run_one(sub, outdir, settings)
        if record is not None:
            progress.finish(record)
        return record

    started = time.perf_counter()
    _STOPPING.clear()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        for record in pool.map(task, todo):
            if record is not None:
                records[record["name"]] = record
    except KeyboardInterrupt:
        # what finished is on disk (each submission's result.json): the same command resumes
        _STOPPING.set()
        with _LOCK:
            for proc in list(_RUNNING):
                _kill(proc)
        pool.shutdown(wait=True, cancel_futures=True)
        progress.close()
        raise
    pool.shutdown()
    progress.close()
    ordered = [records[s.name] for s in subs]
    write_atomically(outdir / "gradebook.csv", gradebook_csv(ordered))
    summary = {"schema": SCHEMA, "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "directory": str(directory), "settings": key, "jobs": jobs,
               "seconds": round(time.perf_counter() - started, 1), "graded_now": len(todo),
               "reused": len(subs) - len(todo), "submissions": ordered}
    write_atomically(outdir / "results.json", json.dumps(summary, indent=2) + "\n")
    return ordered


def add_arguments(parser):
    parser.add_argument("directory", type=Path, help="the submissions: .py files and/or folders with one .py file")
    parser.add_argument("--out", type=Path, required=True, help="where the gradebook and the reports go")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds a submission's whole run may take before it is killed (default 300)")
    parser.add_argument("--impl-timeout", type=float, default=5.0,
                        help="seconds each call of a submission may take (default 5)")
    parser.add_argument("--profile", default="ci", choices=("ci", "dev", "thorough", "smoke"),
                        help="Hypothesis profile (default ci: derandomized, so a re-run gives the same verdicts)")
    parser.add_argument("--oracles", default="complex_step",
                        help="oracles to compare with (default complex_step: exact to float64's rounding on every "
                             "system, numpy only; the suite's own CI holds it to torch and JAX, so a class need "
                             "not pay their import and compile time per submission; 'all' for all five)")
    parser.add_argument("--no-html", action="store_true", help="skip the per-submission HTML reports")


def main(args) -> int:
    if args.jobs < 1 or args.timeout <= 0 or args.impl_timeout <= 0:
        print("backprop-harness grade: --jobs must be >= 1, --timeout and --impl-timeout positive", file=sys.stderr)
        return 2
    try:
        oracles = "torch64,jax64,complex_step,richardson,central" if args.oracles == "all" else args.oracles
        records = grade(args.directory, args.out, Settings(args.profile, args.timeout, args.impl_timeout,
                                                           not args.no_html, oracles), args.jobs)
    except (FileNotFoundError, ValueError) as exc:
        print(f"backprop-harness grade: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("backprop-harness grade: interrupted; the submissions graded so far are kept, and the same "
              "command resumes from them", file=sys.stderr)
        return 130
    passed = sum(r["score"] == r["max_score"] for r in records)
    print(f"{len(records)} submissions, {passed} pass every system; gradebook: {args.out / 'gradebook.csv'}")
    return 0
