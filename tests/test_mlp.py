"""The vectorized MLP (its gradients against every oracle are in test_oracles.py): both
layouts and both losses agree; 003's NeuralNetwork class; shape errors that name the layer."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from backprop_harness.compare import assert_close
from oracles.cases import MLPCase
from oracles.rounding import magnitude
from oracles.tolerance import tolerance
from reference import mlp
from reference.activations import ACTIVATIONS
from backprop_harness.strategies import arrays, networks

pytestmark = pytest.mark.system("mlp")

@given(net=networks(), act=st.sampled_from(sorted(ACTIVATIONS)), loss=st.sampled_from(mlp.LOSSES))
def test_column_layout_is_the_transpose_of_the_row_layout(net, act, loss):
    X, T, Ws, bs = net
    row = mlp.loss_and_gradients(X, T, Ws, bs, activations=act, loss=loss, layout="row")
    col = mlp.loss_and_gradients(X.T, T.T, [W.T for W in Ws], bs, activations=act, loss=loss, layout="column")
    # Outputs can land on their targets, so terms cancel: judge against the terms' magnitude.
    L_mag, mags = magnitude(MLPCase(X, T, Ws, bs, act, loss))
    scale = max(float(np.max(m)) for m in mags.values())
    tol = tolerance("exact")
    assert_close("L", col.loss, row.loss, tol, "COLUMN", "ROW", scale=L_mag)
    assert_close("dL/dW", [d.T for d in col.dWs], row.dWs, tol, "COLUMN", "ROW", scale=scale)
    if bs is not None:
        assert_close("dL/db", col.dbs, row.dbs, tol, "COLUMN", "ROW", scale=scale)


@given(net=networks())
def test_half_mean_is_sse_over_2n(net):
    X, T, Ws, bs = net
    sse = mlp.loss_and_gradients(X, T, Ws, bs, loss="sse")
    half = mlp.loss_and_gradients(X, T, Ws, bs, loss="half_mean")
    n = X.shape[0]
    L_mag, mags = magnitude(MLPCase(X, T, Ws, bs, "sigmoid", "sse"))
    tol = tolerance("exact")
    assert_close("L", half.loss * 2 * n, sse.loss, tol, "HALF_MEAN*2n", "SSE", scale=L_mag)
    assert_close("dL/dW", [d * 2 * n for d in half.dWs], sse.dWs, tol, "HALF_MEAN*2n", "SSE",
                 scale=max(float(np.max(m)) for m in mags.values()))


@given(net=networks(), alpha=st.floats(0.01, 1.0))
def test_gd_step(net, alpha):
    X, T, Ws, bs = net
    g = mlp.loss_and_gradients(X, T, Ws, bs)
    new_Ws, new_bs = mlp.gd_step(Ws, bs, g, alpha)
    for W, dW, W1 in zip(Ws, g.dWs, new_Ws):
        np.testing.assert_array_equal(W1, W - alpha * dW)
    assert (new_bs is None) == (bs is None)


@given(X=arrays((3, 2)), T=arrays((3, 4), 0, 1), W=arrays((2, 5)), V=arrays((5, 4)))
def test_neural_network_class_is_the_general_mlp(X, T, W, V):
    net = mlp.NeuralNetwork(2, 5, 4, rng=0)
    net.W, net.V = W, V
    Y = net.forward(X)
    grad_W, grad_V = net.backward(T)
    g = mlp.loss_and_gradients(X, T, (W, V))
    np.testing.assert_array_equal(Y, mlp.forward(X, (W, V)).output)
    np.testing.assert_array_equal(grad_W, g.dWs[0])
    np.testing.assert_array_equal(grad_V, g.dWs[1])
    assert net.L.shape == (3, 1) and net.L.sum() == pytest.approx(g.loss, rel=1e-14)
    assert net.forward(X[0]).shape == (4,)


def test_neural_network_needs_forward_first():
    with pytest.raises(RuntimeError, match="forward"):
        mlp.NeuralNetwork().backward([[1.0, 0.0]])


@pytest.mark.parametrize("call, match", [
    (lambda: mlp.forward(np.ones((2, 3)), [np.ones((2, 2))]), r"W1 has shape \(2, 2\) .* expected \(3, d1\)"),
    (lambda: mlp.forward(np.ones((2, 2)), [np.ones((2, 2)), np.ones((3, 1))]), r"W2 has shape \(3, 1\)"),
    (lambda: mlp.forward(np.ones((2, 2)), [np.ones((2, 3))], [np.ones(2)]), r"b1 must have shape \(3,\)"),
    (lambda: mlp.forward(np.ones(2), [np.ones((2, 3))]), r"X must be 2-D"),
    (lambda: mlp.forward(np.ones((1, 2)), [np.ones((2, 3))], activations="softplus"), r"unknown activation"),
    (lambda: mlp.forward(np.ones((1, 2)), [np.ones((2, 3))], layout="diagonal"), r"layout must be one of"),
    (lambda: mlp.backward(mlp.forward(np.ones((1, 2)), [np.ones((2, 3))]), np.ones((1, 2))),
     r"T has shape \(1, 2\) but the network's output has shape \(1, 3\)"),
    (lambda: mlp.backward(mlp.forward(np.ones((1, 2)), [np.ones((2, 3))]), np.ones((1, 3)), "mse"),
     r"loss must be one of"),
    (lambda: mlp.forward(np.ones((1, 2)), []), r"Ws is empty"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_inputs_are_not_modified():
    X, T = np.array([[0.5, -1.0]]), np.array([[1.0, 0.0, 0.5]])
    Ws, bs = [np.full((2, 3), 0.3)], [np.full(3, -0.1)]
    before = [a.copy() for a in (X, T, *Ws, *bs)]
    mlp.loss_and_gradients(X, T, Ws, bs)
    for a, b in zip((X, T, *Ws, *bs), before):
        np.testing.assert_array_equal(a, b)
