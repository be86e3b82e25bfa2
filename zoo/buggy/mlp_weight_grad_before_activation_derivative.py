"""Buggy: each layer's dW and db are taken before the error goes through the layer's sigmoid.

The student walked back through a layer in the wrong order: first the parameter
gradients, ``dW = A_in.T @ grad`` and ``db = grad.sum(axis=0)`` with ``grad`` the
gradient with respect to the layer's *output* (2 (Y - T) at the top), and only then
through the sigmoid, ``grad = grad * A_out * (1 - A_out)``, and on through W.T. The
weights and bias act before the sigmoid, so their gradients need the error with respect
to the pre-activation: the sigmoid's factor first, then dW and db. The error sent back
to the next layer is right, so each layer is wrong only by its own missing factor:
like the classic "output derivative missing" in the last layer, but in every layer,
and without corrupting the error passed down.
(Names for a two-layer network; in general every layer.)
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "dW, db computed from the gradient w.r.t. the layer's output (before the sigmoid factor), in every layer",
       "fails": ["oracles", "worked examples"], "diagnosis": None,
       "truth": {"wrong": ["W1", "b1", "W2", "b2"], "layer": 2, "op": None, "operand": None,
                 "pattern": "each layer's own activation derivative missing from its dW and db (the propagated error is right); names for a two-layer network",
                 "looks_like": "output sigmoid derivative missing (on a one-layer network)"}}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    acts = [X]
    for W, b in zip(Ws, bs):
        acts.append(sigmoid(acts[-1] @ W + b))
    Y = acts[-1]
    loss = np.sum((Y - T) ** 2)

    L = len(Ws)
    dWs = [None] * L
    dbs = [None] * L
    grad = 2 * (Y - T)                                   # dL / d(output of the last layer)
    for l in range(L - 1, -1, -1):
        dWs[l] = acts[l].T @ grad
        dbs[l] = grad.sum(axis=0)
        grad = grad * acts[l + 1] * (1 - acts[l + 1])    # through the sigmoid
        grad = grad @ Ws[l].T                            # through the weights
    return loss, dWs, dbs
