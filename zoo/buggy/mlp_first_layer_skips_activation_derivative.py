"""Buggy: the error sent back into the first layer skips that layer's sigmoid derivative.

The student counted layers from 1 in their head ("layer 1 is the input layer, it has
no activation") and guarded the sigmoid factor with ``if l > 1``: after the error is
sent back through ``Ws[l].T`` it is multiplied by ``A[l] * (1 - A[l])`` only for
l > 1. A[l] is the *output* of layer l (A[0] is X), so the guard should be l > 0, which
the enclosing ``if`` already ensures: the delta of the first layer (index 0) is the
gradient with respect to its activation, not its pre-activation. dW1 and db1 are wrong;
every later layer is right. A network of one layer sends nothing back and is right.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "first layer's delta skips its sigmoid derivative (guard l > 1 instead of l > 0)",
       "fails": ["oracles", "worked examples"], "diagnosis": None,
       "truth": {"wrong": ["W1", "b1"], "layer": 1, "op": None, "operand": None,
                 "pattern": "activation derivative missing in the first layer only",
                 "looks_like": "missing hidden-layer derivative (on a two-layer network)"}}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    A = [X]
    for W, b in zip(Ws, bs):
        A.append(sigmoid(A[-1] @ W + b))
    Y = A[-1]
    loss = np.sum((Y - T) ** 2)

    L = len(Ws)
    dWs = [None] * L
    dbs = [None] * L
    delta = 2 * (Y - T) * Y * (1 - Y)
    for l in range(L - 1, -1, -1):
        dWs[l] = A[l].T @ delta
        dbs[l] = delta.sum(axis=0)
        if l > 0:
            delta = delta @ Ws[l].T
            if l > 1:                      # layer 1 is the input layer: no sigmoid there
                delta = delta * A[l] * (1 - A[l])
    return loss, dWs, dbs
