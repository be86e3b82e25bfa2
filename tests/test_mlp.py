"""The vectorized MLP (its gradients against every oracle are in test_oracles.py): both
layouts and both losses agree; 003's NeuralNetwork class; shape errors that name the layer;
dtypes; the plug-in protocol's function."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from backprop_harness.compare import assert_close
from backprop_harness.strategies import arrays, networks
from oracles.cases import MLPCase
from oracles.rounding import magnitude
from oracles.tolerance import tolerance
from reference import activations, mlp, protocol
from reference.activations import ACTIVATIONS

pytestmark = pytest.mark.system("mlp")


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


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


def test_mlp_gd_step_moves_weights_and_biases_against_the_gradient():
    rng = np.random.default_rng(3)
    X, T = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
    Ws, bs = (rng.normal(size=(3, 4)), rng.normal(size=(4, 2))), (rng.normal(size=4), rng.normal(size=2))
    g = mlp.loss_and_gradients(X, T, Ws, bs)
    new_Ws, new_bs = mlp.gd_step(Ws, bs, g, 0.125)
    for new, old, d in zip(new_Ws + new_bs, Ws + bs, g.dWs + g.dbs):
        np.testing.assert_array_equal(new, old - 0.125 * d)
    assert mlp.loss_and_gradients(X, T, new_Ws, new_bs).loss < g.loss        # a small step goes downhill
    assert mlp.gd_step(Ws, None, mlp.loss_and_gradients(X, T, Ws), 0.125)[1] is None


def test_mlp_float32_network_gives_float32_gradients_for_float64_targets():
    rng = np.random.default_rng(9)
    X, T = rng.normal(size=(4, 3)).astype(np.float32), rng.uniform(size=(4, 2))      # T stays float64
    Ws = (rng.normal(size=(3, 2)).astype(np.float32),)
    g = mlp.loss_and_gradients(X, T, Ws)
    assert g.dWs[0].dtype == np.float32 and g.deltas[0].dtype == np.float32


def test_mlp_forward_argument_checks_say_what_is_wrong():
    X, W = np.ones((4, 3)), np.ones((3, 2))
    cases = [
        (dict(X=X.astype(complex), Ws=(W,)), TypeError, r"^X must be a real array, got dtype complex128$"),
        (dict(X=np.ones(3), Ws=(W,)), ValueError, r"^X must be 2-D \(\(n, d0\)\), got shape \(3,\)$"),
        (dict(X=np.ones(3), Ws=(W,), layout="column"), ValueError,
         r"^X must be 2-D \(\(d0, n\)\), got shape \(3,\)$"),
        (dict(X=X, Ws=()), ValueError, r"^Ws is empty; a network needs at least one weight matrix$"),
        (dict(X=X, Ws=(W, W.T), bs=(np.ones(2),)), ValueError, r"^got 1 biases for 2 weight matrices$"),
        (dict(X=X, Ws=(np.ones(3),)), ValueError, r"^W1 must be 2-D, got shape \(3,\)$"),
        (dict(X=np.ones((3, 4)), Ws=(np.ones((3, 2)),), layout="column"), ValueError,
         r"^W1 has shape \(3, 2\) but layer 1 receives 3 features per column; expected \(d1, 3\)$"),
        (dict(X=X, Ws=(W, W.T), activations=["relu"]), ValueError,
         r"^got 1 activations for 2 layers; give one name, or one per layer$"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            mlp.forward(**kwargs)


def test_mlp_forward_keeps_a_float_input_dtype_and_promotes_integers():
    rng = np.random.default_rng(10)
    X32 = rng.normal(size=(4, 3)).astype(np.float32)
    Ws, bs = (rng.normal(size=(3, 2)),), (rng.normal(size=2),)       # float64 parameters
    out = mlp.forward(X32, Ws, bs).output
    assert out.dtype == np.float32                                  # parameters follow X
    np.testing.assert_array_equal(out, activations.sigmoid(X32 @ Ws[0].astype(np.float32) + bs[0].astype(np.float32)))
    Xi = np.array([[1, 0, 2], [0, 1, 1]])
    np.testing.assert_array_equal(mlp.forward(Xi, Ws, bs).output, mlp.forward(Xi.astype(float), Ws, bs).output)
    assert mlp.forward(Xi, Ws, bs).output.dtype == np.float64


def test_neural_network_003_initial_weights_and_state():
    net = mlp.NeuralNetwork(rng=0)
    expected = np.random.default_rng(0)
    np.testing.assert_array_equal(net.W, 0.1 * expected.random((2, 2)))   # 003: 0.1 * uniform [0, 1), 2-2-2
    np.testing.assert_array_equal(net.V, 0.1 * expected.random((2, 2)))
    wide = mlp.NeuralNetwork(3, 4, 5, rng=1)
    assert (wide.W.shape, wide.V.shape) == ((3, 4), (4, 5))
    assert 0.0 <= wide.W.min() and wide.W.max() < 0.1 and 0.0 <= wide.V.min() and wide.V.max() < 0.1
    with pytest.raises(RuntimeError, match=r"^call forward\(X\) before backward\(T\)$"):
        net.backward([[0.0, 1.0]])
    X32 = np.array([[0.5, -1.0]], dtype=np.float32)
    Y = net.forward(X32)                  # computed in float64 whatever the input's dtype
    assert Y.dtype == np.float64 and net.X.dtype == np.float64
    np.testing.assert_array_equal(net.X, X32.astype(np.float64))
    np.testing.assert_array_equal(Y, _sigmoid(_sigmoid(net.X @ net.W) @ net.V))


# reference/protocol.py's function for this system: the conformance tests call it in a worker
# process, where mutation testing cannot see the call, so it is also called here, in process.
def test_protocol_mlp_gradients_returns_loss_weights_and_biases():
    rng = np.random.default_rng(1)
    X, T = rng.normal(size=(4, 3)), rng.uniform(size=(4, 2))
    Ws, bs = (rng.normal(size=(3, 2)), rng.normal(size=(2, 2))), (rng.normal(size=2), rng.normal(size=2))
    loss, dWs, dbs = protocol.mlp_gradients(X, T, Ws, bs)
    g = mlp.loss_and_gradients(X, T, Ws, bs)
    assert loss == g.loss
    assert loss == pytest.approx(np.sum((mlp.forward(X, Ws, bs).output - T) ** 2), rel=1e-14)
    assert [d.shape for d in dWs] == [(3, 2), (2, 2)] and [d.shape for d in dbs] == [(2,), (2,)]
    for a, b in zip(dWs + dbs, g.dWs + g.dbs):
        np.testing.assert_array_equal(a, b)
    assert protocol.mlp_gradients(X, T, Ws, None)[2] is None
