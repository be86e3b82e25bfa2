"""The four systems' losses in plain numpy, written to run on complex numbers,
and the numerical oracles built on them: complex step, Richardson, central differences.

Written independently of ``reference/`` (which the oracles check) from the
definitions in ``oracles.cases``, with only analytic operations so that the
complex step gives the derivative to rounding:

* sigmoid in the complex-safe form: 1/(1 + e^-z) where Re z >= 0, e^z/(1 + e^z)
  elsewhere. The textbook form alone overflows e^-z for Re z below about -709 and
  then gives inf/inf = NaN for complex z (a real float gets 1/inf = 0);
* log-softmax with the largest *real* part subtracted (a real constant, which
  leaves the softmax, and hence the derivative, unchanged);
* relu as z where Re z > 0, else 0 (analytic away from the kink, which the
  strategies keep clear of);
* integer powers by numpy's repeated multiplication, non-integer ones (positive
  bases only) by e^(c log z); no abs, no comparisons on imaginary parts.
"""
from __future__ import annotations

import numpy as np

from oracles import Gradient
from oracles.cases import GraphCase, ManualCase, MLPCase, SoftmaxCase, evaluate
from oracles.finite_differences import directional as _directional, estimate, ravel_all

__all__ = ["loss", "gradient", "directional", "sigmoid", "log_softmax"]


def sigmoid(z):
    """1/(1 + e^-z), finite for every z of either sign and real or complex: the exponent
    always has Re <= 0 (e^-z where Re z >= 0, e^z elsewhere, then e^z/(1 + e^z)), with no
    boolean indexing (oracles.large calls it on whole layers of many points)."""
    z = np.asarray(z)
    z = z.astype(np.result_type(z, np.float64), copy=False)
    pos = z.real >= 0
    e = np.exp(np.where(pos, -z, z))
    return np.where(pos, 1, e) / (1 + e)


def _relu(z):
    return np.where(np.asarray(z).real > 0, z, 0 * z)


ACTIVATIONS = {"sigmoid": sigmoid, "tanh": np.tanh, "relu": _relu, "identity": lambda z: z}
UNARY = {"neg": lambda a: -a, "exp": np.exp, "log": np.log, "sigmoid": sigmoid, "tanh": np.tanh, "relu": _relu}


def log_softmax(Z):
    m = np.max(Z.real, axis=-1, keepdims=True)
    shifted = Z - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _T(W):
    return np.swapaxes(W, -1, -2)


def loss(case, params: dict):
    """The case's loss at ``params`` (a dict like ``case.params()``, real or complex).

    Every parameter may carry one leading axis of P points (shape (P, *shape));
    the result then has shape (P,), so finite differences evaluate all their
    points in one call. Without it, a scalar.
    """
    names = list(case.params())
    shapes = {k: np.shape(v) for k, v in case.params().items()}
    batched = np.ndim(params[names[0]]) == len(shapes[names[0]]) + 1
    if not batched:
        return loss(case, {k: np.asarray(v)[None] for k, v in params.items()})[0]
    if isinstance(case, GraphCase):
        leaves = [params[f"x{i}"] for i in range(case.leaves.size)]
        return np.asarray(evaluate(leaves, case.nodes, UNARY)[-1]) * np.ones(len(leaves[0]))
    if isinstance(case, ManualCase):
        W = np.stack([params["w11"], params["w12"], params["w21"], params["w22"]], axis=-1).reshape(-1, 2, 2)
        V = np.stack([params["v11"], params["v12"], params["v21"], params["v22"]], axis=-1).reshape(-1, 2, 2)
        h = sigmoid(np.einsum("i,pij->pj", case.x, W))
        y = sigmoid(np.einsum("pi,pij->pj", h, V))
        return np.sum((y - case.t) ** 2, axis=-1)
    if isinstance(case, MLPCase):
        X, T, _ = case.row_layout()
        A = X
        for l, act in enumerate(case.activations):
            W = params[f"W{l + 1}"]
            Z = A @ (W if case.layout == "row" else _T(W))
            if case.bs is not None:
                Z = Z + params[f"b{l + 1}"][:, None, :]
            A = ACTIVATIONS[act](Z)
        return np.sum((A - T) ** 2, axis=(-2, -1)) / case.loss_divisor
    if isinstance(case, SoftmaxCase):
        h = ACTIVATIONS[case.hidden](case.X @ params["W1"] + params["b1"][:, None, :])
        logp = log_softmax(h @ params["W2"] + params["b2"][:, None, :])
        data = -np.sum(case.Y * logp, axis=(-2, -1)) / case.loss_divisor
        if not case.l2:
            return data
        return data + case.l2 * (np.sum(params["W1"] ** 2, axis=(-2, -1)) + np.sum(params["W2"] ** 2, axis=(-2, -1)))
    raise ValueError(f"not a case: {type(case).__name__}; expected one of GraphCase, ManualCase, MLPCase, SoftmaxCase")


def _flat_loss(case):
    """(f of an (m, n) array of flat parameter vectors -> m losses, the flat parameters, unflatten)."""
    names = list(case.params())
    shapes = [np.shape(case.params()[k]) for k in names]
    splits = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]

    def f(points):
        parts = np.split(points, splits, axis=1)
        return loss(case, {k: part.reshape((points.shape[0],) + s) for k, part, s in zip(names, parts, shapes)})

    def unflatten(v):
        return {k: part.reshape(s) for k, part, s in zip(names, np.split(v, splits), shapes)}
    return f, ravel_all(case.params().values()), unflatten


def gradient(case, method: str = "complex_step") -> Gradient:
    """d loss / d params by ``method``: "complex_step", "richardson" or "central"."""
    f, p, unflatten = _flat_loss(case)
    est = estimate(f, p, method, batched=True)
    noise = None if est.noise is None else unflatten(est.noise)
    return Gradient(float(np.real(f(p[None])[0])), unflatten(est.gradient), method, noise,
                    {"steps": unflatten(est.steps)})


def directional(case, direction: dict, method: str = "complex_step") -> tuple[float, float]:
    """(d/de loss(params + e * direction) at e = 0, the estimate's error figure) by ``method``."""
    f, p, _ = _flat_loss(case)
    v = ravel_all(direction[k] for k in case.params())
    est = _directional(f, p, v, method, batched=True)
    return float(est.gradient[0]), float(est.noise[0])
