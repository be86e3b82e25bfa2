"""``backprop-harness grade``: finding the submissions, the gradebook and Gradescope files,
resuming, and (marked ``slow``: a minute) a class of hostile submissions graded for real."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from backprop_harness import grade
from fixtures import SYSTEMS

ROOT = Path(__file__).resolve().parent.parent


def _write(path: Path, text: str = "def gradients(x, t, w):\n    return [0.0] * 8\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- finding the submissions ------------------------------------------------------------------------

def test_discover_takes_files_and_folders_with_one_entry(tmp_path):
    _write(tmp_path / "alice.py")
    _write(tmp_path / "bob" / "anything.py")
    _write(tmp_path / "bob" / "data" / "helper.py")                 # below the top: not an entry
    _write(tmp_path / "carol" / "carol.py")
    _write(tmp_path / "carol" / "utils.py")
    _write(tmp_path / "dave" / "submission.py")
    _write(tmp_path / "dave" / "helpers.py")
    _write(tmp_path / "erin" / "a.py")
    _write(tmp_path / "erin" / "b.py")
    (tmp_path / "frank").mkdir()
    _write(tmp_path / ".hidden.py")
    _write(tmp_path / "__pycache__" / "x.py")
    _write(tmp_path / "_helpers.py")
    _write(tmp_path / "notes.txt", "not a submission")
    found = {s.name: s for s in grade.discover(tmp_path)}
    assert sorted(found) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert found["alice"].entry == tmp_path / "alice.py" and found["alice"].problem is None
    assert found["bob"].entry == tmp_path / "bob" / "anything.py"
    assert found["carol"].entry == tmp_path / "carol" / "carol.py"
    assert found["dave"].entry == tmp_path / "dave" / "submission.py"
    assert found["erin"].entry is None and "2 .py files at its top (a.py, b.py)" in found["erin"].problem
    assert found["frank"].entry is None and "no .py file" in found["frank"].problem


def test_the_output_folder_inside_the_class_is_not_a_submission(tmp_path):
    _write(tmp_path / "alice.py")
    _write(tmp_path / "graded" / "alice" / "submission" / "alice.py")
    assert [s.name for s in grade.discover(tmp_path, exclude=tmp_path / "graded")] == ["alice"]
    assert [s.name for s in grade.discover(tmp_path)] == ["alice", "graded"]


def test_a_submission_is_known_by_its_content(tmp_path):
    _write(tmp_path / "a" / "submission.py")
    before = grade.discover(tmp_path)[0].sha256
    _write(tmp_path / "a" / "data.txt", "changed")                   # any file of the folder counts
    assert grade.discover(tmp_path)[0].sha256 != before


def test_discover_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        grade.discover(tmp_path / "missing")
    _write(tmp_path / "x.py")
    _write(tmp_path / "x" / "submission.py")
    with pytest.raises(ValueError, match=r"share a row: \['x'\]"):
        grade.discover(tmp_path)


# --- the records and what is written from them ------------------------------------------------------

def _record(name="alice", status="graded", verdicts=("pass", "fail", "not provided", "pass"), note=None):
    systems = {s: {"status": v, "diagnosis": ["sign_flipped"] if v == "fail" else [],
                   "message": "gradients: dL/dw11 wrong" if v == "fail" else None}
               for s, v in zip(SYSTEMS, verdicts)}
    return {"name": name, "status": status, "note": note, "systems": systems,
            "score": sum(v == "pass" for v in verdicts), "max_score": 4, "seconds": 12.34}


def test_gradebook_has_a_row_per_submission_and_a_column_per_system():
    rows = list(csv.DictReader(io.StringIO(grade.gradebook_csv(
        [_record(), _record("bob", "timeout", ("error",) * 4, "killed after 300 s")]))))
    assert list(rows[0]) == list(grade.COLUMNS)
    assert rows[0] == {"submission": "alice", "scalar_graph": "pass", "manual_222": "fail", "mlp": "not provided",
                       "softmax": "pass", "diagnosis": "manual_222:sign_flipped", "score": "2", "max_score": "4",
                       "seconds": "12.3", "status": "graded", "note": ""}
    assert rows[1]["status"] == "timeout" and rows[1]["note"] == "killed after 300 s"


def test_gradescope_results_follow_its_format():
    doc = grade.gradescope(_record())
    assert doc["score"] == 2.0 and doc["max_score"] == 4.0 and doc["execution_time"] == 12.34
    assert [t["name"] for t in doc["tests"]] == list(SYSTEMS)
    failed = doc["tests"][1]
    assert failed["status"] == "failed" and failed["score"] == 0.0 and failed["max_score"] == 1.0
    assert "diagnosis: sign_flipped" in failed["output"] and "dL/dw11" in failed["output"]
    assert {t["status"] for t in doc["tests"]} <= {"passed", "failed"}
    json.dumps(doc, allow_nan=False)


def test_the_log_keeps_its_head_and_tail():
    r, w = os.pipe()
    tail = grade._Tail(os.fdopen(r, "rb"))
    with os.fdopen(w, "wb") as out:
        out.write(b"first line\n" + b"x" * (5 * grade.LOG_KEEP) + b"\nlast line\n")
    text = tail.text()
    assert text.startswith("first line") and text.endswith("last line\n")
    assert f"[... {11 + 5 * grade.LOG_KEEP + 11 - 2 * grade.LOG_KEEP} bytes of output left out ...]" in text
    assert len(text) < 3 * grade.LOG_KEEP


def test_a_second_run_resumes_and_regrades_only_what_changed(tmp_path, monkeypatch):
    klass, out = tmp_path / "class", tmp_path / "out"
    for name in ("a", "b", "c"):
        _write(klass / f"{name}.py")
    calls = []

    def fake_run_one(sub, outdir, settings):
        calls.append(sub.name)
        record = {"name": sub.name, "path": str(sub.path), "sha256": sub.sha256, "settings": settings.key()}
        return grade._finish(record, outdir / sub.name, "graded", None, None, time.perf_counter(), "log")

    monkeypatch.setattr(grade, "run_one", fake_run_one)
    settings = grade.Settings(profile="smoke")
    grade.grade(klass, out, settings, jobs=2, progress_stream=io.StringIO())
    assert sorted(calls) == ["a", "b", "c"]
    calls.clear()
    stream = io.StringIO()
    records = grade.grade(klass, out, settings, jobs=2, progress_stream=stream)
    assert calls == [] and "3 submission(s) graded before" in stream.getvalue()
    assert [r["name"] for r in records] == ["a", "b", "c"]
    _write(klass / "b.py", "def gradients(x, t, w):\n    return [1.0] * 8\n")
    grade.grade(klass, out, settings, jobs=2, progress_stream=io.StringIO())
    assert calls == ["b"]
    calls.clear()
    grade.grade(klass, out, grade.Settings(profile="ci"), jobs=2, progress_stream=io.StringIO())
    assert sorted(calls) == ["a", "b", "c"]                        # other settings: graded again
    summary = json.loads((out / "results.json").read_text())
    assert summary["schema"] == grade.SCHEMA and summary["graded_now"] == 3 and summary["reused"] == 0
    for name in ("a", "b", "c"):
        assert json.loads((out / name / "gradescope" / "results.json").read_text())["max_score"] == 4.0


def test_bad_arguments_are_a_usage_error(tmp_path, capsys):
    from backprop_harness.cli import main
    assert main(["grade", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "o"), "--jobs", "0"]) == 2


# --- a hostile class, graded for real ---------------------------------------------------------------

SLOW = '''import time
def forward(x, w):
    return 0.5, 0.5
def gradients(x, t, w):
    time.sleep(0.6)                   # under --impl-timeout, but the whole run outlives --timeout
    return [0.0] * 8                  # (self-contained: the sandbox shows no reference to import)
'''
FLOOD = '''import sys
from reference import protocol as _ref
forward = _ref.forward
sys.stdout.write("flood " * 2_000_000)     # 12 MB at import
def gradients(x, t, w):
    print("x" * 1_000_000)
    return [-g for g in _ref.gradients(x, t, w)]
'''


@pytest.mark.slow
def test_a_hostile_class_gets_a_row_each_and_spoils_nobody_elses(tmp_path):
    klass, out = tmp_path / "class", tmp_path / "out"
    klass.mkdir()
    shutil.copy(ROOT / "zoo" / "correct" / "manual_222_numpy.py", klass / "good.py")
    shutil.copy(ROOT / "zoo" / "buggy" / "manual_222_sign_flipped.py", klass / "sign.py")
    shutil.copy(ROOT / "tests" / "plugins" / "misbehaves.py", klass / "misbehaves.py")
    shutil.copy(ROOT / "tests" / "plugins" / "syntax_error.py", klass / "syntax.py")
    _write(klass / "slow" / "submission.py", SLOW)
    _write(klass / "flood.py", FLOOD)
    originals = {p: p.read_bytes() for p in klass.rglob("*.py")}
    fixtures_before = {p: p.read_bytes() for p in (ROOT / "fixtures").iterdir() if p.is_file()}
    records = {r["name"]: r for r in grade.grade(klass, out, grade.Settings(profile="smoke", timeout=25,
                                                                             impl_timeout=2),
                                                 jobs=2, progress_stream=io.StringIO())}
    verdicts = {name: (r["status"], r["systems"]["manual_222"]["status"]) for name, r in records.items()}
    assert verdicts["good"] == ("graded", "pass"), records["good"]
    assert verdicts["sign"] == ("graded", "fail") and records["sign"]["systems"]["manual_222"]["diagnosis"] == \
        ["sign_flipped"]
    assert verdicts["flood"] == ("graded", "fail")
    assert verdicts["syntax"][0] == "load error" and "SyntaxError" in records["syntax"]["note"]
    assert verdicts["slow"][0] == "timeout" and "25 s" in records["slow"]["note"]
    assert records["misbehaves"]["status"] == "tampered", records["misbehaves"]
    assert "003_worked_example.toml" in records["misbehaves"]["note"]
    assert records["good"]["score"] == 1 and records["misbehaves"]["score"] == 0
    # the flood is kept to a head and a tail; nothing of the class or the project changed
    assert (out / "flood" / "pytest.log").stat().st_size < 4 * grade.LOG_KEEP
    assert {p: p.read_bytes() for p in klass.rglob("*.py")} == originals
    assert {p: p.read_bytes() for p in (ROOT / "fixtures").iterdir() if p.is_file()} == fixtures_before
    rows = list(csv.DictReader(io.StringIO((out / "gradebook.csv").read_text())))
    assert [r["submission"] for r in rows] == sorted(records)
    for name in records:
        assert (out / name / "gradescope" / "results.json").exists()
    if sys.platform.startswith("linux"):
        assert (out / "good" / "report.html").exists() or not (ROOT / "backprop_harness" / "report_html.py").exists()


@pytest.mark.slow
def test_an_interrupt_kills_the_runs_under_way_and_keeps_what_finished(tmp_path):
    import signal
    import subprocess
    klass, out = tmp_path / "class", tmp_path / "out"
    _write(klass / "slow.py", SLOW)
    # SIGINT as at a terminal: a run started in the background (nohup, a CI runner) inherits
    # it ignored, and Python then never raises KeyboardInterrupt
    proc = subprocess.Popen([sys.executable, "-m", "backprop_harness.cli", "grade", str(klass), "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300               # the harness checks itself first (seconds; more on a cold cache)
    while not (out / "slow" / "submission").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (out / "slow" / "submission").exists(), "the class did not start within 300 s"
    time.sleep(3)                                   # its pytest run is under way
    proc.send_signal(signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:          # never leave a grader (and its sandboxes) behind
        proc.kill()
        proc.communicate()
        raise
    assert proc.returncode == 130 and "the same command resumes" in output, output
    assert not (out / "slow" / "result.json").exists()          # not a record: graded again next time
    left = [line for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
            if f"--impl {out}" in line]
    assert not left, f"runs left behind: {left}"
