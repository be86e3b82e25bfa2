"""Correct: the MLP's gradients one training instance at a time, with Python loops.

Style: the way 003 builds up its matrix code from the per-instance calculation:
for each row x of X, a forward pass on vectors, the error signal of each layer
delta = (a - t) * 2 * a(1 - a) and then delta @ W.T * a(1 - a) going back, and the
weight gradient accumulated as the outer product of the layer's input and delta.
Slow and explicit; no matrix of the whole batch anywhere.
"""
import numpy as np

ZOO = {"systems": ["mlp"], "style": "per-sample Python loops, outer products accumulated"}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    L = len(Ws)
    dWs = [np.zeros(np.shape(W)) for W in Ws]
    dbs = [np.zeros(np.shape(b)) for b in bs]
    loss = 0.0
    for i in range(X.shape[0]):
        x = X[i]
        t = T[i]
        # forward pass for this instance, keeping every layer's output
        outs = [x]
        for l in range(L):
            outs.append(sigmoid(outs[-1] @ Ws[l] + bs[l]))
        y = outs[-1]
        for k in range(len(y)):
            loss += (y[k] - t[k]) ** 2
        # backward pass for this instance
        delta = 2.0 * (y - t) * y * (1.0 - y)
        for l in range(L - 1, -1, -1):
            a_in = outs[l]
            for j in range(len(a_in)):
                for k in range(len(delta)):
                    dWs[l][j, k] += a_in[j] * delta[k]
            dbs[l] += delta
            if l > 0:
                delta = (Ws[l] @ delta) * a_in * (1.0 - a_in)
    return loss, dWs, dbs
