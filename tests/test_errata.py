"""The posts' wrong formulas as reference/errata.py reads them literally, each reading written
out independently here (what the errata are judged against is in test_fixtures.py)."""
from __future__ import annotations

import numpy as np
import pytest

from reference import errata, mlp


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def test_sigmoid_prime_as_written_is_x_times_one_minus_x():
    np.testing.assert_array_equal(errata.sigmoid_prime_as_written_001([0.5, 2.0, -1.0]), [0.25, -2.0, -2.0])
    out = errata.sigmoid_prime_as_written_001([0, 1, 2])             # integers in, floats out
    assert out.dtype == np.float64 and out.tolist() == [0.0, 0.0, -2.0]


def _readings_by_hand(X, T, W1, W2, b1, b2, reading):
    """001's two-layer column-layout backward pass with one literal error, written out."""
    n = X.shape[1]
    Z1 = W1 @ X + b1[:, None]
    A1 = _sigmoid(Z1)
    Z2 = W2 @ A1 + b2[:, None]
    A2 = _sigmoid(Z2)
    if reading == "sigma_prime_at_preactivation":
        s1, s2 = Z1 * (1 - Z1), Z2 * (1 - Z2)
    else:
        s1, s2 = A1 * (1 - A1), A2 * (1 - A2)
    d2 = (A2 - T) / n * s2
    back = {"wrong_layer_weight": W1.T @ d2 if W1.shape[0] == d2.shape[0] else None,
            "dW_da": np.zeros((W2.shape[1], n))}.get(reading, W2.T @ d2)
    return (back * s1) @ X.T, d2 @ A1.T


@pytest.mark.parametrize("widths, reading", [
    ((2, 2, 2), "sigma_prime_at_preactivation"), ((2, 2, 2), "wrong_layer_weight"), ((2, 2, 2), "dW_da"),
    ((3, 2, 2), "sigma_prime_at_preactivation"), ((3, 2, 2), "dW_da"), ((2, 3, 1), "dW_da"),
])
def test_backward_as_written_001_follows_each_reading(widths, reading):
    d0, d1, d2 = widths
    rng = np.random.default_rng(sum(widths))
    X, T = rng.normal(size=(d0, 4)), rng.uniform(size=(d2, 4))
    W1, W2, b1, b2 = rng.normal(size=(d1, d0)), rng.normal(size=(d2, d1)), rng.normal(size=d1), rng.normal(size=d2)
    got = errata.backward_as_written_001(X, T, (W1, W2), (b1, b2), reading=reading)
    expected = _readings_by_hand(X, T, W1, W2, b1, b2, reading)
    assert [g.shape for g in got] == [W1.shape, W2.shape]
    assert all(g.dtype == np.float64 for g in got)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)
    if reading == "dW_da":   # nothing reaches the hidden layer; the output layer's gradient is the true one
        assert not got[0].any()
        true = mlp.loss_and_gradients(X, T, (W1, W2), (b1, b2), loss="half_mean", layout="column")
        np.testing.assert_allclose(got[1], true.dWs[1], rtol=1e-12, atol=1e-15)


def test_backward_as_written_001_defaults_and_argument_checks():
    rng = np.random.default_rng(5)
    X, T, Ws = rng.normal(size=(2, 3)), rng.uniform(size=(2, 3)), (rng.normal(size=(2, 2)), rng.normal(size=(2, 2)))
    default = errata.backward_as_written_001(X, T, Ws)
    literal = errata.backward_as_written_001(X, T, Ws, None, "sigma_prime_at_preactivation")
    for a, b in zip(default, literal):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"reading must be one of \['dW_da', 'sigma_prime_at_preactivation', "
                                         r"'wrong_layer_weight'\], got 'typo'"):
        errata.backward_as_written_001(X, T, Ws, reading="typo")
    # W_1^T δ_2 needs W_1 to have as many rows as δ_2: 3 against 2 here (and n = 4 columns)
    X, T = rng.normal(size=(2, 4)), rng.uniform(size=(2, 4))
    Ws = (rng.normal(size=(3, 2)), rng.normal(size=(2, 3)))
    with pytest.raises(ValueError, match=r"^W_1\^T δ_2 is undefined: W_1 has shape \(3, 2\), δ_2 has 2 rows$"):
        errata.backward_as_written_001(X, T, Ws, reading="wrong_layer_weight")


def test_grad_W1_double_sigmoid_applies_the_sigmoid_to_h_again():
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(3, 2)), np.eye(2)[[0, 1, 1]]
    W1, b1, W2, b2 = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=(3, 2)), rng.normal(size=2)
    h = _sigmoid(X @ W1 + b1)
    z = h @ W2 + b2
    pred = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    grad_h = (pred - Y) @ W2.T
    s = _sigmoid(h)                                    # σ(h) = σ(σ(zh)): the double sigmoid
    expected = X.T @ (grad_h * s * (1 - s))
    np.testing.assert_allclose(errata.grad_W1_double_sigmoid_000(X, Y, W1, b1, W2, b2), expected,
                               rtol=1e-12, atol=1e-15)
