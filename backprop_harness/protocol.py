"""The plug-in protocol: the posts' own API, which an implementation provides any subset of.

* scalar_graph  ``class Value``: ``Value(x)``, ``.data``, ``.grad``, ``.backward()`` and any of
                ``+ - * / ** neg`` (``__add__`` ...; ``**`` with a float exponent) and the
                methods ``exp log sigmoid tanh relu``. The harness builds graphs only from
                the operations the class has (``discover`` below, run in the worker).
* manual_222    ``forward(x, w) -> (y1, y2)`` and ``gradients(x, t, w)`` -> the 8 partial
                derivatives, ``w = [w11, w12, w21, w22, v11, v12, v21, v22]`` (003):
                h1_in = x1 w11 + x2 w21, y1_in = h1 v11 + h2 v21, sigmoid everywhere,
                L = (y1 - t1)^2 + (y2 - t2)^2.
* mlp           ``mlp_gradients(X, T, Ws, bs) -> (loss, dWs, dbs)`` and/or 003's class
                ``NeuralNetwork(input_dim, hidden_dim, output_dim)`` (``W``, ``V`` assigned
                by the caller, ``forward(X) -> Y``, ``backward(T) -> (grad_W, grad_V)``).
* softmax       ``softmax_gradients(X, Y, W1, b1, W2, b2) -> (loss, {"W1", "b1", "W2", "b2"})``.

Conventions other than the defaults are declared in one place, a module-level
dict ``CONVENTIONS`` (validated by ``conventions``)::

    CONVENTIONS = {
        "mlp": {"layout": "column", "loss": "half_mean", "activation": "tanh",
                "output_activation": "sigmoid"},
        "softmax": {"reduction": "mean"},
    }

``mlp``: ``layout`` "row" (default: X (n, d0), Ws[l] (d_l, d_l+1), bs[l] (d_l+1,)) or
"column" (001: X (d0, n), Ws[l] (d_l+1, d_l), bs[l] (d_l+1, 1), so ``W @ A + b``
broadcasts); ``loss`` "sse" (default: squared error summed over batch and outputs)
or "half_mean" (001: 1/(2n) of it); ``activation`` for every layer and
``output_activation`` for the last, each "sigmoid" (default), "tanh", "relu" or
"identity". It applies to ``mlp_gradients``; ``NeuralNetwork`` is 003's class as
written (row layout, sigmoid, no biases, summed squared error).
``softmax``: ``reduction`` "sum" (default, 000) or "mean" (cross-entropy averaged
over the batch).
"""
from __future__ import annotations

__all__ = ["CHECKS", "SYSTEM_FUNCTIONS", "FUNCTION_SYSTEM", "VALUE_METHODS", "REFLECTED", "ACTIVATION_NAMES", "DEFAULTS",
           "ConventionError", "conventions", "mlp_activations"]

# The conformance checks, in the order of the report's columns (tests/test_conformance.py,
# docs/conformance-schema.md).
CHECKS = ("worked examples", "oracles", "extreme inputs", "loss consistency", "shapes and dtypes",
          "inputs unmodified", "determinism")

SYSTEM_FUNCTIONS = {
    "scalar_graph": ("Value",),
    "manual_222": ("forward", "gradients"),
    "mlp": ("mlp_gradients", "NeuralNetwork"),
    "softmax": ("softmax_gradients",),
}
FUNCTION_SYSTEM = {fn: system for system, fns in SYSTEM_FUNCTIONS.items() for fn in fns}

# graph operation (oracles.cases) -> the Value method that performs it
VALUE_METHODS = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__", "pow": "__pow__",
                 "neg": "__neg__", "exp": "exp", "log": "log", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu"}
# a constant on the left (2.5 - x) needs the reflected method; without it the
# constant is passed as Value(2.5), a leaf whose gradient nobody asks for
REFLECTED = {"add": "__radd__", "sub": "__rsub__", "mul": "__rmul__", "div": "__rtruediv__"}

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "identity")
DEFAULTS = {
    "mlp": {"layout": "row", "loss": "sse", "activation": "sigmoid", "output_activation": None},
    "softmax": {"reduction": "sum"},
}
_CHOICES = {
    ("mlp", "layout"): ("row", "column"),
    ("mlp", "loss"): ("sse", "half_mean"),
    ("mlp", "activation"): ACTIVATION_NAMES,
    ("mlp", "output_activation"): ACTIVATION_NAMES,
    ("softmax", "reduction"): ("sum", "mean"),
}


class ConventionError(ValueError):
    """The implementation's ``CONVENTIONS`` is not one the protocol knows; the message says what is."""


def conventions(declared) -> dict:
    """The conventions per system: ``DEFAULTS`` updated with the implementation's ``CONVENTIONS``.

    Raises ``ConventionError`` naming the bad system, key or value and the valid choices.
    """
    result = {system: dict(d) for system, d in DEFAULTS.items()}
    if declared is None:
        return result
    if not isinstance(declared, dict):
        raise ConventionError(f"CONVENTIONS must be a dict like {{'mlp': {{'layout': 'column'}}}}, "
                              f"got {type(declared).__name__}")
    for system, entries in declared.items():
        if system not in DEFAULTS:
            raise ConventionError(f"CONVENTIONS[{system!r}]: no conventions to declare for {system!r}; "
                                  f"expected keys among {sorted(DEFAULTS)}")
        if not isinstance(entries, dict):
            raise ConventionError(f"CONVENTIONS[{system!r}] must be a dict, got {type(entries).__name__}")
        for key, value in entries.items():
            choices = _CHOICES.get((system, key))
            if choices is None:
                raise ConventionError(f"CONVENTIONS[{system!r}][{key!r}]: unknown key; expected one of "
                                      f"{sorted(k for s, k in _CHOICES if s == system)}")
            if value not in choices:
                raise ConventionError(f"CONVENTIONS[{system!r}][{key!r}] = {value!r}; expected one of {choices}")
            result[system][key] = value
    return result


def mlp_activations(conv: dict, depth: int) -> tuple:
    """The activation of each of ``depth`` layers under the mlp conventions."""
    acts = [conv["activation"]] * depth
    if conv["output_activation"]:
        acts[-1] = conv["output_activation"]
    return tuple(acts)
