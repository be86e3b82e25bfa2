"""The one comparison reporter, in the shape of numpy's ``assert_allclose``.

    dL/dparams: REFERENCE vs TORCH64 (rtol 1.42e-14 of scale 0.3 = atol 4.3e-15; exact evaluations: ... (k = 64))
    Mismatched elements: 1 / 12 (8.33%)
      dL/dW1[0, 1]: REFERENCE 0.25  TORCH64 0.125  abs err 0.125  rel err 0.417  tol 4.3e-15
    Max absolute difference: 0.125
    Max relative difference (to scale): 0.417

At most ``max_lines`` offending entries are listed, the worst first; a whole
Jacobian is never printed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracles import EXACT, Gradient
from oracles.rounding import exact_rule
from oracles.tolerance import Tolerance, tolerance

__all__ = ["GradientMismatch", "Entry", "Mismatch", "Report", "compare", "assert_close", "gradient_report",
           "assert_gradients_agree"]


class GradientMismatch(AssertionError):
    """Two answers disagree; ``report`` is the ``Mismatch`` or ``Report`` that says how."""

    def __init__(self, report):
        super().__init__(str(report))
        self.report = report


def _flatten(x):
    if isinstance(x, dict):
        return {k: np.asarray(v, dtype=float) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and not np.isscalar(x[0]) and np.ndim(x[0]) > 0:
        return {str(i): np.asarray(v, dtype=float) for i, v in enumerate(x)}
    return {"": np.asarray(x, dtype=float)}


def _label(name, key):
    if not key:
        return name
    return f"{name}{key}" if name.endswith("/d") else f"{name}[{key}]"


@dataclass(frozen=True)
class Entry:
    """One offending entry: its label (``dL/dW1[0, 1]``), both values, its error and bound."""
    label: str
    got: float
    expected: float
    abs_err: float
    rel_err: float
    bound: float


@dataclass(frozen=True)
class Mismatch:
    """Two answers that disagree, as data: what was compared, under which tolerance and scale,
    and the offending entries, the worst first. ``str()`` is the numpy-style report.

    ``problem`` is set instead of ``entries`` when the answers cannot be compared entry by
    entry (other parameters, another shape)."""
    name: str
    got_label: str
    expected_label: str
    tol: Tolerance
    scale: float
    entries: tuple = ()
    mismatched: int = 0
    total: int = 0
    max_abs: float = 0.0
    noise: bool = False
    problem: str | None = None
    max_lines: int = 5

    @property
    def first(self) -> str | None:
        """The worst entry's line, or the problem."""
        if self.problem:
            return self.problem
        return self._line(self.entries[0]) if self.entries else None

    def _line(self, e: Entry) -> str:
        return (f"{e.label}: {self.got_label} {e.got!r}  {self.expected_label} {e.expected!r}  abs err "
                f"{e.abs_err:.3g}  rel err {e.rel_err:.3g}  tol {e.bound:.3g}")

    def __str__(self) -> str:
        if self.problem:
            return self.problem
        lines = [f"  {self._line(e)}" for e in self.entries[:self.max_lines]]
        if self.mismatched > self.max_lines:
            lines.append(f"  ... and {self.mismatched - self.max_lines} more")
        return "\n".join([
            f"{self.name}: {self.got_label} vs {self.expected_label} (rtol {self.tol.rtol:.3g} of scale "
            f"{self.scale:.3g} = atol {self.tol.atol(self.scale):.3g}"
            + (f" + {self.tol.noise_factor:g} x estimate noise" if self.noise else "") + f"; {self.tol.reason})",
            f"Mismatched elements: {self.mismatched} / {self.total} ({100 * self.mismatched / self.total:.3g}%)",
            *lines,
            f"Max absolute difference: {self.max_abs:.3g}",
            f"Max relative difference (to scale): {self.max_abs / self.scale if self.scale else np.inf:.3g}",
        ])


@dataclass(frozen=True)
class Report:
    """The mismatches of two answers to one case (gradient, loss), under one heading."""
    heading: str
    mismatches: tuple

    @property
    def first(self) -> str | None:
        return next((m.first for m in self.mismatches if m.first), None)

    def __str__(self) -> str:
        return "\n".join([self.heading, *map(str, self.mismatches)])


def compare(name, got, expected, tol: Tolerance, got_label="IMPL", expected_label="EXPECTED",
            max_lines=5, scale: float | None = None, noise=None) -> Mismatch | None:
    """None when every entry is within ``tol`` of the whole gradient's scale; else the mismatch.

    ``got`` and ``expected`` are arrays, or dicts / sequences of arrays (one per
    parameter tensor). A name ending in "/d" is joined to the dict keys, so
    ``compare("dL/d", {"W1": ...})`` reports ``dL/dW1[0, 1]``. The scale is the
    largest |expected| entry over all of them, unless the caller passes the scale
    its tolerance is defined against. ``noise`` (shaped like ``expected``) is the
    estimate's per-entry error figure, which ``tol`` may add to the bound.
    """
    got, expected = _flatten(got), _flatten(expected)
    noise = None if noise is None else _flatten(noise)
    same = dict(name=name, got_label=got_label, expected_label=expected_label, tol=tol, max_lines=max_lines)
    if got.keys() != expected.keys():
        return Mismatch(**same, scale=0.0, problem=f"{name}: parameters differ: {got_label} has {sorted(got)}, "
                                                   f"{expected_label} has {sorted(expected)}")
    for k in expected:
        if got[k].shape != expected[k].shape:
            return Mismatch(**same, scale=0.0, problem=f"{_label(name, k)}: shape {got[k].shape} from {got_label}, "
                                                       f"expected {expected[k].shape}")
    if scale is None:       # of the finite entries: a NaN scale would make every bound NaN, and pass
        scale = max((float(np.max(np.abs(e[np.isfinite(e)]), initial=0.0)) for e in expected.values()), default=0.0)
    if _all_within(got, expected, tol, scale, noise):
        return None
    offenders, n_bad, n_all, max_abs = [], 0, 0, 0.0
    for k, e in expected.items():
        g = got[k]
        with np.errstate(invalid="ignore"):                      # inf - inf: NaN, handled here
            err = np.where(np.isnan(g - e), np.inf, np.abs(g - e))   # NaN anywhere is a mismatch
        atol = np.broadcast_to(tol.atol(scale, 0.0 if noise is None else noise[k].reshape(e.shape)), e.shape)
        bad = err > atol
        n_all += e.size
        n_bad += int(bad.sum())
        max_abs = max(max_abs, float(err.max(initial=0.0)))
        for idx in np.argwhere(bad):
            idx = tuple(int(i) for i in idx)
            where = f"[{', '.join(map(str, idx))}]" if idx else ""
            offenders.append((float(err[idx] / atol[idx]) if atol[idx] else np.inf,
                              Entry(f"{_label(name, k)}{where}", float(g[idx]), float(e[idx]), float(err[idx]),
                                    float(err[idx]) / scale if scale else np.inf, float(atol[idx]))))
    if not n_bad:
        return None
    entries = tuple(e for _, e in sorted(offenders, key=lambda o: -o[0]))
    return Mismatch(**same, scale=scale, entries=entries, mismatched=n_bad, total=n_all, max_abs=max_abs,
                    noise=noise is not None)


def _all_within(got: dict, expected: dict, tol: Tolerance, scale: float, noise) -> bool:
    """Every entry within ``tol`` (no NaN): the common case, decided in a few array
    operations over all tensors at once; the report is built only when it is not."""
    if not expected:
        return True
    if len(expected) == 1:
        (k, e), = expected.items()
        g, n = got[k], (None if noise is None else noise[k])
    else:
        e = np.concatenate([v.ravel() for v in expected.values()])
        g = np.concatenate([got[k].ravel() for k in expected])
        n = None if noise is None else np.concatenate([np.reshape(noise[k], expected[k].shape).ravel()
                                                       for k in expected])
    atol = tol.atol(scale, 0.0 if n is None else np.reshape(n, np.shape(e)))
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.abs(g - e) <= atol))        # False where either is NaN


def assert_close(name, got, expected, tol: Tolerance, got_label="IMPL", expected_label="EXPECTED",
                 scale: float | None = None, noise=None):
    """Raise ``GradientMismatch`` with ``compare``'s report when they disagree."""
    __tracebackhide__ = True
    report = compare(name, got, expected, tol, got_label, expected_label, scale=scale, noise=noise)
    if report:
        raise GradientMismatch(report)


def _noise(a: Gradient, b: Gradient):
    if a.noise is None and b.noise is None:
        return None
    return {k: (0.0 if a.noise is None else a.noise[k]) + (0.0 if b.noise is None else b.noise[k]) for k in b.grads}


def gradient_report(case, got: Gradient, expected: Gradient, dtype: str = "float64",
                    check_loss: bool = True) -> Report | None:
    """Compare two answers to ``case`` under the policy; None when they agree, else the ``Report``.

    When both are exact evaluations (the reference, an implementation, an
    autodiff oracle, the complex step), the tolerance is the exact rule on the
    case's rounding magnitude; when either is a finite-difference estimate, that
    method's rule with its noise figure, on the scale of the estimate's gradient.
    """
    numeric = [g.method for g in (expected, got) if g.method not in EXACT and g.noise is not None]
    names = f"{got.method.upper()} vs {expected.method.upper()}"
    reports = []
    if numeric:
        tol = tolerance(numeric[0], dtype)
        scale = max(float(np.max(np.abs(v), initial=0.0)) for v in expected.grads.values())
        noise = _noise(got, expected)
        L_scale = None
    else:
        rule = exact_rule(case, expected, dtype)
        tol, scale, L_scale = rule.tolerance, rule.scale, rule.loss_magnitude
        noise = _noise(got, expected)
    report = compare("dL/d", got.grads, expected.grads, tol, got.method.upper(), expected.method.upper(),
                     scale=scale, noise=noise)
    if report:
        reports.append(report)
    if check_loss and L_scale is not None:
        loss_report = compare("L", got.loss, expected.loss, tol, got.method.upper(), expected.method.upper(),
                              scale=L_scale)
        if loss_report:
            reports.append(loss_report)
    return Report(f"{type(case).__name__} ({names})", tuple(reports)) if reports else None


def assert_gradients_agree(case, got: Gradient, expected: Gradient, dtype: str = "float64"):
    """Raise ``GradientMismatch`` with ``gradient_report``'s report when the answers disagree."""
    __tracebackhide__ = True
    report = gradient_report(case, got, expected, dtype)
    if report:
        raise GradientMismatch(report)
