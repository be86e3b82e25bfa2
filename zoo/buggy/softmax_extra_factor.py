"""Buggy: an extra P(1 - P) factor on the softmax / cross-entropy gradient.

The student treated the softmax like the sigmoid layers and multiplied its "derivative"
in: ``grad_zpred = (pred - y) * pred * (1 - pred)``. But 000's ``pred - y`` already is
the gradient of the cross-entropy with respect to the logits (the softmax's Jacobian
and the log's 1/p cancel to give exactly that); the extra elementwise factor, besides,
is only the diagonal of the softmax's Jacobian.
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "extra P(1 - P) factor on dZ",
       "fails": ["oracles"], "diagnosis": "softmax_extra_factor"}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def softmax_gradients(X, Y, W1, b1, W2, b2):
    Z1 = X @ W1 + b1
    H = sigmoid(Z1)
    Z2 = H @ W2 + b2
    P = softmax(Z2)
    logp = Z2 - Z2.max(axis=1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))
    loss = -np.sum(Y * logp)

    dZ2 = (P - Y) * P * (1 - P)
    dW2 = H.T @ dZ2
    db2 = dZ2.sum(axis=0)
    dH = dZ2 @ W2.T
    dZ1 = dH * H * (1 - H)
    dW1 = X.T @ dZ1
    db1 = dZ1.sum(axis=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
