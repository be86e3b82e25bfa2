"""How a graded zoo entry is judged: its report held against what the entry declares.

Each entry of ``zoo/buggy`` and ``zoo/correct`` carries a ``ZOO`` dict, read
here without importing the entry. A buggy entry's system must fail, every check
it names must fail, and the diagnosis must name its code (or place the mistake
where its ``truth`` says); a correct entry's systems must pass. Shared by the
zoo's meta-test (tests/test_zoo.py) and the class benchmark
(benchmarks/grade_class.py), which judge the same runs the same way.
"""
from __future__ import annotations

import ast
from pathlib import Path

from backprop_harness.diagnosis import CODES
from backprop_harness.protocol import CHECKS, SYSTEM_FUNCTIONS

__all__ = ["FOLDER", "BUGGY", "CORRECT", "ENTRIES", "declared", "cause", "outcome"]

FOLDER = Path(__file__).resolve().parent


def declared(path: Path) -> dict:
    """The entry's ``ZOO`` dict, read without importing the entry."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ZOO" for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError(f"{path}: no ZOO = {{...}} declaration")


def _validated(path: Path, buggy: bool) -> dict:
    meta = declared(path)
    if buggy:
        if meta.get("system") not in SYSTEM_FUNCTIONS:
            raise ValueError(f"{path.name}: ZOO['system'] = {meta.get('system')!r}; expected one of "
                             f"{list(SYSTEM_FUNCTIONS)}")
        bad = [c for c in meta.get("fails", []) if c not in CHECKS]
        if bad or not meta.get("fails"):
            raise ValueError(f"{path.name}: ZOO['fails'] = {meta.get('fails')!r}; expected a non-empty list "
                             f"from {CHECKS}")
        if meta.get("diagnosis") is not None and meta["diagnosis"] not in CODES:
            raise ValueError(f"{path.name}: ZOO['diagnosis'] = {meta['diagnosis']!r}; expected None or a code of "
                             "backprop_harness.diagnosis.CODES")
    elif not meta.get("systems") or set(meta["systems"]) - set(SYSTEM_FUNCTIONS):
        raise ValueError(f"{path.name}: ZOO['systems'] = {meta.get('systems')!r}; expected systems from "
                         f"{list(SYSTEM_FUNCTIONS)}")
    return meta


BUGGY = sorted((FOLDER / "buggy").glob("*.py"))
CORRECT = sorted((FOLDER / "correct").glob("*.py"))
ENTRIES = {p: _validated(p, buggy) for buggy, paths in ((True, BUGGY), (False, CORRECT)) for p in paths}


def _failed_checks(system_report: dict) -> set:
    return {c for c, counts in system_report["checks"].items() if counts.get("failed")}


def _claims(system_report: dict) -> list:
    """(codes, where) of each diagnosed failure of the system, in the report's order; those of
    the "oracles" check (general cases, where a mistake shows whole) when there are any."""
    out = {}
    for f in system_report.get("failures", []):
        d = f.get("diagnosis") or {}
        if d.get("codes"):
            out.setdefault(f.get("check") == "oracles", []).append((d["codes"], d.get("where") or {}))
    return out.get(True) or out.get(False) or []


_LOCATION_CODES = ("wrong_local_derivative", "wrong_accumulation_or_order", "wrong_backward_step")


def cause(meta: dict, system_report: dict) -> str:
    """"right", "unknown" or "wrong": the diagnosis against what the entry declares.

    An entry with a ``diagnosis`` code: right when some failure names it, wrong when a
    failure names only other causes. An entry with a ``truth`` (where the mistake is, in
    the words of its author, who did not read the diagnosis): right when a failure places
    it there (the operation and operand of a scalar engine; the layer and the wrong
    tensors of a network), wrong when one places it elsewhere, unknown otherwise."""
    claims = _claims(system_report)
    if meta.get("diagnosis"):
        if any(meta["diagnosis"] in c for c, _ in claims):
            return "right"
        # a catalog code other than the declared one is a wrong cause; a location alone is not
        named = {code for c, _ in claims for code in c} - _NEUTRAL - set(_LOCATION_CODES)
        return "wrong" if named else "unknown"
    truth = meta.get("truth")
    if not truth:                # nothing declared: any cause named is unconfirmed
        named = {code for c, _ in claims for code in c} - _NEUTRAL
        return "wrong" if named else "unknown"
    verdicts = [_against_truth(truth, codes, where) for codes, where in claims]
    if "wrong" in verdicts:
        return "wrong"
    return "right" if "right" in verdicts else "unknown"


# what a failure is rather than why (a crash, a non-finite answer): no claim about the cause
_NEUTRAL = {"unknown", "crash", "timeout", "load_error", "non_finite", "wrong_structure", "signature_mismatch",
            "bad_conventions", "stale_state", "inputs_modified", "order_varies"}


_LOSS_CODES = {"loss_only", "loss_gradient_normalisation", "inconsistent_convention"}


def _against_truth(truth: dict, codes: list, where: dict) -> str:
    if set(codes) <= _NEUTRAL and not where.get("op") and where.get("layer") is None:
        return "unknown"
    if not truth.get("wrong") and truth.get("layer") is None and not truth.get("op"):
        # the gradients are right: a mistake in the loss alone
        return "right" if set(codes) & _LOSS_CODES else "wrong"
    if set(codes) & {"convention_mismatch", "inconsistent_convention"}:
        # an entry whose author describes it as a convention left undeclared
        return "right" if "convention" in str(truth.get("looks_like") or "") else "wrong"
    if truth.get("op"):
        if not where.get("op"):
            return "wrong" if set(codes) - _NEUTRAL else "unknown"
        if where["op"] != truth["op"]:
            return "wrong"
        if truth.get("operand") and where.get("operand") and where["operand"] != truth["operand"]:
            return "wrong"
        return "right"
    if truth.get("layer") is not None:
        if where.get("layer") is None:
            return "unknown" if set(codes) <= _NEUTRAL else "wrong"
        return "right" if _same_place(truth, where) else "wrong"
    return "unknown" if codes == ["unknown"] else "wrong"


def _place(name: str) -> tuple:
    """(kind, layer) of a parameter: ("W", 2) for W2, ("w", 1) for 003's w11, ("v", 2) for v22."""
    if name[0] in "wv":
        return name[0], 1 if name[0] == "w" else 2
    return name[0], int(name[1:])


def _same_place(truth: dict, where: dict) -> bool:
    """Whether the located layer and wrong tensors are the truth's, read from the input (the first
    layer) or from the output (the last layer), on a network of any depth. Truths name the
    tensors of a two-layer network; a failing case is often of another depth, and a special
    case (a worked example) may show only some of the wrong tensors."""
    claimed = {_place(k) for k in where.get("wrong", [])}
    depth = max([l for _, l in claimed | {_place(k) for k in where.get("right", [])}] or [where["layer"]])
    told = {_place(k) for k in truth.get("wrong", [])}
    from_input = where["layer"] == truth["layer"] and claimed <= told
    from_output = (depth - where["layer"] == 2 - truth["layer"]
                   and {(k, depth - l) for k, l in claimed} <= {(k, 2 - l) for k, l in told})
    return bool(claimed) and (from_input or from_output)


def outcome(path: Path, run: dict) -> dict:
    """What the run says about the entry, against its declaration."""
    meta, doc = ENTRIES[path], run["report"]
    if doc is None:
        return {"caught": False, "ok": False, "diagnosed": False, "problem": "no report:\n" + run["output"][-3000:]}
    systems = doc["systems"]
    if "system" in meta:
        mine = systems[meta["system"]]
        failed = _failed_checks(mine)
        missing = [c for c in meta["fails"] if c not in failed]
        others = {s: r["status"] for s, r in systems.items() if s != meta["system"] and r["status"] != "not provided"}
        diagnosis = mine.get("diagnosis") or []
        verdict = cause(meta, mine)
        diagnosed = verdict == "right"
        problems = []
        if mine["status"] != "fail":
            problems.append(f"{meta['system']} is {mine['status']!r}, expected 'fail'")
        if missing:
            problems.append(f"checks {missing} did not fail (failed: {sorted(failed)})")
        if others:
            problems.append(f"other systems were tested: {others}")
        if verdict == "wrong":
            problems.append(f"a wrong cause: {diagnosis}, {_claims(mine)[:2]}; expected "
                            f"{meta.get('diagnosis') or meta.get('truth')}")
        return {"caught": mine["status"] == "fail", "ok": not problems, "diagnosed": diagnosed, "cause": verdict,
                "exact": diagnosis == [meta.get("diagnosis")], "codes": diagnosis, "failed": sorted(failed),
                "problem": "; ".join(problems)}
    wrong = {s: systems[s]["status"] for s in meta["systems"] if systems[s]["status"] != "pass"}
    return {"ok": not wrong and doc["exit_status"] == 0,
            "problem": f"systems not passing: {wrong}, exit status {doc['exit_status']}\n"
                       + "\n".join(f"{s}: {systems[s]['first_failure']}" for s in wrong)}
