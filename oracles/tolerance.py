"""The tolerance policy: one table, every figure with its reason.

Errors are judged against the *scale of the whole gradient*, not entry by entry:

    |got_i - expected_i| <= rtol * max(scale, floor) + noise_factor * noise_i

so that tiny entries in saturated regions (003's dL/dw11 = -5e-8 next to
dL/dv11 = -0.1) do not raise false alarms and a large entry cannot hide an
error in a small one. The scale is

* for two *exact* evaluations (the reference, an implementation, PyTorch, JAX,
  the complex step): the largest rounding magnitude of the gradient
  (``oracles.rounding.magnitude``), which is at least the largest |entry| and
  exceeds it only where terms cancel;
* for finite differences: the largest |entry| of the estimate.

``floor`` keeps the bound meaningful when the whole gradient is ~0; ``noise_i``
is a finite-difference estimate's own error figure. Nothing grows unseen: the
only size-dependent figure, k in the exact rule, is printed in every report.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Tolerance", "POLICY", "tolerance"]

_EPS64 = float(np.finfo(np.float64).eps)
_EPS32 = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class Tolerance:
    rtol: float                 # relative to the scale of the whole gradient
    floor: float                # the smallest scale used
    reason: str
    noise_factor: float = 0.0   # times the estimate's per-entry error figure, where it reports one
    per_term: bool = False      # rtol is per term of the longest sum: multiplied by k = max(64, terms)

    def atol(self, scale: float, noise=0.0):
        return self.rtol * max(scale, self.floor) + self.noise_factor * noise


# k in the exact rule: at least 64, else the case's longest chain of roundings
# (``summation_length``: batch + 2 * sum of layer widths + a few per layer).
_K_MIN = 64

POLICY = {
    # Two exact evaluations of the same gradient in a different order differ by at
    # most k u times the magnitude (the classic bound for a sum of k terms is
    # (k - 1) u sum|terms|, u = eps/2; a product chain of length k adds k u). The
    # magnitude already folds in the error each local derivative inherits from the
    # forward pass, so k counts the roundings along the longest chain: k eps covers
    # k u with a factor 2 for complex arithmetic (the complex step). For the
    # Hypothesis networks (widths <= 8, depth <= 4, batch <= 8) k = 64..110, i.e.
    # 1.4e-14..2.4e-14 of the magnitude: an error of 1e-8 of the gradient's largest
    # entry is caught unless the terms cancel by a factor of 4e5. The reference against
    # torch64, jax64 and the complex step stays well inside this bound on the strategies'
    # cases (benchmarks/oracle_accuracy.py reports it in units of the magnitude).
    # The floor: below a gradient scale of ~1e-157 the complex step's imaginary parts,
    # h f' with h = 3e-151, fall under float64's smallest normal number (2.2e-308) and
    # lose digits to underflow (x * x at x = 2.5e-296 is one such case). Gradients
    # below a scale of 1e-150 are judged absolutely, at k eps * 1e-150.
    # The complex step also reports its extrapolation's rounding (2 eps max|C(h)|, |C(2h)|),
    # ~eps |f'| except where an h^2 f''' term dwarfs a ~0 gradient; added 4 times.
    ("exact", "float64"): Tolerance(_EPS64, 1e-150, "exact evaluations: k eps of the gradient's rounding magnitude",
                                    noise_factor=4.0, per_term=True),
    # The same rule at float32's eps, for an implementation computing in float32
    # judged against float64 oracles (the magnitudes are the same quantities).
    ("exact", "float32"): Tolerance(_EPS32, 1e-30, "float32 arithmetic: k eps32 of the rounding magnitude",
                                    noise_factor=4.0, per_term=True),
    # Central differences at h = eps^(1/3) (absolute, see finite_differences): truncation h^2 |f'''|/6 plus
    # rounding eps |f| / h are each ~eps^(2/3) = 3.7e-11 times the scale of f and its
    # derivatives. The test cases keep |f'''| and |f| within ~10x the gradient's scale
    # (weights and inputs in [-3, 3]), giving ~1e-9 (the worst over `backprop-harness
    # check`'s cases is in docs/design-figures.md); 1e-7 leaves an order of magnitude and
    # is still far below any error a real backprop bug produces (a wrong factor, sign,
    # transpose or term: >= 1e-3).
    # The estimate also reports its own error (rounding eps |f| / h plus truncation
    # |D(2h) - D(h)| / 3), added 64 times: where the gradient is tiny next to f
    # (saturated sigmoids: a gradient of 2.5e-5 with a loss of 6) or the third
    # derivative is huge next to the first (a value doubled nine
    # times, then tanh: 1.5e-10 at a true 0), those terms, not 1e-7 of the scale, set
    # the bound. f is a sum of at most a few dozen rounded terms, each adding at most
    # eps |f|, hence 64.
    ("central", "float64"): Tolerance(1e-7, 1e-3,
                                      "central differences: eps^(2/3) (|f| + |f'''|) / scale with margin, "
                                      "plus 64 x the estimate's own rounding and truncation figure",
                                      noise_factor=64.0),
    # Richardson at h = eps^(1/5): truncation h^4 |f^(5)| and rounding eps |f| / h are
    # each ~eps^(4/5) = 3e-13 of the scale of f and its derivatives; with the same
    # ~10x allowance for |f| and |f^(5)| against the gradient as above, 3e-12, and
    # 1e-10 keeps a 30x margin. Its own error figure is added 64 times, as above.
    ("richardson", "float64"): Tolerance(1e-10, 1e-3,
                                         "Richardson: eps^(4/5) (|f| + |f^(5)|) / scale with margin, "
                                         "plus 64 x the estimate's own rounding and truncation figure",
                                         noise_factor=64.0),
}


def tolerance(method: str, dtype: str = "float64", terms: int | None = None) -> Tolerance:
    """The policy's tolerance for ``method`` at ``dtype``; for the exact rule, ``terms``
    is the case's ``summation_length`` and k = max(64, terms) is applied (and named)."""
    try:
        tol = POLICY[(method, dtype)]
    except KeyError:
        raise KeyError(f"no tolerance for method {method!r} at dtype {dtype!r}; "
                       f"known: {sorted(POLICY)}") from None
    if tol.per_term:
        k = max(_K_MIN, terms or 0)
        tol = replace(tol, rtol=tol.rtol * k, reason=f"{tol.reason} (k = {k})", per_term=False)
    return tol
