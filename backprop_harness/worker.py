"""The worker side of the plug-in path: loads the implementation and calls it, nothing more.

It runs in its own process (``backprop_harness.isolation``), from a scratch
directory, so whatever the code under test does to numpy, to files or to the
process stays here. It judges nothing: it converts what the implementation
returns to arrays (keeping their dtypes) and says, in the implementation's own
terms, what it could not convert. Every check happens in the harness process
(``backprop_harness.plugin``).

Requests (dicts) and the result of each:

    {"fn": "discover"}                                   which Value operations exist
    {"fn": "Value", "leaves", "nodes"}                   data and grad of every value of the program
    {"fn": "forward", "x", "w"}                          {"y"}
    {"fn": "gradients", "x", "t", "w"}                   {"grads"} (8 numbers, 003's order)
    {"fn": "mlp_gradients", "X", "T", "Ws", "bs"}        {"loss", "dWs", "dbs"}
    {"fn": "NeuralNetwork", "X", "T", "W", "V"}          {"Y", "grad_W", "grad_V"}
    {"fn": "softmax_gradients", "X", "Y", "W1", ...}     {"loss", "grads"}
    {"batch": [request, ...]}                            {"replies": [reply, ...]}

Each reply: {"status": "ok", "result", "modified"} (the inputs the call changed),
{"status": "not_implemented" | "raised", "exception", "message", "traceback"}
(the implementation's own traceback, the worker's frames removed), or
{"status": "bad_return", "message"} (what came back and what was expected).
"""
from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path

import numpy as np

from backprop_harness.protocol import FUNCTION_SYSTEM, REFLECTED, VALUE_METHODS
from oracles.cases import MANUAL_NAMES, UNARY

__all__ = ["factory", "Handler"]

_HERE = str(Path(__file__).resolve().parent)


class BadReturn(Exception):
    """What the implementation returned cannot be read as the protocol says."""


def _plugin_traceback(exc: BaseException) -> str:
    """The traceback without the harness's and importlib's frames: the user's code only."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_HERE) and not f.filename.startswith("<frozen importlib")]
    if not frames:             # raised where the harness called it: a wrong signature, say
        return ""
    return "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) + "".join(
        traceback.format_exception_only(type(exc), exc))


def _failure(exc: BaseException) -> dict:
    status = "not_implemented" if isinstance(exc, NotImplementedError) else "raised"
    return {"status": status, "exception": type(exc).__name__, "message": str(exc)[:2000],
            "traceback": _plugin_traceback(exc)[-8000:]}


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)} items"
    text = repr(x)
    return f"{text[:60] + '...' if len(text) > 60 else text} ({type(x).__name__})"


def _array(x, what: str) -> np.ndarray:
    """``x`` as a numeric array, its dtype kept (float32 stays float32, for the harness to see)."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):          # a torch tensor
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x)
    except Exception as exc:                                  # ragged nesting and the like
        raise BadReturn(f"{what} is {_describe(x)}, which is not an array of numbers ({exc})") from None
    if a.dtype.kind not in "biuf":
        raise BadReturn(f"{what} is {_describe(x)}; expected numbers (float64)")
    return np.array(a)


def _number(x, what: str) -> np.ndarray:
    a = _array(x, what)
    if a.size != 1:
        raise BadReturn(f"{what} is {_describe(a)}; expected a single number")
    return a.reshape(())


def _sequence(x, n, what: str, expected: str) -> list:
    if isinstance(x, (str, bytes, dict)) or not hasattr(x, "__len__") or not hasattr(x, "__getitem__"):
        raise BadReturn(f"{what} is {_describe(x)}; expected {expected}")
    if n is not None and len(x) != n:
        raise BadReturn(f"{what} is {_describe(x)}; expected {expected}")
    return [x[i] for i in range(len(x))]


def _snapshot(inputs: dict) -> dict:
    """Copies of every array reachable from the inputs, by a readable path (Ws[1])."""
    flat = {}
    for name, value in inputs.items():
        if isinstance(value, list):
            flat.update({f"{name}[{i}]": (v, np.array(v, copy=True)) for i, v in enumerate(value)})
            flat[name] = (value, list(value))
        else:
            flat[name] = (value, np.array(value, copy=True))
    return flat


def _modified(snapshot: dict) -> list:
    changed = []
    for path, (current, before) in snapshot.items():
        if isinstance(before, list):
            if len(current) != len(before) or any(a is not b for a, b in zip(current, before)):
                changed.append(path)
        elif not np.array_equal(current, before, equal_nan=True):
            changed.append(path)
    return changed


class Handler:
    def __init__(self, module):
        self.module = module
        self._value_forms = None

    # -- dispatch ------------------------------------------------------------------

    def handle(self, request: dict) -> dict:
        if "batch" in request:
            return {"replies": [self.handle(r) for r in request["batch"]]}
        fn = request.get("fn")
        method = getattr(self, "_call_" + str(fn), None)
        if method is None:
            raise ValueError(f"unknown request {fn!r}")
        if fn != "discover" and not callable(getattr(self.module, fn, None)):
            return {"status": "missing", "message": f"the implementation has no {fn}"}
        try:
            return method(request)
        except BadReturn as exc:
            return {"status": "bad_return", "message": str(exc)}

    def _call(self, fn, *args, **kwargs):
        return getattr(self.module, fn)(*args, **kwargs)

    def _guarded(self, run, inputs: dict) -> dict:
        """Run ``run()`` (which calls the implementation); report what it changed in ``inputs``."""
        snapshot = _snapshot(inputs)
        try:
            result = run()
        except BadReturn:
            raise
        except BaseException as exc:          # SystemExit too: it is the implementation's verdict
            return _failure(exc)
        return {"status": "ok", "result": result, "modified": _modified(snapshot)}

    # -- scalar graph ----------------------------------------------------------------

    def _call_discover(self, request):
        V = getattr(self.module, "Value", None)
        if V is None:
            return {"status": "missing", "message": "the implementation has no Value"}
        try:
            a, b = V(0.75), V(0.5)
        except BaseException as exc:
            return _failure(exc)
        ops, missing, forms = [], {}, {}
        for op, name in VALUE_METHODS.items():
            method = getattr(type(a), name, None)
            if method is None:
                missing[op] = f"Value has no {name}"
                continue
            try:
                out = method(a, 2.0) if op == "pow" else method(a) if op in UNARY else method(a, b)
            except NotImplementedError:
                missing[op] = f"Value.{name} raises NotImplementedError"
                continue
            except BaseException:
                out = None                     # present but broken: tested, and the tests say how
            if out is NotImplemented:
                missing[op] = f"Value.{name} returns NotImplemented"
                continue
            ops.append(op)
            if op in REFLECTED:
                forms[op] = {"right": _accepts(method, a, 2.0),
                             "left": _accepts(getattr(type(a), REFLECTED[op], None), a, 2.0)}
        self._value_forms = forms
        return {"status": "ok", "result": {"ops": ops, "missing": missing, "constants": forms}, "modified": []}

    def _call_Value(self, request):
        V = self.module.Value
        if self._value_forms is None:
            self._call_discover({})
        forms = self._value_forms or {}
        leaves_in = [float(x) for x in np.asarray(request["leaves"], dtype=float)]

        def run():
            leaves = [V(x) for x in leaves_in]
            values = list(leaves)
            for op, a, b in request["nodes"]:
                values.append(_apply(V, op, values, a, b, forms.get(op, {})))
            out = values[-1]
            out.backward()
            result = {"data": [], "grads": []}
            for i, v in enumerate(values):
                label = f"x{i}" if i < len(leaves) else f"node {i - len(leaves)} ({request['nodes'][i - len(leaves)][0]})"
                result["data"].append(_number(getattr(v, "data", None), f"{label}.data"))
                grad = getattr(v, "grad", None)
                if i < len(leaves):
                    result["grads"].append(_number(grad, f"{label}.grad"))
                else:                              # intermediate grads are optional
                    try:
                        result["grads"].append(_number(grad, label))
                    except BadReturn:
                        result["grads"].append(None)
            changed = [f"x{i}.data" for i, v in enumerate(leaves)
                       if not np.array_equal(np.asarray(_number(v.data, f"x{i}.data")), leaves_in[i])]
            result["leaf_data_changed"] = changed
            return result
        reply = self._guarded(run, {})
        if reply["status"] == "ok":
            reply["modified"] = reply["result"].pop("leaf_data_changed")
        return reply

    # -- 003's 2-2-2 network --------------------------------------------------------------

    def _call_forward(self, r):
        x, w = _f64(r["x"]), _f64(r["w"])

        def run():
            y = _sequence(self._call("forward", x, w), 2, "forward(x, w)", "(y1, y2), two numbers")
            return {"y": [_number(v, f"forward(x, w)[{i}]") for i, v in enumerate(y)]}
        return self._guarded(run, {"x": x, "w": w})

    def _call_gradients(self, r):
        x, t, w = _f64(r["x"]), _f64(r["t"]), _f64(r["w"])

        def run():
            g = self._call("gradients", x, t, w)
            what = "gradients(x, t, w)"
            if isinstance(g, dict):
                if set(g) != set(MANUAL_NAMES):
                    raise BadReturn(f"{what} returned a dict with keys {sorted(g)}; expected exactly "
                                    f"{list(MANUAL_NAMES)}")
                g = [g[k] for k in MANUAL_NAMES]
            items = _sequence(g, 8, what, "the 8 partial derivatives [dL/dw11, dL/dw12, dL/dw21, dL/dw22, "
                                          "dL/dv11, dL/dv12, dL/dv21, dL/dv22]")
            return {"grads": [_number(v, f"{what}[{i}] (dL/d{n})") for i, (v, n) in enumerate(zip(items, MANUAL_NAMES))]}
        return self._guarded(run, {"x": x, "t": t, "w": w})

    # -- vectorized MLP ----------------------------------------------------------------------

    def _call_mlp_gradients(self, r):
        X, T = _f64(r["X"]), _f64(r["T"])
        Ws, bs = [_f64(W) for W in r["Ws"]], [_f64(b) for b in r["bs"]]
        L = len(Ws)

        def run():
            what = "mlp_gradients(X, T, Ws, bs)"
            loss, dWs, dbs = _sequence(self._call("mlp_gradients", X, T, Ws, bs), 3, what, "(loss, dWs, dbs)")
            dWs = _sequence(dWs, L, f"{what}[1] (dWs)", f"a list of {L} arrays, one per layer")
            dbs = _sequence(dbs, L, f"{what}[2] (dbs)", f"a list of {L} arrays, one per layer")
            return {"loss": _number(loss, f"{what}[0] (loss)"),
                    "dWs": [_array(d, f"dWs[{l}]") for l, d in enumerate(dWs)],
                    "dbs": [_array(d, f"dbs[{l}]") for l, d in enumerate(dbs)]}
        return self._guarded(run, {"X": X, "T": T, "Ws": Ws, "bs": bs})

    def _call_NeuralNetwork(self, r):
        X, T, W, V = _f64(r["X"]), _f64(r["T"]), _f64(r["W"]), _f64(r["V"])

        def run():
            net = self.module.NeuralNetwork(W.shape[0], W.shape[1], V.shape[1])
            net.W, net.V = W, V
            Y = _array(net.forward(X), "net.forward(X)")
            grads = _sequence(net.backward(T), 2, "net.backward(T)", "(grad_W, grad_V)")
            return {"Y": Y, "grad_W": _array(grads[0], "grad_W"), "grad_V": _array(grads[1], "grad_V")}
        return self._guarded(run, {"X": X, "T": T, "W": W, "V": V})

    # -- softmax network -------------------------------------------------------------------------

    def _call_softmax_gradients(self, r):
        args = {k: _f64(r[k]) for k in ("X", "Y", "W1", "b1", "W2", "b2")}
        names = ("W1", "b1", "W2", "b2")

        def run():
            what = "softmax_gradients(X, Y, W1, b1, W2, b2)"
            loss, grads = _sequence(self._call("softmax_gradients", *args.values()), 2, what, "(loss, grads)")
            if isinstance(grads, dict):
                if set(grads) != set(names):
                    raise BadReturn(f"{what}[1] has keys {sorted(grads)}; expected exactly {list(names)}")
                grads = [grads[k] for k in names]
            grads = _sequence(grads, 4, f"{what}[1]", 'a dict {"W1": ..., "b1": ..., "W2": ..., "b2": ...}')
            return {"loss": _number(loss, f"{what}[0] (loss)"),
                    "grads": {k: _array(g, f"grads[{k!r}]") for k, g in zip(names, grads)}}
        return self._guarded(run, args)


def _f64(x) -> np.ndarray:
    return np.array(x, dtype=np.float64)


def _accepts(method, a, c) -> bool:
    if method is None:
        return False
    try:
        out = method(a, c)
    except BaseException:
        return False
    return out is not NotImplemented and hasattr(out, "data")


def _apply(V, op, values, a, b, forms):
    """One node of an ``oracles.cases`` program, by Python's operators on the implementation's Values."""
    if op in UNARY:
        x = values[a]
        return -x if op == "neg" else getattr(x, op)()
    if op == "pow":
        return values[a] ** b
    if isinstance(a, float) and not forms.get("left", True):
        a = V(a)
    if isinstance(b, float) and not forms.get("right", True):
        b = V(b)
    x = values[a] if isinstance(a, int) else a
    y = values[b] if isinstance(b, int) else b
    if op == "add":
        return x + y
    if op == "sub":
        return x - y
    if op == "mul":
        return x * y
    return x / y


# -- loading ---------------------------------------------------------------------------------------

def _load(init: dict):
    kind, target = init["kind"], init["target"]
    for entry in reversed(init.get("sys_path", [])):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    if kind == "file":
        path = Path(target)
        name = path.stem if path.stem.isidentifier() and path.stem not in sys.modules else "impl_under_test"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(target)


def _version(module, init) -> str | None:
    version = getattr(module, "__version__", None)
    if version is None and init.get("distribution"):
        import importlib.metadata      # here: 50 ms of every worker's start, for installed packages only
        try:
            version = importlib.metadata.version(init["distribution"])
        except importlib.metadata.PackageNotFoundError:
            version = None
    return None if version is None else str(version)


def factory(init: dict):
    """Load the implementation; ``info`` says what it provides, or how loading failed."""
    try:
        module = _load(init)
    except BaseException as exc:
        return Handler(None), {"loaded": False, **_failure(exc)}
    functions = {}
    for fn in FUNCTION_SYSTEM:
        obj = getattr(module, fn, None)
        if callable(obj):
            try:
                functions[fn] = str(inspect.signature(obj))
            except (TypeError, ValueError):
                functions[fn] = "(...)"
    # the protocol's own names are not typos of each other (mlp_gradients vs gradients)
    names = [n for n in dir(module) if not n.startswith("_") and n not in FUNCTION_SYSTEM]
    near = {fn: close[0] for fn in FUNCTION_SYSTEM if fn not in functions
            for close in [difflib.get_close_matches(fn, names, n=1, cutoff=0.8)] if close}
    conventions = getattr(module, "CONVENTIONS", None)
    try:                                        # only plain data crosses the pipe
        conventions = _plain(conventions)
    except TypeError as exc:
        conventions = {"__unreadable__": str(exc)}
    wrapped = getattr(module, "__wraps__", module)        # an adapter names the library it wraps
    return Handler(module), {"loaded": True, "name": getattr(module, "__name__", init["target"]),
                             "file": getattr(wrapped, "__file__", None), "version": _version(module, init),
                             "functions": functions, "near_misses": near, "conventions": conventions}


def _plain(x):
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    raise TypeError(f"CONVENTIONS holds {type(x).__name__}; expected dicts of strings")
