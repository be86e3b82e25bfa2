"""The switchboard of a conformance run: which implementation is under test, the
Hypothesis profiles, JAX in float64, and the hooks that feed the run's record
(``backprop_harness.record``) and write its reports; plus the fixtures' guard.

Loaded by ``backprop-harness test`` (``-p``) and by the harness's own ``conftest.py``.
Implementation (``--impl PATH_OR_MODULE`` or ``BACKPROP_IMPL``): a ``.py`` file, a
package, an importable module, or an adapter name (``micrograd``). With it, only the
conformance checks run; without it, the built-in reference is checked through the same
plug-in path, and the header and the verdict say so. The implementation always runs in
its own worker process (``--impl-timeout`` seconds per call, default 5).

Profiles (``--hypothesis-profile NAME`` or ``HYPOTHESIS_PROFILE``):

* ``dev`` (the default outside CI): 50 examples per property, fresh ones every
  run, which is how the suite is searched for false alarms (``--hypothesis-seed``);
* ``ci`` (the default when ``CI`` is set): the same count, derandomized, so a
  CI run is deterministic, and the failure blob printed;
* ``thorough``: ten times the examples;
* ``smoke``: 5 derandomized examples, failures not shrunk, for the meta-tests that
  run ``pytest --impl`` end to end to check the report.

The record is gathered from test reports, so it is the same under pytest-xdist, where
the tests run in worker processes. Exit status 0 exactly when every provided system
passes and the fixtures are intact.
"""
from __future__ import annotations

import gc
import hashlib
import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("JAX_ENABLE_X64", "1")   # before anything imports jax

import pytest
from hypothesis import HealthCheck, Phase, settings

from backprop_harness.protocol import CHECKS, SYSTEMS
from backprop_harness.record import Failure, Outcome, Run, group
from fixtures import DIRECTORY as FIXTURES

settings.register_profile("ci", derandomize=True, max_examples=50, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
# a few examples per property and no shrinking: the meta-tests' end-to-end runs check the
# report's shape and verdicts, not the implementations' correctness
settings.register_profile("smoke", max_examples=5, deadline=None, derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

RUN = pytest.StashKey[Run]()
STATE = pytest.StashKey[dict]()

MARKERS = ("system(name): the system a test checks (the verdict per system)",
           "check(name): the conformance check a test belongs to (backprop_harness/protocol.py CHECKS)",
           "fresh_processes(n): the test asks n answers of new worker processes (started ahead)")


def _state(config) -> dict:
    return config.stash.setdefault(STATE, {})


def run_record(config) -> Run:
    """The run's record (``backprop_harness.record.Run``)."""
    return config.stash.setdefault(RUN, Run())


def implementation(config):
    """The implementation under test, one per process (started lazily; where the header set it
    loading on a thread, that load is waited for)."""
    state = _state(config)
    loading = state.get("loading")
    if loading is not None and loading is not threading.current_thread():
        loading.join()
    if "impl" not in state:
        from backprop_harness.plugin import Implementation, resolve
        from backprop_harness.pytest_plugin import fixed_conventions
        spec = resolve(config.getoption("impl"), config.invocation_params.dir)
        state["impl"] = Implementation(spec, call_timeout=config.getoption("impl_timeout"),
                                       fixed_conventions=fixed_conventions(config.getoption("conventions")))
    return state["impl"]


@pytest.fixture(scope="session")
def impl(pytestconfig):
    return implementation(pytestconfig)


# What the checks compare with unless told otherwise: the complex step is exact to rounding,
# so the exact rule detects as finely with it as with torch64 or jax64, and the differences
# are methods independent of it; the harness's own suite holds the complex step to torch64
# and jax64 on every system (tests/test_oracles.py). PyTorch and JAX cost seconds of import
# in every process, which a student's check of one file need not pay: ``--oracles all``.
PLUGIN_ORACLES = ("complex_step", "richardson", "central")


def chosen_oracles(config) -> tuple:
    """The oracles the checks compare with: ``--oracles`` (names, or ``all``: every one
    installed), by default ``PLUGIN_ORACLES``."""
    from oracles import ORACLES, available
    names = config.getoption("oracles")
    if not names:
        return PLUGIN_ORACLES
    if names.strip() == "all":
        return available()
    chosen = tuple(n.strip() for n in names.split(",") if n.strip())
    unknown = sorted(set(chosen) - set(ORACLES))
    if unknown or not chosen:
        raise pytest.UsageError(f"--oracles: unknown {unknown}; expected names among {sorted(ORACLES)}")
    missing = [n for n in chosen if n not in available()]
    if missing:
        raise pytest.UsageError(f"--oracles: {', '.join(missing)} not installed here (pip install "
                                f"'backprop-harness[oracles]' for torch64 and jax64)")
    return chosen


@pytest.fixture(scope="session")
def conformance_oracles(pytestconfig):
    """The oracles the conformance tests compare with."""
    return chosen_oracles(pytestconfig)


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def _is_worker_or_alone(config) -> bool:
    """Whether this process runs tests (an xdist worker, or a run without xdist)."""
    return not _is_controller(config) or not getattr(config.option, "numprocesses", None)


def _fixture_files() -> dict:
    return {p: p.read_bytes() for p in sorted(FIXTURES.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def _digest(files: dict) -> str:
    """One sha256 over every fixture file's path and bytes."""
    h = hashlib.sha256()
    for path, data in sorted(files.items()):
        h.update(str(path.relative_to(FIXTURES)).encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    _register_conformance_profile(config)
    chosen_oracles(config)                 # a bad --oracles or --conventions is a usage error before anything runs
    from backprop_harness.pytest_plugin import fixed_conventions
    fixed_conventions(config.getoption("conventions"))
    if config.getoption("impl_timeout") <= 0:
        raise pytest.UsageError(f"--impl-timeout must be positive, got {config.getoption('impl_timeout')}")
    if _is_controller(config):
        _state(config)["fixtures"] = _fixture_files()
    if config.getoption("impl"):
        config.option.reportchars = "fE"     # the verdict table says what was not provided
    config.pluginmanager.register(Recorder(config), "backprop-harness-recorder")


def _register_conformance_profile(config):
    """The conformance checks' settings: the run's profile without Hypothesis's "explain"
    phase (on a failing plug-in it re-runs each failure many times, every run a call to the
    worker and to every oracle). Without --impl the checks run on the reference, which the
    harness's own tests check against every oracle at the full count; there they guard the
    plug-in path and run a fifth of the examples. One failure per test (not Hypothesis's
    group of distinct ones): the smallest, which the diagnosis and the reproducer explain."""
    base = settings.get_profile(settings.get_current_profile_name())
    examples = base.max_examples if config.getoption("impl") else max(5, base.max_examples // 5)
    settings.register_profile("conformance", parent=base, max_examples=examples,
                              phases=[p for p in base.phases if p is not Phase.explain],
                              report_multiple_bugs=False)


def pytest_report_header(config):
    impl = implementation(config)
    if _is_controller(config) and getattr(config.option, "numprocesses", None):
        # the tests run in xdist's workers, which load the implementation themselves: here it is
        # loaded while they start (for the verdict's header and the report), not before them
        loading = threading.Thread(target=lambda: impl.info, name="load-implementation", daemon=True)
        loading.start()
        _state(config)["loading"] = loading
        described = f"implementation under test: {impl.spec.label} (what it defines: under the verdict)"
    else:
        described = impl.header()
    return [f"backprop-harness: {described}",
            f"backprop-harness: hypothesis profile = {settings.get_current_profile_name()}, "
            f"call timeout {config.getoption('impl_timeout'):g} s, oracles {', '.join(chosen_oracles(config))}"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        for marker, known in (("system", SYSTEMS), ("check", CHECKS)):
            for name in (m.args[0] for m in item.iter_markers(marker)):
                if name not in known:
                    raise pytest.UsageError(f"{item.nodeid}: unknown {marker} {name!r}; expected one of {known}")
        if item.get_closest_marker("check") is not None:
            item.repr_failure = ConformanceRepr(item.repr_failure)
    if config.getoption("impl"):
        # a plug-in run answers one question (is this implementation right?): the harness's
        # own tests of the reference and the oracles are not part of it
        kept = [item for item in items if item.get_closest_marker("check")]
        config.hook.pytest_deselected(items=[item for item in items if not item.get_closest_marker("check")])
        items[:] = kept


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """Under xdist the controller collects nothing; every worker reports the same order, in
    which failures are listed, so that no report depends on which worker finished first."""
    run_record(node.config).set_order(ids)


# A full collection after this many of the middle generation (Python's default: 10). Each
# walks every object not frozen (torch and JAX once an oracle has loaded them, Hypothesis's
# caches, the tests' data); what it frees is cyclic garbage that survived two younger
# collections, of which a test run makes little.
FULL_COLLECTION_EVERY = 100


def pytest_collection_finish(session):
    run_record(session.config).set_order([item.nodeid for item in session.items])
    if _is_worker_or_alone(session.config):
        load_harness(chosen_oracles(session.config))
        _prestart_fresh(session)
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    # what the process imported and collected lives to its end: its garbage collections need
    # not walk it again (each full one walked every object of pytest, Hypothesis and numpy);
    # collected first, so that nothing frozen is garbage
    gc.collect()
    gc.freeze()
    # JAX compiles each system's bucket once per process; on a background thread, this
    # overlaps the first tests
    if "jax64" in chosen_oracles(session.config) and any(item.get_closest_marker("system")
                                                         for item in session.items):
        import oracles
        oracles.precompile_jax(("gradient",) if session.config.getoption("impl") else ("gradient", "directional"))


def load_harness(oracles=()) -> None:
    """Import every module of ``harness_modules(oracles)`` before the first test.

    Hypothesis biases its draws with the literals of the "local" modules loaded when it
    draws (outside site-packages: the harness's own, in a checkout), so a derandomized
    test's examples would depend on what the tests before it in its process imported: a
    failure's diagnosis and report, an oracle. Under xdist's work stealing that differs
    from run to run, and so would the examples and, for code wrong on some of them, the
    verdict. Loaded first, the set is the same for every test of every run that collects
    the same test modules (they are local too). The autodiff oracles, loaded only where
    chosen, add no number to it (tests/test_examples.py)."""
    import importlib

    from backprop_harness import harness_modules
    for name in harness_modules(oracles):
        try:
            importlib.import_module(name)
        except ImportError:         # a module that cannot be imported never joins the set
            pass


def _prestart_fresh(session):
    """Start the new worker processes the run's fresh answers will need, now, while the
    first tests run: a start is mostly numpy's import, which the test would otherwise wait
    for, one after another. In one process every one the collected tests can ask of the
    functions the implementation has; under xdist, where a worker does not know which tests
    it will get, one ahead."""
    from backprop_harness.plugin import Implementation
    wanted = [(m.args[0], item) for item in session.items for m in item.iter_markers("fresh_processes")]
    if not wanted:
        return
    impl = implementation(session.config)
    total = None
    if _is_controller(session.config):
        provided = impl.functions
        count = total = sum(n for n, item in wanted
                            if getattr(item, "callspec", None) is None or item.callspec.params.get("fn") in provided)
    else:
        count = Implementation.SPARES + 1
    impl.prestart(min(count, max(session.config.getoption("fresh_ahead"), Implementation.SPARES + 1)), total=total)


def _join_jax_warmup():
    """Wait for JAX's background compilation (``oracles.precompile_jax``). Python 3.11's
    parser is not safe against a thread importing and tracing at the same moment (pytest
    formatting a traceback, Hypothesis's first setup), so nothing of either runs alongside it."""
    import sys
    oracles = sys.modules.get("oracles")
    thread = None if oracles is None else oracles.jax_warmup_thread()
    if thread is not None and thread.is_alive():
        thread.join()


def pytest_runtest_setup(item):
    from hypothesis import is_hypothesis_test
    if is_hypothesis_test(getattr(item, "obj", None)):
        _join_jax_warmup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each test's systems, checks and status, and a failure's record, on its report (the
    report is what reaches the controlling process under xdist)."""
    from backprop_harness.answers import NotApplicable, NotProvided, NotRun
    from backprop_harness.conformance.explain import conformance_exception, failure
    if call.excinfo is not None:
        _join_jax_warmup()
    report = (yield).get_result()
    props = report.user_properties
    props.extend(("system", m.args[0]) for m in item.iter_markers("system"))
    props.extend(("check", m.args[0]) for m in item.iter_markers("check"))
    for kind, status in ((NotProvided, "not provided"), (NotApplicable, "not applicable"), (NotRun, "not run")):
        if call.excinfo is not None and call.excinfo.errisinstance(kind):
            props.append(("status", status))
            break
    impl = _state(item.config).get("impl")
    checked = item.get_closest_marker("check") is not None
    # as JSON text: what travels from an xdist worker to the controller must be plain data
    if impl is not None and checked and impl.value_ops_seen:
        props.append(("value_ops", json.dumps(impl.value_ops_seen)))
    if impl is not None and checked and impl.accuracy:
        props.append(("accuracy", json.dumps(impl.accuracy)))
    if not (report.failed and checked and call.excinfo is not None):
        return
    exc, wrapped = conformance_exception(call.excinfo.value)
    if exc is None:
        return
    checks = [m.args[0] for m in item.iter_markers("check")]
    record = failure(exc, wrapped, impl, item.nodeid, checks[0])
    props.append(("failure", json.dumps(record.to_json(), allow_nan=False)))
    report.longrepr = record.text()


class ConformanceRepr:
    """A conformance check's ``repr_failure``: a conformance failure is shown as its record's
    text (``pytest_runtest_makereport`` puts it on the report), so pytest's traceback of it,
    which would be thrown away, is not formatted. Formatting one parses each frame's module
    again to find its statement; every failing check of a wrong implementation would pay
    it, and again for Hypothesis, which formats each failure it replays. Anything else (a
    harness error) gets pytest's traceback."""

    def __init__(self, pytest_repr):
        self.pytest_repr = pytest_repr

    def __call__(self, excinfo, style=None):
        from backprop_harness.conformance.explain import conformance_exception
        exc, _ = conformance_exception(excinfo.value)
        if exc is None:         # pytest's Function.repr_failure takes no style; Node's does
            return self.pytest_repr(excinfo) if style is None else self.pytest_repr(excinfo, style)
        return f"{type(exc).__name__}: {exc}"


class Recorder:
    """Adds each test's outcome to the run's record, in the controlling process (registered
    by ``pytest_configure``: the hook has no other way to the run's config)."""

    def __init__(self, config):
        self.run = run_record(config)

    def pytest_runtest_logreport(self, report):
        if not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        props = dict(report.user_properties)
        failure = Failure.from_json(json.loads(props["failure"])) if "failure" in props else None
        summary = failure.summary if failure is not None else \
            ((str(report.longrepr).strip().splitlines() or [""])[-1] if report.failed else "")
        self.run.add(Outcome(report.nodeid, tuple(v for k, v in report.user_properties if k == "system"),
                             tuple(v for k, v in report.user_properties if k == "check"),
                             props.get("status", report.outcome), failure.check if failure else None, failure,
                             summary, *(json.loads(props[k]) if k in props else None
                                        for k in ("value_ops", "accuracy"))))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, config):
    """Failures of one block (the same cause, the same wrong tensors) are printed once, with
    their count and the other tests named, in the failures section and the short summary;
    the session's counts still count every test. Then the verdict per system."""
    folded = _fold_repeats(terminalreporter, run_record(config)) if _is_controller(config) else []
    try:
        result = yield
    finally:
        terminalreporter.stats.setdefault("failed", []).extend(folded)
    if _is_controller(config):
        _verdict(terminalreporter, config)
    return result


NAMED = 8              # other tests of a block named in its text


def _fold_repeats(tr, run: Run) -> list:
    """Take out of the terminal's failed reports each block's repeats; return them."""
    reports = {r.nodeid: r for r in tr.stats.get("failed", [])}
    failures = {f.test: f for system in SYSTEMS for f in run.failures.get(system, [])}
    folded = []
    for block in group(sorted(failures.values(), key=lambda f: run.place(f.test))):
        if not block.others or block.leader.test not in reports:
            continue
        names = [f.test.rsplit("::", 1)[-1] for f in block.others]
        more = f" and {len(names) - NAMED} more" if len(names) > NAMED else ""
        reports[block.leader.test].longrepr = (
            f"{block.leader.text()}\n(the same failure, with the same diagnosis and the same wrong tensors, in "
            f"{len(names)} more test(s), not shown: {', '.join(names[:NAMED])}{more})")
        folded += [reports[f.test] for f in block.others if f.test in reports]
    if folded:
        gone = {id(r) for r in folded}
        tr.stats["failed"] = [r for r in tr.stats["failed"] if id(r) not in gone]
    return folded


def _verdict(tr, config):
    run = run_record(config)
    if not run.counts:
        return
    from backprop_harness.diagnosis import CODES
    impl = implementation(config)
    tr.section("verdict per system")
    header = impl.header()
    if not config.getoption("impl"):
        header += " (no --impl given: this run checked the built-in reference, not your code)"
    for line in run.table(header):
        tr.write_line(line)
    nothing = _state(config).get("nothing")
    if nothing:
        tr.write_line(f"FAIL: {nothing}", red=True)
    for line in run.notes(CODES):
        tr.write_line(line)


def _guard_fixtures(config) -> list:
    """Restore any fixture file the run changed, added or removed; the changes, by path."""
    before, changes = _state(config).get("fixtures", {}), []
    after = _fixture_files()
    for path, data in before.items():
        if after.get(path) != data:
            changes.append(f"{path.relative_to(FIXTURES.parent)} {'modified' if path in after else 'removed'}")
            path.write_bytes(data)
    for path in set(after) - set(before):
        changes.append(f"{path.relative_to(FIXTURES.parent)} added")
        path.unlink()
    return changes


def _provides_nothing(config) -> str | None:
    """For a run of ``--impl`` whose module loaded but offers no protocol name: what it has
    instead, and the names it may have meant. Such a run fails (it checked nothing)."""
    if not config.getoption("impl") or not run_record(config).conformance:
        return None
    impl = implementation(config)
    if not impl.info.get("loaded") or impl.functions:
        return None
    from backprop_harness.protocol import PROTOCOL_NAMES
    near = impl.info.get("near_misses", {})
    hints = [f"{found} for {fn}?" for fn, found in near.items()] + list(impl.mismatches.values())
    return (f"{impl.spec.label} defines none of the protocol's names ({', '.join(PROTOCOL_NAMES)}), so nothing "
            f"was checked" + (f"; did you mean: {'; '.join(hints)}" if hints else "; see templates/student.py"))


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    state = _state(config)
    if _is_controller(config):
        changes = _guard_fixtures(config) if "fixtures" in state else []
        if changes:
            state["fixture_changes"] = changes
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        nothing = _provides_nothing(config)
        if nothing:
            state["nothing"] = nothing
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        json_path, html_path = config.getoption("conformance_json"), config.getoption("report_html")
        if json_path or html_path:
            doc = document(config, changes, int(session.exitstatus))
        if json_path:
            _write(config, "--conformance-json", Path(config.invocation_params.dir) / json_path,
                   json.dumps(doc, indent=2) + "\n")
        if html_path:
            try:
                from backprop_harness.report import page
                html = page.render(doc)
            except Exception as exc:          # noqa: BLE001 - the run's verdict stands without its page
                html = None
                config.get_terminal_writer().line(f"backprop-harness: cannot render --report-html: "
                                                  f"{type(exc).__name__}: {exc}", red=True)
            if html is not None:
                _write(config, "--report-html", Path(config.invocation_params.dir) / html_path, html)
    if "impl" in state:
        state["impl"].close()


def pytest_unconfigure(config):
    changes = _state(config).get("fixture_changes")
    if changes:
        config.get_terminal_writer().line("backprop-harness: the fixtures changed during this run and were restored "
                                          "from the copy taken at the start: " + "; ".join(changes), red=True)


def document(config, changes: list, exit_status: int) -> dict:
    """The run's conformance document (docs/conformance-schema.md)."""
    impl = implementation(config)
    info = impl.info
    return run_record(config).document(
        {"spec": config.getoption("impl"), "label": impl.spec.label, "file": info.get("file"),
         "version": info.get("version"), "provides": sorted(info.get("functions", {})),
         "load_error": impl.load_error(), "conventions": _conventions(impl),
         "fixed_conventions": impl.fixed_conventions or None},
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        profile=settings.get_current_profile_name(), oracles=list(chosen_oracles(config)),
        fixtures_sha256=_digest(_state(config).get("fixtures", {})), changes=changes, exit_status=exit_status)


def _conventions(impl) -> dict | None:
    """The conventions the run asked under, by system; None where the declaration is not valid."""
    try:
        return impl.conventions() if impl.info.get("loaded") else None
    except AssertionError:
        return None


def _write(config, option: str, path: Path, text: str):
    """Write whole or not at all: a run stopped half-way leaves no half a report."""
    from backprop_harness import write_atomically
    try:
        write_atomically(path, text)
    except OSError as exc:
        config.get_terminal_writer().line(f"backprop-harness: cannot write {option} {path}: {exc}", red=True)


def pytest_ignore_collect(collection_path, config):
    """A run of ``--impl`` needs only the conformance checks; importing the rest costs time."""
    if config.getoption("impl") and collection_path.suffix == ".py" and collection_path.name.startswith("test_") \
            and collection_path.name != "test_conformance.py":
        return True
    return None
