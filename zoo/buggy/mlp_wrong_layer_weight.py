"""Buggy: 001's equation 1.2 literally: the hidden error goes back through the layer's own W_l, not W_{l+1}.

001 writes the hidden layer's error as ``W_l^T delta_{l+1} * sigma'(z_l)`` in its
chain of equation 1.2 (the recap below it has the right W_{l+1}). The student
followed the chain: the error of layer l+1 is sent back through Ws[l-1], the
matrix that *produced* layer l, instead of Ws[l], the matrix that consumed it:
``grad_A = delta @ Ws[l - 1].T``, with ``Ws[l - 1]`` used untransposed when only
that fits. Where neither fits numpy raises (the student's code crashes there).
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "hidden error through W_l instead of W_{l+1} (001 eq. 1.2)",
       "fails": ["oracles"], "diagnosis": "wrong_layer_weight"}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def mlp_gradients(X, T, Ws, bs):
    a = [X]
    for W, b in zip(Ws, bs):
        a.append(sigmoid(a[-1] @ W + b))
    loss = np.sum((a[-1] - T) ** 2)

    dWs = [np.zeros_like(W) for W in Ws]
    dbs = [np.zeros_like(b) for b in bs]
    delta = 2 * (a[-1] - T) * a[-1] * (1 - a[-1])
    for l in range(len(Ws) - 1, -1, -1):
        dWs[l] = a[l].T @ delta
        dbs[l] = delta.sum(axis=0)
        if l > 0:
            W_l = Ws[l - 1]                       # "W_l^T delta_{l+1}" (eq. 1.2)
            if W_l.shape[1] == delta.shape[1]:
                grad_a = delta @ W_l.T
            else:
                grad_a = delta @ W_l              # shapes fit this way round
            delta = grad_a * a[l] * (1 - a[l])
    return loss, dWs, dbs
