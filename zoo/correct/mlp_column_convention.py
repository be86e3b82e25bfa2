"""Correct: 001's column convention: examples as columns, W_l @ a_{l-1} + b_l, C = 1/(2n) sum ||a_L - y||^2.

Style: 001's derivation coded as it reads once its errata are fixed: X is (d0, n),
W_l is (d_l, d_{l-1}), b_l is (d_l, 1); delta_L = (a_L - y) * sigma'(z_L) / n with
sigma'(z) = a(1 - a) taken at the activation, delta_l = W_{l+1}^T delta_{l+1} * a_l(1 - a_l),
dC/dW_l = delta_l a_{l-1}^T and dC/db_l = the sum of delta_l's columns.
Declares the column layout and the half-mean loss.
"""
import numpy as np

ZOO = {"systems": ["mlp"], "style": "001's column convention, half-mean loss"}

CONVENTIONS = {"mlp": {"layout": "column", "loss": "half_mean"}}


def sigma(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_gradients(X, Y, W, b):
    n = X.shape[1]
    L = len(W)
    a = [X]                                   # a[0] = x, a[l] = sigma(W_l a_{l-1} + b_l)
    for l in range(L):
        a.append(sigma(W[l] @ a[l] + b[l]))
    C = np.sum((a[L] - Y) ** 2) / (2 * n)

    dW = [None] * L
    db = [None] * L
    delta = (a[L] - Y) * a[L] * (1 - a[L]) / n        # delta_L
    for l in range(L, 0, -1):
        dW[l - 1] = delta @ a[l - 1].T                 # delta_l a_{l-1}^T
        db[l - 1] = delta.sum(axis=1, keepdims=True)
        if l > 1:
            delta = (W[l - 1].T @ delta) * a[l - 1] * (1 - a[l - 1])   # W_{l+1}^T delta_{l+1}
    return C, dW, db
