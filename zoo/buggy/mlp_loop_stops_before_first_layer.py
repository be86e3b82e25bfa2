"""Buggy: the backward loop stops one layer early: the first layer's gradients stay zero.

The student wrote the loop over layers as ``for l in range(L - 1, 0, -1)``, reading
range's stop as inclusive ("down to 0"). Python's range stops *before* 0, so the first
layer (index 0) is never visited and dW1 and db1 keep the zeros they were initialised
with. Every other layer is right. A network of one layer gets no gradient at all.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "backward loop range(L-1, 0, -1) skips layer 1 (dW1, db1 stay zero)",
       "fails": ["oracles", "worked examples"], "diagnosis": None,
       "truth": {"wrong": ["W1", "b1"], "layer": 1, "op": None, "operand": None,
                 "pattern": "zero (the first layer never visited)",
                 "looks_like": "all gradients zero (on a one-layer network)"}}


def sigmoid(x):
    return 1. / (1. + np.exp(-x))


def mlp_gradients(X, T, Ws, bs):
    acts = [X]
    for W, b in zip(Ws, bs):
        acts.append(sigmoid(acts[-1].dot(W) + b))
    out = acts[-1]
    loss = np.sum((out - T) ** 2)

    L = len(Ws)
    dWs = [np.zeros_like(W, dtype=float) for W in Ws]
    dbs = [np.zeros_like(b, dtype=float) for b in bs]
    delta = 2. * (out - T) * out * (1. - out)
    for l in range(L - 1, 0, -1):
        dWs[l] = acts[l].T.dot(delta)
        dbs[l] = delta.sum(axis=0)
        delta = delta.dot(Ws[l].T) * acts[l] * (1. - acts[l])
    return loss, dWs, dbs
