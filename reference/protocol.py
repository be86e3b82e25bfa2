"""The reference in the plug-in protocol's shape (``backprop_harness.protocol``).

This is what runs under the conformance tests when no ``--impl`` is given, so
the plug-in path itself (worker process, protocol calls, checks) is exercised
by every default run. Each function is the posts' API over the reference.
"""
from __future__ import annotations

from reference import manual, mlp, softmax
from reference.engine import Value
from reference.mlp import NeuralNetwork

__all__ = ["Value", "forward", "gradients", "mlp_gradients", "NeuralNetwork", "softmax_gradients"]


def forward(x, w):
    """(y1, y2) of 003's 2-2-2 network."""
    return manual.forward(x, w)


def gradients(x, t, w):
    """dL/d[w11, w12, w21, w22, v11, v12, v21, v22], L = (y1 - t1)^2 + (y2 - t2)^2."""
    return manual.gradients(x, t, w)


def mlp_gradients(X, T, Ws, bs):
    """(loss, dWs, dbs): row layout, sigmoid on every layer, squared error summed."""
    g = mlp.loss_and_gradients(X, T, Ws, bs)
    return g.loss, g.dWs, g.dbs


def softmax_gradients(X, Y, W1, b1, W2, b2):
    """(loss, {"W1", "b1", "W2", "b2"}): sigmoid hidden layer, softmax, cross-entropy summed."""
    return softmax.loss_and_gradients(X, Y, W1, b1, W2, b2)
