"""What an implementation's reply becomes on the harness side: an ``Answer``, or a failure
saying what was expected against what was received.

The worker sends the implementation's return value as plain data (arrays, lists,
dicts, ``{"__object__": description}`` for anything else); every judgement about
it (structure, shapes, float64, finite numbers, inputs changed) is made here,
from that data, by the helpers below, which each system module uses
(``backprop_harness.systems``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from oracles import Gradient

__all__ = ["ConformanceFailure", "Evidence", "NotProvided", "NotApplicable", "NotRun", "Answer",
           "describe", "sequence", "array", "number", "checked", "changed"]


class ConformanceFailure(AssertionError):
    """The implementation broke the protocol or disagreed; the message says what was expected.

    ``check`` names the conformance check it breaks where that is not the test's own
    (a wrong shape met while comparing with the oracles breaks "shapes and dtypes");
    ``report`` is the comparison's ``compare.Mismatch`` or ``compare.Report`` where the
    failure is a disagreement."""

    def __init__(self, message: str, check: str | None = None, evidence: Evidence | None = None,
                 report=None):
        super().__init__(message)
        self.check = check
        self.evidence = evidence
        self.report = report


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
    origin: str = "the smallest failing case Hypothesis found"     # where the case came from


class NotProvided(pytest.skip.Exception):
    """The implementation lacks what this test needs (absent, or raising NotImplementedError)."""


class NotApplicable(pytest.skip.Exception):
    """The question does not exist under the implementation's declared conventions (a
    worked example computed with another loss): neither a pass nor a failure."""


class NotRun(pytest.skip.Exception):
    """Not called again after the worker hung or crashed in the same function (each retry
    would cost the timeout); the first failure carries the verdict."""


@dataclass
class Answer:
    """An implementation's answer to a case, as an ``oracles.Gradient`` plus what else it returned."""
    gradient: Gradient
    modified: list = field(default_factory=list)     # inputs the call changed
    extra: dict = field(default_factory=dict)        # forward outputs, intermediate values


def describe(x) -> str:
    """What a received value is, in a few words (for "expected ..., got ..." messages)."""
    if isinstance(x, dict) and set(x) == {"__object__"}:
        return str(x["__object__"])
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    if isinstance(x, list):
        return f"a sequence of {len(x)} items"
    if isinstance(x, dict):
        return f"a dict with keys {sorted(x)[:8]}"
    return f"{x!r}"


def _shape_error(message: str) -> ConformanceFailure:
    return ConformanceFailure(message, check="shapes and dtypes")


def sequence(x, n: int | None, what: str, expected: str) -> list:
    """``x`` as a list of ``n`` items (any length when None), else a failure. An array of at
    least one dimension is a sequence of its rows (``np.array([g1, ..., g8])``)."""
    __tracebackhide__ = True
    if isinstance(x, np.ndarray) and x.ndim >= 1 and x.dtype.kind in "biuf":
        x = [np.asarray(row) for row in x]
    if not isinstance(x, list) or (n is not None and len(x) != n):
        raise _shape_error(f"{what} is {describe(x)}; expected {expected}")
    return x


def array(x, what: str) -> np.ndarray:
    """``x`` as a numeric array (its dtype kept), else a failure."""
    __tracebackhide__ = True
    if isinstance(x, np.ndarray) and x.dtype.kind in "biuf":
        return x
    if isinstance(x, list):
        try:
            a = np.array(x, dtype=float) if all(isinstance(v, np.ndarray) and v.ndim == 0 for v in _flat(x)) else None
        except ValueError:
            a = None
        if a is not None:
            return a
    raise _shape_error(f"{what} is {describe(x)}; expected an array of numbers (float64)")


def _flat(x):
    for v in x:
        if isinstance(v, list):
            yield from _flat(v)
        else:
            yield v


def number(x, what: str) -> np.ndarray:
    """``x`` as a 0-d array, else a failure."""
    __tracebackhide__ = True
    a = array(x, what)
    if a.size != 1:
        raise _shape_error(f"{what} is {describe(a)}; expected a single number")
    return a.reshape(())


def checked(values, shapes, what: str, names: list) -> list:
    """Each value as float64 of the expected shape; else a ConformanceFailure saying which and why."""
    __tracebackhide__ = True
    out = []
    for value, shape, name in zip(values, shapes, names):
        a = array(value, f"{what}: {name}")
        if a.shape != tuple(shape):
            raise _shape_error(f"{what}: {name} has shape {a.shape}; expected {tuple(shape)}")
        if a.dtype.kind == "f" and a.dtype != np.float64:
            raise _shape_error(
                f"{what}: {name} is {a.dtype}; expected float64 (the inputs were float64, and {a.dtype} "
                f"keeps {np.finfo(a.dtype).precision} digits where the oracles agree to 15)")
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


def changed(sent: dict, after: dict) -> list:
    """The names (``Ws[1]``) of the arrays in ``sent`` that ``after`` (the same structure, as the
    worker saw it after the call) no longer equals: decided here, from the data."""
    out = []
    for name, value in sent.items():
        now = after.get(name) if isinstance(after, dict) else None
        if isinstance(value, (list, tuple)):
            if not isinstance(now, list) or len(now) != len(value):
                out.append(name)
                continue
            out += [f"{name}[{i}]" for i, (v, w) in enumerate(zip(value, now)) if not _same(v, w)]
        elif not _same(value, now):
            out.append(name)
    return out


def _same(sent, now) -> bool:
    if not isinstance(now, np.ndarray):
        return False
    sent = np.asarray(sent)
    return now.shape == sent.shape and bool(np.array_equal(now, sent, equal_nan=True))
