"""Returns what the protocol does not ask for, one way per function; Value is correct.

* gradients: NaN for dL/dv22;
* mlp_gradients: float32 gradients;
* NeuralNetwork: modifies the W it was given (and returns the right gradients);
* softmax_gradients: dL/dW1 transposed.
"""
import numpy as np

from reference import protocol as _ref

Value, forward = _ref.Value, _ref.forward


def gradients(x, t, w):
    g = list(_ref.gradients(x, t, w))
    g[7] = float("nan")
    return g


def mlp_gradients(X, T, Ws, bs):
    loss, dWs, dbs = _ref.mlp_gradients(X, T, Ws, bs)
    return loss, [d.astype(np.float32) for d in dWs], [d.astype(np.float32) for d in dbs]


class NeuralNetwork(_ref.NeuralNetwork):
    def backward(self, T):
        grads = super().backward(T)
        self.W *= 0.5            # in place: the caller's array
        return grads


def softmax_gradients(X, Y, W1, b1, W2, b2):
    loss, g = _ref.softmax_gradients(X, Y, W1, b1, W2, b2)
    return loss, {**g, "W1": g["W1"].T}
