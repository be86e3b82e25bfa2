"""Plug-in: numpy-ml 0.1.2 (PyPI), numpy_ml.neural_nets.layers.FullyConnected +
numpy_ml.neural_nets.losses.SquaredError.

Glue only: build one FullyConnected layer per weight matrix, set the given W/b with
the library's set_params, run forward, take the loss value and the output gradient
from SquaredError, and call backward layer by layer; gradients are read from
layer.gradients.

How the output sigmoid is wired: SquaredError.grad(y, y_pred, z, act_fn) returns
dL/dz (it multiplies by act_fn.grad(z) itself), while FullyConnected.backward(dLdy)
expects dL/d(layer output) and multiplies by its own act_fn.grad again. So the last
layer is linear (act_fn=None) and its output goes through numpy-ml's Sigmoid
activation object, which is the split the SquaredError.grad signature is built for.
"""
# numpy_ml/utils/data_structures.py (imported by numpy_ml/__init__.py) does
# `from collections import Hashable`, removed in Python 3.10; restore the old alias.
import collections
import collections.abc

import numpy as np

if not hasattr(collections, "Hashable"):
    collections.Hashable = collections.abc.Hashable

from numpy_ml.neural_nets.activations import Sigmoid
from numpy_ml.neural_nets.layers import FullyConnected
from numpy_ml.neural_nets.losses import SquaredError

CONVENTIONS = {
    "mlp": {
        "layout": "row",         # Z = X @ W + b, W (n_in, n_out)
        "loss": "half_sse",      # 0.5 * np.linalg.norm(y_pred - y) ** 2
        "bias": "row",           # b = np.zeros((1, n_out)); dB = dZ.sum(axis=0, keepdims=True)
        "batch": "any",
        "activation": "sigmoid",
        "output_activation": "sigmoid",
    },
}


def _layer(W, b, act_fn, X):
    layer = FullyConnected(n_out=W.shape[1], act_fn=act_fn)
    state = np.random.get_state()     # the lazy initialisation draws random weights
    try:
        layer.forward(X, retain_derived=False)   # initialises n_in, W, b, gradients
    finally:
        np.random.set_state(state)
    layer.set_params({"parameters": {"W": W.copy(), "b": b.copy()}})
    return layer


def mlp_gradients(X, T, Ws, bs):
    layers, A = [], X
    for i, (W, b) in enumerate(zip(Ws, bs)):
        last = i == len(Ws) - 1
        layer = _layer(W, b, None if last else "sigmoid", A)
        A = layer.forward(A)
        layers.append(layer)
    out_act = Sigmoid()
    Z = A                      # last layer is linear: its output is the pre-activation
    Y = out_act(Z)
    loss_fn = SquaredError()
    loss = loss_fn(T, Y)
    d = loss_fn.grad(T, Y, Z, out_act)              # dL/dZ of the output layer
    for layer in reversed(layers):
        d = layer.backward(d)
    return loss, [l.gradients["W"] for l in layers], [l.gradients["b"] for l in layers]
