"""The plug-in path itself: resolving ``--impl``, loading, isolation from code that
misbehaves, the protocol's checks, and the report of whole ``pytest --impl`` runs.

The plug-ins are in tests/plugins/ (and templates/student.py). Two integration runs are
real ``pytest --impl`` in a subprocess with the "smoke" profile, run concurrently (the one
that overwrites a fixture in a copy of the project), judged by their exit status, their
JSON report and their output.
"""
from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from backprop_harness import write_atomically
from backprop_harness.implementations import reference_gradient
from backprop_harness.isolation import WorkerLost
from backprop_harness.plugin import ConformanceFailure, Implementation, NotProvided, NotRun, resolve
from oracles.cases import GraphCase, ManualCase, MLPCase, Node, SoftmaxCase

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "tests" / "plugins"
MLP_CASE = MLPCase(np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[1.0, 0.0], [0.0, 1.0]]),
                   (np.array([[0.5, -0.25, 1.0], [1.5, 0.5, -1.0]]), np.array([[1.0, -2.0], [0.25, 2.0], [0.5, 0.5]])),
                   (np.array([0.1, -0.2, 0.3]), np.array([0.0, 0.5])))
MANUAL_CASE = ManualCase([3.0, 1.0], [1.0, 0.0], [6.0, -3.0, -2.0, 5.0, 1.0, -2.0, 0.25, 2.0])
SOFTMAX_CASE = SoftmaxCase(np.array([[0.5, -1.0]]), np.array([[0.0, 1.0, 0.0]]), np.array([[0.5], [1.0]]),
                           np.array([0.25]), np.array([[1.0, -1.0, 0.5]]), np.array([0.0, 0.1, -0.1]))


@pytest.fixture
def load():
    made = []

    def make(spec, **kwargs):
        impl = Implementation(resolve(spec, ROOT), **kwargs)
        made.append(impl)
        return impl
    yield make
    for impl in made:
        impl.close()


# --- resolving --impl ----------------------------------------------------------------------

def test_resolve_names_adapters_files_packages_and_modules(tmp_path):
    assert resolve("micrograd").kind == "adapter"
    assert resolve(None).target == "reference.protocol"
    assert resolve("tests/plugins/misbehaves.py", ROOT).kind == "file"
    assert resolve("reference.protocol", ROOT).kind == "module"
    missing = resolve("no/such/file.py", tmp_path)
    assert missing.error and "implementation not found" in missing.error and "no such file" in missing.error
    (tmp_path / "folder").mkdir()
    assert "without __init__.py" in resolve("folder", tmp_path).error


def test_a_missing_file_fails_every_function_with_one_message(load):
    impl = load("tests/plugins/does_not_exist.py")
    with pytest.raises(ConformanceFailure, match="implementation not found: .*does_not_exist.py"):
        impl.require("gradients")


@pytest.mark.parametrize("plugin, expected", [
    ("syntax_error.py", "SyntaxError"),
    ("import_error.py", "ModuleNotFoundError: No module named 'a_module_that_does_not_exist'"),
])
def test_load_errors_show_the_plugins_own_traceback_only(load, plugin, expected):
    impl = load(f"tests/plugins/{plugin}")
    error = impl.load_error()
    assert expected in error and plugin in error
    assert "backprop_harness" not in error and "importlib" not in error


# --- isolation -------------------------------------------------------------------------------

def test_misbehaving_plugin_changes_nothing_but_its_own_verdict(load):
    impl = load("tests/plugins/misbehaves.py", call_timeout=1.0)
    assert impl.info["loaded"]                       # its import patched numpy, in the worker
    assert not np.allclose(1.0, 2.0) and not np.isfinite(np.nan)
    with pytest.raises(WorkerLost, match="did not answer within 1 s"):
        impl.answer(MLP_CASE, "mlp_gradients")
    with pytest.raises(NotRun, match="mlp_gradients was not called again"):
        impl.answer(MLP_CASE, "mlp_gradients")
    got = impl.answer(MANUAL_CASE).gradient.grads                       # a fresh worker answers, rightly
    assert got == pytest.approx(reference_gradient(MANUAL_CASE).grads, rel=1e-15)
    with pytest.raises(WorkerLost, match="exited with status 3"):
        impl.answer(MLPCase(MLP_CASE.X, MLP_CASE.T, MLP_CASE.Ws), "NeuralNetwork")
    with pytest.raises(WorkerLost, match="SIGSEGV"):
        impl.answer(SOFTMAX_CASE)
    assert impl.worker.starts == 3          # the first, and one after the hang and after the exit


# --- the protocol's checks ---------------------------------------------------------------------

@pytest.mark.parametrize("case, fn, message, check", [
    (MANUAL_CASE, "gradients", r"gradients\(x, t, w\): dL/dv22 is nan; expected finite numbers", None),
    (MLP_CASE, "mlp_gradients", r"dWs\[0\] \(dL/dW1\) is float32; expected float64", "shapes and dtypes"),
    (SOFTMAX_CASE, "softmax_gradients", r"grads\['W1'\] \(dL/dW1\) has shape \(1, 2\); expected \(2, 1\)",
     "shapes and dtypes"),
])
def test_wrong_returns_are_named_with_what_was_expected(load, case, fn, message, check):
    impl = load("tests/plugins/wrong_returns.py")
    with pytest.raises(ConformanceFailure, match=message) as info:
        impl.answer(case, fn)
    assert info.value.check == check


def test_a_wrong_signature_is_named_before_any_call(tmp_path, load):
    plugin = tmp_path / "signature.py"
    plugin.write_text("def gradients(x, w):\n    return [0.0] * 8\n")
    with pytest.raises(ConformanceFailure, match=r"signature mismatch: gradients\(x, w\) does not fit the protocol's "
                                                 r"gradients\(x, t, w\): it takes 2 required positional argument\(s\); "
                                                 r"the protocol passes 3") as info:
        load(str(plugin)).answer(MANUAL_CASE)
    assert "backprop_harness" not in str(info.value)


def test_a_call_that_raises_is_the_plugins_own_error(tmp_path, load):
    plugin = tmp_path / "raises.py"
    plugin.write_text("def gradients(*args):\n    return args[3]\n")
    with pytest.raises(ConformanceFailure, match=r"gradients raised IndexError: tuple index out of range") as info:
        load(str(plugin)).answer(MANUAL_CASE)
    assert "raises.py" in str(info.value) and "backprop_harness" not in str(info.value)


def test_declared_conventions_are_followed(load):
    """tests/plugins/column_convention.py declares 001's conventions; the harness must ask it
    in them (column layout, (d, 1) biases, tanh then sigmoid, 1/(2n) loss; mean cross-entropy)."""
    impl = load("tests/plugins/column_convention.py")
    conv = impl.conventions()
    assert conv["mlp"] == {"layout": "column", "loss": "half_mean", "activation": "tanh", "bias": "column",
                           "batch": "any", "output_activation": "sigmoid"}
    assert conv["softmax"] == {"reduction": "mean", "hidden": "sigmoid", "labels": "one_hot", "l2": 0.0,
                               "l2_form": "lambda", "layout": "row", "bias": "vector"}
    row = MLP_CASE
    case = MLPCase(row.X.T, row.T.T, tuple(W.T for W in row.Ws), row.bs, ("tanh", "sigmoid"), "half_mean", "column")
    got = impl.answer(case).gradient
    expected = reference_gradient(case)
    assert got.loss == pytest.approx(expected.loss, rel=1e-15)
    for k in expected.grads:
        np.testing.assert_allclose(got.grads[k], expected.grads[k], rtol=1e-14, atol=0)
    mean = SoftmaxCase(SOFTMAX_CASE.X, SOFTMAX_CASE.Y, SOFTMAX_CASE.W1, SOFTMAX_CASE.b1, SOFTMAX_CASE.W2,
                       SOFTMAX_CASE.b2, "mean")
    assert impl.answer(mean).gradient.loss == pytest.approx(reference_gradient(mean).loss, rel=1e-15)


def test_modified_inputs_are_reported(load):
    impl = load("tests/plugins/wrong_returns.py")
    answer = impl.answer(MLPCase(MLP_CASE.X, MLP_CASE.T, MLP_CASE.Ws), "NeuralNetwork")
    assert answer.modified == ["W"]


def test_template_provides_nothing(load):
    impl = load("templates/student.py")
    for case, fn in [(MANUAL_CASE, "gradients"), (MLP_CASE, "mlp_gradients"), (SOFTMAX_CASE, "softmax_gradients"),
                     (MLPCase(MLP_CASE.X, MLP_CASE.T, MLP_CASE.Ws), "NeuralNetwork")]:
        with pytest.raises(NotProvided, match=f"not provided: {fn}"):
            impl.answer(case, fn)
    with pytest.raises(NotProvided, match="not provided: Value"):
        impl.value_ops()


def test_micrograd_operations_are_discovered(load):
    impl = load("micrograd")
    assert impl.info["version"] == "0.1.0"
    ops = impl.value_ops()
    assert ops["ops"] == ["add", "sub", "mul", "div", "pow", "neg", "relu"]
    assert sorted(ops["missing"]) == ["exp", "log", "sigmoid", "tanh"]
    case = GraphCase([0.5, 2.0], (Node("mul", 0, 1), Node("sub", 2.5, 2), Node("relu", 3)))
    assert impl.answer(case).gradient.grads == {"x0": -2.0, "x1": -0.5}


def test_bad_conventions_are_a_clear_failure(tmp_path, load):
    plugin = tmp_path / "conv.py"
    plugin.write_text('CONVENTIONS = {"mlp": {"layout": "diagonal"}}\n')
    with pytest.raises(ConformanceFailure, match=r"CONVENTIONS\['mlp'\]\['layout'\] = 'diagonal'; expected one of "
                                                 r"\['row', 'column'\]"):
        load(str(plugin)).conventions()


FIRST_CALL_CACHE = """
from reference import protocol as _ref
_answers = []


def mlp_gradients(X, T, Ws, bs):
    if not _answers:                   # a cache filled by the process's first call
        _answers.append(_ref.mlp_gradients(X, T, Ws, bs))
    return _answers[0]
"""


def test_every_fresh_answer_comes_from_a_process_that_answered_nothing(tmp_path, load):
    """fresh_answer's processes are started ahead (each loads while the previous answers):
    each must still answer first, four times in a row, and none may outlive close()."""
    plugin = tmp_path / "first_call.py"
    plugin.write_text(FIRST_CALL_CACHE)
    impl = load(str(plugin))
    cases = [MLP_CASE.with_params({k: f * np.asarray(v) for k, v in MLP_CASE.params().items()})
             for f in (0.5, 1.0, 1.5, -1.0, 2.0)]
    impl.answer(cases[0])
    np.testing.assert_array_equal(impl.answer(cases[1]).gradient.grads["W1"],
                                  reference_gradient(cases[0]).grads["W1"])       # the used worker is stale
    for case in cases[1:]:          # a reused process would answer the previous case
        np.testing.assert_array_equal(impl.fresh_answer(case).gradient.grads["W1"],
                                      reference_gradient(case).grads["W1"])
    for _, loading in impl._spares:
        loading.join()
    processes = [impl.worker] + [spare for spare, _ in impl._spares]
    assert len(processes) == 1 + Implementation.SPARES and all(w.pid for w in processes)
    impl.close()
    assert not any(w.pid for w in processes)


def test_a_run_that_knows_its_fresh_answers_starts_no_process_beyond_them(tmp_path, load):
    plugin = tmp_path / "first_call.py"
    plugin.write_text(FIRST_CALL_CACHE)
    impl = load(str(plugin))
    cases = [MLP_CASE.with_params({k: f * np.asarray(v) for k, v in MLP_CASE.params().items()})
             for f in (0.5, 1.5, -1.0)]
    impl.prestart(2, total=len(cases))
    assert len(impl._spares) == 2
    for case in cases:
        np.testing.assert_array_equal(impl.fresh_answer(case).gradient.grads["W1"],
                                      reference_gradient(case).grads["W1"])
    assert impl._spares == []           # the third answer's process was the last one started
    impl.close()


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_fresh_answer_of_a_plugin_that_does_not_load_is_its_load_error(load, tmp_path):
    impl = load("tests/plugins/syntax_error.py")
    with pytest.raises(ConformanceFailure, match="SyntaxError"):
        impl.fresh_answer(MLP_CASE, "mlp_gradients")
    exits = tmp_path / "exits_at_import.py"
    exits.write_text("import os\nos._exit(3)\n")
    impl = load(str(exits))
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a spare's failed start must not escape its thread
        with pytest.raises((ConformanceFailure, WorkerLost), match="status 3"):
            impl.fresh_answer(MLP_CASE, "mlp_gradients")
        impl.close()


# --- whole runs of pytest --impl ------------------------------------------------------------------

# The integration runs: one plug-in that misbehaves in every way, and one that does not
# load, under two xdist workers (the default's path: its failures' records cross processes).
# The rules these runs feed (verdicts, order, blocks, the document) are tested in process
# (tests/test_record.py).
RUNS = {
    "misbehaves": ("tests/plugins/misbehaves.py", 1),
    "syntax_error": ("tests/plugins/syntax_error.py", 1),
}


class Runs:
    """Every run of RUNS, started together in ``out`` (a new folder if None), each writing
    its output to a file (a pipe that nobody reads until the end would stall it) and, once
    it has exited, its status to ``NAME.status``: ``results(out)`` reads them from any
    process. ``low_priority``: see ``_lower_priority``."""

    def __init__(self, out: Path | None = None, low_priority: bool = True):
        self.out = Path(tempfile.mkdtemp(prefix="backprop-runs-")) if out is None else Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HYPOTHESIS_PROFILE": "smoke"}
        env.pop("BACKPROP_IMPL", None)
        # pytest rewrites the asserts of every module of a plugin's distribution (76 of
        # Hypothesis's) and caches the result as bytecode: without the cache, 1.5 s a run
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTEST_XDIST_WORKER", None)
        # the one that overwrites a fixture runs in a copy of the project, so that no other
        # run in this checkout (a developer's, beside this one) sees its fixtures change
        self.copy = self.out / "project"
        shutil.copytree(ROOT, self.copy, ignore=shutil.ignore_patterns(".venv", ".git", ".hypothesis",
                                                                       "__pycache__", "*.egg-info"))
        self.procs, self.waiters = {}, []
        # these runs check the report, not the implementations: the numpy oracles suffice,
        # and spare each run importing torch and JAX
        for name, (spec, _) in RUNS.items():
            cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                   "-n", "2" if name == "syntax_error" else "0",
                   "--oracles", "complex_step,richardson,central",
                   "--impl", spec, "--impl-timeout", "1",
                   "--conformance-json", str(self.out / f"{name}.json"), "--junitxml", str(self.out / f"{name}.xml")]
            with open(self.out / f"{name}.txt", "w") as log:
                self.procs[name] = subprocess.Popen(cmd, cwd=self.copy if name == "misbehaves" else ROOT, env=env,
                                                    stdout=log, stderr=subprocess.STDOUT)
            if low_priority:
                _lower_priority(self.procs[name].pid)
            waiter = threading.Thread(target=self._wait, args=(name,), name=f"run-{name}", daemon=True)
            waiter.start()
            self.waiters.append(waiter)

    def _wait(self, name: str) -> None:
        """Wait for the run (a run still going after 300 s is killed: its status then says so),
        then write its status."""
        proc = self.procs[name]
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        write_atomically(self.out / f"{name}.status", f"{proc.returncode}\n")

    def stop(self) -> None:
        """Kill what still runs and remove the output (a session that ends before the tests)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for waiter in self.waiters:
            waiter.join()
        shutil.rmtree(self.out, ignore_errors=True)


def results(out: Path) -> dict:
    """Each run's (exit status, JSON report or {} if it wrote none, output) from the folder of
    its ``Runs``, which may be another process's (the one that started it writes its status
    when it exits), by name; and the project copy and the folder."""
    deadline = time.monotonic() + 600
    results = {}
    for name in RUNS:
        status = out / f"{name}.status"
        while not status.exists():
            assert time.monotonic() < deadline, f"the run {name} in {out} wrote no status"
            time.sleep(0.05)
        report = out / f"{name}.json"
        results[name] = (int(status.read_text()), json.loads(report.read_text()) if report.exists() else {},
                         (out / f"{name}.txt").read_text())
    results["project copy"], results["output"] = out / "project", out
    return results


def _lower_priority(pid: int) -> None:
    """Let the run yield the CPU to the session's own tests (in a run without xdist, the
    runs are started when collection ends and fill the core that the session leaves idle);
    what it starts inherits the priority. Set after the start, not in a preexec_fn: forking
    Python code in a process where JAX runs threads can deadlock."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, 10)
    except OSError:          # it has exited already
        pass


EARLY: list = []     # the Runs started when collection ended (tests/conftest.py), if they were


def start_early() -> None:
    """Start the runs now, at low priority, so that they are done when their tests come."""
    if not EARLY:
        EARLY.append(Runs())


def needs_runs(nodeid: str) -> bool:
    """Whether the test of this node id (a test of this module) takes the ``runs`` fixture."""
    test = globals().get(nodeid.split("::")[-1].split("[")[0])
    return callable(test) and "runs" in inspect.signature(test).parameters


@pytest.fixture(scope="module")
def runs(pytestconfig):
    """(exit status, JSON report, output) of every run of RUNS, by name. Under xdist, the
    controlling process started them when the workers had collected (tests/conftest.py,
    which owns them: this fixture only reads them)."""
    shared = getattr(pytestconfig, "workerinput", {}).get(SHARED_RUNS)
    if shared and (Path(shared) / STARTED).exists():
        yield results(Path(shared))
        return
    started = EARLY.pop() if EARLY else Runs()
    try:
        yield results(started.out)
    finally:
        started.stop()


SHARED_RUNS = "backprop_runs"      # the key of the runs' folder in an xdist worker's workerinput
STARTED = "started"               # the file the controlling process writes there once it started them


@pytest.mark.parametrize("name", RUNS)
def test_exit_status_is_zero_exactly_when_every_provided_system_passes(runs, name):
    status, report, output = runs[name]
    assert status == RUNS[name][1] and report, output[-3000:]
    assert report["exit_status"] == status
    failing = [s for s, r in report["systems"].items() if r["status"] == "fail"]
    assert (status == 0) == (not failing and report["fixtures_unchanged"])


def test_misbehaving_run_completes_with_a_verdict_per_system(runs):
    _, report, output = runs["misbehaves"]
    systems = report["systems"]
    assert systems["manual_222"]["status"] == "pass"
    assert {s: systems[s]["status"] for s in ("scalar_graph", "mlp", "softmax")} == dict.fromkeys(
        ("scalar_graph", "mlp", "softmax"), "fail")
    assert systems["scalar_graph"]["first_failure"]["check"] == "worked examples"
    assert "SIGSEGV" in systems["softmax"]["first_failure"]["message"]
    junit = ElementTree.parse(runs["output"] / "misbehaves.xml").getroot()[0]
    failures = [case.find("failure").get("message") for case in junit.iter("testcase")
                if case.find("failure") is not None]
    assert int(junit.get("failures")) == len(failures) > 0
    # mlp's two functions fail each their own way: NeuralNetwork exits, mlp_gradients hangs
    for expected in ("exited with status 3 during NeuralNetwork", "did not answer within 1 s (call: mlp_gradients)",
                     "SIGSEGV"):
        assert any(expected in m for m in failures), expected
    assert not any("Traceback" in m for m in failures)
    # it overwrote a fixture; the harness restored it and said so
    assert not report["fixtures_unchanged"]
    assert report["fixture_changes"] == ["fixtures/003_worked_example.toml modified"]
    assert "were restored" in output
    fixtures = runs["project copy"] / "fixtures"
    original = (ROOT / "fixtures/003_worked_example.toml").read_bytes()
    assert (fixtures / "003_worked_example.toml").read_bytes() == original


def test_a_plugin_that_does_not_load_fails_every_system_without_a_harness_traceback(runs):
    _, report, output = runs["syntax_error"]
    assert {r["status"] for r in report["systems"].values()} == {"fail"}
    assert "SyntaxError" in report["systems"]["mlp"]["first_failure"]["message"]
    # the test ids name the checks' module; no frame of the harness is shown
    assert not re.search(r"backprop_harness/(?!conformance/test_conformance\.py::)", output), output
    assert "conftest.py" not in output
    # one block for the load error, however many tests it failed
    failures = output.split("short test summary info")[0]      # the summary line may repeat it (CI=true)
    assert failures.count("raised SyntaxError") == 1 and "the same failure, with the same diagnosis" in failures
    assert "    def forward(x, w)" in failures                    # the source line, under the file and line


def test_a_near_miss_of_a_protocol_name_is_pointed_out(tmp_path, load):
    plugin = tmp_path / "typo.py"
    plugin.write_text("def mlp_gradient(X, T, Ws, bs):\n    return 0.0, [], []\n")
    impl = load(str(plugin))
    assert "mlp_gradient is not mlp_gradients" in impl.header()
    with pytest.raises(NotProvided, match=r"not provided: mlp_gradients \(the module has mlp_gradient: a typo\?\)"):
        impl.answer(MLP_CASE)


def test_the_workers_word_is_not_taken_for_what_the_module_defined(tmp_path, load):
    """A plug-in that patches the worker to answer "missing" for a function it defines (to pass
    as "not provided") fails that call instead."""
    plugin = tmp_path / "liar.py"
    plugin.write_text("import backprop_harness.worker as w\n"
                      "w.Handler.handle = lambda self, request: {'status': 'missing', 'message': 'no'}\n"
                      "def gradients(x, t, w):\n    return [0.0] * 8\n")
    with pytest.raises(ConformanceFailure, match="the worker answered that the implementation has no gradients"):
        load(str(plugin)).answer(MANUAL_CASE)


def test_a_conformance_failure_is_not_formatted_by_pytest_and_anything_else_is(request):
    """A check's conformance failure is shown as the harness's record (put on the report by
    the conformance plug-in), so pytest's traceback of it is not formatted; a harness error,
    or a failure Hypothesis wrapped around something else, keeps pytest's traceback (here
    pytest's own, of this test's item, as a check's item has it)."""
    from hypothesis.errors import FlakyFailure

    from backprop_harness.conformance.plugin import ConformanceRepr
    formatted = []

    def pytest_repr(excinfo):
        formatted.append(excinfo.value)
        return request.node.repr_failure(excinfo)
    show = ConformanceRepr(pytest_repr)

    def shown(exc):
        try:
            raise exc
        except BaseException:
            return show(pytest.ExceptionInfo.from_current())

    wrong = ConformanceFailure("dL/dW1[0,1] differs")
    assert shown(wrong) == "ConformanceFailure: dL/dW1[0,1] differs"
    assert shown(FlakyFailure("not reproduced", [wrong])) == "ConformanceFailure: dL/dW1[0,1] differs"
    assert formatted == []
    harness_error, other = KeyError("oracle"), FlakyFailure("not reproduced", [ValueError("x")])
    assert "KeyError: 'oracle'" in str(shown(harness_error)) and "raise exc" in str(shown(harness_error))
    assert "not reproduced" in str(shown(other))
    assert formatted == [harness_error, harness_error, other]
    real = ConformanceRepr(request.node.repr_failure)          # pytest's own signature
    try:
        raise harness_error
    except KeyError:
        assert "KeyError: 'oracle'" in str(real(pytest.ExceptionInfo.from_current()))
