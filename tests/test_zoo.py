"""The bug zoo (zoo/): the harness, through the plug-in path, on implementations with one
classic mistake each and on correct ones in other styles.

The zoo is graded as a class, ``backprop-harness grade`` would grade it: each
entry through ``pytest --impl`` in its own processes (two at a time on two
cores), with grade's settings (the complex step as the oracle), and each
report is held against what the entry's ``ZOO`` dict declares: a buggy entry's
system fails, every check it names fails, and the diagnosis names its code; a
correct entry's systems pass. The summary prints the zoo's mutation score (bugs
caught / bugs), which must be 100%, and the share rightly diagnosed.

Marked ``zoo``: minutes, so the default run leaves it out (pyproject's addopts);
``pytest -m zoo -n 0`` runs it (it runs its own processes in parallel).
"""
from __future__ import annotations

import ast
import io
import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import settings

from backprop_harness import grade
from backprop_harness.diagnosis import CODES
from backprop_harness.protocol import CHECKS, SYSTEM_FUNCTIONS

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "zoo"
TIMEOUT = 600.0

pytestmark = [pytest.mark.zoo, pytest.mark.slow]


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
            raise ValueError(f"{path.name}: ZOO['system'] = {meta.get('system')!r}; expected one of {list(SYSTEM_FUNCTIONS)}")
        bad = [c for c in meta.get("fails", []) if c not in CHECKS]
        if bad or not meta.get("fails"):
            raise ValueError(f"{path.name}: ZOO['fails'] = {meta.get('fails')!r}; expected a non-empty list from {CHECKS}")
        if meta.get("diagnosis") is not None and meta["diagnosis"] not in CODES:
            raise ValueError(f"{path.name}: ZOO['diagnosis'] = {meta['diagnosis']!r}; expected None or a code of "
                             "backprop_harness.diagnosis.CODES")
    elif not meta.get("systems") or set(meta["systems"]) - set(SYSTEM_FUNCTIONS):
        raise ValueError(f"{path.name}: ZOO['systems'] = {meta.get('systems')!r}; expected systems from "
                         f"{list(SYSTEM_FUNCTIONS)}")
    return meta


BUGGY = sorted((ZOO / "buggy").glob("*.py"))
CORRECT = sorted((ZOO / "correct").glob("*.py"))
ENTRIES = {p: _validated(p, buggy) for buggy, paths in ((True, BUGGY), (False, CORRECT)) for p in paths}


@pytest.fixture(scope="module")
def zoo_runs(tmp_path_factory, request):
    """Every entry graded as one class (``backprop-harness grade``'s path: each entry in
    its own processes, in a private copy of the harness and its own empty directory,
    two at a time); only the selected entries (``-k``) when the score test is not
    selected. Each run: the entry's conformance report and its time."""
    selected = {item.callspec.params["path"] for item in request.session.items
                if hasattr(item, "callspec") and "path" in item.callspec.params}
    whole = any(item.name == "test_mutation_score_is_100_percent" for item in request.session.items)
    paths = list(ENTRIES) if whole or not selected else [p for p in ENTRIES if p in selected]
    klass, out = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("graded")
    for p in paths:
        (klass / p.name).symlink_to(p)
    start = time.perf_counter()
    records = grade.grade(klass, out, grade.Settings(profile=settings.get_current_profile_name(), timeout=TIMEOUT),
                          jobs=os.cpu_count() or 1, progress_stream=io.StringIO())
    seconds = time.perf_counter() - start
    by_name = {r["name"]: r for r in records}
    runs = {}
    for p in paths:
        record = by_name[p.stem]
        report = out / p.stem / "conformance.json"
        runs[p] = {"report": json.loads(report.read_text()) if report.exists() else None, "record": record,
                   "output": (out / p.stem / "pytest.log").read_text(), "seconds": record["seconds"]}
    yield runs
    request.config.stash[ZOO_SUMMARY] = [f"graded as a class of {len(paths)}: {seconds:.0f} s wall "
                                         f"({os.cpu_count()} at a time)"] + summary(runs)


ZOO_SUMMARY = pytest.StashKey[list]()


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


@pytest.mark.parametrize("path", BUGGY, ids=lambda p: p.stem)
def test_buggy_entry_fails_on_its_check_with_its_diagnosis(zoo_runs, path):
    result = outcome(path, zoo_runs[path])
    assert result["ok"], f"{path.name}: {result['problem']}"


@pytest.mark.parametrize("path", CORRECT, ids=lambda p: p.stem)
def test_correct_entry_passes(zoo_runs, path):
    result = outcome(path, zoo_runs[path])
    assert result["ok"], f"{path.name}: {result['problem']}"


def test_the_zoo_covers_every_system_and_its_floor():
    systems = {ENTRIES[p]["system"] for p in BUGGY} | {s for p in CORRECT for s in ENTRIES[p]["systems"]}
    assert systems == set(SYSTEM_FUNCTIONS), f"systems without an entry: {set(SYSTEM_FUNCTIONS) - systems}"
    assert len(BUGGY) >= 30 and len(CORRECT) >= 6, f"{len(BUGGY)} buggy, {len(CORRECT)} correct entries"


def test_nine_in_ten_causes_are_right_and_none_wrong(zoo_runs):
    causes = {p.stem: outcome(p, zoo_runs[p]).get("cause") for p in BUGGY}
    wrong = sorted(k for k, v in causes.items() if v == "wrong")
    right = sum(v == "right" for v in causes.values())
    assert not wrong, f"wrong causes named: {wrong}"
    assert right >= 0.9 * len(causes), (f"{right}/{len(causes)} right causes; unknown: "
                                        f"{sorted(k for k, v in causes.items() if v == 'unknown')}")


def test_mutation_score_is_100_percent(zoo_runs):
    caught = [p.stem for p in BUGGY if outcome(p, zoo_runs[p])["caught"]]
    missed = [p.stem for p in BUGGY if p.stem not in caught]
    assert not missed, f"bugs the harness did not catch: {missed}"


def summary(runs: dict) -> list:
    """Lines for the terminal summary: the score, per system, and each entry's result."""
    buggy = {p: outcome(p, runs[p]) for p in BUGGY if p in runs}
    correct = {p: outcome(p, runs[p]) for p in CORRECT if p in runs}
    caught = sum(r["caught"] for r in buggy.values())
    coded = [p for p in buggy if ENTRIES[p].get("diagnosis")]
    lines = [f"mutation score: {caught}/{len(buggy)} bugs caught ({100 * caught / max(1, len(buggy)):.0f}%); "
             f"correct entries passing: {sum(r['ok'] for r in correct.values())}/{len(correct)}",
             f"causes: {sum(r.get('cause') == 'right' for r in buggy.values())} right, "
             f"{sum(r.get('cause') == 'unknown' for r in buggy.values())} unknown, "
             f"{sum(r.get('cause') == 'wrong' for r in buggy.values())} wrong, of {len(buggy)} buggy entries "
             f"({len(coded)} declare a catalog code, {len(buggy) - len(coded)} where the mistake is)"]
    for system in SYSTEM_FUNCTIONS:
        mine = [p for p in buggy if ENTRIES[p]["system"] == system]
        ok = [p for p in correct if system in ENTRIES[p]["systems"]]
        lines.append(f"  {system:<13} {len(mine):>3} buggy ({sum(buggy[p]['caught'] for p in mine)} caught), "
                     f"{len(ok)} correct")
    for p, r in buggy.items():
        lines.append(f"  {p.stem:<45} {'caught' if r['caught'] else 'MISSED':<7} {runs[p]['seconds']:5.1f} s  "
                     f"failed {','.join(r.get('failed', []))}  diagnosis {','.join(r.get('codes', []))} "
                     f"cause {r.get('cause')} (expected {ENTRIES[p].get('diagnosis') or ENTRIES[p].get('truth')})")
    for p in correct:
        lines.append(f"  {p.stem:<45} {'pass' if correct[p]['ok'] else 'FAIL':<7} {runs[p]['seconds']:5.1f} s")
    return lines
