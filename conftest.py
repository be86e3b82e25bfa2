"""The switchboard: Hypothesis profiles, JAX in float64, and a verdict per system.

Profiles (``--hypothesis-profile NAME`` or ``HYPOTHESIS_PROFILE``):

* ``dev`` (the default outside CI): 50 examples per property, fresh ones every
  run, which is how the suite is searched for false alarms (``--hypothesis-seed``);
* ``ci`` (the default when ``CI`` is set): the same count, derandomized, so a
  CI run is deterministic, and the failure blob printed;
* ``thorough``: ten times the examples.

The verdict per system is gathered from test reports, so it is the same under
pytest-xdist (``pytest -n 2``), where the tests run in worker processes.
"""
from __future__ import annotations

import os
from collections import defaultdict

os.environ.setdefault("JAX_ENABLE_X64", "1")   # before anything imports jax

import pytest
from hypothesis import HealthCheck, settings

from fixtures import SYSTEMS

settings.register_profile("ci", derandomize=True, max_examples=50, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

_outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


def pytest_report_header(config):
    return [f"backprop-harness: implementation under test = built-in reference (reference/); "
            f"hypothesis profile = {settings.get_current_profile_name()}"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        marks = [m.args[0] for m in item.iter_markers("system")]
        for name in marks:
            if name not in SYSTEMS:
                raise pytest.UsageError(f"{item.nodeid}: unknown system {name!r}; expected one of {SYSTEMS}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    # carried by the report, so that the controller sees it under xdist too
    report.user_properties.extend(("system", mark.args[0]) for mark in item.iter_markers("system"))


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and not report.passed):
        for key, name in report.user_properties:
            if key == "system":
                _outcomes[name][report.outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if not _outcomes:
        return
    tr = terminalreporter
    tr.section("verdict per system")
    for name in SYSTEMS:
        counts = _outcomes.get(name)
        if not counts:
            tr.write_line(f"{name:<14} not tested")
            continue
        verdict = "FAIL" if counts.get("failed") else "PASS"
        detail = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        tr.write_line(f"{name:<14} {verdict}  ({detail})")
