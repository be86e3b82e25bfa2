"""mlp: a vectorized MLP of any depth (``MLPCase``), through ``mlp_gradients`` or 003's class.

``mlp_gradients(X, T, Ws, bs) -> (loss, dWs, dbs)``, under the declared conventions:

* ``layout``  "row" (default): X (n, d0), Ws[l] (d_l, d_l+1), ``X @ W + b``;
              "column" (001): X (d0, n), Ws[l] (d_l+1, d_l), ``W @ A + b``.
* ``loss``    the squared error E = sum (y - t)^2 over the batch and the outputs, times
              a factor: "sse" (default, 1), "half_sse" (1/2), "mean" (1/n),
              "half_mean" (001: 1/(2n)), "mean_all" (1/(n k): PyTorch's MSELoss,
              Keras' mse), "half_mean_all" (1/(2 n k)).
* ``bias``    how biases are passed and their gradients returned: "vector" (d,)
              (the row layout's default), "row" (1, d) (numpy-ml), "column" (d, 1)
              (the column layout's default, Nielsen), or "none": a network without
              biases, called as ``mlp_gradients(X, T, Ws)`` and returning ``(loss, dWs)``.
* ``batch``   "any" (default) or "one": code that handles a single instance
              (Nielsen's ``backprop(x, y)``) is asked only batches of one.
* ``activation`` for every layer and ``output_activation`` for the last: "sigmoid"
              (default), "tanh", "relu", "identity".

``NeuralNetwork(input_dim, hidden_dim, output_dim)`` is 003's class as written (row
layout, sigmoid, no biases, summed squared error): ``W`` and ``V`` are assigned,
then ``forward(X)`` and ``backward(T) -> (grad_W, grad_V)`` are called.
"""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from backprop_harness.answers import Answer, ConformanceFailure, changed, checked, number, sequence
from backprop_harness.protocol import ACTIVATION_NAMES
from backprop_harness.systems import Choice, System
from oracles import Gradient
from oracles.cases import MLP_LOSSES, MLPCase

__all__ = ["SYSTEM", "activations"]


def activations(conv: dict, depth: int) -> tuple:
    """The activation of each of ``depth`` layers under the mlp conventions."""
    acts = [conv["activation"]] * depth
    if conv["output_activation"]:
        acts[-1] = conv["output_activation"]
    return tuple(acts)


class MLP(System):
    name = "mlp"
    case_type = MLPCase
    functions = ("mlp_gradients", "NeuralNetwork")
    calls = {"mlp_gradients": "mlp_gradients(X, T, Ws, bs)",
             "NeuralNetwork": "NeuralNetwork(input_dim, hidden_dim, output_dim), then forward(X), backward(T)"}
    choices = (
        Choice("layout", "row", "row: X (n, d0), X @ W + b; column: X (d0, n), W @ A + b", ("row", "column")),
        Choice("loss", "sse", "the summed squared error times 1, 1/2, 1/n, 1/(2n), 1/(nk), 1/(2nk)",
               tuple(MLP_LOSSES)),
        Choice("bias", None, "biases (d,), (1, d), (d, 1), or none", ("vector", "row", "column", "none")),
        Choice("batch", "any", "any batch size, or one instance at a time", ("any", "one")),
        Choice("activation", "sigmoid", "every layer's activation", ACTIVATION_NAMES),
        Choice("output_activation", None, "the last layer's activation", ACTIVATION_NAMES),
    )

    def finish(self, conv):
        if conv["bias"] is None:
            conv["bias"] = "column" if conv["layout"] == "column" else "vector"
        return conv

    # -- requests ---------------------------------------------------------------------------------

    @staticmethod
    def bias_shape(d: int, conv: dict) -> tuple:
        return {"vector": (d,), "row": (1, d), "column": (d, 1)}[conv["bias"]]

    def _sent(self, case, conv) -> dict:
        """The arguments of ``mlp_gradients`` by name, as the conventions pass them."""
        sent = {"X": case.X, "T": case.T, "Ws": list(case.Ws)}
        if conv["bias"] != "none":
            bs = case.bs if case.bs is not None else tuple(np.zeros(d) for d in case.dims[1:])
            sent["bs"] = [b.reshape(self.bias_shape(b.size, conv)) for b in bs]
        return sent

    def request(self, case, fn, conv):
        if fn == "NeuralNetwork":
            check_class_case(case)
            W, V = case.Ws
            return {"fn": fn, "construct": [W.shape[0], W.shape[1], V.shape[1]], "set": {"W": W, "V": V},
                    "calls": [["forward", [case.X]], ["backward", [case.T]]]}
        return {"fn": fn, "args": list(self._sent(case, conv).values())}

    # -- replies ----------------------------------------------------------------------------------

    def _parts(self, case, result, conv):
        what = "mlp_gradients(X, T, Ws" + (")" if conv["bias"] == "none" else ", bs)")
        L = len(case.Ws)
        if conv["bias"] == "none":
            items = sequence(result, None, what, "(loss, dWs)")
            if len(items) == 3 and (items[2] is None or items[2] == []):
                items = items[:2]
            loss, dWs = sequence(items, 2, what, "(loss, dWs): the network has no biases")
            dbs = []
        else:
            loss, dWs, dbs = sequence(result, 3, what, "(loss, dWs, dbs)")
            dbs = sequence(dbs, L, f"{what}[2] (dbs)", f"a list of {L} arrays, one per layer")
        dWs = sequence(dWs, L, f"{what}[1] (dWs)", f"a list of {L} arrays, one per layer")
        return what, loss, dWs, dbs

    def answer(self, case, fn, request, reply, conv):
        __tracebackhide__ = True
        if fn == "NeuralNetwork":
            return self._class_answer(case, reply)
        what, loss, dWs, dbs = self._parts(case, reply["result"], conv)
        L = len(case.Ws)
        loss = checked([number(loss, f"{what}[0] (loss)")], [()], what, ["loss"])[0]
        dWs = checked(dWs, [W.shape for W in case.Ws], what, [f"dWs[{l}] (dL/dW{l + 1})" for l in range(L)])
        grads = {f"W{l + 1}": d for l, d in enumerate(dWs)}
        if conv["bias"] != "none":
            shapes = [self.bias_shape(d, conv) for d in case.dims[1:]]
            dbs = checked(dbs, shapes, what, [f"dbs[{l}] (dL/db{l + 1})" for l in range(L)])
            if case.bs is not None:                # biases passed as zeros: their gradients are not asked
                grads.update({f"b{l + 1}": d.reshape(-1) for l, d in enumerate(dbs)})
        sent = self._sent(case, conv)
        after = reply.get("inputs")
        modified = changed(sent, dict(zip(sent, after)) if isinstance(after, list) else {})
        return Answer(Gradient(float(loss), grads, "impl"), modified)

    def _class_answer(self, case, reply):
        __tracebackhide__ = True
        W, V = case.Ws
        Y, grads = sequence(reply["result"], 2, "NeuralNetwork", "the results of forward(X) and backward(T)")
        grads = sequence(grads, 2, "net.backward(T)", "(grad_W, grad_V)")
        Y, gW, gV = checked([Y, *grads], [case.T.shape, W.shape, V.shape], "NeuralNetwork",
                            ["net.forward(X)", "grad_W", "grad_V"])
        after = reply.get("inputs") or {}
        calls = after.get("calls") if isinstance(after.get("calls"), list) else []
        seen = {**(after.get("set") or {}), **{k: c[0] for k, c in zip(("X", "T"), calls) if isinstance(c, list) and c}}
        modified = changed({"W": W, "V": V, "X": case.X, "T": case.T}, seen)
        return Answer(Gradient(float(np.sum((Y - case.T) ** 2)), {"W1": gW, "W2": gV}, "impl"), modified, {"Y": Y})

    def raw(self, case, fn, r, conv):
        try:
            if fn == "NeuralNetwork":
                return {"W1": r[1][0], "W2": r[1][1]}, float(np.sum((np.asarray(r[0]) - case.T) ** 2))
            _, loss, dWs, dbs = self._parts(case, r, conv)
            raw = {f"W{l + 1}": dWs[l] for l in range(len(case.Ws))}
            if case.bs is not None and dbs:
                raw.update({f"b{l + 1}": dbs[l] for l in range(len(case.Ws))})
            return raw, loss
        except (ConformanceFailure, KeyError, IndexError, TypeError, ValueError):
            return {}, None

    # -- the reproducer ---------------------------------------------------------------------------

    def reproducer_call(self, case, fn, conv, literal):
        if fn != "NeuralNetwork":
            return super().reproducer_call(case, fn, conv, literal)
        W, V = case.Ws
        lines = [f"X = {literal(case.X)}", f"T = {literal(case.T)}",
                 f"net = impl.NeuralNetwork({W.shape[0]}, {W.shape[1]}, {V.shape[1]})",
                 f"net.W = {literal(W)}", f"net.V = {literal(V)}",
                 "Y = net.forward(X)", "grad_W, grad_V = net.backward(T)"]
        return lines, {"loss": "float(np.sum((np.asarray(Y) - T) ** 2))", "dL/dW": "grad_W", "dL/dV": "grad_V"}

    def received(self, case, fn, conv):
        out = {"loss": "result[0]", **{f"dL/dW{l + 1}": f"result[1][{l}]" for l in range(len(case.Ws))}}
        if case.bs is not None and conv["bias"] != "none":
            out.update({f"dL/db{l + 1}": f"result[2][{l}]" for l in range(len(case.Ws))})
        return out

    def expected(self, case, fn, gradient, conv):
        if fn == "NeuralNetwork":
            return {"loss": gradient.loss, "dL/dW": gradient.grads["W1"], "dL/dV": gradient.grads["W2"]}
        out = {"loss": gradient.loss}
        for k, v in gradient.grads.items():
            out[f"dL/d{k}"] = np.reshape(v, self.bias_shape(np.size(v), conv)) if k.startswith("b") else v
        return out

    # -- conventions as questions -----------------------------------------------------------------

    def under(self, case, conv):
        return replace(case, loss=conv["loss"], activations=activations(conv, len(case.Ws)))

    def not_applicable(self, case, conv):
        acts = activations(conv, len(case.Ws))
        if (conv["loss"], acts) != (case.loss, case.activations):
            return (f"the post's numbers are for {list(case.activations)} layers and the {case.loss} loss; "
                    f"CONVENTIONS declares {list(acts)} and {conv['loss']}")
        if conv["bias"] == "none" and case.bs is not None:
            return "the post's network has biases; CONVENTIONS declares none"
        if conv["batch"] == "one" and case.batch > 1:
            return f"the post's batch has {case.batch} instances; CONVENTIONS declares one at a time"
        return None

    def probe(self, case, conv):
        """Three instances (one under ``batch = "one"``), three outputs, hidden widths of 4 and 5:
        every pair of loss factors differs; inputs and weights positive, so every relu unit is
        far from its kink."""
        rng = np.random.default_rng(20261206)
        depth = len(case.Ws)
        dims = (case.dims[0],) + (4, 5, 4)[:depth - 1] + (3,)
        n = 1 if conv["batch"] == "one" else 3
        X, T = rng.uniform(0.5, 1.0, (n, dims[0])), rng.uniform(0.0, 1.0, (n, dims[-1]))
        Ws = [rng.uniform(0.2, 0.6, (a, b)) / a for a, b in zip(dims, dims[1:])]
        bs = None if case.bs is None else [rng.uniform(0.1, 0.3, b) for b in dims[1:]]
        if case.layout == "column":
            return MLPCase(X.T, T.T, [W.T for W in Ws], bs, case.activations, case.loss, "column")
        return MLPCase(X, T, Ws, bs, case.activations, case.loss, "row")

    def variants(self, conv):
        out = []
        for loss, act, output in itertools.product(MLP_LOSSES, ACTIVATION_NAMES, (None,) + ACTIVATION_NAMES):
            if output == act:
                continue
            v = {**conv, "loss": loss, "activation": act, "output_activation": output}
            if v != conv:
                out.append(v)
        return out


def check_class_case(case: MLPCase):
    """003's ``NeuralNetwork`` answers only 003's network."""
    if (len(case.Ws) != 2 or case.bs is not None or case.layout != "row" or case.loss != "sse"
            or case.activations != ("sigmoid", "sigmoid")):
        raise ValueError("NeuralNetwork is one fixed network: two sigmoid layers, no biases, row layout, sse")


SYSTEM = MLP()
