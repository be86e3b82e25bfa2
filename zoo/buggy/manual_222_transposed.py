"""Buggy: the first layer's weight gradient comes out transposed (w12 and w21 swapped).

The student built the first-layer gradient as ``grad_W = np.outer(delta_h, x)``,
i.e. grad_W[i, j] = delta_h_i * x_j, where 003's W[i, j] connects input i to hidden
unit j and needs ``np.outer(x, delta_h)``. For the square 2x2 layer the shapes
still fit, so nothing complains: dL/dw12 and dL/dw21 come out swapped. The
output layer's ``np.outer(h, delta_y)`` is right.
"""
import numpy as np

ZOO = {"system": "manual_222", "mistake": "first-layer gradient transposed (w12/w21 swapped)", "fails": ["oracles", "worked examples"], "diagnosis": "transposed"}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def unpack(w):
    """003's w = [w11, w12, w21, w22, v11, v12, v21, v22] as the matrices W and V of its
    numpy code: W[i, j] = w_(i+1)(j+1) connects input i to hidden unit j (h_in = x @ W)."""
    w = np.asarray(w, dtype=float)
    W = w[:4].reshape(2, 2)
    V = w[4:].reshape(2, 2)
    return W, V


def forward(x, w):
    W, V = unpack(w)
    h = sigmoid(np.asarray(x, dtype=float) @ W)
    y = sigmoid(h @ V)
    return y[0], y[1]


def gradients(x, t, w):
    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
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
    grad_W = np.outer(delta_h, x)           # gradient of W: delta times input

    return np.concatenate([grad_W.ravel(), grad_V.ravel()])
