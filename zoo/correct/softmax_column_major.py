"""Correct: 000's softmax network written column-major: examples as columns, W @ A + b, (d, 1) biases.

Style: the layout of 001 and Nielsen applied to 000's network: X is (d, n) with one
instance per column, W1 is (h, d), W2 is (k, h), the biases are columns (h, 1) and
(k, 1), the one-hot targets Y are (k, n), and the softmax normalises each column
(axis 0). The backward pass is 000's transposed: dZ2 = P - Y, dW2 = dZ2 @ H.T,
db2 = the row sums of dZ2 kept as a column, dH = W2.T @ dZ2, and so on. Declared with
``CONVENTIONS = {"softmax": {"layout": "column"}}`` (the column bias is that layout's
default). Log-probabilities by the log-sum-exp over each column.
"""
import numpy as np

ZOO = {"systems": ["softmax"], "style": "column-major layout, (d, 1) biases, softmax over axis 0"}

CONVENTIONS = {"softmax": {"layout": "column"}}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def log_softmax_columns(Z):
    shifted = Z - Z.max(axis=0, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))


def softmax_gradients(X, Y, W1, b1, W2, b2):
    Z1 = W1 @ X + b1              # (h, n)
    H = sigmoid(Z1)
    Z2 = W2 @ H + b2              # (k, n)
    logP = log_softmax_columns(Z2)
    P = np.exp(logP)
    loss = -np.sum(Y * logP)

    dZ2 = P - Y                   # (k, n)
    dW2 = dZ2 @ H.T               # (k, h)
    db2 = dZ2.sum(axis=1, keepdims=True)
    dH = W2.T @ dZ2               # (h, n)
    dZ1 = dH * H * (1.0 - H)
    dW1 = dZ1 @ X.T               # (h, d)
    db1 = dZ1.sum(axis=1, keepdims=True)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
