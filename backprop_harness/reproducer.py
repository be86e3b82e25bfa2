"""Minimal reproducers: a failure as a Python snippet to copy, paste and run.

The snippet imports the implementation the way the harness did (from its file,
its module name, or the adapter), builds the failing case with every number
written out exactly (``repr`` of a float64 round-trips), makes the protocol
call, and prints what it returned against what the reference gives. The
expected numbers are computed by the reference when the failure is reported.
It needs numpy and the implementation only, not the harness.
"""
from __future__ import annotations

import numpy as np

from backprop_harness import systems
from oracles.rounding import exact_rule

__all__ = ["snippet"]


def _num(x) -> str:
    x = float(x)
    return repr(x) if np.isfinite(x) else f"float({str(x)!r})"


def _array(a) -> str:
    """``a`` as a Python expression: float64 numbers that round-trip, integers (class labels) as
    an integer array, a list (of layers) as a list."""
    if isinstance(a, (list, tuple)):
        return "[" + ", ".join(_array(v) for v in a) + "]"
    a = np.asarray(a)
    if a.dtype.kind in "iu":
        return f"np.array({a.tolist()!r})"
    a = a.astype(float)
    if a.ndim == 0:
        return _num(a)

    def nest(x):
        return "[" + ", ".join(nest(v) for v in x) + "]" if x.ndim else _num(x)
    return f"np.array({nest(a)})"


def _import(spec) -> list:
    if spec.kind == "file":
        return ["import importlib.util",
                f"_spec = importlib.util.spec_from_file_location('impl', {spec.target!r})",
                "impl = importlib.util.module_from_spec(_spec)",
                "_spec.loader.exec_module(impl)"]
    lines = ["import importlib, sys"]
    lines += [f"sys.path.insert(0, {p!r})" for p in spec.sys_path]
    return lines + [f"impl = importlib.import_module({spec.target!r})"]


def tolerances(case, expected) -> tuple:
    """(atol of the gradient, atol of the loss or output): the policy's exact rule for the
    case, on the gradient's scale and on the loss's, as ``compare.gradient_report`` applies it."""
    rule = exact_rule(case, expected)
    return rule.gradient_atol, rule.loss_atol


def snippet(spec, fn: str, case, expected, title: str = "", before: list = (), conv: dict | None = None) -> str:
    """The snippet for one call of ``fn`` on ``case``, made as the harness made it under the
    system's conventions ``conv`` (the defaults when None); ``expected`` is the right
    ``Gradient``, compared under the tolerances the harness applies (``tolerances``), with
    the shape and float64 dtype of every value checked too. The snippet exits with status 1
    when anything prints WRONG. ``before``: cases to call first (a failure that needs an
    earlier call, as a cache kept from one)."""
    system = systems.for_case(case)
    conv = conv if conv is not None else system.validate({})
    grad_atol, loss_atol = tolerances(case, expected)
    lines = [f"# {title}" if title else "# reproducer", "import sys", "import numpy as np"] + _import(spec)
    for i, other in enumerate(before):
        calls, _ = system.reproducer_call(other, fn, conv, _array)
        lines += [f"# call {i + 1}: an earlier call, as the harness made it"] + calls
    call, received = system.reproducer_call(case, fn, conv, _array)
    lines += ["# the failing call"] + call
    wanted = {k: _array(v) for k, v in system.expected(case, fn, expected, conv).items()}
    lines.append("expected = {" + ", ".join(f"{k!r}: {v}" for k, v in wanted.items()) + "}")
    lines.append("received = {" + ", ".join(f"{k!r}: {received[k]}" for k in wanted if k in received) + "}")
    lines += ["# the harness's tolerances for this case (its policy's exact rule)",
              "atol = {" + ", ".join(f"{k!r}: {loss_atol if k in ('loss', 'output') else grad_atol!r}"
                                     for k in wanted) + "}",
              "wrong = 0",
              "for name, want in expected.items():",
              "    got = np.asarray(received[name])",
              "    if got.shape != np.shape(want):",
              "        verdict = f'WRONG (shape {got.shape}, expected {np.shape(want)})'",
              "    elif got.dtype != np.float64:",
              "        verdict = f'WRONG (dtype {got.dtype}, expected float64)'",
              "    else:",
              "        err = np.max(np.abs(got - want), initial=0.0)",
              "        verdict = (f'ok (max abs err {err:.3g})' if err <= atol[name]",
              "                   else f'WRONG (max abs err {err:.3g})')",
              "    wrong += verdict.startswith('WRONG')",
              "    print(f\"{name}: {verdict}\\n  expected {np.asarray(want).tolist()}\\n  received {got.tolist()}\")",
              "if wrong:",
              "    sys.exit(f'{wrong} of {len(expected)} values WRONG')"]
    return "\n".join(lines)
