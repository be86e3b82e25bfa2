"""The PyTorch oracle: the four losses written in torch, gradients by autograd in float64.

Forward mode (``directional``) is torch's dual tensors: one pass along a
direction, the check of the scalar graph's forward mode and the cheap
random-projection check of the networks. The losses follow the definitions in
``oracles.cases`` with torch's own primitives (``torch.sigmoid``,
``torch.log_softmax``), independently of ``reference/`` and ``oracles.numeric``.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD

from oracles import Gradient
from oracles.cases import MANUAL_NAMES, GraphCase, ManualCase, MLPCase, SoftmaxCase, evaluate

__all__ = ["loss", "gradient", "directional"]

# One thread: the oracle's tensors are tiny, so more threads have nothing to share, and
# torch's thread pool can wait for a core that is busy (a test run's workers and
# subprocesses, JAX compiling). Implementations under test run in their own processes.
torch.set_num_threads(1)

_DTYPE = torch.float64
ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "identity": lambda z: z}
UNARY = {"neg": torch.neg, "exp": torch.exp, "log": torch.log, "sigmoid": torch.sigmoid,
         "tanh": torch.tanh, "relu": torch.relu}


def _t(a):
    """A float64 tensor of its own (a case's arrays are read-only, which torch does not share)."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=_DTYPE)


def loss(case, params: dict, constant=_t) -> torch.Tensor:
    """The case's loss as a 0-d float64 tensor of ``params`` (a dict of tensors by name);
    ``constant`` makes a tensor of each of the case's data and coefficients."""
    if isinstance(case, GraphCase):
        return evaluate([params[f"x{i}"] for i in range(case.leaves.size)], case.nodes, UNARY, wrap=constant)[-1]
    if isinstance(case, ManualCase):
        w = torch.stack([params[k] for k in MANUAL_NAMES])
        W, V = w[:4].reshape(2, 2), w[4:].reshape(2, 2)
        y = torch.sigmoid(torch.sigmoid(constant(case.x) @ W) @ V)
        return torch.sum((y - constant(case.t)) ** 2)
    if isinstance(case, MLPCase):
        X, T, _ = case.row_layout()
        A = constant(X)
        for l, act in enumerate(case.activations):
            W = params[f"W{l + 1}"]
            Z = A @ (W if case.layout == "row" else W.T)
            if case.bs is not None:
                Z = Z + params[f"b{l + 1}"]
            A = ACTIVATIONS[act](Z)
        return torch.sum((A - constant(T)) ** 2) / constant(case.loss_divisor)
    if isinstance(case, SoftmaxCase):
        h = ACTIVATIONS[case.hidden](constant(case.X) @ params["W1"] + params["b1"])
        logp = torch.log_softmax(h @ params["W2"] + params["b2"], dim=1)
        data = -torch.sum(constant(case.Y) * logp) / constant(case.loss_divisor)
        return data + constant(case.l2) * (torch.sum(params["W1"] ** 2) + torch.sum(params["W2"] ** 2))
    raise ValueError(f"not a case: {type(case).__name__}; expected one of GraphCase, ManualCase, MLPCase, SoftmaxCase")


def gradient(case) -> Gradient:
    """d loss / d params by reverse-mode autograd."""
    params = {k: _t(v).requires_grad_(True) for k, v in case.params().items()}
    value = loss(case, params)
    grads = torch.autograd.grad(value, list(params.values()), allow_unused=True)
    return Gradient(float(value.detach()), {k: (torch.zeros_like(p) if g is None else g).detach().numpy()
                                             for (k, p), g in zip(params.items(), grads)}, "torch64")


def directional(case, direction: dict) -> float:
    """d/de loss(params + e * direction) at e = 0, by forward mode (dual tensors).

    The case's data and coefficients are duals too, with a zero tangent: torch's rule for
    an operation between a dual and a plain tensor or number is a Python decomposition
    whose first use imports torch's compiler (torch._dynamo), most of a second."""
    def constant(a):
        value = _t(a)
        return fwAD.make_dual(value, torch.zeros_like(value))

    with warnings.catch_warnings(), fwAD.dual_level():
        # torch 2.13's forward-mode decompositions call its own deprecated torch.jit.script
        warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated", category=DeprecationWarning)
        params = {k: fwAD.make_dual(_t(v), _t(direction[k])) for k, v in case.params().items()}
        return float(fwAD.unpack_dual(loss(case, params, constant)).tangent)
