"""Vectorized multilayer perceptron of any depth, in both layouts of the posts.

Layouts (``layout=``):

* ``"row"`` (003, 000): one instance per *row*. X is (n, d0), W_l is
  (d_{l-1}, d_l), b_l is (d_l,), and  A_l = f_l(A_{l-1} @ W_l + b_l).
* ``"column"`` (001): one instance per *column*. X is (d0, n), W_l is
  (d_l, d_{l-1}), b_l is (d_l,), and  a_l = f_l(W_l a_{l-1} + b_l).

Losses (``loss=``), with Y = A_L the output and T the targets (same shape):

* ``"sse"`` (003): L = sum over instances and outputs of (Y - T)^2;
  dL/dY = 2 (Y - T).
* ``"half_mean"`` (001): L = 1/(2n) sum_i ||y_i - t_i||^2; dL/dY = (Y - T)/n.
* the other factors real code uses, for n instances of k outputs: ``"half_sse"``
  (1/2, Nielsen's quadratic cost), ``"mean"`` (1/n), ``"mean_all"`` (1/(nk),
  PyTorch's ``MSELoss``) and ``"half_mean_all"`` (1/(2nk)); dL/dY = 2 c (Y - T)
  for the factor c.

Backward pass by the delta recursion (001's derivation, with its errata
corrected, see fixtures/001_*.toml), in the row layout:

    delta_L = dL/dY ⊙ f_L'(A_L)
    dL/dW_l = A_{l-1}^T delta_l      dL/db_l = sum over instances of delta_l
    delta_{l-1} = (delta_l W_l^T) ⊙ f_{l-1}'(A_{l-1})

and the transposes of these in the column layout (dL/dW_l = delta_l a_{l-1}^T,
delta_{l-1} = (W_l^T delta_l) ⊙ f'). f' is taken from the cached output, as in
003's ``Y * (1 - Y)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.activations import activation

__all__ = ["LAYOUTS", "LOSSES", "LOSS_FACTORS", "Cache", "Gradients", "forward", "backward",
           "loss_and_gradients", "gd_step", "NeuralNetwork"]

LAYOUTS = ("row", "column")
# loss name -> its factor c of the summed squared error, from n instances of k outputs
LOSS_FACTORS = {"sse": lambda n, k: 1.0, "half_sse": lambda n, k: 0.5, "mean": lambda n, k: 1.0 / n,
                "half_mean": lambda n, k: 1.0 / (2 * n), "mean_all": lambda n, k: 1.0 / (n * k),
                "half_mean_all": lambda n, k: 1.0 / (2 * n * k)}
LOSSES = tuple(LOSS_FACTORS)


@dataclass(frozen=True)
class Cache:
    """What the backward pass needs: the layout, weights, biases and every activation.

    ``A[0]`` is the input, ``A[l]`` the output of layer l, ``Z[l-1]`` its
    pre-activation (kept for inspection; the backward pass uses ``A``).
    """
    layout: str
    activations: tuple
    Ws: tuple
    bs: tuple | None
    Z: tuple
    A: tuple

    @property
    def output(self) -> np.ndarray:
        return self.A[-1]


@dataclass(frozen=True)
class Gradients:
    """Loss, its gradients (same shapes as the parameters) and the deltas dL/dZ_l."""
    loss: float
    loss_per_instance: np.ndarray
    dWs: tuple
    dbs: tuple | None
    deltas: tuple


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def _layer_activations(activations, depth):
    if isinstance(activations, str):
        activations = [activations] * depth
    activations = tuple(activations)
    if len(activations) != depth:
        raise ValueError(f"got {len(activations)} activations for {depth} layers; "
                         "give one name, or one per layer")
    for a in activations:
        activation(a)
    return activations


def forward(X, Ws, bs=None, activations="sigmoid", layout="row") -> Cache:
    """Forward pass through len(Ws) layers, caching every activation.

    ``bs=None`` means a network without biases (as 003's). ``activations``
    is one name for every layer or a list with one per layer, from
    ``reference.activations.ACTIVATIONS``.
    """
    _check_choice("layout", layout, LAYOUTS)
    X = np.asarray(X)
    if X.dtype.kind not in "fiu":
        raise TypeError(f"X must be a real array, got dtype {X.dtype}")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D ({'(n, d0)' if layout == 'row' else '(d0, n)'}), got shape {X.shape}")
    Ws = tuple(np.asarray(W, dtype=X.dtype) for W in Ws)
    if not Ws:
        raise ValueError("Ws is empty; a network needs at least one weight matrix")
    acts = _layer_activations(activations, len(Ws))
    if bs is not None:
        bs = tuple(np.asarray(b, dtype=X.dtype) for b in bs)
        if len(bs) != len(Ws):
            raise ValueError(f"got {len(bs)} biases for {len(Ws)} weight matrices")

    A, Z = [X], []
    for l, (W, name) in enumerate(zip(Ws, acts), start=1):
        a = A[-1]
        if W.ndim != 2:
            raise ValueError(f"W{l} must be 2-D, got shape {W.shape}")
        if layout == "row":
            if W.shape[0] != a.shape[1]:
                raise ValueError(f"W{l} has shape {W.shape} but layer {l} receives {a.shape[1]} "
                                 f"features per row; expected ({a.shape[1]}, d{l})")
            z = a @ W
            width = W.shape[1]
        else:
            if W.shape[1] != a.shape[0]:
                raise ValueError(f"W{l} has shape {W.shape} but layer {l} receives {a.shape[0]} "
                                 f"features per column; expected (d{l}, {a.shape[0]})")
            z = W @ a
            width = W.shape[0]
        if bs is not None:
            b = bs[l - 1]
            if b.shape != (width,):
                raise ValueError(f"b{l} must have shape ({width},), got {b.shape}")
            z = z + (b if layout == "row" else b[:, None])
        f, _ = activation(name)
        Z.append(z)
        A.append(f(z))
    return Cache(layout, acts, Ws, bs, tuple(Z), tuple(A))


def backward(cache: Cache, T, loss="sse") -> Gradients:
    """Loss and gradients for targets T (same shape as the output), by the delta recursion."""
    _check_choice("loss", loss, LOSSES)
    Y = cache.output
    T = np.asarray(T, dtype=Y.dtype)
    if T.shape != Y.shape:
        raise ValueError(f"T has shape {T.shape} but the network's output has shape {Y.shape}")
    row = cache.layout == "row"
    inst_axis = 0 if row else 1
    n = Y.shape[inst_axis]
    E = Y - T
    per_instance = np.sum(E ** 2, axis=1 - inst_axis)
    if loss == "sse":
        L, dY = per_instance.sum(), 2 * E
    elif loss == "half_mean":                    # 001's own lines: 1/(2n), dL/dY = E/n
        per_instance = per_instance / (2 * n)
        L, dY = per_instance.sum(), E / n
    else:
        c = LOSS_FACTORS[loss](n, Y.shape[1 - inst_axis])
        per_instance = c * per_instance
        L, dY = per_instance.sum(), (2 * c) * E

    depth = len(cache.Ws)
    dWs, dbs, deltas = [None] * depth, [None] * depth, [None] * depth
    _, fprime = activation(cache.activations[-1])
    delta = dY * fprime(cache.A[-1])
    for l in range(depth, 0, -1):
        a_prev, W = cache.A[l - 1], cache.Ws[l - 1]
        deltas[l - 1] = delta
        dWs[l - 1] = a_prev.T @ delta if row else delta @ a_prev.T
        dbs[l - 1] = delta.sum(axis=inst_axis)
        if l > 1:
            _, fprime = activation(cache.activations[l - 2])
            back = delta @ W.T if row else W.T @ delta
            delta = back * fprime(a_prev)
    return Gradients(L, per_instance, tuple(dWs), None if cache.bs is None else tuple(dbs), tuple(deltas))


def loss_and_gradients(X, T, Ws, bs=None, *, activations="sigmoid", loss="sse", layout="row") -> Gradients:
    """``backward(forward(X, Ws, bs, activations, layout), T, loss)``."""
    return backward(forward(X, Ws, bs, activations, layout), T, loss)


def gd_step(Ws, bs, grads: Gradients, alpha):
    """Gradient descent: P <- P - alpha dL/dP for every weight and bias. Returns new (Ws, bs)."""
    new_Ws = tuple(W - alpha * dW for W, dW in zip(Ws, grads.dWs))
    new_bs = None if bs is None else tuple(b - alpha * db for b, db in zip(bs, grads.dbs))
    return new_Ws, new_bs


class NeuralNetwork:
    """003's class: two sigmoid layers without biases, H = s(X W), Y = s(H V), SSE loss.

    ``forward(X)`` keeps ``X, H_in, H, Y_in, Y``; ``backward(T)`` sets ``L``, the
    per-instance loss as a column (n, 1), and returns ``(grad_W, grad_V)``.
    A 1-D X is one instance, and gives a 1-D output, as in 003's last printout.
    """

    def __init__(self, input_dim=2, hidden_dim=2, output_dim=2, rng=None):
        rng = np.random.default_rng(rng)
        self.W = 0.1 * rng.random((input_dim, hidden_dim))
        self.V = 0.1 * rng.random((hidden_dim, output_dim))

    def forward(self, X):
        X = np.asarray(X, dtype=np.float64)
        self.X = X
        self._cache = forward(np.atleast_2d(X), (self.W, self.V))
        self.H_in, self.Y_in = self._cache.Z
        _, self.H, self.Y = self._cache.A
        return self.Y.reshape(-1) if X.ndim == 1 else self.Y

    def backward(self, T):
        if not hasattr(self, "_cache"):
            raise RuntimeError("call forward(X) before backward(T)")
        g = backward(self._cache, np.atleast_2d(T), "sse")
        self.L = g.loss_per_instance[:, None]
        return g.dWs
