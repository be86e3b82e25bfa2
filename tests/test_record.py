"""The run's record (backprop_harness/record.py), in process: the verdict rules, the
table, blocks of identical failures, the document, and a failure's round trip through
JSON (what crosses from an xdist worker and what the reports read)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from backprop_harness.protocol import CHECKS, SYSTEMS
from backprop_harness.record import Failure, Gradients, Outcome, Run, TensorDiff, cell, group
from oracles import Gradient
from oracles.cases import MLPCase

CASE = MLPCase(np.zeros((1, 1)), np.zeros((1, 2)), [np.zeros((1, 2))], [np.zeros(2)], "sigmoid", "sse", "row")
RIGHT = Gradient(0.5, {"W1": np.array([[1.0, 2.0]]), "b1": np.array([1.0, 2.0])}, "reference")


def failing(test, codes=("weight_not_transposed",), received=None, check="oracles", message="mlp_gradients: off"):
    grads = Gradients.measured(CASE, "mlp_gradients", RIGHT, received or {"W1": [[1.0, 2.5]], "b1": [1.0, 2.0]},
                               0.5, 1e-12)
    return Failure(test, check, message, message, {"codes": list(codes), "words": "w", "where": None},
                   "print('repro')", grads)


def outcome(test, status, system="mlp", checks=("oracles",), failure=None):
    return Outcome(test, (system,), checks, status, failure.check if failure else None, failure,
                   failure.summary if failure else "")


def test_a_system_fails_when_any_test_fails_passes_when_some_passed_and_none_failed():
    run = Run()
    run.add(outcome("a", "passed"))
    run.add(outcome("b", "not provided", system="softmax"))
    run.add(outcome("c", "passed", system="manual_222"))
    run.add(outcome("d", "failed", system="manual_222", failure=failing("d")))
    assert run.verdicts() == {"scalar_graph": "not tested", "manual_222": "fail", "mlp": "pass",
                              "softmax": "not provided"}


def test_a_failure_counts_against_the_check_it_broke_only():
    run = Run()
    f = failing("t", check="shapes and dtypes")
    run.add(Outcome("t", ("mlp",), ("oracles", "shapes and dtypes"), "failed", "shapes and dtypes", f, f.summary))
    assert dict(run.counts["mlp"]) == {"shapes and dtypes": {"failed": 1}}


@pytest.mark.parametrize("counts, text", [
    (None, "-"), ({"passed": 3}, "3/3"), ({"passed": 2, "failed": 1}, "FAIL 1/3"),
    ({"passed": 2, "not provided": 1}, "2/2*"), ({"not provided": 2}, "n/p"), ({"not applicable": 1}, "n/a"),
    ({"skipped": 1}, "skip")])
def test_table_cells(counts, text):
    assert cell(counts) == text


def test_failures_are_listed_in_collection_order_whatever_order_they_arrive_in():
    run = Run()
    run.set_order(["x", "y", "z"])
    for test in ("z", "x", "y"):
        run.add(outcome(test, "failed", failure=failing(test, codes=(test,))))
    assert [f.test for f in run.failures["mlp"]] == ["x", "y", "z"]
    assert run.first["mlp"][0] == "x"
    assert run.diagnosis("mlp") == ["x", "y", "z"]


def test_the_same_cause_and_the_same_wrong_tensors_are_one_block():
    same = [failing(f"t{i}") for i in range(3)]
    other_tensor = failing("u", received={"W1": [[1.0, 2.0]], "b1": [1.0, 9.0]})
    other_cause = failing("v", codes=("transposed",))
    unknown = [failing("w1", codes=("unknown",), message="m1"), failing("w2", codes=("unknown",), message="m2")]
    blocks = group(same + [other_tensor, other_cause] + unknown)
    assert [[f.test for f in b.failures] for b in blocks] == [["t0", "t1", "t2"], ["u"], ["v"], ["w1"], ["w2"]]
    assert blocks[0].leader.test == "t0" and [f.test for f in blocks[0].others] == ["t1", "t2"]


def test_the_table_says_what_ran_and_the_notes_name_the_blocks():
    run = Run()
    for i in range(3):
        run.add(outcome(f"t{i}", "failed", failure=failing(f"t{i}")))
    run.add(outcome("p", "passed", checks=("worked examples",)))
    lines = run.table("implementation under test: x")
    assert lines[0] == "implementation under test: x"
    row = next(line for line in lines if line.startswith("mlp"))
    assert "FAIL" in row and "FAIL 3/3" in row and "1/1" in row
    notes = run.notes({"weight_not_transposed": "W instead of W^T"})
    assert "mlp: diagnosis (3 failures in 1 block): weight_not_transposed (W instead of W^T)" in notes


def test_a_failure_survives_json_and_keeps_its_measurements():
    f = failing("t", received={"W1": [[np.nan, 2.0]], "b1": "not numbers"})
    text = json.dumps(f.to_json(), allow_nan=False)
    back = Failure.from_json(json.loads(text))
    assert back.to_json() == f.to_json() and back.key == f.key
    w1, b1 = back.gradients.tensors
    assert w1.beyond == 1 and np.isinf(w1.max_ratio) and w1.nonfinite.tolist() == [[True, False]]
    assert b1.received is None and b1.wrong and "not a numeric array" in b1.note
    assert back.gradients.wrong == ("W1", "b1")
    assert back.gradients.worst()[0].label == "dL/dW1[0, 0]"


def test_a_transposed_tensor_is_measured_transposed_back():
    t = TensorDiff("W1", np.array([[1.0, 2.0, 3.0]]), np.array([[1.0], [2.0], [3.0]]), 1e-12)
    assert t.comparable and t.beyond == 0 and "exactly the transpose" in t.note


def test_an_oversized_answer_keeps_its_shape_only():
    g = Gradients.measured(CASE, "mlp_gradients", RIGHT, {"W1": np.ones((500, 500)), "b1": [1.0, 2.0]}, 0.5, 1e-12)
    doc = g.to_json()
    assert doc["parameters"][0]["received"]["data"] is None and "omitted" in doc["parameters"][0]["received"]
    assert "250000 numbers" in Gradients.from_json(doc).tensors[0].note


def test_the_document_has_every_system_and_check_and_its_blocks():
    run = Run()
    run.add(outcome("t0", "failed", failure=failing("t0")))
    run.add(outcome("t1", "failed", failure=failing("t1")))
    doc = run.document({"label": "x"}, generated="now", profile="ci", oracles=["torch64"], fixtures_sha256="0",
                       changes=[], exit_status=1)
    assert list(doc["systems"]) == list(SYSTEMS)
    mlp = doc["systems"]["mlp"]
    assert mlp["status"] == "fail" and mlp["diagnosis"] == ["weight_not_transposed"]
    assert mlp["groups"] == [["t0", "t1"]] and set(mlp["checks"]) <= set(CHECKS)
    assert mlp["first_failure"] == {"test": "t0", "check": "oracles", "message": "mlp_gradients: off"}
    json.dumps(doc, allow_nan=False)


def test_the_loss_is_judged_on_its_own_tolerance_not_the_gradient_s():
    """The exact rule sets the loss's atol on the loss's magnitude, the gradient's on the
    gradient's; a loss off by more than the gradient's atol but within its own is within."""
    g = Gradients.measured(CASE, "mlp_gradients", RIGHT, RIGHT.grads, RIGHT.loss + 1e-13, 1e-14,
                           loss_atol=1e-12)
    assert g.loss_within is True
    back = Gradients.from_json(json.loads(json.dumps(g.to_json())))
    assert back.loss_atol == 1e-12 and back.loss_within is True
    assert Gradients.measured(CASE, "mlp_gradients", RIGHT, RIGHT.grads, RIGHT.loss + 1e-11, 1e-14,
                              loss_atol=1e-12).loss_within is False
