"""``backprop-harness grade DIR --out OUTDIR``: a whole class through the plug-in path.

Every submission in DIR (a ``.py`` file, or a folder holding one) is checked by
``pytest --impl`` in processes of its own, several at a time. In the strict sandbox
each run is forked from one process that imported pytest, Hypothesis, numpy and the
harness once for the class (``backprop_harness.zygote``), on one copy of the harness
that no sandboxed code can reach; without a sandbox each run is a new interpreter
against a private copy of the harness, so that a submission that rewrites the
fixtures, the reference or the tests spoils only its own run. It hangs: its run is killed
after ``--timeout`` seconds and its row says so. It floods its output: the
worker keeps a tail, and so does this command of each run's log. It crashes:
the harness reports the crash per function, and a run that dies is a row of its
own. The others are unaffected.

The code under test runs in a sandbox (``backprop_harness.sandbox``, strict mode:
it sees its own folder, the Python installation and the worker's modules, nothing
of the harness, the other submissions or this command's output); the command
refuses to grade without one unless told ``--no-sandbox``. Before a class the
harness checks itself (``check_harness``: the venv against pip's records, its
sources against git, its bytecode against its sources) and refuses to grade with a
changed harness; a run that the harness itself broke is a ``harness error`` row
and a non-zero exit, never a graded row. Every run gets its own caches (bytecode,
JAX's compilations), which no submission can see.

``--assignment FILE`` says what is graded and how it scores (``backprop_harness.assignment``:
the systems and their points, the conventions fixed, the checks' weights, the limits, a
folder's entry file); without it every system is worth one point when it passes. Each
record carries its score, its points per system and its feedback (``backprop_harness.feedback``).

OUTDIR gets, per submission, ``NAME/result.json`` (this command's record),
``NAME/conformance.json`` and ``NAME/report.html`` (the run's report),
``NAME/submission/`` (the copy that was graded: the reproducers import it),
``NAME/gradescope/results.json`` (Gradescope's format) and ``NAME/pytest.log``;
for the class, ``gradebook.csv`` (with a feedback column), ``results.json`` and ``index.html``
(the class page, ``backprop_harness.class_page``). Records are written only
after every process of the submission is gone, and each is signed (HMAC-SHA256
with a key kept in ``OUTDIR/.grade-key``). A submission whose ``result.json``
matches its content and the grading settings, and whose signature holds, is not run
again: re-running the command resumes where it stopped; a record whose signature
does not hold is graded again.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from backprop_harness import (
    ONE_BLAS_THREAD,
    assignment as assignments,
    class_page,
    feedback,
    sandbox,
    write_atomically,
    zygote,
)
from backprop_harness.assignment import Assignment
from backprop_harness.protocol import SYSTEMS
from backprop_harness.record import Failure

__all__ = ["Submission", "Settings", "HarnessChanged", "discover", "grade", "check_harness", "check_installed",
           "check_sources", "check_bytecode", "site_dirs", "signed", "REPORT_LIMIT", "UNPROTECTED", "main"]

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
    # "strict" (the command's default) or "off" (--no-sandbox). Called from Python the
    # default is "off" for now: the callers written before the sandbox (the hostile class
    # of tests/test_grade.py, whose submissions import the reference and write their
    # private copy of the harness; the zoo's meta-test and benchmark) expect it.
    sandbox: str = "off"
    allow_modified_harness: bool = False
    caches: Path | None = None        # this run's own caches (grade makes them); not part of the key
    # what is graded and how it scores (None: assignment.DEFAULT, one point a passing system)
    assignment: Assignment | None = None
    # why the harness's self-check is not run before a strict class, where it proves nothing
    # (a fresh container per submission, built from a bundle that is no git checkout); not part of the key
    no_self_check: str | None = None
    forks: Forks | None = None        # where a strict class's runs are forked from (grade makes it); not in the key

    @property
    def course(self) -> Assignment:
        return self.assignment or assignments.DEFAULT

    def key(self) -> dict:
        """What a stored result must have been graded with to be reused (an assignment's
        weights are not: a reused record is scored again)."""
        key = {"profile": self.profile, "impl_timeout": self.impl_timeout, "oracles": self.oracles,
               "sandbox": self.sandbox, "harness": _harness_digest()}
        if self.course.source is not None:
            key["assignment"] = self.course.run_key()
        return key


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


# --- the harness checks itself ------------------------------------------------------------------------

class HarnessChanged(RuntimeError):
    """The harness is not what was installed; ``problems`` says where."""

    def __init__(self, problems: list):
        super().__init__("the harness has changed:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


_STARTUP_HOOKS = ("sitecustomize.py", "usercustomize.py")


def site_dirs() -> list:
    """The venv's site-packages folders (what pip installed into)."""
    paths = sysconfig.get_paths()
    return sorted({Path(paths["purelib"]), Path(paths["platlib"])})


def record_hash(path, algorithm: str) -> str:
    """The file's digest as a RECORD writes it (urlsafe base64, no padding)."""
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, algorithm).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def check_installed(sites) -> list:
    """Every file pip installed (each distribution's RECORD) with its recorded hash, and no
    start-up hook that no distribution installed: a ``.pth`` file or a ``sitecustomize``
    runs in every Python started from this venv. Bytecode is listed in RECORD without a
    hash; grading never reads it (each run compiles into its own cache)."""
    problems, claimed, rows = [], set(), []
    for site in map(str, sites):
        for record in sorted(Path(site).glob("*.dist-info/RECORD")):
            dist = record.parent.name.removesuffix(".dist-info")
            for row in csv.reader(record.read_text(encoding="utf-8").splitlines()):
                if not row or not row[0]:
                    continue
                # strings, not Paths: a venv lists tens of thousands of files
                path = os.path.normpath(os.path.join(site, row[0]))
                claimed.add(path)
                if len(row) > 1 and row[1]:
                    rows.append((path, row[1], dist))

    def verify(item):
        path, spec, dist = item
        algorithm, _, expected = spec.partition("=")
        try:
            if record_hash(path, algorithm) != expected:
                return f"{path}: changed since {dist} installed it"
        except FileNotFoundError:
            return f"{path}: missing (installed by {dist})"
        except (OSError, ValueError) as exc:
            return f"{path}: cannot be checked ({exc})"
        return None

    # hashlib releases the GIL while it hashes: one thread per core, each given a share of
    # the files at once (a future per file costs more than hashing most of them)
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for found in pool.map(lambda share: [p for p in map(verify, share) if p], [rows[i::threads]
                                                                                   for i in range(threads)]):
            problems += found
    problems.sort(key=lambda p: p.partition(": ")[0])
    for site in sites:
        for path in sorted(Path(site).iterdir()):
            if (path.suffix == ".pth" or path.name in _STARTUP_HOOKS) and str(path) not in claimed:
                problems.append(f"{path}: a start-up hook that no installed distribution owns "
                                f"(Python runs it at every start)")
    return problems


def _blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def check_sources(root: Path = None, parts=None) -> list:
    """The harness's own files (``HARNESS_PARTS``) against the git commit checked out:
    each tracked file's content (not git's cached stat data), and no file git does
    not know (bytecode aside: ``check_bytecode``)."""
    root, parts = Path(root or ROOT), tuple(parts or HARNESS_PARTS)
    if not (root / ".git").exists():
        return [f"{root} is not a git checkout: its sources cannot be checked against a commit"]
    try:
        listing = subprocess.run(["git", "-C", str(root), "ls-tree", "-r", "-z", "HEAD", "--", *parts],
                                 capture_output=True, timeout=60, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError) as exc:
        return [f"git cannot list the harness's commit: {exc}"]
    if listing.returncode != 0:
        return [f"git cannot list the harness's commit: {listing.stderr.decode(errors='replace').strip()}"]
    tracked, problems = {}, []
    for entry in listing.stdout.decode().split("\0"):
        if entry:
            meta, _, name = entry.partition("\t")
            mode, kind, blob = meta.split()
            tracked[root / name] = (mode, kind, blob)
    for path, (mode, kind, blob) in sorted(tracked.items()):
        if kind != "blob" or mode == "120000":
            continue
        if not path.is_file():
            problems.append(f"{path}: missing (it is in the commit checked out)")
        elif _blob_id(path) != blob:
            problems.append(f"{path}: differs from the commit checked out")
    for part in parts:
        for path in ([root / part] if (root / part).is_file() else sorted((root / part).rglob("*"))):
            if path.is_file() and "__pycache__" not in path.parts and path not in tracked:
                problems.append(f"{path}: not in the commit checked out")
    return problems


_BYTECODE_CHECK = r"""
import ast, importlib.util, json, marshal, sys
from pathlib import Path
tag, bad = sys.implementation.cache_tag, []
for pyc in sorted(p for root in sys.argv[1:] for p in Path(root).rglob("__pycache__/*.pyc")):
    stem, _, rest = pyc.name.partition("." + tag)
    source = pyc.parent.parent / (stem + ".py")
    if not rest or not source.is_file():
        continue
    data, text = pyc.read_bytes(), source.read_bytes()
    flags = int.from_bytes(data[4:8], "little")
    if data[:4] != importlib.util.MAGIC_NUMBER or flags & ~3 or not (rest == ".pyc" or rest.startswith("-pytest-")):
        continue                                   # another version's, or an optimized level
    st = source.stat()
    if flags == 0 and data[8:16] != ((int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
                                     + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")):
        continue                                   # stale: Python would not load it
    if flags & 1 and data[8:16] != importlib.util.source_hash(text):
        continue
    if rest == ".pyc":
        fresh = compile(text, str(source), "exec", dont_inherit=True)
    else:                                          # pytest's, with its asserts rewritten
        from _pytest.assertion.rewrite import rewrite_asserts
        tree = ast.parse(text, filename=str(source))
        rewrite_asserts(tree, text, str(source), None)
        fresh = compile(tree, str(source), "exec", dont_inherit=True)
    try:
        same = marshal.loads(data[16:]) == fresh
    except Exception:
        same = False
    if not same:
        bad.append(str(pyc))
print(json.dumps(bad))
"""


def check_bytecode(root: Path = None, parts=None) -> list:
    """Every bytecode cache of the harness's own files that Python (or pytest) would load
    in place of its source holds that source's code: it is compiled afresh and compared
    as code (the bytes differ between compilations). Run in a process of its own: the
    caches are read with marshal, which is not meant for hostile input."""
    root, parts = Path(root or ROOT), tuple(parts or HARNESS_PARTS)
    folders = [str(root / p) for p in parts if (root / p).is_dir()]
    if not folders:
        return []
    run = subprocess.run([sys.executable, "-I", "-B", "-c", _BYTECODE_CHECK, *folders], capture_output=True,
                         text=True, timeout=300)
    if run.returncode != 0:
        return [f"the bytecode check failed: {(run.stderr.strip().splitlines() or ['?'])[-1]}"]
    return [f"{p}: bytecode that does not match its source" for p in json.loads(run.stdout)]


def check_harness(root: Path = None, sites=None) -> list:
    """What differs from the harness as installed: its venv (``check_installed``), its
    sources (``check_sources``) and their bytecode (``check_bytecode``). Empty: intact."""
    return (check_installed(site_dirs() if sites is None else sites) + check_sources(root)
            + check_bytecode(root))


def _harness_state() -> str:
    """The harness's files and the venv's start-up hooks now, as one digest (cheap: taken
    before every submission, to notice a change during the run)."""
    files = [p for part in HARNESS_PARTS for p in ([ROOT / part] if (ROOT / part).is_file()
                                                   else _files_under(ROOT / part))]
    files += [p for site in site_dirs() for p in Path(site).iterdir()
              if p.is_file() and (p.suffix == ".pth" or p.name in _STARTUP_HOOKS)]
    return _digest_files(files)


def discover(directory: Path, exclude: Path | None = None, entry: tuple = ()) -> list:
    """The submissions in ``directory``, by name: each ``.py`` file, and each folder with
    its entry file at its top: the first of ``entry`` (an assignment's names) it holds, else
    its one ``.py`` file (or, among several, one named ``submission.py`` or after the
    folder). Names starting with "." or "_" (hidden, ``__pycache__``) are ignored, and
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
            given = [path / name for name in entry if (path / name).is_file()]
            named = [p for p in tops if p.name in ("submission.py", f"{path.name}.py")]
            if given:
                found.append(Submission(path.name, path, given[0], digest))
            elif len(tops) == 1 or len(named) == 1:
                found.append(Submission(path.name, path, tops[0] if len(tops) == 1 else named[0], digest))
            else:
                names = [*entry, *(n for n in ("submission.py", f"{path.name}.py") if n not in entry)]
                names = ", ".join(names[:-1]) + " or " + names[-1]
                why = ("has no .py file at its top" if not tops else
                       f"has {len(tops)} .py files at its top ({', '.join(p.name for p in tops)}) and none "
                       f"named {names}")
                found.append(Submission(path.name, path, None, digest, f"the folder {why}"))
    names = [s.name for s in found]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ValueError(f"two submissions would share a row: {clashes} (a file and a folder of the same name)")
    return found


# --- one submission ---------------------------------------------------------------------------------

class Tail:
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


def _pytest_arguments(sub: Submission, harness: Path, out: Path, settings: Settings) -> list:
    cmd = ["--rootdir", str(harness), "-c", str(harness / "pyproject.toml"),
           "-p", "no:cacheprovider", "-q", "-n", "0", "--impl", str(sub.entry),
           "--impl-timeout", str(settings.impl_timeout),
           # the class's runs fill the cores: a fresh process started early only takes CPU from another
           "--fresh-ahead", "1",
           "--oracles", settings.oracles, "--conformance-json", str(out / "conformance.json")]
    if settings.html:
        cmd += ["--report-html", str(out / "report.html")]
    if settings.course.conventions:
        cmd += ["--conventions", json.dumps(settings.course.conventions)]
    return cmd + [str(harness / "backprop_harness" / "conformance" / "test_conformance.py")]


def _command(sub: Submission, harness: Path, out: Path, settings: Settings) -> list:
    """A run as a new interpreter (the unsandboxed path)."""
    return [sys.executable, "-m", "pytest", *_pytest_arguments(sub, harness, out, settings)]


def _environment(harness: Path, settings: Settings) -> dict:
    """What a run's pytest process gets for its environment."""
    env = {**os.environ, "PYTHONPATH": str(harness), "HYPOTHESIS_PROFILE": settings.profile,
           "BACKPROP_SANDBOX": settings.sandbox}
    env.pop("BACKPROP_IMPL", None)
    env.pop("BACKPROP_CONVENTIONS", None)        # the assignment's, if any, are on the command line
    # pytest rewrites the asserts of every module of a plugin's distribution (all of
    # Hypothesis's) and caches the result as bytecode: without the cache, every run redoes it
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # the class's runs fill the cores and their arrays are small: more BLAS threads would only spin
    env.update(ONE_BLAS_THREAD)
    if settings.caches is not None:
        # this run's own caches: bytecode compiled here, never the tree's (which an earlier
        # unsandboxed run could have forged), and JAX's compilations, never the user's
        env.update(PYTHONPYCACHEPREFIX=str(settings.caches / "bytecode"),
                   BACKPROP_JAX_CACHE=str(settings.caches / "jax"))
    return env


class Forks:
    """A strict class's runs, forked from one pre-imported process (``backprop_harness.zygote``)
    on one copy of the harness, which no sandboxed submission can reach; a new zygote if one
    ends (once: a zygote that cannot start makes the rest harness errors). Without a sandbox
    each run is a new interpreter on a private copy of the harness instead: an unsandboxed
    submission can write what the grader can."""

    def __init__(self, folder: Path, settings: Settings):
        self._folder, self._settings = folder, settings
        self._lock = threading.Lock()
        self._zygote, self._broken = None, None
        self._copies = 0
        self._renew()

    def _renew(self):
        """A fresh copy of the harness (and, at the next run, a zygote started on it)."""
        self._copies += 1
        self.harness = self._folder / f"harness-{self._copies}"
        _copy_harness(self.harness)
        self.digest = _digest_files(_files_under(self.harness))
        self._home = self._folder / f"zygote-{self._copies}"
        self._home.mkdir()
        self._env = _environment(self.harness, self._settings)

    def run(self, argv: list, cwd: Path) -> zygote.Run:
        with self._lock:
            if self._broken:
                raise zygote.ZygoteLost(self._broken)
            if self._zygote is None or not self._zygote.alive:
                if self._zygote is not None:
                    self._zygote.close()
                try:
                    self._zygote = zygote.Zygote(self._env, self._home)
                except zygote.ZygoteLost as exc:
                    self._broken = str(exc)
                    raise
            current = self._zygote
        # the zygote imported Hypothesis, xdist and the harness before pytest could mark
        # them for rewriting (none of them asserts anything a run reports): that warning only
        return current.run(["-W", "ignore:Module already imported so cannot be rewritten"
                                  ":pytest.PytestAssertRewriteWarning", *argv], cwd)

    def changed(self) -> str:
        """The copy changed under a run (nothing sandboxed can write it: the harness broke):
        a fresh copy and zygote for the next runs; what to say of this one."""
        with self._lock:
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None
            self._renew()
        return ("the class's copy of the harness changed during this run, which no sandboxed code can write: "
                "the harness is broken, not the submission (the next runs get a fresh copy)")

    def close(self):
        with self._lock:
            if self._zygote is not None:
                self._zygote.close()


def run_one(sub: Submission, outdir: Path, settings: Settings) -> dict | None:
    """Grade one submission, forked from ``settings.forks`` or else in a new interpreter on a
    scratch copy of the harness; its record (``result.json``), or None when an interrupt
    stopped it (it is graded again on resume)."""
    forks = settings.forks
    out = outdir / sub.name
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("conformance.json", "report.html"):
        (out / stale).unlink(missing_ok=True)
    started = time.perf_counter()
    record = {"name": sub.name, "path": str(sub.path), "sha256": sub.sha256, "settings": settings.key(),
              "graded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "entry": sub.entry.name if sub.entry is not None else None}
    if sub.problem:
        return finish(record, out, "invalid", sub.problem, None, started, "", settings.course)
    with tempfile.TemporaryDirectory(prefix=f"grade-{sub.name[:40]}-") as scratch:
        scratch = Path(scratch)
        # the submission as graded stays beside its report, so the reproducers' paths work
        work, plugged = scratch / "run", out / "submission"
        work.mkdir()
        shutil.rmtree(plugged, ignore_errors=True)
        if sub.path.is_dir():
            shutil.copytree(sub.path, plugged)
            entry = plugged / sub.entry.relative_to(sub.path)
        else:
            plugged.mkdir()
            entry = plugged / sub.entry.name
            shutil.copy2(sub.entry, entry)
        if settings.sandbox == "strict":
            _readable(plugged)                # by the sandbox's uid, whatever modes the files came with
        graded = Submission(sub.name, sub.path, entry, sub.sha256)
        if forks is None:
            harness = scratch / "harness"
            _copy_harness(harness)
            before = _digest_files(_files_under(harness))
            proc = subprocess.Popen(_command(graded, harness, out, settings), cwd=work,
                                    env=_environment(harness, settings), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        else:
            harness, before = forks.harness, forks.digest
            try:
                proc = forks.run(_pytest_arguments(graded, harness, out, settings), work)
            except zygote.ZygoteLost as exc:
                return finish(record, out, "harness error", str(exc), None, started, "", settings.course)
        with _LOCK:
            _RUNNING.add(proc)
        log = Tail(proc.stdout)
        leftover = None
        try:
            proc.wait(timeout=settings.timeout)
            status, note = None, None
            if getattr(proc, "lost", None):
                status, note = "harness error", proc.lost
        except subprocess.TimeoutExpired:
            _kill(proc)
            status, note = "timeout", f"the run did not finish in {settings.timeout:g} s and was killed"
        finally:
            # its session, and every process of its sandboxes: nothing of the submission may
            # run on once its record is written
            leftover = _kill(proc)
            with _LOCK:
                _RUNNING.discard(proc)
        if _STOPPING.is_set():                # killed by an interrupt: no record, graded again on resume
            return None
        text = log.text()
        tampered = _digest_files(_files_under(harness)) != before
        if tampered and forks is not None:
            status, note, tampered = "harness error", forks.changed(), False
    conformance = _read_json(out / "conformance.json")
    if isinstance(leftover, str):
        return finish(record, out, "harness error", leftover, conformance, started, text, settings.course)
    size = (out / "conformance.json").stat().st_size if (out / "conformance.json").exists() else 0
    if status is None and size > REPORT_LIMIT:
        # what the harness kept of an answer is bounded by what it shows; a report this
        # large holds more, and is not read (it could take the grader's memory)
        status, note = "harness error", (f"the run's report is {size / 2**20:.0f} MiB, above the "
                                         f"{REPORT_LIMIT >> 20} MiB grade reads: the harness kept more of an answer "
                                         f"than it shows")
    if status is None:
        exit_status = (conformance or {}).get("exit_status")
        untested = [system for system, s in (conformance or {}).get("systems", {}).items()
                    if s.get("status") not in ("pass", "fail", "not provided")]
        if conformance is None and settings.sandbox == "strict":
            # a sandboxed submission cannot reach the harness's process: the harness broke
            status = "harness error"
            note = f"the harness's run ended (exit status {proc.returncode}) without its report"
        elif conformance is None:
            status, note = "crashed", f"the run ended (exit status {proc.returncode}) without its report"
        elif exit_status not in (0, 1) or (untested and not conformance["implementation"].get("load_error")):
            status = "harness error"
            note = (f"the harness did not test {', '.join(untested)} (pytest exit status {exit_status}): "
                    f"the harness is broken, not the submission" if untested else
                    f"the harness's run ended with pytest exit status {exit_status}")
        elif not conformance.get("fixtures_unchanged", True) or tampered:
            status = "tampered"
            note = ("it changed the harness's files during its run"
                    + (": " + "; ".join(conformance.get("fixture_changes", [])) if conformance.get("fixture_changes")
                       else "") + " (its private copy; nothing else was affected)")
        elif conformance["implementation"].get("load_error"):
            status, note = "load error", conformance["implementation"]["load_error"].strip().splitlines()[-1]
        else:
            status = "graded"
    return finish(record, out, status, note, conformance, started, text, settings.course)


# the runs under way (their own sessions: Ctrl-C does not reach them), killed on an interrupt
_RUNNING: set = set()
_LOCK = threading.Lock()
_STOPPING = threading.Event()


def _readable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))


def _kill(proc) -> str | None:
    """Kill a run's session and every process of the sandboxes it started (their uids are
    the run's own: ``sandbox.uids_of``), and wait until they are gone; a message if some
    could not be killed."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    try:
        sandbox.kill_processes(sandbox.uids_of(proc.pid))
    except TimeoutError as exc:
        return f"processes of the submission outlived its run: {exc}"
    return None


REPORT_LIMIT = 16 << 20     # the largest run report read: a failing run's is ~5-100 kB


def _read_json(path: Path, limit: int = REPORT_LIMIT):
    try:
        if path.stat().st_size > limit:
            return None
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


_ERROR_STATUSES = ("tampered", "timeout", "crashed", "invalid", "load error", "harness error")


def secret(outdir: Path) -> bytes:
    """The key that signs this output folder's records: made once, readable by its owner
    only, out of every sandbox's sight."""
    path = Path(outdir) / ".grade-key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    key = os.urandom(32)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


def _signature(record: dict, key: bytes) -> str:
    body = {k: v for k, v in record.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return "hmac-sha256:" + hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signed(record: dict, key: bytes) -> bool:
    """Whether ``record`` carries its own signature under ``key`` (not changed since written)."""
    return isinstance(record.get("digest"), str) and hmac.compare_digest(record["digest"], _signature(record, key))


REPRODUCER_KEEP = 3 * feedback.REPRODUCER_LIMIT     # characters of a reproducing script a record keeps
LOAD_ERROR_KEEP = 4000                               # characters of a load error's traceback


def _clip(text, keep: int):
    return None if text is None else str(text)[:keep]


def _from_conformance(conformance: dict | None, status: str) -> tuple:
    """What a record keeps of a run's report (docs/conformance-schema.md): per system its
    verdict, diagnosis codes, the first failure (check, message, diagnosis in words, the
    reproducing script, naming the submission's file by its own name) and each check's
    counts of tests by outcome; and the load error. The one place that reads the report."""
    conformance = conformance or {}
    impl = conformance.get("implementation") or {}

    def own_names(text):
        return _own_names(text, impl.get("file") or impl.get("label"))

    systems = {}
    for system in SYSTEMS:
        s = conformance.get("systems", {}).get(system, {})
        verdict = s.get("status", "error")
        if status in _ERROR_STATUSES:
            verdict = "error" if status != "load error" or verdict != "not provided" else verdict
        first = s.get("first_failure") or {}
        detail = next((Failure.from_json(f) for f in s.get("failures") or []
                       if isinstance(f, dict) and f.get("test") == first.get("test")), None)
        failed = verdict == "fail" and detail is not None
        systems[system] = {"status": verdict, "diagnosis": s.get("diagnosis") or [], "message": first.get("message"),
                           "check": first.get("check"),
                           "words": (detail.diagnosis or {}).get("words") if failed else None,
                           "reproducer": own_names(_clip(detail.reproducer, REPRODUCER_KEEP)) if failed else None,
                           "checks": {c: {k: v for k, v in n.items() if isinstance(v, int)}
                                      for c, n in (s.get("checks") or {}).items() if isinstance(n, dict)}}
    return systems, own_names(_clip(impl.get("load_error"), LOAD_ERROR_KEEP))


def _own_names(text, graded_file):
    """``text`` with the graded copy's path written as the student knows the file: by its name."""
    if text is None or not graded_file or not Path(graded_file).is_absolute():
        return text
    name = Path(graded_file).name
    return text.replace(repr(str(graded_file)), repr(name)).replace(str(graded_file), name)


def scored(record: dict, course: Assignment) -> dict:
    """``record`` with its score under ``course``: the points per system, the total and the
    feedback text (computed from the record alone: a reused record is scored again)."""
    scored = assignments.assess(course, record["status"], record["systems"])
    record.update(score=scored["score"], max_score=scored["max_score"], points=scored["systems"],
                  assignment=course.sha256)
    record["feedback"] = feedback.text(record, course)
    return record


def finish(record, out: Path, status: str, note, conformance, started: float, log: str,
            course: Assignment = assignments.DEFAULT) -> dict:
    systems, load_error = _from_conformance(conformance, status)
    if status == "load error":
        note = _own_names(note, ((conformance or {}).get("implementation") or {}).get("label"))
    record.update(status=status, note=note, systems=systems, load_error=load_error,
                  seconds=round(time.perf_counter() - started, 2),
                  files={k: v for k, v in (("conformance", "conformance.json"), ("report", "report.html"))
                         if (out / v).exists()})
    scored(record, course)
    write_atomically(out / "pytest.log", log)
    record["files"]["gradescope"] = "gradescope/results.json"
    record["files"]["log"] = "pytest.log"
    record["digest"] = _signature(record, secret(out.parent))
    write_atomically(out / "gradescope" / "results.json", json.dumps(gradescope(record, course), indent=2) + "\n")
    write_atomically(out / "result.json", json.dumps(record, indent=2) + "\n")
    return record


def gradescope(record: dict, course: Assignment = assignments.DEFAULT) -> dict:
    """The record in Gradescope's autograder ``results.json`` format (its specification,
    "Output format"): a test per system of the assignment, worth the system's points, whose
    output is that system's feedback with the reproducing script; the top-level score; the
    run's time in whole seconds; the assignment's visibility for the tests and the whole.
    Every text is plain ("text" format: nothing of a submission's output is read as HTML)."""
    tests = []
    for number, system in enumerate(course.systems, 1):
        points = (record.get("points") or {}).get(system) or {}
        earned = float(points.get("points", 0.0))
        worth = float(points.get("max_points", course.systems[system]))
        tests.append({"name": system, "number": str(number), "score": earned, "max_score": worth,
                      "status": "passed" if earned >= worth else "failed",
                      "output": feedback.system_text(record, system, course, inline=True),
                      "output_format": "text", "visibility": course.visibility})
    problem = feedback.run_problem(record)
    summary = (f"backprop-harness: {record['score']:g} of {record['max_score']:g} points"
               + (f" ({course.title})" if course.title else "")
               + (f"\n{problem}" if problem else ""))
    if record.get("load_error") and record["load_error"].strip() != (record.get("note") or "").strip():
        summary += "\n" + record["load_error"]
    return {"score": float(record["score"]), "execution_time": math.ceil(record["seconds"]),
            "output": summary, "output_format": "text", "test_output_format": "text", "test_name_format": "text",
            "visibility": course.visibility, "stdout_visibility": "hidden",
            "extra_data": {"max_score": float(record["max_score"]), "status": record["status"],
                           "assignment": course.source, "assignment_sha256": course.sha256},
            "tests": tests}


# --- the class ---------------------------------------------------------------------------------------

COLUMNS = ("submission", *SYSTEMS, "diagnosis", "score", "max_score", "seconds", "status", "note", "feedback")


def columns(course: Assignment = assignments.DEFAULT) -> tuple:
    """The gradebook's columns: a verdict per system of the assignment and, with an
    assignment, the points of each; the diagnosis codes; the score; the feedback."""
    if course.source is None:
        return COLUMNS
    return ("submission", *course.systems, *(f"{s} points" for s in course.systems), "diagnosis", "score",
            "max_score", "seconds", "status", "note", "feedback")


def gradebook_csv(records: list, course: Assignment = assignments.DEFAULT) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns(course))
    for r in records:
        codes = [f"{system}:{code}" for system, s in r["systems"].items() if s["status"] == "fail"
                 and system in course.systems for code in s["diagnosis"]]
        points = [f"{r['points'][s]['points']:g}" for s in course.systems] if course.source is not None else []
        w.writerow([r["name"], *(r["systems"][s]["status"] for s in course.systems), *points, " ".join(codes),
                    f"{r['score']:g}", f"{r['max_score']:g}", f"{r['seconds']:.1f}", r["status"], r["note"] or "",
                    r.get("feedback") or feedback.text(r, course)])
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
            what = (f"{record['name']}: {record['score']:g}/{record['max_score']:g} ({record['status']}, "
                    f"{record['seconds']:.0f} s)")
            self.stream.write(("\r\x1b[K" if self.tty else "") + what + "\n" + (self._line() if self.tty else ""))
            self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\n")


def grade(directory: Path, outdir: Path, settings: Settings, jobs: int, progress_stream=sys.stderr) -> list:
    """Grade every submission in ``directory``; reuse the records of those already graded.

    With ``settings.sandbox == "strict"`` the sandbox must work (else ``sandbox.Unavailable``)
    and the harness must be intact (else ``HarnessChanged``, unless
    ``settings.allow_modified_harness``, which the summary then records)."""
    course = settings.course
    subs = discover(directory, exclude=outdir, entry=course.entry)
    changed = []
    if settings.sandbox == "strict":
        if sandbox.shows_harness(Path(outdir) / "NAME" / "submission"):
            raise ValueError(f"the output folder {outdir} is inside the harness's own files; the sandbox shows "
                             f"each submission's copy there, so choose a folder outside them")
        state = sandbox.status()
        if not state.available:
            raise sandbox.Unavailable(f"no sandbox can be built here: {state.reason}")
        changed = check_harness() if settings.no_self_check is None else []
        if changed and not settings.allow_modified_harness:
            raise HarnessChanged(changed)
    elif settings.sandbox != "off":
        raise ValueError(f"grade's sandbox is 'strict' or 'off', not {settings.sandbox!r}")
    outdir.mkdir(parents=True, exist_ok=True)
    key, signing = settings.key(), secret(outdir)
    records, todo, forged = {}, [], []
    for sub in subs:
        old = _read_json(outdir / sub.name / "result.json")
        if old and old.get("sha256") == sub.sha256 and old.get("settings") == key \
                and old.get("status") != "harness error":
            if signed(old, signing):
                before = json.dumps(old, sort_keys=True)
                scored(old, course)             # the assignment's weights may have changed since
                if json.dumps(old, sort_keys=True) != before:
                    old["digest"] = _signature(old, signing)
                    write_atomically(outdir / sub.name / "result.json", json.dumps(old, indent=2) + "\n")
                records[sub.name] = old
                # its Gradescope file from the checked record, not as found
                write_atomically(outdir / sub.name / "gradescope" / "results.json",
                                 json.dumps(gradescope(old, course), indent=2) + "\n")
                continue
            forged.append(sub.name)
        todo.append(sub)
    progress = Progress(len(subs), len(records), progress_stream)
    if records:
        progress_stream.write(f"{len(records)} submission(s) graded before with these settings: reused\n")
    if forged:
        progress_stream.write(f"{len(forged)} record(s) changed since they were written ({', '.join(forged)}): "
                              f"graded again\n")
    start_state = _harness_state()
    caches = Path(tempfile.mkdtemp(prefix="backprop-grade-caches-"))
    run_settings = Settings(**{**settings.__dict__, "caches": caches})
    if settings.sandbox == "strict":
        run_settings.forks = Forks(caches, run_settings)

    def task(sub):
        if _STOPPING.is_set():
            return None
        progress.start()
        if _harness_state() != start_state:
            record = finish({"name": sub.name, "path": str(sub.path), "sha256": sub.sha256, "settings": key,
                              "graded": datetime.now(timezone.utc).isoformat(timespec="seconds")},
                             outdir / sub.name, "harness error", "the harness's files or the venv's start-up "
                             "hooks changed during this run: not graded (restore the harness and run again)",
                             None, time.perf_counter(), "", course)
        else:
            record = run_one(sub, outdir, run_settings)
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
    finally:
        if run_settings.forks is not None:
            run_settings.forks.close()
        shutil.rmtree(caches, ignore_errors=True)
    pool.shutdown()
    progress.close()
    ordered = [records[s.name] for s in subs]
    gradebook = gradebook_csv(ordered, course)
    write_atomically(outdir / "gradebook.csv", gradebook)
    summary = {"schema": SCHEMA, "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "directory": str(directory), "settings": key, "jobs": jobs,
               "assignment": course.to_json() if course.source is not None else course.describe(),
               "sandbox": sandbox.describe(settings.sandbox),
               "harness_check": ("not run (no sandbox)" if settings.sandbox == "off" else
                                 f"not run ({settings.no_self_check})" if settings.no_self_check else
                                 "intact" if not changed else {"allowed changes": changed}),
               "seconds": round(time.perf_counter() - started, 1), "graded_now": len(todo),
               "reused": len(subs) - len(todo), "regraded_changed_records": forged,
               "gradebook_sha256": hashlib.sha256(gradebook.encode()).hexdigest(), "submissions": ordered}
    summary["digest"] = _signature(summary, signing)
    write_atomically(outdir / "results.json", json.dumps(summary, indent=2) + "\n")
    class_page.write(outdir / "index.html", ordered, course, summary)
    return ordered


def add_arguments(parser):
    parser.add_argument("directory", type=Path, help="the submissions: .py files and/or folders with one .py file")
    parser.add_argument("--out", type=Path, required=True, help="where the gradebook and the reports go")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--assignment", type=Path, metavar="FILE",
                        help="the assignment (TOML, docs/grading.md): the systems and their points, the "
                             "conventions fixed, the checks' weights, the limits, the entry file; without it every "
                             "system is worth 1 point when it passes")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds a submission's whole run may take before it is killed (default: the "
                             "assignment's [limits] run_seconds, else 300)")
    parser.add_argument("--impl-timeout", type=float, default=None,
                        help="seconds each call of a submission may take (default: the assignment's [limits] "
                             "call_seconds, else 5)")
    parser.add_argument("--profile", default=None, choices=("ci", "dev", "thorough", "smoke"),
                        help="Hypothesis profile (default: the assignment's, else ci: derandomized, so a re-run "
                             "gives the same verdicts)")
    parser.add_argument("--oracles", default=None,
                        help="oracles to compare with (default: the assignment's, else complex_step: exact to "
                             "float64's rounding on every system, numpy only; the suite's own CI holds it to torch "
                             "and JAX, so a class need not pay their import and compile time per submission; "
                             "'all' for all five)")
    parser.add_argument("--no-html", action="store_true", help="skip the per-submission HTML reports")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without the sandbox (it is required otherwise): the submissions then run as "
                             "you, and can read the reference, the fixtures, each other and the records, change "
                             "the harness and its venv, and outlive their run (docs/sandbox.md)")
    parser.add_argument("--allow-modified-harness", action="store_true",
                        help="grade although the harness differs from what was installed (its git commit, pip's "
                             "records); results.json lists the differences")


def settings_of(args, course: Assignment, mode: str) -> Settings:
    """The run's settings: an option given on the command line, else the assignment's, else the default."""
    def pick(given, assigned, default):
        return given if given is not None else assigned if assigned is not None else default
    oracles = pick(args.oracles, course.oracles, "complex_step")
    if oracles == "all":
        oracles = "torch64,jax64,complex_step,richardson,central"
    return Settings(pick(args.profile, course.profile, "ci"), pick(args.timeout, course.run_seconds, 300.0),
                    pick(args.impl_timeout, course.call_seconds, 5.0), not args.no_html, oracles, mode,
                    args.allow_modified_harness, assignment=course if course.source is not None else None)


UNPROTECTED = ("without the sandbox, nothing keeps a submission from reading the reference, the fixtures, the "
               "other submissions and the records, from changing the harness, its venv and your caches, or from "
               "leaving processes behind; use --no-sandbox only for code you trust (docs/sandbox.md)")


def main(args) -> int:
    """The command: 0 graded; 2 a usage error or no sandbox; 3 a changed harness, or rows
    the harness itself failed (``harness error``)."""
    if args.jobs < 1 or (args.timeout is not None and args.timeout <= 0) or \
            (args.impl_timeout is not None and args.impl_timeout <= 0):
        print("backprop-harness grade: --jobs must be >= 1, --timeout and --impl-timeout positive", file=sys.stderr)
        return 2
    try:
        course = assignments.load(args.assignment) if args.assignment else assignments.DEFAULT
    except (FileNotFoundError, assignments.AssignmentError) as exc:
        print(f"backprop-harness grade: the assignment is not valid: {exc}", file=sys.stderr)
        return 2
    print(f"backprop-harness grade: {course.describe()}", file=sys.stderr)
    mode = "off" if args.no_sandbox else "strict"
    if mode == "strict":
        state = sandbox.status()
        if not state.available:
            print(f"backprop-harness grade: cannot build the sandbox: {state.reason}. Refusing to grade; "
                  f"--no-sandbox grades without it, and then {UNPROTECTED.removeprefix('without the sandbox, ')}",
                  file=sys.stderr)
            return 2
        print(f"backprop-harness grade: {sandbox.describe(mode)}", file=sys.stderr)
    else:
        print(f"backprop-harness grade: --no-sandbox: {UNPROTECTED}", file=sys.stderr)
    try:
        records = grade(args.directory, args.out, settings_of(args, course, mode), args.jobs)
    except (FileNotFoundError, ValueError, sandbox.Unavailable) as exc:
        print(f"backprop-harness grade: {exc}", file=sys.stderr)
        return 2
    except HarnessChanged as exc:
        print(f"backprop-harness grade: refusing to grade: {exc}\nRestore it (git checkout, pip install "
              f"--force-reinstall) or pass --allow-modified-harness.", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("backprop-harness grade: interrupted; the submissions graded so far are kept, and the same "
              "command resumes from them", file=sys.stderr)
        return 130
    full = sum(r["score"] >= r["max_score"] for r in records)
    mean = sum(r["score"] for r in records) / len(records) if records else 0.0
    print(f"{len(records)} submissions, {full} with full marks ({course.max_score:g} points: "
          f"{'every system passing' if course.source is None else 'the assignment'}), mean {mean:.2f}; "
          f"gradebook: {args.out / 'gradebook.csv'}, class page: {args.out / 'index.html'}")
    broken = [r["name"] for r in records if r["status"] == "harness error"]
    if broken:
        print(f"backprop-harness grade: the harness failed on {len(broken)} submission(s) ({', '.join(broken)}): "
              f"their rows say why; they are graded again on the next run", file=sys.stderr)
        return 3
    return 0
