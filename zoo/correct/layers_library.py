"""Correct: a tiny layer library, Linear / Sigmoid / Softmax-cross-entropy, each with forward and backward.

Style: object-oriented, the way one writes a first framework: each layer caches
what its backward pass needs and turns the gradient of its output into that of its
input, storing its parameters' gradients on itself. mlp_gradients stacks
Linear + Sigmoid pairs and a squared-error loss; softmax_gradients builds 000's
network, Linear, Sigmoid, Linear, then a softmax fused with the cross-entropy.
"""
import numpy as np

ZOO = {"systems": ["mlp", "softmax"], "style": "layer classes with forward/backward"}


class Linear:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad_out):
        self.dW = self.x.T @ grad_out
        self.db = grad_out.sum(axis=0)
        return grad_out @ self.W.T


class Sigmoid:
    def forward(self, x):
        self.out = 1.0 / (1.0 + np.exp(-x))
        return self.out

    def backward(self, grad_out):
        return grad_out * self.out * (1.0 - self.out)


class SquaredError:
    def forward(self, y, t):
        self.diff = y - t
        return np.sum(self.diff ** 2)

    def backward(self):
        return 2.0 * self.diff


class SoftmaxCrossEntropy:
    """softmax over each row, then cross-entropy summed over the batch."""

    def forward(self, z, y):
        shifted = z - z.max(axis=1, keepdims=True)
        self.log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.p = np.exp(self.log_p)
        self.y = y
        return -np.sum(y * self.log_p)

    def backward(self):
        return self.p * self.y.sum(axis=1, keepdims=True) - self.y


class Sequential:
    def __init__(self, *layers):
        self.layers = layers

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad):
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad


def mlp_gradients(X, T, Ws, bs):
    linears = [Linear(W, b) for W, b in zip(Ws, bs)]
    layers = []
    for lin in linears:
        layers += [lin, Sigmoid()]
    net = Sequential(*layers)
    criterion = SquaredError()
    loss = criterion.forward(net.forward(X), T)
    net.backward(criterion.backward())
    return loss, [lin.dW for lin in linears], [lin.db for lin in linears]


def softmax_gradients(X, Y, W1, b1, W2, b2):
    fc1, fc2 = Linear(W1, b1), Linear(W2, b2)
    net = Sequential(fc1, Sigmoid(), fc2)
    criterion = SoftmaxCrossEntropy()
    loss = criterion.forward(net.forward(X), Y)
    net.backward(criterion.backward())
    return loss, {"W1": fc1.dW, "b1": fc1.db, "W2": fc2.dW, "b2": fc2.db}
