"""Buggy: W2's gradient uses the hidden layer's pre-activation zh instead of its output h.

The student wrote ``grad_w2 = zh.T.dot(grad_zpred)``: the second layer computes
``zpred = h.dot(w2) + b2``, so W2 multiplies h = sigmoid(zh), and its gradient is
``h.T.dot(grad_zpred)``. (The two names sit next to each other in 000's code, and
zh is the one that "goes into" the hidden layer.) Only W2's gradient is wrong; the error
sent back uses W2 itself and is right, and so are b2, W1 and b1.
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "grad_w2 = zh.T @ grad_zpred (pre-activation instead of the hidden output)",
       "fails": ["oracles"], "diagnosis": None,
       "truth": {"wrong": ["W2"], "layer": 2, "op": None, "operand": None,
                 "pattern": "the input layer's pre-activation instead of its activation in dW",
                 "looks_like": None}}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    shifted = z - np.max(z, axis=1, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=1, keepdims=True)


def softmax_gradients(X, Y, W1, b1, W2, b2):
    zh = X @ W1 + b1
    h = sigmoid(zh)
    zpred = h @ W2 + b2
    pred = softmax(zpred)
    shifted = zpred - zpred.max(axis=1, keepdims=True)
    log_pred = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -(Y * log_pred).sum()

    grad_zpred = pred - Y
    grad_h = grad_zpred @ W2.T
    grad_w2 = zh.T @ grad_zpred
    grad_b2 = grad_zpred.sum(axis=0)
    grad_zh = grad_h * h * (1 - h)
    grad_w1 = X.T @ grad_zh
    grad_b1 = grad_zh.sum(axis=0)
    return loss, {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}
