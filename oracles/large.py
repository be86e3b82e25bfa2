"""Checking the gradient of a large network in far fewer loss evaluations than it has
parameters, every entry to within a small multiple of the exact rule's floor: the
complex step on blocks of each tensor, bisection where a block fails.

A coordinate-by-coordinate check costs two loss evaluations per parameter
(137,000 for a 256-512-10 network). ``verify`` asks far fewer questions, each
``grad . u`` for a probe ``u`` against the complex step of the loss along ``u``,

    Im L(p + i h u) / h,   h = 2^-500, extrapolated with 2h and with the noise
                           figure of ``oracles.finite_differences.complex_step``,

and judges each with the exact rule of ``oracles.tolerance`` on the rounding
magnitude of that question, scale = sum |u_i| mag_i (``oracles.rounding``).
With u_i = +-1 the products g_i u_i are exact and ``math.fsum`` adds them
correctly rounded, so the only rounding on the gradient's side is its own.

The questions
-------------
* blocks (the first cover): every entry of every tensor is in exactly one block,
  asked along random signs. A single wrong entry is caught by its block when its
  error exceeds the block's tolerance, and that tolerance is the sum of its
  entries' own ones (k eps mag_i, the *floor*: what the policy resolves for one
  entry asked alone). So the blocks are cut by magnitude: in a seeded random
  order, the running sum of the entries' magnitudes is cut at multiples of one
  cap for all tensors, cap = (sum of every entry's magnitude) / ``budget``; a
  block's tolerance is at most the cap's plus its last entry's. One cap for all
  tensors minimises the worst resolution for the number of questions; an entry
  whose own tolerance exceeds the cap is a block of its own, resolved at the
  floor, and a network with fewer entries than the budget is checked entry by
  entry. A block lies within one unit (a column of W_l in the row layout, the
  entries feeding one column of Z_l; a bias entry is a unit of its own), which
  makes it cheap below: at most ``budget`` + (number of units) questions.
* a second cover: two wrong entries of one block with opposite errors cancel in
  it when their signs are equal (a swap of two entries does exactly that, with
  probability 1/2). The second cover takes, unit by unit, the entries at one
  position of their blocks (one entry from each block), units in order, cut at
  ``SECOND_COVER`` caps: two entries share at most one block of the two covers,
  so each of the two is then asked without the other (at most 4 caps + one
  entry: a coarser resolution, for this case only). A unit's entries at one
  position form one unit-column of a question, so it costs few columns.
* spots: each tensor's largest |entry|, its largest magnitude and random
  coordinates, each alone (where its block is not already a single entry).
* one direction over all tensors, answered by the generic evaluation
  (``complex_step`` itself on ``oracles.numeric.loss`` of every parameter): an
  independent check of the layer-aware evaluation below in every run.

Choice of ``budget``: the resolution goes as 1/budget; the time is a fixed part,
one question per block (the complex sigmoids of the output layer dominate it) and
one unit-column per unit and position of the second cover, which grows as the
budget falls (a unit of few blocks gives few entries per position). So below some
budget the time hardly falls, and above it each halving of the resolution costs
markedly more time. The default, 8192, sits at that knee on a 256-512-10 network: it
resolves every entry within a small multiple of its tensor's floor, thousands of
times finer than one direction over a tensor (the table, and the command that
makes it, are in docs/design-figures.md).

The layer-aware evaluation
--------------------------
Evaluating the whole complex network per question recomputes X @ W1 (32 x 256 x
512 complex products) for each of ~11,000 questions. For a question on layer l
(W_l and b_l; MLPs of any depth, either layout, any activations and loss, and
the softmax network as sigmoid then identity layers under cross-entropy), the
real forward pass is computed once, and the complex step starts at layer l:

    Z_l' = Z_l + i t (A_{l-1} @ D + d)     only on the columns of Z_l the block touches
                                           (D, d: its sparse signs in W_l and b_l; t = h, 2h)
    A_l' = act(Z_l') in complex arithmetic (``oracles.numeric``'s complex-safe functions),
    Z_{l+1}' = Z_{l+1} + i Im(A_l') @ W_{l+1}, and so on, the loss in complex arithmetic.

The real part of every complex intermediate is the real forward pass's (the
imaginary parts, ~t, move a real part by ~t^2 = 1e-301, below any ulp), so each
product with a real weight matrix is the real pass's value plus i Im(A) @ W;
columns with no imaginary part add exact zeros and are left out. Activations and
loss are evaluated in complex arithmetic, so the derivative is the complex
step's (Im L / t), not one written out by hand. The questions are vectorised in
chunks of 2^16 complex entries (1 MB: in cache). It agrees with the generic
evaluation to about one ulp of the answer (``tests/test_large.py``). Cases that
are not layered (scalar graphs, 003's 2-2-2 network) use the generic one.

Locating: a failing block is halved, each half asked with the block's own signs
(so two errors that add up in it still add up in the half holding both), down to
single entries: O(log m) batched rounds for blocks of m entries. Second-cover
blocks are bisected only where they hold no entry found already. More than
``MAX_BLOCKS`` failing blocks in a tensor are reported as widespread rather than
bisected (a whole tensor off: no more evaluations than the check itself).

What a pass means: every block, spot and direction agreed within the exact rule.
``Verification.resolution`` is, per tensor, the largest over its entries of the
smallest tolerance of a question covering the entry (its block, or a spot),
relative to the gradient's largest entry: a single wrong entry off by more than
that (plus the correct gradient's own disagreement in that block, of the order of
float64's rounding of max |grad|) is caught. ``Verification.floor`` is the largest
single-entry tolerance of each tensor: what no check under the policy resolves
better.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from oracles.cases import MLPCase, SoftmaxCase
from oracles.finite_differences import COMPLEX_STEP, complex_step
from oracles.numeric import ACTIVATIONS, log_softmax, loss
from oracles.rounding import exact_rule

__all__ = ["Question", "Verification", "verify", "directional_only", "random_mlp", "random_softmax", "BUDGET",
           "MAX_BLOCKS", "Layered", "prepare", "probe_blocks", "answer_blocks", "bisect_blocks"]

BUDGET = 8192          # block questions of the first cover (module docstring: the trade-off)
SECOND_COVER = 4       # the second cover's blocks are cut at this many caps
MAX_BLOCKS = 64        # failing blocks of one tensor beyond which it is reported as widespread
_EPS = float(np.finfo(np.float64).eps)
_CHUNK = 2 ** 16       # complex entries per vectorised step of the layer-aware evaluation (fits in cache)


@dataclass(frozen=True)
class Question:
    """``grad . u`` for one probe ``u`` (a block, a unit coordinate or a direction)."""
    label: str                  # "block W1 #12 (11 entries)", "spot W1[3, 17]", "direction all #0"
    got: float                  # the gradient under test, dotted with u (exactly rounded)
    expected: float             # the complex step along u
    tol: float                  # the exact rule on this question's rounding magnitude
    scale: float                # sum |u_i| * magnitude_i: the question's own size
    tensor: str = "all"         # the tensor u is supported on ("all": several)

    @property
    def ok(self) -> bool:
        return abs(self.got - self.expected) <= self.tol


@dataclass
class Verification:
    ok: bool
    questions: list
    resolution: dict            # tensor -> smallest single-entry error guaranteed caught / max |grad|
    gmax: float = 1.0                              # the gradient's largest |entry|
    located: dict = field(default_factory=dict)   # tensor -> wrong entries found by bisection
    evaluations: int = 0
    seconds: float = 0.0
    floor: dict = field(default_factory=dict)     # tensor -> largest own (single-entry) tolerance / max |grad|

    @property
    def worst(self) -> float:
        """The largest |got - expected| of any question, over the gradient's largest entry."""
        return max((abs(q.got - q.expected) for q in self.questions), default=0.0) / self.gmax

    def report(self) -> str:
        bad = [q for q in self.questions if not q.ok]
        lines = [f"{'PASS' if self.ok else 'FAIL'}: {len(self.questions)} questions, {self.evaluations} complex "
                 f"evaluations, {self.seconds:.2f} s; worst |got - expected| = {self.worst:.2g} of max |grad|"]
        if self.resolution:
            lines.append("  a single wrong entry is caught when off by more than (/ max |grad|): "
                         + ", ".join(f"{k} {v:.1e}" for k, v in self.resolution.items()))
        if bad:
            lines.append(f"  {len(bad)} question(s) failed" + (", the first 5:" if len(bad) > 5 else ":"))
        lines += [f"  {q.label}: IMPL {q.got!r}  COMPLEX_STEP {q.expected!r}  abs err {abs(q.got - q.expected):.3g}  "
                  f"tol {q.tol:.3g}" for q in bad[:5]]
        for name, entries in self.located.items():
            found = [e for e in entries if not isinstance(e, str)]
            lines += [f"  {name}: {len(found)} wrong {'entry' if len(found) == 1 else 'entries'} located"
                      + (f": {found[:10]}" + (" ..." if len(found) > 10 else "") if found else "")]
            lines += [f"  {name}: {e}" for e in entries if isinstance(e, str)]
        return "\n".join(lines)


# -- probes ------------------------------------------------------------------------------------
# A probe is (label, tensor, flat indices, values); a direction over several tensors is
# (label, "all", {tensor: (flat indices, values)}) and goes to the generic evaluation.

def _partition(own, cap, groups, rng, within=None):
    """Blocks of entries of one group each: within each group in the order of ``within``
    (random where it ties), the running sum of ``own`` cut at multiples of ``cap``, so a
    block's sum passes cap at most by its last entry. Returns (blocks, each entry's position
    in its block)."""
    order = rng.permutation(own.size)
    key = groups[order] if within is None else groups[order] * (int(within.max(initial=0)) + 1) + within[order]
    order = order[np.argsort(key, kind="stable")]
    o, g = own[order], groups[order]
    new_group = np.r_[True, g[1:] != g[:-1]]
    start = np.cumsum(o) - o
    within_sum = start - np.maximum.accumulate(np.where(new_group, start, 0))
    ids = np.floor(within_sum / cap) if cap > 0 else np.zeros(own.size)
    cuts = np.r_[0, np.flatnonzero(new_group[1:] | (ids[1:] != ids[:-1])) + 1, own.size]
    position = np.arange(own.size) - np.repeat(cuts[:-1], np.diff(cuts))
    where = np.empty(own.size, dtype=int)
    where[order] = position
    return [order[a:b] for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist())], where


def probe_blocks(params, mags, layered, rng, budget):
    """Both covers' block probes, each block with random signs.

    The first cover's blocks lie within one unit (a column of W_l in the row layout: the
    entries feeding one Z_l column, so a question moves one column of Z_l) and are cut at
    one cap for all tensors, cap = (sum of every magnitude) / budget. The second takes the
    entries of multi-entry blocks by their position in the block, units in order, cut at
    SECOND_COVER caps: two entries share at most one block of the two covers, and a block
    of the second spans few units."""
    total = sum(float(np.sum(m)) for m in mags.values())
    probes = []
    for name, p in params.items():
        own, n = np.ravel(mags[name]), np.size(p)
        unit = layered.entries(name, np.arange(n))[2] if layered and name in layered.where else np.zeros(n, int)
        blocks, position = _partition(own, total / budget, unit, rng)
        shared = np.concatenate([b for b in blocks if b.size > 1] or [np.zeros(0, int)])
        covers, _ = _partition(own[shared], SECOND_COVER * total / budget, position[shared], rng, unit[shared])
        for cover, parts in (("block", blocks), ("cover", [shared[c] for c in covers] if shared.size else [])):
            signs = rng.choice([-1.0, 1.0], n)
            probes += [(f"{cover} {name} #{b} ({idx.size} {'entry' if idx.size == 1 else 'entries'})", name, idx,
                        signs[idx])
                       for b, idx in enumerate(parts)]
    return probes


def _spots(params, grads, mags, rng, spots, singletons):
    """Single coordinates: each tensor's largest |entry|, largest magnitude, random ones
    (those already asked alone as a block are left out)."""
    probes = []
    for name, p in params.items():
        g, m = np.abs(np.ravel(grads[name])), np.ravel(mags[name])
        chosen = [int(np.argmax(g)), int(np.argmax(m))] + [int(i) for i in rng.permutation(p.size)[:spots]]
        for i in sorted(set(chosen[:max(spots, 1)]) - singletons.get(name, set())):
            where = np.unravel_index(i, np.shape(p))
            probes.append((f"spot {name}[{', '.join(map(str, where))}]", name, np.array([i]), np.array([1.0])))
    return probes


def _all_direction(params, rng, d):
    return (f"direction all #{d}", "all", {k: (np.arange(np.size(p)), rng.choice([-1.0, 1.0], np.size(p)))
                                           for k, p in params.items()}, None)


# -- answering: the generic evaluation and the layer-aware one --------------------------------------

def _generic(case, params, supports):
    """The complex step along each support ({tensor: (indices, values)}), by ``complex_step`` on
    ``oracles.numeric.loss``: (estimates, noise figures)."""
    names = list(params)
    flat = {k: np.ravel(params[k]) for k in names}

    def f(points):                                   # points (m, P): coefficients of each probe
        batch = {k: np.repeat(flat[k][None, :].astype(points.dtype), points.shape[0], axis=0) for k in names}
        for r, j in zip(*np.nonzero(points)):        # the complex step moves one probe per point
            for k, (idx, val) in supports[j].items():
                batch[k][r, idx] += points[r, j] * val
        return loss(case, {k: batch[k].reshape((points.shape[0],) + np.shape(params[k])) for k in names})

    est = complex_step(f, np.zeros(len(supports)), batched=True)
    return est.gradient, est.noise


class Layered:
    """A case as layers in the row layout, A_l = act_l(A_{l-1} @ W_l + b_l), and a loss head:
    MLPs (the squared error times ``loss_scale``) and the softmax network (identity output,
    cross-entropy; without an L2 term, which does not pass through the layers).
    ``where`` maps a parameter name to (layer, "W" or "b", stored transposed)."""

    def __init__(self, case):
        if isinstance(case, MLPCase):
            X, T, Ws = case.row_layout()
            bs, acts = case.bs, case.activations
            self.head, self.scale = "sse", case.loss_scale
            self.where = {f"W{l + 1}": (l, "W", case.layout == "column") for l in range(len(Ws))}
            if bs is not None:
                self.where.update({f"b{l + 1}": (l, "b", False) for l in range(len(Ws))})
        else:
            if case.l2:
                raise ValueError("oracles.large checks softmax networks without an L2 term (l2 = 0); "
                                 f"this case has l2 = {case.l2}")
            X, T, Ws, bs = case.X, case.Y, (case.W1, case.W2), (case.b1, case.b2)
            acts = (case.hidden, "identity")
            self.head, self.scale = "xent", case.loss_scale
            self.where = {"W1": (0, "W", False), "b1": (0, "b", False), "W2": (1, "W", False), "b2": (1, "b", False)}
        self.T, self.Ws, self.acts = T, Ws, acts
        self.Z, self.inputs = [], []            # the real forward pass; per layer its input, transposed,
        A = X                                   # with a row of ones for the bias: (d_in + 1, n)
        for l, W in enumerate(Ws):
            self.inputs.append(np.vstack([A.T, np.ones((1, A.shape[0]))]))
            Z = A @ W + (bs[l] if bs is not None else 0.0)
            self.Z.append(Z)
            A = ACTIVATIONS[acts[l]](Z)

    def entries(self, name, idx):
        """(layer, rows j of the layer's input (d_in for the bias), columns k) of flat indices ``idx``."""
        l, kind, transposed = self.where[name]
        if kind == "b":
            return l, np.full(idx.size, self.Ws[l].shape[0]), idx
        r, c = np.unravel_index(idx, self.Ws[l].shape[::-1] if transposed else self.Ws[l].shape)
        return (l, c, r) if transposed else (l, r, c)

    def _head(self, Zc):
        """Im of the loss for complex pre-activations of the last layer, (s, q, n, d) -> (s, q)."""
        A = ACTIVATIONS[self.acts[-1]](Zc)
        if self.head == "sse":
            E = A - self.T
            return self.scale * np.sum(E * E, axis=(-2, -1)).imag
        return -self.scale * np.sum(self.T * log_softmax(A), axis=(-2, -1)).imag

    def im_losses(self, l, q, j, k, s, nq, steps):
        """Im L(p + i t u_q) for the questions q = 0..nq-1 on layer l and each step t: (len(steps), nq).
        Entry e of question q[e] moves W_l[j[e], k[e]] (or b_l[k[e]] where j[e] = d_in) by s[e]."""
        n, d = self.Z[l].shape
        key = q * d + k
        order = np.argsort(key, kind="stable")
        key, j, s = key[order], j[order], s[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])          # one (question, unit) pair each
        pair_q, pair_k = key[starts] // d, key[starts] % d
        if not np.array_equal(np.unique(pair_q), np.arange(nq)):
            raise ValueError("every question needs at least one entry")
        starts = np.r_[starts, key.size]
        t = np.asarray(steps, dtype=float)[:, None, None]
        out = np.empty((t.shape[0], nq))
        first = np.searchsorted(pair_q, np.arange(nq + 1))                  # each question's pairs
        later = [self.Z[m].shape[1] for m in range(l + 1, len(self.Ws))] or [d]   # dense from layer l + 1 on
        cost = np.cumsum(np.diff(first) * t.shape[0] * n * later[0] + t.shape[0] * n * sum(later))
        lo = 0
        while lo < nq:                          # the most questions whose pairs and rows fit in _CHUNK
            hi = max(lo + 1, int(np.searchsorted(cost, (cost[lo - 1] if lo else 0) + _CHUNK, side="right")))
            p0, p1 = first[lo], first[hi]
            e0, e1 = starts[p0], starts[p1]
            # A_{l-1} @ D + d, unit by unit: the block's move of Z_l (real)
            dZ = np.add.reduceat(s[e0:e1, None] * self.inputs[l][j[e0:e1]], starts[p0:p1] - e0, axis=0)
            out[:, lo:hi] = self._chunk(l, pair_q[p0:p1] - lo, pair_k[p0:p1], dZ, hi - lo, t)
            lo = hi
        return out

    def _chunk(self, l, pq, pk, dZ, nq, t):
        n = self.Z[l].shape[0]
        Zc = self.Z[l].T[pk] + 1j * (t * dZ)                                   # (steps, pairs, n)
        if l + 1 == len(self.Ws):                                              # the output layer itself
            Z = np.broadcast_to(self.Z[l], (t.shape[0], nq) + self.Z[l].shape).astype(complex)
            Z[:, pq, :, pk] = np.moveaxis(Zc, 1, 0)
            return self._head(Z)
        im_a = ACTIVATIONS[self.acts[l]](Zc).imag                                     # columns with no imaginary
        W = self.Ws[l + 1]                                                     # part add exact zeros
        contrib = im_a[..., None] * W[pk][None, :, None, :]                    # (steps, pairs, n, d_next)
        if pq.size > nq:                                                       # several units per question
            contrib = np.add.reduceat(contrib, np.flatnonzero(np.r_[True, pq[1:] != pq[:-1]]), axis=1)
        im_z = contrib
        for m in range(l + 1, len(self.Ws)):
            Zc = self.Z[m] + 1j * im_z                                         # (steps, q, n, d_m)
            if m + 1 == len(self.Ws):
                return self._head(Zc)
            im_z = ACTIVATIONS[self.acts[m]](Zc).imag.reshape(-1, self.Z[m].shape[1]) @ self.Ws[m + 1]
            im_z = im_z.reshape(t.shape[0], nq, n, -1)
        raise AssertionError("unreachable")


def answer_blocks(case, params, layered, probes, steps=(COMPLEX_STEP, 2 * COMPLEX_STEP)):
    """(estimates, noise figures) of the complex step along every probe: the layer-aware
    evaluation where ``layered`` covers the probe's tensor, the generic one otherwise."""
    est, noise = np.empty(len(probes)), np.empty(len(probes))
    generic = [i for i, p in enumerate(probes) if layered is None or p[1] not in layered.where]
    if generic:
        supports = [p[2] if p[1] == "all" else {p[1]: (p[2], p[3])} for p in (probes[i] for i in generic)]
        est[generic], noise[generic] = _generic(case, params, supports)
    by_layer: dict = {}
    for i, p in enumerate(probes):
        if layered is not None and p[1] in layered.where:
            by_layer.setdefault(layered.where[p[1]][0], []).append(i)
    for l, ids in by_layer.items():
        ids = sorted(ids, key=lambda i: probes[i][1])                   # by tensor, to map each once
        sizes = [probes[i][2].size for i in ids]
        jk = [layered.entries(name, np.concatenate([probes[i][2] for i in group]))[1:]
              for name, group in itertools.groupby(ids, key=lambda i: probes[i][1])]
        j, k = (np.concatenate([x[a] for x in jk]) for a in (0, 1))
        q = np.repeat(np.arange(len(ids)), sizes)
        s = np.concatenate([probes[i][3] for i in ids])
        im = layered.im_losses(l, q, j, k, s, len(ids), steps)
        c_h, c_2h = im[0] / steps[0], im[1] / steps[1]
        # complex_step's extrapolation and its rounding figure (oracles.finite_differences)
        est[ids] = (4 * c_h - c_2h) / 3
        noise[ids] = 2 * _EPS * np.maximum(np.abs(c_h), np.abs(c_2h))
    return est, noise


def _ask(case, params, grads, mags, layered, probes, k_eps):
    """Every probe as a ``Question``: the gradient's side exactly rounded (``math.fsum`` of
    exact products), the complex step's side by ``answer_blocks``, the exact rule on the probe's
    own magnitude."""
    est, noise = answer_blocks(case, params, layered, probes)
    got, scale = np.zeros(len(probes)), np.zeros(len(probes))
    terms: dict = {}                            # probe -> its exact products g_i u_i, over its tensors
    by_tensor: dict = {}
    for i, p in enumerate(probes):
        for name in (p[2] if p[1] == "all" else (p[1],)):
            by_tensor.setdefault(name, []).append(i)
    for name, ids in by_tensor.items():
        g, m = np.ravel(grads[name]), np.ravel(mags[name])
        sup = [probes[i][2][name] if probes[i][1] == "all" else probes[i][2:] for i in ids]
        idx = np.concatenate([s[0] for s in sup])
        val = np.concatenate([s[1] for s in sup])
        ends = np.cumsum([s[0].size for s in sup])
        starts = np.r_[0, ends[:-1]]
        products = (g[idx] * val).tolist()
        scale[ids] += np.add.reduceat(m[idx] * np.abs(val), starts) if idx.size else 0.0
        for i, a, b in zip(ids, starts.tolist(), ends.tolist()):
            terms.setdefault(i, []).extend(products[a:b])
    for i, t in terms.items():
        got[i] = math.fsum(t)
    questions = [Question(label, float(got[i]), float(est[i]), k_eps.atol(float(scale[i]), float(noise[i])),
                          float(scale[i]), name) for i, (label, name, _, _) in enumerate(probes)]
    return questions, 2 * len(probes)


def prepare(case, grads, seed):
    """(rng, params, grads shaped like them, rounding magnitudes, the exact rule, max |grad|)."""
    params = case.params()
    grads = {k: np.asarray(grads[k], dtype=float).reshape(np.shape(params[k])) for k in params}
    rule = exact_rule(case)
    mags = {k: np.broadcast_to(np.asarray(m, dtype=float), np.shape(params[k])) for k, m in rule.magnitudes.items()}
    gmax = max(float(np.max(np.abs(g), initial=0.0)) for g in grads.values()) or 1.0
    return np.random.default_rng(seed), params, grads, mags, rule.tolerance, gmax


def verify(case, grads: dict, *, budget: int = BUDGET, spots: int = 4, seed: int = 0,
           locate: bool = True) -> Verification:
    """Check ``grads`` (parameter name -> array) as the gradient of ``case``'s loss.

    Every entry of every tensor is in one block of about ``budget`` (the first cover) and,
    where its block holds others, in one of a second cover that never puts two entries of
    a block together; ``spots`` coordinates per tensor are asked alone, and one direction
    over all tensors. Failing blocks are bisected to the wrong entries when ``locate``.
    Any case whose loss ``oracles.numeric`` evaluates (all four systems); MLP and softmax
    cases take the layer-aware evaluation. ``seed`` draws the blocks and their signs. The
    module docstring derives the resolution and the choice of ``budget``.
    """
    t0 = time.perf_counter()
    rng, params, grads, mags, tol, gmax = prepare(case, grads, seed)
    layered = Layered(case) if isinstance(case, (MLPCase, SoftmaxCase)) else None
    probes = probe_blocks(params, mags, layered, rng, budget)
    singletons: dict = {}
    for _label, name, idx, _ in probes:
        if idx.size == 1:
            singletons.setdefault(name, set()).add(int(idx[0]))
    probes += _spots(params, grads, mags, rng, spots, singletons) + [_all_direction(params, rng, 0)]
    questions, evaluations = _ask(case, params, grads, mags, layered, probes, tol)
    result = Verification(all(q.ok for q in questions), questions, _resolution(params, probes, questions, gmax),
                          gmax, evaluations=evaluations,
                          floor={k: tol.atol(float(np.max(m, initial=0.0))) / gmax for k, m in mags.items()})
    if locate and not result.ok:
        failing = [(p, q) for p, q in zip(probes, questions) if not q.ok and p[1] != "all"]
        for name in sorted({p[1] for p, _ in failing}):
            entries, cost = _locate(case, params, grads, mags, layered, tol, name,
                                    [p for p, _ in failing if p[1] == name], probes)
            result.located[name] = entries
            result.evaluations += cost
    result.seconds = time.perf_counter() - t0
    return result


def _resolution(params, probes, questions, gmax):
    """Per tensor: the largest, over its entries, of the smallest tolerance among the questions
    of that tensor covering the entry (blocks and spots), over max |grad|."""
    best = {k: np.full(np.size(p), np.inf) for k, p in params.items()}
    mine = [(p[1], p[2], q.tol) for p, q in zip(probes, questions) if p[1] != "all"]
    for name in best:
        covered = [(idx, np.full(idx.size, t)) for k, idx, t in mine if k == name]
        if covered:
            np.minimum.at(best[name], np.concatenate([c[0] for c in covered]), np.concatenate([c[1] for c in covered]))
    return {k: float(np.max(b)) / gmax for k, b in best.items()}


def _locate(case, params, grads, mags, layered, tol, name, failing, probes):
    """The wrong entries of tensor ``name`` from its failing probes: the first cover's blocks
    and the spots bisected, then the second cover's blocks that hold no entry found yet (two
    wrong entries that cancelled in their first block). More than MAX_BLOCKS failing blocks
    in one cover: reported as widespread, not bisected."""
    shape = np.shape(params[name])

    def entry(i):
        return tuple(int(x) for x in np.unravel_index(i, shape))

    def widespread(cover, blocks):
        total = sum(1 for p in probes if p[1] == name and p[0].startswith(cover))
        return (f"widespread: {len(blocks)} of the {total} {'blocks' if cover == 'block' else 'second-cover blocks'}"
                f" of its {np.size(params[name])} entries hold wrong entries; not located one by one")

    first = [p for p in failing if not p[0].startswith("cover")]
    if sum(p[0].startswith("block") for p in first) > MAX_BLOCKS:
        return [widespread("block", [p for p in first if p[0].startswith("block")])], 0
    found, cost, stopped = bisect_blocks(case, params, grads, mags, layered, tol, first)
    rest = [p for p in failing if p[0].startswith("cover") and not set(found) & set(p[2].tolist())]
    notes = [f"widespread: bisection stopped with {stopped} parts of blocks failing"] if stopped else []
    if len(rest) > MAX_BLOCKS:
        return [entry(i) for i in sorted(set(found))] + notes + [widespread("cover", rest)], cost
    more, c, stopped = bisect_blocks(case, params, grads, mags, layered, tol, rest)
    notes += [f"widespread: bisection stopped with {stopped} parts of second-cover blocks failing"] if stopped else []
    return [entry(i) for i in sorted(set(found) | set(more))] + notes, cost + c


def bisect_blocks(case, params, grads, mags, layered, tol, blocks):
    """Flat indices of the wrong entries in ``blocks`` (probes that failed), halving each with
    its signs, one batched round per level; (indices, complex evaluations spent, how many
    parts still failed when more than 4 MAX_BLOCKS were in flight and it stopped)."""
    wrong, cost = [], 0
    while blocks:
        if len(blocks) > 4 * MAX_BLOCKS:
            return wrong, cost, len(blocks)
        wrong += [int(b[2][0]) for b in blocks if b[2].size == 1]
        halves = [(f"{label} half", name, idx[part], val[part]) for label, name, idx, val in blocks if idx.size > 1
                  for part in np.array_split(np.arange(idx.size), 2)]
        if not halves:
            break
        questions, c = _ask(case, params, grads, mags, layered, halves, tol)
        cost += c
        blocks = [h for h, q in zip(halves, questions) if not q.ok]
    return wrong, cost, 0


def directional_only(case, grads: dict, *, count: int = 4, seed: int = 0) -> Verification:
    """Only ``count`` random sign directions over all parameters: the cheapest check."""
    t0 = time.perf_counter()
    rng, params, grads, mags, tol, gmax = prepare(case, grads, seed)
    probes = [_all_direction(params, rng, d) for d in range(count)]
    questions, evaluations = _ask(case, params, grads, mags, None, probes, tol)
    n_total = sum(float(np.sum(m)) for m in mags.values())
    return Verification(all(q.ok for q in questions), questions, {"all": tol.atol(n_total) / gmax}, gmax,
                        evaluations=evaluations, seconds=time.perf_counter() - t0)


def random_mlp(dims, batch: int, seed: int = 0, *, activations="sigmoid", loss: str = "sse",
               layout: str = "row") -> MLPCase:
    """An MLP case of layer sizes ``dims`` (weights ~ N(0, 1/fan_in), biases ~ N(0, 0.01),
    inputs in [-1, 1], targets in [0, 1]): what the tests and benchmarks of this module check.
    The same numbers in either layout (the column layout holds their transposes)."""
    rng = np.random.default_rng(seed)
    Ws = tuple(rng.normal(0, 1 / np.sqrt(a), (a, b)) for a, b in zip(dims, dims[1:]))
    bs = tuple(rng.normal(0, 0.1, b) for b in dims[1:])
    X, T = rng.uniform(-1, 1, (batch, dims[0])), rng.uniform(0, 1, (batch, dims[-1]))
    if layout == "column":
        X, T, Ws = X.T, T.T, tuple(W.T for W in Ws)
    return MLPCase(X, T, Ws, bs, activations, loss, layout)


def random_softmax(dims, batch: int, seed: int = 0, *, reduction: str = "sum") -> SoftmaxCase:
    """The softmax network of layer sizes ``dims`` = (inputs, hidden, classes), drawn as
    ``random_mlp``, with one-hot labels of random classes."""
    if len(dims) != 3:
        raise ValueError(f"the softmax network has one hidden layer: dims (inputs, hidden, classes), got {dims}")
    mlp = random_mlp(dims, batch, seed)
    Y = np.eye(dims[2])[np.random.default_rng(seed + 1).integers(0, dims[2], batch)]
    return SoftmaxCase(mlp.X, Y, mlp.Ws[0], mlp.bs[0], mlp.Ws[1], mlp.bs[1], reduction)
