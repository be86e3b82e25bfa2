"""Central finite differences for any scalar function of a flat parameter vector.

    df/dx_i ≈ D(h_i) = (f(x + h_i e_i) - f(x - h_i e_i)) / (2 h_i),   h_i = eps^(1/3) max(1, |x_i|)

The step balances the truncation error h^2 |f'''| / 6 against the rounding
error eps |f| / h; at h ~ eps^(1/3) ≈ 6e-6 both are about eps^(2/3) ≈ 4e-11
times the scale of f and its derivatives (see ``oracles.tolerance``). h_i is
rounded so that x_i ± h_i is exactly representable, which removes one rounding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "central_difference", "central_difference_arrays", "ravel_all"]

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


def central_difference(f, x, rel_step: float | None = None) -> Estimate:
    """Central-difference gradient of scalar ``f`` at flat float64 vector ``x`` (4 calls per entry).

    Raises:
        ValueError: x is not a 1-D finite float vector, or f does not return a finite scalar.
    """
    x = np.array(x, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be a 1-D vector of finite floats, got shape {x.shape}")
    rel_step = _EPS ** (1 / 3) if rel_step is None else rel_step
    h = rel_step * np.maximum(1.0, np.abs(x))
    h = (x + h) - x                       # exactly representable step
    grad, noise = np.empty_like(x), np.empty_like(x)
    for i in range(x.size):
        values = []
        for step in (h[i], -h[i], 2 * h[i], -2 * h[i]):
            xs = x.copy()
            xs[i] += step
            values.append(float(f(xs)))
        if not np.isfinite(values).all():
            raise ValueError(f"f is not finite at x ± h, x ± 2h along coordinate {i}")
        fp, fm, fp2, fm2 = values
        grad[i] = (fp - fm) / (2 * h[i])
        truncation = abs((fp2 - fm2) / (4 * h[i]) - grad[i]) / 3
        noise[i] = _EPS * max(abs(fp), abs(fm)) / h[i] + truncation
    return Estimate(grad, "central", h, noise)


def ravel_all(arrays) -> np.ndarray:
    """The entries of every array, in order, as one flat float64 vector."""
    return np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in arrays])


def central_difference_arrays(f, arrays) -> Estimate:
    """Central differences of scalar ``f(list_of_arrays)`` with respect to every entry of
    every array, flattened in order (``ravel_all``), so that networks with several
    parameter tensors are checked with one call."""
    shapes = [np.shape(a) for a in arrays]
    splits = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]

    def flat_f(p):
        return f([part.reshape(s) for part, s in zip(np.split(p, splits), shapes)])
    return central_difference(flat_f, ravel_all(arrays))
