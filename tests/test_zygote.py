"""The grader's pre-imported process (``backprop_harness.zygote``): each run is a fork in
a session of its own, reports pytest's exit status, starts from the zygote's state and
not from an earlier run's, and nothing outlives the zygote's end.

``grade`` forks a strict class's runs from it; the hostile class (test_sandbox_class.py,
slow) holds the whole path to the sandbox's promises."""
from __future__ import annotations

import importlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

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
    from backprop_harness import zygote
    missing = []
    for name in zygote.PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing.append(f"{name}: {exc}")
    assert not missing
