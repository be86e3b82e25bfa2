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
    {"fn": NAME, "args": [...]}                          NAME(*args), as data (``plain``), and
                                                         "inputs": the arguments after the call
    {"fn": CLASS, "construct", "set", "calls"}           CLASS(*construct), attributes set, then each
                                                         [method, args] called: their results, and
                                                         "inputs": the attributes and arguments after
    {"batch": [request, ...]}                            {"replies": [reply, ...]}

Which requests a system makes, and what its answers must look like, is the
harness's business (``backprop_harness.systems``).

Each reply: {"status": "ok", "result"[, "inputs"]},
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

from backprop_harness.protocol import PROTOCOL_NAMES, REFLECTED, VALUE_METHODS, VALUE_UNARY as UNARY

__all__ = ["factory", "Handler"]

_HERE = str(Path(__file__).resolve().parent)


class BadReturn(Exception):
    """What the implementation returned cannot be read as the protocol says."""


def _plugin_traceback(exc: BaseException) -> str:
    """The traceback without the harness's and importlib's frames: the user's code only."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_HERE) and not f.filename.startswith("<frozen importlib")]
    if isinstance(exc, SyntaxError) and exc.filename:      # the user's file, line and source line
        return "".join(traceback.format_exception_only(type(exc), exc))
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


class Handler:
    def __init__(self, module):
        self.module = module
        self._value_forms = None

    # -- dispatch ------------------------------------------------------------------

    def handle(self, request: dict) -> dict:
        if "batch" in request:
            return {"replies": [self.handle(r) for r in request["batch"]]}
        fn = request.get("fn")
        if "args" in request:
            method = self._call_function
        elif "construct" in request:
            method = self._call_object
        else:
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

    def _guarded(self, run) -> dict:
        """Run ``run()`` (which calls the implementation): its result, or how it failed."""
        try:
            result = run()
        except BadReturn:
            raise
        except BaseException as exc:          # SystemExit too: it is the implementation's verdict
            return _failure(exc)
        return {"status": "ok", "result": result}

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
                j = i - len(leaves)
                label = f"x{i}" if j < 0 else f"node {j} ({request['nodes'][j][0]})"
                result["data"].append(_number(getattr(v, "data", None), f"{label}.data"))
                grad = getattr(v, "grad", None)
                if i < len(leaves):
                    result["grads"].append(_number(grad, f"{label}.grad"))
                else:                              # intermediate grads are optional
                    try:
                        result["grads"].append(_number(grad, label))
                    except BadReturn:
                        result["grads"].append(None)
            return result
        return self._guarded(run)

    # -- the array systems: one call, its return value as plain data ----------------------

    def _call_function(self, request):
        """``fn(*args)``; the return value and the arguments after the call, as data. What
        they mean (the right structure, shapes, dtypes, whether an input changed) is
        decided by the harness."""
        fn, args = request["fn"], list(request["args"])
        reply = self._guarded(lambda: plain(self._call(fn, *args)))
        if reply["status"] == "ok":
            reply["inputs"] = plain(args)
        return reply

    def _call_object(self, request):
        """A class of the protocol: construct it, assign attributes, call methods in order;
        the methods' return values and, after the calls, the arguments and attributes."""
        cls = getattr(self.module, request["fn"])
        setting, calls = dict(request["set"]), [(m, list(a)) for m, a in request["calls"]]

        def run():
            obj = cls(*request["construct"])
            for name, value in setting.items():
                setattr(obj, name, value)
            return [plain(getattr(obj, method)(*args)) for method, args in calls]
        reply = self._guarded(run)
        if reply["status"] == "ok":
            reply["inputs"] = {"set": plain(setting), "calls": [plain(args) for _, args in calls]}
        return reply


# Containers longer than this are not converted: no protocol answer has that many items,
# and a reply is bounded before it is sent.
_MAX_ITEMS = 4096


def plain(x, depth: int = 0):
    """``x`` as data the wire carries: arrays (dtypes kept: float32 stays float32, for the
    harness to see), lists, dicts with str keys, None; a tensor of any library through
    ``numpy()`` or ``__array__``. Anything else becomes ``{"__object__": its description}``,
    which the harness reports as what it is."""
    if isinstance(x, np.ndarray):
        return np.array(x) if x.dtype.kind in "biufc" else {"__object__": _describe(x)}
    if x is None or isinstance(x, (bool, int, float, np.generic)):
        return np.asarray(x) if not (x is None or isinstance(x, bool)) else x
    if depth > 8:
        return {"__object__": "a container nested more than 8 deep"}
    if isinstance(x, (list, tuple)):
        if len(x) > _MAX_ITEMS:
            return {"__object__": _describe(x)}
        return [plain(v, depth + 1) for v in x]
    if isinstance(x, dict):
        if len(x) > _MAX_ITEMS:
            return {"__object__": _describe(x)}
        return {str(k): plain(v, depth + 1) for k, v in x.items()}
    if hasattr(x, "detach") and hasattr(x, "numpy"):          # a torch tensor
        try:
            return plain(x.detach().cpu().numpy(), depth + 1)
        except Exception:
            pass
    if hasattr(x, "__array__"):                               # JAX, CuPy-on-host and the like
        try:
            a = np.asarray(x)
        except Exception:
            a = None
        if a is not None and a.dtype.kind in "biufc":
            return np.array(a)
    return {"__object__": _describe(x)}


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

def _shadowed(stem: str) -> bool:
    """Whether ``import stem`` finds something other than the plug-in file: an installed
    package (a plug-in ``micrograd.py`` that wraps micrograd) or one of the harness's own."""
    try:
        return importlib.util.find_spec(stem) is not None
    except (ImportError, ValueError):
        return False


def _load(init: dict):
    """The implementation's module, and the installed module its file name shadows (or None).

    A file named like an installed package is loaded under a private name with its
    folder at the end of ``sys.path``: inside it, ``import micrograd`` is the library."""
    kind, target = init["kind"], init["target"]
    shadows = None
    if kind == "file":
        path = Path(target)
        if path.stem.isidentifier() and _shadowed(path.stem):
            shadows = path.stem
    for entry in reversed(init.get("sys_path", [])):
        if entry in sys.path:
            continue
        if shadows:
            sys.path.append(entry)
        else:
            sys.path.insert(0, entry)
    if kind == "file":
        name = path.stem if path.stem.isidentifier() and not shadows and path.stem not in sys.modules \
            else "impl_under_test"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module, shadows
    return importlib.import_module(target), shadows


def _parameters(obj) -> list | None:
    """[[name, kind, has a default], ...] of ``obj``'s call (a class: its constructor), or None
    where Python cannot say (a builtin)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [[p.name, p.kind.name, p.default is not inspect.Parameter.empty] for p in sig.parameters.values()]


def _version(module, init) -> str | None:
    version = getattr(module, "__version__", None)
    if version is None and init.get("distribution"):
        import importlib.metadata  # here: costly at every worker's start, and only installed packages need it
        try:
            version = importlib.metadata.version(init["distribution"])
        except importlib.metadata.PackageNotFoundError:
            version = None
    return None if version is None else str(version)


def factory(init: dict):
    """Load the implementation; ``info`` says what it provides, or how loading failed."""
    try:
        module, shadows = _load(init)
    except BaseException as exc:
        return Handler(None), {"loaded": False, **_failure(exc)}
    functions, found = {}, {}
    for fn in PROTOCOL_NAMES:
        obj = getattr(module, fn, None)
        if callable(obj):
            try:
                functions[fn] = str(inspect.signature(obj))
            except (TypeError, ValueError):
                functions[fn] = "(...)"
            found[fn] = {"parameters": _parameters(obj), "class": isinstance(obj, type),
                         "methods": sorted(m for m in ("forward", "backward") if callable(getattr(obj, m, None))),
                         "module": str(getattr(obj, "__module__", ""))}
    exported = getattr(module, "__all__", None)
    exported = [str(n) for n in exported][:_MAX_ITEMS] if isinstance(exported, (list, tuple)) else None
    # the protocol's own names are not typos of each other (mlp_gradients vs gradients)
    names = [n for n in dir(module) if not n.startswith("_") and n not in PROTOCOL_NAMES]
    near = {fn: close[0] for fn in PROTOCOL_NAMES if fn not in functions
            for close in [difflib.get_close_matches(fn, names, n=1, cutoff=0.7)] if close}
    conventions = getattr(module, "CONVENTIONS", None)
    try:                                        # only plain data crosses the pipe
        conventions = _plain(conventions)
    except TypeError as exc:
        conventions = {"__unreadable__": str(exc)}
    wrapped = getattr(module, "__wraps__", module)        # an adapter names the library it wraps
    return Handler(module), {"loaded": True, "name": getattr(module, "__name__", init["target"]),
                             "file": getattr(wrapped, "__file__", None), "version": _version(module, init),
                             "functions": functions, "found": found, "all": exported, "shadows": shadows,
                             "near_misses": near, "conventions": conventions}


def _plain(x):
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    raise TypeError(f"CONVENTIONS holds {type(x).__name__}; expected dicts of strings")
