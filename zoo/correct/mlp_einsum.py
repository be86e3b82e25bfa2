"""Correct: the MLP's gradients written with np.einsum throughout.

Style: every product spelled out by its indices, i = instance, j = input unit,
k = output unit: the forward pass ``einsum('ij,jk->ik', A, W)``, the weight
gradient ``einsum('ij,ik->jk', A, delta)`` (sum over the batch of outer products),
the bias gradient ``einsum('ik->k', delta)``, the error sent back
``einsum('ik,jk->ij', delta, W)``. No ``@``, no ``.T``.
"""
import numpy as np

ZOO = {"systems": ["mlp"], "style": "np.einsum throughout"}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    acts = [X]
    for W, b in zip(Ws, bs):
        acts.append(sigmoid(np.einsum("ij,jk->ik", acts[-1], W) + b))
    Y = acts[-1]
    E = Y - T
    loss = np.einsum("ik,ik->", E, E)

    dWs = [None] * len(Ws)
    dbs = [None] * len(bs)
    delta = np.einsum("ik,ik,ik->ik", 2.0 * E, Y, 1.0 - Y)
    for l in range(len(Ws) - 1, -1, -1):
        A = acts[l]
        dWs[l] = np.einsum("ij,ik->jk", A, delta)
        dbs[l] = np.einsum("ik->k", delta)
        if l > 0:
            delta = np.einsum("ik,jk,ij,ij->ij", delta, Ws[l], A, 1.0 - A)
    return loss, dWs, dbs
