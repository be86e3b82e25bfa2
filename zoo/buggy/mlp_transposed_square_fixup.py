"""Buggy: the weight gradient is transposed, and a shape fix-up hides it except on square layers.

The student wrote ``dW = delta.T @ A`` and, when the shapes did not match,
"fixed" it with ``if dW.shape != W.shape: dW = dW.T``. On a non-square layer the
transpose of delta.T @ A is A.T @ delta, the right gradient, so the shape check
passes and so does every non-square case; on a square layer (d_in == d_out) the
shapes already agree and the wrong matrix, the transpose of the gradient, is returned.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "weight gradient transposed, fixed up where shapes differ",
       "fails": ["oracles"], "diagnosis": "transposed"}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def mlp_gradients(X, T, Ws, bs):
    activations = [X]
    for W, b in zip(Ws, bs):
        activations.append(sigmoid(np.dot(activations[-1], W) + b))
    out = activations[-1]
    E = out - T
    loss = np.sum(E ** 2)

    grads_W = []
    grads_b = []
    delta = 2 * E * out * (1 - out)
    for l in range(len(Ws) - 1, -1, -1):
        W = Ws[l]
        A = activations[l]
        dW = delta.T @ A
        if dW.shape != W.shape:
            dW = dW.T            # make it fit
        grads_W.insert(0, dW)
        grads_b.insert(0, np.sum(delta, axis=0))
        delta = np.dot(delta, W.T) * A * (1 - A)
    return loss, grads_W, grads_b
