"""Hooks of the project's own test suite (the harness's pytest plug-in is
backprop_harness/conformance/plugin.py, loaded by ../conftest.py)."""
from __future__ import annotations

import os
import sys

_early = []    # the test module whose end-to-end runs were started when collection ended


def pytest_collection_finish(session):
    """The end-to-end ``pytest --impl`` runs of test_plugin_path.py would be waited for
    when their tests come; started now, at low priority, they run on the core the
    session leaves idle. Not in an xdist worker (each would start its own: the fixture
    starts them on demand there) nor when no selected test needs them."""
    if os.environ.get("PYTEST_XDIST_WORKER") or session.config.option.collectonly:
        return
    for item in session.items:
        if "runs" in getattr(item, "fixturenames", ()):
            item.module.start_early()
            _early.append(item.module)
            return


def pytest_sessionfinish(session):
    """Runs started early that no test took (the session stopped before them): killed, removed."""
    for module in _early:
        while module.EARLY:
            module.EARLY.pop().stop()


def pytest_terminal_summary(terminalreporter, config):
    """The bug zoo's table, when its meta-test ran (tests/test_zoo.py)."""
    zoo = sys.modules.get("tests.test_zoo")
    if zoo is not None and config.stash.get(zoo.ZOO_SUMMARY, None):
        terminalreporter.section("bug zoo")
        for line in config.stash[zoo.ZOO_SUMMARY]:
            terminalreporter.write_line(line)
