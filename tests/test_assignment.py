"""An assignment file (``grade --assignment``): what it may say, each mistake in it named
at once, the score it gives a run, and how its conventions reach the run
(``pytest --conventions``)."""
from __future__ import annotations

from pathlib import Path

import pytest

from backprop_harness import assignment, plugin, pytest_plugin
from backprop_harness.assignment import AssignmentError, assess, load, parse
from backprop_harness.protocol import CHECKS, SYSTEMS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assignments" / "sample.toml"


def test_the_sample_assignment_asks_the_four_systems_with_a_half_mean_mlp():
    a = load(SAMPLE)
    assert list(a.systems) == list(SYSTEMS) and a.max_score == sum(a.systems.values())
    assert a.conventions == {"mlp": {"loss": "half_mean"}}
    assert list(a.checks) == list(CHECKS) and a.partial_credit
    assert a.entry == ("backprop.py",) and a.visibility in assignment.VISIBILITIES
    assert a.sha256 and a.source == str(SAMPLE)


def test_every_problem_is_named_at_once_with_what_was_meant(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('titel = "x"\noracles = ["complexstep"]\n[systems.mlpp]\nweight = 1\n'
                   '[systems.mlp]\nweight = -1\nconventions = { loss = "halfmean" }\n'
                   '[checks]\nworked_examples = 1\noracles = 0\n[feedback]\nvisibility = "after_due"\n')
    with pytest.raises(AssignmentError) as info:
        load(bad)
    problems = info.value.problems
    assert str(bad) in str(info.value) and f"{len(problems)} problems" in str(info.value)
    expected = ["unknown key 'titel'; did you mean 'title'?",
                "[systems.mlpp]: unknown system; did you mean 'mlp'?",
                "[systems.mlp] weight = -1: a weight is a positive number",
                "[systems.mlp] conventions: CONVENTIONS['mlp']['loss'] = 'halfmean'; expected one of ['sse', "
                "'half_sse', 'mean', 'half_mean'",
                "[checks] 'worked_examples': unknown check; did you mean 'worked examples'?",
                "[checks] 'oracles' = 0: a weight is a positive number",
                "[feedback] visibility = 'after_due': not one of Gradescope's values; did you mean 'after_due_date'?",
                "oracles: 'complexstep' is not an oracle; did you mean 'complex_step'?"]
    assert len(problems) == len(expected)
    for want in expected:
        assert any(p.startswith(want) for p in problems), (want, problems)


@pytest.mark.parametrize("weight", ["0", "-2", '"2"', "true", "nan", "inf"])
def test_a_weight_is_a_positive_number(weight):
    import tomllib
    data = tomllib.loads(f"[systems.mlp]\nweight = {weight}\n")
    with pytest.raises(AssignmentError, match=r"weight = .*: a weight is a positive number"):
        parse(data)


@pytest.mark.parametrize("text, problem", [
    ("", "no [systems.NAME] table"),
    ("[systems.mlp]\n", "[systems.mlp] has no weight"),
    ("[systems.scalar_graph]\nweight = 1\nconventions = { loss = 'sse' }\n", "no conventions to declare"),
    ("[systems.mlp]\nweight = 1\nconventions = { lr = 0.1 }\n", "unknown key; expected one of"),
    ("[systems.mlp]\nweight = 1\n[checks]\n", "[checks] must name at least one check"),
    ("[systems.mlp]\nweight = 1\n[submission]\nentry = ['src/backprop.py']\n", "expected the name of a .py file"),
    ("[systems.mlp]\nweight = 1\n[limits]\nrun_seconds = 0\n", "a positive number of seconds"),
    ("profile = 'fast'\n[systems.mlp]\nweight = 1\n", "not a Hypothesis profile"),
    ("partial_credit = 'yes'\n[systems.mlp]\nweight = 1\n", "expected true or false"),
    ("[systems.mlp\n", "not valid TOML"),
])
def test_each_mistake_gets_one_message(tmp_path, text, problem):
    path = tmp_path / "a.toml"
    path.write_text(text)
    with pytest.raises(AssignmentError) as info:
        load(path)
    assert len(info.value.problems) == 1 and problem in info.value.problems[0], info.value.problems


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such assignment file"):
        load(tmp_path / "missing.toml")


# --- the score ---------------------------------------------------------------------------------------

COURSE = parse({"systems": {"manual_222": {"weight": 2}, "mlp": {"weight": 4}},
                "checks": {"oracles": 3, "worked examples": 1, "determinism": 1}}, "hw.toml")


def test_a_passing_system_earns_its_weight_and_a_failing_one_its_checks_share():
    scored = assess(COURSE, "graded", {
        "manual_222": {"status": "pass", "checks": {"oracles": {"passed": 1}}},
        # oracles 1 of 2 (weight 3); worked examples n/a here (weight 1, left out of the share);
        # determinism: one passed, one not run after a hang (counts against), one not provided (does not)
        "mlp": {"status": "fail", "checks": {"oracles": {"passed": 1, "failed": 1},
                                             "worked examples": {"not applicable": 10, "not provided": 3},
                                             "determinism": {"passed": 1, "not run": 1, "not provided": 1},
                                             "extreme inputs": {"failed": 5}}},
        "softmax": {"status": "pass"}})
    assert scored["systems"]["manual_222"]["points"] == 2.0
    assert scored["systems"]["mlp"]["points"] == round(4 * (3 * 1 / 2 + 1 * 1 / 2) / (3 + 1), 3)
    assert scored["systems"]["mlp"]["checks"] == {"oracles": [1, 2], "worked examples": [0, 0], "determinism": [1, 2]}
    assert scored["score"] == 2.0 + 2.0 and scored["max_score"] == 6.0 and list(scored["systems"]) == ["manual_222",
                                                                                                         "mlp"]


def test_nothing_is_earned_by_a_run_that_did_not_finish_or_a_system_not_provided():
    systems = {"manual_222": {"status": "pass"}, "mlp": {"status": "not provided"}}
    assert assess(COURSE, "timeout", systems)["score"] == 0.0
    assert assess(COURSE, "graded", systems)["systems"]["mlp"]["points"] == 0.0
    whole = parse({"systems": {"mlp": {"weight": 4}}, "partial_credit": False})
    assert assess(whole, "graded", {"mlp": {"status": "fail", "checks": {"oracles": {"passed": 9, "failed": 1}}}}
                  )["score"] == 0.0


def test_without_an_assignment_the_score_is_the_systems_passing():
    systems = {s: {"status": v} for s, v in zip(SYSTEMS, ("pass", "fail", "not provided", "pass"))}
    scored = assess(assignment.DEFAULT, "graded", systems)
    assert scored["score"] == 2.0 and scored["max_score"] == 4.0
    assert "no --assignment" in assignment.DEFAULT.describe()


# --- the conventions reach the run --------------------------------------------------------------------

def _loaded(conventions, fixed=None) -> plugin.Implementation:
    impl = plugin.Implementation.__new__(plugin.Implementation)
    impl._info = {"loaded": True, "conventions": conventions}
    impl.fixed_conventions = fixed or {}
    return impl


def test_fixed_conventions_replace_the_declared_ones_key_by_key():
    declared = {"mlp": {"layout": "column", "loss": "sse"}}
    assert _loaded(declared).conventions()["mlp"]["loss"] == "sse"
    fixed = {"mlp": {"loss": "half_mean"}}
    conv = _loaded(declared, fixed).conventions()
    assert conv["mlp"]["loss"] == "half_mean" and conv["mlp"]["layout"] == "column"
    assert _loaded(None, fixed).conventions()["mlp"]["loss"] == "half_mean"
    assert _loaded({"mlp": {"loss": "nonsense"}}, fixed).conventions()["mlp"]["loss"] == "half_mean"
    with pytest.raises(plugin.ConformanceFailure, match="CONVENTIONS is not valid"):
        _loaded({"mlp": {"layout": "nonsense"}}, fixed).conventions()      # a key the assignment leaves free
    with pytest.raises(plugin.ConformanceFailure, match="CONVENTIONS is not valid"):
        _loaded(["not", "a", "dict"], fixed).conventions()


@pytest.mark.parametrize("text, message", [("{mlp: 1}", "not JSON"),
                                           ('{"mlp": {"loss": "halfmean"}}', "expected one of")])
def test_a_bad_conventions_option_is_a_usage_error(text, message):
    with pytest.raises(pytest.UsageError, match=message):
        pytest_plugin.fixed_conventions(text)


def _conformance(impl: Path, out: Path, conventions: str) -> dict:
    import json
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k not in ("BACKPROP_IMPL", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0", "--oracles", "complex_step",
           "--impl", str(impl), "--conventions", conventions, "--conformance-json", str(out),
           "-k", "every_oracle", str(ROOT / "backprop_harness" / "conformance" / "test_conformance.py")]
    run = subprocess.run(cmd, cwd=ROOT, env={**env, "HYPOTHESIS_PROFILE": "ci"}, capture_output=True, text=True,
                         timeout=300)
    assert out.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(out.read_text())["systems"]["mlp"]


def test_the_run_asks_the_assignment_s_question(tmp_path):
    """A correct MLP of the posts' Σ, asked for ½·mean, is right under another convention; one
    that computes ½·mean (and declares it) passes."""
    fixed = '{"mlp": {"loss": "half_mean"}}'
    summed = _conformance(ROOT / "zoo" / "correct" / "mlp_einsum.py", tmp_path / "summed.json", fixed)
    assert summed["status"] == "fail" and summed["diagnosis"] == ["convention_mismatch"]
    # the file cannot change what the assignment asks: the advice is to change the code
    words = summed["failures"][0]["diagnosis"]["words"]
    assert "the assignment fixes" in words and "add this line" not in words, words
    halved = _conformance(ROOT / "zoo" / "correct" / "mlp_column_convention.py", tmp_path / "halved.json", fixed)
    assert halved["status"] == "pass"
