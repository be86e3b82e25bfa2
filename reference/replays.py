"""The posts' worked examples, replayed step by step with the reference code.

Each function takes the example's inputs (which live in ``fixtures/``) and
returns every quantity the post prints, by the post's name, so that one
fixture record = one (function, inputs, name). No printed number is written
here; the recipes are the posts' own.
"""
from __future__ import annotations

import numpy as np

from reference import manual, mlp
from reference.engine import Value, forward_tangents, gradient_forward, gradient_magnitude, gradient_reverse

__all__ = ["product", "graph_002", "squared_error_1d", "quadratic_003", "chain_rule_rates",
           "network_222_graph", "vectorized_003", "training_step_003", "training_003"]


def product(x, y) -> dict:
    """002's recap: f = x y, so df/dx = y and df/dy = x (by reverse mode)."""
    vx, vy = Value(x), Value(y)
    f = vx * vy
    r = gradient_reverse(f, [vx, vy])
    return {"f": f.data, "df_dx": r.gradient[0], "df_dy": r.gradient[1]}


def graph_002(a, b, c) -> dict:
    """002's graph f = (a+b)(b+c) with x = a+b, y = b+c, in both modes.

    Reverse mode: one pass gives df/da, df/db, df/dc and df/dx, df/dy.
    Forward mode seeded at b: dx/db, dy/db, df/db. Also the passes each mode
    needs for all three input gradients (002's "thrice speedup").
    """
    va, vb, vc = Value(a, label="a"), Value(b, label="b"), Value(c, label="c")
    x = va + vb
    y = vb + vc
    f = x * y
    rev = gradient_reverse(f, [va, vb, vc, x, y])
    tangent = forward_tangents(f, {id(vb): 1.0})
    fwd = gradient_forward(f, [va, vb, vc])
    return {
        "x": x.data, "y": y.data, "f": f.data,
        "df_da": rev.gradient[0], "df_db": rev.gradient[1], "df_dc": rev.gradient[2],
        "df_dx": rev.gradient[3], "df_dy": rev.gradient[4],
        "dx_db": tangent[id(x)], "dy_db": tangent[id(y)], "df_db_forward": tangent[id(f)],
        "forward_gradient": fwd.gradient,
        "passes_reverse": rev.passes, "passes_forward": fwd.passes,
        "speedup": fwd.passes / rev.passes,
    }


def squared_error_1d(w, x, t, delta=0.0) -> dict:
    """003's 1-D model y = w x, L(w) = (y - t)^2, dL/dw = 2x(wx - t) by reverse mode.

    With ``delta``: L at w + delta, the loss change and the difference quotient
    (L(w + delta) - L(w)) / delta that 003 compares with the derivative.
    """
    vw = Value(w)
    y = vw * x
    L = (y - t) ** 2
    L.backward()
    out = {"y": y.data, "loss": L.data, "dloss": vw.grad}
    if delta:
        y_shifted = (w + delta) * x
        loss_shifted = (y_shifted - t) ** 2
        out.update(y_shifted=y_shifted, loss_shifted=loss_shifted,
                   loss_change=loss_shifted - L.data,
                   quotient=(loss_shifted - L.data) / delta)
    return out


def quadratic_003(x, y) -> dict:
    """003's f(x, y) = 3x^2 + 2xy + 5 and its gradient (6x + 2y, 2x), by reverse mode."""
    vx, vy = Value(x), Value(y)
    f = 3 * vx ** 2 + 2 * vx * vy + 5
    r = gradient_reverse(f, [vx, vy])
    return {"f": f.data, "df_dx": r.gradient[0], "df_dy": r.gradient[1]}


def chain_rule_rates(pedal_step, speed_gain, speed_step, co2_gain) -> dict:
    """003's car analogy by the chain rule, with the units kept.

    A pedal step of ``pedal_step`` mm raises the speed by ``speed_gain`` km/h;
    each ``speed_step`` km/h of speed adds ``co2_gain`` g of CO2. Then
    d(CO2)/d(speed) = co2_gain / speed_step (g per km/h) and the CO2 added by
    one pedal step is speed_gain * d(CO2)/d(speed).
    """
    dco2_dspeed = co2_gain / speed_step
    return {"dco2_dspeed": dco2_dspeed, "co2_per_pedal_step": speed_gain * dco2_dspeed,
            "co2_per_mm": speed_gain * dco2_dspeed / pedal_step}


def network_222_graph(x, t, w) -> dict:
    """003's CompNode section: the 2-2-2 network and its SSE loss as a scalar graph.

    Returns the loss, dL/dw for the 8 weights (``grad_w11`` ... ``grad_v22``)
    by one reverse pass, and the same gradient by forward mode, with the
    passes each took (1 against 8); also the summed path magnitudes, the
    scale that bounds the rounding of any route (``engine.gradient_magnitude``).
    """
    x1, x2 = (Value(v) for v in x)
    t1, t2 = t
    ws = [Value(v, label=n) for v, n in zip(w, manual.WEIGHT_NAMES)]
    w11, w12, w21, w22, v11, v12, v21, v22 = ws
    h1 = (x1 * w11 + x2 * w21).sigmoid()
    h2 = (x1 * w12 + x2 * w22).sigmoid()
    y1 = (h1 * v11 + h2 * v21).sigmoid()
    y2 = (h1 * v12 + h2 * v22).sigmoid()
    L = (y1 - t1) ** 2 + (y2 - t2) ** 2
    rev = gradient_reverse(L, ws)
    fwd = gradient_forward(L, ws)
    out = {"loss": L.data, "gradient": rev.gradient, "gradient_forward": fwd.gradient,
           "gradient_magnitude": gradient_magnitude(L, ws),
           "passes_reverse": rev.passes, "passes_forward": fwd.passes}
    out.update({"grad_" + n: g for n, g in zip(manual.WEIGHT_NAMES, rev.gradient)})
    return out


def vectorized_003(X, T, W, V) -> dict:
    """003's vectorized section: forward, per-instance loss and backward for X (n, 2)."""
    cache = mlp.forward(X, (W, V))
    g = mlp.backward(cache, T, "sse")
    H = cache.A[1]
    return {"Y": cache.output, "L": g.loss_per_instance[:, None], "grad_Y_in": g.deltas[1],
            "grad_V": g.dWs[1], "grad_H": g.deltas[1] @ np.asarray(V).T, "grad_W": g.dWs[0],
            "H": H}


def training_step_003(X1, T1, X2, T2, W, V, alpha) -> dict:
    """003's "Applying the gradient updates": gradients of the two instances, summed,
    one step W -= alpha g_W, V -= alpha g_V, then each instance again."""
    net = mlp.NeuralNetwork()
    net.W, net.V = np.array(W, dtype=float), np.array(V, dtype=float)
    out = {}
    grads = []
    for k, (X, T) in enumerate(((X1, T1), (X2, T2)), start=1):
        net.forward(np.array(X, dtype=float))
        grads.append(net.backward(np.array(T, dtype=float)))
        out[f"init_loss_{k}"] = net.L
        out[f"g_W_{k}"], out[f"g_V_{k}"] = grads[-1]
    g_W, g_V = grads[0][0] + grads[1][0], grads[0][1] + grads[1][1]
    net.W = net.W - alpha * g_W
    net.V = net.V - alpha * g_V
    out.update(g_W=g_W, g_V=g_V, W=net.W, V=net.V)
    for k, (X, T) in enumerate(((X1, T1), (X2, T2)), start=1):
        out[f"y_{k}"] = net.forward(np.array(X, dtype=float))
        net.backward(np.array(T, dtype=float))
        out[f"new_loss_{k}"] = net.L
    return out


def training_003(train_X, train_T, W, V, alpha, epochs, warm_start=None) -> dict:
    """003's training loop: ``epochs`` steps on the summed per-instance gradients.

    ``warm_start`` = (X1, T1, X2, T2, alpha0), or false for none: first take 003's single step of
    ``training_step_003`` (the post's code runs the loop on that same ``net``).
    Returns the outputs for each training instance, fed as 1-D arrays as in 003.
    """
    if warm_start:
        step = training_step_003(*warm_start[:4], W, V, warm_start[4])
        W, V = step["W"], step["V"]
    net = mlp.NeuralNetwork()
    net.W, net.V = np.array(W, dtype=float), np.array(V, dtype=float)
    train_X, train_T = np.asarray(train_X, dtype=float), np.asarray(train_T, dtype=float)
    for _ in range(int(epochs)):
        grad_W, grad_V = np.zeros_like(net.W), np.zeros_like(net.V)
        for x, t in zip(train_X, train_T):
            net.forward(x.reshape(1, -1))
            gW, gV = net.backward(t.reshape(1, -1))
            grad_W += gW
            grad_V += gV
        net.W -= alpha * grad_W
        net.V -= alpha * grad_V
    return {"outputs": [net.forward(x) for x in train_X], "W": net.W, "V": net.V}
