"""Buggy: softmax normalised over the batch (axis 0) instead of over each row's classes.

The student's helper is ``np.exp(z) / np.sum(np.exp(z), axis=0)`` (the max taken
the same way, ``np.max(z, axis=0)``): the textbook softmax of a vector, applied
to 000's (batch, classes) matrix, sums down the columns. Each row of ``pred`` no
longer sums to 1, and the loss and every gradient are those of another function.
The backward pass is 000's, unchanged.
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "softmax over axis 0 (the batch)",
       "fails": ["oracles"], "diagnosis": "softmax_wrong_axis"}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(z):
    e = np.exp(z - np.max(z, axis=0))
    return e / np.sum(e, axis=0)


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
    grad_zh = grad_h * h * (1 - h)
    grad_w1 = X.T.dot(grad_zh)
    grad_b1 = grad_zh.sum(axis=0)
    return loss, {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}
