"""Checking large networks: time and accuracy of each method against the parameter count.

    PYTHONPATH=. .venv/bin/python benchmarks/large_network.py [--batch 32] [--full-limit 40000]

Sigmoid MLPs from 2-2-2 (12 parameters with biases) to 256-512-10 (136,714),
batch 32. For the reference's gradient, each method's wall time and its worst
disagreement with the gradient (over the gradient's largest entry):

* full         the complex step on every coordinate (batched numpy; run up to
               --full-limit parameters, estimated beyond from its cost per coordinate)
* layer-aware  ``oracles.large.verify``: 2 sign directions and 4 spots per tensor,
               one direction over all, one batched complex evaluation
* directional  ``oracles.large.directional_only``: 4 sign directions over all
* central loop the classic check: two loss evaluations per coordinate in a Python
               loop, central differences; timed on 2,000 coordinates and scaled
               to all of them (marked ~)

Also, for the largest network, the smallest single-entry error that the
layer-aware check is guaranteed to catch in each tensor under the exact rule
(``resolution``), and errors injected into one entry of each tensor.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from backprop_harness.implementations import reference_gradient
from oracles import numeric
from oracles.large import directional_only, random_mlp, verify

SIZES = [(2, 2, 2), (8, 16, 4), (32, 64, 10), (64, 128, 10), (128, 256, 10), (256, 512, 10)]


def _worst(grads, other, gmax):
    return max(float(np.max(np.abs(np.asarray(grads[k]) - np.asarray(other[k])))) for k in grads) / gmax


def central_loop(case, grads, gmax, coordinates=2000, seed=0):
    """Seconds per coordinate and the worst error on the coordinates timed."""
    params = case.params()
    names = list(params)
    rng = np.random.default_rng(seed)
    picks = [(k, i) for k in names for i in range(params[k].size)]
    picks = [picks[j] for j in rng.permutation(len(picks))[:coordinates]]
    h = np.finfo(float).eps ** (1 / 3)
    worst = 0.0
    t0 = time.perf_counter()
    for k, i in picks:
        values = []
        for sign in (1.0, -1.0):
            p = {n: np.array(v, dtype=float) for n, v in params.items()}
            p[k].flat[i] += sign * h
            values.append(numeric.loss(case, p))
        d = (values[0] - values[1]) / (2 * h)
        worst = max(worst, abs(d - np.ravel(grads[k])[i]) / gmax)
    return (time.perf_counter() - t0) / len(picks), worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--full-limit", type=int, default=40000)
    args = parser.parse_args(argv)
    print(f"{'network':<14}{'params':>9}{'full':>18}{'layer-aware':>20}{'directional':>20}{'central loop':>20}")
    for dims in SIZES:
        case = random_mlp(dims, args.batch)
        grads = reference_gradient(case).grads
        n = sum(np.size(v) for v in grads.values())
        gmax = max(float(np.max(np.abs(g))) for g in grads.values())
        verify(case, grads)                                       # warm numpy's code paths
        if n <= args.full_limit:
            t = time.perf_counter()
            full = numeric.gradient(case, "complex_step").grads
            full_cell = f"{time.perf_counter() - t:7.2f}s {_worst(grads, full, gmax):7.1e}"
        else:
            small = random_mlp((dims[0], 16, dims[-1]), args.batch)
            t = time.perf_counter()
            numeric.gradient(small, "complex_step")
            per = (time.perf_counter() - t) / sum(np.size(v) for v in small.params().values())
            per *= (dims[0] * dims[1] + dims[1] * dims[2]) / (dims[0] * 16 + 16 * dims[2])   # cost per evaluation
            full_cell = f"~{per * n:6.0f}s {'-':>7}"
        layer = verify(case, grads)
        direc = directional_only(case, grads)
        per, worst = central_loop(case, grads, gmax, coordinates=min(n, 2000))
        loop_cell = f"{'~' if n > 2000 else ''}{per * n:6.1f}s {worst:7.1e}"
        print(f"{'-'.join(map(str, dims)):<14}{n:>9}{full_cell:>18}"
              f"{layer.seconds:>10.2f}s {layer.worst:7.1e}{direc.seconds:>10.2f}s {direc.worst:7.1e}{loop_cell:>20}",
              flush=True)
    case = random_mlp(SIZES[-1], args.batch)
    grads = {k: np.array(v) for k, v in reference_gradient(case).grads.items()}
    gmax = max(float(np.max(np.abs(g))) for g in grads.values())
    result = verify(case, grads)
    print(f"\n{'-'.join(map(str, SIZES[-1]))}: {result.report().splitlines()[0]}")
    print("resolution of each tensor's direction under the exact rule (smallest single-entry error it must "
          "catch, / max |grad|): " + ", ".join(f"{k} {v:.1e}" for k, v in result.resolution.items()))
    for tensor, rel in [("W1", 1e-3), ("W1", 1e-5), ("W2", 1e-5), ("W2", 1e-7), ("b1", 1e-7), ("b2", 1e-8)]:
        bad = {k: v.copy() for k, v in grads.items()}
        index = tuple(s // 3 for s in bad[tensor].shape)
        bad[tensor][index] += rel * gmax
        r = verify(case, bad)
        print(f"  {tensor}{list(index)} off by {rel:g} of max |grad|: {'caught' if not r.ok else 'missed'}"
              f"{', located ' + str(r.located.get(tensor)) if r.located else ''} ({r.seconds:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
