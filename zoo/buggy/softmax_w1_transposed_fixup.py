"""Buggy: the W1 gradient is transposed, and a shape fix-up hides it except when W1 is square.

The student wrote ``grad_w1 = grad_zh.T.dot(X)`` and, when the shapes did not match
W1's, ``if grad_w1.shape != w1.shape: grad_w1 = grad_w1.T``. With as many inputs as
hidden units (d == h) the shapes agree already and the transpose of the gradient,
grad_zh^T X instead of X^T grad_zh, is returned; otherwise the fix-up makes it right.
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "W1 gradient transposed, fixed up where shapes differ",
       "fails": ["oracles"], "diagnosis": "transposed"}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_gradients(X, Y, W1, b1, W2, b2):
    w1, w2 = W1, W2
    zh = X.dot(w1) + b1
    h = sigmoid(zh)
    zpred = h.dot(w2) + b2
    pred = softmax(zpred)
    loss = -np.sum(Y * np.log(pred))

    grad_zpred = pred - Y
    grad_h = grad_zpred.dot(w2.T)
    grad_w2 = h.T.dot(grad_zpred)
    grad_b2 = grad_zpred.sum(axis=0)
    grad_zh = grad_h * h * (1 - h)
    grad_w1 = grad_zh.T.dot(X)
    if grad_w1.shape != w1.shape:
        grad_w1 = grad_w1.T
    grad_b1 = grad_zh.sum(axis=0)
    return loss, {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}
