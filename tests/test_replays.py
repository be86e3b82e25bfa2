"""The posts' worked examples as reference/replays.py replays them: each value computed
independently here (the values the posts print are checked in test_fixtures.py)."""
from __future__ import annotations

import numpy as np
import pytest

from reference import mlp, replays


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


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
