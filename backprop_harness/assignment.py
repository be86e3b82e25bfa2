"""An assignment: what a course grades, read from a TOML file (``grade --assignment FILE``).

The file names the systems the assignment asks for and the points each is worth,
the conventions it fixes (the question every submission is asked, whatever its own
``CONVENTIONS`` say), the checks that earn credit and their weights, the time
limits, the entry file of a folder submission, the oracles and the feedback's
visibility (docs/grading.md has the reference and a worked file,
assignments/sample.toml)::

    title = "Backpropagation by hand"
    oracles = ["complex_step"]
    partial_credit = true

    [systems.mlp]
    weight = 4
    conventions = { loss = "half_mean" }

    [checks]
    "worked examples" = 1
    oracles = 2

A system's points: all of its weight when it passes; when it fails and
``partial_credit`` is on, its weight times the weighted share of its checks'
tests that passed (a check none of whose tests ran, or only tests of functions
the submission does not provide, is left out of the share); nothing otherwise,
and nothing for any system when the run itself failed (a timeout, a file that
does not load, a changed harness). Without a file, ``DEFAULT``: every system one
point when it passes, nothing when it fails, no conventions fixed.
"""
from __future__ import annotations

import difflib
import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from backprop_harness.protocol import CHECKS, SYSTEMS

__all__ = ["Assignment", "AssignmentError", "DEFAULT", "VISIBILITIES", "PROFILES", "load", "parse", "assess",
           "fixed_conventions"]

# Gradescope's own values (its autograder specification, "Controlling Test Case Visibility")
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
PROFILES = ("ci", "dev", "thorough", "smoke")
_TOP = ("title", "oracles", "profile", "partial_credit", "systems", "checks", "limits", "submission", "feedback")
_TABLES = {"limits": ("run_seconds", "call_seconds"), "submission": ("entry",), "feedback": ("visibility",)}
_SYSTEM_KEYS = ("weight", "conventions")
_GRADED = "graded"          # the one outcome of a run that earns points


class AssignmentError(ValueError):
    """The assignment file is not valid; ``problems`` lists each, one sentence each."""

    def __init__(self, source: str, problems: list):
        head = f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Assignment:
    """What a course grades. ``systems``: system -> points; ``checks``: check -> weight;
    ``conventions``: system -> {key: value} fixed for every submission (validated by
    ``backprop_harness.systems``); the limits, oracles and profile are None where the
    file leaves them to the command's options."""
    title: str | None
    systems: dict
    checks: dict
    conventions: dict = field(default_factory=dict)
    partial_credit: bool = False
    run_seconds: float | None = None
    call_seconds: float | None = None
    entry: tuple = ()
    visibility: str = "visible"
    oracles: str | None = None
    profile: str | None = None
    source: str | None = None             # the file, None for DEFAULT
    sha256: str | None = None

    @property
    def max_score(self) -> float:
        return _round(sum(self.systems.values()))

    def describe(self) -> str:
        """One line for the command's output."""
        if self.source is None:
            return ("no --assignment: every system is worth 1 point when it passes, nothing when it fails "
                    "(the score is the number of systems passing, of 4), no conventions fixed")
        weights = ", ".join(f"{s} {_fmt(w)}" for s, w in self.systems.items())
        fixed = "; ".join(f"{s}: " + ", ".join(f"{k}={v}" for k, v in c.items()) for s, c in self.conventions.items())
        return (f"assignment {self.source}" + (f" ({self.title})" if self.title else "") + f": {weights} points "
                f"(max {_fmt(self.max_score)}), partial credit per check {'on' if self.partial_credit else 'off'}"
                + (f"; conventions fixed: {fixed}" if fixed else ""))

    def run_key(self) -> dict:
        """What changes the runs themselves (a stored record is reused only under the same):
        the conventions asked and the entry files. Weights and visibility change only the
        score and the feedback, which are computed again from a reused record."""
        return {"conventions": self.conventions, "entry": list(self.entry)}

    def to_json(self) -> dict:
        return {"source": self.source, "sha256": self.sha256, "title": self.title, "systems": self.systems,
                "checks": self.checks, "conventions": self.conventions, "partial_credit": self.partial_credit,
                "limits": {"run_seconds": self.run_seconds, "call_seconds": self.call_seconds},
                "entry": list(self.entry), "visibility": self.visibility, "oracles": self.oracles,
                "profile": self.profile, "max_score": self.max_score}


DEFAULT = Assignment(title=None, systems={s: 1.0 for s in SYSTEMS}, checks={c: 1.0 for c in CHECKS})


def _fmt(x: float) -> str:
    return f"{x:g}"


def _round(x: float) -> float:
    # points are shown with at most 3 decimals; the total is the sum of what is shown
    return round(x + 0.0, 3)


def _close(word, among) -> str:
    near = difflib.get_close_matches(str(word).replace("_", " "), [a.replace("_", " ") for a in among], n=1,
                                     cutoff=0.6)
    if not near:
        return f"; expected one of {list(among)}"
    match = among[[a.replace("_", " ") for a in among].index(near[0])]
    return f"; did you mean {match!r}? (expected one of {list(among)})"


def _weight(value, where: str, problems: list) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        problems.append(f"{where} = {value!r}: a weight is a positive number (points), like 1 or 2.5")
        return None
    return float(value)


def fixed_conventions(conventions: dict) -> dict:
    """{system: {key: value}} checked by the conventions' own machinery
    (``backprop_harness.systems.conventions``); raises its ``ConventionError``."""
    from backprop_harness import systems
    systems.conventions(conventions)
    return conventions


def parse(data: dict, source: str = "assignment") -> Assignment:
    """An ``Assignment`` from the TOML file's tables; ``AssignmentError`` lists every problem."""
    problems: list = []
    for key in data:
        if key not in _TOP:
            problems.append(f"unknown key {key!r}{_close(key, _TOP)}")

    title = data.get("title")
    if title is not None and not isinstance(title, str):
        problems.append(f"title = {title!r}: expected a string")

    raw_systems = data.get("systems")
    systems, conventions = {}, {}
    if not isinstance(raw_systems, dict) or not raw_systems:
        problems.append("no [systems.NAME] table: name at least one system the assignment asks for "
                        f"(among {list(SYSTEMS)}), each with its weight, e.g. [systems.mlp] weight = 4")
        raw_systems = {}
    for name, spec in raw_systems.items():
        if name not in SYSTEMS:
            problems.append(f"[systems.{name}]: unknown system{_close(name, SYSTEMS)}")
            continue
        if not isinstance(spec, dict):
            problems.append(f"systems.{name} = {spec!r}: expected a table, e.g. [systems.{name}] weight = 1")
            continue
        for key in spec:
            if key not in _SYSTEM_KEYS:
                problems.append(f"[systems.{name}] {key}: unknown key{_close(key, _SYSTEM_KEYS)}")
        if "weight" not in spec:
            problems.append(f"[systems.{name}] has no weight: the points the system is worth, e.g. weight = 1")
        else:
            w = _weight(spec["weight"], f"[systems.{name}] weight", problems)
            if w is not None:
                systems[name] = w
        if "conventions" in spec:
            conv = spec["conventions"]
            if not isinstance(conv, dict):
                problems.append(f"[systems.{name}] conventions = {conv!r}: expected a table like "
                                f"{{ loss = \"half_mean\" }} (docs/conventions.md)")
            else:
                conventions[name] = dict(conv)
    if conventions:
        from backprop_harness.systems import ConventionError
        for name, conv in conventions.items():
            try:
                fixed_conventions({name: conv})
            except ConventionError as exc:
                problems.append(f"[systems.{name}] conventions: {exc} (docs/conventions.md)")
    # in the registry's order, whatever the file's
    systems = {s: systems[s] for s in SYSTEMS if s in systems}
    conventions = {s: conventions[s] for s in SYSTEMS if s in conventions}

    raw_checks = data.get("checks")
    checks = {}
    if raw_checks is None:
        checks = {c: 1.0 for c in CHECKS}
    elif not isinstance(raw_checks, dict) or not raw_checks:
        problems.append(f"[checks] must name at least one check with its weight (among {list(CHECKS)}), "
                        f"e.g. oracles = 2; leave the table out to weigh every check 1")
    else:
        for name, w in raw_checks.items():
            if name not in CHECKS:
                problems.append(f"[checks] {name!r}: unknown check{_close(name, CHECKS)}"
                                + (" (a name with a space is written in quotes: \"worked examples\" = 1)"
                                   if " " in str(name).replace("_", " ") and " " not in str(name) else ""))
                continue
            w = _weight(w, f"[checks] {name!r}", problems)
            if w is not None:
                checks[name] = w
        checks = {c: checks[c] for c in CHECKS if c in checks}

    partial = data.get("partial_credit", True)
    if not isinstance(partial, bool):
        problems.append(f"partial_credit = {partial!r}: expected true or false")
        partial = True

    tables = {}
    for table, keys in _TABLES.items():
        t = data.get(table, {})
        if not isinstance(t, dict):
            problems.append(f"{table} = {t!r}: expected a table [{table}]")
            t = {}
        for key in t:
            if key not in keys:
                problems.append(f"[{table}] {key}: unknown key{_close(key, keys)}")
        tables[table] = t
    limits = {}
    for key in _TABLES["limits"]:
        if key in tables["limits"]:
            v = tables["limits"][key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                problems.append(f"[limits] {key} = {v!r}: expected a positive number of seconds")
            else:
                limits[key] = float(v)

    entry = tables["submission"].get("entry", ())
    if isinstance(entry, str):
        entry = (entry,)
    if not isinstance(entry, (list, tuple)) or not all(isinstance(e, str) for e in entry):
        problems.append(f"[submission] entry = {entry!r}: expected a file name or a list of them, "
                        f"e.g. entry = [\"backprop.py\"]")
        entry = ()
    for e in entry:
        if not e.endswith(".py") or "/" in e or "\\" in e or e.startswith("."):
            problems.append(f"[submission] entry {e!r}: expected the name of a .py file at the top of a "
                            f"submission's folder, like \"backprop.py\"")
    entry = tuple(entry)

    visibility = tables["feedback"].get("visibility", "visible")
    if visibility not in VISIBILITIES:
        problems.append(f"[feedback] visibility = {visibility!r}: not one of Gradescope's values"
                        f"{_close(visibility, VISIBILITIES)}")
        visibility = "visible"

    oracles = data.get("oracles")
    if oracles is not None:
        from oracles import ORACLES
        if oracles == "all":
            oracles = ",".join(ORACLES)
        elif isinstance(oracles, list) and oracles and all(isinstance(o, str) for o in oracles):
            for o in oracles:
                if o not in ORACLES:
                    problems.append(f"oracles: {o!r} is not an oracle{_close(o, tuple(ORACLES))}")
            oracles = ",".join(oracles)
        else:
            problems.append(f"oracles = {oracles!r}: expected a list of names among {list(ORACLES)}, or \"all\"")
            oracles = None

    profile = data.get("profile")
    if profile is not None and profile not in PROFILES:
        problems.append(f"profile = {profile!r}: not a Hypothesis profile of the harness{_close(profile, PROFILES)}")

    if problems:
        raise AssignmentError(source, problems)
    return Assignment(title=title, systems=systems, checks=checks, conventions=conventions, partial_credit=partial,
                      run_seconds=limits.get("run_seconds"), call_seconds=limits.get("call_seconds"), entry=entry,
                      visibility=visibility, oracles=oracles, profile=profile, source=source)


def load(path) -> Assignment:
    """Read and check an assignment file; ``AssignmentError`` (a ``ValueError``) names
    every problem, a missing file is a ``FileNotFoundError``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"no such assignment file: {path}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AssignmentError(str(path), [f"not valid TOML: {exc}"]) from None
    a = parse(data, str(path))
    return Assignment(**{**a.__dict__, "sha256": hashlib.sha256(raw).hexdigest()})


# --- the score -------------------------------------------------------------------------------------

def _check_share(counts: dict) -> tuple:
    """(passed, counted) of one check's tests: a test not run (after a hang or a crash of the
    same function) counts against; one of a function not provided, or skipped, not at all."""
    counts = counts if isinstance(counts, dict) else {}
    passed = int(counts.get("passed", 0) or 0)
    return passed, passed + int(counts.get("failed", 0) or 0) + int(counts.get("not run", 0) or 0)


def assess(assignment: Assignment, status: str, systems: dict) -> dict:
    """The score of one run under ``assignment``.

    Args:
      status: the run's outcome (``"graded"``, or why it was not: nothing is earned then).
      systems: per system, ``status`` (pass, fail, not provided, error) and ``checks``
        (check -> {outcome: number of tests}, as conformance.json counts them).

    Returns:
      {"score", "max_score", "systems": {system: {"points", "max_points", "checks":
      {check: [passed, counted]}}}} for the assignment's systems, in its order.
    """
    out, total = {}, 0.0
    for system, weight in assignment.systems.items():
        s = systems.get(system) or {}
        verdict = s.get("status")
        shares = {c: list(_check_share((s.get("checks") or {}).get(c))) for c in assignment.checks}
        if status != _GRADED:
            points = 0.0
        elif verdict == "pass":
            points = weight
        elif verdict == "fail" and assignment.partial_credit:
            counted = {c: (p, n) for c, (p, n) in shares.items() if n > 0}
            denominator = sum(assignment.checks[c] for c in counted)
            points = weight * sum(assignment.checks[c] * p / n for c, (p, n) in counted.items()) / denominator \
                if denominator else 0.0
        else:
            points = 0.0
        points = _round(points)
        total += points
        out[system] = {"points": points, "max_points": weight, "checks": shares}
    return {"score": _round(total), "max_score": assignment.max_score, "systems": out}
