"""The plug-in protocol's names: what the worker process may know (it imports only this,
``wire``, ``isolation`` and numpy); what each system asks and expects is
``backprop_harness.systems``.

* scalar_graph  ``class Value``: ``Value(x)``, ``.data``, ``.grad``, ``.backward()`` and any of
                ``+ - * / ** neg`` (``__add__`` ...; ``**`` with a float exponent) and the
                methods ``exp log sigmoid tanh relu``.
* manual_222    ``forward(x, w) -> (y1, y2)`` and ``gradients(x, t, w)`` -> the 8 partials.
* mlp           ``mlp_gradients(X, T, Ws, bs) -> (loss, dWs, dbs)`` and/or 003's class
                ``NeuralNetwork(input_dim, hidden_dim, output_dim)``.
* softmax       ``softmax_gradients(X, Y, W1, b1, W2, b2) -> (loss, {"W1", "b1", "W2", "b2"})``.
"""
from __future__ import annotations

__all__ = ["SYSTEMS", "CHECKS", "SYSTEM_FUNCTIONS", "FUNCTION_SYSTEM", "PROTOCOL_NAMES", "VALUE_METHODS", "VALUE_UNARY",
           "REFLECTED", "ACTIVATION_NAMES"]

# The conformance checks, in the order of the report's columns (backprop_harness/conformance/test_conformance.py,
# docs/conformance-schema.md).
CHECKS = ("worked examples", "oracles", "extreme inputs", "loss consistency", "shapes and dtypes",
          "inputs unmodified", "determinism")

SYSTEM_FUNCTIONS = {
    "scalar_graph": ("Value",),
    "manual_222": ("forward", "gradients"),
    "mlp": ("mlp_gradients", "NeuralNetwork"),
    "softmax": ("softmax_gradients",),
}
SYSTEMS = tuple(SYSTEM_FUNCTIONS)          # one verdict each, in the report's order
FUNCTION_SYSTEM = {fn: system for system, fns in SYSTEM_FUNCTIONS.items() for fn in fns}
PROTOCOL_NAMES = tuple(FUNCTION_SYSTEM)

# graph operation (oracles.cases) -> the Value method that performs it
VALUE_METHODS = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__", "pow": "__pow__",
                 "neg": "__neg__", "exp": "exp", "log": "log", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu"}
VALUE_UNARY = ("neg", "exp", "log", "sigmoid", "tanh", "relu")
# a constant on the left (2.5 - x) needs the reflected method; without it the
# constant is passed as Value(2.5), a leaf whose gradient nobody asks for
REFLECTED = {"add": "__radd__", "sub": "__rsub__", "mul": "__rmul__", "div": "__rtruediv__"}

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "identity")
