"""Elementwise activations and their derivatives, shared by the vectorized systems.

Each derivative is written in terms of the activation's *output* a = f(z), as
the posts do (003: ``Y * (1 - Y)``; 000: ``sigmoid(h, deriv=True)``), because
the forward cache holds a, not z.
"""
from __future__ import annotations

import numpy as np

__all__ = ["sigmoid", "sigmoid_prime", "ACTIVATIONS", "activation"]


def sigmoid(z):
    """s(z) = 1 / (1 + e^-z).

    The textbook form used in 000 and 003, so their printed digits come out
    bit for bit. It is accurate to about an ulp for every float64 z: for
    z < -709, e^-z overflows to inf and s(z) to 0.0, its correctly rounded
    limit, so the overflow warning is silenced rather than avoided.
    """
    z = np.asarray(z)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)      # np.exp of int8 would be float16: 3 digits
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def _sigmoid_prime(a):
    """ds/dz = s(1 - s), from the output a = s(z)."""
    return a * (1 - a)


def _tanh_prime(a):
    """d tanh/dz = 1 - tanh(z)^2 = 1 - a^2."""
    return 1 - a * a


def _relu(z):
    return np.maximum(z, 0)


def _relu_prime(a):
    """d relu/dz = 1 where z > 0 (equivalently a > 0), else 0 (subgradient 0 at the kink)."""
    return (a > 0).astype(a.dtype)


def _identity(z):
    return z


def _identity_prime(a):
    return np.ones_like(a)


# name -> (f, f' as a function of the output a = f(z))
ACTIVATIONS = {
    "sigmoid": (sigmoid, _sigmoid_prime),
    "tanh": (np.tanh, _tanh_prime),
    "relu": (_relu, _relu_prime),
    "identity": (_identity, _identity_prime),
}


def activation(name: str):
    """The pair (f, f') for ``name``; a clear error for an unknown name."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}") from None


def sigmoid_prime(z):
    """s'(z) = s(z) (1 - s(z)), as a function of the pre-activation z.

    Not used by the backward passes (they hold a, not z): it is the true derivative
    against which fixture 001/sigma_prime_definition judges 001's x(1 - x).
    """
    s = sigmoid(z)
    return s * (1 - s)
