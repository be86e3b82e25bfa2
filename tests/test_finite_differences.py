"""The numerical oracles on functions with known derivatives, their error figures,
their clear errors, and lazy imports of the heavy oracles."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from oracles.finite_differences import central_difference, complex_step, directional, estimate, richardson


def f(x):
    """sum_i sin(x_i) e^(x_i / 2): every derivative is of the order of f itself."""
    return np.sum(np.sin(x) * np.exp(x / 2), axis=-1)


def df(x):
    return (np.cos(x) + np.sin(x) / 2) * np.exp(x / 2)


X = np.array([-2.5, -0.3, 0.0, 0.7, 1.9, 3.0])


@pytest.mark.parametrize("batched", [False, True])
def test_accuracy_of_each_method_relative_to_the_largest_entry(batched):
    exact = df(X)
    scale = np.max(np.abs(exact))
    central = central_difference(f, X, batched=batched)
    rich = richardson(f, X, batched=batched)
    cs = complex_step(f, X, batched=batched)
    # the orders of magnitude the policy is built on (oracles/tolerance.py)
    assert np.max(np.abs(central.gradient - exact)) / scale < 1e-9
    assert np.max(np.abs(rich.gradient - exact)) / scale < 1e-11
    assert np.max(np.abs(cs.gradient - exact)) / scale < 4 * np.finfo(float).eps
    # each difference estimate's own error figure covers its actual error
    assert np.all(np.abs(central.gradient - exact) <= central.noise * 4)
    assert np.all(np.abs(rich.gradient - exact) <= rich.noise * 4)
    assert central.method == "central" and rich.method == "richardson" and cs.method == "complex_step"


def test_complex_step_is_exact_where_the_gradient_is_zero():
    # C(h) = -h^2 for x^3 at 0; the extrapolation removes it
    assert complex_step(lambda x: np.sum(x ** 3), np.zeros(2)).gradient.tolist() == [0.0, 0.0]


def test_steps_are_absolute_unless_the_coordinate_is_huge():
    est = central_difference(lambda x: np.sum(x), np.array([0.5, 1000.0, 1e12]))
    assert est.steps[:2] == pytest.approx([6.06e-6, 6.06e-6], rel=1e-2)   # exactly representable, hence ~
    assert est.steps[2] >= 1024 * np.spacing(1e12)


@pytest.mark.parametrize("method", ["central", "richardson", "complex_step"])
def test_directional_equals_gradient_dot_direction(method):
    v = np.linspace(-1, 1, X.size)
    est = directional(f, X, v, method)
    assert est.gradient.shape == (1,)
    assert est.gradient[0] == pytest.approx(df(X) @ v, rel=1e-8)


def test_complex_step_needs_complex_safe_code():
    with pytest.raises(ValueError, match="returned real values for complex input"):
        complex_step(lambda x: float(np.sum(np.abs(x))), X)


@pytest.mark.parametrize("bad, match", [
    (np.array([[1.0, 2.0]]), "1-D vector"),
    (np.array([1.0, np.nan]), "1-D vector of finite floats"),
])
def test_bad_points_are_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        central_difference(f, bad)


def test_non_finite_function_names_the_coordinate():
    with pytest.raises(ValueError, match="not finite .* coordinate 1"), np.errstate(invalid="ignore"):
        central_difference(lambda x: np.sqrt(x[1]), np.array([1.0, 1e-6]))


def test_unknown_method_and_bad_batched_output():
    with pytest.raises(ValueError, match="unknown finite-difference method 'forward'"):
        estimate(f, X, "forward")
    with pytest.raises(ValueError, match="one value per point"):
        central_difference(lambda P: np.zeros(3), X, batched=True)


def test_oracles_import_lazily():
    """A run that needs only the numerical oracles does not import torch or JAX."""
    code = ("import sys; import oracles; from oracles.cases import GraphCase, Node; "
            "from backprop_harness.compare import gradient_report; "
            "oracles.gradient(GraphCase([1.0], (Node('exp', 0),)), 'complex_step'); "
            "print(sorted(m for m in ('torch', 'jax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
