"""Buggy: the bias gradient is averaged over the batch: ``delta.mean(axis=0)``.

The student wrote ``db = delta.mean(axis=0)`` (001's update rule divides by n,
and the mean was carried into the gradient) while the loss, and every weight
gradient, is the sum over the batch. The bias gradient of the summed loss is
delta.sum(axis=0); this one is n times too small.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "bias gradient averaged over the batch",
       "fails": ["oracles"], "diagnosis": "bias_averaged"}


def sigmoid(x):
    return 1. / (1. + np.exp(-x))


def mlp_gradients(X, T, Ws, bs):
    layer_outputs = [X]
    for W, b in zip(Ws, bs):
        layer_outputs.append(sigmoid(np.dot(layer_outputs[-1], W) + b))
    Y = layer_outputs[-1]
    loss = np.sum(np.square(Y - T))

    dWs = []
    dbs = []
    delta = 2. * (Y - T) * Y * (1. - Y)
    for W, A in zip(Ws[::-1], layer_outputs[-2::-1]):
        dWs.insert(0, np.dot(A.T, delta))
        dbs.insert(0, delta.mean(axis=0))
        delta = np.dot(delta, W.T) * A * (1. - A)
    return loss, dWs, dbs
