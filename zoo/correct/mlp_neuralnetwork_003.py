"""Correct: 003's NeuralNetwork class as the post writes it (no mlp_gradients).

Style: 003's own code: ``forward`` keeps X, H and Y on the object, ``backward(T)``
takes the summed squared error's gradient 2(Y - T) back through Y(1 - Y) and
H(1 - H), the derivative taken at the stored activations, and returns
(grad_W, grad_V).
"""
import numpy as np

ZOO = {"systems": ["mlp"], "style": "003's NeuralNetwork class"}


def sigmoid(z):
    return 1. / (1 + np.exp(-z))


class NeuralNetwork:
    def __init__(self, input_dim=2, hidden_dim=2, output_dim=2):
        self.W = 0.1 * np.random.rand(input_dim, hidden_dim)
        self.V = 0.1 * np.random.rand(hidden_dim, output_dim)

    # expects X to be a (n X input_dim) matrix
    def forward(self, X):
        self.X = X  # keep for backward pass

        self.H_in = np.dot(X, self.W)
        self.H = sigmoid(self.H_in)
        # ----
        self.Y_in = np.dot(self.H, self.V)
        self.Y = sigmoid(self.Y_in)
        return self.Y

    # expects T to be a (n X output_dim) matrix
    def backward(self, T):
        E = self.Y - T
        E_sq = E ** 2
        self.L = np.sum(E_sq, axis=1, keepdims=True)
        grad_Y = 2 * E

        # -----
        grad_Y_in = (self.Y) * (1 - self.Y) * grad_Y  # sigmoid
        grad_V = np.dot(self.H.T, grad_Y_in)  # outer product
        grad_H = np.dot(grad_Y_in, self.V.T)

        # -----
        grad_H_in = (self.H * (1. - self.H)) * grad_H  # sigmoid
        grad_W = np.dot(self.X.T, grad_H_in)  # outer product
        return grad_W, grad_V
