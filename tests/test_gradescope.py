"""``backprop-harness gradescope``: the autograder bundle (its files, setup.sh's pins) and,
marked ``slow``, its run_autograder run on a folder laid out like Gradescope's, on a
correct, a buggy and a broken submission, with the Python running this test (nothing
installed, no network). The results.json files are held to Gradescope's specification
(tests/test_grade.py ``spec_problems``)."""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from backprop_harness import grade, gradescope
from backprop_harness.assignment import AssignmentError
from backprop_harness.cli import main
from tests.test_grade import spec_problems

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assignments" / "sample.toml"
ASSIGNMENT = """title = "Backpropagation by hand"
partial_credit = true
[submission]
entry = ["backprop.py"]
[feedback]
visibility = "after_due_date"
[systems.manual_222]
weight = 2
[systems.mlp]
weight = 3
conventions = { loss = "half_mean" }
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bundle")
    (folder / "hw.toml").write_text(ASSIGNMENT)
    assert main(["gradescope", "--assignment", str(folder / "hw.toml"), "--out", str(folder / "autograder.zip")]) == 0
    return folder / "autograder.zip"


def test_the_bundle_holds_the_two_scripts_the_assignment_and_the_harness(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        assert archive.read("assignment.toml").decode() == ASSIGNMENT
        assert archive.read("run_autograder").decode() == gradescope.RUN_AUTOGRADER
    assert {"setup.sh", "run_autograder", "assignment.toml"} <= set(names)      # at the root, as Gradescope wants
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    for part in (*grade.HARNESS_PARTS, "constraints.txt"):
        assert any(n == f"harness/{part}" or n.startswith(f"harness/{part}/") for n in names), part
    assert "harness/backprop_harness/conformance/test_conformance.py" in names
    assert "harness/backprop_harness/pytest_plugin.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") or n.startswith("harness/zoo/") for n in names)


def test_setup_installs_torch_s_cpu_build_at_its_pin_and_nothing_else_of_torch(bundle):
    with zipfile.ZipFile(bundle) as archive:
        setup = archive.read("setup.sh").decode()
    subprocess.run(["bash", "-n"], input=setup, text=True, check=True)
    pin = re.search(r"^torch==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M).group(1)
    torch_lines = [line for line in setup.splitlines() if "torch" in line and not line.lstrip().startswith("#")]
    installs = [line for line in torch_lines if "pip" in line.lower() or "$PIP" in line]
    assert installs == [f"$PIP install --no-deps --index-url {gradescope.TORCH_INDEX} torch=={pin}"]
    assert gradescope.TORCH_INDEX == "https://download.pytorch.org/whl/cpu"
    # every other install is held to constraints.txt, which pins torch to the same version
    assert '$PIP install -c "$SOURCE/harness/constraints.txt" -e "$SOURCE/harness"' in setup
    assert "python3.11 -m venv /autograder/venv" in setup and "bubblewrap" in setup


def test_an_assignment_that_is_not_valid_builds_no_bundle(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text("[systems.mlpp]\nweight = 1\n")
    with pytest.raises(AssignmentError, match="did you mean 'mlp'"):
        gradescope.build(tmp_path / "bad.toml", tmp_path / "a.zip")
    assert main(["gradescope", "--assignment", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "a.zip")]) == 2
    assert "did you mean 'mlp'" in capsys.readouterr().err
    assert list(tmp_path.glob("*.zip")) == [] and list(tmp_path.glob(".*part")) == []


def test_the_sample_assignment_builds(tmp_path):
    out = gradescope.build(SAMPLE, tmp_path / "autograder.zip")
    with zipfile.ZipFile(out) as archive:
        assert archive.read("assignment.toml") == SAMPLE.read_bytes()


# --- run_autograder, locally --------------------------------------------------------------------------

SUBMISSIONS = {
    "correct": ("zoo/correct/manual_222_numpy.py", "pass"),
    "buggy": ("zoo/buggy/manual_222_sign_flipped.py", "fail"),
    "broken": ("tests/plugins/syntax_error.py", "error"),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SUBMISSIONS))
def test_run_autograder_writes_results_gradescope_reads(bundle, tmp_path, kind):
    """The bundle unpacked as Gradescope does (source/, run_autograder copied to the root), a
    submission in submission/ beside a helper module, run with this test's Python."""
    autograder = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(autograder / "source")
    shutil.copy(autograder / "source" / "run_autograder", autograder / "run_autograder")
    (autograder / "run_autograder").chmod(0o755)
    source, verdict = SUBMISSIONS[kind]
    (autograder / "submission").mkdir()
    shutil.copy(ROOT / source, autograder / "submission" / "backprop.py")
    (autograder / "submission" / "helpers.py").write_text("HELPER = 1\n")   # the assignment names the entry
    env = {**os.environ, gradescope.ROOT_VARIABLE: str(autograder), gradescope.PYTHON_VARIABLE: sys.executable}
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS", "BACKPROP_IMPL", "PYTHONPATH"):
        env.pop(name, None)
    run = subprocess.run([str(autograder / "run_autograder")], cwd=autograder, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "sandbox: " in run.stdout
    doc = json.loads((autograder / "results" / "results.json").read_text())
    assert spec_problems(doc) == [], doc
    tests = {t["name"]: t for t in doc["tests"]}
    assert list(tests) == ["manual_222", "mlp"] and tests["manual_222"]["max_score"] == 2.0
    assert {t["visibility"] for t in doc["tests"]} == {"after_due_date"}
    assert tests["mlp"]["score"] == 0.0
    assert ("Not graded" if verdict == "error" else "not provided") in tests["mlp"]["output"]
    manual = tests["manual_222"]
    if verdict == "pass":
        assert doc["score"] == 2.0 and manual["status"] == "passed" and manual["output"] == \
            "manual_222: pass, 2 of 2 points."
    elif verdict == "fail":
        assert 0.0 < doc["score"] < 2.0 and manual["status"] == "failed"
        assert "sign_flipped: the gradient has the wrong sign" in manual["output"]
        # the reproducing script names the student's file as they know it
        assert "spec_from_file_location('impl', 'backprop.py')" in manual["output"]
    else:
        assert doc["score"] == 0.0 and "your file could not be loaded" in doc["output"]
        assert "importing backprop.py raised SyntaxError" in doc["output"]
        assert doc["extra_data"]["status"] == "load error" and "Not graded" in manual["output"]
    assert doc["execution_time"] >= 1


def test_a_bundle_needs_the_harness_s_source_tree(tmp_path, monkeypatch):
    monkeypatch.setattr(grade, "ROOT", tmp_path / "site-packages")
    with pytest.raises(FileNotFoundError, match="build the bundle from a clone of the harness"):
        gradescope.build(SAMPLE, tmp_path / "a.zip")


def test_a_submission_zipped_as_one_folder_is_looked_into(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "backprop.py").write_text("")
    assert gradescope.submission_folder(tmp_path / "flat") == tmp_path / "flat"
    (tmp_path / "nested" / "hw2").mkdir(parents=True)
    (tmp_path / "nested" / "hw2" / "backprop.py").write_text("")
    (tmp_path / "nested" / "__MACOSX").mkdir()
    assert gradescope.submission_folder(tmp_path / "nested") == tmp_path / "nested" / "hw2"
