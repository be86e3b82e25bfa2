"""The harness's command-line options, registered as a pytest plugin (entry point ``pytest11``).

They live here rather than in ``conftest.py`` because pytest parses the command
line once before it has read any conftest: an option it does not know yet makes
its value look like a path (``--conformance-json /tmp/report.json``), and an
existing path there moves pytest's rootdir away from this project. A plugin
installed with the package is known from the start. Everything else is in the
conformance plug-in (``backprop_harness/conformance/plugin.py``).
"""
from __future__ import annotations

import os


def pytest_addoption(parser):
    group = parser.getgroup("backprop-harness")
    group.addoption("--impl", default=os.environ.get("BACKPROP_IMPL") or None, metavar="PATH_OR_MODULE",
                    help="implementation under test: a .py file, a package, a module name or an adapter "
                         "(micrograd); env BACKPROP_IMPL. Default: the built-in reference")
    group.addoption("--impl-timeout", type=float, default=float(os.environ.get("BACKPROP_IMPL_TIMEOUT", 5.0)),
                    metavar="SECONDS", help="seconds each call of the implementation may take (default 5; "
                                            "env BACKPROP_IMPL_TIMEOUT)")
    group.addoption("--oracles", default=None, metavar="NAMES",
                    help="comma-separated oracles the conformance checks compare with, or 'all' (every one "
                         "installed: torch64, jax64, complex_step, richardson, central). Default: complex_step, "
                         "richardson, central; the header names them")
    group.addoption("--fresh-ahead", type=int, default=8, metavar="N",
                    help="new worker processes the determinism check may start ahead of its tests (default 8; "
                         "1 where other runs fill the cores, as grade's do)")
    group.addoption("--conformance-json", default=None, metavar="PATH",
                    help="write the verdict per system as JSON (docs/conformance-schema.md)")
    group.addoption("--conventions", default=os.environ.get("BACKPROP_CONVENTIONS") or None, metavar="JSON",
                    help="conventions fixed for this run, as JSON {system: {key: value}} (an assignment's: "
                         "backprop-harness grade --assignment): for the keys it names they replace the "
                         "implementation's CONVENTIONS (docs/conventions.md); env BACKPROP_CONVENTIONS")
    group.addoption("--report-html", default=None, metavar="PATH",
                    help="write a self-contained HTML report: the verdict per system, and for every failing "
                         "gradient a heat map of its error per parameter, the diagnosis and the reproducer")


def fixed_conventions(text: str | None) -> dict:
    """``--conventions``' value, checked: {system: {key: value}} ({} when not given)."""
    import json

    import pytest

    from backprop_harness import systems
    if not text:
        return {}
    try:
        fixed = json.loads(text)
    except ValueError as exc:
        raise pytest.UsageError(f"--conventions: not JSON ({exc}); expected e.g. "
                                f"'{{\"mlp\": {{\"loss\": \"half_mean\"}}}}'") from None
    try:
        systems.conventions(fixed)
    except systems.ConventionError as exc:
        raise pytest.UsageError(f"--conventions: {exc}") from None
    return fixed


def pytest_sessionfinish(session, exitstatus):
    """``pytest --impl`` where the harness's tests are not collected (run from one's own folder,
    under one's own pytest configuration): say how to run them instead of "no tests ran"."""
    if exitstatus == 5 and session.config.getoption("impl"):
        session.config.get_terminal_writer().line(
            "backprop-harness: no conformance test was collected here (pytest read this folder's configuration, "
            "not the harness's). Run: backprop-harness test " + str(session.config.getoption("impl")), red=True)
