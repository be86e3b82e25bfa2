"""The tolerance policy: one table, every figure with its reason.

Errors are judged against the *scale of the whole gradient*, not entry by entry:

    |got_i - expected_i| <= rtol * max(scale, floor) + noise_factor * noise_i

with scale = max_j |expected_j| unless the comparison defines another (see
"route"), so that tiny entries in saturated regions (003's dL/dw11 = -5e-8 next
to dL/dv11 = -0.1) do not raise false alarms and a large entry cannot hide an
error in a small one. ``floor`` keeps the bound meaningful when the whole
gradient is ~0; ``noise_i`` is the oracle's own rounding-noise figure where it
reports one (finite differences do). Nothing grows with the number of entries.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tolerance", "POLICY", "tolerance"]

_EPS = 2.0 ** -52


@dataclass(frozen=True)
class Tolerance:
    rtol: float                 # relative to the scale of the whole expected gradient
    floor: float                # the smallest scale used
    reason: str
    noise_factor: float = 0.0   # times the oracle's per-entry rounding noise, where it reports one

    def atol(self, scale: float, noise=0.0):
        return self.rtol * max(scale, self.floor) + self.noise_factor * noise


POLICY = {
    # Two float64 evaluations of the same gradient in a different order (reverse vs
    # forward mode, row vs column layout, sum vs mean rescaled). Each entry is a sum
    # of path products; reordering moves it by at most ~k eps times the sum of the
    # |terms| (k = path length + fan-in, under 30 for the tests' graphs), so the
    # difference is bounded relative to that magnitude, not to |gradient|:
    #   * where terms can cancel, the caller passes that magnitude as the scale:
    #     engine.gradient_magnitude on a scalar graph (measured: forward vs reverse
    #     differ by 6.8e-12 of |gradient| but 6e-17 of the path magnitude) and on the
    #     2-2-2 routes; oracles.rounding.mlp_magnitude for row vs column layout
    #     (Hypothesis found an output landing on its target: 7e-14 of |gradient|;
    #     worst over 3,000 random networks: 1.5e-16 of the magnitude);
    #   * 64 eps = 1.4e-14 covers the k eps bound with k <= 64.
    # 003's own claim ("all ways lead to Rome", <= 1e-15 on its network) is tested
    # separately on 003's weights, where it holds as stated.
    ("route", "float64"): Tolerance(64 * _EPS, 1e-300,
                                    "other evaluation order: k eps of the summed |terms|, k <= 64"),
    # Central differences at h = eps^(1/3) * max(1, |x|): truncation h^2 |f'''|/6 plus
    # rounding eps |f| / h are each ~eps^(2/3) = 3.7e-11 times the scale of f and its
    # derivatives. The test cases keep |f'''| and |f| within ~10x the gradient's scale
    # (weights and inputs in [-3, 3]), giving ~1e-9 (measured worst: 5.5e-9 over 400
    # cases); 1e-7 leaves an order of magnitude and is still far below any error a
    # real backprop bug produces (a wrong factor, sign, transpose or term: >= 1e-3).
    # The estimate also reports its own error (rounding eps |f| / h plus truncation
    # |D(2h) - D(h)| / 3), added 64 times: where the gradient is tiny next to f
    # (saturated sigmoids: gradient 2.5e-5 with loss 6, error 1.1 x the rounding
    # figure) or the third derivative is huge next to the first (a value doubled nine
    # times, then tanh: 1.5e-10 at a true 0), those terms, not 1e-7 of the scale, set
    # the bound. f is a sum of at most a few dozen rounded terms, each adding at most
    # eps |f|, hence 64.
    ("central", "float64"): Tolerance(1e-7, 1e-3,
                                      "central differences: eps^(2/3) (|f| + |f'''|) / scale with margin, "
                                      "plus 64 x the estimate's own rounding and truncation figure",
                                      noise_factor=64.0),
}


def tolerance(method: str, dtype: str = "float64") -> Tolerance:
    try:
        return POLICY[(method, dtype)]
    except KeyError:
        raise KeyError(f"no tolerance for method {method!r} at dtype {dtype!r}; "
                       f"known: {sorted(POLICY)}") from None
