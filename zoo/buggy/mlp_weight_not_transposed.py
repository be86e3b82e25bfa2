"""Buggy: the error is propagated back through W instead of W^T (fixed up where shapes differ).

The student wrote ``grad_H = delta @ W`` to send the error of a layer back to its
input, then, when numpy complained, ``if W.shape[0] != delta.shape[1]: W = W.T``.
The error must go back through the transpose of the forward map: in the row
layout the forward pass is A @ W, so the error goes back as delta @ W.T. The
fix-up makes it right where the layer is not square; on a square layer the
untransposed W is used and the hidden layers' gradients are wrong.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "error propagated through W instead of W.T",
       "fails": ["oracles"], "diagnosis": "weight_not_transposed"}


def sigmoid(x):
    return 1. / (1. + np.exp(-x))


def mlp_gradients(X, T, Ws, bs):
    H = [X]
    for W, b in zip(Ws, bs):
        H.append(sigmoid(H[-1].dot(W) + b))
    Y = H[-1]
    loss = ((Y - T) ** 2).sum()

    n_layers = len(Ws)
    dWs = [None] * n_layers
    dbs = [None] * n_layers
    grad_Y = 2 * (Y - T)
    delta = grad_Y * Y * (1 - Y)
    for l in range(n_layers - 1, -1, -1):
        dWs[l] = H[l].T.dot(delta)
        dbs[l] = delta.sum(axis=0)
        if l == 0:
            break
        W = Ws[l]
        if W.shape[0] != delta.shape[1]:
            W = W.T
        grad_H = delta.dot(W)
        delta = grad_H * H[l] * (1 - H[l])
    return loss, dWs, dbs
