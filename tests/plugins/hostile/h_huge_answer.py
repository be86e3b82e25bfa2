"""Hostile (an oversize answer): mlp_gradients answers with 20,000 entries of the wrong shape
per layer (160 kB each, well under the sandbox's reply limit of 64 MiB), NeuralNetwork
with twelve million (96 MB, above it). The harness must read neither into a report
larger than what it shows. (Kept to 20,000 so that the report a harness which keeps
whole answers writes stays near 12 MB; the same answer at a million entries made a
625 MB conformance.json.)"""
import numpy as np


def mlp_gradients(X, T, Ws, bs):
    return 0.0, [np.ones(20_000) for _ in Ws], [np.zeros(b.shape) for b in bs]


class NeuralNetwork:
    def __init__(self, input_dim, hidden_dim, output_dim):
        self.W = self.V = None

    def forward(self, X):
        return np.zeros((X.shape[0], self.V.shape[1]))

    def backward(self, T):
        return np.ones(12_000_000), np.ones(3)
