"""Correct: 003's 2-2-2 network with each of the 8 partials as one closed-form expression, returned as a dict.

Style: the derivatives worked out on paper once and typed in, no backward pass: with
s(z) = sigmoid(z), s'(z) = s(z)(1 - s(z)), h_j = s(x1 w1j + x2 w2j) and
y_k = s(h1 v1k + h2 v2k),

    dL/dv_jk = 2 (y_k - t_k) s'(y_k in) h_j
    dL/dw_ij = x_i s'(h_j in) [2 (y1 - t1) s'(y1 in) v_j1 + 2 (y2 - t2) s'(y2 in) v_j2]

each written out in full for its own indices (the helper names are only the forward
pass's values). The answer is a dict keyed "w11" ... "v22", which the protocol accepts
as well as a list in 003's order.
"""
import math

ZOO = {"systems": ["manual_222"], "style": "closed-form partials typed in one by one, dict answer"}


def s(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def forward(x, w):
    w11, w12, w21, w22, v11, v12, v21, v22 = (float(u) for u in w)
    x1, x2 = float(x[0]), float(x[1])
    h1, h2 = s(x1 * w11 + x2 * w21), s(x1 * w12 + x2 * w22)
    return s(h1 * v11 + h2 * v21), s(h1 * v12 + h2 * v22)


def gradients(x, t, w):
    w11, w12, w21, w22, v11, v12, v21, v22 = (float(u) for u in w)
    x1, x2 = float(x[0]), float(x[1])
    t1, t2 = float(t[0]), float(t[1])
    h1, h2 = s(x1 * w11 + x2 * w21), s(x1 * w12 + x2 * w22)
    y1, y2 = s(h1 * v11 + h2 * v21), s(h1 * v12 + h2 * v22)
    return {
        "v11": 2 * (y1 - t1) * y1 * (1 - y1) * h1,
        "v21": 2 * (y1 - t1) * y1 * (1 - y1) * h2,
        "v12": 2 * (y2 - t2) * y2 * (1 - y2) * h1,
        "v22": 2 * (y2 - t2) * y2 * (1 - y2) * h2,
        "w11": x1 * h1 * (1 - h1) * (2 * (y1 - t1) * y1 * (1 - y1) * v11 + 2 * (y2 - t2) * y2 * (1 - y2) * v12),
        "w21": x2 * h1 * (1 - h1) * (2 * (y1 - t1) * y1 * (1 - y1) * v11 + 2 * (y2 - t2) * y2 * (1 - y2) * v12),
        "w12": x1 * h2 * (1 - h2) * (2 * (y1 - t1) * y1 * (1 - y1) * v21 + 2 * (y2 - t2) * y2 * (1 - y2) * v22),
        "w22": x2 * h2 * (1 - h2) * (2 * (y1 - t1) * y1 * (1 - y1) * v21 + 2 * (y2 - t2) * y2 * (1 - y2) * v22),
    }
