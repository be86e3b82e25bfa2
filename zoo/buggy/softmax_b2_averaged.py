"""Buggy: the output bias gradient is averaged over the batch: ``grad_b2 = grad_zpred.mean(axis=0)``.

The student wrote ``grad_b2 = grad_zpred.mean(axis=0)`` ("one bias update per batch")
while the loss is 000's cross-entropy summed over the batch and every other
gradient, b1's included, is summed. The gradient of the summed loss with respect
to b2 is grad_zpred.sum(axis=0); this one is n times too small.
"""
import numpy as np

ZOO = {"system": "softmax", "mistake": "b2 gradient averaged over the batch",
       "fails": ["oracles"], "diagnosis": "bias_averaged"}


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
    grad_w2 = h.T @ grad_zpred
    grad_b2 = grad_zpred.mean(axis=0)
    grad_zh = grad_h * h * (1 - h)
    grad_w1 = X.T @ grad_zh
    grad_b1 = grad_zh.sum(axis=0)
    return loss, {"W1": grad_w1, "b1": grad_b1, "W2": grad_w2, "b2": grad_b2}
