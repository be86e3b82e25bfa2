"""Localisation before naming: which tensors are wrong and how, the layer where a network's
backward pass first goes wrong, the operation of a scalar engine whose local derivative is
wrong (asked through the plug-in path, one operation at a time), and failures that are not
wrong answers named as what they are."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backprop_harness import localise, mistakes
from backprop_harness.diagnosis import diagnose, of_failure
from backprop_harness.isolation import WorkerLost
from backprop_harness.plugin import ConformanceFailure, Implementation, resolve
from oracles.cases import GraphCase, MLPCase, Node

ROOT = Path(__file__).resolve().parent.parent
ENGINE = (ROOT / "zoo" / "correct" / "value_micrograd.py").read_text()


def _mlp(dims=(3, 4, 5, 2), n=3, seed=0):
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(size=(a, b)) for a, b in zip(dims, dims[1:])]
    bs = [rng.normal(size=b) for b in dims[1:]]
    return MLPCase(rng.normal(size=(n, dims[0])), rng.uniform(0, 1, (n, dims[-1])), Ws, bs, "sigmoid", "sse", "row")


def test_close_means_the_same_shape_non_finite_in_the_same_places_and_within_atol_elsewhere():
    inf, nan = np.inf, np.nan
    a = np.array([1.0, 2.0, 3.0])
    assert localise.close(a, a + 1e-9, 1e-8) and not localise.close(a, a + 1e-7, 1e-8)
    assert not localise.close(a, a[:2], 1.0) and not localise.close(a[None], a, 1.0)
    assert localise.close(np.array([1.0, inf, nan]), np.array([1.0, -inf, inf]), 1e-8)
    assert not localise.close(np.array([1.0, inf]), np.array([1.0, 2.0]), 1e300)
    assert not localise.close(np.array([nan, 2.0]), np.array([1.0, 2.0]), 1e300)
    assert not localise.close(np.array([inf, 2.0]), np.array([inf, 3.0]), 0.5)


@pytest.mark.parametrize("change, words", [
    (lambda e: 0 * e, "all zero"),
    (lambda e: -e, "sign flipped"),
    (lambda e: 0.5 * e, "a constant factor 0.5 of the right one"),
    (lambda e: e.T, "transposed"),
    (lambda e: e.reshape(1, -1), "the right values in shape"),
    (lambda e: np.where(np.arange(e.shape[0])[:, None] == 1, e + 1, e), "only row 1 wrong"),
    (lambda e: np.where(np.arange(e.shape[1])[None, :] == 2, e + 1, e), "only column 2 wrong"),
])
def test_patterns_of_a_wrong_tensor(change, words):
    e = np.arange(1.0, 13.0).reshape(4, 3) / 7
    assert words in localise.pattern(change(e), e, 1e-12)


def test_the_first_wrong_layer_walking_back_from_the_output():
    case = _mlp()
    right = mistakes.right(case).grads
    received = {**right, "W2": right["W2"] * 1.5, "b1": right["b1"] + 1, "W1": right["W1"] - 1}
    found = diagnose(case, received)
    assert found.codes == ["wrong_backward_step"]
    assert found.where.layer == 2
    assert found.where.wrong == ["W1", "W2", "b1"] and found.where.right == ["W3", "b2", "b3"]
    assert "layer 2" in found.words() and "dL/dW2 (a constant factor 1.5 of the right one)" in found.words()


def engine(tmp_path, name, replace=None):
    """A copy of the zoo's micrograd-style engine with one line changed."""
    source = ENGINE
    if replace:
        old, new = replace
        assert old in source
        source = source.replace(old, new)
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return path


@pytest.fixture
def ask(tmp_path):
    made = []

    def make(path):
        # a copy of the harness's own test plug-in: harness code, which runs unsandboxed as the
        # plug-ins in tests/plugins do (the sandbox's own tests are test_sandbox*.py)
        impl = Implementation(resolve(str(path), ROOT), sandbox="off")
        made.append(impl)
        ops = impl.value_ops()["ops"]

        def probe(case):
            try:
                g = impl.answer(case, "Value").gradient
            except (AssertionError, pytest.skip.Exception, WorkerLost):
                return None
            return g.grads, g.loss
        return impl, probe, ops
    yield make
    for impl in made:
        impl.close()


MISTAKES = [
    ("pow_factor", ("(other * self.data ** (other - 1))", "(self.data ** (other - 1))"), "pow", None,
     "the exponent's factor c is dropped"),
    ("mul_wrong_variable", ("self.grad += other.data * out.grad", "self.grad += self.data * out.grad"), "mul", "a",
     None),
    ("tanh_at_input", ("(1 - t ** 2) * out.grad", "(1 - self.data ** 2) * out.grad"), "tanh", None,
     "the formula in terms of the output is applied to the input"),
    ("log_of_output", ("(1 / self.data) * out.grad", "(1 / out.data) * out.grad"), "log", None, "1/out instead of 1/x"),
    ("exp_one", ("self.grad += out.data * out.grad", "self.grad += out.grad"), "exp", None, "it is 1"),
]


@pytest.mark.parametrize("name, change, op, operand, fits", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_the_operation_with_a_wrong_local_derivative_is_found(tmp_path, ask, name, change, op, operand, fits):
    impl, probe, ops = ask(engine(tmp_path, name, change))
    # a graph where the mistake shows: x0 op ... (x0 ** 2 for pow: "half the gradient" on this graph alone)
    nodes = {"pow": (Node("pow", 0, 2.0),), "mul": (Node("mul", 0, 1),), "tanh": (Node("tanh", 0),),
             "log": (Node("log", 0),), "exp": (Node("exp", 0),)}[op]
    case = GraphCase([0.8, -1.1] if op == "mul" else [0.8], nodes)
    received = impl.answer(case, "Value").gradient
    found = diagnose(case, received.grads, received.loss, probe, ops=ops)
    assert found.codes[-1] == "wrong_local_derivative", found.words()
    assert found.where.op == op and found.where.operand == operand
    if fits:
        assert fits in found.where.fits
    assert "received" in found.words() and "expected" in found.words()


def test_an_exponent_of_two_is_not_named_half_the_gradient(tmp_path, ask):
    """The catalog alone names x ** 2 with its factor dropped "scaled_half"; the probe of pow
    alone (exponents 3, 2, -1, 0.5) shows the factor c dropped instead."""
    impl, probe, ops = ask(engine(tmp_path, "pow2", MISTAKES[0][1]))
    case = GraphCase([0.8], (Node("pow", 0, 2.0),))
    g = impl.answer(case, "Value").gradient
    assert diagnose(case, g.grads, g.loss).codes == ["scaled_half"]           # without the probes: the look-alike
    assert diagnose(case, g.grads, g.loss, probe, ops=ops).codes == ["wrong_local_derivative"]


def test_a_correct_engine_has_no_wrong_operation(tmp_path, ask):
    impl, probe, ops = ask(engine(tmp_path, "right"))
    assert localise.operations(ops, probe, mistakes.right, lambda e: 1e-9 * max(1, abs(float(e[0])))) is None
    assert localise.structure(ops, probe, mistakes.right, lambda e: 1e-9 * max(1, abs(float(e[0])))) is None


def test_overwritten_gradients_are_found_by_structure_probes(tmp_path, ask):
    accumulate = "            self.grad += out.grad\n            other.grad += out.grad"
    overwrite = "            self.grad = out.grad\n            other.grad = out.grad"
    impl, probe, ops = ask(engine(tmp_path, "overwrite", (accumulate, overwrite)))
    case = GraphCase([0.8], (Node("add", 0, 0),))
    g = impl.answer(case, "Value").gradient
    found = diagnose(case, g.grads, g.loss, probe, ops=ops)
    assert found.where is not None and found.where.op in ("add", "backward"), found.words()


@pytest.mark.parametrize("exc, code", [
    (WorkerLost("timeout", "did not answer within 5 s"), "timeout"),
    (WorkerLost("signal", "died of SIGSEGV"), "crash"),
    (ConformanceFailure("importing mine.py raised SyntaxError: invalid syntax"), "load_error"),
    (ConformanceFailure("signature mismatch: mlp_gradients(X, T) does not fit"), "signature_mismatch"),
    (ConformanceFailure("CONVENTIONS is not valid: CONVENTIONS['mlp']['loss'] = 'x'"), "bad_conventions"),
    (ConformanceFailure("mlp_gradients raised ValueError: shapes (3,2) and (3,2) not aligned"), "crash"),
    (ConformanceFailure("gradients(x, t, w): dL/dv22 is nan; expected finite numbers"), "non_finite"),
    (ConformanceFailure("mlp_gradients(X, T, Ws, bs) is None; expected (loss, dWs, dbs)", check="shapes and dtypes"),
     "wrong_structure"),
])
def test_what_is_not_a_wrong_answer_is_named_as_what_it_is(exc, code):
    assert of_failure(exc).codes == [code]


def test_a_wrong_answer_is_not_a_failure_of_another_kind():
    assert of_failure(ConformanceFailure("mlp_gradients: MLPCase (IMPL vs TORCH64)\ndL/d: ...")) is None
    dtype = ConformanceFailure("dWs[0] (dL/dW1) is float32; expected float64", check="shapes and dtypes")
    assert of_failure(dtype) is None


# --- scalar engines as people write them: the textbook formulas -----------------------------------

LECTURE_TANH = ("        t = math.tanh(self.data)\n",
                "        e = math.exp(2 * self.data)\n        t = (e - 1) / (e + 1)\n")
NAIVE_SIGMOID = ("""        if x >= 0:
            s = 1 / (1 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1 + e)""", "        s = 1 / (1 + math.exp(-x))")


def test_the_lecture_tanh_is_exact_enough_near_zero(tmp_path, ask):
    """(e^2x - 1)/(e^2x + 1) loses every relative digit at x = 1e-200 (it gives 0): an absolute
    error of a few eps, within the rounding of its terms, so the answer passes; its
    derivative 1 - t^2 is exact. Asked here directly, so the verdict does not depend on
    whether a seed draws such an x."""
    import oracles
    from backprop_harness.compare import gradient_report
    impl, probe, ops = ask(engine(tmp_path, "lecture", LECTURE_TANH))
    for x in (1e-200, -3e-9, 0.25):
        case = GraphCase([x, 0.75], (Node("tanh", 0), Node("mul", 2, 1)))
        got = impl.answer(case, "Value").gradient
        assert gradient_report(case, got, oracles.gradient(case, "torch64")) is None


@pytest.mark.parametrize("change, op, x", [(LECTURE_TANH, "tanh", 400.0), (NAIVE_SIGMOID, "sigmoid", -800.0)])
def test_textbook_formulas_overflow_on_extreme_inputs(tmp_path, ask, change, op, x):
    """math.exp overflows past 709.78: the lecture's tanh at 355, the textbook sigmoid below -709.
    The extreme-inputs regime asks exactly there, and the failure names the error."""
    from backprop_harness.strategies import EXTREME_LEAVES
    lo, hi = EXTREME_LEAVES[op]
    assert lo <= abs(x) <= hi
    impl, probe, ops = ask(engine(tmp_path, op, change))
    with pytest.raises(ConformanceFailure, match="OverflowError"):
        impl.answer(GraphCase([x, 0.75], (Node(op, 0), Node("mul", 2, 1))), "Value")
    impl_ok, _, _ = ask(engine(tmp_path, "stable"))
    assert impl_ok.answer(GraphCase([x, 0.75], (Node(op, 0), Node("mul", 2, 1))), "Value").gradient.grads["x0"] == 0.0
