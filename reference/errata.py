"""The posts' formulas read literally where they are wrong or ambiguous.

Each function computes what an implementation that follows the text word for
word would compute. The fixture records that name them (``fixtures/*.toml``,
``kind = "derivation"``) state the quote, the error and the evidence; the
tests show how far each literal reading lands from the true gradient. They
are kept apart from the reference so that nothing correct depends on them.
"""
from __future__ import annotations

import numpy as np

from reference import mlp, softmax
from reference.activations import sigmoid

__all__ = ["READINGS_001", "sigmoid_prime_as_written_001", "backward_as_written_001",
           "grad_zpred_as_written_000", "grad_W1_double_sigmoid_000"]


def sigmoid_prime_as_written_001(x):
    """001: "the derivative of the sigmoid function is conveniently σ'(x) = x(1 - x)".

    True only if x is read as the sigmoid's *output*; as written, a function
    of its argument x, the true derivative is σ(x)(1 - σ(x)).
    """
    x = np.asarray(x, dtype=float)
    return x * (1 - x)


READINGS_001 = {
    # "δ_L = (a_L - y) ⊙ W_L a_{L-1}(1 - W_L a_{L-1})": σ' evaluated at the pre-activation z.
    "sigma_prime_at_preactivation",
    # Equation 1.2, third line: "= W_l^T δ_{l+1} ...": the layer's own W instead of W_{l+1}.
    "wrong_layer_weight",
    # Equation 1.2: "∂z_L/∂W_L ∂W_L/∂a_{L-1}": W_L does not depend on a_{L-1}, so taken
    # literally the factor is 0 and nothing reaches the hidden layers.
    "dW_da",
}


def backward_as_written_001(X, T, Ws, bs=None, reading="sigma_prime_at_preactivation"):
    """001's column-layout backward pass (sigmoid, C = 1/(2n) sum ||a_L - y||^2) with one
    of its errors followed literally. Returns the weight gradients dC/dW_l.

    Raises ValueError where the literal reading cannot even be computed (the
    wrong layer's W^T has the wrong shape unless that layer is square).
    """
    if reading not in READINGS_001:
        raise ValueError(f"reading must be one of {sorted(READINGS_001)}, got {reading!r}")
    cache = mlp.forward(X, Ws, bs, "sigmoid", layout="column")
    A, Z, Ws = cache.A, cache.Z, cache.Ws
    n = A[0].shape[1]

    def sigma_prime(l):                       # σ'(z_l) for layer l (1-based)
        if reading == "sigma_prime_at_preactivation":
            return Z[l - 1] * (1 - Z[l - 1])  # "W_l a_{l-1}(1 - W_l a_{l-1})"
        return A[l] * (1 - A[l])

    L = len(Ws)
    delta = (A[L] - np.asarray(T, dtype=float)) / n * sigma_prime(L)
    dWs = [None] * L
    for l in range(L, 0, -1):
        dWs[l - 1] = delta @ A[l - 1].T
        if l > 1:
            if reading == "wrong_layer_weight":
                W = Ws[l - 2]                 # W_{l-1} where W_l belongs ("W_l^T δ_{l+1}")
                if W.shape[0] != delta.shape[0]:
                    raise ValueError(f"W_{l - 1}^T δ_{l} is undefined: W_{l - 1} has shape {W.shape}, "
                                     f"δ_{l} has {delta.shape[0]} rows")
                back = W.T @ delta
            elif reading == "dW_da":
                back = np.zeros_like(Ws[l - 1].T @ delta)
            else:
                back = Ws[l - 1].T @ delta
            delta = back * sigma_prime(l - 1)
    return tuple(dWs)


def grad_zpred_as_written_000(X, Y, W1, b1, W2, b2):
    """000: ``grad_zpred = pred - y``, whatever ``cross_entropy`` averages or sums."""
    p = softmax.forward_backward(X, Y, W1, b1, W2, b2, "sum")
    return p.pred - np.asarray(Y, dtype=float)


def grad_W1_double_sigmoid_000(X, Y, W1, b1, W2, b2):
    """000: ``grad_zh = grad_h * sigmoid(h, deriv=True)`` where ``sigmoid(x, deriv=True)``
    is read as σ'(x) = σ(x)(1 - σ(x)); since h is already σ(zh), that applies the
    sigmoid twice. (Right only if the helper's ``deriv`` branch returns x(1 - x).)"""
    p = softmax.forward_backward(X, Y, W1, b1, W2, b2, "sum")
    s = sigmoid(p.h)
    grad_zh = p.grad_h * (s * (1 - s))
    return np.asarray(X, dtype=float).T @ grad_zh
