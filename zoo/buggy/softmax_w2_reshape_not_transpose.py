"""Buggy: the error goes back through ``W2.reshape(k, h)`` instead of ``W2.T``.

To send the output error back to the hidden layer the student needed W2 "the other way
round" and reached for reshape: ``grad_h = grad_zpred.dot(w2.reshape(w2.shape[1], w2.shape[0]))``.
The shape is that of W2.T, so numpy never complains, but reshape keeps the entries in
memory order: it reflows them row by row instead of swapping rows and columns. On a
square W2 (as many hidden units as classes: 2 and 2 in small cases) the reshape changes
nothing and the error goes back through W2 itself, exactly the classic "W instead of
W.T"; on any other shape the entries are scrambled. (When W2 has one row or one column,
reshape and transpose agree.) W2's and b2's own gradients are right; W1's and b1's are wrong.
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "error sent back through W2.reshape(k, h) instead of W2.T",
       "fails": ["oracles"], "diagnosis": None,
       "truth": {"wrong": ["W1", "b1"], "layer": 1, "op": None, "operand": None,
                 "pattern": "reshape instead of transpose (entries reflowed; W instead of W.T when square)",
                 "looks_like": "error propagated through W instead of W.T (when W2 is square: hidden units = classes)"}}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_gradients(X, Y, W1, b1, W2, b2):
    w1, w2 = W1, W2
    zh = X.dot(w1) + b1
    h = sigmoid(zh)
    zpred = h.dot(w2) + b2
    pred = softmax(zpred)
    shifted = zpred - zpred.max(axis=1, keepdims=True)
    log_pred = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.sum(Y * log_pred)

    grad_zpred = pred - Y
    grad_h = grad_zpred.dot(w2.reshape(w2.shape[1], w2.shape[0]))
    grad_w2 = h.T.dot(grad_zpred)
    grad_b2 = grad_zpred.sum(axis=0)
    grad_zh = grad_h * h * (1 - h)
    grad_w1 = X.T.dot(grad_zh)
    grad_b1 = grad_zh.sum(axis=0)
    return loss, {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}
