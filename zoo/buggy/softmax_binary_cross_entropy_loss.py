"""Buggy: the loss is the elementwise binary cross-entropy of the softmax's outputs.

The student's ``cross_entropy`` is the one from their logistic-regression homework,
``-np.sum(y * np.log(pred) + (1 - y) * np.log(1 - pred))``, applied to the softmax's
probabilities: it also charges every wrong class for its probability. 000's loss is the
categorical cross-entropy, ``-np.sum(y * log(pred))``. The backward pass is 000's,
``grad_zpred = pred - y``: the gradient of the categorical loss, so every gradient is
right and the returned loss is not theirs. With two classes p2 = 1 - p1 and the binary
loss is exactly twice the categorical one; with more classes it is another function.
Where a probability rounds to 1 (logits far apart) log(1 - pred) is -inf and the loss
nan or inf.
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "loss is the elementwise binary cross-entropy (gradient of the categorical one)",
       "fails": ["loss consistency", "extreme inputs"], "diagnosis": None,
       "truth": {"wrong": [], "layer": None, "op": None, "operand": None,
                 "pattern": "loss of another function (binary cross-entropy summed over the classes); the gradients are right",
                 "looks_like": "loss twice the right one (with two classes), like a loss of another normalisation"}}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(pred, y):
    return -np.sum(y * np.log(pred) + (1 - y) * np.log(1 - pred))


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
