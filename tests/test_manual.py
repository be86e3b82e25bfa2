"""003's 2-2-2 network (its gradients against every oracle are in test_oracles.py): gradient
descent, "all ways lead to Rome", the intermediate values, dtypes and argument checks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from backprop_harness.compare import assert_close
from backprop_harness.strategies import arrays
from oracles.tolerance import tolerance
from reference import manual, mlp, protocol
from reference.replays import network_222_graph

pytestmark = pytest.mark.system("manual_222")


@given(x=arrays((2,), -3, 3), t=arrays((2,), 0, 1), w=arrays((8,), -3, 3))
def test_all_ways_lead_to_rome(x, t, w):
    """003: manual, scalar graph (reverse and forward) and vectorized give one gradient (<= 1e-15)."""
    by_hand = manual.gradients(x, t, w)
    graph = network_222_graph(x, t, w)
    W = np.array([[w[0], w[1]], [w[2], w[3]]])
    V = np.array([[w[4], w[5]], [w[6], w[7]]])
    g = mlp.loss_and_gradients(x[None, :], t[None, :], (W, V))
    vectorized = np.concatenate([g.dWs[0].ravel(), g.dWs[1].ravel()])
    tol, scale = tolerance("exact"), max(graph["gradient_magnitude"])   # paths can cancel
    assert_close("dL/dw", graph["gradient"], by_hand, tol, "GRAPH", "MANUAL", scale=scale)
    assert_close("dL/dw", graph["gradient_forward"], by_hand, tol, "GRAPH_FORWARD", "MANUAL", scale=scale)
    assert_close("dL/dw", vectorized, by_hand, tol, "VECTORIZED", "MANUAL", scale=scale)
    assert graph["passes_reverse"] == 1 and graph["passes_forward"] == 8
    assert graph["loss"] == pytest.approx(float(manual.loss(x, t, w)), rel=1e-15)


def test_forward_returns_the_outputs_of_backprop():
    x, t, w = [0.5, -1.0], [1.0, 0.0], [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]
    r = manual.backprop(x, t, w)
    assert manual.forward(x, w) == (r.y1_out, r.y2_out)


@given(X=arrays((3, 2), -3, 3), T=arrays((3, 2), 0, 1), w=arrays((8,), -2, 2))
def test_gd_step_sums_the_instance_gradients(X, T, w):
    alpha = 0.5
    total = sum(np.array(manual.gradients(x, t, w)) for x, t in zip(X, T))
    np.testing.assert_array_equal(manual.gd_step(X, T, w, alpha), np.asarray(w) - alpha * total)


def test_training_lowers_the_summed_loss():
    X = np.array([[1.0, -0.5], [-1.0, 2.0]])
    T = np.array([[1.0, 0.0], [0.0, 1.0]])
    w0 = np.array([0.5, -0.3, 0.2, 0.1, 0.4, -0.6, 0.3, 0.2])
    w = manual.train(X, T, w0, alpha=0.5, epochs=50)
    def total(w):
        return sum(manual.loss(x, t, w) for x, t in zip(X, T))
    assert total(w) < 0.5 * total(w0)
    np.testing.assert_array_equal(manual.train(X, T, w0, 0.5, 0), w0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x=[1.0], t=[0, 1], w=[0] * 8), r"x must hold the 2 inputs"),
    (dict(x=[1.0, 2.0], t=[0, 1], w=[0] * 7), r"w must hold the 8 weights"),
    (dict(x=[1.0, 2.0], t=[0, 1, 2], w=[0] * 8), r"t must hold the 2 targets"),
    (dict(x=[1.0, 2.0], t=[0, 1], w=[0] * 8, dtype="int32"), r"dtype must be a floating type"),
])
def test_bad_input_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        manual.backprop(**kwargs)


def test_train_rejects_fractional_epochs():
    with pytest.raises(ValueError, match="epochs"):
        manual.train([[1.0, 2.0]], [[0.0, 1.0]], [0.0] * 8, 0.1, 2.5)


def _inputs_003():
    import fixtures
    for record in fixtures.load():
        if record.source.startswith("003_") and "instance1" in record.inputs:
            return record.inputs
    raise LookupError("003's input sets are missing from fixtures/")


@pytest.mark.parametrize("name", ["instance1", "instance1_tweaked"])
def test_all_ways_lead_to_rome_on_003s_network(name):
    """003's claim as stated: on its own network the three routes agree to 1e-15 of the gradient."""
    v = _inputs_003()[name].values
    x, t, w = np.array(v["x"]), np.array(v["t"]), np.array(v["w"])
    by_hand = np.array(manual.gradients(x, t, w))
    graph = network_222_graph(x, t, w)
    g = mlp.loss_and_gradients(x[None, :], t[None, :], (w[:4].reshape(2, 2), w[4:].reshape(2, 2)))
    scale = np.max(np.abs(by_hand))
    for route in (graph["gradient"], graph["gradient_forward"], np.concatenate([d.ravel() for d in g.dWs])):
        assert np.max(np.abs(np.array(route) - by_hand)) / scale <= 1e-15


# reference/protocol.py's function for this system: the conformance tests call it in a worker
# process, where mutation testing cannot see the call, so it is also called here, in process.
def test_protocol_manual_functions_are_the_222_network():
    x, t, w = [1.0, -0.5], [0.0, 1.0], np.linspace(-0.4, 0.4, 8)
    assert protocol.forward(x, w) == manual.forward(x, w)
    assert protocol.gradients(x, t, w) == manual.gradients(x, t, w)
    assert len(protocol.gradients(x, t, w)) == 8


def test_manual_forward_keeps_the_requested_dtype():
    x, w = [1.0, -0.5], np.linspace(-0.4, 0.4, 8)
    y32 = manual.forward(x, w, dtype="float32")
    assert all(np.asarray(y).dtype == np.float32 for y in y32)
    p = manual.backprop(x, [0.0, 1.0], w, dtype="float32")
    assert y32 == (p.y1_out, p.y2_out)
    loss32 = manual.loss(x, [0.0, 1.0], w, dtype="float32")
    assert np.asarray(loss32).dtype == np.float32 and loss32 == p.loss


def test_manual_backprop_pre_activations_and_input_gradient():
    x, t, w = np.array([0.5, -1.0]), np.array([1.0, 0.0]), np.linspace(-0.7, 0.7, 8)   # no zero weight
    w11, w12, w21, w22, v11, v12, v21, v22 = w
    p = manual.backprop(x, t, w)
    assert (p.h1_in, p.h2_in) == pytest.approx((w11 * x[0] + w21 * x[1], w12 * x[0] + w22 * x[1]), rel=1e-15)
    assert (p.y1_in, p.y2_in) == pytest.approx((v11 * p.h1_out + v21 * p.h2_out, v12 * p.h1_out + v22 * p.h2_out),
                                               rel=1e-15)
    # the chain rule's middle link: dL/dw_ij = dL/dhj_in * xi
    assert (p.grad_w11, p.grad_w21, p.grad_w12, p.grad_w22) == \
        (p.grad_h1_in * x[0], p.grad_h1_in * x[1], p.grad_h2_in * x[0], p.grad_h2_in * x[1])
    eps = 1e-6                          # dL/dx against central differences of the loss
    for i, grad in enumerate((p.grad_x1, p.grad_x2)):
        step = np.eye(2)[i] * eps
        fd = (manual.loss(x + step, t, w) - manual.loss(x - step, t, w)) / (2 * eps)
        assert grad == pytest.approx(fd, rel=1e-6)


def test_manual_instances_must_be_rows_of_two():
    w = np.zeros(8)
    for X, T in [(np.ones((3, 3)), np.ones((3, 3))), (np.ones((3, 2)), np.ones((3, 3))),
                 (np.ones(2), np.ones(2)), (np.ones((1, 2, 2)), np.ones((1, 2, 2)))]:
        with pytest.raises(ValueError, match=r"X and T must both have shape \(n, 2\)"):
            manual.gd_step(X, T, w, 0.1)


def test_manual_train_keeps_the_requested_dtype():
    X, T = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    w = np.linspace(-0.4, 0.4, 8)
    trained = manual.train(X, T, w, 0.5, epochs=2, dtype="float32")
    assert trained.dtype == np.float32
    step = manual.gd_step(X, T, manual.gd_step(X, T, w, 0.5, "float32"), 0.5, "float32")
    np.testing.assert_array_equal(trained, step)


def test_manual_gd_step_in_float32_sums_float32_gradients():
    # (this seed: 3 of the 8 weights differ from a step that computed the gradients in float64)
    rng = np.random.default_rng(8)
    X, T, w = rng.normal(size=(6, 2)), rng.uniform(size=(6, 2)), rng.normal(size=8)
    total = sum(np.array(manual.gradients(x, t, w, "float32")) for x, t in zip(X, T))
    assert total.dtype == np.float32
    step = manual.gd_step(X, T, w, 0.5, "float32")
    assert step.dtype == np.float32
    np.testing.assert_array_equal(step, w.astype(np.float32) - 0.5 * total)
