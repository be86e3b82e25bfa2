"""Rounding-error magnitudes: the scale against which two exact float64 gradients are judged.

Two exact evaluations of one gradient (the reference against PyTorch, JAX or the
complex step; reverse against forward mode; row against column layout) differ
only by rounding. First-order error analysis bounds that difference by about
k eps times a *magnitude*: the gradient recomputed with every sum replaced by
the sum of the absolute values of its terms, and every local derivative by the
magnitude of the terms that compute it plus the error it inherits from the
forward value it is evaluated at. It is far above |gradient| where terms cancel:

* an output that lands on its target (the row and column layouts can then differ
  by many ulps of |gradient| and a fraction of an ulp of this magnitude);
* a saturated sigmoid: s'(z) = s(1 - s) computed from s ≈ 1 loses all digits
  (at z = 27, torch's s(1 - s) is 4e-4 off the true 1.9e-12; at z >= 37 it is 0).
  Its magnitude is |s|(1 + |s|), the terms of s(1 - s), not |s'(z)|; so the
  common formula is accepted, and an error of that size is only resolvable
  against a gradient that does not flow entirely through saturated units.

``magnitude(case)`` returns (loss magnitude, {parameter name: magnitude array}).
The analysis is pessimistic by design (every rounding error is taken with the
worst sign), written once per system, independently of ``reference/``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oracles.cases import MANUAL_NAMES, GraphCase, ManualCase, MLPCase, SoftmaxCase, evaluate, per_case
from oracles.numeric import ACTIVATIONS, UNARY
from oracles.tolerance import Tolerance, tolerance

__all__ = ["ExactRule", "exact_rule", "magnitude"]


def _derivative_magnitude(act, a, M_z):
    """Magnitude of f'(z) as implementations compute it from the output a = f(z):
    the terms of the formula, plus the error inherited from a (|d f'/d a| times a's
    own magnitude |a| + |f'| M_z)."""
    if act == "sigmoid":          # s(1 - s): terms |s| (1 + |s|); d/ds = 1 - 2s
        fp = a * (1 - a)
        return np.abs(a) * (1 + np.abs(a)) + np.abs(1 - 2 * a) * (np.abs(a) + np.abs(fp) * M_z)
    if act == "tanh":             # 1 - t^2: terms 1 + t^2; d/dt = -2t
        fp = 1 - a * a
        return 1 + a * a + 2 * np.abs(a) * (np.abs(a) + np.abs(fp) * M_z)
    if act == "relu":             # exactly 0 or 1 away from the kink
        return (a > 0).astype(float)
    return np.ones_like(a)        # identity


def _derivative(act, a):
    return {"sigmoid": lambda: a * (1 - a), "tanh": lambda: 1 - a * a,
            "relu": lambda: (a > 0).astype(float), "identity": lambda: np.ones_like(a)}[act]()


def _mlp(X, T, Ws, bs, acts, scale_loss):
    """Row layout. Returns (loss magnitude, [dW magnitudes], [db magnitudes])."""
    A, M_A, M_Z = [X], [np.abs(X)], []
    for l, (W, act) in enumerate(zip(Ws, acts)):
        Z = A[-1] @ W + (bs[l] if bs is not None else 0.0)
        M_Z.append(M_A[-1] @ np.abs(W) + (np.abs(bs[l]) if bs is not None else 0.0))
        a = ACTIVATIONS[act](Z)
        A.append(a)
        M_A.append(np.abs(_derivative(act, a)) * M_Z[-1] + np.abs(a))
    E = A[-1] - T
    M_E = M_A[-1] + np.abs(T)
    L_mag = scale_loss * float(np.sum(M_E * (np.abs(E) + M_E)))
    up, M_up = scale_loss * 2 * E, scale_loss * 2 * M_E          # dL/dA_L and its magnitude
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        fp = _derivative(acts[l], A[l + 1])
        delta = up * fp
        # the magnitude of a product is the product of the magnitudes: where both factors
        # round to 0 (a saturated unit behind a saturated output), first-order error
        # propagation (M_up |f'| + |up| m_f') gives 0 and misses the second-order
        # truth (003's net at w = 18.5, x = (1, 1): reference 0, true 5e-31)
        M_delta = M_up * _derivative_magnitude(acts[l], A[l + 1], M_Z[l])
        dWs[l] = M_A[l].T @ np.abs(delta) + np.abs(A[l]).T @ M_delta
        dbs[l] = M_delta.sum(axis=0)
        up = delta @ Ws[l].T
        M_up = M_delta @ np.abs(Ws[l]).T
    return L_mag, dWs, dbs


def _mlp_case(case: MLPCase):
    X, T, Ws = case.row_layout()
    L_mag, dWs, dbs = _mlp(X, T, Ws, case.bs, case.activations, case.loss_scale)
    mags = {f"W{l + 1}": (d if case.layout == "row" else d.T) for l, d in enumerate(dWs)}
    if case.bs is not None:
        mags.update({f"b{l + 1}": d for l, d in enumerate(dbs)})
    return L_mag, mags


def _manual_case(case: ManualCase):
    W, V = case.matrices()
    L_mag, (dW, dV), _ = _mlp(case.x[None, :], case.t[None, :], (W, V), None, ("sigmoid", "sigmoid"), 1.0)
    return L_mag, dict(zip(MANUAL_NAMES, np.concatenate([dW.ravel(), dV.ravel()])))


def _softmax_case(case: SoftmaxCase):
    X, Y, W1, b1, W2, b2 = case.X, case.Y, case.W1, case.b1, case.W2, case.b2
    aX, aW1, aW2 = np.abs(X), np.abs(W1), np.abs(W2)
    zh = X @ W1 + b1
    M_zh = aX @ aW1 + np.abs(b1)
    h = ACTIVATIONS[case.hidden](zh)
    fp = _derivative(case.hidden, h)
    M_h = np.abs(fp) * M_zh + np.abs(h)
    z = h @ W2 + b2
    M_z = M_h @ aW2 + np.abs(b2) + np.abs(z)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    # dp_i = p_i ((1 - p_i) dz_i - sum_{j != i} p_j dz_j), plus a few roundings of p_i
    pM = p * M_z
    M_p = p * ((1 - p) * M_z + pM.sum(axis=1, keepdims=True) - pM) + 4 * p
    # log p_i = (z_i - max z) - log sum exp: each term's magnitude
    lse = np.log(np.sum(np.exp(z - z.max(axis=1, keepdims=True)), axis=1, keepdims=True))
    M_logp = M_z + np.abs(z.max(axis=1, keepdims=True)) + np.abs(lse) + (pM.sum(axis=1, keepdims=True))
    s = case.loss_scale
    L_mag = float(np.sum(Y * M_logp)) * s
    g = (p - Y) * s
    M_g = (M_p + np.abs(Y)) * s
    M_gh = M_g @ aW2.T + np.abs(g) @ aW2.T
    M_gzh = M_gh * _derivative_magnitude(case.hidden, h, M_zh)
    # the L2 term adds 2 l2 W to each weight's gradient (two roundings of its own) and
    # l2 sum W^2 to the loss: their magnitudes are the terms themselves
    reg = 2 * case.l2
    L_mag += case.l2 * float(np.sum(W1 * W1) + np.sum(W2 * W2))
    return L_mag, {"W1": aX.T @ M_gzh + reg * aW1, "b1": M_gzh.sum(axis=0),
                   "W2": np.abs(M_h).T @ np.abs(g) + np.abs(h).T @ M_g + reg * aW2, "b2": M_g.sum(axis=0)}


# Per unary op: (local derivative, its magnitude) from the value x, the result r,
# and x's forward magnitude M (see _derivative_magnitude for the two terms).
def _unary_local(op, x, r, M):
    if op == "neg":
        return -1.0, 1.0
    if op == "exp":
        return r, abs(r) * (1 + M)
    if op == "log":
        return 1 / x, 1 / abs(x) + M / x ** 2
    if op in ("sigmoid", "tanh"):
        d = _derivative(op, np.float64(r))
        return d, float(_derivative_magnitude(op, np.float64(r), M))
    return (1.0, 1.0) if x > 0 else (0.0, 0.0)       # relu, away from its kink


def _graph_case(case: GraphCase):
    values = [float(v) for v in evaluate(list(case.leaves), case.nodes, UNARY)]
    n = case.leaves.size
    M = list(np.abs(case.leaves))                       # forward magnitudes
    edges = []                                           # per node: [(operand index, local magnitude)]
    for i, node in enumerate(case.nodes):
        r = values[n + i]
        va = values[node.a] if isinstance(node.a, int) else node.a
        Ma = M[node.a] if isinstance(node.a, int) else 0.0
        vb = values[node.b] if isinstance(node.b, int) else node.b
        Mb = M[node.b] if isinstance(node.b, int) else 0.0
        if node.op in ("add", "sub"):
            locals_ = [(node.a, 1.0, 1.0), (node.b, 1.0, 1.0)]
        elif node.op == "mul":
            locals_ = [(node.a, abs(vb), abs(vb) + Mb), (node.b, abs(va), abs(va) + Ma)]
        elif node.op == "div":
            locals_ = [(node.a, 1 / abs(vb), 1 / abs(vb) + Mb / vb ** 2),
                       (node.b, abs(va) / vb ** 2, (abs(va) + Ma) / vb ** 2 + 2 * abs(va) * Mb / abs(vb) ** 3)]
        elif node.op == "pow":
            c = node.b
            d = abs(c * va ** (c - 1))
            locals_ = [(node.a, d, d + abs(c * (c - 1) * va ** (c - 2)) * Ma)]
        else:
            d, m = _unary_local(node.op, va, r, Ma)
            locals_ = [(node.a, abs(d), m)]
        locals_ = [(k, d, m) for k, d, m in locals_ if isinstance(k, int)]
        # tanh by the textbook formula (e^2x - 1)/(e^2x + 1), as engines write it, sums terms of
        # size 1 (|e^2x| and 1, over their sum): near 0 its error is a few eps absolute, not
        # relative to tanh; the library's tanh is more accurate, and both are exact evaluations
        M.append(sum(d * M[k] for k, d, _ in locals_) + abs(r) + (1.0 if node.op == "tanh" else 0.0))
        edges.append([(k, m) for k, _, m in locals_])
    adjoint = np.zeros(n + len(case.nodes))
    adjoint[-1] = 1.0
    for i in range(len(case.nodes) - 1, -1, -1):
        for k, m in edges[i]:
            adjoint[k] += m * adjoint[n + i]
    return M[-1], {f"x{i}": adjoint[i] for i in range(n)}


def magnitude(case):
    """(loss magnitude, {name: magnitude of d loss / d name}) for ``case``; the arrays are
    read-only (the last few cases' are kept: every comparison of a case asks for them)."""
    L_mag, mags = _magnitude(case)
    return L_mag, dict(mags)


@per_case
def _magnitude(case):
    for kind, fn in ((GraphCase, _graph_case), (ManualCase, _manual_case), (MLPCase, _mlp_case),
                     (SoftmaxCase, _softmax_case)):
        if isinstance(case, kind):
            L_mag, mags = fn(case)
            mags = {k: np.array(v, dtype=float) for k, v in mags.items()}
            for m in mags.values():
                m.setflags(write=False)
            return L_mag, mags
    raise ValueError(f"not a case: {type(case).__name__}")


@dataclass(frozen=True)
class ExactRule:
    """The policy's exact rule (``oracles.tolerance``, "exact") for two exact answers to one
    case: the tolerance for the case's chain length, and the magnitudes it is applied to.

    ``scale`` is the gradient's: its largest rounding magnitude, or the expected gradient's
    largest |entry| where that is larger; ``loss_magnitude`` the loss's rounding magnitude;
    ``magnitudes`` each parameter's per-entry rounding magnitude."""
    tolerance: Tolerance
    scale: float
    loss_magnitude: float
    magnitudes: dict

    @property
    def gradient_atol(self) -> float:
        return float(self.tolerance.atol(self.scale))

    @property
    def loss_atol(self) -> float:
        return float(self.tolerance.atol(self.loss_magnitude))


def exact_rule(case, expected=None, dtype: str = "float64", extra_terms: int = 0) -> ExactRule:
    """The exact rule for ``case`` (the one entry point: every comparison of exact answers uses
    it). ``expected`` (an ``oracles.Gradient``), when given, can raise the gradient's scale;
    ``extra_terms`` lengthens the chain for a derived quantity (a directional derivative sums
    one more term per parameter entry)."""
    L_mag, mags = magnitude(case)
    scale = max([float(np.max(m, initial=0.0)) for m in mags.values()]
                + ([] if expected is None else
                   [float(np.max(np.abs(v), initial=0.0)) for v in expected.grads.values()]))
    return ExactRule(tolerance("exact", dtype, case.summation_length + extra_terms), scale, L_mag, mags)
