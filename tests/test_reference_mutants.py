"""Properties of reference/ that the rest of the suite does not pin down, found by
mutation testing (docs/mutation-testing.md): each test here fails on at least one
mutant that survived the suite. They check values, argument checks, messages and
edge cases of the reference, computed independently where a value is checked.
All fast (no Hypothesis) and deterministic (fixed inputs, seeded generators)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from reference import activations, errata, manual, mlp, protocol, replays, softmax
from reference.engine import Value, forward_tangents, gradient_forward, gradient_magnitude, gradient_reverse


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


# --- reference/protocol.py ------------------------------------------------------------------
# The conformance tests call these in a worker process, where mutmut's stats cannot see
# the calls: here they are called in process, against the functions they expose.

def test_protocol_manual_functions_are_the_222_network():
    x, t, w = [1.0, -0.5], [0.0, 1.0], np.linspace(-0.4, 0.4, 8)
    assert protocol.forward(x, w) == manual.forward(x, w)
    assert protocol.gradients(x, t, w) == manual.gradients(x, t, w)
    assert len(protocol.gradients(x, t, w)) == 8


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


# --- reference/engine.py ----------------------------------------------------------------------

def test_value_repr_shows_label_data_and_grad():
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    v = Value(-1.5, label="w11")
    v.grad = 3.0
    assert repr(v) == "Value(w11: data=-1.5, grad=3.0)"


def test_value_division_by_zero_and_log_of_zero_say_so():
    with pytest.raises(ZeroDivisionError, match="^Value division by a Value whose data is 0$"):
        Value(1.0) / Value(0.0)
    with pytest.raises(ValueError, match=r"^Value.log needs a positive argument, got 0.0$"):
        Value(0.0).log()


def test_value_power_exponents_and_the_base_zero():
    for k, name in [(True, "bool"), ("2", "str"), (Value(2.0), "Value")]:
        with pytest.raises(TypeError, match=rf"^Value \*\* k needs a constant int or float exponent, got {name}; "
                                            r"write \(k \* x.log\(\)\).exp\(\) for a variable exponent$"):
            Value(2.0) ** k
    for k in (1, 1.5, 2):                       # at 0: finite power and derivative for k >= 1
        x = Value(0.0)
        y = x ** k
        y.backward()
        assert (y.data, x.grad) == (0.0, 1.0 if k == 1 else 0.0)
    for base in (0.0, 2.0, -3.0):              # x ** 0 = 1 is flat everywhere, at 0 too
        x = Value(base)
        y = x ** 0
        y.backward()
        assert (y.data, x.grad) == (1.0, 0.0)
    for k in (-1, 0.5):
        with pytest.raises(ZeroDivisionError, match=rf"^Value \*\* {k} at 0: the power or its derivative is infinite$"):
            Value(0.0) ** k
    x = Value(1.0)
    y = x ** 0.5                               # base 1 is no special case
    y.backward()
    assert (y.data, x.grad) == (1.0, 0.5)


def test_relu_subgradient_at_the_kink_is_zero():
    x = Value(0.0)
    r = x.relu()
    r.backward()
    assert (r.data, x.grad) == (0.0, 0.0)


def test_gradient_reverse_reports_the_output_value():
    x, y = Value(1.5), Value(-2.0)
    f = x * y + x
    r = gradient_reverse(f, [x, y])
    assert (r.value, r.gradient, r.passes) == (-1.5, (-1.0, 1.5), 1)


def test_value_type_errors_name_the_type():
    with pytest.raises(TypeError, match=r"^cannot combine Value with str 'a'; expected a Value, int or float$"):
        Value(1.0) + "a"
    with pytest.raises(TypeError, match=r"^Value data must be a real number, got str 'a'$"):
        Value("a")


def test_forward_mode_treats_a_seeded_inner_node_as_an_input():
    a, b, y = Value(1.0), Value(2.0), Value(4.0)
    x = a + b
    f = x * y
    tangents = forward_tangents(f, {id(x): 1.0})          # df/dx = y, whatever a and b do
    assert (tangents[id(f)], tangents[id(a)]) == (4.0, 0.0)
    r = gradient_forward(f, [a, y])
    assert (r.value, r.gradient, r.passes) == (12.0, (4.0, 3.0), 2)


def test_gradient_magnitude_sums_absolute_path_products():
    a, b, unused = Value(2.0), Value(-3.0), Value(5.0)
    f = a * b + a                      # paths to a: |b| * 1 and 1; to b: |a|
    assert gradient_magnitude(f, [a, b, unused]) == (4.0, 2.0, 0.0)   # not in the graph: 0
    g = a - a                          # the gradient cancels, the magnitude does not
    assert gradient_magnitude(g, [a]) == (2.0,)


# --- reference/softmax.py ---------------------------------------------------------------------

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


# --- reference/activations.py ------------------------------------------------------------------

def test_sigmoid_prime_of_the_pre_activation():
    z = np.array([0.0, 2.0, -3.0])
    s = 1.0 / (1.0 + np.exp(-z))
    np.testing.assert_allclose(activations.sigmoid_prime(z), s * (1.0 - s), rtol=1e-15)
    assert activations.sigmoid_prime(0.0) == 0.25


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_and_identity_derivatives_keep_shape_and_dtype(dtype):
    a = np.array([[-1.0, 0.0], [2.0, 0.5]], dtype=dtype)
    relu_prime = activations.activation("relu")[1](a)
    identity_prime = activations.activation("identity")[1](a)
    assert relu_prime.dtype == dtype and identity_prime.dtype == dtype
    np.testing.assert_array_equal(relu_prime, [[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(identity_prime, np.ones((2, 2)))


# --- reference/manual.py -----------------------------------------------------------------------

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


# --- reference/mlp.py --------------------------------------------------------------------------

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


def test_sigmoid_of_small_integers_and_of_large_negative_inputs():
    for dtype in (np.int8, np.int16, np.int64, bool):              # np.exp of int8 is float16: 3 digits
        out = activations.sigmoid(np.array([0, 1], dtype=dtype))
        assert out.dtype == np.float64
        assert out.tolist() == [0.5, 1.0 / (1.0 + math.exp(-1.0))]  # every digit
    assert activations.sigmoid(np.float32(2)).dtype == np.float32
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")                             # e^1000 overflows: silenced, not warned
        assert activations.sigmoid(np.array([-1000.0]))[0] == 0.0


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


# --- reference/replays.py ----------------------------------------------------------------------

def test_chain_rule_rates_keep_their_units():
    # 10 km/h per 2 mm of pedal; 3 g of CO2 per 5 km/h: 0.6 g per km/h, 6 g per step, 3 g per mm
    r = replays.chain_rule_rates(pedal_step=2.0, speed_gain=10.0, speed_step=5.0, co2_gain=3.0)
    assert r == pytest.approx({"dco2_dspeed": 0.6, "co2_per_pedal_step": 6.0, "co2_per_mm": 3.0}, rel=1e-15)


def test_graph_002_in_both_modes():
    # f = (a + b)(b + c) at (1, 2, 3): x = 3, y = 5; df/da = y, df/db = x + y, df/dc = x
    r = replays.graph_002(1.0, 2.0, 3.0)
    assert (r["x"], r["y"], r["f"]) == (3.0, 5.0, 15.0)
    assert (r["df_da"], r["df_db"], r["df_dc"]) == (5.0, 8.0, 3.0)
    assert r["forward_gradient"] == (5.0, 8.0, 3.0)
    assert (r["passes_reverse"], r["passes_forward"], r["speedup"]) == (1, 3, 3.0)


def test_product_replay():
    assert replays.product(3.0, -2.0) == {"f": -6.0, "df_dx": -2.0, "df_dy": 3.0}


def test_squared_error_1d_without_and_with_a_step():
    # y = w x = 6, L = (6 - 1)^2 = 25, dL/dw = 2 x (w x - t) = 30
    assert replays.squared_error_1d(2.0, 3.0, 1.0) == {"y": 6.0, "loss": 25.0, "dloss": 30.0}   # default: no step
    r = replays.squared_error_1d(2.0, 3.0, 1.0, delta=0.5)    # y = 7.5, L = 42.25
    assert r["loss_shifted"] == 42.25 and r["loss_change"] == 17.25 and r["quotient"] == 34.5


def test_vectorized_003_names_the_hidden_layer():
    X, T = np.array([[1.0, 0.0], [0.5, -1.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    W, V = np.array([[0.5, -0.25], [1.0, 0.75]]), np.array([[-0.5, 0.25], [0.125, 1.0]])
    r = replays.vectorized_003(X, T, W, V)
    H = _sigmoid(X @ W)
    np.testing.assert_allclose(r["H"], H, rtol=1e-15)
    np.testing.assert_allclose(r["Y"], _sigmoid(H @ V), rtol=1e-15)
    np.testing.assert_allclose(r["L"], np.sum((r["Y"] - T) ** 2, axis=1, keepdims=True), rtol=1e-14)


def test_training_step_003_sums_the_two_instances():
    X1, T1, X2, T2 = [[1.0, 0.5]], [[1.0, 0.0]], [[-0.5, 1.0]], [[0.0, 1.0]]
    W, V = np.array([[0.5, -0.25], [0.125, 0.75]]), np.array([[-0.5, 1.0], [0.25, -0.75]])
    r = replays.training_step_003(X1, T1, X2, T2, W, V, 0.5)
    np.testing.assert_array_equal(r["g_W"], r["g_W_1"] + r["g_W_2"])
    np.testing.assert_array_equal(r["g_V"], r["g_V_1"] + r["g_V_2"])
    g1 = mlp.loss_and_gradients(np.array(X1), np.array(T1), (W, V))
    g2 = mlp.loss_and_gradients(np.array(X2), np.array(T2), (W, V))
    np.testing.assert_allclose(r["g_W"], g1.dWs[0] + g2.dWs[0], rtol=1e-14)
    np.testing.assert_allclose(r["W"], W - 0.5 * (g1.dWs[0] + g2.dWs[0]), rtol=1e-14)
    np.testing.assert_allclose(r["V"], V - 0.5 * (g1.dWs[1] + g2.dWs[1]), rtol=1e-14)


def test_training_003_from_integer_weights():
    X, T = [[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]
    W, V = [[1, 0], [0, 1]], [[0, 1], [1, 0]]          # integers: the loop must not update them in place
    r = replays.training_003(X, T, W, V, alpha=0.5, epochs=1)
    Wf, Vf = np.array(W, dtype=float), np.array(V, dtype=float)
    g = mlp.loss_and_gradients(np.array(X), np.array(T), (Wf, Vf))   # SSE: the batch gradient is the sum
    np.testing.assert_allclose(r["W"], Wf - 0.5 * g.dWs[0], rtol=1e-14)
    np.testing.assert_allclose(r["V"], Vf - 0.5 * g.dWs[1], rtol=1e-14)
    for x, y in zip(X, r["outputs"]):
        np.testing.assert_allclose(y, _sigmoid(_sigmoid(np.array(x) @ r["W"]) @ r["V"]), rtol=1e-14)


# --- reference/errata.py -----------------------------------------------------------------------

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
