"""000's softmax network (its gradients against every oracle are in test_oracles.py): the two
normalisations, stability at logits of ±1000, one-hot checking."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from backprop_harness.compare import assert_close
from oracles.rounding import magnitude
from oracles.tolerance import tolerance
from reference import softmax
from backprop_harness.strategies import arrays, softmax_cases

pytestmark = pytest.mark.system("softmax")

NAMES = ("W1", "b1", "W2", "b2")


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
