"""The harness's command-line options, registered as a pytest plugin (entry point ``pytest11``).

They live here rather than in ``conftest.py`` because pytest parses the command
line once before it has read any conftest: an option it does not know yet makes
its value look like a path (``--conformance-json /tmp/report.json``), and an
existing path there moves pytest's rootdir away from this project. A plugin
installed with the package is known from the start. Everything else is in
``conftest.py``.
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
                    help="comma-separated oracles the conformance tests compare with (default: all five: torch64, "
                         "jax64, complex_step, richardson, central); the report names those used")
    group.addoption("--conformance-json", default=None, metavar="PATH",
                    help="write the verdict per system as JSON (docs/conformance-schema.md)")
    group.addoption("--report-html", default=None, metavar="PATH",
                    help="write a self-contained HTML report: the verdict per system, and for every failing "
                         "gradient a heat map of its error per parameter, the diagnosis and the reproducer")


def pytest_sessionfinish(session, exitstatus):
    """``pytest --impl`` where the harness's tests are not collected (run from one's own folder,
    under one's own pytest configuration): say how to run them instead of "no tests ran"."""
    if exitstatus == 5 and session.config.getoption("impl"):
        session.config.get_terminal_writer().line(
            "backprop-harness: no conformance test was collected here (pytest read this folder's configuration, "
            "not the harness's). Run: backprop-harness test " + str(session.config.getoption("impl")), red=True)
