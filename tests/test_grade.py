"""``backprop-harness grade``: finding the submissions, the gradebook and Gradescope files,
resuming, and (marked ``slow``: a minute) a class of hostile submissions graded for real."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from backprop_harness import assignment, grade
from backprop_harness.protocol import CHECKS, SYSTEMS

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


def test_an_assignment_names_a_folder_s_entry_beside_its_helpers(tmp_path):
    _write(tmp_path / "alice" / "backprop.py")
    _write(tmp_path / "alice" / "helpers.py")
    _write(tmp_path / "bob" / "mine.py")                             # no entry of that name: today's rule
    _write(tmp_path / "carol" / "a.py")
    _write(tmp_path / "carol" / "b.py")
    found = {s.name: s for s in grade.discover(tmp_path, entry=("backprop.py",))}
    assert found["alice"].entry == tmp_path / "alice" / "backprop.py"
    assert found["bob"].entry == tmp_path / "bob" / "mine.py"
    assert found["carol"].entry is None and "none named backprop.py, submission.py or carol.py" in \
        found["carol"].problem
    assert grade.discover(tmp_path)[0].problem is not None           # without it, alice has two files


def test_discover_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        grade.discover(tmp_path / "missing")
    _write(tmp_path / "x.py")
    _write(tmp_path / "x" / "submission.py")
    with pytest.raises(ValueError, match=r"share a row: \['x'\]"):
        grade.discover(tmp_path)


# --- the records and what is written from them ------------------------------------------------------

REPRODUCER = "import numpy as np\nimpl = load('alice.py')\nprint('reproduced')\n"
SIGN_WORDS = "sign_flipped: the gradient has the wrong sign (in dL/dV, dL/dW)"


def _record(name="alice", status="graded", verdicts=("pass", "fail", "not provided", "pass"), note=None,
            course=assignment.DEFAULT, checks=None):
    """A record as grade keeps it, scored under ``course``. A failing system failed its
    oracles check and passed the others (``checks`` overrides the counts)."""
    def counts(v):
        if checks is not None and v == "fail":
            return checks
        return {c: ({"passed": 2, "failed": 1} if c == "oracles" and v == "fail" else {"passed": 2})
                if v in ("pass", "fail") else {"not provided": 2} for c in CHECKS}
    systems = {s: {"status": v, "diagnosis": ["sign_flipped"] if v == "fail" else [],
                   "message": "gradients: dL/dw11 wrong" if v == "fail" else None,
                   "check": "oracles" if v == "fail" else None, "words": SIGN_WORDS if v == "fail" else None,
                   "reproducer": REPRODUCER if v == "fail" else None, "checks": counts(v)}
               for s, v in zip(SYSTEMS, verdicts)}
    record = {"name": name, "status": status, "note": note, "systems": systems, "seconds": 12.34,
              "entry": f"{name}.py", "load_error": None, "files": {"report": "report.html"}}
    return grade.scored(record, course)


COURSE = assignment.parse({"title": "HW 2", "systems": {"manual_222": {"weight": 2}, "mlp": {"weight": 4}},
                           "checks": {"oracles": 3, "determinism": 1}, "feedback": {"visibility": "after_due_date"}},
                          "hw2.toml")


def test_gradebook_has_a_row_per_submission_and_a_column_per_system():
    rows = list(csv.DictReader(io.StringIO(grade.gradebook_csv(
        [_record(), _record("bob", "timeout", ("error",) * 4, "killed after 300 s")]))))
    assert list(rows[0]) == list(grade.COLUMNS)
    feedback = rows[0].pop("feedback")
    assert rows[0] == {"submission": "alice", "scalar_graph": "pass", "manual_222": "fail", "mlp": "not provided",
                       "softmax": "pass", "diagnosis": "manual_222:sign_flipped", "score": "2", "max_score": "4",
                       "seconds": "12.3", "status": "graded", "note": ""}
    assert rows[1]["status"] == "timeout" and rows[1]["note"] == "killed after 300 s"
    # the feedback: a verdict per system, the diagnosis in words, the first failure, how to reproduce
    assert feedback.startswith("Score: 2 of 4.")
    assert "manual_222: FAIL, 0 of 1 point." in feedback and "scalar_graph: pass, 1 of 1 point." in feedback
    assert SIGN_WORDS in feedback and "First failure (oracles): gradients: dL/dw11 wrong" in feedback
    assert "`backprop-harness test alice.py`" in feedback and "mlp: not provided" in feedback
    assert "Not graded: the run did not finish within the time limit" in rows[1]["feedback"]
    assert "killed after 300 s" in rows[1]["feedback"] and "Every system scores 0" in rows[1]["feedback"]


def test_an_assignment_s_gradebook_has_its_systems_points_and_scores():
    rows = list(csv.DictReader(io.StringIO(grade.gradebook_csv(
        [_record(verdicts=("pass", "fail", "fail", "pass"), course=COURSE)], COURSE))))
    assert list(rows[0]) == ["submission", "manual_222", "mlp", "manual_222 points", "mlp points", "diagnosis",
                             "score", "max_score", "seconds", "status", "note", "feedback"]
    # each failing system: its oracles 2 of 3 (weight 3), determinism 2 of 2 (weight 1): (3 * 2/3 + 1) / 4
    assert rows[0]["manual_222 points"] == "1.5" and rows[0]["mlp points"] == "3"
    assert rows[0]["score"] == "4.5" and rows[0]["max_score"] == "6"
    assert rows[0]["diagnosis"] == "manual_222:sign_flipped mlp:sign_flipped"      # softmax is not asked
    assert "softmax" not in rows[0]["feedback"] and "Score: 4.5 of 6 (HW 2)." in rows[0]["feedback"]
    assert "Tests passed per check: oracles 2/3, determinism 2/2." in rows[0]["feedback"]


def test_gradescope_results_follow_the_assignment():
    doc = grade.gradescope(_record(verdicts=("pass", "fail", "pass", "pass"), course=COURSE), COURSE)
    assert spec_problems(doc) == []
    assert doc["score"] == 2 * 0.75 + 4.0 and doc["extra_data"]["max_score"] == 6.0
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in doc["tests"]] == \
        [("manual_222", 1.5, 2.0, "failed"), ("mlp", 4.0, 4.0, "passed")]
    assert {t["visibility"] for t in doc["tests"]} == {"after_due_date"} and doc["visibility"] == "after_due_date"
    failed = doc["tests"][0]["output"]
    assert SIGN_WORDS in failed and "dL/dw11" in failed and REPRODUCER.rstrip() in failed
    json.dumps(doc, allow_nan=False)


def test_gradescope_results_without_an_assignment_score_systems_passing():
    doc = grade.gradescope(_record())
    assert spec_problems(doc) == []
    assert doc["score"] == 2.0 and doc["extra_data"]["max_score"] == 4.0 and doc["execution_time"] == 13
    assert [t["name"] for t in doc["tests"]] == list(SYSTEMS)
    failed = doc["tests"][1]
    assert failed["status"] == "failed" and failed["score"] == 0.0 and failed["max_score"] == 1.0
    assert "sign_flipped" in failed["output"] and "dL/dw11" in failed["output"]
    broken = grade.gradescope(_record("bob", "load error", ("error",) * 4, "SyntaxError: expected ':'"))
    assert spec_problems(broken) == [] and broken["score"] == 0.0
    assert "your file could not be loaded (SyntaxError: expected ':')" in broken["output"]


# Gradescope's autograder specification, "Output format" (gradescope/autograder_samples, docs/specs.md:
# https://gradescope-autograders.readthedocs.io/en/latest/specs/), transcribed: the keys each level may
# hold and the values of its enumerations.
GS_TOP = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
          "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
GS_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
           "visibility", "extra_data"}
GS_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
GS_FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def spec_problems(doc) -> list:
    """What in ``doc`` breaks Gradescope's results.json specification."""
    def number(x):
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    out = [f"unknown top-level key {k!r}" for k in doc if k not in GS_TOP]
    tests = doc.get("tests")
    if "score" not in doc and not (isinstance(tests, list) and all("score" in t for t in tests)):
        out.append("no top-level score and not one on every test")
    if "score" in doc and not number(doc["score"]):
        out.append(f"score {doc['score']!r} is not a number")
    if "execution_time" in doc and not number(doc["execution_time"]):
        out.append("execution_time is not a number of seconds")
    for key in ("output",):
        if key in doc and not isinstance(doc[key], str):
            out.append(f"{key} is not a string")
    for key in ("visibility", "stdout_visibility"):
        if key in doc and doc[key] not in GS_VISIBILITY:
            out.append(f"{key} {doc[key]!r} is not one of {sorted(GS_VISIBILITY)}")
    for key in ("output_format", "test_output_format", "test_name_format"):
        if key in doc and doc[key] not in GS_FORMATS:
            out.append(f"{key} {doc[key]!r} is not one of {sorted(GS_FORMATS)}")
    if "extra_data" in doc and not isinstance(doc["extra_data"], dict):
        out.append("extra_data is not an object")
    if tests is not None and not isinstance(tests, list):
        return out + ["tests is not a list"]
    for i, t in enumerate(tests or []):
        out += [f"tests[{i}]: unknown key {k!r}" for k in t if k not in GS_TEST]
        out += [f"tests[{i}]: {k} is not a number" for k in ("score", "max_score") if k in t and not number(t[k])]
        if "status" in t and t["status"] not in ("passed", "failed"):
            out.append(f"tests[{i}]: status {t['status']!r}")
        out += [f"tests[{i}]: {k} is not a string" for k in ("name", "number", "output") if k in t
                and not isinstance(t[k], str)]
        if "visibility" in t and t["visibility"] not in GS_VISIBILITY:
            out.append(f"tests[{i}]: visibility {t['visibility']!r}")
        out += [f"tests[{i}]: {k} {t[k]!r}" for k in ("output_format", "name_format") if k in t
                and t[k] not in GS_FORMATS]
    return out


def test_the_spec_check_finds_what_breaks_the_format():
    doc = {"max_score": 4, "visibility": "students", "execution_time": "12 s",
           "tests": [{"name": 1, "status": "ok", "score": float("nan"), "output_format": "rst"}]}
    assert spec_problems({"tests": [{"name": "a", "score": 1.0}, {"name": "b"}]}) == \
        ["no top-level score and not one on every test"]
    assert spec_problems(doc) == ["unknown top-level key 'max_score'", "execution_time is not a number of seconds",
                                  "visibility 'students' is not one of ['after_due_date', 'after_published', "
                                  "'hidden', 'visible']", "tests[0]: score is not a number", "tests[0]: status 'ok'",
                                  "tests[0]: name is not a string", "tests[0]: output_format 'rst'"]


def test_a_reused_record_is_scored_again_under_new_weights(tmp_path, monkeypatch):
    klass, out = tmp_path / "class", tmp_path / "out"
    _write(klass / "a.py")
    calls = []

    def fake_run_one(sub, outdir, settings):
        calls.append(sub.name)
        record = {"name": sub.name, "path": str(sub.path), "sha256": sub.sha256, "settings": settings.key(),
                  "entry": sub.entry.name}
        conformance = {"implementation": {"file": str(sub.entry)}, "exit_status": 1,
                       "systems": {"manual_222": {"status": "fail", "diagnosis": ["sign_flipped"],
                                                  "checks": {"oracles": {"passed": 1, "failed": 1},
                                                             "determinism": {"passed": 2}},
                                                  "first_failure": {"test": "t", "check": "oracles", "message": "m"},
                                                  "failures": [{"test": "t", "reproducer": f"load({str(sub.entry)!r})",
                                                                "diagnosis": {"words": "w"}}]}}}
        return grade.finish(record, outdir / sub.name, "graded", None, conformance, time.perf_counter(), "",
                             settings.course)

    monkeypatch.setattr(grade, "run_one", fake_run_one)
    first = grade.grade(klass, out, grade.Settings(profile="smoke", assignment=COURSE), jobs=1,
                        progress_stream=io.StringIO())
    assert first[0]["score"] == 2 * (3 * 0.5 + 1) / 4 and "load('a.py')" in first[0]["systems"]["manual_222"][
        "reproducer"]                                                # the graded copy's path: the student's name
    heavier = assignment.parse({"systems": {"manual_222": {"weight": 10}}, "checks": {"oracles": 1}}, "hw2.toml")
    again = grade.grade(klass, out, grade.Settings(profile="smoke", assignment=heavier), jobs=1,
                        progress_stream=io.StringIO())
    assert calls == ["a"] and again[0]["score"] == 5.0 and again[0]["max_score"] == 10.0
    stored = json.loads((out / "a" / "result.json").read_text())
    assert stored["score"] == 5.0 and grade.signed(stored, grade.secret(out))
    assert json.loads((out / "a" / "gradescope" / "results.json").read_text())["tests"][0]["max_score"] == 10.0
    fixed = assignment.parse({"systems": {"mlp": {"weight": 1, "conventions": {"loss": "half_mean"}}}}, "hw3.toml")
    grade.grade(klass, out, grade.Settings(profile="smoke", assignment=fixed), jobs=1, progress_stream=io.StringIO())
    assert calls == ["a", "a"]                                       # other conventions: another question
    page = (out / "index.html").read_text()
    assert "a/report.html" not in page                               # no report was written: no link


def test_the_log_keeps_its_head_and_tail():
    r, w = os.pipe()
    tail = grade.Tail(os.fdopen(r, "rb"))
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
        return grade.finish(record, outdir / sub.name, "graded", None, None, time.perf_counter(), "log")

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
    assert "no --assignment" in summary["assignment"]
    for name in ("a", "b", "c"):
        assert json.loads((out / name / "gradescope" / "results.json").read_text())["extra_data"]["max_score"] == 4.0
    assert (out / "index.html").exists()


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


def test_an_assignment_that_is_not_valid_is_a_usage_error(tmp_path, capsys):
    from backprop_harness.cli import main
    (tmp_path / "hw.toml").write_text("[systems.softmx]\nweight = 1\n")
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "o"), "--assignment", str(tmp_path / "hw.toml")]) == 2
    err = capsys.readouterr().err
    assert "the assignment is not valid" in err and "did you mean 'softmax'?" in err
    assert not (tmp_path / "o").exists()


def test_an_option_given_wins_over_the_assignment_which_wins_over_the_default():
    import argparse
    course = assignment.parse({"systems": {"mlp": {"weight": 1}}, "oracles": ["central"], "profile": "smoke",
                               "limits": {"run_seconds": 60}}, "hw.toml")
    given = argparse.Namespace(profile=None, timeout=None, impl_timeout=2.0, oracles="all", no_html=False,
                               allow_modified_harness=False)
    settings = grade.settings_of(given, course, "off")
    assert (settings.profile, settings.timeout, settings.impl_timeout) == ("smoke", 60.0, 2.0)
    assert settings.oracles == "torch64,jax64,complex_step,richardson,central" and settings.assignment is course
    plain = grade.settings_of(argparse.Namespace(**{**given.__dict__, "impl_timeout": None, "oracles": None}),
                              assignment.DEFAULT, "off")
    assert (plain.profile, plain.timeout, plain.impl_timeout, plain.oracles) == ("ci", 300.0, 5.0, "complex_step")
    assert plain.assignment is None and "assignment" not in plain.key()
