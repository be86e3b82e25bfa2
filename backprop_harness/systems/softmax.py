"""softmax: 000's network (``SoftmaxCase``) through ``softmax_gradients``.

``softmax_gradients(X, Y, W1, b1, W2, b2) -> (loss, {"W1", "b1", "W2", "b2"})``, under
the declared conventions:

* ``hidden``     the hidden layer's activation: "sigmoid" (default, 000), "tanh", "relu"
                 (CS231n's ``TwoLayerNet``).
* ``reduction``  the cross-entropy "sum"med over the batch (default, 000) or its "mean".
* ``labels``     Y "one_hot" (default, (n, k)) or "index": integer class indices (n,).
* ``l2``         lambda >= 0 (default 0): the loss adds a regulariser on the weights (not the
                 biases) after the reduction, ``l2_form`` "lambda" (lambda sum W^2, default)
                 or "half_lambda" (lambda/2 sum W^2).
* ``layout``     "row" (default): X (n, d), W1 (d, h), W2 (h, k); "column": X (d, n),
                 W1 (h, d), W2 (k, h), one-hot Y (k, n). Reports name entries in the row
                 layout (the transposes of a column-layout implementation's).
* ``bias``       "vector" (d,) (the row layout's default), "row" (1, d), "column" (d, 1)
                 (the column layout's default).
"""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from backprop_harness.answers import Answer, ConformanceFailure, changed, checked, number, sequence
from backprop_harness.systems import Choice, System
from oracles import Gradient
from oracles.cases import HIDDEN, REDUCTIONS, SoftmaxCase

__all__ = ["SYSTEM", "l2_coefficient"]

NAMES = ("W1", "b1", "W2", "b2")
L2_FORMS = {"lambda": 1.0, "half_lambda": 0.5}


def l2_coefficient(conv: dict) -> float:
    """The c of the loss's c (sum W1^2 + sum W2^2) that ``l2`` and ``l2_form`` declare."""
    return conv["l2"] * L2_FORMS[conv["l2_form"]]


class Softmax(System):
    name = "softmax"
    case_type = SoftmaxCase
    functions = ("softmax_gradients",)
    calls = {"softmax_gradients": "softmax_gradients(X, Y, W1, b1, W2, b2)"}
    choices = (
        Choice("hidden", "sigmoid", "the hidden layer's activation", HIDDEN),
        Choice("reduction", "sum", "the cross-entropy summed or averaged over the batch", REDUCTIONS),
        Choice("labels", "one_hot", "Y one-hot (n, k) or integer class indices (n,)", ("one_hot", "index")),
        Choice("l2", 0.0, "lambda of the L2 regulariser on W1 and W2", number=True),
        Choice("l2_form", "lambda", "lambda sum W^2 or lambda/2 sum W^2", tuple(L2_FORMS)),
        Choice("layout", "row", "row: X (n, d), X @ W + b; column: X (d, n), W @ A + b", ("row", "column")),
        Choice("bias", None, "biases (d,), (1, d) or (d, 1)", ("vector", "row", "column")),
    )

    def finish(self, conv):
        if conv["bias"] is None:
            conv["bias"] = "column" if conv["layout"] == "column" else "vector"
        return conv

    def _sent(self, case, conv) -> dict:
        column = conv["layout"] == "column"
        shape = {"vector": lambda d: (d,), "row": lambda d: (1, d), "column": lambda d: (d, 1)}[conv["bias"]]
        Y = (np.argmax(case.Y, axis=1).astype(np.int64) if conv["labels"] == "index"
             else case.Y.T if column else case.Y)
        return {"X": case.X.T if column else case.X, "Y": Y,
                "W1": case.W1.T if column else case.W1, "b1": case.b1.reshape(shape(case.b1.size)),
                "W2": case.W2.T if column else case.W2, "b2": case.b2.reshape(shape(case.b2.size))}

    def request(self, case, fn, conv):
        return {"fn": fn, "args": list(self._sent(case, conv).values())}

    def _parts(self, result, what):
        loss, grads = sequence(result, 2, what, "(loss, grads)")
        if isinstance(grads, dict) and set(grads) != {"__object__"}:
            if set(grads) != set(NAMES):
                raise ConformanceFailure(f"{what}[1] has keys {sorted(grads)}; expected exactly {list(NAMES)}",
                                         check="shapes and dtypes")
            grads = [grads[k] for k in NAMES]
        grads = sequence(grads, 4, f"{what}[1]", 'a dict {"W1": ..., "b1": ..., "W2": ..., "b2": ...}')
        return loss, grads

    def answer(self, case, fn, request, reply, conv):
        __tracebackhide__ = True
        what = "softmax_gradients(X, Y, W1, b1, W2, b2)"
        loss, grads = self._parts(reply["result"], what)
        sent = self._sent(case, conv)
        loss = checked([number(loss, f"{what}[0] (loss)")], [()], what, ["loss"])[0]
        arrays = checked(grads, [sent[k].shape for k in NAMES], what, [f"grads[{k!r}] (dL/d{k})" for k in NAMES])
        column = conv["layout"] == "column"
        g = {k: (a.T if column and k.startswith("W") else a).reshape(case.params()[k].shape)
             for k, a in zip(NAMES, arrays)}
        after = reply.get("inputs")
        modified = changed(sent, dict(zip(sent, after)) if isinstance(after, list) else {})
        return Answer(Gradient(float(loss), g, "impl"), modified)

    def raw(self, case, fn, r, conv):
        try:
            loss, grads = self._parts(r, "softmax_gradients")
        except ConformanceFailure:
            return {}, None
        column = conv["layout"] == "column"
        out = {}
        for k, a in zip(NAMES, grads):
            a = np.asarray(a) if isinstance(a, np.ndarray) else a
            if isinstance(a, np.ndarray) and column and k.startswith("W"):
                a = a.T
            out[k] = a
        return out, loss

    def reproducer_call(self, case, fn, conv, literal):
        lines, received = super().reproducer_call(case, fn, conv, literal)
        lines.append("grads = result[1] if isinstance(result[1], dict) else dict(zip(%r, result[1]))" % (NAMES,))
        return lines, received

    def received(self, case, fn, conv):
        return {"loss": "result[0]", **{f"dL/d{k}": f"grads[{k!r}]" for k in NAMES}}

    def expected(self, case, fn, gradient, conv):
        sent = self._sent(case, conv)
        column = conv["layout"] == "column"
        out = {"loss": gradient.loss}
        for k in NAMES:
            v = np.asarray(gradient.grads[k])
            out[f"dL/d{k}"] = (v.T if column and k.startswith("W") else v).reshape(sent[k].shape)
        return out

    def under(self, case, conv):
        return replace(case, reduction=conv["reduction"], hidden=conv["hidden"], l2=l2_coefficient(conv))

    def not_applicable(self, case, conv):
        declared = (conv["reduction"], conv["hidden"], l2_coefficient(conv))
        if declared != (case.reduction, case.hidden, case.l2):
            return (f"the post's numbers are for a {case.hidden} hidden layer, the {case.reduction} reduction and "
                    f"l2 = {case.l2:g}; CONVENTIONS declares {declared[1]}, {declared[0]} and l2 = {declared[2]:g}")
        return None

    def probe(self, case, conv):
        """Three instances, three classes, four hidden units; inputs and weights positive, so a
        relu hidden layer is far from its kink."""
        rng = np.random.default_rng(20261206)
        d = case.X.shape[1]
        return SoftmaxCase(rng.uniform(0.5, 1.0, (3, d)), np.eye(3)[[0, 2, 1]], rng.uniform(0.2, 0.6, (d, 4)),
                           rng.uniform(0.1, 0.3, 4), rng.normal(0, 1, (4, 3)), rng.normal(0, 0.5, 3),
                           case.reduction, case.hidden, case.l2)

    def variants(self, conv):
        out = []
        forms = tuple(L2_FORMS) if conv["l2"] else (conv["l2_form"],)
        for reduction, hidden, form in itertools.product(REDUCTIONS, HIDDEN, forms):
            v = {**conv, "reduction": reduction, "hidden": hidden, "l2_form": form}
            if v != conv:
                out.append(v)
        return out


SYSTEM = Softmax()
