"""The property suite: the reference against every oracle and the oracles against each
other (on the same cases), forward mode against jvp, and the policy's sensitivity, on
Hypothesis cases of all four systems in every regime."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import event, given, note, strategies as st

import oracles
from backprop_harness.compare import assert_gradients_agree, compare, gradient_report
from backprop_harness.implementations import reference_forward_mode, reference_gradient
from backprop_harness.strategies import SOFTMAX_REGIMES, cases, directions
from oracles import EXACT, ORACLES, Gradient
from oracles.rounding import magnitude
from oracles.tolerance import tolerance

SYSTEM_REGIMES = [("scalar_graph", "conditioned")] + [
    (system, regime) for system in ("manual_222", "mlp") for regime in ("conditioned", "saturated")] + [
    ("softmax", regime) for regime in SOFTMAX_REGIMES]


def _params(pairs):
    return [pytest.param(system, regime, id=f"{system}-{regime}", marks=pytest.mark.system(system))
            for system, regime in pairs]


@pytest.mark.parametrize("system, regime", _params(SYSTEM_REGIMES))
@given(data=st.data())
def test_reference_and_every_oracle_agree_pairwise(system, regime, data):
    """The reference against every oracle, and every pair of oracles against each other,
    on the same case (each oracle computed once per example); in the conditioned regime,
    also the policy's sensitivity on that case (``_one_entry_off_by_1e_8_is_caught``)."""
    case = data.draw(cases(system, regime), label="case")
    answers = {oracle: oracles.gradient(case, oracle) for oracle in ORACLES}
    ref = reference_gradient(case)
    for oracle in ORACLES:
        assert_gradients_agree(case, ref, answers[oracle])
    for a, b in itertools.combinations(ORACLES, 2):
        # an exact oracle is the reference point; between two estimates, the coarser judges
        if b in EXACT and a not in EXACT:
            a, b = b, a
        assert_gradients_agree(case, answers[a], answers[b])
    if regime == "conditioned":
        _one_entry_off_by_1e_8_is_caught(case, ref, answers, data)


def _direction(data, case):
    return data.draw(directions(case.params()), label="direction")


def _dot(grads, direction):
    return sum(float(np.sum(np.asarray(grads[k]) * direction[k])) for k in direction)


@pytest.mark.parametrize("system, regime", _params(SYSTEM_REGIMES))
@given(data=st.data())
def test_directional_derivatives_equal_the_gradient_along_the_direction(system, regime, data):
    """One forward-mode pass (torch dual tensors, jax.jvp) or one complex evaluation gives
    grad . v; the reference's gradient dotted with v must agree."""
    case = data.draw(cases(system, regime), label="case")
    v = _direction(data, case)
    expected = _dot(reference_gradient(case).grads, v)
    _, mags = magnitude(case)
    scale = _dot(mags, {k: np.abs(d) for k, d in v.items()})      # the dot product's own term magnitude
    tol = tolerance("exact", terms=case.summation_length + sum(np.size(d) for d in v.values()))
    for oracle in EXACT:
        assert_close_scalar(f"dL/dv ({oracle})", expected, oracles.directional(case, v, oracle), tol, scale)


def assert_close_scalar(name, got, expected: oracles.Directional, tol, scale):
    __tracebackhide__ = True
    report = compare(name, got, expected.value, tol, "REFERENCE", expected.method.upper(), scale=scale,
                     noise=expected.noise)
    assert report is None, report


@pytest.mark.system("scalar_graph")
@given(data=st.data())
def test_forward_mode_matches_torch_and_jax_jvp(data):
    """The reference's own forward mode (tangent propagation), not its gradient, against jvp."""
    case = data.draw(cases("scalar_graph"), label="case")
    v = _direction(data, case)
    _, mags = magnitude(case)
    scale = _dot(mags, {k: np.abs(d) for k, d in v.items()})
    tol = tolerance("exact", terms=case.summation_length)
    got = reference_forward_mode(case, v)
    for oracle in ("torch64", "jax64", "complex_step"):
        assert_close_scalar("d out/dv", got, oracles.directional(case, v, oracle), tol, scale)


# --- sensitivity: the policy is not blind --------------------------------------------

SENSITIVITY = 1e-8
# The exact rule's bound is k eps (<= 110 * 2.2e-16 = 2.4e-14 here) times the rounding
# magnitude; a change of 1e-8 of the largest entry is above it unless the terms cancel
# by a factor above 1e-8 / 2.4e-14 = 4e5. Cases that cancel by more than 1e5 (an output
# landing on its target everywhere) are set aside, not counted as caught.
MAX_CANCELLATION = 1e5


def _one_entry_off_by_1e_8_is_caught(case, ref, answers, data):
    """One entry of the reference's gradient moved by 1e-8 of the largest entry must fail
    the comparison with every exact oracle, at that parameter. Cases below the exact
    rule's floor (judged absolutely, see oracles.tolerance) or cancelling by more than
    MAX_CANCELLATION are set aside (Hypothesis's statistics count them as such)."""
    largest = max(float(np.max(np.abs(g))) for g in ref.grads.values())
    _, mags = magnitude(case)
    if not (largest > tolerance("exact").floor
            and max(float(np.max(m)) for m in mags.values()) <= MAX_CANCELLATION * largest):
        event("sensitivity: set aside (cancellation or below the floor)")
        return
    names = list(ref.grads)
    name = data.draw(st.sampled_from(names), label="parameter")
    flat = np.array(ref.grads[name], dtype=float).ravel()
    i = data.draw(st.integers(0, flat.size - 1), label="entry")
    flat[i] += data.draw(st.sampled_from([1.0, -1.0]), label="sign") * SENSITIVITY * largest
    wrong = Gradient(ref.loss, {**ref.grads, name: flat.reshape(np.shape(ref.grads[name]))}, "perturbed")
    for oracle in EXACT:
        report = gradient_report(case, wrong, answers[oracle])
        note(f"{oracle}: {report}")
        assert report is not None and f"dL/d{name}" in str(report), f"{oracle} missed dL/d{name} entry {i} off by 1e-8"


def test_unknown_oracle_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown oracle 'tensorflow'"):
        oracles.gradient(None, "tensorflow")
