"""Checking the gradient of a large network in seconds: directional and spot checks by
the complex step, the full check only where those fail.

A coordinate-by-coordinate check costs two loss evaluations per parameter
(137,000 for a 256-512-10 network). ``verify`` instead asks, for each parameter
tensor, a few questions whose answers are exact to rounding:

* directions: ``grad . u`` for random sign vectors ``u`` supported on one tensor
  (and one over all of them), against the complex step of the loss along ``u``,
  Im L(p + i h u) / h. With entries of ``u`` equal to +-1 the products are exact
  and ``math.fsum`` adds them correctly rounded, so the only rounding on the
  gradient's side is the gradient's own;
* spots: single coordinates (each tensor's largest entry, its largest rounding
  magnitude, and random ones), by the complex step too;

and judges each with the exact rule of ``oracles.tolerance`` on the rounding
magnitude of that question (the sum of |u_i| times each entry's magnitude from
``oracles.rounding``). All questions are answered by one batched complex
evaluation of the network. A tensor that fails is then located: its support is
halved and each half asked again, down to single coordinates, so a wrong entry
costs O(log n) evaluations, not n.

What a pass means: every direction and spot agreed within the exact rule. A
single wrong entry of tensor T is caught by T's direction when its error exceeds
that direction's tolerance, reported per tensor as ``resolution`` (relative to
the gradient's largest entry); spots resolve their own coordinates to the exact
rule of one entry.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from oracles.cases import MLPCase
from oracles.finite_differences import complex_step
from oracles.numeric import loss
from oracles.rounding import magnitude
from oracles.tolerance import tolerance

__all__ = ["Question", "Verification", "verify", "directional_only", "random_mlp"]


@dataclass(frozen=True)
class Question:
    """``grad . u`` for one probe ``u`` (a direction or a unit coordinate)."""
    label: str                  # "direction W1 #0", "spot W1[3, 17]", "direction all #0"
    got: float                  # the gradient under test, dotted with u (exactly rounded)
    expected: float             # the complex step along u
    tol: float                  # the exact rule on this question's rounding magnitude
    scale: float                # sum |u_i| * magnitude_i: the question's own size

    @property
    def ok(self) -> bool:
        return abs(self.got - self.expected) <= self.tol


@dataclass
class Verification:
    ok: bool
    questions: list
    resolution: dict            # tensor -> smallest single-entry error its direction catches / max |grad|
    gmax: float = 1.0                              # the gradient's largest |entry|
    located: dict = field(default_factory=dict)   # tensor -> wrong entries found by bisection
    evaluations: int = 0
    seconds: float = 0.0

    @property
    def worst(self) -> float:
        """The largest |got - expected| of any question, over the gradient's largest entry."""
        return max((abs(q.got - q.expected) for q in self.questions), default=0.0) / self.gmax

    def report(self) -> str:
        bad = [q for q in self.questions if not q.ok]
        lines = [f"{'PASS' if self.ok else 'FAIL'}: {len(self.questions)} questions, {self.evaluations} complex "
                 f"evaluations, {self.seconds:.2f} s; worst |got - expected| = {self.worst:.2g} of max |grad|"]
        lines += [f"  {q.label}: IMPL {q.got!r}  COMPLEX_STEP {q.expected!r}  abs err {abs(q.got - q.expected):.3g}  "
                  f"tol {q.tol:.3g}" for q in bad[:5]]
        for name, entries in self.located.items():
            lines.append(f"  {name}: wrong entries {entries[:10]}" + (" ..." if len(entries) > 10 else ""))
        return "\n".join(lines)


def _probes(params, grads, mags, rng, directions, spots):
    """(label, {tensor: (flat indices, values)}) for every question to ask."""
    probes = []
    for name, p in params.items():
        n = p.size
        for d in range(directions):
            probes.append((f"direction {name} #{d}", {name: (np.arange(n), rng.choice([-1.0, 1.0], n))}))
        g, m = np.abs(np.ravel(grads[name])), np.ravel(mags[name])
        chosen = {int(np.argmax(g)), int(np.argmax(m))}
        extra = rng.permutation(n)[: max(0, spots - len(chosen))]
        chosen.update(int(i) for i in extra)
        for i in sorted(chosen)[:max(spots, 1)]:
            where = np.unravel_index(i, p.shape)
            probes.append((f"spot {name}[{', '.join(map(str, where))}]", {name: (np.array([i]), np.array([1.0]))}))
    return probes


def _ask(case, params, grads, mags, probes, k_eps):
    """Answer every probe with one batched complex-step evaluation."""
    names = list(params)
    flat = {k: np.ravel(params[k]) for k in names}
    P = len(probes)

    def f(points):                                   # points (m, P): coefficients of each probe
        batch = {k: np.repeat(flat[k][None, :].astype(points.dtype), points.shape[0], axis=0) for k in names}
        for r, j in zip(*np.nonzero(points)):        # the complex step moves one probe per point
            for k, (idx, val) in probes[j][1].items():
                batch[k][r, idx] += points[r, j] * val
        return loss(case, {k: batch[k].reshape((points.shape[0],) + params[k].shape) for k in names})

    est = complex_step(f, np.zeros(P), batched=True)
    questions = []
    for j, (label, support) in enumerate(probes):
        got = math.fsum(float(v) for k, (idx, val) in support.items()
                        for v in np.ravel(grads[k])[idx] * val)
        scale = sum(float(np.sum(np.ravel(mags[k])[idx] * np.abs(val))) for k, (idx, val) in support.items())
        tol = k_eps.atol(scale, float(est.noise[j]))
        questions.append(Question(label, got, float(est.gradient[j]), tol, scale))
    return questions, 2 * P


def _setup(case, grads, seed):
    """(rng, params, grads shaped like them, rounding magnitudes, the exact rule, max |grad|)."""
    params = case.params()
    grads = {k: np.asarray(grads[k], dtype=float).reshape(np.shape(params[k])) for k in params}
    _, mags = magnitude(case)
    mags = {k: np.broadcast_to(np.asarray(m, dtype=float), np.shape(params[k])) for k, m in mags.items()}
    gmax = max(float(np.max(np.abs(g), initial=0.0)) for g in grads.values()) or 1.0
    return (np.random.default_rng(seed), params, grads, mags, tolerance("exact", terms=case.summation_length),
            gmax)


def _all_direction(params, rng, d):
    return (f"direction all #{d}", {k: (np.arange(p.size), rng.choice([-1.0, 1.0], p.size))
                                    for k, p in params.items()})


def verify(case, grads: dict, *, directions: int = 2, spots: int = 4, seed: int = 0,
           locate: bool = True) -> Verification:
    """Check ``grads`` (parameter name -> array) as the gradient of ``case``'s loss.

    ``directions`` random sign directions and ``spots`` coordinates per tensor, one
    direction over all tensors; a failing tensor is located by bisection when
    ``locate``. Works for any case whose loss ``oracles.numeric`` evaluates (all four
    systems); it pays off from a few thousand parameters on.
    """
    t0 = time.perf_counter()
    rng, params, grads, mags, tol, gmax = _setup(case, grads, seed)
    probes = _probes(params, grads, mags, rng, directions, spots) + [_all_direction(params, rng, 0)]
    questions, evaluations = _ask(case, params, grads, mags, probes, tol)
    resolution = {k: tol.atol(float(np.sum(mags[k]))) / gmax for k in params}
    result = Verification(all(q.ok for q in questions), questions, resolution, gmax, evaluations=evaluations)
    if locate and not result.ok:
        failing = {q.label.split()[1].split("[")[0] for q in questions if not q.ok} - {"all"}
        for name in sorted(failing or params):
            entries, cost = _locate(case, params, grads, mags, tol, name)
            result.located[name] = entries
            result.evaluations += cost
    result.seconds = time.perf_counter() - t0
    return result


MAX_BLOCKS = 64


def _locate(case, params, grads, mags, tol, name, leaf: int = 1):
    """Bisect tensor ``name``'s support: the indices of its wrong entries. When more than
    MAX_BLOCKS blocks are wrong at once (a whole tensor scaled, say), bisection would
    cost as much as the full check: it stops and says how widespread the error is."""
    blocks, wrong, cost = [np.arange(params[name].size)], [], 0
    while blocks:
        if len(blocks) > MAX_BLOCKS:
            wrong.append(f"widespread: {len(blocks)} blocks of about {blocks[0].size} entries each hold wrong "
                         "entries; not located one by one")
            break
        probes = [(f"block {name}", {name: (b, np.ones(b.size))}) for b in blocks]
        questions, c = _ask(case, params, grads, mags, probes, tol)
        cost += c
        nxt = []
        for b, q in zip(blocks, questions):
            if q.ok:
                continue
            if b.size <= leaf:
                wrong.append(tuple(int(i) for i in np.unravel_index(int(b[0]), params[name].shape)))
            else:
                nxt.extend(np.array_split(b, 2))
        blocks = nxt
    return wrong, cost


def directional_only(case, grads: dict, *, count: int = 4, seed: int = 0) -> Verification:
    """Only ``count`` random sign directions over all parameters: the cheapest check."""
    t0 = time.perf_counter()
    rng, params, grads, mags, tol, gmax = _setup(case, grads, seed)
    probes = [_all_direction(params, rng, d) for d in range(count)]
    questions, evaluations = _ask(case, params, grads, mags, probes, tol)
    n_total = sum(float(np.sum(m)) for m in mags.values())
    return Verification(all(q.ok for q in questions), questions, {"all": tol.atol(n_total) / gmax}, gmax,
                        evaluations=evaluations, seconds=time.perf_counter() - t0)


def random_mlp(dims, batch: int, seed: int = 0) -> MLPCase:
    """A sigmoid MLP case of layer sizes ``dims`` (weights ~ N(0, 1/fan_in), biases ~ N(0, 0.01),
    inputs in [-1, 1], targets in [0, 1]): what the tests and benchmarks of this module check."""
    rng = np.random.default_rng(seed)
    Ws = tuple(rng.normal(0, 1 / np.sqrt(a), (a, b)) for a, b in zip(dims, dims[1:]))
    bs = tuple(rng.normal(0, 0.1, b) for b in dims[1:])
    return MLPCase(rng.uniform(-1, 1, (batch, dims[0])), rng.uniform(0, 1, (batch, dims[-1])), Ws, bs)
