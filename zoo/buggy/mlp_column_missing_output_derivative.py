"""Buggy: the output layer's sigmoid derivative is missing from the error signal (001's column convention).

Written in 001's notation: X is (d0, n), W_l is (d_l, d_{l-1}), b_l is (d_l, 1),
C = 1/(2n) sum ||a_L - y||^2. The student wrote ``delta = (a[-1] - Y) / n``, the
error as for a linear (or softmax / cross-entropy) output, dropping the factor
sigma'(z_L) = a_L(1 - a_L) of 001's delta_L = (a_L - y) * sigma'(z_L). The hidden
layers do multiply by a(1 - a); only the output layer's factor is missing.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "output sigmoid derivative missing (column convention)",
       "fails": ["oracles"], "diagnosis": "missing_output_derivative"}

CONVENTIONS = {"mlp": {"layout": "column", "loss": "half_mean"}}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_gradients(X, Y, weights, biases):
    n = X.shape[1]
    a = [X]
    for W, b in zip(weights, biases):
        a.append(sigmoid(W @ a[-1] + b))
    cost = np.sum((a[-1] - Y) ** 2) / (2 * n)

    L = len(weights)
    nabla_W = [None] * L
    nabla_b = [None] * L
    delta = (a[-1] - Y) / n
    for l in range(L - 1, -1, -1):
        nabla_W[l] = delta @ a[l].T
        nabla_b[l] = np.sum(delta, axis=1, keepdims=True)
        if l > 0:
            delta = (weights[l].T @ delta) * a[l] * (1 - a[l])
    return cost, nabla_W, nabla_b
