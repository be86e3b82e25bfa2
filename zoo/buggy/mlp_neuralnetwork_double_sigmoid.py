"""Buggy: 003's NeuralNetwork class with the sigmoid applied twice in backward.

The student reused a helper ``sigmoid_prime(x) = sigmoid(x) * (1 - sigmoid(x))``
in backward and called it on the stored outputs: ``sigmoid_prime(self.Y)`` and
``sigmoid_prime(self.H)``. But self.Y and self.H already are sigmoid outputs;
the derivative is Y * (1 - Y) (as 003 writes it), and sigmoid_prime(Y) computes
sigmoid(sigmoid(Y_in)) * (1 - sigmoid(sigmoid(Y_in))). No mlp_gradients.
"""
import numpy as np

ZOO = {"system": "mlp", "mistake": "NeuralNetwork.backward applies the sigmoid twice",
       "fails": ["oracles", "worked examples"], "diagnosis": "double_sigmoid"}


def sigmoid(z):
    return 1. / (1 + np.exp(-z))


def sigmoid_prime(x):
    return sigmoid(x) * (1 - sigmoid(x))


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
        grad_Y_in = sigmoid_prime(self.Y) * grad_Y  # sigmoid
        grad_V = np.dot(self.H.T, grad_Y_in)  # outer product
        grad_H = np.dot(grad_Y_in, self.V.T)

        # -----
        grad_H_in = sigmoid_prime(self.H) * grad_H  # sigmoid
        grad_W = np.dot(self.X.T, grad_H_in)  # outer product
        return grad_W, grad_V
