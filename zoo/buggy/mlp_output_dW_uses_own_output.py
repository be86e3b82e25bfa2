"""Buggy: the output layer's weight gradient uses the layer's own output instead of its input.

The student wrote the output layer by hand before the loop over the hidden layers and
took "the activation" at hand: ``dWs[-1] = Y.T @ delta``, with Y the network's output.
The weight W_L multiplies the layer's *input* A_{L-1}, so its gradient is
``A[-2].T @ delta``. Y.T @ delta has shape (d_L, d_L): wrong wherever the last layer is
not square, and the wrong values where it is (003's 2-2-2 network). The hidden layers,
and every bias, are right. (Names for a two-layer network; in general the last layer.)
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "output layer's dW = Y.T @ delta (its output instead of its input)",
       "fails": ["shapes and dtypes", "worked examples"], "diagnosis": None,
       "truth": {"wrong": ["W2"], "layer": 2, "op": None, "operand": None,
                 "pattern": "the layer's output instead of its input in dW (shape (d_L, d_L)); names for a two-layer network",
                 "looks_like": None}}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def mlp_gradients(X, T, Ws, bs):
    H = [X]
    for W, b in zip(Ws, bs):
        H.append(sigmoid(H[-1] @ W + b))
    Y = H[-1]
    loss = np.sum((Y - T) ** 2)

    L = len(Ws)
    dWs = [None] * L
    dbs = [None] * L

    # output layer
    delta = 2 * (Y - T) * Y * (1 - Y)
    dWs[-1] = Y.T @ delta
    dbs[-1] = delta.sum(axis=0)

    # hidden layers
    for l in range(L - 2, -1, -1):
        delta = (delta @ Ws[l + 1].T) * H[l + 1] * (1 - H[l + 1])
        dWs[l] = H[l].T @ delta
        dbs[l] = delta.sum(axis=0)
    return loss, dWs, dbs
