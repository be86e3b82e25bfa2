"""Buggy: 000's ``sigmoid(h, deriv=True)`` with a derivative branch that applies the sigmoid again.

000 writes ``grad_zh = grad_h * sigmoid(h, deriv=True)`` and never shows the helper.
The student wrote the textbook derivative, ``s = 1 / (1 + np.exp(-x)); return s * (1 - s)``
for ``deriv=True``: sigma'(x) as a function of the pre-activation x. But 000 passes h,
which already is sigmoid(zh), so the result is sigmoid(h)(1 - sigmoid(h)), the sigmoid
applied twice; the right factor is h * (1 - h).
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "hidden derivative sigmoid'(h) on the activation (sigmoid twice)",
       "fails": ["oracles"], "diagnosis": "double_sigmoid"}


def sigmoid(x, deriv=False):
    s = 1 / (1 + np.exp(-x))
    if deriv:
        return s * (1 - s)
    return s


def softmax(x):
    x = x - np.max(x, axis=1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True)


def cross_entropy(pred, y):
    return -np.sum(y * np.log(pred))


def softmax_gradients(X, Y, W1, b1, W2, b2):
    zh = X.dot(W1) + b1
    h = sigmoid(zh)
    zpred = h.dot(W2) + b2
    pred = softmax(zpred)
    loss = cross_entropy(pred, Y)

    grad_zpred = pred - Y
    grad_h = grad_zpred.dot(W2.T)
    grad_w2 = h.T.dot(grad_zpred)
    grad_b2 = grad_zpred.sum(axis=0)
    grad_zh = grad_h * sigmoid(h, deriv=True)
    grad_w1 = X.T.dot(grad_zh)
    grad_b1 = grad_zh.sum(axis=0)
    return loss, {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}
