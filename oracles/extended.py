"""The gradient in extended precision: the truth the float64 oracles are measured against.

``gradient(case)`` is the complex step of ``oracles.numeric.loss`` evaluated in
``np.clongdouble`` (x86-64 Linux: 80-bit long double, eps = 2^-63 ≈ 1.1e-19,
2^11 times finer than float64's), one coordinate at a time:

    df/dx_i = Im f(x + i h e_i) / h  +  O(h^2 |f'''|)

Why this is a truth for float64 errors:

* no cancellation: the imaginary parts carry h f' through every operation as
  forward mode does, so the result is f' with rounding errors of at most k eps_ld
  times the rounding magnitude of the computation (``oracles.rounding``'s analysis
  with eps_ld for float64's eps; k as in the exact rule): 2^-11 of float64's bound.
  ``tests/test_extended.py`` holds it to that: two steps, and mpmath at 40 digits,
  agree with it far inside the bound;
* no truncation: h = 2^-2000 ≈ 9e-603 (long double reaches 3e-4932, float64
  only 2e-308), so h^2 ≈ 8e-1205 and the O(h^2 f''') term is some 1100 orders
  below long double rounding for every derivative these systems have, with no
  need for the extrapolation ``finite_differences.complex_step`` applies. The
  step still leaves h |f'| normal down to |f'| ~ 1e-4300, and it is below float64's
  range: an intermediate that falls back to complex128 loses the imaginary part to 0,
  so a downcast gives a gradient of 0, not a plausible float64 one;
* independent of the autodiff oracles (torch, JAX) and of ``reference/``; it shares
  ``oracles.numeric.loss`` with the float64 ``complex_step``, and its
  correctness is established on closed forms and mpmath (``tests/test_extended.py``).

Every case's data are float64 arrays; numpy promotes them to long double
against the long-double parameters (sigmoid's ``np.result_type`` included), and
``gradient`` refuses an answer whose dtype is not ``clongdouble``. Long-double
matmul has no BLAS and every parameter costs one evaluation of the network: cheap
on the suite's small cases, slow on networks of thousands of parameters, so it is
the truth of tests and benchmarks, not an oracle of the default run
(``benchmarks/oracle_accuracy.py`` reports its cost per case).
"""
from __future__ import annotations

import platform

import numpy as np

from oracles import Gradient
from oracles.numeric import loss

__all__ = ["REAL", "COMPLEX", "STEP", "gradient", "require_extended"]

REAL = np.longdouble
COMPLEX = np.clongdouble
STEP = np.ldexp(REAL(1), -2000)     # see the module docstring; 0 if it ever met float64
_CHUNK = 2 ** 20                   # parameter entries per batched evaluation (the points times their size)


def require_extended():
    """Raise RuntimeError unless long double is more precise than float64 here.

    On Windows and macOS on arm64 numpy's long double is float64 itself; a "truth"
    computed there would be one more float64 oracle (aarch64 Linux has a 128-bit one).
    """
    eps, eps64 = np.finfo(REAL).eps, np.finfo(np.float64).eps
    if not eps < eps64 or not np.finfo(COMPLEX).eps < eps64:
        raise RuntimeError(
            f"oracles.extended needs a long double more precise than float64, and on this platform "
            f"({platform.system()} {platform.machine()}) np.longdouble has eps {float(eps):.3g}, the same as "
            f"float64's {eps64:.3g}: there is no extended-precision truth here (x86-64 Linux has the 80-bit "
            f"long double, eps 2^-63)")


def gradient(case, step=STEP) -> Gradient:
    """The loss and d loss / d params of ``case`` in long double (``REAL`` arrays by name).

    ``step``: the complex step h (a long double; the default makes truncation nil).
    ``details``: the step and long double's eps, for the reader of the figures.

    Raises:
        RuntimeError: long double is not more precise than float64 on this platform,
            or ``oracles.numeric.loss`` returned something other than ``clongdouble``
            (a silent downcast would make this one more float64 oracle).
    """
    require_extended()
    step = REAL(step)
    if not 0 < step < 1:
        raise ValueError(f"the complex step must be in (0, 1), got {step}")
    params = case.params()
    names = list(params)
    shapes = [np.shape(params[k]) for k in names]
    sizes = [int(np.prod(s)) for s in shapes]
    x = np.concatenate([np.ravel(np.asarray(params[k], dtype=np.float64)) for k in names]).astype(REAL)
    n = x.size
    per_call = max(1, _CHUNK // max(1, n))
    grad = np.empty(n, dtype=REAL)
    value = None
    for start in range(0, n, per_call):
        rows = np.arange(start, min(n, start + per_call))
        points = np.repeat(x[None, :].astype(COMPLEX), rows.size + 1, axis=0)
        points[np.arange(1, rows.size + 1), rows] += COMPLEX(1j) * step     # the first point unperturbed
        out = loss(case, _unflatten(points, names, shapes, sizes))
        if np.asarray(out).dtype != COMPLEX:
            raise RuntimeError(f"oracles.numeric.loss returned {np.asarray(out).dtype} for {COMPLEX.__name__} "
                               f"parameters ({type(case).__name__}): a downcast somewhere in the loss; the "
                               "extended-precision gradient would be no better than float64")
        if not np.all(np.isfinite(out)):
            raise ValueError(f"the loss is not finite at the complex-step points of {type(case).__name__}")
        value = out[0].real
        grad[rows] = out[1:].imag / step
    grads = {k: part.reshape(s) for k, part, s in zip(names, np.split(grad, np.cumsum(sizes)[:-1]), shapes)}
    return Gradient(value, grads, "extended", None, {"step": step, "eps": np.finfo(REAL).eps})


def _unflatten(points, names, shapes, sizes):
    parts = np.split(points, np.cumsum(sizes)[:-1], axis=1)
    return {k: part.reshape((points.shape[0],) + s) for k, part, s in zip(names, parts, shapes)}
