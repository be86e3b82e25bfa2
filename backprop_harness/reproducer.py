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

from backprop_harness.compare import exact_rule

from oracles.cases import MANUAL_NAMES, GraphCase, ManualCase, MLPCase, SoftmaxCase

__all__ = ["snippet"]


def _num(x) -> str:
    x = float(x)
    return repr(x) if np.isfinite(x) else f"float({str(x)!r})"


def _array(a) -> str:
    a = np.asarray(a, dtype=float)
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


_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def _call(case, fn) -> tuple[list, dict]:
    """Lines that call ``fn`` on ``case``, and the received values by name (as expressions)."""
    if isinstance(case, GraphCase):
        lines = [f"x{i} = impl.Value({_num(v)})" for i, v in enumerate(case.leaves)]
        n = case.leaves.size
        for i, node in enumerate(case.nodes):
            def operand(x):
                return f"x{x}" if isinstance(x, int) and x < n else f"v{x}" if isinstance(x, int) else _num(x)
            a = operand(node.a)
            if node.op in _INFIX:
                expr = f"{a} {_INFIX[node.op]} {operand(node.b)}"
            else:
                expr = f"-{a}" if node.op == "neg" else f"{a}.{node.op}()"
            lines.append(f"v{n + i} = {expr}")
        out = f"v{n + len(case.nodes) - 1}" if case.nodes else "x0"
        lines.append(f"{out}.backward()")
        return lines, {"output": f"{out}.data", **{f"dL/dx{i}": f"x{i}.grad" for i in range(n)}}
    if isinstance(case, ManualCase):
        lines = [f"x = {_array(case.x)}", f"t = {_array(case.t)}", f"w = {_array(case.w)}  # {', '.join(MANUAL_NAMES)}",
                 "y = impl.forward(x, w)", "g = list(impl.gradients(x, t, w))"]
        received = {"loss": "float(np.sum((np.asarray(y, dtype=float) - t) ** 2))"}
        received.update({f"dL/d{k}": f"g[{i}]" for i, k in enumerate(MANUAL_NAMES)})
        return lines, received
    if isinstance(case, MLPCase) and fn == "NeuralNetwork":
        W, V = case.Ws
        lines = [f"X = {_array(case.X)}", f"T = {_array(case.T)}",
                 f"net = impl.NeuralNetwork({W.shape[0]}, {W.shape[1]}, {V.shape[1]})",
                 f"net.W = {_array(W)}", f"net.V = {_array(V)}",
                 "Y = net.forward(X)", "grad_W, grad_V = net.backward(T)"]
        return lines, {"loss": "float(np.sum((np.asarray(Y) - T) ** 2))", "dL/dW": "grad_W", "dL/dV": "grad_V"}
    if isinstance(case, MLPCase):
        L = len(case.Ws)
        lines = [f"X = {_array(case.X)}", f"T = {_array(case.T)}",
                 "Ws = [" + ", ".join(_array(W) for W in case.Ws) + "]",
                 "bs = [" + ", ".join(_array(b if case.layout == "row" else np.reshape(b, (-1, 1)))
                                     for b in (case.bs if case.bs is not None else [np.zeros(d) for d in case.dims[1:]]))
                 + "]",
                 "loss, dWs, dbs = impl.mlp_gradients(X, T, Ws, bs)"]
        received = {"loss": "loss", **{f"dL/dW{l + 1}": f"dWs[{l}]" for l in range(L)}}
        if case.bs is not None:
            received.update({f"dL/db{l + 1}": f"dbs[{l}]" for l in range(L)})
        return lines, received
    if isinstance(case, SoftmaxCase):
        lines = [f"X = {_array(case.X)}", f"Y = {_array(case.Y)}"]
        lines += [f"{k} = {_array(getattr(case, k))}" for k in ("W1", "b1", "W2", "b2")]
        lines.append("loss, grads = impl.softmax_gradients(X, Y, W1, b1, W2, b2)")
        return lines, {"loss": "loss", **{f"dL/d{k}": f"grads[{k!r}]" for k in ("W1", "b1", "W2", "b2")}}
    raise TypeError(f"not a case: {type(case).__name__}")


def _expected(case, fn, gradient) -> dict:
    names = {"W1": "W", "W2": "V"} if fn == "NeuralNetwork" else {}
    out = {}
    if gradient.loss is not None:
        out["output" if isinstance(case, GraphCase) else "loss"] = _num(gradient.loss)
    out.update({f"dL/d{names.get(k, k)}": _array(v) for k, v in gradient.grads.items()})
    return out


def tolerances(case, expected) -> tuple:
    """(atol of the gradient, atol of the loss or output): the policy's exact rule for the
    case, on the gradient's scale and on the loss's, as ``compare.gradient_report`` applies it."""
    tol, scale, loss_scale = exact_rule(case, expected)
    return tol.atol(scale), tol.atol(loss_scale)


def snippet(spec, fn: str, case, expected, title: str = "", before: list = ()) -> str:
    """The snippet for one call of ``fn`` on ``case``; ``expected`` is the reference's
    ``Gradient`` for it, compared under the tolerances the harness applies (``tolerances``).
    ``before``: cases to call first (a failure that needs an earlier call, as a cache
    kept from one)."""
    grad_atol, loss_atol = tolerances(case, expected)
    lines = [f"# {title}" if title else "# reproducer", "import numpy as np"] + _import(spec)
    for i, other in enumerate(before):
        calls, _ = _call(other, fn)
        lines += [f"# call {i + 1}: an earlier call, as the harness made it"] + calls
    call, received = _call(case, fn)
    lines += ["# the failing call"] + call
    wanted = _expected(case, fn, expected)
    lines.append("expected = {" + ", ".join(f"{k!r}: {v}" for k, v in wanted.items()) + "}")
    lines.append("received = {" + ", ".join(f"{k!r}: {received[k]}" for k in wanted if k in received) + "}")
    lines += ["# the harness's tolerances for this case (its policy's exact rule)",
              "atol = {" + ", ".join(f"{k!r}: {loss_atol if k in ('loss', 'output') else grad_atol!r}"
                                     for k in wanted) + "}",
              "for name, want in expected.items():",
              "    got = np.asarray(received[name], dtype=float)",
              "    err = np.max(np.abs(got - want)) if got.shape == np.shape(want) else np.inf",
              "    print(f\"{name}: {'ok' if err <= atol[name] else 'WRONG'} (max abs err {err:.3g})\\n\"",
              "          f\"  expected {np.asarray(want).tolist()}\\n  received {got.tolist()}\")"]
    return "\n".join(lines)
