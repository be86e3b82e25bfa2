"""003's 2-2-2 sigmoid network, computed scalar by scalar exactly as the post writes it.

Weights come as 003's list ``w = [w11, w12, w21, w22, v11, v12, v21, v22]``::

    h1_in = x1*w11 + x2*w21        h2_in = x1*w12 + x2*w22
    h_out = sigmoid(h_in)
    y1_in = h1_out*v11 + h2_out*v21  y2_in = h1_out*v12 + h2_out*v22
    y_out = sigmoid(y_in)
    L = (y1_out - t1)^2 + (y2_out - t2)^2      (sum of squared errors)

and the backward pass, with e = y_out - t:

    dL/dy_out = 2e                  dL/dy_in = y_out (1 - y_out) dL/dy_out
    dL/dv_ij  = dL/dyj_in * hi_out  dL/dhi_out = sum_j dL/dyj_in * v_ij
    dL/dh_in  = h_out (1 - h_out) dL/dh_out
    dL/dw_ij  = dL/dhj_in * xi      dL/dxi = sum_j dL/dhj_in * w_ij

Every intermediate keeps the post's name. The order of the floating-point
operations is the post's, so the digits it prints are reproduced exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.activations import sigmoid

__all__ = ["WEIGHT_NAMES", "Manual222", "forward", "backprop", "gradients", "loss",
           "gd_step", "train"]

WEIGHT_NAMES = ("w11", "w12", "w21", "w22", "v11", "v12", "v21", "v22")


@dataclass(frozen=True)
class Manual222:
    """Every named quantity of one forward and backward pass of 003's network."""
    h1_in: float
    h2_in: float
    h1_out: float
    h2_out: float
    y1_in: float
    y2_in: float
    y1_out: float
    y2_out: float
    e1: float
    e2: float
    loss: float
    grad_y1_out: float
    grad_y2_out: float
    grad_y1_in: float
    grad_y2_in: float
    grad_v11: float
    grad_v12: float
    grad_v21: float
    grad_v22: float
    grad_h1_out: float
    grad_h2_out: float
    grad_h1_in: float
    grad_h2_in: float
    grad_w11: float
    grad_w12: float
    grad_w21: float
    grad_w22: float
    grad_x1: float
    grad_x2: float

    @property
    def gradient(self) -> tuple:
        """dL/dw in 003's weight order [w11, w12, w21, w22, v11, v12, v21, v22]."""
        return tuple(getattr(self, "grad_" + n) for n in WEIGHT_NAMES)


def _unpack(x, t, w, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type such as 'float64' or 'float32', got {dtype}")
    x, w = np.asarray(x, dtype=dtype), np.asarray(w, dtype=dtype)
    if x.shape != (2,):
        raise ValueError(f"x must hold the 2 inputs (x1, x2), got shape {x.shape}")
    if w.shape != (8,):
        raise ValueError(f"w must hold the 8 weights {list(WEIGHT_NAMES)}, got shape {w.shape}")
    t = None if t is None else np.asarray(t, dtype=dtype)
    if t is not None and t.shape != (2,):
        raise ValueError(f"t must hold the 2 targets (t1, t2), got shape {t.shape}")
    return x, t, w


def forward(x, w, dtype="float64"):
    """(y1_out, y2_out) for one instance: 003's ``forward(x, w)``."""
    x, _, w = _unpack(x, None, w, dtype)
    h1_out = sigmoid(x[0] * w[0] + x[1] * w[2])
    h2_out = sigmoid(x[0] * w[1] + x[1] * w[3])
    return sigmoid(h1_out * w[4] + h2_out * w[6]), sigmoid(h1_out * w[5] + h2_out * w[7])


def backprop(x, t, w, dtype="float64") -> Manual222:
    """One forward and backward pass on instance (x, t); all intermediates, 003's names."""
    x, t, w = _unpack(x, t, w, dtype)
    x1, x2 = x
    t1, t2 = t
    w11, w12, w21, w22, v11, v12, v21, v22 = w

    h1_in = w11 * x1 + w21 * x2
    h2_in = w12 * x1 + w22 * x2
    h1_out, h2_out = sigmoid(h1_in), sigmoid(h2_in)
    y1_in = v11 * h1_out + v21 * h2_out
    y2_in = v12 * h1_out + v22 * h2_out
    y1_out, y2_out = sigmoid(y1_in), sigmoid(y2_in)

    e1, e2 = y1_out - t1, y2_out - t2
    loss = e1 ** 2 + e2 ** 2

    grad_y1_out, grad_y2_out = 2 * e1, 2 * e2
    grad_y1_in = (y1_out * (1 - y1_out)) * grad_y1_out
    grad_y2_in = (y2_out * (1 - y2_out)) * grad_y2_out
    grad_v11, grad_v12 = grad_y1_in * h1_out, grad_y2_in * h1_out
    grad_v21, grad_v22 = grad_y1_in * h2_out, grad_y2_in * h2_out
    grad_h1_out = grad_y1_in * v11 + grad_y2_in * v12
    grad_h2_out = grad_y1_in * v21 + grad_y2_in * v22
    grad_h1_in = (h1_out * (1 - h1_out)) * grad_h1_out
    grad_h2_in = (h2_out * (1 - h2_out)) * grad_h2_out
    grad_w11, grad_w12 = grad_h1_in * x1, grad_h2_in * x1
    grad_w21, grad_w22 = grad_h1_in * x2, grad_h2_in * x2
    grad_x1 = grad_h1_in * w11 + grad_h2_in * w12
    grad_x2 = grad_h1_in * w21 + grad_h2_in * w22

    return Manual222(h1_in, h2_in, h1_out, h2_out, y1_in, y2_in, y1_out, y2_out, e1, e2, loss,
                     grad_y1_out, grad_y2_out, grad_y1_in, grad_y2_in,
                     grad_v11, grad_v12, grad_v21, grad_v22, grad_h1_out, grad_h2_out,
                     grad_h1_in, grad_h2_in, grad_w11, grad_w12, grad_w21, grad_w22,
                     grad_x1, grad_x2)


def gradients(x, t, w, dtype="float64") -> tuple:
    """The 8 partial derivatives dL/dw, in 003's weight order."""
    return backprop(x, t, w, dtype).gradient


def loss(x, t, w, dtype="float64"):
    """L = (y1_out - t1)^2 + (y2_out - t2)^2 for one instance."""
    return backprop(x, t, w, dtype).loss


def _instances(X, T):
    X, T = np.asarray(X, dtype=float), np.asarray(T, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2 or T.shape != X.shape:
        raise ValueError(f"X and T must both have shape (n, 2), got {X.shape} and {T.shape}")
    return X, T


def gd_step(X, T, w, alpha, dtype="float64") -> np.ndarray:
    """One gradient-descent step on the summed loss over the instances (rows of X, T).

    w <- w - alpha * sum_i dL_i/dw  (003: "g_W, g_V = g_W_1 + g_W_2, g_V_1 + g_V_2").
    """
    X, T = _instances(X, T)
    w = np.asarray(w, dtype=dtype)
    total = np.zeros_like(w)
    for x, t in zip(X, T):
        total += np.asarray(gradients(x, t, w, dtype), dtype=dtype)
    return w - alpha * total


def train(X, T, w, alpha, epochs: int, dtype="float64") -> np.ndarray:
    """``epochs`` full-batch gradient-descent steps from w; returns the final weights."""
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    for _ in range(int(epochs)):
        w = gd_step(X, T, w, alpha, dtype)
    return w
