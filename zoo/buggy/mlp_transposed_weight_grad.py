"""Buggy: the weight gradient is transposed, delta.T @ A instead of A.T @ delta.

The student wrote ``dW = delta.T @ A`` for every layer: the column-layout formula
dC/dW_l = delta_l a_{l-1}^T of 001, carried over to the row layout without
swapping the factors. In the row layout W has shape (d_in, d_out), delta is
(n, d_out) and A is (n, d_in), so delta.T @ A is (d_out, d_in): the transpose of
the right gradient A.T @ delta. On a layer that is not square the shape is wrong.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "weight gradient transposed (delta.T @ A)",
       "fails": ["shapes and dtypes"], "diagnosis": "transposed"}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def mlp_gradients(X, T, Ws, bs):
    # forward pass
    A = [X]
    for W, b in zip(Ws, bs):
        A.append(sigmoid(A[-1] @ W + b))
    Y = A[-1]
    loss = np.sum((Y - T) ** 2)

    # backward pass
    dWs, dbs = [None] * len(Ws), [None] * len(bs)
    delta = 2 * (Y - T) * Y * (1 - Y)
    for l in reversed(range(len(Ws))):
        dWs[l] = delta.T @ A[l]
        dbs[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ Ws[l].T) * A[l] * (1 - A[l])
    return loss, dWs, dbs
