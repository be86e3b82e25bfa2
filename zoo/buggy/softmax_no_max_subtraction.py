"""Buggy: softmax without subtracting each row's maximum: exp overflows at large logits.

The student wrote the softmax straight from its definition,
``exps = np.exp(zpred); pred = exps / exps.sum(axis=1, keepdims=True)``. Right in
exact arithmetic, but np.exp(710) is inf in float64: with logits in the hundreds
pred becomes inf / inf = nan (or 0 where the row's logits are very negative), and
the loss and gradients with it. Subtracting the row's maximum first changes nothing
mathematically and keeps every exponent <= 0.
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "softmax without max-subtraction (overflow)",
       "fails": ["extreme inputs"], "diagnosis": "softmax_overflow"}


def sigmoid(x, deriv=False):
    if deriv:
        return x * (1 - x)          # x is already sigmoid(z)
    return 1 / (1 + np.exp(-x))


def softmax(x):
    exps = np.exp(x)
    return exps / exps.sum(axis=1, keepdims=True)


def cross_entropy(pred, y):
    return -np.sum(np.log(pred[y.astype(bool)]))


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
