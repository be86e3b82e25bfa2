"""Buggy: the bias gradients are right but returned as (1, d) rows, under the default (d,) convention.

The student summed with ``keepdims=True``, ``db = delta.sum(axis=0, keepdims=True)``, to
"keep it a row like in the forward pass". The numbers are exactly right, but the
protocol's default bias convention is a vector of shape (d,), the shape of bs[l], and
that is what the file declares (nothing): a caller doing ``b -= lr * db`` on a (d,)
bias gets a (1, d) array back. The fix is ``keepdims=False`` -- or, if (1, d) biases
are what the code is written for, declaring ``CONVENTIONS = {"mlp": {"bias": "row"}}``
(numpy-ml's convention). The weights are right.
(Names for a two-layer network; in general every layer's bias.)
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "bias gradient returned with shape (1, d) instead of (d,) (keepdims=True)",
       "fails": ["shapes and dtypes"], "diagnosis": None,
       "truth": {"wrong": ["b1", "b2"], "layer": 2, "op": None, "operand": None,
                 "pattern": "shape (1, d) instead of (d,); the values are right; names for a two-layer network",
                 "looks_like": "the 'row' bias convention, undeclared"}}


def sigmoid(z):
    return 1. / (1. + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    A = [X]
    for W, b in zip(Ws, bs):
        A.append(sigmoid(np.dot(A[-1], W) + b))
    Y = A[-1]
    loss = np.sum(np.square(Y - T))

    dWs = [None] * len(Ws)
    dbs = [None] * len(bs)
    delta = 2 * (Y - T) * Y * (1 - Y)
    for l in range(len(Ws) - 1, -1, -1):
        dWs[l] = np.dot(A[l].T, delta)
        dbs[l] = np.sum(delta, axis=0, keepdims=True)
        if l > 0:
            delta = np.dot(delta, Ws[l].T) * A[l] * (1 - A[l])
    return loss, dWs, dbs
