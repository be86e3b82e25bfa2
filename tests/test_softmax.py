"""000's softmax network (its gradients against every oracle are in test_oracles.py): the two
normalisations, stability at logits of ±1000, one-hot checking, every named quantity of the
pass, argument checks, dtypes; the plug-in protocol's function."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given

from backprop_harness.compare import assert_close
from backprop_harness.strategies import arrays, softmax_cases
from oracles.rounding import magnitude
from oracles.tolerance import tolerance
from reference import protocol, softmax

pytestmark = pytest.mark.system("softmax")

NAMES = ("W1", "b1", "W2", "b2")


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))



@given(case=softmax_cases(reduction="sum"))
def test_mean_is_sum_over_n(case):
    X, Y, p = case.X, case.Y, case.params()
    ls, gs = softmax.loss_and_gradients(X, Y, **p, reduction="sum")
    lm, gm = softmax.loss_and_gradients(X, Y, **p, reduction="mean")
    n = X.shape[0]
    assert lm == pytest.approx(ls / n, rel=1e-14)     # a sum of positive terms: no cancellation
    _, mags = magnitude(case)
    assert_close("dL/dparams", [gm[k] * n for k in NAMES], [gs[k] for k in NAMES], tolerance("exact"),
                 "MEAN*n", "SUM", scale=max(float(np.max(m)) for m in mags.values()))


@pytest.mark.parametrize("reduction", softmax.REDUCTIONS)
def test_logits_of_plus_minus_1000_stay_finite(reduction):
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    W1, b1 = np.array([[50.0, -50.0], [-50.0, 50.0]]), np.zeros(2)   # h ≈ one-hot
    W2, b2 = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]]), np.zeros(3)
    Y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])        # the worst-predicted classes
    p = softmax.forward_backward(X, Y, W1, b1, W2, b2, reduction)
    assert np.abs(p.zpred).max() > 999
    assert np.isfinite(p.loss) and p.loss > 1000
    for g in p.gradients.values():
        assert np.all(np.isfinite(g))
    np.testing.assert_allclose(softmax.softmax(np.array([[1000.0, -1000.0]])), [[1.0, 0.0]])
    assert np.isfinite(softmax.log_softmax(np.array([[1000.0, -1000.0]]))).all()


@given(Z=arrays((3, 4), -50, 50))
def test_softmax_rows_are_distributions(Z):
    P = softmax.softmax(Z)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15 * 8)
    np.testing.assert_allclose(np.log(P), softmax.log_softmax(Z), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("Y, match", [
    (np.array([[0.5, 0.5, 0.0]]), "one-hot"),
    (np.array([[1.0, 1.0, 0.0]]), "one-hot"),
    (np.array([[1.0, 0.0]]), r"Y has shape \(1, 2\)"),
])
def test_targets_must_be_one_hot(Y, match):
    with pytest.raises(ValueError, match=match):
        softmax.loss_and_gradients(np.ones((1, 2)), Y, np.ones((2, 2)), np.zeros(2), np.ones((2, 3)), np.zeros(3))


def test_shapes_are_named():
    with pytest.raises(ValueError, match=r"W2 must have shape \(2, classes\)"):
        softmax.loss_and_gradients(np.ones((1, 2)), np.eye(3)[:1], np.ones((2, 2)), np.zeros(2),
                                   np.ones((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="reduction must be one of"):
        softmax.loss_and_gradients(np.ones((1, 2)), np.eye(3)[:1], np.ones((2, 2)), np.zeros(2),
                                   np.ones((2, 3)), np.zeros(3), reduction="avg")


def test_softmax_shifts_each_row_by_its_own_maximum():
    # rows far apart in scale: a shift by the maximum of the whole array would underflow the second
    Z = np.array([[1000.0, 999.0], [0.0, -1.0]])
    first = 1.0 / (1.0 + math.exp(-1.0))                       # e^0 / (e^0 + e^-1)
    np.testing.assert_allclose(softmax.softmax(Z), [[first, 1 - first], [first, 1 - first]], rtol=1e-15)
    log_first = -math.log1p(math.exp(-1.0))
    np.testing.assert_allclose(softmax.log_softmax(Z), [[log_first, log_first - 1.0]] * 2, rtol=1e-15)


def test_softmax_of_float32_logits_is_computed_in_float64():
    Z32 = np.array([[0.1, 0.7, -0.3]], dtype=np.float32)
    Z64 = Z32.astype(np.float64)
    for f in (softmax.softmax, softmax.log_softmax):
        out = f(Z32)
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, f(Z64))


def test_cross_entropy_sums_minus_log_probabilities_of_the_targets():
    Z = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    Y = np.eye(3)[[0, 2]]
    def log_p(row, k):
        return row[k] - math.log(sum(math.exp(z) for z in row))
    expected = -(log_p(Z[0], 0) + log_p(Z[1], 2))
    assert softmax.cross_entropy(Z, Y) == pytest.approx(expected, rel=1e-14)          # default: "sum"
    assert softmax.cross_entropy(Z, Y, "mean") == pytest.approx(expected / 2, rel=1e-14)
    with pytest.raises(ValueError, match="reduction must be one of"):
        softmax.cross_entropy(Z, Y, "avg")
    with pytest.raises(ValueError, match="one-hot"):
        softmax.cross_entropy(Z, Y * 0.5)
    with pytest.raises(ValueError, match=r"Y has shape \(1, 3\) but the predictions have shape \(2, 3\)"):
        softmax.cross_entropy(Z, Y[:1])


def _softmax_case(seed=4, n=3, d=2, hidden=4, classes=3):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(n, d)), np.eye(classes)[rng.integers(0, classes, size=n)]
    return X, Y, rng.normal(size=(d, hidden)), rng.normal(size=hidden), rng.normal(size=(hidden, classes)), \
        rng.normal(size=classes)


def test_softmax_argument_checks_name_the_expected_shapes():
    X, Y, W1, b1, W2, b2 = _softmax_case()
    cases = [
        ((X[0], Y, W1, b1, W2, b2), r"^X must be 2-D \(batch, features\), got shape \(2,\)$"),
        ((X, Y, W1[:1], b1, W2, b2), r"^W1 must have shape \(2, hidden\), got \(1, 4\)$"),
        ((X, Y, W1, np.zeros((2, 4)), W2, b2), r"^b1 must have shape \(4,\) or \(1, 4\), got \(2, 4\)$"),
        ((X, Y, W1, b1, W2, np.zeros((2, 3))), r"^b2 must have shape \(3,\) or \(1, 3\), got \(2, 3\)$"),
        ((X, Y * 2, W1, b1, W2, b2), r"^Y must be one-hot: entries 0 or 1, exactly one 1 per row$"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            softmax.forward_backward(*args)


def test_softmax_pass_keeps_every_named_quantity():
    X, Y, W1, b1, W2, b2 = _softmax_case()
    p = softmax.forward_backward(X, Y, W1, b1, W2, b2, "mean")
    zh = X @ W1 + b1
    h = _sigmoid(zh)
    zpred = h @ W2 + b2
    pred = np.exp(zpred) / np.exp(zpred).sum(axis=1, keepdims=True)
    grad_zpred = (pred - Y) / 3
    grad_h = grad_zpred @ W2.T
    expected = dict(zh=zh, h=h, zpred=zpred, pred=pred, grad_zpred=grad_zpred, grad_h=grad_h,
                    grad_zh=grad_h * h * (1 - h))
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(p, name), value, rtol=1e-12, atol=1e-15, err_msg=name)


def test_softmax_row_biases_and_float32_inputs():
    X, Y, W1, b1, W2, b2 = _softmax_case()
    flat = softmax.forward_backward(X, Y, W1, b1, W2, b2)           # default: "sum"
    assert flat.loss == softmax.forward_backward(X, Y, W1, b1, W2, b2, "sum").loss
    rows = softmax.forward_backward(X, Y, W1, b1[None, :], W2, b2[None, :])
    assert rows.grad_b1.shape == (1, 4) and rows.grad_b2.shape == (1, 3)     # gradients take the biases' shapes
    np.testing.assert_array_equal(rows.grad_b2[0], flat.grad_b2)
    # float32 parameters are computed in float64, like every other input
    p32 = softmax.forward_backward(*(a.astype(np.float32) for a in (X, Y, W1, b1, W2, b2)))
    p64 = softmax.forward_backward(*(a.astype(np.float32).astype(np.float64) for a in (X, Y, W1, b1, W2, b2)))
    for name, g in p32.gradients.items():
        assert g.dtype == np.float64
        np.testing.assert_array_equal(g, p64.gradients[name])


# reference/protocol.py's function for this system: the conformance tests call it in a worker
# process, where mutation testing cannot see the call, so it is also called here, in process.
def test_protocol_softmax_gradients_is_the_summed_loss():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(3, 2)), np.eye(3)[[0, 2, 1]]
    params = dict(W1=rng.normal(size=(2, 4)), b1=rng.normal(size=4), W2=rng.normal(size=(4, 3)), b2=rng.normal(size=3))
    loss, grads = protocol.softmax_gradients(X, Y, *params.values())
    p = softmax.forward_backward(X, Y, *params.values(), "sum")
    assert loss == p.loss
    assert sorted(grads) == ["W1", "W2", "b1", "b2"]
    for name in params:
        np.testing.assert_array_equal(grads[name], p.gradients[name])
        assert grads[name].shape == params[name].shape
