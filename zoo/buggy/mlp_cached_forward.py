"""Buggy: a module-level cache keeps the first forward pass and reuses it when the shapes match.

To "avoid recomputing the forward pass", the student stored the activations in a
module-level ``_cache`` on the first call and, on later calls, wrote
``if _cache is not None and [a.shape for a in _cache] == shapes: A = _cache``.
A later call with other weights (or other inputs) of the same shapes gets the
first call's activations, so its loss and gradients belong partly to the old network.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "cached forward pass reused across calls",
       "fails": ["determinism"], "diagnosis": "stale_state"}

_cache = None


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def forward_pass(X, Ws, bs):
    A = [X]
    for W, b in zip(Ws, bs):
        A.append(sigmoid(A[-1] @ W + b))
    return A


def mlp_gradients(X, T, Ws, bs):
    global _cache
    shapes = [X.shape] + [(X.shape[0], W.shape[1]) for W in Ws]
    if _cache is not None and [a.shape for a in _cache] == shapes:
        A = _cache                 # already computed
    else:
        A = forward_pass(X, Ws, bs)
        _cache = A
    Y = A[-1]
    loss = np.sum((Y - T) ** 2)

    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    delta = 2 * (Y - T) * Y * (1 - Y)
    for l in range(len(Ws) - 1, -1, -1):
        dWs[l] = A[l].T @ delta
        dbs[l] = delta.sum(axis=0)
        delta = (delta @ Ws[l].T) * A[l] * (1 - A[l])
    return loss, dWs, dbs
