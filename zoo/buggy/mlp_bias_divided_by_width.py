"""Buggy: the bias gradient is summed over the batch, then divided by the layer's width.

The student wanted "one bias update per instance on average" and wrote
``db = delta.sum(axis=0) / delta.shape[1]``; but delta is (n, d_out), so shape[1] is the
number of units of the layer, not the batch size. (With the summed loss no division
belongs there at all: db = delta.sum(axis=0).) Every bias gradient is divided by its
layer's width: right for a layer of one unit. Where the batch size equals the width
(003's two instances on 2-unit layers) it is exactly the classic bias averaged over the
batch. The weights are right. (Names for a two-layer network; in general every layer
wider than one unit.)
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "bias gradient summed, then divided by the number of units (delta.shape[1])",
       "fails": ["oracles"], "diagnosis": None,
       "truth": {"wrong": ["b1", "b2"], "layer": 2, "op": None, "operand": None,
                 "pattern": "factor 1/(number of units of the layer); names for a two-layer network",
                 "looks_like": "bias averaged over the batch (where the batch size equals the layer widths)"}}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    outs = [X]
    for W, b in zip(Ws, bs):
        outs.append(sigmoid(np.dot(outs[-1], W) + b))
    Y = outs[-1]
    loss = np.sum((Y - T) ** 2)

    dWs = [None] * len(Ws)
    dbs = [None] * len(bs)
    delta = 2.0 * (Y - T) * Y * (1.0 - Y)
    for l in range(len(Ws) - 1, -1, -1):
        dWs[l] = np.dot(outs[l].T, delta)
        dbs[l] = delta.sum(axis=0) / delta.shape[1]
        if l:
            delta = np.dot(delta, Ws[l].T) * outs[l] * (1.0 - outs[l])
    return loss, dWs, dbs
