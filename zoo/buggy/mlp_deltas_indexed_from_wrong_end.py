"""Buggy: the list of deltas, built from the output back, is indexed as if it ran from the input.

The student first collected every layer's error signal, appending as the error travels
back (``deltas[0]`` is the output layer's), and then computed the gradients in a
forward loop, ``dWs.append(A[l].T @ deltas[l])``: deltas[l] belongs to layer L - 1 - l,
so it must be ``deltas[L - 1 - l]`` (or the list reversed). Each layer gets the error of
its mirror image: the shapes are wrong unless the network's widths are symmetric, and on
003's 2-2-2 network they agree and the values are wrong. A network of one layer, and the
middle layer of an odd number of layers, are right. (Names for a two-layer network.)
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "deltas list (output first) indexed from the input end",
       "fails": ["shapes and dtypes", "worked examples"], "diagnosis": None,
       "truth": {"wrong": ["W1", "b1", "W2", "b2"], "layer": 2, "op": None, "operand": None,
                 "pattern": "each layer gets the delta of its mirror layer (list indexed from the wrong end); names for a two-layer network",
                 "looks_like": None}}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    A = [X]
    for W, b in zip(Ws, bs):
        A.append(sigmoid(np.dot(A[-1], W) + b))
    Y = A[-1]
    loss = np.sum((Y - T) ** 2)

    L = len(Ws)
    # the error signals, from the output layer back
    delta = 2.0 * (Y - T) * Y * (1.0 - Y)
    deltas = [delta]
    for l in range(L - 1, 0, -1):
        delta = np.dot(delta, Ws[l].T) * A[l] * (1.0 - A[l])
        deltas.append(delta)

    # the gradients, layer by layer
    dWs, dbs = [], []
    for l in range(L):
        dWs.append(np.dot(A[l].T, deltas[l]))
        dbs.append(np.sum(deltas[l], axis=0))
    return loss, dWs, dbs
