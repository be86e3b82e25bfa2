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
        diagnosed = meta.get("diagnosis") in diagnosis
        problems = []
        if mine["status"] != "fail":
            problems.append(f"{meta['system']} is {mine['status']!r}, expected 'fail'")
        if missing:
            problems.append(f"checks {missing} did not fail (failed: {sorted(failed)})")
        if others:
            problems.append(f"other systems were tested: {others}")
        if meta.get("diagnosis") and not diagnosed:
            problems.append(f"diagnosis {diagnosis}, expected {meta['diagnosis']!r}")
        return {"caught": mine["status"] == "fail", "ok": not problems, "diagnosed": diagnosed,
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
             f"diagnosis: {sum(r['diagnosed'] for r in buggy.values())}/{len(buggy)} buggy entries named with their "
             f"mistake ({sum(r.get('exact', False) for r in buggy.values())} with that code alone); "
             f"{len(buggy) - len(coded)} entries have a mistake no code describes"]
    for system in SYSTEM_FUNCTIONS:
        mine = [p for p in buggy if ENTRIES[p]["system"] == system]
        ok = [p for p in correct if system in ENTRIES[p]["systems"]]
        lines.append(f"  {system:<13} {len(mine):>3} buggy ({sum(buggy[p]['caught'] for p in mine)} caught), "
                     f"{len(ok)} correct")
    for p, r in buggy.items():
        lines.append(f"  {p.stem:<45} {'caught' if r['caught'] else 'MISSED':<7} {runs[p]['seconds']:5.1f} s  "
                     f"failed {','.join(r.get('failed', []))}  diagnosis {','.join(r.get('codes', []))} "
                     f"(expected {ENTRIES[p].get('diagnosis')})")
    for p in correct:
        lines.append(f"  {p.stem:<45} {'pass' if correct[p]['ok'] else 'FAIL':<7} {runs[p]['seconds']:5.1f} s")
    return lines
