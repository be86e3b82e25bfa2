"""The grader's pre-imported process (``backprop_harness.zygote``): each run is a fork in
a session of its own, reports pytest's exit status, starts from the zygote's state and
not from an earlier run's, and nothing outlives the zygote's end.

``grade`` forks a strict class's runs from it; the hostile class (test_sandbox_class.py,
slow) holds the whole path to the sandbox's promises."""
from __future__ import annotations

import ast
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backprop_harness import sandbox, zygote as zygote_module
from backprop_harness.zygote import Zygote, ZygoteLost

ROOT = Path(__file__).resolve().parent.parent

PASSING = "def test_one():\n    assert 1 + 1 == 2\n"
FAILING = "def test_one():\n    assert 1 + 1 == 3\n"
# each run leaves a mark in a module every run imports: a fork of another run would see it
MARKS = ("import json\n\n\ndef test_no_earlier_run_left_its_mark():\n"
         "    assert not hasattr(json, 'MARK')\n    json.MARK = 1\n")
HANGS = "import time\n\n\ndef test_hangs():\n    time.sleep(120)\n"


# what these runs import; grade's zygote imports zygote.PRELOAD (the hostile class runs it)
PRELOAD = ("pytest",)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _pytest(path: Path) -> list:
    return ["-q", "-p", "no:cacheprovider", "-n", "0", "--rootdir", str(path.parent), "-c", os.devnull, str(path)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not _alive(pid)


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    z = Zygote(_env(), tmp_path_factory.mktemp("zygote"), PRELOAD)
    yield z
    z.close()


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_run_reports_pytest_s_exit_status_and_output(zygote, tmp_path):
    passing, failing = _write(tmp_path, "test_pass.py", PASSING), _write(tmp_path, "test_fail.py", FAILING)
    runs = [zygote.run(_pytest(passing), tmp_path), zygote.run(_pytest(failing), tmp_path)]
    assert [run.wait(60) for run in runs] == [0, 1]
    output = runs[1].stdout.read().decode()
    assert "1 failed" in output and "assert (1 + 1) == 3" in output      # the test module's asserts are rewritten
    assert "1 passed" in runs[0].stdout.read().decode()


def test_every_run_starts_from_the_zygote_not_from_an_earlier_run(zygote, tmp_path):
    marks = _write(tmp_path, "test_marks.py", MARKS)
    assert [zygote.run(_pytest(marks), tmp_path).wait(60) for _ in range(3)] == [0, 0, 0]


def test_a_run_leads_its_own_session_and_dies_with_its_group(zygote, tmp_path):
    run = zygote.run(_pytest(_write(tmp_path, "test_hangs.py", HANGS)), tmp_path)
    assert os.getsid(run.pid) == run.pid and os.getpgid(run.pid) == run.pid
    with pytest.raises(subprocess.TimeoutExpired):
        run.wait(0.5)
    os.killpg(run.pid, signal.SIGKILL)
    assert run.wait(10) == -signal.SIGKILL


def test_the_zygote_s_end_ends_its_runs_and_refuses_new_ones(tmp_path):
    z = Zygote(_env(), tmp_path, PRELOAD)
    run = z.run(_pytest(_write(tmp_path, "test_hangs.py", HANGS)), tmp_path)
    z.close()
    assert _gone(run.pid)
    with pytest.raises(ZygoteLost):
        z.run(_pytest(_write(tmp_path, "test_pass.py", PASSING)), tmp_path)


def test_a_run_of_a_zygote_that_dies_is_lost_not_waited_for(tmp_path):
    z = Zygote(_env(), tmp_path, PRELOAD)
    run = z.run(_pytest(_write(tmp_path, "test_hangs.py", HANGS)), tmp_path)
    try:
        os.kill(z.proc.pid, signal.SIGKILL)
        assert run.wait(10) is None and "ended" in run.lost
        with pytest.raises(ZygoteLost):
            z.run(_pytest(_write(tmp_path, "test_pass.py", PASSING)), tmp_path)
    finally:
        os.killpg(run.pid, signal.SIGKILL)       # its own session: the zygote's death does not reach it
        z.close()


def test_a_zygote_that_cannot_start_says_why(tmp_path):
    with pytest.raises(ZygoteLost, match="(?s)did not start: .*No module named 'encodings'"):
        Zygote({**_env(), "PYTHONHOME": str(tmp_path)}, tmp_path, PRELOAD)


def test_every_module_the_zygote_imports_exists():
    """A name that no longer imports would only cost each run its import: caught here."""
    missing = []
    for name in zygote_module.PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing.append(f"{name}: {exc}")
    assert not missing


def test_a_request_the_zygote_cannot_serve_is_refused_and_the_other_runs_go_on(zygote, tmp_path):
    hanging = zygote.run(_pytest(_write(tmp_path, "test_hangs.py", HANGS)), tmp_path)
    read_end, write_end = os.pipe()
    bad = zygote_module.Run(os.fdopen(read_end, "rb", buffering=0))
    with zygote._lock:                        # a request without its folder, as a broken grader would send
        zygote._next += 1
        zygote._runs[zygote._next] = bad
        zygote_module._send(zygote._sock, {"id": zygote._next, "argv": ["-q"]}, [write_end])
    os.close(write_end)
    assert bad.wait(10) is None and "without its command line" in bad.lost
    bad.stdout.close()
    assert zygote.alive and hanging.poll() is None        # the other run lives on
    os.killpg(hanging.pid, signal.SIGKILL)
    assert hanging.wait(10) == -signal.SIGKILL
    assert zygote.run(_pytest(_write(tmp_path, "test_pass.py", PASSING)), tmp_path).wait(60) == 0


def test_a_run_keeps_hypothesis_s_files_in_its_own_folder(tmp_path):
    """Hypothesis fixes its folder (its example database) where it is imported, in the
    zygote: each run's must be in its own folder, as a new interpreter's is, never shared."""
    failing = "from hypothesis import given, strategies as st\n\n\n@given(st.integers())\n" \
              "def test_small(x):\n    assert x < 1000\n"
    env = {k: v for k, v in _env().items() if k not in ("CI", "HYPOTHESIS_PROFILE", "HYPOTHESIS_STORAGE_DIRECTORY")}
    (tmp_path / "home").mkdir()
    z = Zygote(env, tmp_path / "home", ("pytest", "hypothesis"))
    try:
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            assert z.run(_pytest(_write(folder, "test_small.py", failing)), folder).wait(60) == 1
            assert (folder / ".hypothesis" / "examples").is_dir()
    finally:
        z.close()
    assert not (tmp_path / "home" / ".hypothesis" / "examples").exists()


STATE = sandbox.status()
LOCALS_PROBE = """
import json, os, sys
from pathlib import Path
ROOT = os.environ["PROBE_ROOT"]


def pytest_runtest_call(item):
    out = Path.cwd() / "locals.json"
    if out.exists() or not getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
        return
    names = sorted(n for n, m in list(sys.modules.items()) if (getattr(m, "__file__", None) or "").startswith(ROOT)
                   and "/site-packages/" not in m.__file__)
    out.write_text(json.dumps({"test": item.nodeid, "modules": names}))
"""


@pytest.mark.skipif(not STATE.available, reason=f"no sandbox here: {STATE.reason}")
def test_a_forked_run_draws_from_the_same_modules_as_a_new_interpreter(tmp_path):
    """Hypothesis biases its examples with the literals of the harness's modules loaded: at
    a run's first example, a fork (the whole PRELOAD) and a new interpreter hold the same.
    The implementation fails a worked example first, so the failure's imports are in both."""
    plugin = tmp_path / "probe"
    plugin.mkdir()
    (plugin / "probe_locals.py").write_text(LOCALS_PROBE)
    (tmp_path / "code").mkdir()
    impl = tmp_path / "code" / "mine.py"
    impl.write_text((ROOT / "zoo" / "buggy" / "manual_222_double_sigmoid.py").read_text())
    env = {**_env(), "PYTHONPATH": f"{ROOT}{os.pathsep}{plugin}", "PROBE_ROOT": f"{ROOT}{os.sep}",
           "BACKPROP_SANDBOX": "strict", "HYPOTHESIS_PROFILE": "smoke"}
    args = ["--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), "-p", "no:cacheprovider", "-q", "-n", "0",
            "--impl", str(impl), "--oracles", "complex_step", "-p", "probe_locals",
            str(ROOT / "backprop_harness" / "conformance" / "test_conformance.py")]
    forked, new = tmp_path / "forked", tmp_path / "new"
    for folder in (forked, new, tmp_path / "home"):
        folder.mkdir()
    z = Zygote(env, tmp_path / "home")          # the whole PRELOAD
    try:
        assert z.run(args, forked).wait(300) == 1
    finally:
        z.close()
    subprocess.run([sys.executable, "-m", "pytest", *args], cwd=new, env=env, capture_output=True, timeout=300)
    seen = {way: json.loads((folder / "locals.json").read_text()) for way, folder in (("forked", forked), ("new", new))}
    assert seen["forked"]["test"] == seen["new"]["test"]
    assert seen["forked"]["modules"] == seen["new"]["modules"]
    assert set(zygote_module.HARNESS) <= set(seen["new"]["modules"])


def test_the_zygote_imports_no_harness_module_whose_asserts_pytest_would_rewrite():
    """The zygote's modules are not rewritten by pytest (it imported them first), which
    matters only to a bare assert: none of them has one."""
    with_asserts = []
    for name in zygote_module.HARNESS:
        spec = importlib.util.find_spec(name)
        tree = ast.parse(Path(spec.origin).read_text())
        if any(isinstance(node, ast.Assert) for node in ast.walk(tree)):
            with_asserts.append(name)
    assert with_asserts == []


def test_a_class_whose_zygote_cannot_start_is_harness_errors_and_it_is_tried_once(tmp_path, monkeypatch):
    from backprop_harness import grade
    tries = []

    def cannot_start(env, cwd, *args, **kwargs):
        tries.append(cwd)
        raise ZygoteLost("the grader's pre-imported process did not start: ImportError: boom")
    monkeypatch.setattr(zygote_module, "Zygote", cannot_start)
    caches = tmp_path / "caches"
    caches.mkdir()
    settings = grade.Settings(sandbox="strict", caches=caches)
    settings.forks = grade.Forks(caches, settings)
    klass = tmp_path / "class"
    klass.mkdir()
    for name in ("alice", "bob"):
        (klass / f"{name}.py").write_text(PASSING)
    records = [grade.run_one(sub, tmp_path / "out", settings) for sub in grade.discover(klass)]
    assert [r["status"] for r in records] == ["harness error", "harness error"]
    assert all("did not start: ImportError: boom" in r["note"] for r in records)
    assert len(tries) == 1


def test_a_request_too_long_to_read_is_dropped_and_the_zygote_serves_the_next(zygote, tmp_path):
    read_end, write_end = os.pipe()
    try:
        with zygote._lock:                    # past the grader's own check, as a broken grader would send it
            zygote._next += 1
            zygote_module._send(zygote._sock, {"id": zygote._next, "argv": ["x" * zygote_module.MAX_MESSAGE],
                                               "cwd": str(tmp_path)}, [write_end])
    finally:
        os.close(write_end)
        os.close(read_end)
    with pytest.raises(ValueError, match="longer than"):
        zygote.run(["x" * zygote_module.MAX_MESSAGE], tmp_path)
    assert zygote.run(_pytest(_write(tmp_path, "test_pass.py", PASSING)), tmp_path).wait(60) == 0
    assert "a request was refused" in zygote.log.read_text()
