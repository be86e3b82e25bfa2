"""The tolerance policy: one table, every figure with its reason.

Errors are judged against the *scale of the whole gradient*, not entry by entry:

    |got_i - expected_i| <= atol_i = rtol * scale,   scale = max(max_j |expected_j|, floor)

so that tiny entries in saturated regions (003's dL/dw11 = -5e-8 next to
dL/dv11 = -0.1) do not raise false alarms and a large entry cannot hide an
error in a small one. ``floor`` keeps the bound meaningful when the whole
gradient is ~0.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tolerance", "POLICY", "tolerance"]


@dataclass(frozen=True)
class Tolerance:
    rtol: float      # relative to the scale of the whole expected gradient
    floor: float     # the smallest scale used
    reason: str

    def atol(self, scale: float) -> float:
        return self.rtol * max(scale, self.floor)


POLICY = {
    # Two float64 computations of the same gradient by different routes (different
    # association of sums, products taken in another order): each entry is a sum of
    # a few rounded terms, so they agree to a few ulps of the largest entry. 003's
    # "all ways lead to Rome" asks for relative difference <= 1e-15.
    ("route", "float64"): Tolerance(1e-15, 1e-300,
                                    "same maths, other evaluation order: a few ulps (eps = 2.2e-16)"),
    # Central differences at h = eps^(1/3) * max(1, |x|): truncation h^2 |f'''|/6 plus
    # rounding eps |f| / h are each ~eps^(2/3) = 3.7e-11 times the scale of f and its
    # derivatives. The test cases keep |f'''| and |f| within ~10x the gradient's scale
    # (weights and inputs in [-3, 3]), giving ~1e-9; 1e-7 leaves two decades of margin
    # and is still 1e4 times below any error a real backprop bug produces.
    ("central", "float64"): Tolerance(1e-7, 1e-3,
                                      "central differences: eps^(2/3) * (|f| + |f'''|) / scale, with 100x margin"),
}


def tolerance(method: str, dtype: str = "float64") -> Tolerance:
    try:
        return POLICY[(method, dtype)]
    except KeyError:
        raise KeyError(f"no tolerance for method {method!r} at dtype {dtype!r}; "
                       f"known: {sorted(POLICY)}") from None
