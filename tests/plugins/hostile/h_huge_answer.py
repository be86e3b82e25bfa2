"""Hostile (item 5 of issue 18): mlp_gradients answers with 5 million entries of the
wrong shape (40 MB, under the sandbox's reply limit of 64 MiB), NeuralNetwork with 12
million (96 MB, above it). The harness must read neither into a report larger than
what it shows."""
import numpy as np


def mlp_gradients(X, T, Ws, bs):
    loss = 0.0
    return loss, [np.ones(5_000_000) for _ in Ws], [np.zeros(b.shape) for b in bs]


class NeuralNetwork:
    def __init__(self, input_dim, hidden_dim, output_dim):
        self.W = self.V = None

    def forward(self, X):
        return np.zeros((X.shape[0], self.V.shape[1]))

    def backward(self, T):
        return np.ones(12_000_000), np.ones(3)
