"""manual_222: 003's 2-2-2 sigmoid network, scalar by scalar (``ManualCase``).

``gradients(x, t, w)`` gives the 8 partials in 003's order (or a dict by name);
``forward(x, w)`` the outputs, from which the loss (y1 - t1)^2 + (y2 - t2)^2
is computed here. No conventions: the post fixes them."""
from __future__ import annotations

import numpy as np

from backprop_harness.answers import Answer, ConformanceFailure, changed, checked, sequence
from backprop_harness.systems import System
from oracles import Gradient
from oracles.cases import MANUAL_NAMES, ManualCase

__all__ = ["SYSTEM"]

_ORDER = "the 8 partial derivatives [dL/dw11, dL/dw12, dL/dw21, dL/dw22, dL/dv11, dL/dv12, dL/dv21, dL/dv22]"


class Manual222(System):
    name = "manual_222"
    case_type = ManualCase
    functions = ("gradients", "forward")
    calls = {"forward": "forward(x, w)", "gradients": "gradients(x, t, w)"}

    def request(self, case, fn, conv):
        args = [case.x.copy(), case.t.copy(), case.w.copy()] if fn == "gradients" else [case.x.copy(), case.w.copy()]
        return {"fn": fn, "args": args}

    def _inputs(self, case, fn):
        return {"x": case.x, "t": case.t, "w": case.w} if fn == "gradients" else {"x": case.x, "w": case.w}

    def modified(self, case, fn, reply) -> list:
        names = list(self._inputs(case, fn))
        after = reply.get("inputs")
        return changed(self._inputs(case, fn), dict(zip(names, after)) if isinstance(after, list) else {})

    def grads(self, result) -> list:
        what = "gradients(x, t, w)"
        g = result
        if isinstance(g, dict) and set(g) != {"__object__"}:
            if set(g) != set(MANUAL_NAMES):
                raise ConformanceFailure(f"{what} returned a dict with keys {sorted(g)}; expected exactly "
                                         f"{list(MANUAL_NAMES)}", check="shapes and dtypes")
            g = [g[k] for k in MANUAL_NAMES]
        return sequence(g, 8, what, _ORDER)

    def answer(self, case, fn, request, reply, conv):
        __tracebackhide__ = True
        if fn == "forward":
            y = checked(sequence(reply["result"], 2, "forward(x, w)", "(y1, y2), two numbers"), [(), ()],
                        "forward(x, w)", ["y1", "y2"])
            y = np.array([float(v) for v in y])
            return Answer(Gradient(float(np.sum((y - case.t) ** 2)), {}, "impl"), self.modified(case, fn, reply),
                          {"y": y})
        grads = checked(self.grads(reply["result"]), [()] * 8, "gradients(x, t, w)", [f"dL/d{n}" for n in MANUAL_NAMES])
        return Answer(Gradient(None, dict(zip(MANUAL_NAMES, grads)), "impl"), self.modified(case, fn, reply))

    def raw(self, case, fn, r, conv):
        try:
            return dict(zip(MANUAL_NAMES, self.grads(r))), None
        except ConformanceFailure:
            return {}, None

    def reproducer_call(self, case, fn, conv, literal):
        lines = [f"x = {literal(case.x)}", f"t = {literal(case.t)}",
                 f"w = {literal(case.w)}  # {', '.join(MANUAL_NAMES)}",
                 "y = impl.forward(x, w)", "g = impl.gradients(x, t, w)",
                 f"g = [g[k] for k in {list(MANUAL_NAMES)!r}] if isinstance(g, dict) else list(g)"]
        received = {"loss": "float(np.sum((np.asarray(y, dtype=float) - t) ** 2))"}
        received.update({f"dL/d{k}": f"g[{i}]" for i, k in enumerate(MANUAL_NAMES)})
        return lines, received

    def loss_function(self, fn):
        return "forward"


SYSTEM = Manual222()
