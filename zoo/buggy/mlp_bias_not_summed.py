"""Buggy: the bias gradient is not summed over the batch: ``db = delta``.

The student wrote ``grad_b = delta`` (001's dC/db_l = delta_l, which is for one
instance). With a batch, delta has one row per instance and the bias is shared
by all of them, so its gradient is the sum of the rows, delta.sum(axis=0); the
returned array has shape (n, d) instead of the bias's (d,).
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "bias gradient not summed over the batch (db = delta)",
       "fails": ["shapes and dtypes"], "diagnosis": "bias_not_summed"}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    zs, acts = [], [X]
    for W, b in zip(Ws, bs):
        z = acts[-1] @ W + b
        zs.append(z)
        acts.append(sigmoid(z))
    y = acts[-1]
    loss = float(np.sum((y - T) ** 2))

    grad_Ws, grad_bs = [], []
    delta = 2.0 * (y - T) * y * (1.0 - y)
    for l in reversed(range(len(Ws))):
        grad_Ws.append(acts[l].T @ delta)
        grad_bs.append(delta)
        if l:
            delta = (delta @ Ws[l].T) * acts[l] * (1.0 - acts[l])
    return loss, grad_Ws[::-1], grad_bs[::-1]
