"""The sandbox (``backprop_harness/sandbox.py``) and the grader's defences around it.

A sandboxed worker is asked through the real plug-in handler (``backprop_harness.worker``)
to call a probe written into a temporary folder; the probe's ``gradients`` raises
``RuntimeError("REPORT {...}")`` with what it found, which comes back as the call's
message. Checked: what the worker sees (only the Python installation, its own modules
and its code's folder; never the reference, the oracles, the fixtures, the tests, an
output folder, the other submissions or HOME's caches), what it runs as (a uid of its
own, no capabilities, no_new_privs) and within which limits, that stopping it ends
every process it started, that it dies with the harness, how it is lost (hang, SIGSTOP,
exit, segfault, an oversize reply), the modes (strict, auto, off) and where no sandbox
can be built. Then the grader's side, which needs no sandbox: the self-check of the
harness (the venv against pip's records, the sources against git, bytecode against
its sources), signed records, harness errors. The hostile class graded end to end is
``tests/test_sandbox_class.py`` (slow).
"""
from __future__ import annotations

import io
import json
import os
import py_compile
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from backprop_harness import grade, sandbox
from backprop_harness.isolation import Worker, WorkerLost

ROOT = Path(__file__).resolve().parent.parent
HANDLER = "backprop_harness.worker:factory"
STATE = sandbox.status()
needs_sandbox = pytest.mark.skipif(not STATE.available, reason=f"no sandbox here: {STATE.reason}")
# worker requests (backprop_harness/worker.py): a protocol function and its arguments
GRADIENTS = {"fn": "gradients", "args": [[1.0, 2.0], [0.0, 1.0], [0.1] * 8]}
FORWARD = {"fn": "forward", "args": [[1.0, 2.0], [0.1] * 8]}

REPORTER = '''
import json
def gradients(x, t, w):
    raise RuntimeError("REPORT " + json.dumps(report(), sort_keys=True))
'''


def probe(folder: Path, body: str, mode: str = "strict", **kwargs) -> Worker:
    """A worker whose implementation is ``body`` (defining ``report()``, and any protocol
    function), written to ``folder/probe.py``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probe.py").write_text(textwrap.dedent(body) + REPORTER)
    init = {"kind": "file", "target": str(folder / "probe.py"), "sys_path": [str(folder)]}
    return Worker(HANDLER, init, sandbox=mode, **kwargs)


def ask(worker: Worker) -> dict:
    reply = worker.call(GRADIENTS)
    assert reply["status"] == "raised" and "REPORT " in reply["message"], reply
    return json.loads(reply["message"].split("REPORT ", 1)[1])


def _gone_within(uids, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while sandbox.processes(uids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# --- what a sandboxed worker sees, runs as, and may use ----------------------------------------------

VIEW = '''
import os, sys, resource
from pathlib import Path
PATHS = {paths!r}

def _can_write(path):
    try:
        with open(path, "a"):
            pass
        return True
    except OSError:
        return False

def _imports(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False

def report():
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    return {{
        "visible": {{p: os.path.exists(p) for p in PATHS}},
        "imports": {{m: _imports(m) for m in ("numpy", "reference", "oracles.numeric", "fixtures",
                                               "backprop_harness.grade", "tests")}},
        "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "pid": os.getpid(),
        "caps": status["CapEff"].strip(), "bounding": status["CapBnd"].strip(),
        "no_new_privs": status["NoNewPrivs"].strip(),
        "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "hostname": os.uname().nodename, "cwd": os.getcwd(), "env": sorted(os.environ),
        "interfaces": sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]),
        "limits": {{n: resource.getrlimit(getattr(resource, "RLIMIT_" + n.upper()))[0]
                   for n in ("as", "nproc", "nofile", "fsize", "cpu", "core")}},
        "write own folder": _can_write(os.path.join(os.path.dirname(__file__), "new.txt")),
        "write own file": _can_write(__file__),
        "write worker module": _can_write(sys.modules["backprop_harness.worker"].__file__),
        "write tmp": _can_write("/tmp/scratch.txt"), "write home": _can_write(os.path.expanduser("~/x")),
        "write root": _can_write("/x"),
    }}
'''


@needs_sandbox
def test_a_strict_sandbox_shows_only_what_the_worker_needs(tmp_path):
    out, other = tmp_path / "graded", tmp_path / "class" / "bob.py"
    (out / "alice").mkdir(parents=True)
    (out / "alice" / "result.json").write_text("{}")
    other.parent.mkdir()
    other.write_text("# bob's answer\n")
    # HOME's entries, but those on the way to the Python installation (pyenv's lives there)
    home = [Path.home() / e for e in sorted(os.listdir(Path.home()))
            if not any(Path(p).is_relative_to(Path.home() / e) for p in (sys.base_prefix, sys.prefix))]
    hidden = [ROOT / "reference", ROOT / "oracles" / "numeric.py", ROOT / "oracles" / "__init__.py",
              ROOT / "fixtures", ROOT / "tests", ROOT / "conftest.py", ROOT / "backprop_harness" / "grade.py",
              ROOT / "pyproject.toml", out, out / "alice" / "result.json", other, *home,
              Path("/etc/passwd")]
    shown = [Path(sys.prefix), Path(sys.base_prefix) / "lib", Path(sandbox.PACKAGE_DIR) / "backprop_harness"]
    with probe(tmp_path / "code", VIEW.format(paths=[str(p) for p in hidden + shown])) as w:
        seen = ask(w)
    assert [p for p in hidden if seen["visible"][str(p)]] == []
    assert all(seen["visible"][str(p)] for p in shown)
    assert seen["imports"] == {"numpy": True, "reference": False, "oracles.numeric": False, "fixtures": False,
                               "backprop_harness.grade": False, "tests": False}
    if STATE.privileged:             # a uid of its own, nothing else: no capability, no group
        assert sandbox.UID_BASE <= seen["uid"] == w.sandbox.uid == seen["gid"] and seen["groups"] == []
    else:
        assert seen["uid"] == sandbox.SANDBOX_UID
    assert seen["caps"] == "0000000000000000" and seen["no_new_privs"] == "1"
    assert seen["pid"] == 2 and seen["processes"] == [1, 2]          # its own PID namespace
    assert seen["hostname"] == "sandbox" and seen["interfaces"] == ["lo"] and seen["cwd"] == "/tmp/work"
    assert set(seen["env"]) <= {"PATH", "HOME", "TMPDIR", "LANG", "PWD", "PYTHONPATH", "PYTHONNOUSERSITE",
                                "PYTHONDONTWRITEBYTECODE", "PYTHONFAULTHANDLER", "PYTHONUNBUFFERED",
                                "PYTHONPYCACHEPREFIX", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    assert seen["limits"] == {name: value for name, (value, _) in sandbox.LIMITS.items()}
    assert not seen["write own folder"] and not seen["write own file"] and not seen["write worker module"]
    assert not seen["write root"] and seen["write tmp"] and seen["write home"]


@needs_sandbox
def test_the_bytecode_cache_shows_the_sandbox_only_the_bytecode_of_what_it_shows(tmp_path, monkeypatch):
    """grade's runs compile into a cache of their own (PYTHONPYCACHEPREFIX), the harness's
    modules too: the reference's bytecode would run the reference as well as its source."""
    prefix = tmp_path / "bytecode"
    installed = prefix / Path(sys.prefix).relative_to("/") / "lib" / "x.cpython-311.pyc"
    harness = [prefix / ROOT.relative_to("/") / part for part in
               ("reference/engine.cpython-311.pyc", "oracles/numeric.cpython-311.pyc", "backprop_harness/grade.pyc")]
    for path in (installed, *harness):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"bytecode")
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(prefix))
    paths = [str(p) for p in (installed, *harness)]
    body = f"import os\ndef report():\n    return {{p: os.path.exists(p) for p in {paths!r}}}\n"
    with probe(tmp_path / "code", body) as w:
        seen = ask(w)
    assert seen == {str(installed): True, **{str(p): False for p in harness}}


@needs_sandbox
def test_a_sandbox_takes_what_the_code_under_test_starts_with_it(tmp_path):
    """Detached (double fork, own session), stopped, and spinning processes: all end when
    the worker is stopped, before close() returns."""
    body = '''
    import os, signal, subprocess, time
    def report():
        detached = subprocess.Popen(["sleep", "600"], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    pass
            os._exit(0)
        os.wait()
        stopped = subprocess.Popen(["sleep", "600"])
        os.kill(stopped.pid, signal.SIGSTOP)
        return {"started": [detached.pid, stopped.pid]}
    '''
    w = probe(tmp_path / "code", body)
    ask(w)
    uid = w.sandbox.uid
    if STATE.privileged:
        assert len(sandbox.processes([uid])) >= 4              # the worker, two sleeps, the spinner
    init = w.namespace_pid
    w.close()
    if STATE.privileged:
        assert sandbox.processes([uid]) == []                   # at once: close() waited for them
    assert not os.path.exists(f"/proc/{init}")


@needs_sandbox
def test_a_sandbox_dies_with_the_harness(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "probe.py").write_text(textwrap.dedent('''
        import subprocess
        def gradients(x, t, w):
            subprocess.Popen(["sleep", "600"], start_new_session=True)
            raise RuntimeError("started")
    '''))
    script = textwrap.dedent(f"""
        import threading
        from backprop_harness.isolation import Worker
        w = Worker({HANDLER!r}, {{"kind": "file", "target": {str(tmp_path / "code" / "probe.py")!r},
                                  "sys_path": [{str(tmp_path / "code")!r}]}}, sandbox="strict")
        # started on a passing thread, as the plug-in path starts its spare workers
        t = threading.Thread(target=lambda: w.info)
        t.start()
        t.join()
        w.call({GRADIENTS!r})
        print(w.sandbox.uid, w.namespace_pid, flush=True)
        threading.Event().wait()
    """)
    harness = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        uid, init = map(int, harness.stdout.readline().split())
        assert os.path.exists(f"/proc/{init}")                 # alive while the harness is
        if STATE.privileged:
            assert len(sandbox.processes([uid])) == 2          # the worker and its sleep
    finally:
        harness.kill()
        harness.wait()
        harness.stdout.close()
    if STATE.privileged:
        assert _gone_within([uid], 5.0), sandbox.processes([uid])
    deadline = time.monotonic() + 5.0
    while os.path.exists(f"/proc/{init}") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not os.path.exists(f"/proc/{init}")


@needs_sandbox
@pytest.mark.parametrize("do, kind, message", [
    ("time.sleep(60)", "timeout", "did not answer within 1 s"),
    ("os.kill(os.getpid(), signal.SIGSTOP)", "timeout", "did not answer within 1 s"),
    # its parent is the namespace's PID 1, which ignores signals from inside; -1 reaches no one else
    ("stop(os.getppid()); stop(-1); time.sleep(60)", "timeout", "did not answer within 1 s"),
    ("os._exit(3)", "exit", "exited with status 3 during forward"),
    ("ctypes.string_at(0)", "signal", "SIGSEGV (segmentation fault) during forward"),
])
def test_a_sandboxed_worker_that_hangs_stops_or_dies_is_lost_and_replaced(tmp_path, do, kind, message):
    body = f'''
    import contextlib, ctypes, os, signal, time
    def stop(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGSTOP)
    def report():
        return {{}}
    def forward(x, w):
        {do}
    '''
    with probe(tmp_path / "code", body, call_timeout=1.0) as w:
        started = time.monotonic()
        with pytest.raises(WorkerLost) as info:
            w.call(FORWARD, label="forward")
        assert time.monotonic() - started < 10
        assert info.value.kind == kind and message in str(info.value)
        assert ask(w) == {} and w.starts == 2                   # a fresh sandbox answers


@needs_sandbox
def test_a_sandboxed_reply_is_read_up_to_64_mib(tmp_path):
    body = '''
    import numpy as np
    def report():
        return {}
    def mlp_gradients(X, T, Ws, bs):
        return 0.0, [np.ones(int(X[0][0]))], [np.zeros(1)]
    '''

    def request(entries):
        return {"fn": "mlp_gradients", "args": [[[entries]], [[0.0]], [[[1.0]]], [[0.0]]]}

    # the limit is on size, not time: the call may take as long as encoding 72 MB takes on a busy machine
    with probe(tmp_path / "code", body, call_timeout=120) as w:
        assert w.call(request(1e6))["result"][1][0].shape == (1_000_000,)       # 8 MB: answered
        with pytest.raises(WorkerLost, match="above the limit of 67108864 bytes") as info:
            w.call(request(9e6))                                                # 72 MB of numbers
        assert info.value.kind == "protocol" and sandbox.MAX_MESSAGE == 64 << 20


# --- the modes --------------------------------------------------------------------------------------

@needs_sandbox
def test_auto_sandboxes_code_from_outside_the_harness_and_shows_the_harness_read_only(tmp_path, monkeypatch):
    monkeypatch.delenv("BACKPROP_SANDBOX", raising=False)
    body = '''
    import os
    from pathlib import Path
    import reference.protocol
    def report():
        root = Path(reference.protocol.__file__).resolve().parent.parent
        try:
            (root / "fixtures" / "003_worked_example.toml").open("a").close()
            wrote = True
        except OSError:
            wrote = False
        return {"root": str(root), "fixtures": (root / "fixtures").is_dir(), "wrote": wrote,
                "cache": os.listdir(Path.home() / ".cache") if (Path.home() / ".cache").is_dir() else None,
                "uid": os.getuid()}
    '''
    with probe(tmp_path / "code", body, mode=None) as w:
        seen = ask(w)
        assert w.sandbox is not None and w.sandbox.mode == "auto"
    assert seen["root"] == str(ROOT) and seen["fixtures"] and not seen["wrote"] and seen["uid"] != os.getuid()


def test_auto_runs_the_harness_own_code_and_handlers_unsandboxed(monkeypatch):
    monkeypatch.delenv("BACKPROP_SANDBOX", raising=False)
    reference = {"kind": "module", "target": "reference.protocol", "sys_path": [str(ROOT)]}
    assert sandbox.plan(None, HANDLER, reference) is None
    plugin = {"kind": "file", "target": str(ROOT / "tests/plugins/misbehaves.py"),
              "sys_path": [str(ROOT / "tests/plugins")]}
    assert sandbox.plan(None, HANDLER, plugin) is None
    assert sandbox.plan(None, "tests.isolation_handlers.echo:factory", {}) is None       # the isolation tests'
    with pytest.raises(sandbox.Unavailable, match="serves only the worker's own handlers"):
        sandbox.plan("strict", "tests.isolation_handlers.echo:factory", {})
    with pytest.raises(sandbox.Unavailable, match="holds the harness's own files"):
        sandbox.plan("strict", HANDLER, reference)                     # the harness's folder is never shown
    zoo = {"kind": "file", "target": str(ROOT / "zoo/correct/mlp_einsum.py"), "sys_path": [str(ROOT / "zoo/correct")]}
    with pytest.raises(sandbox.Unavailable, match="holds the harness's own files"):
        sandbox.plan("strict", HANDLER, zoo)
    with pytest.raises(ValueError, match="inside the harness's own files"):
        grade.grade(ROOT / "zoo" / "correct", ROOT / "zoo" / "graded", grade.Settings(sandbox="strict"), jobs=1,
                    progress_stream=io.StringIO())
    assert not (ROOT / "zoo" / "graded").exists()
    monkeypatch.setenv("BACKPROP_SANDBOX", "off")
    elsewhere = {"kind": "file", "target": "/elsewhere/x.py", "sys_path": ["/elsewhere"]}
    assert sandbox.plan(None, HANDLER, elsewhere) is None
    monkeypatch.setenv("BACKPROP_SANDBOX", "sideways")
    with pytest.raises(ValueError, match="expected one of"):
        sandbox.mode()


def test_without_a_sandbox_auto_says_once_why_strict_refuses_and_grade_refuses(monkeypatch, tmp_path, capfd):
    monkeypatch.setattr(sandbox, "_status", [sandbox.Status(False, "bubblewrap is not installed (test)")])
    monkeypatch.setattr(sandbox, "_said", set())
    init = {"kind": "file", "target": str(tmp_path / "x.py"), "sys_path": [str(tmp_path)]}
    assert sandbox.plan("auto", HANDLER, init) is None and sandbox.plan("auto", HANDLER, init) is None
    said = capfd.readouterr().err
    assert said.count("runs without a sandbox: bubblewrap is not installed (test)") == 1
    with pytest.raises(sandbox.Unavailable, match="bubblewrap is not installed"):
        sandbox.plan("strict", HANDLER, init)
    with pytest.raises(sandbox.Unavailable):
        grade.grade(tmp_path, tmp_path / "out", grade.Settings(sandbox="strict"), jobs=1, progress_stream=io.StringIO())
    from backprop_harness.cli import main
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capfd.readouterr().err
    assert "cannot build the sandbox: bubblewrap is not installed (test). Refusing to grade" in err
    assert "--no-sandbox grades without it" in err and "reading the reference" in err


@needs_sandbox
def test_the_unprivileged_variant_runs_in_a_user_namespace_that_makes_no_other(tmp_path, monkeypatch):
    """What a user who is not root gets: bwrap's user namespace, uid 65534 inside, and no
    further user namespace (here run as root, which maps 65534 to root outside)."""
    monkeypatch.setattr(sandbox, "_status", [sandbox.Status(True, "test", STATE.bwrap, privileged=False)])
    body = '''
    import os, subprocess
    def report():
        tried = subprocess.run(["unshare", "--user", "true"], capture_output=True)
        return {"uid": os.getuid(), "userns": tried.returncode, "pid": os.getpid()}
    '''
    with probe(tmp_path / "code", body) as w:
        seen = ask(w)
        assert w.sandbox.uid is None
    assert seen == {"uid": sandbox.SANDBOX_UID, "userns": 1, "pid": 2}


def test_the_strict_view_is_built_from_worker_files_only(tmp_path):
    box = sandbox.Sandbox(strict=True, code=(tmp_path,), root=ROOT, python=sys.executable, uid=sandbox.UID_BASE,
                          status=sandbox.Status(True, "test", "/usr/bin/bwrap", True))
    options = box.options()
    sources = [options[i + 1] for i, o in enumerate(options) if o in ("--ro-bind", "--ro-bind-try")]
    from_root = sorted(os.path.relpath(s, ROOT) for s in sources if Path(s).is_relative_to(ROOT)
                       and not Path(s).is_relative_to(Path(sys.prefix)))
    assert from_root == sorted(sandbox.WORKER_FILES)
    assert box.command(["python"])[-1] == "python" and "--no-new-privs" in box.chain([])


# --- the grader's side: the harness checks itself ------------------------------------------------------

def _record_line(site: Path, rel: str) -> str:
    return f"{rel},sha256={grade.record_hash(site / rel, 'sha256')},{(site / rel).stat().st_size}"


def test_the_self_check_finds_a_changed_venv(tmp_path):
    site = tmp_path / "site-packages"
    (site / "pkg" / "__pycache__").mkdir(parents=True)
    (site / "pkg" / "mod.py").write_text("X = 1\n")
    (site / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"cache")
    (site / "dist-1.0.dist-info").mkdir()
    (site / "dist.pth").write_text("import os\n")
    (site / "dist-1.0.dist-info" / "RECORD").write_text("\n".join([
        _record_line(site, "pkg/mod.py"), _record_line(site, "dist.pth"), "pkg/__pycache__/mod.cpython-311.pyc,,",
        "dist-1.0.dist-info/RECORD,,"]) + "\n")
    assert grade.check_installed([site]) == []
    (site / "pkg" / "mod.py").write_text("X = 2\n")
    (site / "zz_evil.pth").write_text("import os\n")
    (site / "sitecustomize.py").write_text("print('hi')\n")
    (site / "dist.pth").unlink()
    problems = grade.check_installed([site])
    hook = "a start-up hook that no installed distribution owns (Python runs it at every start)"
    assert sorted(problems) == sorted([
        f"{site / 'pkg' / 'mod.py'}: changed since dist-1.0 installed it",
        f"{site / 'dist.pth'}: missing (installed by dist-1.0)",
        f"{site / 'sitecustomize.py'}: {hook}", f"{site / 'zz_evil.pth'}: {hook}"])


def test_the_venv_of_this_harness_is_as_pip_installed_it():
    assert grade.check_installed(grade.site_dirs()) == []


def _git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_self_check_finds_changed_sources_against_the_commit(tmp_path):
    root = tmp_path / "harness"
    (root / "backprop_harness").mkdir(parents=True)
    (root / "conftest.py").write_text("def pytest_configure(config):\n    pass\n")
    (root / "backprop_harness" / "compare.py").write_text("TOLERANCE = 1e-12\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "harness")
    parts = ("backprop_harness", "conftest.py")
    assert grade.check_sources(root, parts) == []
    with open(root / "conftest.py", "a") as f:
        f.write("def pytest_runtest_makereport(item, call):\n    pass\n")     # a "force pass" hook
    stat = (root / "backprop_harness" / "compare.py").stat()
    (root / "backprop_harness" / "compare.py").write_text("TOLERANCE = 1e+12\n")  # same size, same mtime:
    os.utime(root / "backprop_harness" / "compare.py", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # git status is fooled
    (root / "backprop_harness" / "extra.py").write_text("")
    assert grade.check_sources(root, parts) == [
        f"{root / 'backprop_harness' / 'compare.py'}: differs from the commit checked out",
        f"{root / 'conftest.py'}: differs from the commit checked out",
        f"{root / 'backprop_harness' / 'extra.py'}: not in the commit checked out"]
    assert "is not a git checkout" in grade.check_sources(tmp_path, parts)[0]


def test_the_self_check_finds_forged_bytecode(tmp_path):
    package = tmp_path / "backprop_harness"
    package.mkdir()
    source = package / "compare.py"
    source.write_text("def within(a, b):\n    return abs(a - b) < 1e-12\n")
    py_compile.compile(str(source), doraise=True)
    assert grade.check_bytecode(tmp_path, ("backprop_harness",)) == []
    # bytecode of another source, under the header of this one (its mtime and size): Python loads it
    pyc = next((package / "__pycache__").glob("compare.*.pyc"))
    header = pyc.read_bytes()[:16]
    forged = tmp_path / "forged.py"
    forged.write_text("def within(a, b):\n    return True            # always passes\n")
    py_compile.compile(str(forged), cfile=str(tmp_path / "forged.pyc"), doraise=True)
    pyc.write_bytes(header + (tmp_path / "forged.pyc").read_bytes()[16:])
    assert grade.check_bytecode(tmp_path, ("backprop_harness",)) == [f"{pyc}: bytecode that does not match its source"]
    # grade's runs compile into a cache of their own, so that even an unnoticed forgery is never read
    run = subprocess.run([sys.executable, "-c", "import compare; print(compare.within(0, 1))"], cwd=package,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path / "c")})
    assert run.stdout.strip() == "False"


# --- the grader's side: records, harness errors ------------------------------------------------------

def test_a_changed_record_is_graded_again_and_gradescope_follows_the_record(tmp_path, monkeypatch):
    klass, out = tmp_path / "class", tmp_path / "out"
    klass.mkdir()
    for name in ("a", "b"):
        (klass / f"{name}.py").write_text("def gradients(x, t, w):\n    return [0.0] * 8\n")
    calls = []

    def fake_run_one(sub, outdir, settings):
        calls.append(sub.name)
        record = {"name": sub.name, "path": str(sub.path), "sha256": sub.sha256, "settings": settings.key()}
        return grade.finish(record, outdir / sub.name, "graded", None, None, time.perf_counter(), "log")

    monkeypatch.setattr(grade, "run_one", fake_run_one)
    settings = grade.Settings(profile="smoke")
    grade.grade(klass, out, settings, jobs=1, progress_stream=io.StringIO())
    assert (out / ".grade-key").stat().st_mode & 0o777 == 0o600
    forged = json.loads((out / "a" / "result.json").read_text())
    forged.update(score=4, note="forged")
    (out / "a" / "result.json").write_text(json.dumps(forged))
    (out / "b" / "gradescope" / "results.json").write_text('{"score": 4.0}')
    calls.clear()
    stream = io.StringIO()
    records = grade.grade(klass, out, settings, jobs=1, progress_stream=stream)
    assert calls == ["a"] and "1 record(s) changed since they were written (a): graded again" in stream.getvalue()
    assert {r["name"]: r["score"] for r in records} == {"a": 0, "b": 0}
    assert json.loads((out / "b" / "gradescope" / "results.json").read_text())["score"] == 0.0
    key = grade.secret(out)
    summary = json.loads((out / "results.json").read_text())
    assert grade.signed(summary, key) and summary["regraded_changed_records"] == ["a"]
    assert all(grade.signed(json.loads((out / n / "result.json").read_text()), key) for n in ("a", "b"))


FAKE_HARNESS = '''
import json, os, sys
args = sys.argv
out = args[args.index("--conformance-json") + 1]
status = {status!r}
systems = {{s: {{"status": status}} for s in ("scalar_graph", "manual_222", "mlp", "softmax")}}
json.dump({{"systems": systems, "implementation": {{"load_error": None}}, "exit_status": 0,
           "fixtures_unchanged": True,
           "env": {{k: os.environ.get(k) for k in ("BACKPROP_SANDBOX", "PYTHONPYCACHEPREFIX", "BACKPROP_JAX_CACHE")}}}},
          open(out, "w"))
'''


@pytest.mark.parametrize("status, row, code", [("not tested", "harness error", 3), ("pass", "graded", 0)])
def test_a_run_the_harness_broke_is_a_harness_error_and_a_nonzero_exit(tmp_path, monkeypatch, status, row, code):
    """The harness's own run (faked: it reports every system untested, as a harness whose
    fixtures were spoiled did) is never "graded, not tested"; its children get this
    run's own caches and the sandbox's mode."""
    klass, out = tmp_path / "class", tmp_path / "out"
    klass.mkdir()
    (klass / "alice.py").write_text("")
    fake = tmp_path / "fake_harness.py"
    fake.write_text(FAKE_HARNESS.format(status=status))
    monkeypatch.setattr(grade, "_command", lambda sub, harness, out, settings: [
        sys.executable, str(fake), "--conformance-json", str(out / "conformance.json")])
    from backprop_harness.cli import main
    assert main(["grade", str(klass), "--out", str(out), "--no-sandbox", "--no-html"]) == code
    record = json.loads((out / "alice" / "result.json").read_text())
    assert record["status"] == row
    if row == "harness error":
        assert "the harness did not test scalar_graph, manual_222, mlp, softmax" in record["note"]
        assert set(s["status"] for s in record["systems"].values()) == {"error"}
    env = json.loads((out / "alice" / "conformance.json").read_text())["env"]
    assert env["BACKPROP_SANDBOX"] == "off" and "backprop-grade-caches-" in env["PYTHONPYCACHEPREFIX"]
    assert "backprop-grade-caches-" in env["BACKPROP_JAX_CACHE"]
    assert not Path(env["PYTHONPYCACHEPREFIX"]).parent.exists()          # removed with the run


def _fake_class(tmp_path, monkeypatch, names=("a", "b", "c")):
    klass = tmp_path / "class"
    klass.mkdir()
    for name in names:
        (klass / f"{name}.py").write_text("def gradients(x, t, w):\n    return [0.0] * 8\n")
    calls = []

    def fake_run_one(sub, outdir, settings):
        calls.append(sub.name)
        record = {"name": sub.name, "path": str(sub.path), "sha256": sub.sha256, "settings": settings.key()}
        return grade.finish(record, outdir / sub.name, "graded", None, None, time.perf_counter(), "log")

    monkeypatch.setattr(grade, "run_one", fake_run_one)
    return klass, calls


@needs_sandbox
def test_grade_refuses_a_changed_harness_unless_allowed(tmp_path, monkeypatch, capsys):
    klass, calls = _fake_class(tmp_path, monkeypatch)
    problem = f"{ROOT / 'conftest.py'}: differs from the commit checked out"
    monkeypatch.setattr(grade, "check_harness", lambda: [problem])
    with pytest.raises(grade.HarnessChanged) as info:
        grade.grade(klass, tmp_path / "out", grade.Settings(sandbox="strict"), jobs=1, progress_stream=io.StringIO())
    assert info.value.problems == [problem] and calls == [] and not (tmp_path / "out").exists()
    from backprop_harness.cli import main
    assert main(["grade", str(klass), "--out", str(tmp_path / "out")]) == 3
    assert f"refusing to grade: the harness has changed:\n  {problem}" in capsys.readouterr().err
    assert main(["grade", str(klass), "--out", str(tmp_path / "out"), "--allow-modified-harness"]) == 0
    summary = json.loads((tmp_path / "out" / "results.json").read_text())
    assert summary["harness_check"] == {"allowed changes": [problem]} and sorted(calls) == ["a", "b", "c"]
    assert summary["settings"]["sandbox"] == "strict" and summary["sandbox"].startswith("sandbox: strict")


def test_a_harness_that_changes_during_the_class_stops_grading_it(tmp_path, monkeypatch):
    """Something changed the harness's files (or the venv's start-up hooks) after the first
    submission: the others are harness errors, not graded by a changed harness."""
    klass, calls = _fake_class(tmp_path, monkeypatch)
    states = iter(["start", "start", "changed", "changed"])
    monkeypatch.setattr(grade, "_harness_state", lambda: next(states))
    records = grade.grade(klass, tmp_path / "out", grade.Settings(), jobs=1, progress_stream=io.StringIO())
    assert calls == ["a"] and [r["status"] for r in records] == ["graded", "harness error", "harness error"]
    assert "changed during this run" in records[1]["note"]
    assert set(s["status"] for s in records[1]["systems"].values()) == {"error"}
    calls.clear()
    monkeypatch.setattr(grade, "_harness_state", lambda: "restored")
    grade.grade(klass, tmp_path / "out", grade.Settings(), jobs=1, progress_stream=io.StringIO())
    assert calls == ["b", "c"]                     # a harness error is graded again, the rest reused
