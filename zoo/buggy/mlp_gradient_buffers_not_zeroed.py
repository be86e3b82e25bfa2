"""Buggy: the gradients accumulate into module-level buffers that are never zeroed.

The student kept ``grad_W = [np.zeros_like(W) for W in Ws]`` as module-level
buffers, allocated on the first call (and again only when the shapes change),
and wrote ``grad_W[l] += A.T @ delta`` ("gradients accumulate", as in an autograd
framework), but never set them back to zero between calls: the frameworks'
forgotten ``zero_grad()``. Each call returns the sum of its own gradient and of
every earlier call's with the same shapes.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "gradient buffers accumulate across calls (no zero_grad)",
       "fails": ["determinism"], "diagnosis": "stale_state"}

grad_W = None
grad_b = None


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def mlp_gradients(X, T, Ws, bs):
    global grad_W, grad_b
    if grad_W is None or [g.shape for g in grad_W] != [W.shape for W in Ws]:
        grad_W = [np.zeros_like(W, dtype=float) for W in Ws]
        grad_b = [np.zeros_like(b, dtype=float) for b in bs]

    A = [X]
    for W, b in zip(Ws, bs):
        A.append(sigmoid(A[-1] @ W + b))
    Y = A[-1]
    loss = np.sum((Y - T) ** 2)

    delta = 2 * (Y - T) * Y * (1 - Y)
    for l in range(len(Ws) - 1, -1, -1):
        grad_W[l] += A[l].T @ delta
        grad_b[l] += delta.sum(axis=0)
        delta = (delta @ Ws[l].T) * A[l] * (1 - A[l])
    return loss, [g.copy() for g in grad_W], [g.copy() for g in grad_b]
