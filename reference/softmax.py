"""000's network: sigmoid hidden layer, softmax output, cross-entropy with one-hot targets.

Also with the choices real code makes (``hidden``, ``reduction``, ``l2``): a tanh or
relu hidden layer (f'(z) from the output: 1 - h^2, 1 where h > 0), and an L2 term
l2 (sum W1^2 + sum W2^2) added after the reduction, which adds 2 l2 W to each
weight's gradient.

Row layout, as in 000's code::

    zh = X W1 + b1        h = s(zh)                 (n, hidden)
    zpred = h W2 + b2     pred = softmax(zpred)     (n, classes)

Cross-entropy with one-hot Y, summed or averaged over the batch (``reduction``):

    L_sum  = - sum_i sum_k Y_ik log pred_ik          L_mean = L_sum / n

For L_sum, dL/dzpred = pred - Y exactly (000's ``grad_zpred = pred - y``); for
L_mean it is (pred - Y)/n. Then, as in 000:

    grad_h  = grad_zpred W2^T        grad_W2 = h^T grad_zpred   grad_b2 = sum_i grad_zpred
    grad_zh = grad_h ⊙ h(1 - h)      grad_W1 = X^T grad_zh      grad_b1 = sum_i grad_zh

Numerically stable: softmax and log-softmax subtract each row's maximum logit,
so logits of ±1000 give finite loss and gradients.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference.activations import activation

__all__ = ["REDUCTIONS", "HIDDEN", "softmax", "log_softmax", "cross_entropy", "SoftmaxPass",
           "forward_backward", "loss_and_gradients"]

REDUCTIONS = ("sum", "mean")
HIDDEN = ("sigmoid", "tanh", "relu")


def softmax(Z, axis=-1):
    """exp(z_k - max z) / sum_j exp(z_j - max z) along ``axis`` (one row = one instance)."""
    Z = np.asarray(Z, dtype=float)
    E = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return E / E.sum(axis=axis, keepdims=True)


def log_softmax(Z, axis=-1):
    """z_k - max z - log sum_j exp(z_j - max z): finite for any finite logits."""
    Z = np.asarray(Z, dtype=float)
    shifted = Z - Z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")


def _check_one_hot(Y, shape):
    Y = np.asarray(Y, dtype=float)
    if Y.shape != shape:
        raise ValueError(f"Y has shape {Y.shape} but the predictions have shape {shape}")
    if not (np.isin(Y, (0.0, 1.0)).all() and (Y.sum(axis=1) == 1).all()):
        raise ValueError("Y must be one-hot: entries 0 or 1, exactly one 1 per row")
    return Y


def cross_entropy(zpred, Y, reduction="sum"):
    """- sum_i sum_k Y_ik log softmax(zpred)_ik, or its mean over the n rows."""
    _check_reduction(reduction)
    logp = log_softmax(zpred)
    return _cross_entropy(logp, _check_one_hot(Y, logp.shape), reduction)


def _cross_entropy(logp, Y, reduction):
    total = -np.sum(Y * logp)
    return total if reduction == "sum" else total / logp.shape[0]


@dataclass(frozen=True)
class SoftmaxPass:
    """Every named quantity of 000's forward and backward pass."""
    zh: np.ndarray
    h: np.ndarray
    zpred: np.ndarray
    pred: np.ndarray
    loss: float
    grad_zpred: np.ndarray
    grad_h: np.ndarray
    grad_zh: np.ndarray
    grad_W1: np.ndarray
    grad_b1: np.ndarray
    grad_W2: np.ndarray
    grad_b2: np.ndarray

    @property
    def gradients(self) -> dict:
        return {"W1": self.grad_W1, "b1": self.grad_b1, "W2": self.grad_W2, "b2": self.grad_b2}


def _shapes(X, W1, b1, W2, b2):
    X, W1, b1, W2, b2 = (np.asarray(a, dtype=float) for a in (X, W1, b1, W2, b2))
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (batch, features), got shape {X.shape}")
    if W1.ndim != 2 or W1.shape[0] != X.shape[1]:
        raise ValueError(f"W1 must have shape ({X.shape[1]}, hidden), got {W1.shape}")
    if b1.shape not in ((W1.shape[1],), (1, W1.shape[1])):
        raise ValueError(f"b1 must have shape ({W1.shape[1]},) or (1, {W1.shape[1]}), got {b1.shape}")
    if W2.ndim != 2 or W2.shape[0] != W1.shape[1]:
        raise ValueError(f"W2 must have shape ({W1.shape[1]}, classes), got {W2.shape}")
    if b2.shape not in ((W2.shape[1],), (1, W2.shape[1])):
        raise ValueError(f"b2 must have shape ({W2.shape[1]},) or (1, {W2.shape[1]}), got {b2.shape}")
    return X, W1, b1, W2, b2


def forward_backward(X, Y, W1, b1, W2, b2, reduction="sum", hidden="sigmoid", l2=0.0) -> SoftmaxPass:
    """000's forward pass, loss and backward pass; gradients have the parameters' shapes."""
    _check_reduction(reduction)
    if hidden not in HIDDEN:
        raise ValueError(f"hidden must be one of {list(HIDDEN)}, got {hidden!r}")
    X, W1, b1, W2, b2 = _shapes(X, W1, b1, W2, b2)
    f, fprime = activation(hidden)
    zh = X @ W1 + b1
    h = f(zh)
    zpred = h @ W2 + b2
    pred = softmax(zpred)
    Y = _check_one_hot(Y, pred.shape)
    loss = _cross_entropy(log_softmax(zpred), Y, reduction)
    if l2:
        loss = loss + l2 * (np.sum(W1 * W1) + np.sum(W2 * W2))

    grad_zpred = pred - Y
    if reduction == "mean":
        grad_zpred = grad_zpred / X.shape[0]
    grad_h = grad_zpred @ W2.T
    grad_W2 = h.T @ grad_zpred
    grad_b2 = grad_zpred.sum(axis=0).reshape(b2.shape)
    grad_zh = grad_h * fprime(h)
    grad_W1 = X.T @ grad_zh
    if l2:
        grad_W1, grad_W2 = grad_W1 + (2 * l2) * W1, grad_W2 + (2 * l2) * W2
    grad_b1 = grad_zh.sum(axis=0).reshape(b1.shape)
    return SoftmaxPass(zh, h, zpred, pred, loss, grad_zpred, grad_h, grad_zh,
                       grad_W1, grad_b1, grad_W2, grad_b2)


def loss_and_gradients(X, Y, W1, b1, W2, b2, reduction="sum", hidden="sigmoid", l2=0.0):
    """(loss, {"W1", "b1", "W2", "b2"}): the plug-in protocol's ``softmax_gradients``."""
    p = forward_backward(X, Y, W1, b1, W2, b2, reduction, hidden, l2)
    return p.loss, p.gradients
