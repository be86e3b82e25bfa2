"""The record of a conformance run: each test's outcome and each failure as typed data,
and everything derived from them: the verdict per system, the terminal table, groups
of identical failures and the conformance document (docs/conformance-schema.md).

Nothing here knows pytest. The hooks (``backprop_harness.conformance.plugin``) turn
each test report into an ``Outcome`` and add it to the ``Run``; a failure travels from
the test to the terminal, the JSON document, ``grade`` and the HTML report as one
``Failure``, which each of them renders and none of them re-derives.
"""
from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from backprop_harness.protocol import CHECKS, SYSTEMS

__all__ = ["SCHEMA", "encode_array", "decode_array", "encode_number", "decode_number", "TensorDiff", "Worst",
           "Gradients", "Failure", "Outcome", "Group", "Run", "cell", "system_codes", "shape_text",
           "summary_line", "group"]

SCHEMA = "backprop-harness/conformance/1"
TOP = 6                     # worst entries of a failure named in its reports


# ---------------------------------------------------------------- numbers as JSON

def encode_array(x, limit: int | None = None) -> dict | None:
    """An array as {"shape", "data"} (row-major; non-finite numbers as "nan", "inf", "-inf");
    None when ``x`` is not numeric. Beyond ``limit`` numbers only the shape is kept (a wrong
    answer can be far larger than the report can show)."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return None
    if limit is not None and a.size > limit:
        return {"shape": list(a.shape), "data": None, "omitted": f"{a.size} numbers where {limit} were expected"}
    return {"shape": list(a.shape), "data": [v if math.isfinite(v) else str(v) for v in a.ravel().tolist()]}


def decode_array(obj) -> np.ndarray | None:
    """``encode_array``'s form back to float64; None when absent, omitted or malformed."""
    if not isinstance(obj, dict) or obj.get("data") is None:
        return None
    try:
        shape = tuple(int(n) for n in obj.get("shape", ()))
        return np.asarray(obj["data"], dtype=float).reshape(shape)
    except (TypeError, ValueError):
        return None


def encode_number(x) -> float | str | None:
    try:
        v = float(np.asarray(x, dtype=float).reshape(()))
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else str(v)


def decode_number(x) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def shape_text(shape) -> str:
    """A shape as the reports print it: "scalar" or "(2, 3)"."""
    return "scalar" if len(shape) == 0 else str(tuple(int(n) for n in shape))


# ---------------------------------------------------------------- one failure's gradients

@dataclass
class TensorDiff:
    """One parameter's gradient, received against expected, measured once against ``atol``.

    ``shown`` is the received tensor brought to the expected shape where that is
    meaningful (exactly the transpose, or the same number of entries); ``ratio`` is
    |shown - expected| / atol (inf where either side is not finite); ``note`` says how the
    shapes relate, or why the tensor cannot be compared entry by entry."""
    name: str
    expected: np.ndarray | None
    received: np.ndarray | None
    atol: float
    omitted: str | None = None
    shown: np.ndarray | None = field(init=False, default=None)
    ratio: np.ndarray | None = field(init=False, default=None)
    nonfinite: np.ndarray | None = field(init=False, default=None)
    note: str = field(init=False, default="")

    def __post_init__(self):
        e, r = self.expected, self.received
        if e is None:
            self.note = "no expected value recorded"
            return
        if r is None:
            self.note = (f"received: {self.omitted}; not drawn" if self.omitted else
                         "received: not a numeric array (missing, None or not numbers); not drawn")
            return
        if r.shape == e.shape:
            self.shown = r
        elif e.ndim == 2 and r.shape == e.shape[::-1]:
            self.shown = r.T
            self.note = (f"received shape {shape_text(r.shape)}, expected {shape_text(e.shape)}: exactly the "
                         f"transpose; compared and drawn transposed back")
        elif r.size == e.size:
            self.shown = r.reshape(e.shape)
            self.note = (f"received shape {shape_text(r.shape)}, expected {shape_text(e.shape)}: the same number of "
                         f"entries, compared in row-major order")
        else:
            self.note = (f"received shape {shape_text(r.shape)}, expected {shape_text(e.shape)}: cannot be compared "
                         f"entry by entry; not drawn")
            return
        self.nonfinite = ~np.isfinite(self.shown) | ~np.isfinite(e)
        with np.errstate(all="ignore"):
            diff = np.abs(self.shown - e)
            if self.atol > 0 and math.isfinite(self.atol):
                ratio = diff / self.atol
            else:                              # no usable tolerance: any difference is beyond it
                ratio = np.where(diff > 0, np.inf, 0.0)
        self.ratio = np.where(self.nonfinite, np.inf, ratio)

    @property
    def comparable(self) -> bool:
        return self.ratio is not None

    @property
    def beyond(self) -> int:
        """Entries beyond the tolerance."""
        return 0 if self.ratio is None else int(np.count_nonzero(self.ratio > 1))

    @property
    def wrong(self) -> bool:
        """Beyond the tolerance somewhere, or not comparable at all."""
        return self.ratio is None or self.beyond > 0

    @property
    def max_abs(self) -> float | None:
        if self.ratio is None:
            return None
        with np.errstate(invalid="ignore"):
            diff = np.abs(self.shown - self.expected)
        finite = diff[np.isfinite(diff)]
        return float(finite.max()) if finite.size else None

    @property
    def max_ratio(self) -> float | None:
        return None if self.ratio is None or not self.ratio.size else float(self.ratio.max())


@dataclass
class Worst:
    """One entry beyond tolerance: its rank among the failure's worst, its tensor, its index."""
    rank: int
    tensor: TensorDiff
    flat: int

    @property
    def index(self) -> tuple:
        return tuple(int(i) for i in np.unravel_index(self.flat, self.tensor.expected.shape))

    @property
    def label(self) -> str:
        idx = self.index
        return f"dL/d{self.tensor.name}" + (f"[{', '.join(map(str, idx))}]" if idx else "")

    @property
    def expected(self) -> float:
        return float(self.tensor.expected.ravel()[self.flat])

    @property
    def received(self) -> float:
        return float(self.tensor.shown.ravel()[self.flat])

    @property
    def error(self) -> float:
        e, r = self.expected, self.received
        return abs(r - e) if math.isfinite(r) and math.isfinite(e) else math.nan

    @property
    def ratio(self) -> float:
        return float(self.tensor.ratio.ravel()[self.flat])


@dataclass
class Gradients:
    """A failure's answer against the right one, tensor by tensor, under the absolute
    tolerances the reproducer applies (``atol`` to the gradient, ``loss_atol`` to the loss:
    the exact rule on each one's own magnitude; the loss's is ``atol`` where not given)."""
    atol: float
    case: str                      # the case's type
    fn: str                        # the protocol function asked
    tensors: list                  # [TensorDiff] in the parameters' order
    loss_expected: float | None = None
    loss_received: object = None   # a float, "nan"/"inf", or None when none was reported
    received_is: str = "the implementation's answer"
    loss_atol: float | None = None

    @classmethod
    def measured(cls, case, fn: str, right, received: dict | None, loss, atol: float,
                 received_is: str = "the implementation's answer", loss_atol: float | None = None) -> Gradients:
        """From the right answer (an ``oracles.Gradient``) and the received gradients by name."""
        received = received or {}
        tensors = []
        for name, value in right.grads.items():
            expected = np.asarray(value, dtype=float)
            limit = max(expected.size, 1)
            got = encode_array(received.get(name), limit) if name in received else None
            tensors.append(TensorDiff(name, expected, decode_array(got), atol,
                                      omitted=(got or {}).get("omitted")))
        return cls(atol, type(case).__name__, fn, tensors, encode_number(right.loss),
                   None if loss is None else encode_number(loss), received_is, loss_atol)

    def worst(self, top: int = TOP) -> list:
        """The worst entries beyond tolerance, non-finite first, then by ratio."""
        found = []
        for t in self.tensors:
            if t.ratio is None or not t.ratio.size:
                continue
            flat = t.ratio.ravel()
            beyond = np.flatnonzero(flat > 1)
            if beyond.size > top:
                beyond = beyond[np.argpartition(-flat[beyond], top - 1)[:top]]
            found += [(float(flat[k]), t, int(k)) for k in beyond]
        found.sort(key=lambda e: -e[0])            # stable: ties keep the parameters' order
        return [Worst(i + 1, t, k) for i, (_, t, k) in enumerate(found[:top])]

    @property
    def wrong(self) -> tuple:
        """The names of the tensors that are wrong (beyond tolerance or not comparable)."""
        return tuple(t.name for t in self.tensors if t.wrong)

    @property
    def loss_error(self) -> float | None:
        """|received - expected| of the loss; None when either is missing, inf when not finite."""
        e, r = decode_number(self.loss_expected), decode_number(self.loss_received)
        if e is None or r is None:
            return None
        return abs(r - e) if math.isfinite(r) and math.isfinite(e) else math.inf

    @property
    def loss_within(self) -> bool | None:
        err, atol = self.loss_error, self.loss_tolerance
        if err is None:
            return None
        return err <= atol if atol > 0 else err == 0

    @property
    def loss_tolerance(self) -> float:
        return self.atol if self.loss_atol is None else self.loss_atol

    def fingerprint(self) -> str:
        """Equal for failures with the same gradients (worked examples often share one)."""
        h = hashlib.sha256(repr(self.atol).encode())
        for t in self.tensors:
            for a in (t.expected, t.received):
                h.update(b"-" if a is None else repr(a.shape).encode() + a.tobytes())
        h.update(repr([t.name for t in self.tensors]).encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def to_json(self) -> dict:
        return {"atol": self.atol, "case": self.case, "fn": self.fn, "received_is": self.received_is,
                "loss": {"expected": self.loss_expected, "received": self.loss_received,
                         "atol": self.loss_atol},
                "parameters": [{"name": t.name, "expected": encode_array(t.expected),
                                "received": ({"shape": [], "data": None, "omitted": t.omitted} if t.omitted
                                             else encode_array(t.received) if t.received is not None else None)}
                               for t in self.tensors]}

    @classmethod
    def from_json(cls, data) -> Gradients | None:
        """The record back from ``to_json``'s form; None for anything that is not one."""
        if not isinstance(data, dict):
            return None
        atol = decode_number(data.get("atol"))
        atol = 0.0 if atol is None else atol
        tensors = []
        for p in data.get("parameters") or []:
            if isinstance(p, dict):
                received = p.get("received")
                omitted = received.get("omitted") if isinstance(received, dict) else None
                tensors.append(TensorDiff(str(p.get("name", "?")), decode_array(p.get("expected")),
                                          decode_array(received), atol, omitted=omitted))
        loss = data.get("loss") if isinstance(data.get("loss"), dict) else {}
        return cls(atol, str(data.get("case")), str(data.get("fn")), tensors, loss.get("expected"),
                   loss.get("received"), str(data.get("received_is") or "the implementation's answer"),
                   decode_number(loss.get("atol")))


# ---------------------------------------------------------------- one failure

@dataclass
class Failure:
    """One failed test: what the terminal, the JSON document, ``grade`` and the HTML report show.

    ``message`` is the failure's own message (without the diagnosis and the reproducer);
    ``summary`` its one line; ``diagnosis`` the diagnosis's JSON (``codes``, ``words``,
    ``where``) or None; ``reproducer`` the snippet's text or None."""
    test: str
    check: str
    message: str
    summary: str = ""
    diagnosis: dict | None = None
    reproducer: str | None = None
    gradients: Gradients | None = None
    details_lost: str | None = None

    @property
    def codes(self) -> tuple:
        return tuple((self.diagnosis or {}).get("codes") or ())

    @property
    def key(self) -> tuple:
        """Failures with equal keys are one block in every report: the same cause and the same
        wrong tensors (for failures without gradients: the same cause and the same first line)."""
        first = self.summary or self.message.split("\n", 1)[0]
        if not self.codes or self.codes == ("unknown",):
            return (self.check, self.codes, first)
        return (self.codes, self.gradients.fn, self.gradients.wrong) if self.gradients is not None \
            else (self.codes, first)

    def text(self) -> str:
        """The whole failure as the terminal shows it: message, diagnosis, reproducer."""
        out = self.message
        if self.diagnosis is not None:
            out += f"\ndiagnosis: {self.diagnosis.get('words') or ', '.join(self.codes)}"
        if self.reproducer:
            out += f"\n----- reproducer: copy from here -----\n{self.reproducer}\n----- to here -----"
        return out

    def to_json(self) -> dict:
        doc = {"test": self.test, "check": self.check, "message": self.message, "summary": self.summary,
               "diagnosis": self.diagnosis, "reproducer": self.reproducer,
               "gradients": None if self.gradients is None else self.gradients.to_json()}
        if self.details_lost:
            doc["details_lost"] = self.details_lost
        return doc

    @classmethod
    def from_json(cls, data: dict) -> Failure:
        return cls(str(data.get("test", "")), str(data.get("check") or "harness"), str(data.get("message") or ""),
                   str(data.get("summary") or ""),
                   data.get("diagnosis") if isinstance(data.get("diagnosis"), dict) else None,
                   data.get("reproducer") if isinstance(data.get("reproducer"), str) else None,
                   Gradients.from_json(data.get("gradients")), data.get("details_lost"))


def summary_line(message: str, first_entry: str | None = None) -> str:
    """A failure's one line: its first line, and its first offending entry when it has one."""
    first = next((s.strip() for s in message.splitlines() if s.strip()), "")
    return first if not first_entry or first_entry in first else f"{first} | {first_entry.strip()}"


# ---------------------------------------------------------------- the run

@dataclass
class Outcome:
    """What one test gave: its systems and checks, its status, and its failure if it failed."""
    test: str
    systems: tuple
    checks: tuple                  # the test's checks; () for the harness's own tests
    status: str                    # passed, failed, skipped, not provided, not applicable, not run
    broke: str | None = None       # the check a failure broke, where it is not the test's first
    failure: Failure | None = None
    summary: str = ""              # a failure's one line (also for failures without a record)
    value_ops: dict | None = None
    accuracy: dict | None = None


@dataclass
class Group:
    """Failures with the same cause and the same wrong tensors: one block in every report."""
    failures: list

    @property
    def leader(self) -> Failure:
        return self.failures[0]

    @property
    def others(self) -> list:
        return self.failures[1:]


def group(failures) -> list:
    """Failures in blocks of the same cause and the same wrong tensors (``Failure.key``), in order."""
    blocks = {}
    for f in failures:
        blocks.setdefault(f.key, Group([])).failures.append(f)
    return list(blocks.values())


def cell(counts: dict | None) -> str:
    """A verdict-table cell: passed of run, FAIL failed of run, n/p, n/a, skip or -."""
    if not counts:
        return "-"
    passed, failed = counts.get("passed", 0), counts.get("failed", 0)
    if failed:
        return f"FAIL {failed}/{passed + failed}"
    if passed:
        return f"{passed}/{passed}" + ("*" if counts.get("not provided") else "")
    if counts.get("not applicable"):          # the function is there; its questions are not
        return "n/a"
    return "n/p" if counts.get("not provided") else "skip"


def system_codes(failures) -> list:
    """The codes the failures name, in order; ["unknown"] when none is known."""
    codes = []
    for f in failures:
        codes += [c for c in f.codes if c != "unknown" and c not in codes]
    return codes or ["unknown"]


class Run:
    """The outcomes of one run, in collection order however the tests were distributed."""

    def __init__(self):
        self.counts = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))   # system -> check -> status -> n
        self.failures = defaultdict(list)       # system -> [Failure], collection order
        self.first = {}                         # system -> (test, check, summary) of its first failure
        self.order = {}                         # test id -> its place in the collection order
        self.value_ops = None
        self.accuracy = {}

    def set_order(self, ids):
        if not self.order:
            self.order.update({test: i for i, test in enumerate(ids)})

    def place(self, test: str) -> tuple:
        """Where a test comes in the collection order."""
        return (self.order.get(test, len(self.order)), test)

    def add(self, outcome: Outcome):
        if outcome.value_ops:
            self.value_ops = outcome.value_ops
        for op, worst in (outcome.accuracy or {}).items():
            if op not in self.accuracy or worst["relative_error"] > self.accuracy[op]["relative_error"]:
                self.accuracy[op] = worst
        checks = list(outcome.checks) or ["harness"]
        if outcome.status == "failed":       # counted against the check it broke; the others are unknown
            checks = [outcome.broke or checks[0]]
        for system in outcome.systems:
            for check in checks:
                self.counts[system][check][outcome.status] += 1
            if outcome.status != "failed":
                continue
            first = self.first.get(system)
            if first is None or self.place(outcome.test) < self.place(first[0]):
                self.first[system] = (outcome.test, checks[0], outcome.summary)
            if outcome.failure is not None:
                self.failures[system].append(outcome.failure)
                self.failures[system].sort(key=lambda f: self.place(f.test))

    @property
    def conformance(self) -> bool:
        """Whether conformance checks ran (else the harness's own tests did)."""
        return any(c in CHECKS for checks in self.counts.values() for c in checks)

    def verdict(self, system: str) -> str:
        totals = defaultdict(int)
        for counts in self.counts.get(system, {}).values():
            for status, n in counts.items():
                totals[status] += n
        if totals["failed"]:
            return "fail"
        if totals["passed"]:
            return "pass"
        return "not provided" if totals["not provided"] else "not tested"

    def verdicts(self) -> dict:
        return {system: self.verdict(system) for system in SYSTEMS}

    def groups(self, system: str) -> list:
        """The system's failures in blocks of the same cause and the same wrong tensors, in order."""
        return group(self.failures.get(system, []))

    def diagnosis(self, system: str) -> list:
        return system_codes(self.failures.get(system, []))

    def table(self, header: str) -> list:
        """The verdict per system, as terminal lines."""
        verdicts = self.verdicts()
        if not self.conformance:
            return [f"{s:<14}{verdicts[s].upper():<14}("
                    + ", ".join(f"{n} {k}" for k, n in sorted(self.counts.get(s, {}).get("harness", {}).items()))
                    + ")" for s in SYSTEMS]
        columns = list(CHECKS) + (["harness"] if any("harness" in c for c in self.counts.values()) else [])
        widths = [max(len(c), 9) for c in columns]
        lines = [header, f"{'system':<14}{'verdict':<14}" + "  ".join(f"{c:>{w}}" for c, w in zip(columns, widths))]
        for system in SYSTEMS:
            cells = [cell(self.counts.get(system, {}).get(c)) for c in columns]
            lines.append(f"{system:<14}{verdicts[system].upper():<14}"
                         + "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths)))
        lines.append("cells: passed/run (* some functions not provided), FAIL failed/run, n/p not provided, "
                     "n/a not applicable under the declared conventions, - no such check")
        return lines

    def notes(self, words: dict) -> list:
        """What the table does not say: operations tested, accuracy notes, first failures, diagnoses."""
        lines = []
        if self.value_ops and self.conformance:
            missing = "; ".join(f"{op} ({why})" for op, why in self.value_ops["missing"].items()) or "none"
            lines.append(f"scalar_graph: Value operations tested: {', '.join(self.value_ops['ops'])}; "
                         f"missing: {missing}")
        for op, worst in sorted(self.accuracy.items()):
            lines.append(f"scalar_graph: accuracy note (not a failure): {op} loses relative precision; worst "
                         f"{op}({worst['input']!r}) = {worst['received']!r}, exact {worst['exact']!r}, relative "
                         f"error {worst['relative_error']:.2g} (within the rounding of the terms that compute it)")
        for system in SYSTEMS:
            if system in self.first:
                test, check, summary = self.first[system]
                lines.append(f"{system}: first failure ({check or 'harness'}): {summary[:300]}")
            if self.verdict(system) == "fail" and self.conformance:
                blocks = self.groups(system)
                count = sum(len(g.failures) for g in blocks)
                shape = f" ({count} failures in {len(blocks)} block{'s' if len(blocks) != 1 else ''})" \
                    if count > 1 else ""
                lines.append(f"{system}: diagnosis{shape}: "
                             + "; ".join(f"{c} ({words.get(c, '')})" for c in self.diagnosis(system)))
        return lines

    def document(self, implementation: dict, *, generated: str, profile: str, oracles: list,
                 fixtures_sha256: str, changes: list, exit_status: int) -> dict:
        """The run's report (docs/conformance-schema.md)."""
        verdicts = self.verdicts()
        doc = {
            "schema": SCHEMA,
            "implementation": implementation,
            "generated": generated,
            "hypothesis_profile": profile,
            "oracles": list(oracles),
            "systems": {system: {
                "status": verdicts[system],
                "checks": {check: dict(counts) for check, counts in self.counts.get(system, {}).items()
                           if check in CHECKS},
                "first_failure": (None if system not in self.first else
                                  dict(zip(("test", "check", "message"), self.first[system]))),
                "diagnosis": self.diagnosis(system) if verdicts[system] == "fail" else None,
                "diagnoses": [{"test": f.test, "check": f.check, "codes": list(f.codes)}
                              for f in self.failures.get(system, [])],
                "failures": [f.to_json() for f in self.failures.get(system, [])],
                "groups": [[f.test for f in g.failures] for g in self.groups(system)],
            } for system in SYSTEMS},
            "fixtures_sha256": fixtures_sha256,
            "fixtures_unchanged": not changes,
            "fixture_changes": list(changes),
            "exit_status": exit_status,
        }
        if self.value_ops:
            doc["systems"]["scalar_graph"]["operations"] = {"tested": self.value_ops["ops"],
                                                            "missing": self.value_ops["missing"]}
        if self.accuracy:
            doc["systems"]["scalar_graph"]["accuracy"] = dict(self.accuracy)
        return doc
