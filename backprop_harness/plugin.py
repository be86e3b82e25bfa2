"""The harness side of the plug-in path: an implementation, asked questions as ``oracles.cases``.

``Implementation(spec)`` runs the code under test in a worker process
(``backprop_harness.isolation``, ``backprop_harness.worker``) and turns each case
into the protocol call the posts' API defines (``backprop_harness.protocol``).
What comes back is checked here, in the harness process, before anything is
compared: the shapes of the parameters, float64, finite numbers. Each breach is
a ``ConformanceFailure`` with one plain message (expected against received).

``spec`` is a path to a ``.py`` file (or a package directory), an importable
module name, the name of an adapter that ships with the harness (``ADAPTERS``:
``micrograd``), or None for the built-in reference (``reference.protocol``).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from backprop_harness.isolation import Worker, WorkerError, WorkerLost
from backprop_harness.protocol import ConventionError, conventions
from oracles import Gradient
from oracles.cases import MANUAL_NAMES, GraphCase, ManualCase, MLPCase, SoftmaxCase

__all__ = ["ADAPTERS", "REFERENCE", "Spec", "resolve", "Implementation", "ConformanceFailure", "Evidence",
           "NotProvided", "NotRun", "Answer"]

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "reference.protocol"
# --impl NAME -> (adapter module, the distribution whose version the report names)
ADAPTERS = {"micrograd": ("backprop_harness.adapters.micrograd", "micrograd")}


class ConformanceFailure(AssertionError):
    """The implementation broke the protocol or disagreed; the message says what was expected.

    ``check`` names the conformance check it breaks where that is not the test's own
    (a wrong shape met while comparing with the oracles breaks "shapes and dtypes")."""

    def __init__(self, message: str, check: str | None = None, evidence: Evidence | None = None):
        super().__init__(message)
        self.check = check
        self.evidence = evidence


@dataclass
class Evidence:
    """What a failure is about, for its diagnosis and its reproducer (``conftest.py``)."""
    fn: str
    case: object
    received: dict | None = None       # the gradients by parameter name, as returned (any shape or dtype)
    loss: float | None = None
    diagnosis: object = None           # a ``diagnosis.Diagnosis`` where the failing check itself names the cause
    before: tuple = ()                 # cases called first (a failure that needs an earlier call)
    first: dict | None = None          # the same call's earlier answer, when the answers differ


class NotProvided(pytest.skip.Exception):
    """The implementation lacks what this test needs (absent, or raising NotImplementedError)."""


class NotRun(pytest.skip.Exception):
    """Not called again after the worker hung or crashed in the same function (each retry
    would cost the timeout); the first failure carries the verdict."""


@dataclass(frozen=True)
class Spec:
    """What ``--impl`` named: ``kind`` is "file", "module", "adapter" or "reference"."""
    kind: str
    target: str
    label: str
    sys_path: tuple = ()
    distribution: str | None = None
    error: str | None = None           # set when the spec cannot name anything loadable


def resolve(spec: str | None, cwd: str | os.PathLike | None = None) -> Spec:
    """Interpret ``--impl``: an adapter name, a path (relative to ``cwd``), or a module name."""
    cwd = Path(cwd or os.getcwd())
    if not spec:
        return Spec("reference", REFERENCE, "built-in reference (reference/protocol.py)", (str(ROOT),))
    if spec in ADAPTERS:
        module, dist = ADAPTERS[spec]
        return Spec("adapter", module, f"{spec} (adapter {module})", (str(ROOT),), dist)
    path = (cwd / spec).resolve()
    looks_like_path = spec.endswith(".py") or os.sep in spec or (os.altsep or os.sep) in spec
    if path.is_file():
        return Spec("file", str(path), str(path), (str(path.parent),))
    if path.is_dir():
        if (path / "__init__.py").is_file():
            return Spec("module", path.name, str(path), (str(path.parent),))
        return Spec("file", str(path), str(path), error=f"{path} is a directory without __init__.py; "
                                                         "expected a .py file, a package or a module name")
    if looks_like_path:
        return Spec("file", str(path), str(path), error=f"implementation not found: {path} (no such file)")
    return Spec("module", spec, spec, (str(cwd),))


@dataclass
class Answer:
    """An implementation's answer to a case, as an ``oracles.Gradient`` plus what else it returned."""
    gradient: Gradient
    modified: list = field(default_factory=list)     # inputs the call changed
    extra: dict = field(default_factory=dict)        # forward outputs, intermediate values


class Implementation:
    """The code under test, in its own process; one per run."""

    def __init__(self, spec: Spec, call_timeout: float = 5.0, start_timeout: float = 60.0):
        self.spec = spec
        init = {"kind": "module" if spec.kind in ("adapter", "reference") else spec.kind, "target": spec.target,
                "sys_path": list(spec.sys_path), "distribution": spec.distribution}
        self.worker = Worker("backprop_harness.worker:factory", init, call_timeout=call_timeout,
                             start_timeout=start_timeout)
        self._info = None
        self._answered: set = set()            # functions that have answered at least once
        self._not_provided: dict = {}          # function -> reason
        self._lost: dict = {}                  # function -> message of the hang or crash
        self._ops = None
        self._spares: list = []                # [(worker, thread loading it)] for the next fresh_answers

    def __repr__(self):
        return f"Implementation({self.spec.label!r})"

    @property
    def value_ops_seen(self) -> dict | None:
        """The Value operations found, if they have been asked for in this process."""
        return self._ops

    # -- what it is and what it provides ---------------------------------------------------

    @property
    def info(self) -> dict:
        if self._info is None:
            if self.spec.error:
                self._info = {"loaded": False, "message": self.spec.error, "traceback": ""}
            else:
                try:
                    self._info = self.worker.info
                except WorkerLost as exc:
                    self._info = {"loaded": False, "message": f"loading the implementation failed: {exc}",
                                  "traceback": ""}
                except WorkerError as exc:
                    self._info = {"loaded": False, "message": f"the harness's worker failed: {exc}",
                                  "traceback": ""}
        return self._info

    def load_error(self) -> str | None:
        info = self.info
        if info.get("loaded"):
            return None
        if "exception" in info:
            return (f"importing {self.spec.label} raised {info['exception']}: {info['message']}\n"
                    f"{info['traceback']}")
        return info["message"]

    def header(self) -> str:
        info = self.info
        if not info.get("loaded"):
            return f"implementation under test: {self.spec.label} (NOT LOADED: see the failures)"
        version = f", version {info['version']}" if info.get("version") else ""
        where = f", file {info['file']}" if info.get("file") else ""
        defined = ", ".join(info["functions"]) or "nothing from the protocol"
        near = "; ".join(f"{found} is not {fn}" for fn, found in info.get("near_misses", {}).items())
        return (f"implementation under test: {self.spec.label}{where}{version}; defines {defined}"
                + (f" (did you mean the protocol's names? {near})" if near else ""))

    def conventions(self) -> dict:
        """The implementation's declared conventions (``protocol.conventions``); a bad
        declaration is a failure of every test that depends on it."""
        try:
            return conventions(self.info.get("conventions"))
        except ConventionError as exc:
            raise ConformanceFailure(f"CONVENTIONS is not valid: {exc}") from None

    def require(self, fn: str):
        """Raise unless ``fn`` can be called: the load failed (a failure), it is absent or
        declared unimplemented (``NotProvided``), or it hung / crashed before (``NotRun``)."""
        __tracebackhide__ = True
        error = self.load_error()
        if error:
            raise ConformanceFailure(error)
        if fn not in self.info["functions"]:
            near = self.info.get("near_misses", {}).get(fn)
            raise NotProvided(f"not provided: {fn}" + (f" (the module has {near}: a typo?)" if near else ""))
        if fn in self._not_provided:
            raise NotProvided(f"not provided: {fn} ({self._not_provided[fn]})")
        if fn in self._lost:
            raise NotRun(f"not run: {fn} was not called again after: {self._lost[fn]}")

    def provides(self, fn: str) -> bool:
        return self.info.get("loaded", False) and fn in self.info["functions"]

    def value_ops(self) -> dict:
        """{"ops": [...], "missing": {op: reason}}: what the Value class can do (asked once)."""
        if self._ops is None:
            self.require("Value")
            self._ops = self._result("Value", self._send("Value", {"fn": "discover"}))["result"]
        return self._ops

    # -- calls -----------------------------------------------------------------------------

    def _send(self, fn: str, request: dict):
        __tracebackhide__ = True
        try:
            return self.worker.call(request, label=fn)
        except WorkerLost as exc:
            self._lost[fn] = exc.message
            raise
        except WorkerError as exc:
            raise ConformanceFailure(f"the harness's worker failed while calling {fn}: {exc}") from None

    def _result(self, fn: str, reply: dict) -> dict:
        __tracebackhide__ = True
        status = reply.get("status")
        if status == "ok":
            self._answered.add(fn)
            return reply
        if status == "missing":
            raise NotProvided(f"not provided: {fn}")
        if status == "not_implemented" and fn not in self._answered:
            self._not_provided[fn] = f"it raises NotImplementedError: {reply['message']}".rstrip(": ")
            raise NotProvided(f"not provided: {fn} (raises NotImplementedError)")
        if status in ("raised", "not_implemented"):
            where = reply["traceback"] or (f"(raised by the call itself: {fn}{self.info['functions'].get(fn, '')} "
                                          f"is called as {PROTOCOL_CALLS.get(fn, fn)})")
            raise ConformanceFailure(f"{fn} raised {reply['exception']}: {reply['message']}\n{where}")
        if status == "bad_return":
            raise ConformanceFailure(f"{fn}: {reply['message']}", check="shapes and dtypes")
        raise ConformanceFailure(f"{fn}: unreadable reply from the worker: {str(reply)[:200]}")

    def call(self, fn: str, request: dict) -> dict:
        """One protocol call; the worker's "ok" reply (``result`` and ``modified``)."""
        __tracebackhide__ = True
        self.require(fn)
        return self._result(fn, self._send(fn, {"fn": fn, **request}))

    def call_many(self, fn: str, requests: list) -> list:
        """Several calls of ``fn`` in one round trip; their "ok" replies."""
        __tracebackhide__ = True
        self.require(fn)
        replies = self._send(fn, {"batch": [{"fn": fn, **r} for r in requests]})["replies"]
        return [self._result(fn, r) for r in replies]

    # -- cases -> protocol calls -> Gradients ----------------------------------------------------

    def answer(self, case, fn: str | None = None) -> Answer:
        """The implementation's loss and gradient for ``case`` through protocol function ``fn``
        (by default the system's first function)."""
        __tracebackhide__ = True
        fn = fn or default_function(case)
        if fn == "forward":
            raise ValueError("forward gives no gradient; answer() takes 'gradients'")
        if isinstance(case, ManualCase):
            return self._manual(case)
        return answer_from(case, fn, self.call(fn, request_for(case, fn)))

    def fresh_answer(self, case, fn: str | None = None) -> Answer:
        """``answer`` from a new worker process that has answered nothing before: what the
        implementation says without any state kept from earlier calls.

        Processes are started ahead: while one answers, SPARES more load the implementation
        on background threads (a start is ~0.25 s of one core, mostly importing numpy; a
        run asks for 15 fresh answers, one after the other); ``close`` stops them.
        """
        __tracebackhide__ = True
        while len(self._spares) < self.SPARES + 1:
            self._spares.append(self._start_spare())
        fresh, loading = self._spares.pop(0)
        main = self.worker
        try:
            loading.join()
            self.worker = fresh
            return self.answer(case, fn)
        finally:
            fresh.close()
            self.worker = main

    SPARES = 1

    def _start_spare(self) -> tuple:
        """(a new worker, the thread that starts it): loaded, it has answered nothing."""
        main = self.worker
        spare = Worker(main.handler, main.init, call_timeout=main.call_timeout, start_timeout=main.start_timeout)

        def load():
            try:
                spare.info
            except BaseException:  # WorkerLost too: a start that fails fails again, and is reported, at the first call
                pass
        loading = threading.Thread(target=load, name="spare-worker", daemon=True)
        loading.start()
        return spare, loading

    def close(self) -> None:
        """Stop the worker and the spare ones (a later call starts a new worker)."""
        while self._spares:
            spare, loading = self._spares.pop()
            loading.join()
            spare.close()
        self.worker.close()

    def _manual(self, case: ManualCase) -> Answer:
        """``gradients`` gives the 8 partials; the loss comes from ``forward``, when it can be called."""
        answer = answer_from(case, "gradients", self.call("gradients", request_for(case, "gradients")))
        try:
            f = self.forward_answer(case)
        except (NotProvided, NotRun):
            return answer
        answer.extra["y"] = f.extra["y"]
        answer.modified.extend(f.modified)
        answer.gradient = Gradient(f.gradient.loss, answer.gradient.grads, "impl")
        return answer

    def forward_answer(self, case: ManualCase) -> Answer:
        """003's ``forward(x, w)``: the outputs (``extra["y"]``) and the loss they give."""
        __tracebackhide__ = True
        f = self.call("forward", request_for(case, "forward"))
        y = np.array([float(v) for v in _checked(f["result"]["y"], [(), ()], "forward(x, w)", ["y1", "y2"])])
        return Answer(Gradient(float(np.sum((y - case.t) ** 2)), {}, "impl"), list(f["modified"]), {"y": y})

    def losses(self, case, param_sets: list, fn: str | None = None) -> np.ndarray:
        """The implementation's loss at each set of parameters (for the consistency check)."""
        __tracebackhide__ = True
        fn = fn or default_function(case)
        if isinstance(case, ManualCase):
            fn = "forward"
        cases = [case.with_params(p) for p in param_sets]
        replies = self.call_many(fn, [request_for(c, fn) for c in cases])
        return np.array([_loss_from(c, fn, r) for c, r in zip(cases, replies)])


# how the worker calls each function (for the message when the call itself fails)
PROTOCOL_CALLS = {"forward": "forward(x, w)", "gradients": "gradients(x, t, w)",
                  "mlp_gradients": "mlp_gradients(X, T, Ws, bs)",
                  "NeuralNetwork": "NeuralNetwork(input_dim, hidden_dim, output_dim), then forward(X), backward(T)",
                  "softmax_gradients": "softmax_gradients(X, Y, W1, b1, W2, b2)", "Value": "Value(x)"}


def default_function(case) -> str:
    return {GraphCase: "Value", ManualCase: "gradients", MLPCase: "mlp_gradients",
            SoftmaxCase: "softmax_gradients"}[type(case)]


# -- requests ------------------------------------------------------------------------------------

def _biases(case: MLPCase) -> tuple:
    """The case's biases as the protocol passes them: zeros for a network without any
    (``mlp_gradients`` always takes ``bs``), (d, 1) columns in the column layout."""
    bs = case.bs if case.bs is not None else tuple(np.zeros(d) for d in case.dims[1:])
    return tuple(b.reshape(-1, 1) if case.layout == "column" else b for b in bs)


def request_for(case, fn: str) -> dict:
    """The arguments of protocol function ``fn`` for ``case``."""
    if isinstance(case, GraphCase):
        return {"leaves": case.leaves, "nodes": [[n.op, n.a, n.b] for n in case.nodes]}
    if isinstance(case, ManualCase):
        return {"x": case.x, "t": case.t, "w": case.w} if fn == "gradients" else {"x": case.x, "w": case.w}
    if isinstance(case, MLPCase):
        if fn == "NeuralNetwork":
            _check_class_case(case)
            return {"X": case.X, "T": case.T, "W": case.Ws[0], "V": case.Ws[1]}
        return {"X": case.X, "T": case.T, "Ws": list(case.Ws), "bs": list(_biases(case))}
    if isinstance(case, SoftmaxCase):
        return {"X": case.X, "Y": case.Y, "W1": case.W1, "b1": case.b1, "W2": case.W2, "b2": case.b2}
    raise ValueError(f"not a case: {type(case).__name__}")


def _check_class_case(case: MLPCase):
    if (len(case.Ws) != 2 or case.bs is not None or case.layout != "row" or case.loss != "sse"
            or case.activations != ("sigmoid", "sigmoid")):
        raise ValueError("NeuralNetwork is 003's network: two sigmoid layers, no biases, row layout, sse")


# -- replies -> Gradients, checked ------------------------------------------------------------------

def _checked(values, shapes, what: str, names: list) -> list:
    """Each value as float64 of the expected shape; else a ConformanceFailure saying which and why."""
    __tracebackhide__ = True
    out = []
    for value, shape, name in zip(values, shapes, names):
        a = np.asarray(value)
        if a.shape != tuple(shape):
            raise ConformanceFailure(f"{what}: {name} has shape {a.shape}; expected {tuple(shape)}",
                                     check="shapes and dtypes")
        if a.dtype.kind == "f" and a.dtype != np.float64:      # the worker sends only numbers
            raise ConformanceFailure(
                f"{what}: {name} is {a.dtype}; expected float64 (the inputs were float64, and {a.dtype} "
                f"keeps {np.finfo(a.dtype).precision} digits where the oracles agree to 15)", check="shapes and dtypes")
        a = a.astype(np.float64)
        bad = ~np.isfinite(a)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            first = a[where] if where else a
            more = int(bad.sum()) - 1
            raise ConformanceFailure(f"{what}: {name}{list(where) if where else ''} is {first}"
                                     f"{f' (and {more} more entries)' if more else ''}; expected finite numbers")
        out.append(a)
    return out


def answer_from(case, fn: str, reply: dict) -> Answer:
    """The reply as an ``Answer``, checked; a breach carries the raw reply as its evidence."""
    __tracebackhide__ = True
    try:
        return _answer_from(case, fn, reply)
    except ConformanceFailure as exc:
        if exc.evidence is None:
            exc.evidence = Evidence(fn, case, *_raw(case, fn, reply.get("result") or {}))
        raise


def _raw(case, fn: str, r: dict) -> tuple:
    """(gradients by parameter name, loss) as the implementation returned them, unchecked;
    empty where the reply does not even have that structure."""
    try:
        if isinstance(case, GraphCase):
            return {f"x{i}": r["grads"][i] for i in range(case.leaves.size)}, r["data"][-1]
        if isinstance(case, ManualCase):
            return dict(zip(MANUAL_NAMES, r["grads"])), None
        if isinstance(case, MLPCase) and fn == "NeuralNetwork":
            return {"W1": r["grad_W"], "W2": r["grad_V"]}, float(np.sum((np.asarray(r["Y"]) - case.T) ** 2))
        if isinstance(case, MLPCase):
            params, L = case.params(), len(case.Ws)
            raw = {f"W{l + 1}": r["dWs"][l] for l in range(L)}
            if case.bs is not None:                # a column bias comes back (d, 1), as it was passed
                raw.update({f"b{l + 1}": np.asarray(r["dbs"][l]) for l in range(L)})
                if case.layout == "column":
                    raw.update({k: v.reshape(params[k].shape) for k, v in raw.items()
                                if k.startswith("b") and v.shape == params[k].shape + (1,)})
            return raw, r["loss"]
        if isinstance(case, SoftmaxCase):
            return {k: r["grads"][k] for k in ("W1", "b1", "W2", "b2")}, r["loss"]
    except (KeyError, IndexError, TypeError, ValueError):
        pass
    return {}, None


def _answer_from(case, fn: str, reply: dict) -> Answer:
    __tracebackhide__ = True
    r = reply["result"]
    params = case.params()
    if isinstance(case, GraphCase):
        n = case.leaves.size
        grads = _checked(r["grads"][:n], [()] * n, "Value", [f"x{i}.grad" for i in range(n)])
        data = _checked(r["data"][-1:], [()], "Value", ["output.data"])[0]
        g = Gradient(float(data), {f"x{i}": d for i, d in enumerate(grads)}, "impl")
        return Answer(g, list(reply["modified"]), {"data": r["data"], "grads": r["grads"]})
    if isinstance(case, ManualCase):
        grads = _checked(r["grads"], [()] * 8, "gradients(x, t, w)", [f"dL/d{n}" for n in MANUAL_NAMES])
        return Answer(Gradient(None, dict(zip(MANUAL_NAMES, grads)), "impl"), list(reply["modified"]))
    if isinstance(case, MLPCase) and fn == "NeuralNetwork":
        W, V = case.Ws
        Y, gW, gV = _checked([r["Y"], r["grad_W"], r["grad_V"]], [case.T.shape, W.shape, V.shape],
                             "NeuralNetwork", ["net.forward(X)", "grad_W", "grad_V"])
        g = Gradient(float(np.sum((Y - case.T) ** 2)), {"W1": gW, "W2": gV}, "impl")
        return Answer(g, list(reply["modified"]), {"Y": Y})
    if isinstance(case, MLPCase):
        L = len(case.Ws)
        names = [f"W{l + 1}" for l in range(L)] + [f"b{l + 1}" for l in range(L)]
        shapes = [W.shape for W in case.Ws] + [b.shape for b in _biases(case)]
        loss, = _checked([r["loss"]], [()], "mlp_gradients", ["loss"])
        arrays = _checked(list(r["dWs"]) + list(r["dbs"]), shapes, "mlp_gradients",
                          [f"dWs[{l}] (dL/dW{l + 1})" for l in range(L)] + [f"dbs[{l}] (dL/db{l + 1})" for l in range(L)])
        grads = {name: a.reshape(params[name].shape) if name in params else a for name, a in zip(names, arrays)}
        if case.bs is None:                       # biases passed as zeros; their gradients are not asked
            grads = {k: v for k, v in grads.items() if k in params}
        return Answer(Gradient(float(loss), grads, "impl"), list(reply["modified"]))
    if isinstance(case, SoftmaxCase):
        names = ("W1", "b1", "W2", "b2")
        loss, = _checked([r["loss"]], [()], "softmax_gradients", ["loss"])
        arrays = _checked([r["grads"][k] for k in names], [params[k].shape for k in names], "softmax_gradients",
                          [f"grads[{k!r}] (dL/d{k})" for k in names])
        return Answer(Gradient(float(loss), dict(zip(names, arrays)), "impl"), list(reply["modified"]))
    raise ValueError(f"not a case: {type(case).__name__}")


def _loss_from(case, fn: str, reply: dict) -> float:
    __tracebackhide__ = True
    if fn == "forward":
        y = _checked(reply["result"]["y"], [(), ()], "forward(x, w)", ["y1", "y2"])
        return float(np.sum((np.array([float(v) for v in y]) - case.t) ** 2))
    return float(answer_from(case, fn, reply).gradient.loss)

