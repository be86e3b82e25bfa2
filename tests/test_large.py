"""oracles.large: directional and spot checks by the complex step, and bisection."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_harness.implementations import reference_gradient
from oracles.cases import GraphCase, Node, SoftmaxCase
from oracles.large import directional_only, random_mlp, verify


CASES = {
    "mlp": random_mlp((32, 64, 10), batch=8),
    "softmax": SoftmaxCase(np.random.default_rng(1).uniform(-1, 1, (6, 5)), np.eye(4)[[0, 1, 2, 3, 0, 1]],
                           np.random.default_rng(2).normal(0, 1, (5, 7)), np.zeros(7),
                           np.random.default_rng(3).normal(0, 1, (7, 4)), np.zeros(4)),
    "graph": GraphCase([0.5, -1.25, 2.0], (Node("mul", 0, 1), Node("tanh", 3), Node("add", 4, 2),
                                           Node("pow", 5, 2.0))),
}


@pytest.mark.parametrize("name", CASES)
def test_a_correct_gradient_passes_and_agrees_to_1e_12(name):
    case = CASES[name]
    result = verify(case, reference_gradient(case).grads)
    assert result.ok, result.report()
    assert result.worst <= 1e-12


@pytest.mark.parametrize("tensor, index", [("W1", (3, 17)), ("b1", (40,)), ("W2", (63, 9)), ("b2", (0,))])
def test_one_wrong_entry_is_caught_and_located(tensor, index):
    case = CASES["mlp"]
    grads = {k: np.array(v) for k, v in reference_gradient(case).grads.items()}
    gmax = max(float(np.max(np.abs(g))) for g in grads.values())
    grads[tensor][index] += 1e-3 * gmax
    result = verify(case, grads)
    assert not result.ok
    assert result.located == {tensor: [index]}


def test_a_wrong_tensor_is_reported_as_widespread_without_checking_every_entry():
    case = CASES["mlp"]
    grads = {k: np.array(v) for k, v in reference_gradient(case).grads.items()}
    grads["W1"] *= 1.01
    result = verify(case, grads)
    assert not result.ok and "widespread" in result.located["W1"][-1]
    assert result.evaluations < grads["W1"].size


def test_directional_only_passes_a_correct_gradient_and_fails_a_wrong_one():
    case = CASES["mlp"]
    grads = {k: np.array(v) for k, v in reference_gradient(case).grads.items()}
    assert directional_only(case, grads).ok
    grads["W2"] = -grads["W2"]
    assert not directional_only(case, grads).ok
