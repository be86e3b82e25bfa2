"""Buggy: the bias gradients are returned in reverse order (output layer first).

The student collected the gradients while walking back from the output, with
``dWs.insert(0, ...)`` for the weights but ``dbs.append(...)`` for the biases, so dbs
comes out output layer first: dbs[0] is the last layer's bias gradient. The values are
the right ones, in the wrong places: the shapes are wrong unless the layers' widths are
symmetric, and where they are (003's 2-2-2 network) b1 gets b2's gradient and b2 gets
b1's. The weights are right, and a network of one layer is right. (Names for a
two-layer network; in general every bias but the middle one of an odd depth.)
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "dbs returned in reverse order (append instead of insert(0, ...))",
       "fails": ["shapes and dtypes"], "diagnosis": None,
       "truth": {"wrong": ["b1", "b2"], "layer": 2, "op": None, "operand": None,
                 "pattern": "bias gradients in reverse layer order; names for a two-layer network",
                 "looks_like": None}}


def sigmoid(x):
    return 1. / (1. + np.exp(-x))


def mlp_gradients(X, T, Ws, bs):
    activations = [X]
    for W, b in zip(Ws, bs):
        activations.append(sigmoid(activations[-1] @ W + b))
    Y = activations[-1]
    loss = np.sum((Y - T) ** 2)

    dWs, dbs = [], []
    delta = 2. * (Y - T) * Y * (1. - Y)
    for W, A in zip(reversed(Ws), reversed(activations[:-1])):
        dWs.insert(0, A.T @ delta)
        dbs.append(delta.sum(axis=0))
        delta = (delta @ W.T) * A * (1. - A)
    return loss, dWs, dbs
