"""Buggy: the error is sent back through the output layer's weights at every step, not each layer's own.

The student first wrote the backward pass for 003's two layers, with ``W = Ws[-1]``
picked out for the step from the output back to the hidden layer, then wrapped it in a
loop over the layers and never moved ``W`` along: every propagation step uses the last
layer's weights, ``delta @ W.T`` with W = Ws[-1], where it must be ``delta @ Ws[l].T``.
On one or two layers the only step there is goes through Ws[-1], so everything is right
(which is all the student tested). On deeper networks the error reaching the layers
below the last hidden one goes through the wrong matrix: where every layer after the
first has the same width (the student's square test networks) the shapes fit and the
values are wrong; elsewhere numpy raises a ValueError. (Names for a three-layer network
whose last three widths are equal; in general every layer below the last two.)
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "error propagated through Ws[-1] at every step (W never moved along the loop)",
       "fails": ["oracles"], "diagnosis": None,
       "truth": {"wrong": ["W1", "b1"], "layer": 1, "op": None, "operand": None,
                 "pattern": "the output layer's weights used again for a lower layer (a layer's weights used twice); names for a three-layer network whose last three widths are equal (ValueError where they differ); right on one or two layers",
                 "looks_like": None}}


def sigmoid(z):
    return 1. / (1. + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    A = [X]
    for W, b in zip(Ws, bs):
        A.append(sigmoid(A[-1] @ W + b))
    Y = A[-1]
    loss = np.sum((Y - T) ** 2)

    L = len(Ws)
    dWs = [None] * L
    dbs = [None] * L
    W = Ws[-1]
    delta = 2 * (Y - T) * Y * (1 - Y)
    for l in range(L - 1, -1, -1):
        dWs[l] = A[l].T @ delta
        dbs[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ W.T) * A[l] * (1 - A[l])
    return loss, dWs, dbs
