"""Central finite differences for any scalar function of a flat parameter vector.

    df/dx_i ≈ (f(x + h_i e_i) - f(x - h_i e_i)) / (2 h_i),   h_i = eps^(1/3) max(1, |x_i|)

The step balances the truncation error h^2 |f'''| / 6 against the rounding
error eps |f| / h; at h ~ eps^(1/3) ≈ 6e-6 both are about eps^(2/3) ≈ 4e-11
times the scale of f and its derivatives (see ``oracles.tolerance``). h_i is
rounded so that x_i ± h_i is exactly representable, which removes one rounding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "central_difference"]

_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class Estimate:
    """A numerical gradient, with the method and per-coordinate steps that produced it.

    ``noise[i] = eps * max(|f(x + h_i e_i)|, |f(x - h_i e_i)|) / h_i`` is the
    rounding error of the quotient when f is evaluated to one ulp; where the
    gradient is tiny next to f (saturated sigmoids) it, not the truncation error,
    dominates, and ``oracles.tolerance`` adds a multiple of it to the tolerance.
    """
    gradient: np.ndarray
    method: str
    steps: np.ndarray
    noise: np.ndarray


def central_difference(f, x, rel_step: float | None = None) -> Estimate:
    """Central-difference gradient of scalar ``f`` at flat float64 vector ``x``.

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
        xp, xm = x.copy(), x.copy()
        xp[i] += h[i]
        xm[i] -= h[i]
        fp, fm = float(f(xp)), float(f(xm))
        if not (np.isfinite(fp) and np.isfinite(fm)):
            raise ValueError(f"f is not finite at x ± h along coordinate {i}")
        grad[i] = (fp - fm) / (2 * h[i])
        noise[i] = _EPS * max(abs(fp), abs(fm)) / h[i]
    return Estimate(grad, "central", h, noise)
