"""The built-in reference (``reference/``) answering ``oracles.cases`` questions as
``oracles.Gradient``s, as the oracles do; the plug-in path
(``backprop_harness.plugin``) asks code the harness did not write the same questions.
"""
from __future__ import annotations

import numpy as np

from oracles import Gradient
from oracles.cases import MANUAL_NAMES, GraphCase, ManualCase, MLPCase, SoftmaxCase, evaluate
from reference import manual, mlp, softmax
from reference.engine import Value, forward_tangents

__all__ = ["reference_gradient", "reference_forward_mode", "VALUE_OPS"]

VALUE_OPS = {"neg": lambda v: -v, "exp": Value.exp, "log": Value.log, "sigmoid": Value.sigmoid,
             "tanh": Value.tanh, "relu": Value.relu}


def _graph(case: GraphCase):
    leaves = [Value(float(x)) for x in case.leaves]
    out = evaluate(leaves, case.nodes, VALUE_OPS)[-1]
    return leaves, out


def reference_gradient(case) -> Gradient:
    """The reference's loss and gradient for ``case``, by its own backward pass."""
    if isinstance(case, GraphCase):
        leaves, out = _graph(case)
        out.backward()
        return Gradient(out.data, {f"x{i}": np.float64(v.grad) for i, v in enumerate(leaves)}, "reference")
    if isinstance(case, ManualCase):
        grads = manual.gradients(case.x, case.t, case.w)
        return Gradient(float(manual.loss(case.x, case.t, case.w)),
                        {k: np.float64(g) for k, g in zip(MANUAL_NAMES, grads)}, "reference")
    if isinstance(case, MLPCase):
        g = mlp.loss_and_gradients(case.X, case.T, case.Ws, case.bs, activations=case.activations,
                                   loss=case.loss, layout=case.layout)
        grads = {f"W{l + 1}": d for l, d in enumerate(g.dWs)}
        if g.dbs is not None:
            grads.update({f"b{l + 1}": d for l, d in enumerate(g.dbs)})
        return Gradient(float(g.loss), grads, "reference")
    if isinstance(case, SoftmaxCase):
        L, grads = softmax.loss_and_gradients(case.X, case.Y, case.W1, case.b1, case.W2, case.b2, case.reduction,
                                             case.hidden, case.l2)
        return Gradient(float(L), grads, "reference")
    raise ValueError(f"not a case: {type(case).__name__}")


def reference_forward_mode(case: GraphCase, direction: dict) -> float:
    """d out / d e along ``direction`` by the reference's forward mode (one tangent pass)."""
    leaves, out = _graph(case)
    seed = {id(v): float(direction[f"x{i}"]) for i, v in enumerate(leaves)}
    return forward_tangents(out, seed)[id(out)]
