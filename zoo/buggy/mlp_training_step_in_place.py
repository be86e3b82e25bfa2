"""Buggy: a training step folded in: the weights are updated in place inside mlp_gradients.

The student's function grew out of 003's training loop and kept its update:
``Ws[l] -= 0.1 * dW`` (and ``bs[l] -= 0.1 * db``) right after each gradient is
computed. The gradients returned are right, but the caller's weight arrays are
changed by the call: a gradient function must leave its inputs alone.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "weights updated in place (training step folded in)",
       "fails": ["inputs unmodified"], "diagnosis": "inputs_modified"}

learning_rate = 0.1


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def mlp_gradients(X, T, Ws, bs):
    H = [X]
    for W, b in zip(Ws, bs):
        H.append(sigmoid(H[-1] @ W + b))
    Y = H[-1]
    loss = np.sum((Y - T) ** 2)

    dWs = [None] * len(Ws)
    dbs = [None] * len(bs)
    delta = 2 * (Y - T) * Y * (1 - Y)
    for l in reversed(range(len(Ws))):
        dW = H[l].T @ delta
        db = delta.sum(axis=0)
        back = delta @ Ws[l].T          # before the update
        dWs[l], dbs[l] = dW, db
        Ws[l] -= learning_rate * dW     # gradient descent step
        bs[l] -= learning_rate * db
        delta = back * H[l] * (1 - H[l])
    return loss, dWs, dbs
