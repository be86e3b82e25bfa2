"""Buggy: computed in float32 (converted to float only at the end).

The student cast everything to ``np.float32`` ("that is what GPUs use"):
``w = np.asarray(w, dtype=np.float32)`` before reshaping it into W and V, x and t
likewise, then returned ``[float(g) for g in ...]`` so the dtype looks right. The
arithmetic is the correct backward pass, but float32 carries about 7 significant
digits: the gradients are right to ~1e-7 relative, not to float64's ~1e-16, and tiny
entries next to large ones (003's dL/dw11 = -5e-8 beside dL/dv11 = -0.1) are lost.
"""
import numpy as np

ZOO = {"system": "manual_222", "mistake": "float32 arithmetic, converted to float at the end", "fails": ["oracles"], "diagnosis": "float32"}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def unpack(w):
    """003's w = [w11, w12, w21, w22, v11, v12, v21, v22] as the matrices W and V of its
    numpy code: W[i, j] = w_(i+1)(j+1) connects input i to hidden unit j (h_in = x @ W)."""
    w = np.asarray(w, dtype=np.float32)
    W = w[:4].reshape(2, 2)
    V = w[4:].reshape(2, 2)
    return W, V


def forward(x, w):
    W, V = unpack(w)
    h = sigmoid(np.asarray(x, dtype=np.float32) @ W)
    y = sigmoid(h @ V)
    return float(y[0]), float(y[1])


def gradients(x, t, w):
    x = np.asarray(x, dtype=np.float32)
    t = np.asarray(t, dtype=np.float32)
    W, V = unpack(w)

    # forward
    h = sigmoid(x @ W)
    y = sigmoid(h @ V)

    # backward, L = sum((y - t)^2)
    grad_y = 2 * (y - t)
    delta_y = (y * (1 - y)) * grad_y        # dL/dy_in
    grad_V = np.outer(h, delta_y)           # grad_V[i, j] = h_i * delta_y_j
    grad_h = V @ delta_y                    # dL/dh_i = sum_j v_ij delta_y_j
    delta_h = (h * (1 - h)) * grad_h        # dL/dh_in
    grad_W = np.outer(x, delta_h)           # grad_W[i, j] = x_i * delta_h_j

    return [float(g) for g in np.concatenate([grad_W.ravel(), grad_V.ravel()])]
