"""Buggy: the hidden error propagated back through V instead of V^T.

003 notes that "the backward pass to the hidden activation looks similar to the
forward pass", and the student copied the forward pass ``h @ V`` literally:
``grad_h = delta_y @ V``. In scalars that is dL/dh1 = delta_y1 v11 + delta_y2 v21,
with v21 where v12 belongs: h1 reaches y1 through v11 and y2 through v12, so the
error must come back through V^T (``V @ delta_y``, i.e. ``delta_y @ V.T``). The
output layer's gradients are right; the first layer's are wrong unless V is
symmetric.
"""
import numpy as np

ZOO = {"system": "manual_222", "mistake": "hidden error through V instead of V^T", "fails": ["oracles", "worked examples"], "diagnosis": "weight_not_transposed"}


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
    grad_h = delta_y @ V                    # back through V, like the forward pass h @ V
    delta_h = (h * (1 - h)) * grad_h        # dL/dh_in
    grad_W = np.outer(x, delta_h)           # grad_W[i, j] = x_i * delta_h_j

    return np.concatenate([grad_W.ravel(), grad_V.ravel()])
