"""Buggy: the probabilities are clipped to [1e-15, 1 - 1e-15] before the log: the loss is capped at 34.5.

The student protected the log against zeros the way Keras and many tutorials do,
``pred = np.clip(pred, 1e-15, 1 - 1e-15)`` and ``-np.sum(y * np.log(pred))``. On
ordinary logits nothing is clipped and everything is right (the gradient ``pred - y`` is
computed from the unclipped probabilities and is right everywhere). But where the
target's probability underflows (a wrong class ahead by hundreds), the true loss is the
logit gap, e.g. 1000, and this one stops at -log(1e-15) = 34.54: the loss the function
returns no longer matches its gradient or the truth. The log-sum-exp,
``z - max - log(sum(exp(z - max)))``, gives the log-probabilities without dividing
and without a floor.
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "log of probabilities clipped at 1e-15 (loss capped at 34.5 at extreme logits)",
       "fails": ["extreme inputs"], "diagnosis": None,
       "truth": {"wrong": [], "layer": None, "op": None, "operand": None,
                 "pattern": "loss capped at -log(1e-15) where the target's probability underflows; gradients right",
                 "looks_like": None}}


def sigmoid(x):
    return 1. / (1. + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(pred, y, eps=1e-15):
    pred = np.clip(pred, eps, 1 - eps)
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
    grad_zh = grad_h * h * (1 - h)
    grad_w1 = X.T.dot(grad_zh)
    grad_b1 = grad_zh.sum(axis=0)
    return loss, {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}
