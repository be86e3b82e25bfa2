"""Buggy: every gradient is averaged over the batch while the loss is the sum.

The student followed 001's "dC/dW_l = 1/n sum_i delta_i a_i^T" and wrote
``dW = A.T @ delta / n`` and ``db = delta.mean(axis=0)``, but the loss is 003's
squared error summed over the batch: ``loss = np.sum((Y - T) ** 2)``. Every
gradient is the right one divided by the batch size.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "every gradient averaged over the batch, loss summed",
       "fails": ["oracles", "loss consistency"], "diagnosis": "scaled_inverse_batch"}


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def mlp_gradients(X, T, Ws, bs):
    n = X.shape[0]
    As = [X]
    for W, b in zip(Ws, bs):
        As.append(sigmoid(As[-1] @ W + b))
    Y = As[-1]
    loss = np.sum((Y - T) ** 2)

    dWs, dbs = [], []
    delta = 2.0 * (Y - T) * Y * (1.0 - Y)
    for l in range(len(Ws) - 1, -1, -1):
        dWs.append(As[l].T @ delta / n)
        dbs.append(delta.mean(axis=0))
        delta = (delta @ Ws[l].T) * As[l] * (1.0 - As[l])
    dWs.reverse()
    dbs.reverse()
    return loss, dWs, dbs
