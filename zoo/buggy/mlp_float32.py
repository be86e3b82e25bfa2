"""Buggy: computed in float32 and returned as float32 arrays.

The student cast everything to save memory, ``X = X.astype(np.float32)`` and
likewise the weights, "as the GPU frameworks do". The arithmetic is right, but
float32 carries about 7 significant digits, and the protocol asks for float64:
the gradients come back with dtype float32.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "computed and returned in float32",
       "fails": ["shapes and dtypes"], "diagnosis": "float32"}


def sigmoid(z):
    return np.float32(1) / (np.float32(1) + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    X = X.astype(np.float32)
    T = T.astype(np.float32)
    Ws = [W.astype(np.float32) for W in Ws]
    bs = [b.astype(np.float32) for b in bs]

    A = [X]
    for W, b in zip(Ws, bs):
        A.append(sigmoid(A[-1] @ W + b))
    Y = A[-1]
    loss = np.sum((Y - T) ** 2)

    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    delta = np.float32(2) * (Y - T) * Y * (np.float32(1) - Y)
    for l in range(len(Ws) - 1, -1, -1):
        dWs[l] = A[l].T @ delta
        dbs[l] = delta.sum(axis=0)
        delta = (delta @ Ws[l].T) * A[l] * (np.float32(1) - A[l])
    return loss, dWs, dbs
