"""Conventions real code uses: each declarable, each answered right by a correct plug-in and
checked against every oracle; a mismatched declaration recognised, with the exact line that
makes the same code pass; an inconsistent implementation failing whatever it declares; and
the protocol's names (``__all__``, signatures that do not fit, a file that shadows a package).

The plug-in is ``tests/plugins/conventional.py`` (plain numpy, every convention), copied
with a ``CONVENTIONS`` line in front; each copy runs in its own worker, as ``--impl`` does.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import oracles
from backprop_harness import systems
from backprop_harness.compare import gradient_report
from backprop_harness.plugin import ConformanceFailure, Implementation, NotProvided, resolve
from backprop_harness.recognition import recognise
from backprop_harness.strategies import mlp_cases, softmax_cases
from backprop_harness.systems.mlp import activations as mlp_activations
from backprop_harness.systems.softmax import l2_coefficient
from oracles.cases import MLP_LOSSES

ROOT = Path(__file__).resolve().parent.parent
SOURCE = (ROOT / "tests" / "plugins" / "conventional.py").read_text()
ORACLES = tuple(oracles.ORACLES)
# a plug-in's answers are held to the oracles the conformance checks use by default; that
# every oracle agrees with them under every convention is test_every_oracle_agrees_...
PLUGIN_ORACLES = ("complex_step", "richardson", "central")


def plugin(tmp_path, name, conventions=None, wrong=None, wrong_loss=None) -> Path:
    """A copy of the conventional plug-in declaring ``conventions`` (and computing ``wrong``)."""
    head = [f"CONVENTIONS = {conventions!r}"] if conventions else []
    head += [f"WRONG = {wrong!r}"] if wrong else []
    head += [f"WRONG_LOSS = {wrong_loss!r}"] if wrong_loss else []
    path = tmp_path / f"{name}.py"
    path.write_text("\n".join(head) + "\n" + SOURCE)
    return path


@pytest.fixture
def load():
    made = []

    def make(path):
        # a copy of the harness's own test plug-in: harness code, which runs unsandboxed as the
        # plug-ins in tests/plugins do (the sandbox's own tests are test_sandbox*.py)
        impl = Implementation(resolve(str(path), ROOT), sandbox="off")
        made.append(impl)
        return impl
    yield make
    for impl in made:
        impl.close()


def strategy(system: str, conv: dict):
    """The cases the conformance suite asks under ``conv`` (test_conformance.strategy's choices)."""
    if system == "mlp":
        return mlp_cases(activations=conv["activation"], output_activation=conv["output_activation"],
                         loss=conv["loss"], layout=conv["layout"], biases=conv["bias"] != "none",
                         max_batch=1 if conv["batch"] == "one" else 4, max_depth=3, max_width=5)
    return softmax_cases(reduction=conv["reduction"], hidden=conv["hidden"], l2=l2_coefficient(conv),
                         max_width=5, max_batch=4)


# One declaration per value of every choice (the others at their defaults), and a few
# combinations real code makes (Nielsen, CS231n, numpy-ml, PyTorch's MSELoss).
MLP_DECLARATIONS = (
    [{"loss": loss} for loss in MLP_LOSSES]
    + [{"bias": b} for b in ("vector", "row", "column", "none")]
    + [{"layout": "column"}, {"batch": "one"}, {"activation": "relu"},
       {"activation": "tanh", "output_activation": "identity"},
       {"layout": "column", "loss": "half_sse", "bias": "column", "batch": "one"},
       {"bias": "row", "loss": "half_sse"}, {"activation": "relu", "bias": "none"},
       {"loss": "mean_all", "activation": "tanh", "output_activation": "identity"}])
SOFTMAX_DECLARATIONS = (
    [{"hidden": h} for h in ("tanh", "relu")]
    + [{"reduction": "mean"}, {"labels": "index"}, {"l2": 0.05}, {"l2": 0.05, "l2_form": "half_lambda"},
       {"layout": "column"}, {"bias": "row"}, {"layout": "column", "labels": "index", "bias": "vector"},
       {"hidden": "relu", "reduction": "mean", "labels": "index", "l2": 0.05}])
DECLARATIONS = ([pytest.param("mlp", d, id="mlp-" + "-".join(f"{k}={v}" for k, v in d.items()))
                 for d in MLP_DECLARATIONS]
                + [pytest.param("softmax", d, id="softmax-" + "-".join(f"{k}={v}" for k, v in d.items()))
                   for d in SOFTMAX_DECLARATIONS])


@pytest.mark.parametrize("system, declared", DECLARATIONS)
def test_a_correct_implementation_passes_under_each_convention(tmp_path, load, system, declared):
    """The conformance checks' oracles agree with a correct plug-in of the declared convention,
    on cases drawn under it (the same strategies as the conformance suite); inputs are left
    alone."""
    impl = load(plugin(tmp_path, "impl", {system: declared}))
    conv = impl.conventions()[system]
    fn = systems.SYSTEMS[system].functions[0]

    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        case = data.draw(strategy(system, conv))
        answer = impl.answer(case, fn)
        assert answer.modified == []
        for oracle in PLUGIN_ORACLES:
            report = gradient_report(case, answer.gradient, oracles.gradient(case, oracle))
            assert report is None, report
    check()


def test_every_oracle_agrees_under_every_mlp_loss_and_softmax_choice():
    """The oracles among themselves on one case per convention: the loss's factor and the
    softmax network's hidden layer, reduction and L2 term reach every oracle."""
    rng = np.random.default_rng(0)
    X, T = rng.uniform(-1, 1, (3, 2)), rng.uniform(0, 1, (3, 2))
    Ws, bs = (rng.normal(size=(2, 3)), rng.normal(size=(3, 2))), (rng.normal(size=3), rng.normal(size=2))
    from oracles.cases import MLPCase, SoftmaxCase
    for loss in MLP_LOSSES:
        case = MLPCase(X, T, Ws, bs, ("tanh", "sigmoid"), loss, "row")
        answers = [oracles.gradient(case, o) for o in ORACLES]
        assert abs(answers[0].loss - case.loss_scale * answers[0].loss / case.loss_scale) == 0
        for a in answers[1:]:
            assert gradient_report(case, a, answers[0]) is None
    Y = np.eye(3)[[0, 2, 1]]
    for hidden in ("sigmoid", "tanh", "relu"):
        for reduction in ("sum", "mean"):
            for l2 in (0.0, 0.3):
                case = SoftmaxCase(X, Y, Ws[0], bs[0], rng.normal(size=(3, 3)), rng.normal(size=3), reduction,
                                   hidden, l2)
                answers = [oracles.gradient(case, o) for o in ORACLES]
                for a in answers[1:]:
                    assert gradient_report(case, a, answers[0]) is None


# --- a mismatched declaration is recognised, and the printed line makes it pass ----------------

MISMATCHES = [
    pytest.param("mlp", {}, {"loss": "half_sse"}, id="half_sse-declared-sse"),
    pytest.param("mlp", {"loss": "half_mean"}, {"loss": "mean_all"}, id="mean_all-declared-half_mean"),
    pytest.param("mlp", {}, {"activation": "tanh"}, id="tanh-declared-sigmoid"),
    pytest.param("softmax", {}, {"reduction": "mean"}, id="mean-declared-sum"),
    pytest.param("softmax", {"l2": 0.1}, {"l2": 0.1, "l2_form": "half_lambda"}, id="half_lambda-declared-lambda"),
    pytest.param("softmax", {"hidden": "relu"}, {"hidden": "tanh"}, id="tanh-declared-relu"),
]


def _case(system, conv, seed=3):
    rng = np.random.default_rng(seed)
    from oracles.cases import MLPCase, SoftmaxCase
    X = rng.uniform(-1, 1, (4, 3))
    if system == "mlp":            # three outputs: with two, a mean over n k entries is half_mean
        Ws = (rng.normal(size=(3, 5)), rng.normal(size=(5, 3)))
        bs = (rng.normal(size=5), rng.normal(size=3))
        if conv["layout"] == "column":
            return MLPCase(X.T, rng.uniform(0, 1, (3, 4)), tuple(W.T for W in Ws), bs,
                           mlp_activations(conv, 2), conv["loss"], "column")
        return MLPCase(X, rng.uniform(0, 1, (4, 3)), Ws, None if conv["bias"] == "none" else bs,
                       mlp_activations(conv, 2), conv["loss"], "row")
    case = SoftmaxCase(X, np.eye(3)[[0, 2, 1, 1]], rng.normal(size=(3, 5)), rng.normal(size=5),
                       rng.normal(size=(5, 3)), rng.normal(size=3), conv["reduction"], conv["hidden"],
                       l2_coefficient(conv))
    if conv["hidden"] == "relu":
        from backprop_harness.strategies import RELU_MARGIN, clear_of_zero
        case = SoftmaxCase(case.X, case.Y, case.W1, clear_of_zero(case.X @ case.W1, case.b1, RELU_MARGIN), case.W2,
                           case.b2, case.reduction, case.hidden, case.l2)
    return case


@pytest.mark.parametrize("system, declared, computed", MISMATCHES)
def test_a_mismatched_declaration_prints_the_line_that_makes_it_pass(tmp_path, load, system, declared, computed):
    fn = systems.SYSTEMS[system].functions[0]
    impl = load(plugin(tmp_path, "mismatched", {system: declared} if declared else None, wrong={system: computed}))
    conv = impl.conventions()[system]
    case = _case(system, conv)
    answer = impl.answer(case, fn)
    assert gradient_report(case, answer.gradient, oracles.gradient(case, "torch64")) is not None
    probe = systems.SYSTEMS[system].probe(case, conv)
    seen = recognise(case, answer.gradient, conv, (probe, impl.answer(probe, fn).gradient))
    assert seen is not None and seen.declare is not None, seen
    line = seen.line
    assert line.startswith("CONVENTIONS = {") and "\n" not in line
    namespace = {}
    exec(line, namespace)                     # valid Python, on a line of its own
    fixed = load(plugin(tmp_path, "fixed", namespace["CONVENTIONS"], wrong={system: computed}))
    fixed_conv = fixed.conventions()[system]
    for seed in range(3):
        case = _case(system, fixed_conv, seed)
        for oracle in PLUGIN_ORACLES:
            assert gradient_report(case, fixed.answer(case, fn).gradient, oracles.gradient(case, oracle)) is None


def test_conventions_that_coincide_on_the_case_are_told_apart_by_the_probe(tmp_path, load):
    """On one instance with one output, ½·Σ, ½·mean and ½·mean over all entries are the same
    loss: the failing case alone would name the first; the probe (three instances, three
    outputs) names the one the code computes."""
    from oracles.cases import MLPCase
    impl = load(plugin(tmp_path, "half_mean_all", None, wrong={"mlp": {"loss": "half_mean_all"}}))
    conv = impl.conventions()["mlp"]
    case = MLPCase(np.array([[0.5, -1.0]]), np.array([[0.25]]), (np.array([[0.5, -0.25], [1.5, 0.5]]),
                   np.array([[1.0], [-2.0]])), (np.array([0.1, -0.2]), np.array([0.3])))
    gradient = impl.answer(case).gradient
    alone = recognise(case, gradient, conv)
    assert alone is not None and alone.declare == {"loss": "half_sse"}        # the look-alike
    probe = systems.SYSTEMS["mlp"].probe(case, conv)
    seen = recognise(case, gradient, conv, (probe, impl.answer(probe).gradient))
    assert seen.declare == {"loss": "half_mean_all"}


@pytest.mark.parametrize("system, computed, loss_of", [
    pytest.param("mlp", {"loss": "half_sse"}, {"loss": "mean"}, id="mlp-half_sse-gradient-mean-loss"),
    pytest.param("softmax", {"reduction": "mean"}, {"reduction": "sum"}, id="softmax-mean-gradient-sum-loss"),
])
def test_an_inconsistent_implementation_fails_whatever_it_declares(tmp_path, load, system, computed, loss_of):
    """The gradient of one convention and the loss of another: recognised as inconsistent, never
    given a line to add, and it fails under either convention."""
    fn = systems.SYSTEMS[system].functions[0]
    for declared in ({}, computed, loss_of):
        impl = load(plugin(tmp_path, f"inconsistent{len(declared)}{hash(str(declared)) % 1000}",
                           {system: declared} if declared else None, wrong={system: computed},
                           wrong_loss={system: loss_of}))
        conv = impl.conventions()[system]
        case = _case(system, conv)
        answer = impl.answer(case, fn)
        assert gradient_report(case, answer.gradient, oracles.gradient(case, "torch64")) is not None
        probe = systems.SYSTEMS[system].probe(case, conv)
        seen = recognise(case, answer.gradient, conv, (probe, impl.answer(probe, fn).gradient))
        assert seen is None or seen.declare is None
    assert seen is not None and seen.declare is None and "no declaration makes both right" in seen.message()


def test_a_wrong_answer_is_not_recognised_as_a_convention(tmp_path, load):
    """A real mistake (a gradient scaled by 3) matches no convention: recognition says nothing."""
    impl = load(plugin(tmp_path, "plain"))
    conv = impl.conventions()["mlp"]
    case = _case("mlp", conv)
    g = impl.answer(case, "mlp_gradients").gradient
    wrong = type(g)(g.loss, {k: 3 * v for k, v in g.grads.items()}, g.method)
    assert recognise(case, wrong, conv) is None


# --- the protocol's names ---------------------------------------------------------------------------

def test_all_is_honoured(tmp_path, load):
    path = tmp_path / "exported.py"
    path.write_text(SOURCE + "\n__all__ = ['softmax_gradients']\n")
    impl = load(path)
    assert list(impl.functions) == ["softmax_gradients"]
    with pytest.raises(NotProvided):
        impl.require("mlp_gradients")


def test_a_library_class_of_another_signature_is_left_out_once(tmp_path, load):
    """A ``NeuralNetwork`` imported from a library (another constructor) is a signature mismatch,
    said once in the header, and does not fail the system's ``mlp_gradients``."""
    lib = tmp_path / "somelib.py"
    lib.write_text("class NeuralNetwork:\n    def __init__(self, optimizer, loss, validation_data=None, *, seed):\n"
                   "        pass\n    def forward(self, X):\n        return X\n")
    path = tmp_path / "uses_lib.py"
    path.write_text("from somelib import NeuralNetwork\n" + SOURCE)
    impl = load(path)
    assert "NeuralNetwork" not in impl.functions and "mlp_gradients" in impl.functions
    header = impl.header()
    assert header.count("NeuralNetwork") >= 1 and "does not fit" in header and "__all__" in header
    with pytest.raises(NotProvided, match="signature mismatch"):
        impl.require("NeuralNetwork")
    impl.require("mlp_gradients")
    case = _case("mlp", impl.conventions()["mlp"])
    assert gradient_report(case, impl.answer(case).gradient, oracles.gradient(case, "torch64")) is None


def test_a_system_whose_only_function_does_not_fit_fails_with_the_mismatch(tmp_path, load):
    path = tmp_path / "short.py"
    path.write_text("def softmax_gradients(X, Y, params):\n    return 0.0, {}\n")
    impl = load(path)
    with pytest.raises(ConformanceFailure, match="softmax_gradients.*does not fit.*passes 6"):
        impl.require("softmax_gradients")


def test_a_plugin_named_like_the_package_it_wraps_works_and_says_so(tmp_path, load):
    """``micrograd.py`` that imports the installed micrograd: loaded under another name, the
    library found, one note in the header."""
    path = tmp_path / "micrograd.py"
    path.write_text("from micrograd.engine import Value\n")
    impl = load(path)
    assert impl.load_error() is None, impl.load_error()
    assert "Value" in impl.functions
    assert "installed module" in impl.header()


def test_the_diagnosis_names_the_convention_not_a_mistake(tmp_path, load):
    """A correct ½·Σ loss judged under the default Σ: the diagnosis is the convention, with the
    line to add, never "the factor 2 of the squared error is missing" (scaled_half), which
    would have its author "fix" correct code."""
    from backprop_harness.diagnosis import diagnose
    impl = load(plugin(tmp_path, "half", None, wrong={"mlp": {"loss": "half_sse"}}))
    conv = impl.conventions()["mlp"]
    case = _case("mlp", conv)
    answer = impl.answer(case).gradient

    def probe(other):
        g = impl.answer(other).gradient
        return g.grads, g.loss
    found = diagnose(case, answer.grads, answer.loss, probe, conv)
    assert found.codes == ["convention_mismatch"]
    assert 'CONVENTIONS = {"mlp": {"loss": "half_sse"}}' in found.words()
    assert diagnose(case, answer.grads, answer.loss, probe).codes == ["scaled_half"]     # without conventions


def test_a_file_with_nothing_of_the_protocol_fails_and_says_what_it_meant(tmp_path):
    """A misspelled function (``mlp_grad``) must not skip everything and exit 0 (green in CI)."""
    import os
    import subprocess
    import sys
    path = tmp_path / "mine.py"
    path.write_text("def mlp_grad(X, T, Ws, bs):\n    return 0\n")
    env = {k: v for k, v in os.environ.items() if k not in ("BACKPROP_IMPL", "PYTEST_XDIST_WORKER")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0",
                           "--oracles", "complex_step", "--impl", str(path),
                           "backprop_harness/conformance/test_conformance.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "defines none of the protocol's names" in proc.stdout and "mlp_grad for mlp_gradients?" in proc.stdout
