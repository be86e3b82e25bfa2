"""Correct: the MLP as a chain of layer objects, back-propagated by recursion, products in np.einsum.

Style: each ``Layer`` holds its weights, bias and a link to the next layer. The call
``layer.run(A)`` computes the layer's output, asks the rest of the network for the
gradient of the loss with respect to that output (the last layer asks the loss), and
returns the gradient with respect to its own input: the chain rule as a recursion whose
return values travel from the output back to the input, with no list of activations and
no loop running backwards. Every product is an einsum with named indices
(n instance, i input unit, o output unit).
"""
import numpy as np

ZOO = {"systems": ["mlp"], "style": "layer objects linked in a chain, recursive backward, einsum"}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class SquaredError:
    def __init__(self, T):
        self.T = T
        self.loss = None

    def run(self, Y):
        """dL/dY for L = sum of (Y - T)^2; remembers L."""
        E = Y - self.T
        self.loss = np.einsum("no,no->", E, E)
        return 2.0 * E


class Layer:
    def __init__(self, W, b, after):
        self.W, self.b, self.after = W, b, after
        self.dW = self.db = None

    def run(self, A_in):
        """Forward through this layer and everything after it; returns dL/dA_in."""
        A_out = sigmoid(np.einsum("ni,io->no", A_in, self.W) + self.b)
        grad_out = self.after.run(A_out)                              # dL/dA_out
        delta = np.einsum("no,no,no->no", grad_out, A_out, 1.0 - A_out)  # dL/dZ
        self.dW = np.einsum("ni,no->io", A_in, delta)
        self.db = np.einsum("no->o", delta)
        return np.einsum("no,io->ni", delta, self.W)


def mlp_gradients(X, T, Ws, bs):
    loss_node = SquaredError(T)
    chain = loss_node
    layers = []
    for W, b in zip(reversed(Ws), reversed(bs)):
        chain = Layer(W, b, chain)
        layers.insert(0, chain)
    chain.run(X)
    return loss_node.loss, [layer.dW for layer in layers], [layer.db for layer in layers]
