"""Correct: the softmax layer differentiated through its full Jacobian, diag(p) - p p^T, row by row.

Style: no shortcut ``pred - y``. For each instance i the gradient of the loss with
respect to the probabilities is -y_i / p_i (zero where y_i is zero), and the chain
rule goes through the softmax's Jacobian J_i = diag(p_i) - p_i p_i^T:
dL/dz_i = J_i^T (dL/dp_i). The log-probabilities are computed with the
log-sum-exp, so the loss stays finite where p underflows; the Jacobian product is
then rewritten per row as p_i * (g_i - p_i . g_i), with g_i * p_i computed as
-y_i exactly (the same as J_i^T g_i, without dividing by a p that underflowed).
"""
import numpy as np

ZOO = {"systems": ["softmax"], "style": "explicit softmax Jacobian diag(p) - p p^T per row"}


def sigmoid(z):
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def softmax_rows(Z):
    shifted = Z - Z.max(axis=1, keepdims=True)
    logsum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    logP = shifted - logsum
    return np.exp(logP), logP


def softmax_jacobian(p):
    """d p / d z for one row: J[a, b] = p_a (delta_ab - p_b)."""
    return np.diag(p) - np.outer(p, p)


def softmax_gradients(X, Y, W1, b1, W2, b2):
    H = sigmoid(X @ W1 + b1)
    Z = H @ W2 + b2
    P, logP = softmax_rows(Z)
    loss = -np.sum(Y * logP)

    n, k = Z.shape
    dZ = np.zeros((n, k))
    for i in range(n):
        J = softmax_jacobian(P[i])
        y = Y[i]
        if np.all(P[i][y != 0] > 1e-300):
            g = np.zeros(k)
            g[y != 0] = -y[y != 0] / P[i][y != 0]       # dL/dp_i
            dZ[i] = J.T @ g                              # chain rule through the Jacobian
        else:
            # p underflowed where y is 1: J^T g with (g * p) = -y, written out
            gp = -y                                      # g_a p_a
            dZ[i] = gp - P[i] * gp.sum()

    dW2 = H.T @ dZ
    db2 = dZ.sum(axis=0)
    dH = dZ @ W2.T
    dZ1 = dH * H * (1.0 - H)
    dW1 = X.T @ dZ1
    db1 = dZ1.sum(axis=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
