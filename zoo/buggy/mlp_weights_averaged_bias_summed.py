"""Buggy: the weight gradients are averaged over the batch, the bias gradients summed.

The student divided the weight gradient by the batch size, ``dW = A.T @ delta / n``
("the average gradient"), but wrote the bias gradient as ``delta.sum(axis=0)``, and the
loss is the sum over the batch. Gradient and loss must agree: with the summed loss no
division belongs anywhere (with a mean loss it would belong everywhere, the loss
included). Every weight gradient is n times too small; the biases are right; with one
instance everything is right. (Names for a two-layer network; in general every layer.)
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "dW averaged over the batch, db summed, loss summed",
       "fails": ["oracles"], "diagnosis": None,
       "truth": {"wrong": ["W1", "W2"], "layer": 2, "op": None, "operand": None,
                 "pattern": "factor 1/n on the weights only; names for a two-layer network",
                 "looks_like": None}}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def mlp_gradients(X, T, Ws, bs):
    n = X.shape[0]
    A = [X]
    for W, b in zip(Ws, bs):
        A.append(sigmoid(A[-1] @ W + b))
    Y = A[-1]
    loss = np.sum((Y - T) ** 2)

    dWs, dbs = [], []
    delta = 2 * (Y - T) * Y * (1 - Y)
    for l in range(len(Ws) - 1, -1, -1):
        dWs.insert(0, A[l].T @ delta / n)
        dbs.insert(0, np.sum(delta, axis=0))
        delta = (delta @ Ws[l].T) * A[l] * (1 - A[l])
    return loss, dWs, dbs
