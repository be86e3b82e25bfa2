"""Running rounding-error magnitudes: the scale against which two float64 routes are judged.

Two evaluations of one gradient in different orders (row vs column layout, sum
vs rescaled mean, reverse vs forward mode) differ by rounding: at most ~k eps
times the sum of the |terms| that each entry adds up, not times |entry|. Where
the terms cancel (an output that lands on its target, paths of opposite sign)
that sum is far above the entry, and judging against |gradient| gives false
alarms (found by Hypothesis: row vs column off by 7e-14 of |gradient|).

``mlp_magnitude`` propagates those magnitudes through the MLP's forward and
backward pass (first-order error analysis): every sum is replaced by the sum of
the absolute values of its terms, and each activation's error passes through
|f'| (its output) and |f''| (its derivative). For the scalar graph the same
quantity is ``reference.engine.gradient_magnitude``.
"""
from __future__ import annotations

import numpy as np

from reference import mlp
from reference.activations import activation

__all__ = ["mlp_magnitude", "softmax_backward_magnitude"]

# |f''| <= CURVATURE * |f'| for each activation: sigmoid f'' = f'(1 - 2s), tanh f'' = -2 t f'.
_CURVATURE = {"sigmoid": 1.0, "tanh": 2.0, "relu": 0.0, "identity": 0.0}


def mlp_magnitude(X, T, Ws, bs=None, *, activations="sigmoid", loss="sse", layout="row"):
    """Magnitudes (loss, dWs, dbs) bounding the rounding of any evaluation order.

    Same arguments as ``reference.mlp.loss_and_gradients``; the gradients have the
    parameters' shapes. Row and column layouts give the same magnitudes (transposed).
    """
    if layout == "column":
        L_mag, dWs, dbs = mlp_magnitude(np.asarray(X).T, np.asarray(T).T, [np.asarray(W).T for W in Ws], bs,
                                        activations=activations, loss=loss, layout="row")
        return L_mag, tuple(d.T for d in dWs), dbs
    cache = mlp.forward(X, Ws, bs, activations, "row")
    grads = mlp.backward(cache, T, loss)
    A, acts = cache.A, cache.activations
    absW = [np.abs(W) for W in cache.Ws]
    fprime = [np.abs(activation(a)[1](A[l + 1])) for l, a in enumerate(acts)]
    curvature = [_CURVATURE[a] for a in acts]

    M_A, M_Z = [np.abs(A[0])], []
    for l in range(len(absW)):
        z = M_A[-1] @ absW[l] + (np.abs(cache.bs[l]) if cache.bs is not None else 0.0)
        M_Z.append(z)
        M_A.append(fprime[l] * z + np.abs(A[l + 1]))

    n = A[0].shape[0]
    E_mag = M_A[-1] + np.abs(np.asarray(T, dtype=float))
    L_mag = float(np.sum(E_mag ** 2)) * (1.0 if loss == "sse" else 1.0 / (2 * n))
    M_dY = 2 * E_mag if loss == "sse" else E_mag / n
    dY = 2 * (A[-1] - T) if loss == "sse" else (A[-1] - T) / n

    L = len(absW)
    dWs, dbs = [None] * L, [None] * L
    upstream, M_up = dY, M_dY
    for l in range(L - 1, -1, -1):
        delta = grads.deltas[l]
        M_delta = M_up * fprime[l] + curvature[l] * np.abs(upstream) * fprime[l] * M_Z[l]
        dWs[l] = M_A[l].T @ np.abs(delta) + np.abs(A[l]).T @ M_delta
        dbs[l] = M_delta.sum(axis=0)
        upstream = delta @ cache.Ws[l].T
        M_up = M_delta @ absW[l].T + np.abs(delta) @ absW[l].T
    return L_mag, tuple(dWs), (None if cache.bs is None else tuple(dbs))


def softmax_backward_magnitude(X, Y, W1, b1, W2, b2) -> dict:
    """Magnitudes of 000's backward pass from grad_zpred on: the sums of |terms| of
    grad_W2, grad_b2, grad_W1, grad_b1 for the batch-summed loss.

    Enough to judge two routes whose forward passes are identical and whose
    grad_zpred differ by rounding only (sum vs rescaled mean).
    """
    from reference import softmax
    p = softmax.forward_backward(X, Y, W1, b1, W2, b2, "sum")
    X = np.abs(np.asarray(X, dtype=float))
    g = np.abs(p.grad_zpred)
    gh = g @ np.abs(np.asarray(W2, dtype=float)).T
    gzh = gh * np.abs(p.h * (1 - p.h))
    return {"W1": X.T @ gzh, "b1": gzh.sum(axis=0), "W2": np.abs(p.h).T @ g, "b2": g.sum(axis=0)}
