"""Correct: Nielsen's ``backprop(x, y)``, one instance at a time, declared as such.

Style: the code of 001's source, Nielsen's network.py (chapter 2), ported to Python 3:
column vectors, ``W @ a + b``, biases (d, 1), the cost 1/2 ||a_L - y||^2 of one
training instance, ``delta = (a_L - y) * sigma'(z_L)``, then
``delta = W_{l+1}^T delta * sigma'(z_l)`` with sigma' computed from z as
sigma(z)(1 - sigma(z)), and ``nabla_w = delta a_{l-1}^T``. It takes one instance, so it
declares ``"batch": "one"`` together with the column layout and the half-SSE loss; the
harness asks it single instances only.
"""
import numpy as np

ZOO = {"systems": ["mlp"], "style": "Nielsen's network.py backprop(x, y): one instance, column vectors, negative indices"}

CONVENTIONS = {"mlp": {"layout": "column", "loss": "half_sse", "bias": "column", "batch": "one"}}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def mlp_gradients(x, y, weights, biases):
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    # feedforward
    activation = x
    activations = [x]   # list to store all the activations, layer by layer
    zs = []             # list to store all the z vectors, layer by layer
    for b, w in zip(biases, weights):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    cost = 0.5 * np.sum((activations[-1] - y) ** 2)
    # backward pass
    delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].transpose())
    num_layers = len(weights) + 1
    for l in range(2, num_layers):
        z = zs[-l]
        sp = sigmoid_prime(z)
        delta = np.dot(weights[-l + 1].transpose(), delta) * sp
        nabla_b[-l] = delta
        nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
    return cost, nabla_w, nabla_b
