"""The harness side of the plug-in path: an implementation, asked questions as ``oracles.cases``.

``Implementation(spec)`` runs the code under test in a worker process
(``backprop_harness.isolation``, ``backprop_harness.worker``) and turns each case
into the protocol call its system defines (``backprop_harness.systems``).
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backprop_harness import systems
from backprop_harness.answers import Answer, ConformanceFailure, Evidence, NotApplicable, NotProvided, NotRun
from backprop_harness.forkserver import ForkServer
from backprop_harness.isolation import Worker, WorkerError, WorkerLost
from backprop_harness.systems import ConventionError
from oracles import Gradient
from oracles.cases import ManualCase

__all__ = ["ADAPTERS", "REFERENCE", "Spec", "resolve", "Implementation", "ConformanceFailure", "Evidence",
           "NotProvided", "NotApplicable", "NotRun", "Answer", "PROTOCOL_CALLS", "default_function",
           "signature_problem"]

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "reference.protocol"
# --impl NAME -> (adapter module, the distribution whose version the report names)
ADAPTERS = {"micrograd": ("backprop_harness.adapters.micrograd", "micrograd")}
WORKER_HANDLER = "backprop_harness.worker:factory"      # what each worker process serves


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


class Implementation:
    """The code under test, in its own process; one per run. ``sandbox``: the mode of
    ``backprop_harness.sandbox`` (default: ``BACKPROP_SANDBOX``, else "auto")."""

    def __init__(self, spec: Spec, call_timeout: float = 5.0, start_timeout: float = 60.0,
                 fixed_conventions: dict | None = None, sandbox: str | None = None):
        self.spec = spec
        self.fixed_conventions = fixed_conventions or {}      # an assignment's: {system: {key: value}}
        init = {"kind": "module" if spec.kind in ("adapter", "reference") else spec.kind, "target": spec.target,
                "sys_path": list(spec.sys_path), "distribution": spec.distribution}
        # every process of this implementation (its worker, the replacement of a lost one, the
        # determinism check's new ones) is forked from one that has imported numpy once; the new
        # ones from a server of their own, so that their hash seed is not the worker's (a walk
        # over a set of strings, say, may differ between them, as between two interpreters)
        self.forks = ForkServer(WORKER_HANDLER, init, sandbox=sandbox, start_timeout=start_timeout)
        self.fresh_forks = ForkServer(WORKER_HANDLER, init, sandbox=sandbox, start_timeout=start_timeout,
                                      pool="fresh", workers=self.MAX_AHEAD + 1)
        self.worker = Worker(WORKER_HANDLER, init, call_timeout=call_timeout,
                             start_timeout=start_timeout, sandbox=sandbox, forks=self.forks)
        self._info = None
        self._answered: set = set()            # functions that have answered at least once
        self._not_provided: dict = {}          # function -> reason
        self._lost: dict = {}                  # function -> message of the hang or crash
        self._ops = None
        self._spares: list = []                # [(worker, thread loading it)] for the next fresh_answers
        self._wanted = 0                       # fresh answers still to come, as far as the run knows
        self._total = None                     # fresh answers still to come, when the run knows them all
        self.accuracy: dict = {}               # op -> the worst forward value seen (the conformance checks)

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
            hint = ""
            if info["exception"] in ("ModuleNotFoundError", "ImportError") and self.worker.sandbox is not None:
                hint = ("\n(it ran in the sandbox, which shows your code's folder and the harness's Python "
                        "packages only: install what it imports into the harness's environment, or trust your "
                        "own code with BACKPROP_SANDBOX=off; docs/sandbox.md)")
            return (f"importing {self.spec.label} raised {info['exception']}: {info['message']}\n"
                    f"{info['traceback']}{hint}")
        return info["message"]

    def header(self) -> str:
        info = self.info
        if not info.get("loaded"):
            return f"implementation under test: {self.spec.label} (NOT LOADED: see the failures)"
        version = f", version {info['version']}" if info.get("version") else ""
        where = f", file {info['file']}" if info.get("file") else ""
        defined = ", ".join(self.functions) or "nothing from the protocol"
        near = "; ".join(f"{found} is not {fn}" for fn, found in info.get("near_misses", {}).items())
        notes = "".join(f"\n  note: {note}" for note in self.notes())
        fixed = (f"\n  conventions fixed for this run: {systems.conventions_line(self.fixed_conventions)}"
                 if self.fixed_conventions else "")
        return (f"implementation under test: {self.spec.label}{where}{version}; defines {defined}"
                + (f" (did you mean the protocol's names? {near})" if near else "") + notes + fixed)

    @property
    def functions(self) -> dict:
        """The protocol names the implementation offers: present, exported (in ``__all__`` when it
        defines one) and callable as the protocol calls them; name -> signature."""
        return self._offered()[0]

    @property
    def mismatches(self) -> dict:
        """Protocol names present (and exported) whose signature does not fit: name -> why."""
        return self._offered()[1]

    def _offered(self) -> tuple:
        """(functions, mismatches), worked out once from what the worker said it loaded (every
        call asks for them)."""
        info = self.info
        cached = getattr(self, "_offered_for", None)
        if cached is None or cached[0] is not info:
            mismatches = self._mismatches(info)
            exported = info.get("all")
            functions = {} if not info.get("loaded") else {
                fn: sig for fn, sig in info["functions"].items()
                if (exported is None or fn in exported) and fn not in mismatches}
            self._offered_for = cached = (info, functions, mismatches)
        return cached[1], cached[2]

    @staticmethod
    def _mismatches(info: dict) -> dict:
        if not info.get("loaded"):
            return {}
        exported = info.get("all")
        out = {}
        for fn, found in (info.get("found") or {}).items():
            if exported is not None and fn not in exported:
                continue
            why = signature_problem(fn, found)
            if why:
                origin = found.get("module") or ""
                origin = f" (defined in {origin})" if origin and origin != info.get("name") else ""
                out[fn] = (f"{fn}{info['functions'].get(fn, '')}{origin} does not fit the protocol's "
                           f"{PROTOCOL_CALLS[fn]}: {why}. It is left out; to silence this, leave it out of "
                           f"__all__ or import it under another name")
        return out

    def notes(self) -> list:
        """One line each: names left out for their signature, a file that shadows a package."""
        info = self.info
        out = list(self.mismatches.values())
        if info.get("shadows"):
            out.append(f"{self.spec.label} has the name of an installed module, {info['shadows']!r}: it was "
                       f"loaded under another name, so `import {info['shadows']}` inside it gets the installed one")
        return out

    def conventions(self) -> dict:
        """The conventions the implementation is asked under (``systems.conventions``): its
        declared ones, with the keys of ``fixed_conventions`` (an assignment's) replacing its
        own. A bad declaration is a failure of every test that depends on it."""
        declared = self.info.get("conventions")
        well_formed = declared is None or (isinstance(declared, dict)
                                           and all(isinstance(v, dict) for v in declared.values()))
        if self.fixed_conventions and well_formed:
            declared = declared or {}
            declared = {name: {**declared.get(name, {}), **self.fixed_conventions.get(name, {})}
                        for name in [*declared, *(n for n in self.fixed_conventions if n not in declared)]}
        try:
            return systems.conventions(declared)
        except ConventionError as exc:
            raise ConformanceFailure(f"CONVENTIONS is not valid: {exc}") from None

    def require(self, fn: str):
        """Raise unless ``fn`` can be called: the load failed (a failure), it is absent or
        declared unimplemented (``NotProvided``), or it hung / crashed before (``NotRun``)."""
        __tracebackhide__ = True
        error = self.load_error()
        if error:
            raise ConformanceFailure(error)
        if fn not in self.functions:
            mismatch = self.mismatches.get(fn)
            if mismatch:
                system = systems.for_function(fn)
                if not any(f in self.functions for f in system.functions):
                    raise ConformanceFailure(f"signature mismatch: {mismatch}", check="shapes and dtypes")
                raise NotProvided(f"not provided (signature mismatch): {mismatch}")
            near = self.info.get("near_misses", {}).get(fn)
            raise NotProvided(f"not provided: {fn}" + (f" (the module has {near}: a typo?)" if near else ""))
        if fn in self._not_provided:
            raise NotProvided(f"not provided: {fn} ({self._not_provided[fn]})")
        if fn in self._lost:
            raise NotRun(f"not run: {fn} was not called again after: {self._lost[fn]}")

    def provides(self, fn: str) -> bool:
        return fn in self.functions

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
        if status == "missing":           # the harness asked because the module has it: the worker's word is not taken
            raise ConformanceFailure(f"{fn}: the worker answered that the implementation has no {fn}, which it "
                                     f"defined when it was loaded")
        if status == "not_implemented" and fn not in self._answered:
            self._not_provided[fn] = f"it raises NotImplementedError: {reply['message']}".rstrip(": ")
            raise NotProvided(f"not provided: {fn} (raises NotImplementedError)")
        if status in ("raised", "not_implemented"):
            where = reply.get("traceback") or (f"(raised by the call itself: {fn}{self.info['functions'].get(fn, '')} "
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
        return self.answer_from(case, fn, self.call(fn, self.request(case, fn)))

    def request(self, case, fn: str) -> dict:
        """The worker request that asks ``fn`` about ``case`` under the declared conventions."""
        system = systems.for_case(case)
        return system.request(case, fn, self.conventions()[system.name])

    def answer_from(self, case, fn: str, reply: dict) -> Answer:
        """The reply as an ``Answer``, checked; a breach carries the raw reply as its evidence."""
        __tracebackhide__ = True
        system = systems.for_case(case)
        conv = self.conventions()[system.name]
        try:
            return system.answer(case, fn, None, reply, conv)
        except ConformanceFailure as exc:
            if exc.evidence is None:
                result = reply.get("result")
                exc.evidence = Evidence(fn, case, *system.raw(case, fn, result if result is not None else {}, conv))
            raise

    def fresh_answer(self, case, fn: str | None = None) -> Answer:
        """``answer`` from a new worker process that has answered nothing before: what the
        implementation says without any state kept from earlier calls.

        Processes are started ahead (``prestart``; while one answers, SPARES more load the
        implementation on background threads): a start is mostly importing numpy, and a run
        asks for its fresh answers one after the other. ``close`` stops them.
        """
        __tracebackhide__ = True
        self._wanted = max(self._wanted - 1, 0)
        if self._total is not None:
            self._total = max(self._total - 1, 0)
        ahead = self.SPARES if self._total is None else min(self.SPARES, self._total)
        while len(self._spares) < ahead + 1:                # this answer's process, and those ahead
            self._spares.append(self._start_spare())
        fresh, loading = self._spares.pop(0)
        self._top_up()
        main = self.worker
        try:
            loading.join()
            self.worker = fresh
            return self.answer(case, fn)
        finally:
            fresh.close()
            self.worker = main

    SPARES = 1
    # new processes loaded ahead of the determinism check's asking, besides the one answering:
    # they overlap the implementation's own import with the run; each is a process of the
    # "fresh" fork server's sandbox, whose process limit grows with them
    MAX_AHEAD = 4

    def prestart(self, n: int, total: int | None = None) -> None:
        """The run will ask ``n`` fresh answers: have as many new worker processes loading or
        loaded as may be alive at once (``MAX_AHEAD``), topped up as they are used. ``total``:
        every fresh answer the run will ask, where it knows (no process is started beyond
        them; otherwise SPARES more than asked are kept loading)."""
        self._wanted = max(self._wanted, n)
        if total is not None:
            self._total = total
        self._top_up()

    def _top_up(self) -> None:
        while len(self._spares) < min(self._wanted, self.MAX_AHEAD):
            self._spares.append(self._start_spare())

    def _start_spare(self) -> tuple:
        """(a new worker, the thread that starts it): loaded, it has answered nothing."""
        main = self.worker
        spare = Worker(main.handler, main.init, call_timeout=main.call_timeout, start_timeout=main.start_timeout,
                       max_message=main.max_message, sandbox=main.sandbox_mode, forks=self.fresh_forks)

        def load():
            try:
                _ = spare.info             # the property starts the worker and waits for its answer
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
        self.forks.close()
        self.fresh_forks.close()

    def _manual(self, case: ManualCase) -> Answer:
        """``gradients`` gives the 8 partials; the loss comes from ``forward``, when it can be called."""
        answer = self.answer_from(case, "gradients", self.call("gradients", self.request(case, "gradients")))
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
        return self.answer_from(case, "forward", self.call("forward", self.request(case, "forward")))

    def losses(self, case, param_sets: list, fn: str | None = None) -> np.ndarray:
        """The implementation's loss at each set of parameters (for the consistency check)."""
        __tracebackhide__ = True
        fn = systems.for_case(case).loss_function(fn or default_function(case))
        cases = [case.with_params(p) for p in param_sets]
        replies = self.call_many(fn, [self.request(c, fn) for c in cases])
        return np.array([float(self.answer_from(c, fn, r).gradient.loss) for c, r in zip(cases, replies)])


# how the harness calls each function (for the message when the call itself fails)
PROTOCOL_CALLS = {fn: call for system in systems.SYSTEMS.values() for fn, call in system.calls.items()}

# how many positional arguments the harness passes to each protocol name (a class: its constructor)
_ARITY = {"Value": (1,), "forward": (2,), "gradients": (3,), "mlp_gradients": (3, 4), "NeuralNetwork": (3,),
          "softmax_gradients": (6,)}


def default_function(case) -> str:
    return systems.for_case(case).functions[0]


def signature_problem(fn: str, found: dict) -> str | None:
    """Why the object named ``fn`` cannot be called as the protocol calls it, or None.

    ``found`` is what the worker saw (``parameters``: [[name, kind, has a default]] or None
    where Python cannot say; ``class``; ``methods``); the decision is made here."""
    params = found.get("parameters")
    if fn == "NeuralNetwork":
        if not found.get("class"):
            return "it is not a class"
        missing = sorted({"forward", "backward"} - set(found.get("methods") or ()))
        if missing:
            return f"it has no {' or '.join(missing)} method"
    if params is None:
        return None
    positional = [p for p in params if p[1] in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")]
    required = [p for p in positional if not p[2]]
    keyword_required = [p[0] for p in params if p[1] == "KEYWORD_ONLY" and not p[2]]
    varargs = any(p[1] == "VAR_POSITIONAL" for p in params)
    if keyword_required:
        return f"it requires the keyword argument(s) {', '.join(keyword_required)}"
    fits = [n for n in _ARITY[fn] if len(required) <= n and (varargs or n <= len(positional))]
    if not fits:
        n = " or ".join(map(str, _ARITY[fn]))
        return (f"it takes {len(required)}{'+' if varargs else ''} required positional argument(s)"
                f"{f' of at most {len(positional)}' if len(positional) > len(required) else ''}; "
                f"the protocol passes {n}")
    return None
