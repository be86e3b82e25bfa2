"""Buggy: the loss is reported as the batch mean while the gradients are those of the sum.

The student wrote ``loss = np.sum((Y - T) ** 2) / len(X)`` ("the average loss per
instance" for printing) but kept the backward pass of the summed loss,
``delta = 2 * (Y - T) * Y * (1 - Y)`` with no 1/n. Each is fine alone; together
the gradient is not the gradient of the loss returned (it is n times too big).
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "loss is the batch mean, gradients of the sum",
       "fails": ["loss consistency"], "diagnosis": "loss_gradient_normalisation"}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    n = len(X)
    A = [X]
    for W, b in zip(Ws, bs):
        A.append(sigmoid(A[-1] @ W + b))
    Y = A[-1]
    loss = np.sum((Y - T) ** 2) / n

    dWs = [None] * len(Ws)
    dbs = [None] * len(Ws)
    delta = 2 * (Y - T) * Y * (1 - Y)
    for l in range(len(Ws) - 1, -1, -1):
        dWs[l] = A[l].T @ delta
        dbs[l] = delta.sum(axis=0)
        delta = (delta @ Ws[l].T) * A[l] * (1 - A[l])
    return loss, dWs, dbs
