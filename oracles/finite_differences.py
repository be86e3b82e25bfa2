"""Numerical derivatives of any scalar function of a flat parameter vector.

Central differences:

    df/dx_i ≈ D(h_i) = (f(x + h_i e_i) - f(x - h_i e_i)) / (2 h_i),   h_i = max(eps^(1/3), 1024 ulp(x_i))

The per-coordinate step is absolute (eps^(1/3) ≈ 6e-6) unless the coordinate is
so large that this would change fewer than its last 10 bits. It is not scaled
by |x_i|: a network's loss does not vary on a scale that grows with a weight
(a logit bias of 1000 moves the softmax on a scale of 1), and the textbook
eps^(1/3) max(1, |x_i|) takes steps of 0.7 there (000's network with logits near
1000), where Richardson's own error figure does not hold.

The step balances the truncation error h^2 |f'''| / 6 against the rounding
error eps |f| / h; at h ~ eps^(1/3) ≈ 6e-6 both are about eps^(2/3) ≈ 4e-11
times the scale of f and its derivatives (see ``oracles.tolerance``). h_i is
rounded so that x_i ± h_i is exactly representable, which removes one rounding.

Also: ``richardson`` (4th order, ~3e-13 of the scale), ``complex_step``
(exact to rounding for analytic f), ``directional`` (one derivative along a
direction, at a cost independent of the number of parameters). Each returns
an ``Estimate`` with the method, the steps and (for differences) its own
error figure.

``f`` maps a vector to a scalar; with ``batched=True`` it maps an (m, n) array of
m points to m values, and every estimator evaluates all its points in a few
calls (chunks of at most ~2^20 entries) instead of a Python loop per point: on
these small networks the interpreter's overhead per call, not the arithmetic,
would set the cost.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "ESTIMATORS", "estimate", "central_difference", "richardson", "complex_step", "COMPLEX_STEP",
           "directional", "central_difference_arrays", "ravel_all"]

_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class Estimate:
    """A numerical gradient, with the method and per-coordinate steps that produced it.

    ``noise[i]`` is the estimate's own error figure, the sum of
      * rounding, eps * max(|f(x + h e_i)|, |f(x - h e_i)|) / h: the quotient's error
        when f is evaluated to one ulp; it dominates where the gradient is tiny next
        to f (saturated sigmoids);
      * truncation, |D(2h) - D(h)| / 3, since D(h) = f' + c h^2 + O(h^4); it dominates
        where the third derivative is large next to the first (a value doubled nine
        times before a tanh: 1.5e-10 at a true gradient of 0).
    ``oracles.tolerance`` adds a multiple of it to the tolerance.
    """
    gradient: np.ndarray
    method: str
    steps: np.ndarray
    noise: np.ndarray


def _check_vector(x):
    x = np.array(x, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be a 1-D vector of finite floats, got shape {x.shape}")
    return x


def _step(x, rel_step):
    """The per-coordinate step: rel_step, or 1024 ulps of x_i where that is larger."""
    return np.maximum(rel_step, 1024 * _EPS * np.abs(x))


def _representable(x, h):
    return (x + h) - x


_CHUNK = 2 ** 20     # entries per batched call


def _coordinate_values(f, x, offsets, batched, what):
    """f at x + offsets[i, j] e_i for every coordinate i and offset j: an (n, m) array.

    Offsets may be complex (the complex step). Raises ValueError naming the first
    coordinate where f is not finite, or where f does not give one number per point.
    """
    n, m = offsets.shape
    values = np.empty((n, m), dtype=np.result_type(offsets, np.float64))
    per_call = max(1, _CHUNK // max(1, n * m)) if batched else 1
    for start in range(0, n, per_call):
        rows = np.arange(start, min(n, start + per_call))
        points = np.repeat(x[None, :].astype(values.dtype), rows.size * m, axis=0)
        points[np.arange(rows.size * m), np.repeat(rows, m)] += offsets[rows].ravel()
        if batched:
            out = np.asarray(f(points))
            if out.shape != (points.shape[0],):
                raise ValueError(f"a batched f must return one value per point: got shape {out.shape} "
                                 f"for {points.shape[0]} points")
        else:
            out = np.array([f(p) for p in points])
        if values.dtype.kind == "c" and not np.iscomplexobj(out):
            raise ValueError(f"{what}: f returned real values for complex input (does it call abs, .real or "
                             "float()?); it needs complex-safe, analytic code")
        values[rows] = out.reshape(rows.size, m)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise ValueError(f"f is not finite at the {what} points along coordinate {int(np.argmax(bad))}")
    return values


def central_difference(f, x, rel_step: float | None = None, batched: bool = False) -> Estimate:
    """Central-difference gradient of scalar ``f`` at flat float64 vector ``x`` (4 points per entry).

    Raises:
        ValueError: x is not a 1-D finite float vector, or f does not return a finite scalar.
    """
    x = _check_vector(x)
    rel_step = _EPS ** (1 / 3) if rel_step is None else rel_step
    h = _representable(x, _step(x, rel_step))
    fp, fm, fp2, fm2 = _coordinate_values(f, x, h[:, None] * np.array([1, -1, 2, -2]), batched,
                                          "central-difference").real.T
    grad = (fp - fm) / (2 * h)
    truncation = np.abs((fp2 - fm2) / (4 * h) - grad) / 3
    noise = _EPS * np.maximum(np.abs(fp), np.abs(fm)) / h + truncation
    return Estimate(grad, "central", h, noise)


def richardson(f, x, rel_step: float | None = None, batched: bool = False) -> Estimate:
    """4th-order Richardson extrapolation of central differences (6 points per entry).

        R(h) = (4 D(h/2) - D(h)) / 3 = f' + O(h^4)

    The step balances truncation h^4 |f^(5)| against rounding eps |f| / h:
    h ~ eps^(1/5) ≈ 7e-4 (absolute, as in ``central_difference``), both about eps^(4/5) ≈ 3e-13 of
    the scale of f and its derivatives, against eps^(2/3) ≈ 4e-11 for ``central_difference``.
    ``noise`` is rounding, 3 eps max|f| / h (the weights 4/3 and 1/3 on two
    quotients), plus truncation |R(h) - R(2h)| / 15, since R(2h) - R(h) ≈ 15 c h^4.
    """
    x = _check_vector(x)
    rel_step = _EPS ** (1 / 5) if rel_step is None else rel_step
    # h = 2s with x ± s exact, so that the half step is exact too
    h = 2 * _representable(x, _step(x, rel_step) / 2)
    values = _coordinate_values(f, x, h[:, None] * np.array([0.5, -0.5, 1, -1, 2, -2]), batched,
                                "Richardson").real
    d_half, d_1, d_2 = ((values[:, k] - values[:, k + 1]) / (2 * s * h) for k, s in ((0, 0.5), (2, 1), (4, 2)))
    grad = (4 * d_half - d_1) / 3
    r_2h = (4 * d_1 - d_2) / 3
    noise = 3 * _EPS * np.max(np.abs(values), axis=1) / h + np.abs(grad - r_2h) / 15
    return Estimate(grad, "richardson", h, noise)


# h = 2^-500 ≈ 3e-151. Two failure modes bound it:
# * too large: the h^2 f''' term swamps a tiny f' (x^3 at x = 1.2e-38 with h = 1.4e-20:
#   f' = 4e-76 under h^2 = 2e-40; the extrapolation removes the term but not its
#   rounding, eps h^2). At 3e-151, h^2 is below every float64 scale that matters;
# * too small: h f' underflows below float64's smallest normal 2.2e-308 (x * x at
#   x = 2.5e-296 with h = 1.4e-20). At 3e-151 that happens for f' < 7e-158, and
#   oracles.tolerance judges gradients below a scale of 1e-150 absolutely.
COMPLEX_STEP = 2.0 ** -500


def complex_step(f, x, step: float = COMPLEX_STEP, batched: bool = False) -> Estimate:
    """Complex-step derivative, extrapolated once (2 points per entry):

        C(h) = Im f(x + i h e_i) / h = f' - f''' h^2 / 6 + O(h^4)
        df/dx_i ≈ (4 C(h) - C(2h)) / 3 = f' + O(h^4)

    There is no subtraction of nearby values, hence no cancellation: for code that
    is analytic (sigmoid, tanh, exp, log, softmax, polynomials; relu away from 0)
    the estimate is the derivative to a few ulps of its terms, as exact as an
    autodiff library. The extrapolation removes the h^2 term, which is invisible
    next to a gradient of normal size but is all there is where the gradient is
    0: -x^3 at x = 0 gives C(h) = -h^2 = -1.8e-40 against a true 0 (the
    extrapolated estimate is exactly 0).

    ``f`` must accept complex input and use only analytic operations (no abs, no
    comparisons on the imaginary part, no ``.real``): see ``oracles.numeric`` for
    the four systems' losses written that way. It is judged like autodiff
    (``oracles.rounding``); ``noise`` is the extrapolation's own rounding figure.

    Raises:
        ValueError: f returns real values (it dropped the imaginary part) or non-finite ones.
    """
    x = _check_vector(x)
    # An absolute step: with no cancellation there is nothing to scale it against, and
    # a step relative to a parameter of 1e18 would be 0.017, far from infinitesimal.
    h = np.full_like(x, step)
    values = _coordinate_values(f, x, 1j * h[:, None] * np.array([1, 2]), batched, "complex-step")
    c_h, c_2h = values[:, 0].imag / h, values[:, 1].imag / (2 * h)
    # Rounding of the extrapolation: where the h^2 term dwarfs f' (f' ~ 0, f''' ~ 1),
    # C(h) is ~h^2 |f'''| and f' below eps times that is lost (a direction with
    # f' = 5e-226 under an h^2 term of 1e-41, say). Usually ~eps |f'|.
    noise = 2 * _EPS * np.maximum(np.abs(c_h), np.abs(c_2h))
    return Estimate((4 * c_h - c_2h) / 3, "complex_step", h, noise)


def directional(f, x, v, method: str = "complex_step", batched: bool = False) -> Estimate:
    """The derivative of f at x along v, d/dt f(x + t v) at t = 0, with one 1-D estimate.

    Its cost does not grow with the number of parameters (2 points for the complex
    step, 4 or 6 for the differences). For the differences the step is taken
    relative to max(1, max|x|) / max|v|, so that it moves the largest parameter
    as a per-coordinate step would. Returns a one-entry ``Estimate``.
    """
    x, v = _check_vector(x), np.asarray(v, dtype=np.float64)
    if v.shape != x.shape or not np.all(np.isfinite(v)):
        raise ValueError(f"direction must be finite with the shape of x {x.shape}, got {v.shape}")
    v_max = float(np.max(np.abs(v), initial=0.0))
    if v_max == 0.0:
        return Estimate(np.zeros(1), method, np.zeros(1), np.zeros(1))
    # differences: a step that moves the largest parameter as a per-coordinate step
    # would; the complex step: |t u| <= h, absolute, as in ``complex_step``
    scale = (1.0 if method == "complex_step" else max(1.0, float(np.max(np.abs(x), initial=0.0)))) / v_max
    u = v * scale              # g(t) = f(x + t u): g'(0) = scale * (the derivative along v)
    if batched:
        def g(t):
            return f(x[None, :] + t[:, :1] * u[None, :])
    else:
        def g(t):
            return f(x + t[0] * u)
    est = ESTIMATORS[method](g, np.zeros(1), batched=batched)
    return Estimate(est.gradient / scale, method, est.steps * scale, est.noise / scale)


def ravel_all(arrays) -> np.ndarray:
    """The entries of every array, in order, as one flat float64 vector."""
    return np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in arrays])


def central_difference_arrays(f, arrays, method: str = "central") -> Estimate:
    """The gradient of scalar ``f(list_of_arrays)`` with respect to every entry of every
    array, flattened in order (``ravel_all``), so that networks with several parameter
    tensors are checked with one call; ``method`` as in ``estimate``."""
    shapes = [np.shape(a) for a in arrays]
    splits = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]

    def flat_f(p):
        return f([part.reshape(s) for part, s in zip(np.split(p, splits), shapes)])
    return estimate(flat_f, ravel_all(arrays), method)


ESTIMATORS = {"central": central_difference, "richardson": richardson, "complex_step": complex_step}


def estimate(f, x, method: str = "central", batched: bool = False) -> Estimate:
    """The gradient of scalar ``f`` at flat vector ``x`` by ``method`` (a key of ``ESTIMATORS``)."""
    try:
        estimator = ESTIMATORS[method]
    except KeyError:
        raise ValueError(f"unknown finite-difference method {method!r}; expected one of {sorted(ESTIMATORS)}") from None
    return estimator(f, x, batched=batched)
