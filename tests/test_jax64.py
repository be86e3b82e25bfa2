"""The JAX oracle agrees with the numpy reference through its padding, and compiles once per bucket.

Hand-picked cases per system, each at an edge of the bucketing: batch 1 and width
1 (almost all padding), the column layout, mixed activations, no biases, relu at
its kink, logits of ±1000, a graph that reuses values and puts constants on the
left. Agreement is judged by the policy's exact rule: padding adds exact zeros,
so only summation order may differ (a few ulps of the terms).
"""
from __future__ import annotations

import numpy as np
import pytest

from backprop_harness.compare import assert_gradients_agree
from backprop_harness.implementations import reference_gradient
from oracles.cases import GraphCase, ManualCase, MLPCase, Node, SoftmaxCase
from oracles.tolerance import tolerance


def _jax64():
    """The oracle, imported by the tests that use it: collecting this module imports no JAX."""
    from oracles import jax64
    return jax64


def _rng(seed):
    return np.random.default_rng(seed)


def _mlp_case(seed, dims, n, activations, *, biases=True, loss="sse", layout="row", scale=1.0):
    rng = _rng(seed)
    Ws = [scale * rng.uniform(-2, 2, (dims[i], dims[i + 1])) for i in range(len(dims) - 1)]
    bs = [rng.uniform(-2, 2, d) for d in dims[1:]] if biases else None
    X, T = rng.uniform(-3, 3, (n, dims[0])), rng.uniform(0, 1, (n, dims[-1]))
    if layout == "column":
        X, T, Ws = X.T, T.T, [W.T for W in Ws]
    return MLPCase(X, T, Ws, bs, activations, loss, layout)


def _assert_agrees(case):
    got, expected = _jax64().gradient(case), reference_gradient(case)
    assert got.method == "jax64" and isinstance(got.loss, float)
    assert set(got.grads) == set(case.params())
    for name, p in case.params().items():
        g = got.grads[name]
        assert isinstance(g, np.ndarray) and g.dtype == np.float64 and g.shape == np.shape(p), name
    assert_gradients_agree(case, got, expected)      # the one policy: k eps of the rounding magnitude


MLP_CASES = {
    "batch 1, width 1": _mlp_case(1, (1, 1), 1, ("sigmoid",)),
    "column layout, half_mean": _mlp_case(2, (3, 5, 2), 4, ("tanh", "sigmoid"), loss="half_mean", layout="column"),
    "mixed activations, depth 4": _mlp_case(3, (4, 6, 3, 7, 2), 5, ("relu", "tanh", "identity", "sigmoid")),
    "no biases (003)": _mlp_case(4, (2, 2, 2), 3, ("sigmoid", "sigmoid"), biases=False),
    # z = X 0 = 0 exactly: relu'(0) must be the reference's 0, not jnp.maximum's 1/2
    "relu at its kink": _mlp_case(5, (3, 2), 2, ("relu",), biases=False, scale=0.0),
    "full bucket, column, no biases": _mlp_case(6, (8, 8, 8), 8, ("identity", "tanh"), biases=False,
                                                layout="column"),
    "next bucket (width 9)": _mlp_case(7, (9, 3), 2, ("tanh",), loss="half_mean"),
}


@pytest.mark.system("mlp")
@pytest.mark.parametrize("name", MLP_CASES)
def test_mlp_agrees_with_reference(name):
    _assert_agrees(MLP_CASES[name])


def _softmax_case(seed, n, d, h, k, reduction="sum", labels=None, b2=None):
    rng = _rng(seed)
    labels = rng.integers(0, k, n) if labels is None else labels
    return SoftmaxCase(rng.uniform(-3, 3, (n, d)), np.eye(k)[labels], rng.uniform(-2, 2, (d, h)),
                       rng.uniform(-2, 2, h), rng.uniform(-2, 2, (h, k)),
                       rng.uniform(-2, 2, k) if b2 is None else b2, reduction)


SOFTMAX_CASES = {
    "batch 1, one class": _softmax_case(1, 1, 1, 1, 1),
    "mean": _softmax_case(2, 5, 3, 4, 3, "mean"),
    "logits ±1000, target at -1000": _softmax_case(3, 3, 2, 3, 3, labels=[1, 1, 0],
                                                   b2=np.array([1000.0, -1000.0, 0.0])),
}


@pytest.mark.system("softmax")
@pytest.mark.parametrize("name", SOFTMAX_CASES)
def test_softmax_agrees_with_reference(name):
    _assert_agrees(SOFTMAX_CASES[name])


@pytest.mark.system("softmax")
def test_softmax_extreme_logits_are_finite_and_exact():
    case = SOFTMAX_CASES["logits ±1000, target at -1000"]
    got = _jax64().gradient(case)
    assert np.isfinite(got.loss) and got.loss > 1999
    assert all(np.isfinite(g).all() for g in got.grads.values())
    # the target's probability underflows to 0: dL/db2 = sum_i (pred_i - Y_i) is exactly -2 there
    assert got.grads["b2"][1] == -2.0


@pytest.mark.system("manual_222")
def test_manual_agrees_with_reference():
    _assert_agrees(ManualCase(x=[0.5, -1.0], t=[0.2, 0.9], w=_rng(8).uniform(-2, 2, 8)))


GRAPH_CASES = {
    # 002's f = (a + b)(b + c): b is reused
    "002": GraphCase([-2.0, 5.0, -4.0], (Node("add", 0, 1), Node("add", 1, 2), Node("mul", 3, 4))),
    "no nodes": GraphCase([1.5, -0.5]),
    "constants left, pow, reuse": GraphCase(
        [1.5, -0.7, 2.0],
        (Node("sub", 2.5, 0), Node("pow", 1, 3.0), Node("mul", 3, 3), Node("div", 5, 2),
         Node("add", 6, 4), Node("div", 3.0, 7), Node("mul", 8, 3))),
    "every unary op": GraphCase(
        [0.3, -1.2],
        (Node("neg", 1), Node("exp", 0), Node("log", 2), Node("sigmoid", 1), Node("tanh", 4),
         Node("relu", 1), Node("relu", 0), Node("mul", 5, 6), Node("add", 9, 8),
         Node("sub", 10, 7), Node("pow", 11, 2.5))),
}


@pytest.mark.system("scalar_graph")
@pytest.mark.parametrize("name", GRAPH_CASES)
def test_graph_agrees_with_reference(name):
    _assert_agrees(GRAPH_CASES[name])


@pytest.mark.parametrize("case", [MLP_CASES["column layout, half_mean"], SOFTMAX_CASES["mean"],
                                  GRAPH_CASES["constants left, pow, reuse"],
                                  ManualCase(x=[1.0, 2.0], t=[0.0, 1.0], w=np.linspace(-1, 1, 8))],
                         ids=["mlp", "softmax", "scalar_graph", "manual_222"])
def test_directional_is_gradient_dot_direction(case):
    rng = _rng(9)
    direction = {k: rng.normal(size=np.shape(v)) for k, v in case.params().items()}
    grads = _jax64().gradient(case).grads
    expected = sum(float(np.sum(grads[k] * d)) for k, d in direction.items())
    scale = sum(float(np.sum(np.abs(grads[k] * d))) for k, d in direction.items())
    tol = tolerance("exact", terms=case.summation_length + sum(np.size(d) for d in direction.values()))
    assert abs(_jax64().directional(case, direction) - expected) <= tol.atol(scale)


def _compiles(case):
    before = _jax64().compile_count()
    _jax64().gradient(case)
    return _jax64().compile_count() - before


def test_one_compilation_per_bucket():
    # batch 9..16 is a bucket no other test uses, so its first case compiles it
    first = _mlp_case(10, (2, 3), 9, ("sigmoid",))
    other = _mlp_case(11, (5, 8, 1, 2), 16, ("relu", "identity", "tanh"), biases=False,
                      loss="half_mean", layout="column")
    assert _compiles(first) <= 1 and _compiles(other) == 0
    assert _jax64().gradient(first).details["bucket"] == _jax64().gradient(other).details["bucket"]

    # graphs: any program of <= 8 leaves and <= 64 nodes is one bucket
    chain = GraphCase([0.5], tuple(Node("tanh", i) for i in range(20)))
    mixed = GraphCase([0.5, 2.0, -1.0], tuple(Node(op, i, 1.5 if op == "pow" else i + 1)
                                             for i, op in enumerate(["add", "mul", "pow", "div"] * 6)))
    assert _compiles(chain) <= 1 and _compiles(mixed) == 0


def test_first_case_of_a_bucket_compiles_once():
    # softmax with 9..16 hidden units: a bucket no other test uses
    assert _compiles(_softmax_case(12, 2, 2, 9, 2)) == 1
    assert _compiles(_softmax_case(13, 8, 1, 16, 5, "mean")) == 0


def test_unknown_case_and_operation_are_named():
    with pytest.raises(ValueError, match="not a case: dict"):
        _jax64().gradient({})
    node = Node("exp", 0)
    object.__setattr__(node, "op", "sqrt")   # past Node's own check, as a hand-built program might be
    with pytest.raises(ValueError, match="'sqrt'"):
        _jax64().gradient(GraphCase([1.0], (node,)))
