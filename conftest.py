"""The switchboard: which implementation is under test, Hypothesis profiles, JAX in
float64, the verdict per system, the conformance report, and the fixtures' guard.

Implementation (``--impl PATH_OR_MODULE`` or ``BACKPROP_IMPL``): a ``.py`` file, a
package, an importable module, or an adapter name (``micrograd``). With it, only
the conformance tests run (tests/test_conformance.py); without it, the whole
suite runs and the conformance tests check the built-in reference through the
same plug-in path. The implementation always runs in its own worker process
(``--impl-timeout`` seconds per call, default 5).

Profiles (``--hypothesis-profile NAME`` or ``HYPOTHESIS_PROFILE``):

* ``dev`` (the default outside CI): 50 examples per property, fresh ones every
  run, which is how the suite is searched for false alarms (``--hypothesis-seed``);
* ``ci`` (the default when ``CI`` is set): the same count, derandomized, so a
  CI run is deterministic, and the failure blob printed;
* ``thorough``: ten times the examples;
* ``smoke``: 5 derandomized examples, failures not shrunk, for the meta-tests that
  run ``pytest --impl`` end to end to check the report (tests/test_plugin_path.py).

The verdict per system is gathered from test reports, so it is the same under
pytest-xdist (the default run uses every core; ``-n 0`` for one process), where the
tests run in worker processes.
``--conformance-json PATH`` writes it in the schema of docs/conformance-schema.md.
Exit status 0 exactly when every provided system passes and the fixtures are intact.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("JAX_ENABLE_X64", "1")   # before anything imports jax

import pytest
from hypothesis import HealthCheck, Phase, settings

from fixtures import DIRECTORY as FIXTURES, SYSTEMS

settings.register_profile("ci", derandomize=True, max_examples=50, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=50, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
# a few examples per property and no shrinking: the meta-tests' end-to-end runs of
# pytest --impl, which check the report's shape and verdicts, not the implementations'
# correctness (shrinking a failure is the other profiles' part: 3.5 s of such a run)
settings.register_profile("smoke", max_examples=5, deadline=None, derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

SCHEMA = "backprop-harness/conformance/1"
_outcomes: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))   # system -> check -> status -> n
_first_failure: dict = {}
_failures: dict = defaultdict(list)   # system -> [{"test", "check", "message", ...}]: failure_detail
_order: dict = {}                    # test id -> its place in the collection order
_notes: dict = {}                    # "value_ops", "fixtures": what the summary adds
_state: dict = {}


def _implementation(config):
    """The implementation under test, one per process (started lazily)."""
    if "impl" not in _state:
        from backprop_harness.plugin import Implementation, resolve
        spec = resolve(config.getoption("impl"), config.invocation_params.dir)
        _state["impl"] = Implementation(spec, call_timeout=config.getoption("impl_timeout"))
    return _state["impl"]


@pytest.fixture(scope="session")
def impl(pytestconfig):
    return _implementation(pytestconfig)


def _oracles(config) -> tuple:
    from oracles import ORACLES
    names = config.getoption("oracles")
    if not names:
        return tuple(ORACLES)
    chosen = tuple(n.strip() for n in names.split(",") if n.strip())
    unknown = sorted(set(chosen) - set(ORACLES))
    if unknown or not chosen:
        raise pytest.UsageError(f"--oracles: unknown {unknown}; expected names among {sorted(ORACLES)}")
    return chosen


@pytest.fixture(scope="session")
def conformance_oracles(pytestconfig):
    """The oracles the conformance tests compare with (``--oracles``; all by default)."""
    return _oracles(pytestconfig)


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


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
    # Also declared in pyproject.toml; repeated here because pytest finds its ini file
    # from the paths on the command line, before it knows --impl takes a value: with
    # "--impl /elsewhere/yours.py" it may look for it under /elsewhere and not find it.
    for line in ("system(name): the system a test checks (the verdict per system)",
                 "check(name): the conformance check a test belongs to (backprop_harness/protocol.py CHECKS)",
                 "slow: end-to-end runs of minutes (pytest -m slow -n 0; left out of the default run)",
                 "zoo: the bug zoo's meta-test (pytest -m zoo -n 0)"):
        config.addinivalue_line("markers", line)
    _register_conformance_profile(config)
    _oracles(config)                       # a bad --oracles is a usage error before anything runs
    if config.getoption("impl_timeout") <= 0:
        raise pytest.UsageError(f"--impl-timeout must be positive, got {config.getoption('impl_timeout')}")
    if _is_controller(config):
        _state["fixtures"] = _fixture_files()
    if config.getoption("impl"):
        config.option.reportchars = "fE"     # the verdict table says what was not provided


def _register_conformance_profile(config):
    """The settings of tests/test_conformance.py: the run's profile without Hypothesis's
    "explain" phase (on a failing plug-in it re-runs each failure many times, every run a
    call to the worker and to five oracles). Without --impl the conformance suite checks
    the reference, which test_oracles.py already checks against every oracle on the same
    strategies at the full count; there it guards the plug-in path and runs a fifth of
    the examples (10 in the dev and ci profiles). One failure per test (not Hypothesis's
    group of distinct ones): the smallest, which the diagnosis and the reproducer explain."""
    base = settings.get_profile(settings.get_current_profile_name())
    examples = base.max_examples if config.getoption("impl") else max(5, base.max_examples // 5)
    settings.register_profile("conformance", parent=base, max_examples=examples,
                              phases=[p for p in base.phases if p is not Phase.explain],
                              report_multiple_bugs=False)


def pytest_report_header(config):
    impl = _implementation(config)
    return [f"backprop-harness: {impl.header()}",
            f"backprop-harness: hypothesis profile = {settings.get_current_profile_name()}, "
            f"call timeout {config.getoption('impl_timeout'):g} s, oracles {', '.join(_oracles(config))}"]


def pytest_ignore_collect(collection_path, config):
    # a plug-in run needs only the conformance tests; importing the rest costs a second
    if config.getoption("impl") and collection_path.suffix == ".py" and collection_path.name.startswith("test_") \
            and collection_path.name != "test_conformance.py":
        return True
    return None


def pytest_collection_modifyitems(config, items):
    from backprop_harness.protocol import CHECKS
    for item in items:
        for marker, known in (("system", SYSTEMS), ("check", CHECKS)):
            for name in (m.args[0] for m in item.iter_markers(marker)):
                if name not in known:
                    raise pytest.UsageError(f"{item.nodeid}: unknown {marker} {name!r}; expected one of {known}")
    if config.getoption("impl"):
        # a plug-in run answers one question (is this implementation right?): the harness's
        # own tests of the reference and the oracles are not part of it
        kept = [item for item in items if item.get_closest_marker("check")]
        config.hook.pytest_deselected(items=[item for item in items if not item.get_closest_marker("check")])
        items[:] = kept


def _place(nodeid: str) -> tuple:
    """Where a test comes in the collection order: failures are reported in that order, so
    that the first failure and the failures' list do not depend on which xdist worker
    finished first."""
    return (_order.get(nodeid, len(_order)), nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """Under xdist the controller collects nothing; every worker reports the same order."""
    if not _order:
        _order.update({nodeid: i for i, nodeid in enumerate(ids)})


def pytest_collection_finish(session):
    _order.update({item.nodeid: i for i, item in enumerate(session.items)})
    # JAX compiles each system's bucket once per process (~6 s on a first run, when its
    # disk cache is empty); done on a background thread, it overlaps the first tests
    if "jax64" in _oracles(session.config) and any(item.get_closest_marker("system") for item in session.items):
        import oracles
        oracles.precompile_jax(("gradient",) if session.config.getoption("impl") else ("gradient", "directional"))


def _conformance_exception(excinfo):
    """The conformance failure an exception is or holds (Hypothesis wraps a failure it
    could not reproduce in a FlakyFailure group), and whether it was wrapped; (None, False)
    for anything else (a harness error keeps its traceback)."""
    from backprop_harness.compare import GradientMismatch
    from backprop_harness.isolation import WorkerLost
    from backprop_harness.plugin import ConformanceFailure
    kinds = (ConformanceFailure, WorkerLost, GradientMismatch)
    if excinfo is None:
        return None, False
    exc = excinfo.value
    if isinstance(exc, kinds):
        return exc, False
    if isinstance(exc, BaseExceptionGroup):
        inner = exc.subgroup(lambda e: isinstance(e, kinds))
        while inner is not None and isinstance(inner, BaseExceptionGroup):
            inner = inner.exceptions[0]
        return inner, inner is not None
    return None, False


def _plain_message(excinfo) -> str | None:
    """The message of a conformance failure, without the harness's traceback."""
    exc, wrapped = _conformance_exception(excinfo)
    if exc is None:
        return None
    notes = [n for n in getattr(exc, "__notes__", ()) if n.strip()]
    if wrapped:
        notes.append("(Hypothesis could not make this failure happen again when it re-ran the example: the "
                     "answer depends on something besides the call's arguments, such as earlier calls)")
    return "\n".join([str(exc)] + notes)


def _summary_line(message: str) -> str:
    lines = [s.strip() for s in message.splitlines() if s.strip()]
    first = lines[0] if lines else ""
    detail = next((s for s in lines[1:] if "abs err" in s or "expected" in s), None)
    return first if detail is None or detail in first else f"{first} | {detail}"


def _join_jax_warmup():
    """Wait for JAX's background compilation (``oracles.precompile_jax``). Python 3.11's
    parser is not safe against a thread importing and tracing at the same moment: pytest
    formatting a traceback failed with "SystemError: AST constructor recursion depth
    mismatch", and Hypothesis's first setup with "dictionary changed size during
    iteration", in plug-in runs on a loaded machine. So nothing of either runs alongside it."""
    import oracles
    thread = oracles.jax_warmup_thread()
    if thread is not None and thread.is_alive():
        thread.join()


def pytest_runtest_setup(item):
    from hypothesis import is_hypothesis_test
    if is_hypothesis_test(getattr(item, "obj", None)):
        _join_jax_warmup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    from backprop_harness.plugin import NotApplicable, NotProvided, NotRun
    if call.excinfo is not None:
        _join_jax_warmup()
    report = (yield).get_result()
    props = report.user_properties
    props.extend(("system", m.args[0]) for m in item.iter_markers("system"))
    props.extend(("check", m.args[0]) for m in item.iter_markers("check"))
    if call.excinfo is not None and call.excinfo.errisinstance(NotProvided):
        props.append(("status", "not provided"))
    elif call.excinfo is not None and call.excinfo.errisinstance(NotApplicable):
        props.append(("status", "not applicable"))
    elif call.excinfo is not None and call.excinfo.errisinstance(NotRun):
        props.append(("status", "not run"))
    impl = _state.get("impl")
    if impl is not None and impl.value_ops_seen and item.get_closest_marker("check"):
        props.append(("value_ops", json.dumps(impl.value_ops_seen)))
    if impl is not None and impl.accuracy and item.get_closest_marker("check"):
        props.append(("accuracy", json.dumps(impl.accuracy)))
    message = _plain_message(call.excinfo) if report.failed else None
    if message is not None and item.get_closest_marker("check"):
        exc = _conformance_exception(call.excinfo)[0]
        evidence = getattr(exc, "evidence", None)
        detail = {}
        named = _not_an_answer(exc)
        if evidence is not None and evidence.received and impl is not None:
            explained, detail = _explain(impl, evidence, named)
            message += explained
        elif named is not None:
            message += f"\ndiagnosis: {named.words()}"
            detail = {"diagnosis": named.to_json(), "reproducer": None, "gradients": None}
        elif evidence is not None and impl is not None:
            explained, detail = _explain(impl, evidence)
            message += explained
        detail["message"] = message.split("\ndiagnosis: ")[0]
        try:
            props.append(("failure", json.dumps(detail, allow_nan=False)))
        except (TypeError, ValueError) as exc:  # never lose the failure over its details
            kept = {k: detail[k] for k in ("message", "diagnosis") if k in detail}
            props.append(("failure", json.dumps({**kept, "details_lost": f"{type(exc).__name__}: {exc}"})))
        report.longrepr = message
        props.append(("message", _summary_line(message)))
        broke = getattr(_conformance_exception(call.excinfo)[0], "check", None)
        if broke:
            props.append(("broke", broke))


def _not_an_answer(exc):
    """The diagnosis of a failure that is not a wrong answer (a crash, a load error, a timeout,
    a non-finite or malformed answer), or None."""
    from backprop_harness import diagnosis
    if exc is None:
        return None
    try:
        return diagnosis.of_failure(exc)
    except Exception:                          # noqa: BLE001 - never hides the failure
        return None


def _explain(impl, evidence, otherwise=None) -> tuple[str, dict]:
    """The diagnosis of a failure and its reproducer, as text to append
    to its message, and the same for the reports (``failure_detail``). Runs once per
    failing test, on the example Hypothesis shrank to. A fault of the diagnosis is
    reported in its place; it never hides the failure."""
    from backprop_harness import diagnosis, mistakes, reproducer, systems
    from backprop_harness.isolation import WorkerLost

    def probe(case):
        try:
            answer = impl.answer(case, evidence.fn)
        except AssertionError as exc:              # an answer of the wrong shape is still an answer
            seen = getattr(exc, "evidence", None)
            return (seen.received, seen.loss) if seen is not None and seen.received else None
        except (pytest.skip.Exception, WorkerLost):
            return None
        return answer.gradient.grads, answer.gradient.loss

    detail = {"diagnosis": None, "reproducer": None, "gradients": None}
    try:
        if evidence.diagnosis:
            found = evidence.diagnosis
        elif evidence.first is not None:
            found = diagnosis.diagnose_repeat(evidence.case, evidence.first, evidence.received, probe)
        elif evidence.received:
            try:
                conv = impl.conventions()[systems.for_case(evidence.case).name]
            except AssertionError:                  # CONVENTIONS itself is the failure
                conv = None
            ops = (impl.value_ops_seen or {}).get("ops") if evidence.fn == "Value" else None
            found = diagnosis.diagnose(evidence.case, evidence.received, evidence.loss, probe, conv, ops)
        else:
            found = diagnosis.fixed("unknown")
        if otherwise is not None and not found.known:     # what the failure is, when no mistake explains it
            found = otherwise
        text = f"\ndiagnosis: {found.words()}"
        detail["diagnosis"] = found.to_json()
    except Exception as exc:                  # noqa: BLE001 - reported, never raised over the failure
        text = f"\ndiagnosis: not available (the harness's diagnosis failed: {type(exc).__name__}: {exc})"
    try:
        right = mistakes.right(evidence.case)
        system = systems.for_case(evidence.case)
        snippet = reproducer.snippet(impl.spec, evidence.fn, evidence.case, right, f"reproducer: {evidence.origin}",
                                     evidence.before, impl.conventions()[system.name])
        text += f"\n----- reproducer: copy from here -----\n{snippet}\n----- to here -----"
        detail["reproducer"] = snippet
        detail["gradients"] = failure_detail(evidence, right, reproducer.tolerances(evidence.case, right)[0])
    except Exception as exc:                  # noqa: BLE001
        text += f"\nreproducer: not available ({type(exc).__name__}: {exc})"
    return text, detail


def failure_detail(evidence, right, atol: float) -> dict:
    """Expected against received, tensor by tensor, for the reports: each array as
    {"shape", "data"} (row-major; non-finite numbers as "nan", "inf", "-inf"); a
    received tensor that is missing or not numeric is null."""
    import numpy as np

    def array(x, limit=None):
        try:
            a = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            return None
        if limit is not None and a.size > limit:   # no more of a wrong answer than a report can show
            return {"shape": list(a.shape), "data": None, "omitted": f"{a.size} numbers where {limit} were expected"}
        return {"shape": list(a.shape),
                "data": [v if np.isfinite(v) else str(v) for v in a.ravel().tolist()]}

    def number(x):
        try:
            x = float(np.asarray(x, dtype=float).reshape(()))
        except (TypeError, ValueError):
            return None
        return x if np.isfinite(x) else str(x)

    received = evidence.received or {}
    received_is = "the implementation's answer"
    if evidence.first is not None:             # a determinism failure: draw the answer that is wrong
        def off(answer):
            try:
                return max(float(np.max(np.abs(np.asarray(answer[k], dtype=float) - np.asarray(v))))
                           for k, v in right.grads.items())
            except (KeyError, TypeError, ValueError):
                return np.inf
        if off(evidence.first) > off(received):
            received, received_is = evidence.first, ("its first answer to this call (the later one, after "
                                                     "other calls, is closer to the right answer)")
        else:
            received_is = "its answer to this call after other calls (the first answer was closer)"
    loss = {"expected": number(right.loss), "received": None if evidence.loss is None else number(evidence.loss)}
    return {"atol": atol, "case": type(evidence.case).__name__, "fn": evidence.fn, "loss": loss,
            "received_is": received_is,
            "parameters": [{"name": name, "expected": array(value),
                            "received": array(received.get(name), max(np.size(value), 1))}
                           for name, value in right.grads.items()]}


def pytest_runtest_logreport(report):
    if not (report.when == "call" or (report.when == "setup" and not report.passed)):
        return
    props = dict(report.user_properties)
    if "value_ops" in props:
        _notes["value_ops"] = json.loads(props["value_ops"])
    if "accuracy" in props:
        kept = _notes.setdefault("accuracy", {})
        for op, worst in json.loads(props["accuracy"]).items():
            if op not in kept or worst["relative_error"] > kept[op]["relative_error"]:
                kept[op] = worst
    systems = [v for k, v in report.user_properties if k == "system"]
    checks = [v for k, v in report.user_properties if k == "check"] or ["harness"]
    status = props.get("status", report.outcome)
    if report.failed:
        # a failure counts against the check it broke; the test's other checks are unknown
        checks = [props.get("broke") or checks[0]]
    for system in systems:
        for check in checks:
            _outcomes[system][check][status] += 1
        first = _first_failure.get(system)
        if report.failed and (first is None or _place(report.nodeid) < _place(first["test"])):
            text = props.get("message") or (str(report.longrepr).strip().splitlines() or [""])[-1]
            _first_failure[system] = {"test": report.nodeid, "check": checks[0], "message": text}
        if report.failed and "failure" in props:
            _failures[system].append({"test": report.nodeid, "check": checks[0], **json.loads(props["failure"])})
            _failures[system].sort(key=lambda f: _place(f["test"]))


def _verdicts() -> dict:
    verdicts = {}
    for system in SYSTEMS:
        checks = _outcomes.get(system, {})
        totals = defaultdict(int)
        for counts in checks.values():
            for status, n in counts.items():
                totals[status] += n
        if totals["failed"]:
            verdicts[system] = "fail"
        elif totals["passed"]:
            verdicts[system] = "pass"
        elif totals["not provided"]:
            verdicts[system] = "not provided"
        else:
            verdicts[system] = "not tested"
    return verdicts


def _cell(counts) -> str:
    if not counts:
        return "-"
    passed, failed = counts.get("passed", 0), counts.get("failed", 0)
    if failed:
        return f"FAIL {failed}/{passed + failed}"
    if passed:
        return f"{passed}/{passed}" + ("*" if counts.get("not provided") else "")
    if counts.get("not applicable"):          # the function is there; its questions are not
        return "n/a"
    return "n/p" if counts.get("not provided") else "skip"


def pytest_terminal_summary(terminalreporter, config):
    zoo = sys.modules.get("tests.test_zoo")
    if zoo is not None and config.stash.get(zoo.ZOO_SUMMARY, None):
        terminalreporter.section("bug zoo")
        for line in config.stash[zoo.ZOO_SUMMARY]:
            terminalreporter.write_line(line)
    if not _outcomes or not _is_controller(config):
        return
    from backprop_harness.protocol import CHECKS
    tr = terminalreporter
    verdicts = _verdicts()
    conformance = any(c in CHECKS for checks in _outcomes.values() for c in checks)
    tr.section("verdict per system")
    if conformance:
        tr.write_line(_implementation(config).header())
        columns = list(CHECKS) + (["harness"] if any("harness" in c for c in _outcomes.values()) else [])
        widths = [max(len(c), 9) for c in columns]
        tr.write_line(f"{'system':<14}{'verdict':<14}" + "  ".join(f"{c:>{w}}" for c, w in zip(columns, widths)))
        for system in SYSTEMS:
            cells = [_cell(_outcomes.get(system, {}).get(c)) for c in columns]
            tr.write_line(f"{system:<14}{verdicts[system].upper():<14}"
                          + "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths)))
        tr.write_line("cells: passed/run (* some functions not provided), FAIL failed/run, n/p not provided, "
                      "n/a not applicable under the declared conventions, "
                      "- no such check")
    else:
        for system in SYSTEMS:
            counts = _outcomes.get(system, {}).get("harness", {})
            detail = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            tr.write_line(f"{system:<14}{verdicts[system].upper():<14}({detail})")
    if _notes.get("nothing"):
        tr.write_line(f"FAIL: {_notes['nothing']}", red=True)
    ops = _notes.get("value_ops")
    if ops and conformance:
        missing = "; ".join(f"{op} ({why})" for op, why in ops["missing"].items()) or "none"
        tr.write_line(f"scalar_graph: Value operations tested: {', '.join(ops['ops'])}; missing: {missing}")
    for op, worst in sorted(_notes.get("accuracy", {}).items()):
        tr.write_line(f"scalar_graph: accuracy note (not a failure): {op} loses relative precision; worst "
                      f"{op}({worst['input']!r}) = {worst['received']!r}, exact {worst['exact']!r}, relative error "
                      f"{worst['relative_error']:.2g} (within the rounding of the terms that compute it)")
    from backprop_harness.diagnosis import CODES
    for system in SYSTEMS:
        if system in _first_failure:
            f = _first_failure[system]
            tr.write_line(f"{system}: first failure ({f['check'] or 'harness'}): {f['message'][:300]}")
        if verdicts[system] == "fail" and conformance:
            tr.write_line(f"{system}: diagnosis: "
                          + "; ".join(f"{c} ({CODES[c]})" for c in _system_diagnosis(system)))


def _guard_fixtures() -> list:
    """Restore any fixture file the run changed, added or removed; the changes, by path."""
    before, changes = _state.get("fixtures", {}), []
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
    from backprop_harness.protocol import CHECKS
    if not config.getoption("impl") or not any(c in CHECKS for checks in _outcomes.values() for c in checks):
        return None
    impl = _implementation(config)
    if not impl.info.get("loaded") or impl.functions:
        return None
    from backprop_harness.protocol import PROTOCOL_NAMES
    near = impl.info.get("near_misses", {})
    hints = [f"{found} for {fn}?" for fn, found in near.items()] + list(impl.mismatches.values())
    return (f"{impl.spec.label} defines none of the protocol's names ({', '.join(PROTOCOL_NAMES)}), so nothing "
            f"was checked" + (f"; did you mean: {'; '.join(hints)}" if hints else "; see templates/student.py"))


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if _is_controller(config):
        changes = _guard_fixtures() if "fixtures" in _state else []
        if changes:
            _notes["fixtures"] = changes
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        nothing = _provides_nothing(config)
        if nothing:
            _notes["nothing"] = nothing
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        json_path, html_path = config.getoption("conformance_json"), config.getoption("report_html")
        if json_path or html_path:
            doc = _conformance(config, changes, int(session.exitstatus))
        if json_path:
            _write(config, "--conformance-json", Path(config.invocation_params.dir) / json_path,
                   json.dumps(doc, indent=2) + "\n")
        if html_path:
            try:
                from backprop_harness import report_html
                page = report_html.render(doc)
            except Exception as exc:          # noqa: BLE001 - the run's verdict stands without its page
                page = None
                config.get_terminal_writer().line(f"backprop-harness: cannot render --report-html: "
                                                  f"{type(exc).__name__}: {exc}", red=True)
            if page is not None:
                _write(config, "--report-html", Path(config.invocation_params.dir) / html_path, page)
    if "impl" in _state:
        _state["impl"].close()


def pytest_unconfigure(config):
    changes = _notes.get("fixtures")
    if changes:
        tw = config.get_terminal_writer()
        tw.line("backprop-harness: the fixtures changed during this run and were restored from the copy taken "
                "at the start: " + "; ".join(changes), red=True)


def _diagnoses(system) -> list:
    """[{"test", "check", "codes"}] of the system's failures that had an answer to diagnose
    (codes [] where the diagnosis itself failed)."""
    return [{"test": f["test"], "check": f["check"], "codes": (f["diagnosis"] or {}).get("codes", [])}
            for f in _failures.get(system, []) if "diagnosis" in f]


def _system_diagnosis(system) -> list:
    """The codes named by a failed system's failures, in order; ["unknown"] when none is known."""
    codes = []
    for d in _diagnoses(system):
        codes += [c for c in d["codes"] if c != "unknown" and c not in codes]
    return codes or ["unknown"]


def _conformance(config, changes: list, exitstatus: int) -> dict:
    """The run's report (docs/conformance-schema.md)."""
    from backprop_harness.protocol import CHECKS
    impl = _implementation(config)
    info = impl.info
    verdicts = _verdicts()
    doc = {
        "schema": SCHEMA,
        "implementation": {"spec": config.getoption("impl"), "label": impl.spec.label,
                           "file": info.get("file"), "version": info.get("version"),
                           "provides": sorted(info.get("functions", {})), "load_error": impl.load_error()},
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "hypothesis_profile": settings.get_current_profile_name(),
        "oracles": list(_oracles(config)),
        "systems": {system: {
            "status": verdicts[system],
            "checks": {check: dict(counts) for check, counts in _outcomes.get(system, {}).items()
                       if check in CHECKS},
            "first_failure": _first_failure.get(system),
            "diagnosis": _system_diagnosis(system) if verdicts[system] == "fail" else None,
            "diagnoses": _diagnoses(system),
            "failures": _failures.get(system, []),
        } for system in SYSTEMS},
        "fixtures_sha256": _digest(_state.get("fixtures", {})),
        "fixtures_unchanged": not changes,
        "fixture_changes": changes,
        "exit_status": exitstatus,
    }
    ops = _notes.get("value_ops")
    if ops:
        doc["systems"]["scalar_graph"]["operations"] = {"tested": ops["ops"], "missing": ops["missing"]}
    if _notes.get("accuracy"):
        doc["systems"]["scalar_graph"]["accuracy"] = _notes["accuracy"]
    return doc


def _write(config, option: str, path: Path, text: str):
    """Write whole or not at all: a run stopped half-way leaves no half a report."""
    from backprop_harness import write_atomically
    try:
        write_atomically(path, text)
    except OSError as exc:
        config.get_terminal_writer().line(f"backprop-harness: cannot write {option} {path}: {exc}", red=True)
