"""Hooks of the project's own test suite (the harness's pytest plug-in is
backprop_harness/conformance/plugin.py, loaded by ../conftest.py)."""
from __future__ import annotations

import gc
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

_early = []    # the test module whose end-to-end runs were started when collection ended
_shared = {}   # under xdist, in the controlling process: the runs' folder and the runs, once started

E2E = "tests/test_plugin_path.py"      # the module of the end-to-end ``pytest --impl`` runs


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker more than the cores this process may use. Some tests wait
    without computing (a hung worker until its timeout, a sandbox until the kernel has
    ended it, a subprocess's start), and the extra worker computes meanwhile; the cap is
    ``--maxprocesses``. PYTEST_XDIST_AUTO_NUM_WORKERS, when set, decides instead."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or not hasattr(os, "sched_getaffinity"):
        return None
    return len(os.sched_getaffinity(0)) + 1


def pytest_collection_modifyitems(items):
    """The tests that read the end-to-end runs go last (a stable sort: the others keep their
    order): the runs, started when collection ended, are done when those tests come,
    instead of keeping a worker waiting for them."""
    items.sort(key=lambda item: "runs" in getattr(item, "fixturenames", ()))


def pytest_collection_finish(session):
    """The end-to-end ``pytest --impl`` runs of test_plugin_path.py would be waited for
    when their tests come; started now, at low priority, they run on the core the
    session leaves idle. Not in an xdist worker (the controlling process starts them
    there: pytest_xdist_node_collection_finished) nor when no selected test needs them."""
    if os.environ.get("PYTEST_XDIST_WORKER") or session.config.option.collectonly:
        return
    for item in session.items:
        if "runs" in getattr(item, "fixturenames", ()):
            item.module.start_early()
            _early.append(item.module)
            return


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """Under xdist, every worker learns the folder where the end-to-end runs will be."""
    if "out" not in _shared:
        _shared["out"] = Path(tempfile.mkdtemp(prefix="backprop-runs-"))
    from tests.test_plugin_path import SHARED_RUNS
    node.workerinput[SHARED_RUNS] = str(_shared["out"])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """Under xdist, the controlling process starts the end-to-end runs when the first worker
    has collected (before any test is sent) if a selected test needs them: they run beside
    the whole session, filling the moments when a worker waits (a timeout, a subprocess),
    instead of keeping one worker waiting for them. At normal priority: the workers keep
    every core busy, and a run starved until the session's end would be its tail."""
    if "runs" in _shared or "out" not in _shared or node.config.option.collectonly:
        return
    e2e = None
    for nodeid in ids:
        if nodeid.startswith(E2E + "::"):
            e2e = e2e or importlib.import_module("tests.test_plugin_path")
            if e2e.needs_runs(nodeid):
                _shared["runs"] = e2e.Runs(_shared["out"], low_priority=False)
                (_shared["out"] / e2e.STARTED).touch()
                return
    _shared["runs"] = None


def pytest_sessionfinish(session):
    """Runs started early that no test took (the session stopped before them): killed, removed.
    Under xdist the controlling process owns the runs: killed if still going, removed."""
    for module in _early:
        while module.EARLY:
            module.EARLY.pop().stop()
    if _shared.get("runs") is not None:
        _shared.pop("runs").stop()
    if "out" in _shared and not hasattr(session.config, "workerinput"):
        shutil.rmtree(_shared.pop("out"), ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """The process is about to exit: its objects are left to the OS, which frees them at
    once, rather than to the collector, which visits each (JAX's and Hypothesis's, after
    the property tests, take seconds); under xdist the run waits for its last worker to
    exit. atexit handlers (which stop the implementations' worker processes) still run."""
    gc.freeze()


def pytest_terminal_summary(terminalreporter, config):
    """The bug zoo's table, when its meta-test ran (tests/test_zoo.py)."""
    zoo = sys.modules.get("tests.test_zoo")
    if zoo is not None and config.stash.get(zoo.ZOO_SUMMARY, None):
        terminalreporter.section("bug zoo")
        for line in config.stash[zoo.ZOO_SUMMARY]:
            terminalreporter.write_line(line)
