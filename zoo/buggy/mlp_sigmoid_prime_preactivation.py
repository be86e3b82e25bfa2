"""Buggy: the sigmoid's derivative evaluated at the pre-activation, z(1 - z).

001 says "the derivative of the sigmoid function is conveniently sigma'(x) = x(1 - x)"
and writes delta_L = (a_L - y) * W_L a_{L-1}(1 - W_L a_{L-1}). The student coded
``def sigmoid_prime(z): return z * (1 - z)`` and called it on the pre-activation
z = A @ W + b. x(1 - x) is the derivative only when x is the sigmoid's *output*
a = sigmoid(z); at z it is the wrong number.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "sigmoid' as z(1 - z) at the pre-activation (001)",
       "fails": ["oracles"], "diagnosis": "derivative_at_preactivation"}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_prime(x):
    return x * (1 - x)


def mlp_gradients(X, T, Ws, bs):
    Z, A = [], [X]
    for W, b in zip(Ws, bs):
        Z.append(A[-1] @ W + b)
        A.append(sigmoid(Z[-1]))
    loss = np.sum((A[-1] - T) ** 2)

    L = len(Ws)
    dWs, dbs = [None] * L, [None] * L
    delta = 2 * (A[-1] - T) * sigmoid_prime(Z[-1])
    for l in range(L - 1, -1, -1):
        dWs[l] = A[l].T @ delta
        dbs[l] = np.sum(delta, axis=0)
        if l > 0:
            delta = (delta @ Ws[l].T) * sigmoid_prime(Z[l - 1])
    return loss, dWs, dbs
