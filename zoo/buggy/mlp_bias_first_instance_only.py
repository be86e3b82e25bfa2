"""Buggy: every bias gradient is taken from the first instance of the batch only: ``delta[0]``.

The student's code started as Nielsen-style code for one instance, where the bias
gradient *is* the error vector, ``db = delta``; when the batch came in as the rows of X
and numpy complained about the shape, they kept the first row, ``db = delta[0]``. The
weight gradient ``A.T @ delta`` sums over the batch; the bias gradient must too,
``delta.sum(axis=0)``. With one instance it is right; with more, every bias gradient
misses the other instances' contributions. The weights are right.
(Names for a two-layer network; in general every layer's bias.)
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "bias gradient from the first instance only (db = delta[0])",
       "fails": ["oracles"], "diagnosis": None,
       "truth": {"wrong": ["b1", "b2"], "layer": 2, "op": None, "operand": None,
                 "pattern": "only the first instance (not summed over the batch); names for a two-layer network",
                 "looks_like": None}}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    a = [X]
    for W, b in zip(Ws, bs):
        a.append(sigmoid(a[-1] @ W + b))
    loss = np.sum((a[-1] - T) ** 2)

    L = len(Ws)
    dWs = [None] * L
    dbs = [None] * L
    delta = 2 * (a[-1] - T) * a[-1] * (1 - a[-1])
    for l in reversed(range(L)):
        dWs[l] = a[l].T @ delta
        dbs[l] = delta[0]
        if l > 0:
            delta = (delta @ Ws[l].T) * a[l] * (1 - a[l])
    return loss, dWs, dbs
