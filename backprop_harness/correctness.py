"""The correctness benchmark: a verdict per system for the built-in reference.

For each of the four systems it (1) recomputes every fixture record of that
system, (2) compares the reference's gradient with central differences on
seeded random cases, and (3) where the system has several routes to one
gradient, compares the routes. It prints the largest error seen, relative to
the scale of the whole gradient, beside the tolerance that judges it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

import fixtures
from oracles.finite_differences import central_difference, central_difference_arrays, ravel_all
from oracles.tolerance import tolerance
from reference import manual, mlp, softmax
from reference.engine import Value, gradient_forward, gradient_magnitude, gradient_reverse
from reference.replays import network_222_graph

__all__ = ["SystemReport", "run"]


@dataclass
class SystemReport:
    system: str
    records_ok: int = 0
    records: int = 0
    errata: int = 0
    failures: list = field(default_factory=list)
    cases: int = 0
    worst: dict = field(default_factory=dict)     # method -> largest error / scale
    seconds: float = 0.0

    def note(self, method, got, expected, scale=None, noise=None):
        """Record the largest error relative to the scale; an entry beyond the tolerance fails."""
        got, expected = np.ravel(np.asarray(got, dtype=float)), np.ravel(np.asarray(expected, dtype=float))
        tol = tolerance(method)
        scale = max(float(np.max(np.abs(expected))) if scale is None else scale, tol.floor)
        err = np.abs(got - expected)
        worst = float(np.max(err)) / scale if np.all(np.isfinite(err)) else np.inf
        self.worst[method] = max(self.worst.get(method, 0.0), worst)
        if not np.all(err <= tol.atol(scale, 0.0 if noise is None else noise)):
            self.failures.append(f"case {self.cases}: {method} error {worst:.3g} of scale exceeds the tolerance")

    @property
    def ok(self) -> bool:
        return not self.failures and self.records_ok == self.records


def _expression(rng, leaves):
    nodes = list(leaves)
    for _ in range(rng.integers(1, 20)):
        x, y = nodes[rng.integers(len(nodes))], nodes[rng.integers(len(nodes))]
        op = rng.integers(4)
        nodes.append(x + y if op == 0 else (x * y).tanh() if op == 1 else x.sigmoid() - y if op == 2
                     else x / (1 + y * y))
    return nodes[-1]


def _scalar_graph(rep, rng, n):
    for _ in range(n):
        seed, leaves = int(rng.integers(2**32)), rng.uniform(-2, 2, rng.integers(1, 6))

        def build(values):
            inputs = [Value(v) for v in values]
            return _expression(np.random.default_rng(seed), inputs), inputs
        out, inputs = build(leaves)
        rev, fwd = gradient_reverse(out, inputs), gradient_forward(out, inputs)
        rep.note("exact", fwd.gradient, rev.gradient, scale=max(gradient_magnitude(out, inputs)))
        fd = central_difference(lambda p: build(p)[0].data, leaves)
        rep.note("central", rev.gradient, fd.gradient, noise=fd.noise)
        rep.cases += 1


def _manual(rep, rng, n):
    for _ in range(n):
        x, t, w = rng.uniform(-3, 3, 2), rng.uniform(0, 1, 2), rng.uniform(-3, 3, 8)
        g = np.array(manual.gradients(x, t, w))
        graph = network_222_graph(x, t, w)
        vec = mlp.loss_and_gradients(x[None], t[None], (w[:4].reshape(2, 2), w[4:].reshape(2, 2)))
        scale = max(graph["gradient_magnitude"])
        rep.note("exact", graph["gradient"], g, scale=scale)
        rep.note("exact", graph["gradient_forward"], g, scale=scale)
        rep.note("exact", np.concatenate([d.ravel() for d in vec.dWs]), g, scale=scale)
        fd = central_difference(lambda p: manual.loss(x, t, p), w)
        rep.note("central", g, fd.gradient, noise=fd.noise)
        rep.cases += 1


def _mlp(rep, rng, n):
    for i in range(n):
        depth = int(rng.integers(1, 5))
        dims = rng.integers(1, 9, depth + 1)
        batch = int(rng.integers(1, 9))
        layout, loss = mlp.LAYOUTS[i % 2], mlp.LOSSES[(i // 2) % 2]
        act = ("sigmoid", "tanh", "identity")[i % 3]
        Ws = [rng.uniform(-2, 2, (dims[l], dims[l + 1])) for l in range(depth)]
        bs = [rng.uniform(-2, 2, dims[l + 1]) for l in range(depth)]
        X, T = rng.uniform(-3, 3, (batch, dims[0])), rng.uniform(0, 1, (batch, dims[-1]))
        if layout == "column":
            X, T, Ws = X.T, T.T, [W.T for W in Ws]
        def L(params):
            return mlp.loss_and_gradients(X, T, params[:depth], params[depth:], activations=act,
                                          loss=loss, layout=layout).loss
        g = mlp.loss_and_gradients(X, T, Ws, bs, activations=act, loss=loss, layout=layout)
        fd = central_difference_arrays(L, Ws + bs)
        rep.note("central", ravel_all(g.dWs + g.dbs), fd.gradient, noise=fd.noise)
        rep.cases += 1


def _softmax(rep, rng, n):
    for i in range(n):
        b, d, h, k = (int(rng.integers(1, m)) for m in (9, 6, 9, 6))
        X = rng.uniform(-3, 3, (b, d))
        Y = np.eye(k)[rng.integers(0, k, b)]
        params = [rng.uniform(-2, 2, s) for s in ((d, h), (h,), (h, k), (k,))]
        red = softmax.REDUCTIONS[i % 2]
        _, g = softmax.loss_and_gradients(X, Y, *params, reduction=red)
        fd = central_difference_arrays(lambda ps: softmax.loss_and_gradients(X, Y, *ps, reduction=red)[0], params)
        rep.note("central", ravel_all(g[k_] for k_ in ("W1", "b1", "W2", "b2")), fd.gradient, noise=fd.noise)
        rep.cases += 1


_RANDOM = {"scalar_graph": _scalar_graph, "manual_222": _manual, "mlp": _mlp, "softmax": _softmax}


def run(cases: int = 100, seed: int = 0) -> list[SystemReport]:
    """Check every system; ``cases`` random cases each, from ``seed``."""
    reports = {s: SystemReport(s) for s in fixtures.SYSTEMS}
    for record in fixtures.load():
        rep = reports[fixtures.system_of(record)]
        t0 = time.perf_counter()
        verdict = fixtures.check(record)
        rep.seconds += time.perf_counter() - t0
        rep.records += 1
        rep.records_ok += verdict.ok
        rep.errata += verdict.ok and record.is_erratum
        if not verdict.ok:
            rep.failures.append(f"{record.id}: {verdict.message}")
    for name, fn in _RANDOM.items():
        t0 = time.perf_counter()
        try:
            fn(reports[name], np.random.default_rng([seed, fixtures.SYSTEMS.index(name)]), cases)
        except Exception as exc:                     # a crash is a failed verdict, not a crashed benchmark
            reports[name].failures.append(f"random cases crashed: {type(exc).__name__}: {exc}")
        reports[name].seconds += time.perf_counter() - t0
    return list(reports.values())
