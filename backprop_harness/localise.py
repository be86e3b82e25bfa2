"""Where a wrong answer is wrong, before naming why.

``tensors(case, received, expected, atol)`` compares an answer with the right one
tensor by tensor: which are right, which are wrong, and the pattern within each
wrong one (all zero, a sign, a constant factor, transposed, entries permuted, one
row / column / entry only, another shape with the right values). ``layer`` walks
a network back from its output: a wrong tensor at layer l with every later one
right locates the backward step into layer l.

For a scalar engine, ``operations(ops, ask)`` asks the implementation probe graphs
of one operation each (``Value`` leaves, a constant on either side for the binary
ones) at a few points, and compares each local derivative with the right one:
the operation whose derivative is wrong, on which operand, received against
expected, and the simple wrong formula that fits where one does (a factor, a sign,
the derivative taken at the input instead of the output, the other operand's
derivative). Then, only when every single operation is right, ``structure`` asks
graphs that use a value twice, a diamond and a chain (accumulation and order).

Everything here is a claim about the answer's data: a pattern is named only where
it holds within the matching tolerance on every entry.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from oracles.cases import GraphCase, ManualCase, MLPCase, Node, SoftmaxCase

__all__ = ["Where", "tensors", "layer", "operations", "structure", "probes", "inner_probes", "reuse_probes",
           "dead_branch_probe", "PROBE_POINTS"]


@dataclass
class Where:
    """Where an answer is wrong (each field None or empty where it was not established)."""
    wrong: list = field(default_factory=list)
    right: list = field(default_factory=list)
    patterns: dict = field(default_factory=dict)      # wrong tensor -> the pattern, in words
    layer: int | None = None                          # networks: the backward step into this layer
    op: str | None = None                             # scalar engines: the operation with a wrong derivative
    operand: str | None = None                        # "a", "b" or "both" (binary operations)
    evidence: list = field(default_factory=list)      # lines: the probe, received against expected
    fits: str | None = None                           # the simple wrong formula that fits, if one does
    also: list = field(default_factory=list)          # other operations wrong too (built from this one?)

    def to_json(self) -> dict:
        return {"wrong": self.wrong, "right": self.right, "patterns": self.patterns, "layer": self.layer,
                "op": self.op, "operand": self.operand, "evidence": self.evidence, "fits": self.fits,
                "also": self.also}

    def words(self) -> str:
        parts = []
        if self.op:
            which = {"a": "its left operand", "b": "its right operand", "both": "both operands"}.get(self.operand)
            parts.append(f"the local derivative of {self.op}" + (f" with respect to {which}" if which else "")
                         + " is wrong" + (f" ({self.fits})" if self.fits else ""))
            parts += [f"  {line}" for line in self.evidence[:4]]
            if self.also:
                parts.append(f"  also wrong: {', '.join(self.also)} (engines often build these from {self.op})")
            return "\n".join(parts)
        if self.layer is not None:
            parts.append(f"the backward step into layer {self.layer} is the first wrong, walking back from the "
                         f"output")
        if self.wrong:
            described = [f"dL/d{k} ({self.patterns[k]})" if self.patterns.get(k) else f"dL/d{k}" for k in self.wrong]
            parts.append("wrong: " + ", ".join(described) + (f"; right: {', '.join('dL/d' + k for k in self.right)}"
                                                             if self.right else ""))
        return "; ".join(parts)


# -- tensors -----------------------------------------------------------------------------------------

def close(a, b, atol) -> bool:
    """Same shape, non-finite in the same places, and within ``atol`` elsewhere."""
    if a.shape != b.shape:
        return False
    fa, fb = np.isfinite(a), np.isfinite(b)
    return bool(np.array_equal(fa, fb) and np.all(np.abs(a[fa] - b[fb]) <= atol))


def pattern(received, expected, atol: float) -> str | None:
    """The pattern of a wrong tensor against the right one, in words; None if no simple one fits."""
    r, e = np.asarray(received, dtype=float), np.asarray(expected, dtype=float)
    if r.shape != e.shape:
        if r.size == e.size and close(r.reshape(e.shape), e, atol):
            return f"the right values in shape {r.shape} instead of {e.shape}"
        if r.ndim == 2 and r.shape == e.shape[::-1] and close(r.T, e, atol):
            return "transposed"
        return f"shape {r.shape} instead of {e.shape}"
    if not np.all(np.isfinite(r)):
        return "not finite"
    scale = float(np.max(np.abs(e), initial=0.0))
    if np.all(np.abs(r) <= atol) and scale > atol:
        return "all zero"
    dot = float(np.sum(e * e))
    if dot > 0:
        c = float(np.sum(r * e)) / dot
        if close(r, c * e, atol) and abs(c - 1) * scale > atol:
            return "sign flipped" if abs(c + 1) < 1e-9 else f"a constant factor {c:.6g} of the right one"
    if e.ndim == 2 and e.shape[0] == e.shape[1] and e.shape[0] > 1 and close(r, e.T, atol):
        return "transposed"
    if r.size > 1 and close(np.sort(r, axis=None), np.sort(e, axis=None), atol):
        return "the right entries, permuted"
    bad = np.abs(r - e) > atol
    if e.ndim == 2:
        rows, cols = np.flatnonzero(bad.any(axis=1)), np.flatnonzero(bad.any(axis=0))
        if rows.size == 1 and e.shape[0] > 1:
            return f"only row {rows[0]} wrong (of {e.shape[0]})"
        if cols.size == 1 and e.shape[1] > 1:
            return f"only column {cols[0]} wrong (of {e.shape[1]})"
        right_rows = np.flatnonzero(~bad.any(axis=1))
        if right_rows.size == 1 and e.shape[0] > 2:
            return f"only row {right_rows[0]} right (of {e.shape[0]})"
    if e.ndim == 1 and int(bad.sum()) == 1 and e.size > 1:
        return f"only entry {int(np.flatnonzero(bad)[0])} wrong (of {e.size})"
    return None


def tensors(case, received: dict, expected: dict, atol) -> tuple:
    """(wrong names, right names, {wrong name: pattern}) in the case's parameter order;
    ``atol(e)`` is the matching tolerance for a tensor of right values ``e``."""
    wrong, right, patterns = [], [], {}
    for name, e in expected.items():
        e = np.asarray(e, dtype=float)
        r = received.get(name)
        try:
            r = np.asarray(r, dtype=float)
        except (TypeError, ValueError):
            r = None
        if r is not None and close(r, e, atol(e)):
            right.append(name)
            continue
        wrong.append(name)
        found = pattern(r, e, atol(e)) if r is not None else "missing"
        if found:
            patterns[name] = found
    return wrong, right, patterns


def _layer_of(case, name: str) -> int | None:
    if isinstance(case, ManualCase):
        return 1 if name.startswith("w") else 2
    if isinstance(case, (MLPCase, SoftmaxCase)) and name[1:].isdigit():
        return int(name[1:])
    return None


def layer(case, wrong: list) -> int | None:
    """The layer nearest the output with a wrong tensor (every later layer right): the backward
    step into that layer is the first wrong one. None for a scalar graph."""
    layers = [_layer_of(case, k) for k in wrong]
    layers = [l for l in layers if l is not None]
    return max(layers) if layers else None


# -- scalar engines: one operation at a time ---------------------------------------------------------

UNARY_POINTS = {"neg": (0.7, -1.3, 2.1), "exp": (0.7, -1.3, 2.1), "log": (0.3, 1.7, 2.6),
                "sigmoid": (0.7, -1.3, 2.1), "tanh": (0.7, -1.3, 2.1), "relu": (0.7, -1.3, 2.1)}
BINARY_POINTS = ((0.7, -1.3), (1.9, 0.4), (-0.6, 2.2))
POW_POINTS = ((0.7, 3.0), (1.9, 2.0), (1.3, -1.0), (2.2, 0.5))
CONSTANT = 1.5
BINARY_OPS = ("add", "sub", "mul", "div")
PROBE_POINTS = {"unary": UNARY_POINTS, "binary": BINARY_POINTS, "pow": POW_POINTS, "constant": CONSTANT}


def probes(op: str) -> list:
    """[(label, case, {leaf: operand})] of one-operation graphs for ``op``."""
    out = []
    if op in UNARY_POINTS:
        for x in UNARY_POINTS[op]:
            out.append((f"{op}({x})", GraphCase([x], (Node(op, 0),)), {"x0": "a"}))
    elif op == "pow":
        for x, c in POW_POINTS:
            out.append((f"{x} ** {c}", GraphCase([x], (Node("pow", 0, float(c)),)), {"x0": "a"}))
    else:
        sym = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[op]
        for a, b in BINARY_POINTS:
            out.append((f"{a} {sym} {b}", GraphCase([a, b], (Node(op, 0, 1),)), {"x0": "a", "x1": "b"}))
        a, b = BINARY_POINTS[1]
        out.append((f"{a} {sym} {CONSTANT}", GraphCase([a], (Node(op, 0, CONSTANT),)), {"x0": "a"}))
        out.append((f"{CONSTANT} {sym} {b}", GraphCase([b], (Node(op, CONSTANT, 0),)), {"x0": "b"}))
    return out


def _fit(op, rows) -> str | None:
    """The simple wrong formula that every probe of ``op`` fits, in words: rows are
    (case, operand, received, expected, expected of the other operand or None)."""
    tol = 1e-9
    got = np.array([r[2] for r in rows])
    want = np.array([r[3] for r in rows])
    if np.all(np.abs(got) <= tol):
        return "it is 0"
    if np.all(np.abs(got - 1.0) <= tol) and not np.all(np.abs(want - 1.0) <= tol):
        return "it is 1, as if the operation were the identity"
    nonzero = np.abs(want) > tol
    if nonzero.any():
        ratios = got[nonzero] / want[nonzero]
        if np.all(np.abs(ratios - ratios[0]) <= 1e-9 * max(1.0, abs(ratios[0]))) \
                and np.all(np.abs(got[~nonzero]) <= tol):
            c = ratios[0]
            if abs(c + 1) <= 1e-9:
                return "its sign is flipped"
            return f"it is {c:.6g} times the right one"
    others = [r[4] for r in rows]
    if all(o is not None for o in others) and np.all(np.abs(got - np.array(others)) <= tol * (1 + np.abs(got))):
        return "it is the other operand's derivative: written for the wrong variable"
    if op == "pow":
        cs = np.array([r[0].nodes[0].b for r in rows])
        if np.all(np.abs(got * cs - want) <= tol * (1 + np.abs(want))):
            return "the exponent's factor c is dropped: x^(c-1) instead of c x^(c-1)"
        xs = np.array([r[0].leaves[0] for r in rows])
        if np.all(np.abs(got - cs * xs ** cs) <= tol * (1 + np.abs(got))):
            return "the exponent is not lowered: c x^c instead of c x^(c-1)"
    if op in ("sigmoid", "tanh", "exp", "log"):
        xs = np.array([r[0].leaves[0] for r in rows])
        at_input = {"sigmoid": xs * (1 - xs), "tanh": 1 - xs ** 2, "exp": xs, "log": 1 / np.where(xs == 0, np.nan, xs)}
        outs = {"sigmoid": 1 / (1 + np.exp(-xs)), "tanh": np.tanh(xs), "exp": np.exp(xs), "log": np.log(np.abs(xs))}
        if op != "log" and np.all(np.abs(got - at_input[op]) <= tol * (1 + np.abs(got))):
            return "the formula in terms of the output is applied to the input"
        if op in ("sigmoid", "tanh"):
            s = outs[op]
            again = (1 / (1 + np.exp(-s))) if op == "sigmoid" else np.tanh(s)
            twice = again * (1 - again) if op == "sigmoid" else 1 - again ** 2
            if np.all(np.abs(got - twice) <= tol * (1 + np.abs(got))):
                return "the activation is applied again before its derivative"
        if op == "log" and np.all(np.abs(got - 1 / outs["log"]) <= tol * (1 + np.abs(got))):
            return "1/out instead of 1/x"
        if op == "exp" and np.all(np.abs(got - 1.0) <= tol):
            return "it is 1"
    return None


def operations(ops, ask, right, atol) -> Where | None:
    """The operations of ``ops`` whose local derivative is wrong, asked one at a time.

    ``ask(case) -> (received grads, loss) or None`` asks the implementation; ``right(case)``
    is the reference's ``Gradient``; ``atol(expected) -> float`` the matching tolerance.
    Returns the first wrong operation (in the order of ``ops``) with the operand(s) whose
    derivative is wrong, the probe lines, the fitting formula and the other wrong operations
    (``also``); None when every operation asked is right (or none could be asked)."""
    first, asked, all_zero = None, 0, True
    for op in ops:
        rows, wrong_operands, with_constant, lines = [], set(), set(), []
        for label, case, operand in probes(op):
            answer = ask(case)
            if answer is None:
                continue
            expected = right(case).grads
            received = answer[0]
            for leaf, which in operand.items():
                try:
                    got = float(np.asarray(received[leaf], dtype=float).reshape(()))
                except (KeyError, TypeError, ValueError):
                    continue
                want = float(expected[leaf])
                other = None
                if len(operand) == 2:
                    other_leaf = "x1" if leaf == "x0" else "x0"
                    other = float(expected[other_leaf])
                ok = math.isfinite(got) and abs(got - want) <= atol(np.array([want]))
                if not ok:
                    (wrong_operands if case.leaves.size == 2 or op not in BINARY_OPS else with_constant).add(which)
                    lines.append(f"{label}: d/d{'a' if which == 'a' else 'b'} received {got!r}, expected {want!r}")
                rows.append((case, which, got, want, other))
                all_zero = all_zero and got == 0.0
        asked += bool(rows)
        # which operand is decided by the probes of two Values; a constant on one side goes
        # through the reflected operators, which an engine may write separately
        wrong_operands = wrong_operands or with_constant
        if wrong_operands and first is not None:
            first.also.append(op)
        elif wrong_operands:
            operand = "both" if wrong_operands == {"a", "b"} else next(iter(wrong_operands))
            bad = [r for r in rows if r[1] in wrong_operands]
            first = Where(op=op, operand=operand if op in ("add", "sub", "mul", "div") else None,
                          evidence=lines, fits=_fit(op, bad))
    if first is None:
        first = _inner(ops, ask, right, atol)
    if first is not None and asked > 1 and len(first.also) == asked - 1:
        # every operation wrong alike: not one operation's derivative, the walk itself
        return Where(op="backward", evidence=first.evidence,
                     fits="every gradient is 0: the output's own gradient is never set to 1" if all_zero
                     else "every operation's derivative is wrong: the backward walk, not one operation")
    return first


UPSTREAM = 2.5


def reuse_probes(op: str) -> list:
    """[(label, case, {leaf: operand})]: ``op`` of x, added to x itself (x used twice, once through
    ``op``): an operation whose backward overwrites instead of accumulating shows here, and
    only where the other use of x happens to be walked first."""
    out = []
    for label, case, operand in probes(op)[:2]:
        n = case.leaves.size
        out.append((f"({label}) + x0", GraphCase(case.leaves, case.nodes + (Node("add", n, 0),)), operand))
    return out


def dead_branch_probe() -> tuple:
    """(label, case): out = x0 * 3 beside a node 10 * x0 that the output does not use, and a leaf
    x1 that nothing uses: d out / d x0 = 3, d out / d x1 = 0 (an engine that walks every node
    it made, or every leaf, gives 13 and something else)."""
    return ("x0 * 3 beside an unused 10 * x0, and an unused x1",
            GraphCase([0.7, -1.2], (Node("mul", 0, 10.0), Node("mul", 0, 3.0))))


def inner_probes(op: str) -> list:
    """[(label, case, {leaf: operand})]: ``probes(op)``'s first two, each output times ``UPSTREAM``."""
    return [(f"({label}) * {UPSTREAM}", GraphCase(case.leaves, case.nodes + (Node("mul", case.leaves.size, UPSTREAM),)),
             operand) for label, case, operand in probes(op)[:2]]


def _inner(ops, ask, right, atol) -> Where | None:
    """Each operation as the inner node, its output multiplied by a constant: an operation right
    at the output (where the gradient from above is 1) that drops or mishandles the gradient
    from above shows only here. Needs mul, itself checked at the output first."""
    if "mul" not in ops:
        return None
    for op in ops:
        lines, rows = [], []
        for label, case, operand in probes(op)[:2]:
            inner = GraphCase(case.leaves, case.nodes + (Node("mul", case.leaves.size, UPSTREAM),))
            answer = ask(inner)
            if answer is None:
                continue
            expected = right(inner).grads
            for leaf, which in operand.items():
                try:
                    got = float(np.asarray(answer[0][leaf], dtype=float).reshape(()))
                except (KeyError, TypeError, ValueError):
                    continue
                want = float(expected[leaf])
                rows.append((got, want))
                if not (math.isfinite(got) and abs(got - want) <= atol(np.array([want]))):
                    lines.append(f"({label}) * {UPSTREAM}: d/d{which} received {got!r}, expected {want!r}")
        if lines:
            dropped = all(abs(g * UPSTREAM - w) <= atol(np.array([w])) for g, w in rows)
            return Where(op=op, evidence=lines,
                         fits="the gradient from above is not multiplied in (right only at the output)" if dropped
                         else "right at the output, wrong below another node")
    return None


def structure(ops, ask, right, atol) -> Where | None:
    """With every operation right: a value used twice, a diamond and a chain, for gradients
    overwritten instead of accumulated and for an order that is not topological."""
    probes = []
    if "add" in ops:
        probes.append(("x + x (a value used twice)", GraphCase([0.8], (Node("add", 0, 0),))))
    if "mul" in ops:
        probes.append(("x * x (a value used twice)", GraphCase([0.8], (Node("mul", 0, 0),))))
    if {"mul", "add"} <= set(ops):
        probes.append(("a diamond: (x * 2) * (x + 1)",
                       GraphCase([0.8], (Node("mul", 0, 2.0), Node("add", 0, 1.0), Node("mul", 1, 2)))))
        probes.append(("an intermediate used twice: y = x * 2, then (y + 1) * (y * 3)",
                       GraphCase([0.8], (Node("mul", 0, 2.0), Node("add", 1, 1.0), Node("mul", 1, 3.0),
                                         Node("mul", 2, 3)))))
        probes.append(("a chain: ((x * 2 + 1) * 3) + x",
                       GraphCase([0.8], (Node("mul", 0, 2.0), Node("add", 1, 1.0), Node("mul", 2, 3.0),
                                         Node("add", 3, 0)))))
    if "mul" in ops:
        probes.append(dead_branch_probe())
    lines = []
    for label, case in probes:
        answer = ask(case)
        if answer is None:
            continue
        want = float(right(case).grads["x0"])
        try:
            got = float(np.asarray(answer[0]["x0"], dtype=float).reshape(()))
        except (KeyError, TypeError, ValueError):
            continue
        if not (math.isfinite(got) and abs(got - want) <= atol(np.array([want]))):
            lines.append(f"{label}: dL/dx received {got!r}, expected {want!r}")
    if lines:
        dead = any(line.startswith(dead_branch_probe()[0]) for line in lines)
        return Where(op="backward", evidence=lines,
                     fits="every operation is right alone; " + (
                         "nodes the output does not use are walked too (the walk must start from the output)"
                         if dead and len(lines) == 1 else
                         "a value used more than once or the order of the walk is not"))
    return None
