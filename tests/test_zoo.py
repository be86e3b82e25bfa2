"""The bug zoo (zoo/): the harness, through the plug-in path, on implementations with one
classic mistake each and on correct ones in other styles.

The zoo is graded as a class, ``backprop-harness grade`` would grade it: each
entry through ``pytest --impl`` in its own processes (two at a time on two
cores), with grade's settings (the complex step as the oracle), and each
report is held against what the entry's ``ZOO`` dict declares (``zoo/judge.py``):
a buggy entry's system fails, every check it names fails, and the diagnosis names
its code; a correct entry's systems pass. The summary prints the zoo's mutation score (bugs
caught / bugs), which must be 100%, and the share rightly diagnosed.

Marked ``zoo``: minutes, so the default run leaves it out (pyproject's addopts);
``pytest -m zoo -n 0`` runs it (it runs its own processes in parallel).
"""
from __future__ import annotations

import io
import json
import os
import time

import pytest
from hypothesis import settings

from backprop_harness import grade
from backprop_harness.protocol import SYSTEM_FUNCTIONS
from zoo.judge import BUGGY, CORRECT, ENTRIES, outcome

TIMEOUT = 600.0

pytestmark = [pytest.mark.zoo, pytest.mark.slow]


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
