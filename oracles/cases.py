"""One gradient question, written once: a *case* of one of the four systems.

A case holds everything a loss depends on: the data (inputs, targets, the
conventions) and the parameters, by name. The reference, every oracle and
(through the plug-in path) any implementation answer the same question,
d loss / d parameters, under the same names, so a report can say
``dL/dW1[0, 1]`` and a reproducer can be printed from the case alone.

Systems and their parameters:

* ``GraphCase``    (scalar_graph): a straight-line program over scalars (002's
  f = (a+b)(b+c), micrograd's ``Value``); parameters ``x0, x1, ...`` (the leaves).
* ``ManualCase``   (manual_222): 003's 2-2-2 sigmoid network, one instance;
  parameters ``w11, w12, w21, w22, v11, v12, v21, v22`` (0-d arrays) with
  h1_in = x1 w11 + x2 w21 and y1_in = h1 v11 + h2 v21, loss (y1-t1)^2 + (y2-t2)^2.
* ``MLPCase``      (mlp): any depth, row or column layout, one activation per
  layer, the squared error with one of ``MLP_LOSSES``' factors; parameters
  ``W1..WL`` and ``b1..bL``.
* ``SoftmaxCase``  (softmax): 000's network, a sigmoid (or tanh, relu) hidden
  layer, softmax output, cross-entropy summed ("sum") or averaged ("mean") over
  the batch, plus ``l2 * (sum W1^2 + sum W2^2)``; parameters ``W1, b1, W2, b2``.

Cases are immutable; ``with_params`` returns a new case.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Node", "GraphCase", "ManualCase", "MLPCase", "SoftmaxCase", "Case",
           "UNARY", "BINARY", "OPS", "evaluate", "MANUAL_NAMES", "MLP_LOSSES", "HIDDEN", "REDUCTIONS", "per_case"]

# --- the scalar graph: a straight-line program --------------------------------

UNARY = ("neg", "exp", "log", "sigmoid", "tanh", "relu")
BINARY = ("add", "sub", "mul", "div", "pow")   # pow: the exponent is always a constant
OPS = UNARY + BINARY


@dataclass(frozen=True)
class Node:
    """``op(a, b)``: each operand is an ``int`` (the index of an earlier value, the
    leaves first) or a ``float`` (a constant, which makes ``2.5 - x`` and ``x / 3``
    exercise the reflected operators). ``b`` is None for a unary op."""
    op: str
    a: int | float
    b: int | float | None = None

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"unknown operation {self.op!r}; expected one of {OPS}")
        if (self.b is None) != (self.op in UNARY):
            raise ValueError(f"{self.op} takes {1 if self.op in UNARY else 2} operand(s), got {self}")
        if self.op == "pow" and not isinstance(self.b, float):
            raise ValueError(f"pow needs a constant float exponent, got {self.b!r}")
        if self.op in UNARY and not isinstance(self.a, int):
            raise ValueError(f"{self.op} needs a value operand (an int index), got {self.a!r}")


def evaluate(leaves, nodes, unary, wrap=lambda c: c):
    """Run the program on ``leaves`` with the caller's arithmetic; returns every value.

    ``unary`` maps each unary op name to a function; binary ops use Python's
    operators, so the same program runs on ``Value`` objects, torch tensors,
    JAX arrays and complex numbers alike. ``wrap`` turns a constant into the
    arithmetic's scalar where it cannot mix with Python floats itself.
    """
    values = list(leaves)

    def operand(x):
        return values[x] if isinstance(x, int) else wrap(x)

    for node in nodes:
        a = operand(node.a)
        if node.op in UNARY:
            values.append(unary[node.op](a))
            continue
        b = operand(node.b)
        if node.op == "add":
            values.append(a + b)
        elif node.op == "sub":
            values.append(a - b)
        elif node.op == "mul":
            values.append(a * b)
        elif node.op == "div":
            values.append(a / b)
        else:
            values.append(a ** node.b)
    return values


@dataclass(frozen=True)
class GraphCase:
    """The output is the last node's value (the leaves' own value when there are no nodes)."""
    leaves: np.ndarray
    nodes: tuple = ()
    system = "scalar_graph"

    def __post_init__(self):
        object.__setattr__(self, "leaves", _frozen(_vector("leaves", self.leaves)))
        for i, node in enumerate(self.nodes):
            for x in (node.a, node.b):
                if isinstance(x, int) and not 0 <= x < self.leaves.size + i:
                    raise ValueError(f"node {i} ({node}) refers to value {x}; only 0..{self.leaves.size + i - 1} "
                                     "exist before it")

    def params(self) -> dict:
        return {f"x{i}": np.float64(v) for i, v in enumerate(self.leaves)}

    def with_params(self, params: dict) -> GraphCase:
        return replace(self, leaves=np.array([params[f"x{i}"] for i in range(self.leaves.size)], dtype=float))

    @property
    def summation_length(self) -> int:
        # every node can add a term and round once on each path through it
        return self.leaves.size + 2 * len(self.nodes)


MANUAL_NAMES = ("w11", "w12", "w21", "w22", "v11", "v12", "v21", "v22")


@dataclass(frozen=True)
class ManualCase:
    """x = (x1, x2), t = (t1, t2), w ordered as ``MANUAL_NAMES`` (003's order)."""
    x: np.ndarray
    t: np.ndarray
    w: np.ndarray
    system = "manual_222"

    def __post_init__(self):
        for name, n in (("x", 2), ("t", 2), ("w", 8)):
            v = _vector(name, getattr(self, name))
            if v.size != n:
                raise ValueError(f"ManualCase.{name} must have {n} entries, got {v.size}")
            object.__setattr__(self, name, _frozen(v))

    def params(self) -> dict:
        return {name: np.float64(v) for name, v in zip(MANUAL_NAMES, self.w)}

    def with_params(self, params: dict) -> ManualCase:
        return replace(self, w=np.array([params[n] for n in MANUAL_NAMES], dtype=float))

    def matrices(self):
        """(W, V) in the row layout: W[i, j] = w_{i+1, j+1}, so h_in = x @ W."""
        return self.w[:4].reshape(2, 2), self.w[4:].reshape(2, 2)

    summation_length = 16


# The squared error E = sum over instances and outputs of (y - t)^2, divided by an integer
# that depends on the batch size n and the number of outputs k (an integer, so that an
# oracle in long double divides exactly). Every oracle computes ``E / case.loss_divisor``;
# the names are the conventions real code uses:
MLP_LOSSES = {
    "sse": lambda n, k: 1,                        # 003: summed
    "half_sse": lambda n, k: 2,                   # 1/2 sum (Nielsen's quadratic cost, numpy-ml)
    "mean": lambda n, k: n,                       # mean over the batch of ||y - t||^2
    "half_mean": lambda n, k: 2 * n,              # 001: 1/(2n) sum
    "mean_all": lambda n, k: n * k,               # mean over all n k entries (torch MSELoss, Keras mse)
    "half_mean_all": lambda n, k: 2 * n * k,
}


@dataclass(frozen=True)
class MLPCase:
    """Row layout: X (n, d0), W_l (d_{l-1}, d_l); column layout: X (d0, n), W_l (d_l, d_{l-1}).
    b_l is (d_l,) in both; ``bs`` is None for a network without biases.
    ``activations`` has one name per layer; ``loss`` one of ``MLP_LOSSES``."""
    X: np.ndarray
    T: np.ndarray
    Ws: tuple
    bs: tuple | None = None
    activations: tuple = ()
    loss: str = "sse"
    layout: str = "row"
    system = "mlp"

    def __post_init__(self):
        Ws = tuple(_frozen(np.array(W, dtype=float)) for W in self.Ws)
        if not Ws:
            raise ValueError("an MLP needs at least one layer")
        object.__setattr__(self, "Ws", Ws)
        if self.bs is not None:
            object.__setattr__(self, "bs", tuple(_frozen(np.array(b, dtype=float)) for b in self.bs))
        object.__setattr__(self, "X", _frozen(np.array(self.X, dtype=float)))
        object.__setattr__(self, "T", _frozen(np.array(self.T, dtype=float)))
        acts = (self.activations,) * len(Ws) if isinstance(self.activations, str) else tuple(self.activations)
        object.__setattr__(self, "activations", acts or ("sigmoid",) * len(Ws))
        if len(self.activations) != len(Ws):
            raise ValueError(f"{len(self.activations)} activations for {len(Ws)} layers")
        if self.loss not in MLP_LOSSES or self.layout not in ("row", "column"):
            raise ValueError(f"loss must be one of {list(MLP_LOSSES)} and layout 'row' or 'column', "
                             f"got {self.loss!r}, {self.layout!r}")

    def params(self) -> dict:
        p = {f"W{l + 1}": W for l, W in enumerate(self.Ws)}
        if self.bs is not None:
            p.update({f"b{l + 1}": b for l, b in enumerate(self.bs)})
        return p

    def with_params(self, params: dict) -> MLPCase:
        L = len(self.Ws)
        return replace(self, Ws=tuple(params[f"W{l + 1}"] for l in range(L)),
                       bs=None if self.bs is None else tuple(params[f"b{l + 1}"] for l in range(L)))

    def row_layout(self):
        """(X, T, Ws) in the row layout, whatever the case's layout."""
        if self.layout == "row":
            return self.X, self.T, self.Ws
        return self.X.T, self.T.T, tuple(W.T for W in self.Ws)

    @property
    def loss_divisor(self) -> int:
        """The divisor of the summed squared error that ``loss`` names."""
        return MLP_LOSSES[self.loss](self.batch, self.dims[-1])

    @property
    def loss_scale(self) -> float:
        return 1.0 / self.loss_divisor

    @property
    def dims(self) -> tuple:
        X, _, Ws = self.row_layout()
        return (X.shape[1],) + tuple(W.shape[1] for W in Ws)

    @property
    def batch(self) -> int:
        return self.row_layout()[0].shape[0]

    @property
    def summation_length(self) -> int:
        # dW sums over the batch; each layer's pre-activation sums over its fan-in and
        # its delta over its fan-out; a few roundings per layer for f, f' and products
        return self.batch + 2 * sum(self.dims) + 4 * len(self.Ws)


HIDDEN = ("sigmoid", "tanh", "relu")
REDUCTIONS = ("sum", "mean")


@dataclass(frozen=True)
class SoftmaxCase:
    """X (n, d), Y (n, k) one-hot, W1 (d, h), b1 (h,), W2 (h, k), b2 (k,).

    loss = CE / (1 if reduction == "sum" else n) + l2 * (sum W1^2 + sum W2^2), with CE the
    cross-entropy summed over the batch and ``hidden`` the hidden layer's activation."""
    X: np.ndarray
    Y: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    reduction: str = "sum"
    hidden: str = "sigmoid"
    l2: float = 0.0
    system = "softmax"

    def __post_init__(self):
        for name in ("X", "Y", "W1", "b1", "W2", "b2"):
            object.__setattr__(self, name, _frozen(np.array(getattr(self, name), dtype=float)))
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be 'sum' or 'mean', got {self.reduction!r}")
        if self.hidden not in HIDDEN:
            raise ValueError(f"hidden must be one of {HIDDEN}, got {self.hidden!r}")
        if not (np.isfinite(self.l2) and self.l2 >= 0):
            raise ValueError(f"l2 must be a finite number >= 0, got {self.l2!r}")
        object.__setattr__(self, "l2", float(self.l2))

    @property
    def loss_divisor(self) -> int:
        """The divisor of the summed cross-entropy that ``reduction`` names."""
        return 1 if self.reduction == "sum" else self.X.shape[0]

    @property
    def loss_scale(self) -> float:
        return 1.0 / self.loss_divisor

    def params(self) -> dict:
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    def with_params(self, params: dict) -> SoftmaxCase:
        return replace(self, **{k: params[k] for k in ("W1", "b1", "W2", "b2")})

    @property
    def summation_length(self) -> int:
        n, d = self.X.shape
        return n + 2 * (d + self.W1.shape[1] + self.W2.shape[1]) + 12


Case = GraphCase | ManualCase | MLPCase | SoftmaxCase


def per_case(fn, size: int = 8):
    """``fn(case)`` kept for the last ``size`` cases computed (first in, first out).

    For what is a function of the case alone and asked for repeatedly (its rounding
    magnitudes: once per comparison; the known mistakes' answers: once per diagnosis).
    Keyed by identity, with the case held so that its id is never a later case's;
    sound because a case and its arrays are read-only. ``fn`` must not return anything
    its callers write to.
    """
    kept: dict = {}

    @functools.wraps(fn)
    def cached(case):
        hit = kept.get(id(case))
        if hit is not None and hit[0] is case:
            return hit[1]
        value = fn(case)
        while len(kept) >= size:
            del kept[next(iter(kept))]
        kept[id(case)] = (case, value)
        return value
    return cached


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` (the case's own copy) made read-only: a case never changes, so what is computed
    from it (its rounding magnitudes, the mistakes' answers) can be kept with it."""
    a.setflags(write=False)
    return a


def _vector(name, v):
    v = np.array(v, dtype=float)
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers, got shape {v.shape}")
    return v
