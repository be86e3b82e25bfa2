"""Hypothesis strategies: the cases every property test draws (the one module for them).

Each strategy states its contract (shapes, ranges, what is guaranteed) and what
it shrinks towards. Kinks and poles are kept away by construction, never by a
tolerance: relu pre-activations, log arguments and divisors stay clear of 0 by
a margin far above the largest finite-difference step's effect on them.

Regimes for the networks (``REGIMES``):

* ``"conditioned"``: weights and biases in [-2, 2], inputs in [-3, 3]; every
  gradient entry is within a few orders of the largest.
* ``"saturated"``: every unit's pre-activation beyond ±10 (up to ±40), where
  sigmoid' is 4.5e-5 down to 4e-18: gradients of 1e-8 and below next to O(1)
  losses; the regime that breaks per-entry relative tolerances.
* ``"extreme_logits"`` (softmax only): logits near ±1000, targets that are
  sometimes the -1000 class (loss ~2000, probabilities that underflow to 0).
"""
from __future__ import annotations

import functools
import math
import operator

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from oracles.cases import (
    BINARY,
    HIDDEN,
    MLP_LOSSES,
    REDUCTIONS,
    UNARY,
    GraphCase,
    ManualCase,
    MLPCase,
    Node,
    SoftmaxCase,
)
from oracles.numeric import ACTIVATIONS

__all__ = ["REGIMES", "arrays", "directions", "one_hot", "layer_sizes", "networks", "graph_cases", "manual_cases",
           "mlp_cases", "softmax_cases", "extreme_graph_cases", "cases", "RELU_MARGIN", "GRAPH_OPS", "FALLBACKS",
           "clear_of_zero"]

REGIMES = ("conditioned", "saturated")
SOFTMAX_REGIMES = ("conditioned", "saturated", "extreme_logits")

# The largest finite-difference step is Richardson's 2h = 1.5e-3 max(1, |p|); a
# relu input within 0.1 of its kink would need that step amplified 60x to cross.
RELU_MARGIN = 0.1
# Saturated pre-activations land in [10, 10 + spread] away from 0 (in either sign).
SATURATION = 10.0


def arrays(shape, lo=-2.0, hi=2.0):
    """float64 arrays of ``shape`` with entries in [lo, hi] (no NaN, inf or subnormals);
    shrinks towards zeros (or lo, when 0 is outside)."""
    shape = (operator.index(shape),) if np.ndim(shape) == 0 else tuple(map(operator.index, shape))
    # -0.0 == 0.0, but a range from -0.0 holds -0.0 and one from 0.0 does not: the signs are keys too
    return _arrays(shape, float(lo), float(hi), math.copysign(1.0, lo), math.copysign(1.0, hi))


@functools.lru_cache(maxsize=None)
def _arrays(shape, lo, hi, *signs):
    # one strategy object per (shape, range): Hypothesis validates each new strategy object
    # at its first draw, a large part of a case's drawing when every case built its own
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_subnormal=False))


@st.composite
def directions(draw, params: dict):
    """A direction for each parameter (same shapes), entries uniform in [-1, 1).

    Drawn from a seed, not entry by entry: a direction needs no shrinking (any
    direction exposes a wrong gradient as well as another), and per-entry draws
    were the largest cost of the directional property tests. Shrinks to seed 0.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="direction seed"))
    return {k: rng.uniform(-1.0, 1.0, np.shape(v)) for k, v in params.items()}


@st.composite
def one_hot(draw, n, k):
    """An (n, k) float64 one-hot matrix; shrinks towards every row choosing class 0."""
    labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    return np.eye(k)[labels]


def layer_sizes(max_depth=4, max_width=8, min_depth=1):
    """(d0, d1, ..., dL): depth L in min_depth..max_depth, each width in 1..max_width;
    shrinks towards min_depth layers of width 1: (1, 1)."""
    return st.integers(min_depth, max_depth).flatmap(
        lambda L: st.lists(st.integers(1, max_width), min_size=L + 1, max_size=L + 1).map(tuple))


def networks(max_depth=3, max_width=5, max_batch=4, layout="row", biases=None):
    """(X, T, Ws, bs) of a sigmoid ``mlp_cases`` network (conditioned regime, sse), as plain
    arrays, for tests that call reference/mlp.py directly with their own activation and
    loss. Row layout: X (n, d0), W_l (d_{l-1}, d_l); column layout: the transposes.
    bs is None when ``biases`` is False, drawn either way when None.
    Shrinks as ``mlp_cases``: one layer of width 1, batch 1, zero weights.
    """
    return mlp_cases(activations="sigmoid", loss="sse", layout=layout, biases=biases, max_depth=max_depth,
                     max_width=max_width, max_batch=max_batch).map(
        lambda c: (c.X, c.T, list(c.Ws), None if c.bs is None else list(c.bs)))


# --- shaping pre-activations with the biases --------------------------------------

def clear_of_zero(Z, b, margin):
    """A bias close to ``b`` for which every entry of Z + b is at least ``margin`` from 0.

    Z is (n, m) (one column per unit); unit j's forbidden biases are the intervals
    (-Z_ij - margin, -Z_ij + margin). The nearest allowed bias is one of the
    interval ends (or b itself), so the result is a deterministic function of the
    draw and shrinks with it.
    """
    b = np.array(b, dtype=float)
    margin = 1.01 * margin          # so that rounding of Z + b cannot bring an end below the margin
    for j in range(Z.shape[1]):
        lo, hi = None, None
        for c in np.sort(-Z[:, j]):                  # merge the forbidden intervals in order
            if hi is not None and c - margin <= hi:
                hi = c + margin
                continue
            if lo is not None and lo < b[j] < hi:
                break
            lo, hi = c - margin, c + margin
        if lo < b[j] < hi:
            b[j] = lo if b[j] - lo <= hi - b[j] else hi
    return b


def _saturating(Z, signs, spread):
    """Biases that put every entry of unit j's column of Z + b at sign_j * [10, 10 + spread_j + range]."""
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    return np.where(signs > 0, SATURATION + spread - lo, -SATURATION - spread - hi)


def _placed(a, W, lo):
    """W with each column j changed so that |a @ W[:, j]| >= lo[j] (one instance ``a``): the
    column scaled up where a @ W[:, j] is non-zero, else its entry against the largest |a_i|
    set. A zero input (no entry to move) leaves z = 0, whose derivative nothing uses: every
    gradient through that unit is multiplied by its zero inputs."""
    W = np.array(W, dtype=float)
    i = int(np.argmax(np.abs(a)))
    lo = 1.01 * np.asarray(lo, dtype=float)
    for j in range(W.shape[1]):
        z = float(a @ W[:, j])
        if abs(z) >= lo[j]:
            continue
        if abs(z) > 1e-3:
            W[:, j] *= lo[j] / abs(z)
        elif a[i] != 0:
            W[i, j] += (lo[j] - z) / a[i]
    return W


# --- the four systems ---------------------------------------------------------------

@st.composite
def mlp_cases(draw, regime="conditioned", activations=None, loss=None, layout=None, biases=None,
              max_depth=4, max_width=8, max_batch=8, min_depth=1, output_activation=None):
    """An ``MLPCase``: depth 1..4, widths 1..8, batch 1..8 (by default).

    ``activations`` None draws one per layer from sigmoid/tanh/relu/identity
    (sigmoid/tanh in the saturated regime); a string fixes all layers, and
    ``output_activation`` then the last (a plug-in's declared conventions). ``loss``,
    ``layout`` and ``biases`` are drawn when None. Guarantees: targets in [0, 1];
    every relu pre-activation at least ``RELU_MARGIN`` from 0 (the biases moved to
    the nearest value that clears the kink); in the saturated regime every
    pre-activation beyond ±10 (biases set, per unit, from a drawn sign and spread
    in [0, 30]). ``biases=False`` with relu or saturation: one instance, each
    unit's weights placing its pre-activation instead.
    ``loss`` is one of ``MLP_LOSSES``.
    Shrinks towards one sigmoid layer of width 1, batch 1, zero weights, sse, row layout.
    """
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")
    dims = draw(layer_sizes(max_depth, max_width, min_depth), label="dims")
    depth = len(dims) - 1
    n = draw(st.integers(1, max_batch), label="batch")
    choices = ["sigmoid", "tanh"] if regime == "saturated" else ["sigmoid", "tanh", "relu", "identity"]
    if activations is None:
        acts = tuple(draw(st.lists(st.sampled_from(choices), min_size=depth, max_size=depth), label="activations"))
    else:
        acts = (activations,) * depth if isinstance(activations, str) else tuple(activations)
    if output_activation:
        acts = acts[:-1] + (output_activation,)
    loss = draw(st.sampled_from(list(MLP_LOSSES)), label="loss") if loss is None else loss
    layout = draw(st.sampled_from(["row", "column"]), label="layout") if layout is None else layout
    needs_bias = regime == "saturated" or "relu" in acts
    with_bias = needs_bias if biases is None and needs_bias else (
        draw(st.booleans(), label="biases") if biases is None else biases)
    # Without biases, only a single instance can have every pre-activation placed (by its
    # unit's weights): such networks are asked one instance at a time.
    placed_by_weights = needs_bias and not with_bias
    if placed_by_weights:
        n = 1
    X = draw(arrays((n, dims[0]), -3.0, 3.0), label="X")
    T = draw(arrays((n, dims[-1]), 0.0, 1.0), label="T")
    Ws = [draw(arrays((dims[l], dims[l + 1])), label=f"W{l + 1}") for l in range(depth)]
    bs = [draw(arrays((dims[l + 1],)), label=f"b{l + 1}") for l in range(depth)] if with_bias else None
    if regime == "saturated":
        signs = [draw(arrays((d,), -1.0, 1.0), label=f"signs{l + 1}") for l, d in enumerate(dims[1:])]
        spreads = [draw(arrays((d,), 0.0, 30.0), label=f"spread{l + 1}") for l, d in enumerate(dims[1:])]
    # Walk forward, adjusting each layer's biases where the regime or relu requires it.
    A = X
    for l in range(depth):
        Z = A @ Ws[l]
        if placed_by_weights and (regime == "saturated" or acts[l] == "relu"):
            lo = SATURATION + spreads[l] if regime == "saturated" else np.full(dims[l + 1], RELU_MARGIN)
            Ws[l] = _placed(A[0], Ws[l], lo)
            Z = A @ Ws[l]
        elif regime == "saturated":
            bs[l] = _saturating(Z, np.where(signs[l] >= 0, 1.0, -1.0), spreads[l])
        elif acts[l] == "relu":
            bs[l] = clear_of_zero(Z, bs[l], RELU_MARGIN)
        A = ACTIVATIONS[acts[l]](Z + (bs[l] if bs is not None else 0.0))
    case = MLPCase(X, T, Ws, bs, acts, loss, "row")
    if layout == "column":
        case = MLPCase(X.T, T.T, [W.T for W in Ws], bs, acts, loss, "column")
    return case


@st.composite
def manual_cases(draw, regime="conditioned"):
    """A ``ManualCase`` (003's 2-2-2 network, no biases): x in [-3, 3], t in [0, 1], w in [-3, 3].

    Saturated regime: |x_i| in [0.5, 3], weight magnitudes in [0.5, 3] before
    scaling; the first hidden unit saturates towards 1 and the second towards a
    drawn side, then each unit's incoming weights are scaled so that its
    pre-activation is beyond ±10 (to 10 + [0, 30]). With no biases, an output
    can only saturate through a hidden unit near 1, which keeps the scaled
    weights below ~80 (an unbounded draw made weights of 1e18).
    Shrinks towards x = (0, 0) (conditioned) or (0.5, 0.5), t = 0, w = 0 (or the
    smallest saturating weights).
    """
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")
    t = draw(arrays((2,), 0.0, 1.0), label="t")
    if regime == "conditioned":
        return ManualCase(draw(arrays((2,), -3.0, 3.0), label="x"), t, draw(arrays((8,), -3.0, 3.0), label="w"))

    def signs(n, label):
        return np.where(draw(arrays((n,), -1.0, 1.0), label=label) >= 0, 1.0, -1.0)
    x = draw(arrays((2,), 0.5, 3.0), label="|x|") * signs(2, "sign x")
    W = draw(arrays((2, 2), 0.5, 3.0), label="|W|")
    V = draw(arrays((2, 2), 0.5, 3.0), label="|V|")
    spread = draw(arrays((4,), 0.0, 30.0), label="spread")
    hidden_side = np.array([1.0, signs(1, "side of h2")[0]])
    W *= np.sign(x)[:, None] * hidden_side[None, :]        # both terms of x @ W[:, j] have sign side_j
    W *= (SATURATION + spread[:2]) / np.abs(x @ W)
    h = 1 / (1 + np.exp(-(x @ W)))
    V *= signs(2, "side of y")[None, :]                     # h > 0: a column of one sign saturates its side
    V *= (SATURATION + spread[2:]) / np.abs(h @ V)
    return ManualCase(x, t, np.concatenate([W.ravel(), V.ravel()]))


@st.composite
def softmax_cases(draw, regime="conditioned", reduction=None, max_width=8, max_batch=8, hidden=None, l2=None):
    """A ``SoftmaxCase``: X (n, d) in [-3, 3], one-hot Y (n, k), W1 (d, h), b1, W2 (h, k), b2;
    n in 1..8, d, h in 1..8, k in 2..8 classes.

    conditioned: weights in [-2, 2]; saturated: every hidden pre-activation beyond
    ±10 (b1 set per unit as in ``mlp_cases``); extreme_logits: b2 = ±1000 per
    class (drawn signs, at least one class of each sign when k >= 2), so logits
    are 1000 ± 2h apart and the targets are sometimes a -1000 class.
    ``reduction`` ("sum" or "mean"), ``hidden`` (sigmoid, tanh, relu; sigmoid or tanh
    in the saturated regime) and the L2 coefficient ``l2`` (0 or in [0.01, 1]) are
    drawn when None. A relu hidden layer has every pre-activation at least
    ``RELU_MARGIN`` from its kink, in every regime.
    Shrinks towards n = d = h = 1, k = 2, zero weights, class 0, "sum", sigmoid, l2 = 0.
    """
    if regime not in SOFTMAX_REGIMES:
        raise ValueError(f"regime must be one of {SOFTMAX_REGIMES}, got {regime!r}")
    n = draw(st.integers(1, max_batch), label="batch")
    d, h = draw(st.integers(1, max_width), label="d"), draw(st.integers(1, max_width), label="hidden")
    k = draw(st.integers(2, max_width), label="classes")
    reduction = draw(st.sampled_from(list(REDUCTIONS)), label="reduction") if reduction is None else reduction
    if hidden is None:
        hidden = draw(st.sampled_from(HIDDEN if regime != "saturated" else ("sigmoid", "tanh")), label="hidden")
    if l2 is None:
        l2 = draw(st.one_of(st.just(0.0), st.floats(0.01, 1.0)), label="l2")
    X = draw(arrays((n, d), -3.0, 3.0), label="X")
    W1, b1 = draw(arrays((d, h)), label="W1"), draw(arrays((h,)), label="b1")
    W2, b2 = draw(arrays((h, k)), label="W2"), draw(arrays((k,)), label="b2")
    Y = draw(one_hot(n, k), label="Y")
    if regime == "saturated":
        signs = np.where(draw(arrays((h,), -1.0, 1.0), label="signs") >= 0, 1.0, -1.0)
        b1 = _saturating(X @ W1, signs, draw(arrays((h,), 0.0, 30.0), label="spread"))
    elif regime == "extreme_logits":
        signs = np.where(draw(arrays((k,), -1.0, 1.0), label="signs") >= 0, 1.0, -1.0)
        signs[0], signs[-1] = 1.0, -1.0
        b2 = 1000.0 * signs + b2
    if hidden == "relu":
        b1 = clear_of_zero(X @ W1, b1, RELU_MARGIN)
    return SoftmaxCase(X, Y, W1, b1, W2, b2, reduction, hidden, l2)


# --- the scalar graph ----------------------------------------------------------------

# Operations in shrinking order: Hypothesis shrinks sampled_from towards the first.
GRAPH_OPS = ("add", "mul", "sub", "neg", "div", "pow", "exp", "log", "sigmoid", "tanh", "relu")
POWERS = (2.0, 3.0, -1.0, 0.5, 1.5, -2.0)
# Operations valid at any value that keep it bounded, in order of preference:
# what replaces an operation that would break a guarantee.
FALLBACKS = ("sigmoid", "tanh", "mul", "div", "neg", "add", "sub")
# Values are kept within ±VALUE_LIMIT and their sensitivities to the leaves within
# SENSITIVITY_LIMIT, so no overflow and no finite-difference step of 1.5e-3 can
# move an operand across a kink or pole kept DOMAIN_MARGIN (plus 10 such moves) away.
VALUE_LIMIT = 1e3
SENSITIVITY_LIMIT = 1e3
DOMAIN_MARGIN = 0.05


@st.composite
def graph_cases(draw, ops=GRAPH_OPS, max_leaves=6, max_nodes=30):
    """A ``GraphCase``: 1..6 leaves in [-3, 3] and 1..30 nodes, each applying an
    operation of ``ops`` to a value no node has taken yet and, for a binary
    operation, to any earlier value (so sub-expressions are reused and gradients
    meet at branches, either operand first) or to a constant in [-3, 3] on either
    side (``2.5 - x``, ``x / 3``: the reflected operators). The values still
    untaken at the end are joined into the output by add, mul or sub (up to 5
    more nodes), so the output depends on every node: a mistake in any operation
    can show in the gradient. (Operands drawn from all earlier values leave most
    nodes off the output's path, where a wrong operation cannot show; the bug zoo's
    mistakes in div, sub, tanh and the walk order would then escape many runs.)

    Guarantees, checked as the program is built from the values it computes:
    log arguments positive, divisors and negative-power bases away from 0, relu
    arguments away from its kink, each by DOMAIN_MARGIN plus ten times the
    largest finite-difference step's effect on that operand; exp arguments <= 5;
    every value within ±1e3 and its derivative with respect to every leaf within
    ±1e3. An operation that would break a guarantee is replaced by an always
    valid, bounded one on its first operand, the first of ``FALLBACKS`` that
    ``ops`` allows (``sigmoid`` when present), so no example is discarded.
    Shrinks towards one leaf at 0 and one ``add`` node.
    """
    unknown = set(ops) - set(UNARY + BINARY)
    if unknown or not ops:
        raise ValueError(f"ops must be a non-empty subset of {UNARY + BINARY}, got unknown {sorted(unknown)}")
    if not set(ops) & set(FALLBACKS):
        raise ValueError(f"ops {sorted(ops)} has none of {list(FALLBACKS)}, one of which every graph needs "
                         "(an operation valid on any value)")
    ops = tuple(op for op in GRAPH_OPS if op in ops)
    fallback = next(op for op in FALLBACKS if op in ops)
    n = draw(st.integers(1, max_leaves), label="leaves")
    leaves = np.array(draw(st.lists(st.floats(-3.0, 3.0, allow_subnormal=False), min_size=n, max_size=n)))
    values = list(leaves)
    sens = [np.eye(n)[i] for i in range(n)]        # d value / d leaf, exact forward mode
    # The largest step a finite-difference oracle takes on leaf i: Richardson's 2h.
    step = 2 * 7.5e-4 * np.maximum(1.0, np.abs(leaves))
    nodes = []
    unused = list(range(n))          # values no node has taken yet
    for _ in range(draw(st.integers(1, max_nodes), label="nodes")):
        op = draw(st.sampled_from(ops), label="op")
        i = unused[-1 - draw(st.integers(0, len(unused) - 1), label="operand")]
        node, value, grad = _node(draw, op, i, values, sens, step)
        if node is None:
            node, value, grad = _fallback_node(fallback, i, values, sens)
        _append(node, value, grad, nodes, values, sens, unused)
    # Every node takes an unused value, so only a few stay unused: join them into the
    # output, which then depends on every node (none is dead code that a mistake hides in).
    joins = [op for op in ("add", "mul", "sub") if op in ops]
    while joins and len(unused) > 1:
        op = draw(st.sampled_from(joins), label="join")
        # another join where this one leaves the bounds (a product of two large values): a
        # value left out would be dead code, where a mistake of the walk hides
        for other in [op] + [j for j in joins if j != op]:
            node, value, grad = _join(other, unused[-2], unused[-1], values, sens)
            if node is not None:
                break
        if node is None:
            break
        _append(node, value, grad, nodes, values, sens, unused)
    return GraphCase(leaves, tuple(nodes))


def _append(node, value, grad, nodes, values, sens, unused):
    for x in (node.a, node.b):
        if isinstance(x, int) and node.op != "pow" and x in unused:
            unused.remove(x)
    if node.op == "pow" and node.a in unused:
        unused.remove(node.a)
    unused.append(len(values))
    nodes.append(node)
    values.append(value)
    sens.append(grad)


def _join(op, i, j, values, sens):
    (a, da), (b, db) = (values[i], sens[i]), (values[j], sens[j])
    if op == "add":
        r, dr = a + b, da + db
    elif op == "sub":
        r, dr = a - b, da - db
    else:
        r, dr = a * b, da * b + a * db
    return _bounded(Node(op, i, j), r, dr)


def _sigmoid_node(i, values, sens):
    s = 1 / (1 + np.exp(-values[i]))
    return Node("sigmoid", i), s, s * (1 - s) * sens[i]


def _fallback_node(op, i, values, sens):
    """An operation valid at any value, which keeps it (and its sensitivities) bounded."""
    a, da = values[i], sens[i]
    if op == "sigmoid":
        return _sigmoid_node(i, values, sens)
    if op == "tanh":
        r = float(np.tanh(a))
        return Node("tanh", i), r, (1 - r * r) * da
    if op == "mul":
        return Node("mul", i, 0.5), a * 0.5, da * 0.5
    if op == "div":
        return Node("div", i, 2.0), a / 2.0, da / 2.0
    if op == "neg":
        return Node("neg", i), -a, -da
    return Node(op, i, 0.0), a + 0.0 if op == "add" else a - 0.0, da       # add, sub


def _node(draw, op, i, values, sens, step):
    """(node, value, d value / d leaves), or (None, ...) when the guarantees would break."""
    a, da = values[i], sens[i]

    def clear(x, dx, margin=DOMAIN_MARGIN):          # x stays this far from 0 under any FD step
        return abs(x) > margin + 10 * float(np.abs(dx) @ step)

    if op in UNARY:
        if op == "neg":
            r, dr = -a, -da
        elif op == "exp":
            if a > 5:
                return None, None, None
            r = np.exp(a)
            dr = r * da
        elif op == "log":
            if a <= 0 or not clear(a, da):
                return None, None, None
            r, dr = np.log(a), da / a
        elif op == "sigmoid":
            return _sigmoid_node(i, values, sens)
        elif op == "tanh":
            r = np.tanh(a)
            dr = (1 - r * r) * da
        else:   # relu
            if not clear(a, da):
                return None, None, None
            r, dr = max(a, 0.0), (da if a > 0 else 0 * da)
        return _bounded(Node(op, i), r, dr)
    if op == "pow":
        c = draw(st.sampled_from(POWERS), label="exponent")
        if (c != int(c) and (a <= 0 or not clear(a, da))) or (c < 0 and not clear(a, da)):
            return None, None, None
        return _bounded(Node("pow", i, c), a ** c, c * a ** (c - 1) * da)
    form = draw(st.sampled_from(["values", "constant right", "constant left"]), label="form")
    if form == "values":
        # the other operand any earlier value, often an ancestor of the first (a
        # diamond: z = f(b), then z op b); either may come first, as a walk that
        # follows operand order without a topological sort gets wrong one way round
        j = draw(st.integers(0, len(values) - 1), label="operand 2")
        if draw(st.booleans(), label="swap"):
            i, j = j, i
            a, da = values[i], sens[i]
        b, db, operands = values[j], sens[j], (i, j)
    else:
        c = draw(st.floats(-3.0, 3.0, allow_subnormal=False), label="constant")
        if op == "div" and form == "constant right" and abs(c) < 0.5:
            c = 0.5 if c >= 0 else -0.5
        b, db = c, 0 * da
        operands = (i, c) if form == "constant right" else (c, i)
        if form == "constant left":
            a, da, b, db = b, db, a, da
    if op == "add":
        r, dr = a + b, da + db
    elif op == "sub":
        r, dr = a - b, da - db
    elif op == "mul":
        r, dr = a * b, da * b + a * db
    else:   # div
        if not clear(b, db, max(DOMAIN_MARGIN, 0.5 if isinstance(operands[1], float) else DOMAIN_MARGIN)):
            return None, None, None
        r, dr = a / b, (da * b - a * db) / (b * b)
    return _bounded(Node(op, *operands), r, dr)


def _bounded(node, r, dr):
    if not (abs(r) <= VALUE_LIMIT and np.all(np.abs(dr) <= SENSITIVITY_LIMIT)):
        return None, None, None
    return node, float(r), dr


# --- all systems ----------------------------------------------------------------------

# Where naive scalar code overflows or underflows, per operation: math.exp(-x) overflows for
# x < -709.78 (the textbook sigmoid 1/(1 + e^-x)), e^(2x) for x > 354.89 (the lecture's
# tanh (e^2x - 1)/(e^2x + 1)); exp is near the top of the float range (e^700 = 1e304, kept
# below 709 so that the rounding magnitudes, |e^x| times its input's, stay finite); log
# just above 0 (above the complex step's 2^-500 by 1e10, so that the oracle stays exact).
EXTREME_LEAVES = {"sigmoid": (710.0, 800.0), "tanh": (355.0, 800.0), "exp": (680.0, 700.0),
                  "log": (1e-140, 1e-100)}
SIGNED = ("sigmoid", "tanh")


@st.composite
def extreme_graph_cases(draw, ops=GRAPH_OPS):
    """A ``GraphCase`` op(x0) * x1 (or op(x0) where the class has no ``mul``): x0 where naive code
    overflows or underflows for ``op`` (``EXTREME_LEAVES``: sigmoid and tanh at ±[710, 800]
    and ±[355, 800], exp in [680, 700], log in [1e-140, 1e-100]), x1 in [0.5, 2]. The right
    values are finite and the right derivatives exact (a saturated tanh's is 0).
    Shrinks towards the first such op of ``ops``, the interval's lower end, x1 = 0.5."""
    choices = [op for op in EXTREME_LEAVES if op in ops]
    if not choices:
        raise ValueError(f"no operation with extreme inputs among {list(ops)}; expected one of {list(EXTREME_LEAVES)}")
    op = draw(st.sampled_from(choices), label="op")
    lo, hi = EXTREME_LEAVES[op]
    x0 = draw(st.floats(lo, hi), label="x0")
    if op in SIGNED and draw(st.booleans(), label="negative"):
        x0 = -x0
    if "mul" not in ops:
        return GraphCase([x0], (Node(op, 0),))
    x1 = draw(st.floats(0.5, 2.0), label="x1")
    return GraphCase([x0, x1], (Node(op, 0), Node("mul", 2, 1)))


def _graph_regime(regime):
    if regime == "extreme":
        return extreme_graph_cases()
    if regime != "conditioned":
        raise ValueError(f"the scalar graph's regimes are 'conditioned' (its values bounded as graph_cases "
                         f"states) and 'extreme', got {regime!r}")
    return graph_cases()


SYSTEM_STRATEGIES = {
    "scalar_graph": _graph_regime,
    "manual_222": manual_cases,
    "mlp": mlp_cases,
    "softmax": softmax_cases,
}


@functools.lru_cache(maxsize=None)
def cases(system: str, regime: str = "conditioned"):
    """Cases of ``system`` (a name in ``fixtures.SYSTEMS``) in ``regime``
    ("conditioned", "saturated"; softmax also "extreme_logits"; the scalar graph
    has one regime, its values bounded as ``graph_cases`` states). One strategy object
    per (system, regime), however often asked for (see ``arrays``)."""
    try:
        return SYSTEM_STRATEGIES[system](regime)
    except KeyError:
        raise ValueError(f"unknown system {system!r}; expected one of {sorted(SYSTEM_STRATEGIES)}") from None
