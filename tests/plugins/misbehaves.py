"""Misbehaves on purpose, one way per system; the 2-2-2 network is correct.

* at import: numpy is patched so that a harness running in this process would see
  every comparison succeed and every number finite;
* scalar_graph: a Value that writes garbage into the fixtures when created and
  forgets the factor of a product (wrong gradients);
* mlp_gradients: loops forever; NeuralNetwork: calls os._exit(3);
* softmax_gradients: segfaults.
"""
import ctypes
import os
from pathlib import Path

import numpy as np

from reference import protocol as _ref

np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *args, **k: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.testing.assert_allclose = lambda *a, **k: None
np.isfinite = lambda x, *a, **k: np.ones(np.shape(x), dtype=bool)

forward, gradients = _ref.forward, _ref.gradients
FIXTURE = Path(_ref.__file__).resolve().parent.parent / "fixtures" / "003_worked_example.toml"


class Value(_ref.Value):
    def __init__(self, *args, **kwargs):
        FIXTURE.write_text("garbage\n")
        super().__init__(*args, **kwargs)

    def __mul__(self, other):
        out = super().__mul__(other)
        out._local = tuple(1.0 for _ in out._local)      # d(xy)/dx taken as 1
        return out


def mlp_gradients(X, T, Ws, bs):
    while True:
        pass


class NeuralNetwork:
    def __init__(self, input_dim, hidden_dim, output_dim):
        os._exit(3)

    def forward(self, X):
        return X

    def backward(self, T):
        return T, T


def softmax_gradients(X, Y, W1, b1, W2, b2):
    ctypes.string_at(0)
