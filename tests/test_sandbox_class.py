"""A hostile class graded for real, in the strict sandbox (``backprop-harness grade``'s
default): a correct and a buggy submission are graded first; then one submission per
attack the sandbox is held to (``tests/plugins/hostile/``) joins the class and the command is run
again, resuming. Each attack must be contained, the controls keep their verdicts and
their records, and nothing outside the sandboxes changes: the project's files, the
venv, the user's caches, the class's files, the output folder's other records. No
process of any sandbox is left when the command returns, and the records stay as
written afterwards.

Marked ``slow`` (about two minutes): ``pytest -m slow -n 0``. Bounded: each sandbox holds
at most 1 GiB of address space (the 5 GiB allocation fails at once), 32 processes and a
64 MiB /tmp with files of at most 16 MiB (``sandbox.LIMITS``); two run at a time.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backprop_harness import grade, sandbox
from backprop_harness.plugin import Implementation

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "tests" / "plugins" / "hostile"
ATTACKS = sorted(p.stem for p in HOSTILE.glob("[a-g]_*.py"))      # h_huge_answer: its own tests below
STATE = sandbox.status()
EVERY_SANDBOX_UID = range(sandbox.UID_BASE, sandbox.UID_BASE + sandbox.UID_SLOTS * sandbox.PID_MAX)
# After the run, the records are watched this long for a change: a minute, long past
# any write a process of the run could still make. The only writer that could outlive the
# run is b_grandchild's, which rewrites them every 0.2 s for as long as it lives, and it is
# also checked to be gone when the command returns (no process of any sandbox's uid is left).
WATCH_SECONDS = 60.0

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not STATE.available, reason=f"no sandbox here: {STATE.reason}")]


def _digest(paths) -> dict:
    out = {}
    for path in paths:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        out[str(path)] = h.hexdigest()
    return out


def _files(folder: Path) -> list:
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) if folder.exists() else []


def _project_files() -> list:
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    return [ROOT / name for name in tracked.decode().split("\0") if name and (ROOT / name).is_file()]


def _report(record: dict, system: str = "manual_222") -> dict:
    message = record["systems"][system]["message"] or ""
    assert "REPORT " in message, record
    return json.loads(message.split("REPORT ", 1)[1])


def _dirty() -> bool:
    """Whether the harness differs from its commit (a developer's working tree): the
    self-check would refuse it; the check itself is tested in test_sandbox.py."""
    return bool(grade.check_sources())


def test_a_hostile_class_is_contained_and_spoils_nothing(tmp_path):
    klass, out = tmp_path / "class", tmp_path / "graded"
    klass.mkdir()
    marker = f"SECRET-{os.urandom(6).hex()}"
    for name, source in (("good", "zoo/correct/manual_222_numpy.py"), ("sign", "zoo/buggy/manual_222_sign_flipped.py")):
        (klass / f"{name}.py").write_text((ROOT / source).read_text() + f"# {marker}-{name}\n")
    settings = grade.Settings(profile="smoke", timeout=60, impl_timeout=2, html=False, sandbox="strict",
                              allow_modified_harness=_dirty())
    first = {r["name"]: r for r in grade.grade(klass, out, settings, jobs=2, progress_stream=io.StringIO())}
    assert first["good"]["systems"]["manual_222"]["status"] == "pass", first["good"]
    controls = _digest(_files(out / "good") + _files(out / "sign"))

    home_cache = Path.home() / ".cache" / "backprop-harness" / "jax"
    site = [str(p) for p in grade.site_dirs()]
    targets = {
        "fixtures": [str(p) for p in sorted((ROOT / "fixtures").iterdir()) if p.is_file()],
        "roots": [str(ROOT), str(tmp_path)],
        "records": [str(out / n / "result.json") for n in ("good", "sign", "b_grandchild")]
        + [str(out / n / "gradescope" / "results.json") for n in ("good", "sign")]
        + [str(out / "gradebook.csv"), str(out / "results.json")],
        "until": time.time() + 600, "class": str(klass), "out": str(out), "site": site,
        "conftest": [str(ROOT / "conftest.py")],
        "pycache": [str(ROOT / "backprop_harness" / "__pycache__"), str(Path(site[0]) / "numpy" / "__pycache__")],
        "home_cache": [str(home_cache)], "grader": [os.getpid()],
    }
    for attack in ATTACKS:
        (klass / attack).mkdir()
        shutil.copy(HOSTILE / f"{attack}.py", klass / attack / "submission.py")
        (klass / attack / "targets.json").write_text(json.dumps(targets))
    class_before = _digest(_files(klass))
    project_before = _digest(_project_files())
    venv_files = _files(Path(sys.prefix))      # the same files after (this process may add bytecode)
    venv_before = _digest(venv_files)
    kept = {p: p.read_bytes() for p in [ROOT / "conftest.py", *map(Path, targets["fixtures"])]}
    caches_before = _digest(_files(home_cache.parent))
    traps = [Path(s) / "zz_hostile_submission.pth" for s in site] + \
            [Path(d) / f"hostile_forged.{sys.implementation.cache_tag}.pyc" for d in targets["pycache"]] + \
            [home_cache / "hostile-poisoned-entry"]
    try:
        records = {r["name"]: r for r in grade.grade(klass, out, settings, jobs=2, progress_stream=io.StringIO())}
        left = sandbox.processes(EVERY_SANDBOX_UID)
        written = _digest(_files(out))

        assert left == [], f"processes of a sandbox outlived the run: {left}"
        summary = json.loads((out / "results.json").read_text())
        assert summary["graded_now"] == len(ATTACKS) and summary["reused"] == 2
        # the controls: their verdicts, and their records untouched by the class that joined
        assert (records["good"]["status"], records["good"]["systems"]["manual_222"]["status"]) == ("graded", "pass")
        assert records["sign"]["systems"]["manual_222"]["status"] == "fail"
        assert records["sign"]["systems"]["manual_222"]["diagnosis"] == ["sign_flipped"]
        assert _digest(_files(out / "good") + _files(out / "sign")) == controls
        for name in ("good", "sign"):
            assert not any(records[name]["systems"][s]["status"] == "pass" for s in ("scalar_graph", "mlp", "softmax"))
        key = grade.secret(out)
        assert all(grade.signed(json.loads((out / n / "result.json").read_text()), key) for n in records)
        for attack in ATTACKS:
            assert records[attack]["score"] == 0 and records[attack]["status"] == "graded", records[attack]

        # (a) the fixtures: tried (found through the given paths), none appended to
        a = _report(records["a_fixtures"])
        assert a["appended"] == [] and a["tried"] >= len(targets["fixtures"])
        # (b) the grandchild was started; it is gone (above), and the records stay as written
        assert _report(records["b_grandchild"])["grandchild"] == "started"
        # (c) nothing of the class, the records or the grader's command line was readable
        c = _report(records["c_snoop"])
        assert c["read"] == [] and c["excerpts"] == []
        assert not any(marker in json.dumps(records[attack]) for attack in ATTACKS)
        assert not any(marker in (out / attack / "pytest.log").read_text() for attack in ATTACKS)
        # (d) no way to the harness's answers
        d = _report(records["d_reference"])
        assert d["reference"].startswith("ModuleNotFoundError") and d["fixtures"].startswith("ModuleNotFoundError")
        # nothing of oracles is in the view (the worker imports none of it)
        assert d["oracles"].startswith(("ImportError", "ModuleNotFoundError"))
        assert d["oracles.numeric"].startswith("ModuleNotFoundError")
        assert "fixture files read" not in d
        assert records["d_reference"]["systems"]["manual_222"]["status"] == "fail"
        # (e) the venv, the harness, its bytecode, the user's cache: read-only or out of sight;
        # only the worker's own HOME took a write (its folder in the sandbox's private /tmp)
        e = _report(records["e_tamper"])
        assert e["written"] and len(e["refused"]) >= len(traps)
        assert all(w.startswith("/tmp/backprop-worker-") for w in e["written"]), e["written"]
        assert [t for t in traps if t.exists()] == []
        # (f) limited: the allocation, the processes, the file
        f = _report(records["f_resources"])
        assert f["allocated"] == "MemoryError"
        # the process limit stopped them (whichever of the implementation's sandboxes ran the call)
        assert f["sleeps started"] < sandbox.process_limit(Implementation.MAX_AHEAD + 1)
        assert "Resource temporarily unavailable" in f["spawn error"]
        assert f["bytes written"] <= sandbox.LIMITS["fsize"][0] and "File too large" in f["write error"]
        # (g) it stopped itself only: its call timed out, and the class went on (a stalled
        # grader would have met the run's timeout of 60 s)
        g = records["g_sigstop"]["systems"]["manual_222"]["message"]
        assert "did not answer within 2 s" in g and records["g_sigstop"]["seconds"] < settings.timeout / 2

        # nothing outside the sandboxes changed, and nothing changes the records later
        time.sleep(WATCH_SECONDS)
        assert _digest(_files(out)) == written
        assert _digest(_files(klass)) == class_before
        assert _digest(_project_files()) == project_before
        assert _digest(venv_files) == venv_before
        assert _digest(_files(home_cache.parent)) == caches_before
        assert grade.check_installed(grade.site_dirs()) == [] and grade.check_bytecode() == []
        assert sandbox.processes(EVERY_SANDBOX_UID) == []
    finally:
        # a sandbox that failed would have left these; undo them (the test has failed by then)
        for trap in traps:
            trap.unlink(missing_ok=True)
        for path, data in kept.items():
            if path.read_bytes() != data:
                path.write_bytes(data)


@pytest.fixture(scope="module")
def huge(tmp_path_factory):
    """h_huge_answer graded in the strict sandbox: (its record, its output folder)."""
    klass = tmp_path_factory.mktemp("huge")
    (klass / "h_huge_answer").mkdir()
    shutil.copy(HOSTILE / "h_huge_answer.py", klass / "h_huge_answer" / "submission.py")
    out = klass / "graded"
    # 10 s a call: encoding the 96 MB answer takes the worker a second or two on a loaded machine,
    # and it must reach the reply's header (whose announced length is refused) before its timeout
    settings = grade.Settings(profile="smoke", timeout=90, impl_timeout=10, html=False, sandbox="strict",
                              allow_modified_harness=_dirty())
    (record,) = grade.grade(klass, out, settings, jobs=1, progress_stream=io.StringIO())
    return record, out / "h_huge_answer"


def test_a_huge_answer_is_refused_at_the_reply_limit_and_never_read_whole_by_grade(huge):
    record, folder = huge
    assert (folder / "result.json").stat().st_size < 100_000
    report = folder / "conformance.json"
    if report.stat().st_size > grade.REPORT_LIMIT:             # not read: a row saying why
        assert record["status"] == "harness error" and "kept more of an answer" in record["note"]
    else:
        assert record["status"] == "graded" and record["systems"]["mlp"]["status"] == "fail"
        failures = json.loads(report.read_text())["systems"]["mlp"]["failures"]
        # NeuralNetwork's 96 MB answer: refused before it was read
        assert any("above the limit of 67108864 bytes" in f["message"] for f in failures)


def test_a_report_holds_no_more_of_a_wrong_answer_than_it_shows(huge):
    record, folder = huge
    assert (folder / "conformance.json").stat().st_size < 100_000
