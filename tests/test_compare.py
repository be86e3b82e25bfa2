"""The comparison reporter and the tolerance policy can fail, and say why."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_harness.compare import GradientMismatch, assert_close, compare
from oracles.finite_differences import central_difference
from oracles.tolerance import tolerance
from reference import mlp


def _case():
    rng = np.random.default_rng(7)
    X, T = rng.uniform(-1, 1, (3, 2)), rng.uniform(0, 1, (3, 2))
    W = rng.uniform(-1, 1, (2, 2))
    g = mlp.loss_and_gradients(X, T, [W]).dWs[0]
    fd = central_difference(lambda p: mlp.loss_and_gradients(X, T, [p.reshape(2, 2)]).loss, W.ravel())
    return g.ravel(), fd


def test_reference_passes_and_a_small_error_is_caught():
    g, fd = _case()
    assert_close("dL/dW1", g, fd.gradient, tolerance("central"), "MLP", "CENTRAL", noise=fd.noise)
    wrong = g.copy()
    wrong[1] += 1e-5 * np.max(np.abs(g))          # far below any classic mistake, still caught
    with pytest.raises(GradientMismatch) as info:
        assert_close("dL/dW1", wrong, fd.gradient, tolerance("central"), "MLP", "CENTRAL", noise=fd.noise)
    report = str(info.value)
    for expected in ("dL/dW1[1]", "MLP", "CENTRAL", "Mismatched elements: 1 / 4 (25%)", "rtol 1e-07", "tol "):
        assert expected in report


def test_nan_and_shape_are_mismatches():
    tol = tolerance("exact")
    nan = compare("g", np.array([1.0, np.nan]), np.array([1.0, 2.0]), tol)
    assert (nan.mismatched, nan.total, nan.entries[0].label) == (1, 2, "g[1]")
    assert "Mismatched elements: 1 / 2" in str(nan)
    assert "shape (3,)" in compare("g", np.ones(3), np.ones(2), tol).problem
    assert str(compare("g", {"W": np.ones(2)}, {"b": np.ones(2)}, tol)).startswith("g: parameters differ")


def test_errors_are_judged_against_the_whole_gradient():
    tol = tolerance("exact")
    expected = np.array([1.0, 1e-12])
    assert compare("g", expected + [0.0, 1e-15], expected, tol) is None        # 1e-15 of the scale
    assert compare("g", expected + [0.0, 1e-13], expected, tol) is not None    # 1e-13 of the scale


def test_gradient_report_names_parameter_sides_errors_and_tolerance():
    """The report a person reads: which entry, both sides by name, abs/rel error, the
    tolerance applied and its reason, how many entries disagree; no Jacobian dump."""
    import oracles
    from backprop_harness.compare import gradient_report
    from backprop_harness.implementations import reference_gradient
    from oracles import Gradient
    from oracles.cases import MLPCase

    rng = np.random.default_rng(3)
    case = MLPCase(rng.uniform(-1, 1, (4, 3)), rng.uniform(0, 1, (4, 2)),
                   [rng.uniform(-1, 1, (3, 5)), rng.uniform(-1, 1, (5, 2))], None, "sigmoid")
    ref = reference_gradient(case)
    assert gradient_report(case, ref, oracles.gradient(case, "torch64")) is None
    wrong = dict(ref.grads)
    wrong["W1"] = ref.grads["W1"].copy()
    wrong["W1"][0, 1] *= 1 + 1e-6
    report = gradient_report(case, Gradient(ref.loss, wrong, "reference"), oracles.gradient(case, "torch64"))
    for expected in ("dL/dW1[0, 1]: REFERENCE", "TORCH64", "abs err", "rel err", "tol ",
                     "Mismatched elements: 1 / 25 (4%)", "k = 64", "rounding magnitude"):
        assert expected in str(report), expected
    assert len(str(report).splitlines()) <= 8
    assert report.first.startswith("dL/dW1[0, 1]: REFERENCE")


@pytest.mark.parametrize("seed", range(40))
def test_the_quick_verdict_is_the_per_entry_one(seed):
    """``compare`` decides "all within" over all tensors at once and builds the per-entry
    report only otherwise: its verdict must be that of judging every entry on its own
    (NaN and inf anywhere a mismatch; each entry's bound with its own noise), and a
    mismatch must name exactly the offending entries."""
    rng = np.random.default_rng(seed)
    shapes = {"W1": (2, 3), "b1": (3,), "x0": ()}
    expected = {k: rng.normal(size=s) for k, s in shapes.items()}
    noise = {k: np.abs(rng.normal(size=s)) * 1e-9 for k, s in shapes.items()}
    tol, scale = tolerance("central"), 1.0
    got = {k: v + rng.choice([0.0, 0.5, 2.0], size=v.shape) * tol.atol(scale, noise[k]) for k, v in expected.items()}
    special = rng.integers(0, 6)
    if special == 1:
        got["W1"][1, 2] = np.nan
    elif special == 2:
        expected["b1"][0] = got["b1"][0] = np.inf              # inf - inf is NaN: a mismatch
    elif special == 3:
        got["x0"] = np.array(np.inf)
    with np.errstate(invalid="ignore"):
        bad = [(k, idx) for k in shapes for idx in np.ndindex(shapes[k])
               if not abs(got[k][idx] - expected[k][idx]) <= tol.atol(scale, noise[k][idx])]
    report = compare("dL/d", got, expected, tol, noise=noise, max_lines=20, scale=scale)
    assert (report is None) == (not bad)
    if bad:
        assert f"Mismatched elements: {len(bad)} / 10 " in str(report)
        assert sorted(e.label for e in report.entries) == sorted(
            f"dL/d{k}{'[' + ', '.join(map(str, idx)) + ']' if idx else ''}" for k, idx in bad)


def test_a_nan_in_the_expected_gradient_is_a_mismatch_not_a_nan_bound():
    report = compare("x", {"a": np.array([1.0, 5.0])}, {"a": np.array([np.nan, 1.0])}, tolerance("central"))
    assert report is not None and "Mismatched elements: 2 / 2" in str(report)
