"""Feedback a student can act on, written from the record ``grade`` keeps of a run.

Per system: the verdict and the points, what is wrong in words (the diagnosis), the
first failure's message, the share of each check's tests that passed, and how to
reproduce it. Per submission: those of the assignment's systems, after one line
with the score, or why the run was not graded to its end. The gradebook carries the
submission's text (``text``); Gradescope shows each system's (``system_text``) as its
test's output, with the reproducing script itself, since a student there sees no
report.
"""
from __future__ import annotations

from backprop_harness.protocol import SYSTEM_FUNCTIONS

__all__ = ["text", "system_text", "run_problem", "REPRODUCER_LIMIT"]

REPRODUCER_LIMIT = 6000          # characters of a reproducing script shown inline
_WHY_NOT_GRADED = {
    "timeout": "the run did not finish within the time limit and was stopped",
    "load error": "your file could not be loaded",
    "invalid": "the submission could not be graded as handed in",
    "crashed": "the run ended without a report",
    "tampered": "it changed the grader's own files during its run",
    "harness error": "the grader failed on it (not your code's fault; the staff can see why)",
}


def _fmt(x) -> str:
    return f"{float(x):g}"


def run_problem(record: dict) -> str | None:
    """Why the run was not graded to its end, in words, or None when it was."""
    status = record.get("status")
    if status == "graded":
        return None
    why = _WHY_NOT_GRADED.get(status, status)
    note = record.get("note")
    return f"Not graded: {why}" + (f" ({note})" if note else "") + ". Every system scores 0."


def _words(s: dict) -> str:
    """The diagnosis in words (under an assignment's fixed conventions the diagnosis itself
    says to change the code, not to declare)."""
    codes = s.get("diagnosis") or []
    words = (s.get("words") or "").strip()
    if words:
        return words
    return ", ".join(codes) if codes else ""


def _checks_line(points: dict) -> str:
    shares = points.get("checks") or {}
    parts = [f"{c} {p}/{n}" for c, (p, n) in shares.items() if n]
    return ", ".join(parts)


def _reproduce(s: dict, entry: str | None, inline: bool) -> list:
    command = f"backprop-harness test {entry or 'your_file.py'}"
    snippet = s.get("reproducer")
    if inline and snippet and len(snippet) <= REPRODUCER_LIMIT:
        how = (f"To reproduce: save this script beside {entry or 'your file'} and run it with python (it needs "
               f"numpy only); `{command}` runs every check.")
        return [how, "----- from here -----", snippet.rstrip(), "----- to here -----"]
    where = " (the reproducing script is in the report)" if snippet else ""
    return [f"To reproduce: `{command}`{where}."]


def system_text(record: dict, system: str, assignment, inline: bool = True) -> str:
    """One system's feedback; ``inline``: with the reproducing script itself."""
    s = (record.get("systems") or {}).get(system) or {}
    points = (record.get("points") or {}).get(system) or {}
    verdict = s.get("status", "error")
    score = (f", {_fmt(points['points'])} of {_fmt(points['max_points'])} point"
             f"{'s' if float(points['max_points']) != 1 else ''}" if "points" in points else "")
    problem = run_problem(record)
    if problem:
        return f"{system}: {verdict}{score}. {problem}"
    if verdict == "not provided":
        names = " or ".join(SYSTEM_FUNCTIONS.get(system, ()))
        return f"{system}: not provided{score}: your file defines no {names} (or it raises NotImplementedError)."
    if verdict != "fail":
        return f"{system}: {verdict}{score}."
    lines = [f"{system}: FAIL{score}."]
    words = _words(s)
    if words:
        lines.append("What is wrong: " + words)
    if s.get("message"):
        lines.append(f"First failure ({s.get('check') or 'a check'}): {s['message']}")
    checks = _checks_line(points)
    if checks:
        lines.append(f"Tests passed per check: {checks}.")
    lines += _reproduce(s, record.get("entry"), inline)
    return "\n".join(lines)


def text(record: dict, assignment, inline: bool = False) -> str:
    """The submission's feedback: the score, then each of the assignment's systems."""
    head = (f"Score: {_fmt(record.get('score', 0))} of {_fmt(record.get('max_score', 0))}"
            + (f" ({assignment.title})" if getattr(assignment, "title", None) else "") + ".")
    problem = run_problem(record)
    parts = [head + (" " + problem if problem else "")]
    if problem:
        if record.get("load_error") and record["load_error"].strip() != (record.get("note") or "").strip():
            parts.append(record["load_error"].rstrip())
        return "\n".join(parts)
    parts += [system_text(record, system, assignment, inline) for system in assignment.systems]
    return "\n".join(parts)
