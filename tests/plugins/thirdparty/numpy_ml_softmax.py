"""Plug-in: numpy-ml 0.1.2 (PyPI): FullyConnected(sigmoid) -> FullyConnected(linear)
-> layers.Softmax, loss losses.CrossEntropy (one-hot labels, summed over the batch).

Glue only: construct the layers, set the given parameters with set_params, forward,
CrossEntropy.loss for the value, CrossEntropy.grad (which is dL/d(logits): it already
goes through the softmax, so the Softmax layer's backward is not called), then
backward through both FullyConnected layers; gradients read from layer.gradients.
"""
# numpy_ml/utils/data_structures.py (imported by numpy_ml/__init__.py) does
# `from collections import Hashable`, removed in Python 3.10; restore the old alias.
import collections
import collections.abc

import numpy as np

if not hasattr(collections, "Hashable"):
    collections.Hashable = collections.abc.Hashable

from numpy_ml.neural_nets.layers import FullyConnected, Softmax
from numpy_ml.neural_nets.losses import CrossEntropy

CONVENTIONS = {
    "softmax": {
        "hidden": "sigmoid",
        "reduction": "sum",        # -np.sum(y * np.log(y_pred + eps)), grad = y_pred - y (no /n)
        "labels": "one_hot",       # is_binary(y), y (n, m) one-hot
        "l2": 0.0,
        "layout": "row",
        "bias": "row",             # (1, n_out)
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


def softmax_gradients(X, Y, W1, b1, W2, b2):
    l1 = _layer(W1, b1, "sigmoid", X)
    H = l1.forward(X)
    l2 = _layer(W2, b2, None, H)
    S = l2.forward(H)
    P = Softmax().forward(S)
    xe = CrossEntropy()
    loss = xe(Y, P)
    d = xe.grad(Y, P)
    l1.backward(l2.backward(d))
    return loss, {"W1": l1.gradients["W"], "b1": l1.gradients["b"],
                  "W2": l2.gradients["W"], "b2": l2.gradients["b"]}
