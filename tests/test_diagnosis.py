"""The diagnosis (backprop_harness.diagnosis) and the reproducer (backprop_harness.reproducer).

Two directions, each a property over the strategies' cases: every known mistake
is named on the answer that mistake gives (when it changes the answer at all),
and a right answer, computed independently (PyTorch, the complex step), is never
diagnosed. Then the snippets: run as written, each prints expected against
received, and marks exactly the wrong gradient.
"""
from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

import oracles
from backprop_harness import mistakes, reproducer
from backprop_harness.diagnosis import CODES, MATCH_RTOL, diagnose, probe_case
from backprop_harness.plugin import resolve
from backprop_harness.protocol import SYSTEMS
from backprop_harness.strategies import cases
from oracles.cases import GraphCase, MLPCase, Node, SoftmaxCase
from oracles.rounding import exact_rule
from reference import mlp

ROOT = Path(__file__).resolve().parent.parent

REGIMES = [(s, r) for s in SYSTEMS
           for r in (("conditioned", "saturated", "extreme_logits") if s == "softmax"
                     else ("conditioned",) if s == "scalar_graph" else ("conditioned", "saturated"))]


def _scaled(grads, f):
    return {k: f * np.asarray(v) for k, v in grads.items()}


@pytest.mark.parametrize("system, regime", REGIMES)
@given(data=st.data())
def test_mistakes_are_named_and_right_answers_never(system, regime, data):
    """On one case: answers from PyTorch and the complex step (right, rounded differently
    from the reference) match no mistake; every known mistake that changes the answer
    well beyond rounding is named on the answer it gives; so are a flipped sign, a
    factor 2 or 1/2, and (batch of 3 or more) the batch size or its inverse."""
    case = data.draw(cases(system, regime), label="case")
    right = mistakes.right(case)
    for oracle in ("torch64", "complex_step"):
        g = oracles.gradient(case, oracle)
        assert diagnose(case, g.grads, g.loss).codes == ["unknown"], oracle
    rule = exact_rule(case, right)
    margin = 10 * (rule.gradient_atol + MATCH_RTOL * rule.scale)       # well beyond rounding and the match tolerance
    for code, answers in mistakes.mistaken(case).items():
        for wrong in answers:
            w = {k: np.asarray(v, dtype=float) for k, v in wrong.grads.items()}
            changed = any(not np.array_equal(np.isfinite(w[k]), np.isfinite(right.grads[k]))
                          or np.nanmax(np.abs(w[k] - right.grads[k]), initial=0.0) > margin for k in w)
            if changed:      # some mistakes change nothing on some cases (relu layers, logits that do not overflow)
                assert code in diagnose(case, w, right.loss).codes, code
    if max(float(np.max(np.abs(v))) for v in right.grads.values()) <= margin:
        return
    n = mistakes.batch_size(case)
    factors = {"sign_flipped": -1.0, "scaled_2": 2.0, "scaled_half": 0.5}
    factors.update({"scaled_inverse_batch": 1.0 / n, "scaled_batch": float(n)} if n > 2 else {})
    for code, f in factors.items():
        assert code in diagnose(case, _scaled(right.grads, f), right.loss).codes, code


def _mlp_case(n=3, dims=(2, 3, 3), seed=0, layout="row"):
    rng = np.random.default_rng(seed)
    Ws = [rng.uniform(-1, 1, (dims[i], dims[i + 1])) for i in range(len(dims) - 1)]
    bs = [rng.uniform(-1, 1, d) for d in dims[1:]]
    X, T = rng.uniform(-2, 2, (n, dims[0])), rng.uniform(0, 1, (n, dims[-1]))
    case = MLPCase(X, T, Ws, bs, "sigmoid", "sse", "row")
    return case if layout == "row" else MLPCase(X.T, T.T, [W.T for W in Ws], bs, "sigmoid", "sse", "column")


def test_transposed_bias_and_float32_are_named_by_shape_and_precision():
    case = _mlp_case()
    right = mistakes.right(case)
    g = right.grads
    assert diagnose(case, {**g, "W2": g["W2"].T}).codes == ["transposed"]           # square: same shape
    wide = _mlp_case(dims=(2, 4, 3))
    gw = mistakes.right(wide).grads
    assert diagnose(wide, {**gw, "W1": gw["W1"].T}).codes == ["transposed"]        # (4, 2) for (2, 4)
    assert diagnose(case, {**g, "b2": g["b2"] / 3}).codes == ["bias_averaged"]
    per_instance = mlp.loss_and_gradients(case.X, case.T, case.Ws, case.bs).deltas[1]     # (n, d): not summed
    assert diagnose(case, {**g, "b2": per_instance}).codes == ["bias_not_summed"]
    low = mlp.loss_and_gradients(case.X.astype(np.float32), case.T.astype(np.float32),
                                 [W.astype(np.float32) for W in case.Ws], [b.astype(np.float32) for b in case.bs])
    as32 = {f"W{i + 1}": d for i, d in enumerate(low.dWs)} | {f"b{i + 1}": d for i, d in enumerate(low.dbs)}
    assert diagnose(case, as32).codes == ["float32"]
    assert diagnose(case, g, right.loss / 3).codes == ["loss_gradient_normalisation"]
    wrong_loss = diagnose(case, g, right.loss * 1.1)
    assert wrong_loss.codes == ["loss_only"] and "ratio 1.1" in wrong_loss.words()


def test_a_probe_separates_mistakes_that_coincide_on_the_shrunk_case():
    """At batch 2 with zero weights, averaging the bias and halving everything give the
    same answer; on the probe case (batch 3, other weights) only one of them fits."""
    case = MLPCase(np.zeros((2, 1)), np.zeros((2, 1)), [np.zeros((1, 1))], [np.zeros(1)], "sigmoid", "sse", "row")
    g = mistakes.right(case).grads
    averaged = {**g, "b1": g["b1"] / 2}
    assert set(diagnose(case, averaged).codes) >= {"bias_averaged", "scaled_half"}

    def probe(other):
        r = mistakes.right(other).grads
        return {**r, "b1": r["b1"] / other.batch}, None
    assert diagnose(case, averaged, probe=probe).codes == ["bias_averaged"]
    graph = GraphCase(np.array([0.5, -1.0]), (Node("log", 0), Node("mul", 2, 1)))
    moved = probe_case(graph)
    assert moved.nodes == graph.nodes and np.all(moved.leaves != graph.leaves) and moved.leaves[0] > 0
    assert probe_case(GraphCase(np.array([0.01]), (Node("log", 0), Node("log", 1)))) is None   # log of log < 0


def test_one_bias_averaged_is_named_though_the_others_differ_in_their_last_bits():
    """softmax_b2_averaged of the zoo: b2 averaged, b1 right but summed in another order
    (an ulp off). Averaging applies to the biases that are wrong, not to every bias that
    is not bitwise equal; on the probe case too."""
    rng = np.random.default_rng(5)
    case = SoftmaxCase(rng.uniform(-1, 1, (2, 2)), np.eye(3)[[0, 2]], rng.uniform(-1, 1, (2, 2)),
                       rng.uniform(-1, 1, 2), rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, 3))

    def answer(c):
        r = mistakes.right(c).grads
        return {**r, "b1": np.nextafter(r["b1"], np.inf), "b2": r["b2"] / c.X.shape[0]}
    assert diagnose(case, answer(case), probe=lambda other: (answer(other), None)).codes == ["bias_averaged"]


def test_w_instead_of_its_transpose_is_named_where_only_some_layers_are_square():
    """``delta @ W`` runs only where W is square; code that runs transposed the others (the
    zoo's mlp_weight_not_transposed: ``if shapes differ: W = W.T``). Wrong through the
    square layer alone, it is still this mistake, on the case and on the probe."""
    def answer(c):
        X, T, Ws = c.row_layout()
        A = [X]
        for W, b in zip(Ws, c.bs):
            A.append(1 / (1 + np.exp(-(A[-1] @ W + b))))
        delta = 2 * (A[-1] - T) * A[-1] * (1 - A[-1])
        grads = {}
        for l in range(len(Ws) - 1, -1, -1):
            grads[f"W{l + 1}"], grads[f"b{l + 1}"] = A[l].T @ delta, delta.sum(axis=0)
            B = Ws[l] if Ws[l].shape[0] == Ws[l].shape[1] else Ws[l].T
            delta = (delta @ B) * A[l] * (1 - A[l])
        return grads, None
    case = _mlp_case(dims=(2, 3, 3, 2))                  # W2 square, W3 not
    assert diagnose(case, answer(case)[0], probe=answer).codes == ["weight_not_transposed"]


def test_a_mistake_that_fits_the_failing_case_by_accident_is_not_named():
    """pow's derivative without the -1 (k x^k instead of k x^(k-1)) is x times the right one:
    at x = 0.5 exactly half, scaled_half's answer; at the probe's x it is not."""
    case = GraphCase(np.array([0.5]), (Node("pow", 0, 2.0),))
    wrong = lambda c: {"x0": 2.0 * c.leaves[0] ** 2}                # noqa: E731
    assert diagnose(case, wrong(case)).codes == ["scaled_half"]     # without a probe: the coincidence
    found = diagnose(case, wrong(case), probe=lambda other: (wrong(other), None))
    assert found.codes == ["unknown"] and "scaled_half" in found.note and "coincidence" in found.note
    halved = lambda c: {"x0": c.leaves[0]}                          # noqa: E731  d(x^2)/dx / 2
    assert diagnose(case, halved(case), probe=lambda other: (halved(other), None)).codes == ["scaled_half"]


def test_softmax_overflow_is_named_where_exp_overflows():
    rng = np.random.default_rng(3)
    case = SoftmaxCase(rng.uniform(-1, 1, (2, 2)), np.eye(3)[[0, 2]], rng.uniform(-1, 1, (2, 2)), np.zeros(2),
                       rng.uniform(-1, 1, (2, 3)), np.array([1000.0, -1000.0, 0.0]))
    naive = mistakes.mistaken(case)["softmax_overflow"][0]
    assert not all(np.all(np.isfinite(v)) for v in naive.grads.values())
    assert "softmax_overflow" in diagnose(case, naive.grads).codes


# -- reproducers --------------------------------------------------------------------------------

BUGGY_MLP = '''
import numpy as np
from reference.protocol import *          # right everywhere ...
from reference.protocol import mlp_gradients as _right

def mlp_gradients(X, T, Ws, bs):          # ... but the last bias gradient is averaged
    loss, dWs, dbs = _right(X, T, Ws, bs)
    return loss, dWs, list(dbs[:-1]) + [dbs[-1] / len(X)]
'''


def _run(code: str, cwd, status: int = 0) -> str:
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == status, proc.stderr
    return proc.stdout


def _snippet(spec, fn, case, before=()):
    return reproducer.snippet(spec, fn, case, mistakes.right(case), before=before)


def test_a_reproducer_holds_the_output_to_the_loss_s_tolerance_not_the_gradient_s():
    """A random seed's graph: its gradient is 0 (the leaf is multiplied by itself at 0)
    and its output 0.26; the reference's own output, one ulp from the complex-valued
    evaluation the snippet prints as expected, would be WRONG under the gradient's atol."""
    nodes = (Node("add", 0, 0), Node("add", 1, 0), Node("mul", 2, 0), Node("neg", 3), Node("exp", 4),
             Node("pow", 5, 2.0), Node("neg", 6), Node("neg", 7), Node("neg", 8), Node("add", 9, 0.0),
             Node("sigmoid", 10), Node("tanh", 11))
    case = GraphCase(np.array([0.0]), nodes)
    grad_atol, loss_atol = reproducer.tolerances(case, mistakes.right(case))
    assert loss_atol > grad_atol
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(_snippet(resolve(None), "Value", case), {})
    assert "WRONG" not in out.getvalue() and "output: ok" in out.getvalue(), out.getvalue()


def test_a_reproducer_runs_and_marks_the_wrong_gradient(tmp_path):
    path = tmp_path / "theirs.py"
    path.write_text(BUGGY_MLP)
    case = _mlp_case()
    out = _run(_snippet(resolve(str(path)), "mlp_gradients", case, before=[_mlp_case(seed=1)]), tmp_path, status=1)
    verdicts = dict(line.split(": ", 1)[0:2] for line in out.splitlines() if not line.startswith(" "))
    assert verdicts.pop("dL/db2").startswith("WRONG"), out
    assert all(v.startswith("ok") for v in verdicts.values()), out


FLOAT32_MLP = """
import numpy as np
from reference.protocol import mlp_gradients as _right

def mlp_gradients(X, T, Ws, bs):
    loss, dWs, dbs = _right(X, T, Ws, bs)
    return loss, [np.float32(d) for d in dWs], dbs
"""


def test_a_reproducer_marks_a_float32_answer_and_exits_non_zero(tmp_path):
    path = tmp_path / "single.py"
    path.write_text(FLOAT32_MLP)
    snippet = _snippet(resolve(str(path)), "mlp_gradients", _mlp_case())
    out = _run(f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + snippet, tmp_path, status=1)
    assert "dL/dW1: WRONG (dtype float32, expected float64)" in out, out


def test_reproducers_follow_the_declared_conventions(tmp_path):
    """A plug-in of integer labels, column layout and (1, k) biases gets a snippet that calls
    it that way, and prints ok for a right answer."""
    from backprop_harness import systems
    source = (ROOT / "tests" / "plugins" / "conventional.py").read_text()
    declared = {"layout": "column", "labels": "index", "bias": "row", "reduction": "mean", "hidden": "tanh"}
    path = tmp_path / "conv.py"
    path.write_text(f"CONVENTIONS = {{'softmax': {declared!r}}}\n" + source)
    conv = systems.SYSTEMS["softmax"].validate(declared)
    case = SoftmaxCase(np.array([[0.5, -1.0], [1.0, 2.0]]), np.eye(3)[[2, 0]], np.array([[0.5, 1.0], [1.0, -1.0]]),
                       np.array([0.25, 0.0]), np.array([[1.0, -1.0, 0.5], [0.5, 0.5, 0.25]]),
                       np.array([0.0, 0.1, -0.1]),
                       "mean", "tanh")
    snippet = reproducer.snippet(resolve(str(path)), "softmax_gradients", case, mistakes.right(case), conv=conv)
    assert "np.array([2, 0])" in snippet                        # the labels, as integers
    out = _run(snippet, tmp_path)
    assert out.count(": ok") == 5 and "WRONG" not in out, out


@pytest.mark.parametrize("system", SYSTEMS)
@given(data=st.data())
def test_reproducers_of_the_reference_print_ok_for_every_system(system, data):
    """The snippet for each system's calls (Value graphs with constants on either side,
    003's eight partials, the class, both MLP layouts, softmax) runs as printed."""
    case = data.draw(cases(system), label="case")
    fns = {"manual_222": ["gradients"], "scalar_graph": ["Value"], "softmax": ["softmax_gradients"],
           "mlp": ["mlp_gradients"]}[system]
    if isinstance(case, MLPCase) and case.layout == "row" and case.bs is None and len(case.Ws) == 2 \
            and case.loss == "sse" and case.activations == ("sigmoid", "sigmoid"):
        fns.append("NeuralNetwork")
    defaults = ("sse", ("sigmoid",) * len(case.Ws), "row") if isinstance(case, MLPCase) else None
    if defaults and (case.loss, case.activations, case.layout) != defaults \
            or isinstance(case, SoftmaxCase) and (case.reduction, case.hidden, case.l2) != ("sum", "sigmoid", 0.0):
        return                                 # reference.protocol has the protocol's default conventions
    for fn in fns:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):          # in-process: a subprocess per example would dominate
            exec(_snippet(resolve(None), fn, case), {})
        lines = [line for line in out.getvalue().splitlines() if not line.startswith(" ")]
        assert lines and all(": ok" in line for line in lines), out.getvalue()


def test_the_schema_documents_every_code_with_its_words():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "conformance-schema.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| (.+) \|$", doc.split("## Diagnosis codes", 1)[1], re.M))
    assert rows == CODES
