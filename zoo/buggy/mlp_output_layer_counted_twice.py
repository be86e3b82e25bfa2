"""Buggy: the output layer's gradient is accumulated twice (explicit step, then the loop starts there again).

The student handled the output layer by hand, ``dWs[-1] += A[-2].T @ delta``, and then
wrote the loop for "the rest" as ``for l in range(L - 1, -1, -1)``: it starts at the
output layer again and adds its gradient a second time. The deltas sent back are
right (the loop propagates from the output layer once), so every hidden layer is right;
the output layer's dW and db are twice the right ones. On a network of one layer that is
the whole gradient doubled. (Names for a two-layer network; in general the last layer.)
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "output layer's dW and db accumulated twice (loop starts at L-1 after an explicit output step)",
       "fails": ["oracles", "worked examples"], "diagnosis": None,
       "truth": {"wrong": ["W2", "b2"], "layer": 2, "op": None, "operand": None,
                 "pattern": "factor 2 on the last layer only (counted twice); names for a two-layer network",
                 "looks_like": "whole gradient doubled (on a one-layer network)"}}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    A = [X]
    for W, b in zip(Ws, bs):
        A.append(sigmoid(A[-1] @ W + b))
    Y = A[-1]
    loss = np.sum((Y - T) ** 2)

    L = len(Ws)
    dWs = [np.zeros(W.shape) for W in Ws]
    dbs = [np.zeros(b.shape) for b in bs]

    # output layer
    delta = 2 * (Y - T) * Y * (1 - Y)
    dWs[-1] += A[-2].T @ delta
    dbs[-1] += delta.sum(axis=0)

    # the other layers
    for l in range(L - 1, -1, -1):
        dWs[l] += A[l].T @ delta
        dbs[l] += delta.sum(axis=0)
        if l > 0:
            delta = (delta @ Ws[l].T) * A[l] * (1 - A[l])
    return loss, dWs, dbs
