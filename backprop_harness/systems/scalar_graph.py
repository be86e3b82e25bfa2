"""scalar_graph: a micrograd-style ``Value`` asked to run a straight-line program (``GraphCase``)
and back-propagate from its last value. No conventions: the operations asked are those the
class has (``discover``, run in the worker)."""
from __future__ import annotations

import numpy as np

from backprop_harness.answers import Answer, checked, sequence
from backprop_harness.systems import System
from oracles import Gradient
from oracles.cases import GraphCase

__all__ = ["SYSTEM"]

_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


class ScalarGraph(System):
    name = "scalar_graph"
    case_type = GraphCase
    functions = ("Value",)
    calls = {"Value": "Value(x)"}

    def request(self, case, fn, conv):
        return {"fn": "Value", "leaves": case.leaves, "nodes": [[n.op, n.a, n.b] for n in case.nodes]}

    def answer(self, case, fn, request, reply, conv):
        __tracebackhide__ = True
        r = reply["result"]
        n = case.leaves.size
        data, grads = sequence(r.get("data"), None, "Value", "data"), sequence(r.get("grads"), None, "Value", "grads")
        g = checked(grads[:n], [()] * n, "Value", [f"x{i}.grad" for i in range(n)])
        out = checked(data[-1:], [()], "Value", ["output.data"])[0]
        leaves_after = checked(data[:n], [()] * n, "Value", [f"x{i}.data" for i in range(n)])
        modified = [f"x{i}.data" for i, v in enumerate(leaves_after) if not np.array_equal(v, case.leaves[i])]
        return Answer(Gradient(float(out), {f"x{i}": d for i, d in enumerate(g)}, "impl"), modified,
                      {"data": data, "grads": grads})

    def reproducer_call(self, case, fn, conv, literal):
        n = case.leaves.size
        lines = [f"x{i} = impl.Value({literal(v)})" for i, v in enumerate(case.leaves)]

        def operand(x):
            return f"x{x}" if isinstance(x, int) and x < n else f"v{x}" if isinstance(x, int) else literal(x)
        for i, node in enumerate(case.nodes):
            a = operand(node.a)
            if node.op in _INFIX:
                expr = f"{a} {_INFIX[node.op]} {operand(node.b)}"
            else:
                expr = f"-{a}" if node.op == "neg" else f"{a}.{node.op}()"
            lines.append(f"v{n + i} = {expr}")
        out = f"v{n + len(case.nodes) - 1}" if case.nodes else "x0"
        lines.append(f"{out}.backward()")
        return lines, {"output": f"{out}.data", **{f"dL/dx{i}": f"x{i}.grad" for i in range(n)}}

    def expected(self, case, fn, gradient, conv):
        return {"output": gradient.loss, **{f"dL/d{k}": v for k, v in gradient.grads.items()}}

    def raw(self, case, fn, r, conv):
        try:
            return {f"x{i}": r["grads"][i] for i in range(case.leaves.size)}, r["data"][-1]
        except (KeyError, IndexError, TypeError):
            return {}, None


SYSTEM = ScalarGraph()
