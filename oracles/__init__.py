"""Independent oracles that the reference and any plugged-in implementation are checked against.

Each oracle answers the same question for a case (``oracles.cases``): the loss
and d loss / d parameters, by parameter name, and the derivative along a
direction. One entry point each, imported only when first used, so a run that
needs one oracle does not pay for the others (torch and JAX take seconds to import):

    gradient(case, "torch64")                  -> Gradient
    directional(case, direction, "jax64")      -> Directional, d loss / d eps at params + eps * direction

Oracles (``ORACLES``):

* ``torch64``       PyTorch autograd in float64; forward mode by dual tensors (``torch.autograd.forward_ad``)
* ``jax64``         JAX with x64, jit-compiled once per shape bucket (padding plus masks)
* ``complex_step``  Im f(x + ih) / h on complex-safe numpy losses: exact to rounding for analytic code
* ``richardson``    4th-order Richardson extrapolation of central differences
* ``central``       central differences (the classic check; about 1e-10 of the scale)

Modules: ``cases`` (what is asked), ``finite_differences`` (numerical derivatives
of any f: R^n -> R), ``numeric`` (the losses in complex-safe numpy),
``rounding`` (how far two exact float64 evaluations may differ), ``tolerance``
(the one policy).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ORACLES", "EXACT", "REQUIRES", "available", "Gradient", "Directional", "gradient", "directional",
           "precompile_jax", "jax_warmup_thread"]

# name -> (module, keyword arguments of its gradient and directional)
ORACLES = {
    "torch64": ("oracles.torch64", {}),
    "jax64": ("oracles.jax64", {}),
    "complex_step": ("oracles.numeric", {"method": "complex_step"}),
    "richardson": ("oracles.numeric", {"method": "richardson"}),
    "central": ("oracles.numeric", {"method": "central"}),
}
# the package an oracle needs beyond numpy (the extra "oracles" installs both)
REQUIRES = {"torch64": "torch", "jax64": "jax"}


def available() -> tuple:
    """The oracles this installation can run, in ``ORACLES``' order (without importing torch or JAX)."""
    from importlib.util import find_spec
    return tuple(name for name in ORACLES if name not in REQUIRES or find_spec(REQUIRES[name]) is not None)


# Oracles whose answer is the exact gradient up to float64 rounding (judged by
# oracles.rounding's magnitudes); the others report their own error per entry.
EXACT = ("torch64", "jax64", "complex_step")


@dataclass(frozen=True)
class Gradient:
    """An answer to a case: the loss and d loss / d parameter for every parameter name.

    ``method`` names how it was obtained (an oracle name, "reference", an
    implementation's label); ``noise`` maps names to the estimate's own
    per-entry error figure where the method has one (finite differences).
    """
    loss: float
    grads: dict
    method: str
    noise: dict | None = None
    details: dict = field(default_factory=dict)


def _module(oracle: str):
    try:
        name, kwargs = ORACLES[oracle]
    except KeyError:
        raise ValueError(f"unknown oracle {oracle!r}; expected one of {sorted(ORACLES)}") from None
    return importlib.import_module(name), kwargs


def gradient(case, oracle: str) -> Gradient:
    """The loss and its gradient for ``case`` by ``oracle``."""
    module, kwargs = _module(oracle)
    return module.gradient(case, **kwargs)


@dataclass(frozen=True)
class Directional:
    """A derivative along a direction, with the method and its own error figure (0 for autodiff)."""
    value: float
    method: str
    noise: float = 0.0


def directional(case, direction: dict, oracle: str) -> Directional:
    """d/de loss(params + e * direction) at e = 0; ``direction`` maps parameter names to arrays
    of the parameters' shapes. Costs one forward-mode pass (or two complex evaluations),
    whatever the number of parameters."""
    missing = set(case.params()) - set(direction)
    if missing:
        raise ValueError(f"direction lacks parameters {sorted(missing)}")
    module, kwargs = _module(oracle)
    direction = {k: np.asarray(v, dtype=float) for k, v in direction.items()}
    value = module.directional(case, direction, **kwargs)
    value, noise = value if isinstance(value, tuple) else (value, 0.0)     # estimates carry their error
    return Directional(float(value), oracle, float(noise))


_jax_warmup = None


def precompile_jax(modes=("gradient", "directional")):
    """Import JAX and compile the smallest bucket of every system (``jax64.precompile``) on a
    daemon thread, and return it. Importing and tracing hold the GIL, XLA's compiler does
    not: on a machine whose second core the caller leaves idle, the first cases of each
    system then find their bucket compiled instead of compiling it in line."""
    global _jax_warmup
    if _jax_warmup is None:
        import atexit
        import threading

        def warm():
            importlib.import_module("oracles.jax64").precompile(modes)
        _jax_warmup = threading.Thread(target=warm, name="jax64-precompile", daemon=True)
        _jax_warmup.start()
        # a process that ends while XLA is compiling on this thread aborts in C++
        # ("exception not rethrown", exit 134): a short run waits for it instead
        atexit.register(_jax_warmup.join)
    return _jax_warmup


def jax_warmup_thread():
    """The thread ``precompile_jax`` started, if any."""
    return _jax_warmup
