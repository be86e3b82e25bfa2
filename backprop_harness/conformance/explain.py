"""A failed conformance test as a ``record.Failure``: its message, its diagnosis, its
reproducer and its gradients against the right ones.

Runs once per failing test, on the example Hypothesis shrank to. A fault of the
diagnosis or of the reproducer is said in its place; it never hides the failure.
"""
from __future__ import annotations

import pytest

from backprop_harness.record import Failure, Gradients, summary_line

__all__ = ["conformance_exception", "failure", "determinism_gradients"]

_FLAKY = ("(Hypothesis could not make this failure happen again when it re-ran the example: the answer "
          "depends on something besides the call's arguments, such as earlier calls)")


def conformance_exception(exc: BaseException | None):
    """The conformance failure an exception is or holds (Hypothesis wraps a failure it could
    not reproduce in a FlakyFailure group), and whether it was wrapped; (None, False) for
    anything else (a harness error keeps its traceback)."""
    from backprop_harness.answers import ConformanceFailure
    from backprop_harness.compare import GradientMismatch
    from backprop_harness.isolation import WorkerLost
    kinds = (ConformanceFailure, WorkerLost, GradientMismatch)
    if exc is None:
        return None, False
    if isinstance(exc, kinds):
        return exc, False
    if isinstance(exc, BaseExceptionGroup):
        inner = exc.subgroup(lambda e: isinstance(e, kinds))
        while inner is not None and isinstance(inner, BaseExceptionGroup):
            inner = inner.exceptions[0]
        return inner, inner is not None
    return None, False


def failure(exc: BaseException, wrapped: bool, impl, test: str, check: str) -> Failure:
    """The record of a conformance failure ``exc`` (from ``conformance_exception``)."""
    notes = [n for n in getattr(exc, "__notes__", ()) if n.strip()]
    message = "\n".join([str(exc)] + notes + ([_FLAKY] if wrapped else []))
    report = getattr(exc, "report", None)
    record = Failure(test, getattr(exc, "check", None) or check, message,
                     summary_line(message, getattr(report, "first", None)))
    evidence = getattr(exc, "evidence", None)
    named = _not_an_answer(exc)
    if evidence is not None and impl is not None and (evidence.received or named is None):
        _explain(record, impl, evidence, named)
    elif named is not None:
        record.diagnosis = named.to_json()
    return record


def _not_an_answer(exc):
    """The diagnosis of a failure that is not a wrong answer (a crash, a load error, a timeout,
    a non-finite or malformed answer), or None."""
    from backprop_harness import diagnosis
    try:
        return diagnosis.of_failure(exc)
    except Exception:                          # noqa: BLE001 - never hides the failure
        return None


def _explain(record: Failure, impl, evidence, otherwise=None):
    """Fill in the diagnosis, the reproducer and the gradients of a wrong answer."""
    from backprop_harness import diagnosis, mistakes, reproducer, systems
    from backprop_harness.isolation import WorkerLost

    def probe(case):
        try:
            answer = impl.answer(case, evidence.fn)
        except AssertionError as exc:              # an answer of the wrong shape is still an answer
            seen = getattr(exc, "evidence", None)
            return (seen.received, seen.loss) if seen is not None and seen.received else None
        except (pytest.skip.Exception, WorkerLost):
            return None
        return answer.gradient.grads, answer.gradient.loss

    try:
        if evidence.diagnosis:
            found = evidence.diagnosis
        elif evidence.first is not None:
            found = diagnosis.diagnose_repeat(evidence.case, evidence.first, evidence.received, probe)
        elif evidence.received:
            try:
                conv = impl.conventions()[systems.for_case(evidence.case).name]
            except AssertionError:                  # CONVENTIONS itself is the failure
                conv = None
            ops = (impl.value_ops_seen or {}).get("ops") if evidence.fn == "Value" else None
            found = diagnosis.diagnose(evidence.case, evidence.received, evidence.loss, probe, conv, ops,
                                       getattr(impl, "fixed_conventions", None))
        else:
            found = diagnosis.fixed("unknown")
        if otherwise is not None and not found.known:     # what the failure is, when no mistake explains it
            found = otherwise
        record.diagnosis = found.to_json()
    except Exception as exc:                  # noqa: BLE001 - reported, never raised over the failure
        record.diagnosis = {"codes": [], "words": f"not available (the harness's diagnosis failed: "
                                                  f"{type(exc).__name__}: {exc})", "where": None}
    try:
        right = mistakes.right(evidence.case)
        system = systems.for_case(evidence.case)
        record.reproducer = reproducer.snippet(impl.spec, evidence.fn, evidence.case, right,
                                               f"reproducer: {evidence.origin}", evidence.before,
                                               impl.conventions()[system.name])
        record.gradients = determinism_gradients(evidence, right, *reproducer.tolerances(evidence.case, right))
    except Exception as exc:                  # noqa: BLE001
        record.message += f"\nreproducer: not available ({type(exc).__name__}: {exc})"


def determinism_gradients(evidence, right, atol: float, loss_atol: float | None = None) -> Gradients:
    """The answer against the right one; for a determinism failure (``evidence.first``), the
    answer that is wrong, and which one it is."""
    import numpy as np

    received = evidence.received or {}
    received_is = "the implementation's answer"
    if evidence.first is not None:

        def off(answer):
            try:
                return max(float(np.max(np.abs(np.asarray(answer[k], dtype=float) - np.asarray(v))))
                           for k, v in right.grads.items())
            except (KeyError, TypeError, ValueError):
                return np.inf

        if off(evidence.first) > off(received):
            received, received_is = evidence.first, ("its first answer to this call (the later one, after "
                                                     "other calls, is closer to the right answer)")
        else:
            received_is = "its answer to this call after other calls (the first answer was closer)"
    return Gradients.measured(evidence.case, evidence.fn, right, received, evidence.loss, atol, received_is,
                              loss_atol)
