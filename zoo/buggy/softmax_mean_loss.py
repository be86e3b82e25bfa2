"""Buggy: 000 literally with a mean loss: cross-entropy averaged, gradients of the sum.

000 never shows ``cross_entropy``; the student wrote the usual one,
``-np.mean(np.sum(y * np.log(pred), axis=1))`` (the loss per instance, for
printing), and kept 000's backward pass ``grad_zpred = pred - y``, which is the
gradient of the *summed* cross-entropy. The gradients are n times the gradient of
the loss the function returns.
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "loss averaged over the batch, gradients of the sum (000)",
       "fails": ["loss consistency"], "diagnosis": "loss_gradient_normalisation"}


def sigmoid(x):
    return 1. / (1. + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(pred, y):
    return -np.mean(np.sum(y * np.log(pred), axis=1))


def softmax_gradients(X, Y, W1, b1, W2, b2):
    y = Y
    zh = X.dot(W1) + b1
    h = sigmoid(zh)
    zpred = h.dot(W2) + b2
    pred = softmax(zpred)
    loss = cross_entropy(pred, y)

    grad_zpred = pred - y
    grad_h = grad_zpred.dot(W2.T)
    grad_w2 = h.T.dot(grad_zpred)
    grad_b2 = grad_zpred.sum(axis=0)
    grad_zh = grad_h * h * (1 - h)
    grad_w1 = X.T.dot(grad_zh)
    grad_b1 = grad_zh.sum(axis=0)
    return loss, {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}
