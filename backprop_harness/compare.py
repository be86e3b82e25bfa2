"""The one comparison reporter, in the shape of numpy's ``assert_allclose``.

    dL/dW1: IMPL vs CENTRAL (rtol 1e-07 of scale 0.3, atol 3e-08)
    Mismatched elements: 1 / 4 (25%)
      dL/dW1[0, 1]: IMPL 0.25  CENTRAL 0.125  abs err 0.125  rel err 1
    Max absolute difference: 0.125
    Max relative difference (to scale): 0.4
"""
from __future__ import annotations

import numpy as np

from oracles.tolerance import Tolerance

__all__ = ["GradientMismatch", "compare", "assert_close"]


class GradientMismatch(AssertionError):
    pass


def _flatten(x):
    if isinstance(x, dict):
        return {k: np.asarray(v, dtype=float) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and not np.isscalar(x[0]) and np.ndim(x[0]) > 0:
        return {str(i): np.asarray(v, dtype=float) for i, v in enumerate(x)}
    return {"": np.asarray(x, dtype=float)}


def compare(name, got, expected, tol: Tolerance, got_label="IMPL", expected_label="EXPECTED",
            max_lines=5, scale: float | None = None, noise=None) -> str | None:
    """None when every entry is within ``tol`` of the whole gradient's scale; else a report.

    ``got`` and ``expected`` are arrays, or dicts / sequences of arrays (one per
    parameter tensor); the scale is the largest |expected| entry over all of them,
    unless the caller passes the scale its tolerance is defined against.
    ``noise`` (the shape of a single ``expected`` array) is the oracle's per-entry
    rounding noise, which ``tol`` may add to the bound.
    """
    got, expected = _flatten(got), _flatten(expected)
    if got.keys() != expected.keys():
        return f"{name}: parameters differ: {got_label} has {sorted(got)}, {expected_label} has {sorted(expected)}"
    for k in expected:
        if got[k].shape != expected[k].shape:
            return (f"{name}{'[' + k + ']' if k else ''}: shape {got[k].shape} from {got_label}, "
                    f"expected {expected[k].shape}")
    if scale is None:
        scale = max((float(np.max(np.abs(e))) for e in expected.values() if e.size), default=0.0)
    if noise is not None and len(expected) != 1:
        raise ValueError("noise is supported for a single expected array")
    lines, n_bad, n_all, max_abs = [], 0, 0, 0.0
    for k, e in expected.items():
        g = got[k]
        err = np.where(np.isnan(g - e), np.inf, np.abs(g - e))   # NaN anywhere is a mismatch
        atol = tol.atol(scale, 0.0 if noise is None else np.asarray(noise, dtype=float).reshape(e.shape))
        bad = err > atol
        n_all += e.size
        n_bad += int(bad.sum())
        max_abs = max(max_abs, float(err.max(initial=0.0)))
        label = name + (f"[{k}]" if k else "")
        for idx in np.argwhere(bad)[: max_lines - len(lines)]:
            idx = tuple(int(i) for i in idx)
            where = f"[{', '.join(map(str, idx))}]" if idx else ""
            rel = err[idx] / scale if scale else np.inf
            bound = np.broadcast_to(atol, e.shape)[idx]
            lines.append(f"  {label}{where}: {got_label} {float(g[idx])!r}  {expected_label} {float(e[idx])!r}  "
                         f"abs err {err[idx]:.3g}  rel err {rel:.3g}  tol {bound:.3g}")
    if not n_bad:
        return None
    return "\n".join([
        f"{name}: {got_label} vs {expected_label} (rtol {tol.rtol:g} of scale {scale:.3g}, "
        f"atol {tol.atol(scale):.3g}" + (f" + {tol.noise_factor:g} x oracle noise)" if noise is not None else ")"),
        f"Mismatched elements: {n_bad} / {n_all} ({100 * n_bad / n_all:.3g}%)",
        *lines,
        f"Max absolute difference: {max_abs:.3g}",
        f"Max relative difference (to scale): {max_abs / scale if scale else np.inf:.3g}",
    ])


def assert_close(name, got, expected, tol: Tolerance, got_label="IMPL", expected_label="EXPECTED",
                 scale: float | None = None, noise=None):
    """Raise ``GradientMismatch`` with ``compare``'s report when they disagree."""
    __tracebackhide__ = True
    report = compare(name, got, expected, tol, got_label, expected_label, scale=scale, noise=noise)
    if report:
        raise GradientMismatch(report)
