"""Buggy: the hidden layer's sigmoid derivative is missing: ``grad_zh = grad_h``.

The student dropped 000's ``* sigmoid(h, deriv=True)`` and wrote ``grad_zh = grad_h``,
as if the hidden layer were linear. The gradient with respect to the hidden
pre-activation zh is grad_h * h(1 - h); without the factor, W1's and b1's gradients
are wrong (W2's and b2's are right). No diagnosis code names this mistake for the
hidden layer (missing_output_derivative is about the output layer).
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "hidden sigmoid derivative missing",
       "fails": ["oracles"], "diagnosis": None,
       "truth": {"wrong": ["W1", "b1"], "layer": 1, "op": None, "operand": None, "pattern": "hidden derivative missing", "looks_like": None}}


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
    loss = -np.sum(Y * np.log(pred))

    grad_zpred = pred - Y
    grad_h = np.dot(grad_zpred, W2.T)
    grad_w2 = np.dot(h.T, grad_zpred)
    grad_b2 = np.sum(grad_zpred, axis=0)
    grad_zh = grad_h
    grad_w1 = np.dot(X.T, grad_zh)
    grad_b1 = np.sum(grad_zh, axis=0)
    return loss, {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}
