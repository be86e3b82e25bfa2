"""Buggy: the hidden bias gradient is summed over the wrong axis: ``grad_zh.sum(axis=1)``.

The student wrote ``grad_b1 = grad_zh.sum(axis=1)`` ("sum over the hidden units"), while
000's ``grad_b2 = grad_zpred.sum(axis=0)`` on the line above sums over the batch: each
bias is added to every row of the batch, so its gradient is the column sum, axis 0.
With axis 1 the result has one entry per *instance*, shape (n,) instead of (h,): wrong
shape unless the batch size equals the number of hidden units, wrong values when it
does. Every other gradient is right.
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "b1 gradient summed over axis 1 (the hidden units) instead of axis 0 (the batch)",
       "fails": ["shapes and dtypes"], "diagnosis": None,
       "truth": {"wrong": ["b1"], "layer": 1, "op": None, "operand": None,
                 "pattern": "summed over the wrong axis (one entry per instance)",
                 "looks_like": None}}


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    ex = np.exp(x)
    return ex / np.sum(ex, axis=-1, keepdims=True)


def softmax_gradients(X, Y, W1, b1, W2, b2):
    zh = np.dot(X, W1) + b1
    h = sigmoid(zh)
    zpred = np.dot(h, W2) + b2
    pred = softmax(zpred)
    logp = zpred - np.max(zpred, axis=-1, keepdims=True)
    logp = logp - np.log(np.sum(np.exp(logp), axis=-1, keepdims=True))
    loss = -np.sum(Y * logp)

    grad_zpred = pred - Y
    grad_h = np.dot(grad_zpred, W2.T)
    grad_w2 = np.dot(h.T, grad_zpred)
    grad_b2 = np.sum(grad_zpred, axis=0)
    grad_zh = grad_h * h * (1 - h)
    grad_w1 = np.dot(X.T, grad_zh)
    grad_b1 = np.sum(grad_zh, axis=1)
    return loss, {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}
