"""Checking large networks: time, accuracy and per-entry resolution of each method.

    PYTHONPATH=. .venv/bin/python benchmarks/large_network.py [--batch 32] [--full-limit 40000]
        [--positions 3] [--false-alarms 200] [--sections table,resolution,budget,injection,systems,false-alarms]

Sections (all by default; times are wall clock, best of --repeat runs where a
method is cheap, so that other processes on the machine weigh less):

table         sigmoid MLPs from 2-2-2 (12 parameters with biases) to 256-512-10
              (136,714), batch --batch. For the reference's gradient, each method's
              wall time and its worst disagreement with the gradient (over the
              gradient's largest entry):
              * full         the complex step on every coordinate (batched numpy; run up
                             to --full-limit parameters, estimated beyond from a narrower
                             network's cost per coordinate, marked ~)
              * layer-aware  ``oracles.large.verify``: every entry in a block question
                             (8192 blocks and a second cover), spots, one direction over
                             all, by the layer-aware complex step
              * directional  ``oracles.large.directional_only``: 4 sign directions over all
              * central loop the classic check: two loss evaluations per coordinate in a
                             Python loop; timed on 2,000 coordinates and scaled (marked ~)
resolution    256-512-10: per tensor, the smallest single-entry error guaranteed caught
              (/ max |grad|) by one direction over the tensor (the cheapest
              question), by ``verify``, and the floor (the largest
              single entry's own exact-rule tolerance)
budget        256-512-10: ``verify``'s budget against its resolution and time
injection     256-512-10: one entry of each tensor off by 1e-5 ... 1e-10 of max |grad|
              at --positions random entries (caught / located); two entries of one
              block with opposite errors that cancel in it; each tensor scaled by 1.0001
systems       a correct gradient of each of the four systems passes (256-512-10 MLP
              and softmax network, a scalar graph, 003's 2-2-2 network)
false-alarms  the reference's gradient of --false-alarms random networks (MLPs of depth
              1-4, widths 1-96, batch 1-32, every activation, layout and loss, with or
              without biases; softmax networks; 40% saturated: weights 8-100x larger)
              checked by ``verify``: every failure is a false alarm
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from backprop_harness.implementations import reference_gradient
from oracles import numeric
from oracles.cases import GraphCase, ManualCase, MLPCase, Node, SoftmaxCase
from oracles.large import Layered, directional_only, prepare, probe_blocks, random_mlp, random_softmax, verify

SIZES = [(2, 2, 2), (8, 16, 4), (32, 64, 10), (64, 128, 10), (128, 256, 10), (256, 512, 10)]
SECTIONS = ("table", "resolution", "budget", "injection", "systems", "false-alarms")


def _gmax(grads):
    return max(float(np.max(np.abs(g))) for g in grads.values())


def _worst(grads, other, gmax):
    return max(float(np.max(np.abs(np.asarray(grads[k]) - np.asarray(other[k])))) for k in grads) / gmax


def _best(fn, repeat):
    """(the result of the fastest of ``repeat`` calls, its seconds)."""
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        runs.append((time.perf_counter() - t, out))
    t, out = min(runs, key=lambda r: r[0])
    return out, t


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


def table(args):
    print(f"{'network':<14}{'params':>9}{'full':>18}{'layer-aware':>20}{'directional':>20}{'central loop':>20}")
    for dims in SIZES:
        case = random_mlp(dims, args.batch)
        grads = reference_gradient(case).grads
        n = sum(np.size(v) for v in grads.values())
        gmax = _gmax(grads)
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
        # a fresh case per run: verify's rounding magnitudes are kept per case, and would be free
        layer, t_layer = _best(lambda: verify(random_mlp(dims, args.batch), grads), args.repeat)
        direc, t_direc = _best(lambda: directional_only(random_mlp(dims, args.batch), grads), args.repeat)
        per, worst = central_loop(case, grads, gmax, coordinates=min(n, 2000))
        loop_cell = f"{'~' if n > 2000 else ''}{per * n:6.1f}s {worst:7.1e}"
        print(f"{'-'.join(map(str, dims)):<14}{n:>9}{full_cell:>18}"
              f"{t_layer:>10.2f}s {layer.worst:7.1e}{t_direc:>10.2f}s {direc.worst:7.1e}{loop_cell:>20}",
              flush=True)


def resolution(args):
    case = random_mlp(SIZES[-1], args.batch)
    grads = reference_gradient(case).grads
    result, t = _best(lambda: verify(random_mlp(SIZES[-1], args.batch), grads), args.repeat)
    _, _, _, mags, tol, gmax = prepare(case, grads, 0)
    print(f"{'-'.join(map(str, SIZES[-1]))}, batch {args.batch}: {result.report().splitlines()[0]} (best {t:.2f} s)")
    print("smallest single-entry error guaranteed caught, / max |grad| (exact rule, k = "
          f"{case.summation_length}):")
    print(f"  {'tensor':<8}{'entries':>9}{'one direction':>15}{'verify':>10}{'floor':>10}{'verify/floor':>14}")
    for k, m in mags.items():
        print(f"  {k:<8}{m.size:>9}{tol.atol(float(np.sum(m))) / gmax:>15.1e}{result.resolution[k]:>10.1e}"
              f"{result.floor[k]:>10.1e}{result.resolution[k] / result.floor[k]:>14.1f}")


def budget(args):
    case = random_mlp(SIZES[-1], args.batch)
    grads = reference_gradient(case).grads
    print(f"verify's budget on {'-'.join(map(str, SIZES[-1]))}: resolution (/ max |grad|) and time (best of "
          f"{args.repeat})")
    print(f"  {'budget':>7}{'questions':>11}" + "".join(f"{k:>9}" for k in case.params()) + f"{'seconds':>9}")
    for b in (1024, 2048, 4096, 8192, 16384, 32768):
        r, t = _best(lambda: verify(random_mlp(SIZES[-1], args.batch), grads, budget=b), args.repeat)
        print(f"  {b:>7}{len(r.questions):>11}" + "".join(f"{v:>9.1e}" for v in r.resolution.values()) + f"{t:>9.2f}",
              flush=True)


def injection(args):
    case = random_mlp(SIZES[-1], args.batch)
    correct = {k: np.array(v) for k, v in reference_gradient(case).grads.items()}
    gmax = _gmax(correct)
    rng = np.random.default_rng(11)
    sizes = (1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)
    print(f"one wrong entry, off by a fraction of max |grad|, at {args.positions} random entries per tensor: "
          "caught / located exactly (worst seconds)")
    print(f"  {'tensor':<8}" + "".join(f"{s:>16g}" for s in sizes))
    for tensor, p in correct.items():
        cells = []
        for rel in sizes:
            caught = located = 0
            slowest = 0.0
            for _ in range(args.positions):
                index = tuple(int(rng.integers(s)) for s in p.shape)
                grads = {k: v.copy() for k, v in correct.items()}
                grads[tensor][index] += rel * gmax
                r = verify(random_mlp(SIZES[-1], args.batch), grads)      # fresh: magnitudes included
                caught += not r.ok
                located += r.located == {tensor: [index]}
                slowest = max(slowest, r.seconds)
            cells.append(f"{caught}/{located} ({slowest:.2f}s)")
        print(f"  {tensor:<8}" + "".join(f"{c:>16}" for c in cells), flush=True)

    # two entries of one first-cover block, equal signs, opposite errors: 0 in that block
    _, params, _, mags, _, _ = prepare(case, correct, 0)
    probes = probe_blocks(params, mags, Layered(case), np.random.default_rng(0), 8192)     # verify's, seed 0
    print("two entries of one block with opposite errors (+e, -e; equal signs, so they cancel in it):")
    for tensor in ("W1", "W2"):
        label, idx, signs = next((lb, i, s) for lb, name, i, s in probes
                                 if name == tensor and lb.startswith("block") and np.sum(s == s[0]) > 1)
        where = sorted(tuple(int(x) for x in np.unravel_index(int(e), correct[tensor].shape))
                       for e in idx[signs == signs[0]][:2])
        for rel in (1e-6, 1e-8):
            grads = {k: v.copy() for k, v in correct.items()}
            grads[tensor][where[0]] += rel * gmax
            grads[tensor][where[1]] -= rel * gmax
            r = verify(case, grads)
            block = next(q for q in r.questions if q.label == label)
            print(f"  {tensor}{where} +-{rel:g}: their block {'passes' if block.ok else 'fails'}; "
                  f"{'caught' if not r.ok else 'MISSED'}, located {r.located.get(tensor)} ({r.seconds:.2f} s)")

    print("a whole tensor scaled by 1.0001:")
    for tensor in correct:
        grads = {k: v.copy() for k, v in correct.items()}
        grads[tensor] *= 1.0001
        r = verify(case, grads)
        found = r.located.get(tensor, [])
        what = found[-1] if found and isinstance(found[-1], str) else f"located {len(found)} of {grads[tensor].size}"
        print(f"  {tensor}: {'caught' if not r.ok else 'MISSED'}; {what}; {r.evaluations} complex evaluations "
              f"({r.seconds:.2f} s)")


def systems(args):
    cases = {"mlp": random_mlp(SIZES[-1], args.batch), "softmax": random_softmax(SIZES[-1], args.batch),
             "scalar_graph": GraphCase([0.5, -1.25, 2.0], (Node("mul", 0, 1), Node("tanh", 3), Node("add", 4, 2),
                                                           Node("pow", 5, 2.0))),
             "manual_222": ManualCase([0.35, 0.9], [0.5, 0.1], [0.1, 0.8, 0.4, 0.6, 0.3, 0.9, 0.5, 0.2])}
    print("a correct gradient (the reference's) of each system:")
    for name, case in cases.items():
        r = verify(case, reference_gradient(case).grads)
        print(f"  {name:<13}{r.report().splitlines()[0]}")


def random_case(rng):
    """(a random MLP or softmax case, whether it is saturated): what --false-alarms checks."""
    saturated = rng.random() < 0.4
    scale = float(rng.choice([8.0, 30.0, 100.0])) if saturated else 1.0
    n = int(rng.integers(1, 33))
    if rng.random() < 0.25:
        d, h, k = int(rng.integers(1, 64)), int(rng.integers(1, 128)), int(rng.integers(2, 12))
        return SoftmaxCase(rng.uniform(-1, 1, (n, d)), np.eye(k)[rng.integers(0, k, n)],
                           rng.normal(0, scale / np.sqrt(d), (d, h)), rng.normal(0, 0.1 * scale, h),
                           rng.normal(0, scale / np.sqrt(h), (h, k)), rng.normal(0, scale, k),
                           str(rng.choice(["sum", "mean"]))), saturated
    depth = int(rng.integers(1, 5))
    dims = [int(x) for x in rng.integers(1, 97, depth + 1)]
    acts = (tuple(str(a) for a in rng.choice(["sigmoid", "tanh", "relu", "identity"], depth))
            if rng.random() < 0.5 else "sigmoid")
    Ws = [rng.normal(0, scale / np.sqrt(a), (a, b)) for a, b in zip(dims, dims[1:])]
    bs = [rng.normal(0, 0.1 * scale, b) for b in dims[1:]] if rng.random() < 0.8 else None
    X, T = rng.uniform(-1, 1, (n, dims[0])), rng.uniform(0, 1, (n, dims[-1]))
    layout = str(rng.choice(["row", "column"]))
    if layout == "column":
        X, T, Ws = X.T, T.T, [W.T for W in Ws]
    return MLPCase(X, T, Ws, bs, acts, str(rng.choice(["sse", "half_mean"])), layout), saturated


def false_alarms(args):
    alarms, params = 0, 0
    worst = {False: 0.0, True: 0.0}            # saturated -> worst |got - expected| / max |grad|
    closest = {False: 0.0, True: 0.0}          # saturated -> largest |got - expected| / tol
    count = {False: 0, True: 0}
    t0 = time.perf_counter()
    for seed in range(args.false_alarms):
        case, sat = random_case(np.random.default_rng(seed))
        count[sat] += 1
        params = max(params, sum(np.size(v) for v in case.params().values()))
        r = verify(case, reference_gradient(case).grads, seed=seed)
        worst[sat] = max(worst[sat], r.worst)
        closest[sat] = max([closest[sat]] + [abs(q.got - q.expected) / q.tol for q in r.questions if q.tol > 0])
        if not r.ok:
            alarms += 1
            print(f"  FALSE ALARM, seed {seed}, {type(case).__name__}:\n{r.report()}")
    print(f"false alarms: {alarms} in {args.false_alarms} random networks (up to {params} parameters; "
          f"{time.perf_counter() - t0:.0f} s)")
    for sat, what in ((False, "conditioned"), (True, "saturated")):
        print(f"  {what:<12}{count[sat]:>5} networks: worst |got - expected| {worst[sat]:.1e} of max |grad|, "
              f"closest call {closest[sat]:.2g} of the tolerance")
    print("  (saturated: the reference's s(1 - s) loses the digits of a gradient that flows through saturated "
          "units, which the complex step keeps; the exact rule's magnitude covers that: docs/tolerance.md)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--full-limit", type=int, default=40000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each cheap method; the fastest is shown")
    parser.add_argument("--positions", type=int, default=3, help="random entries per tensor and error size")
    parser.add_argument("--false-alarms", type=int, default=200, help="random networks checked for false alarms")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; expected some of {', '.join(SECTIONS)}")
    for i, name in enumerate(s for s in SECTIONS if s in chosen):
        print("\n" * (i > 0), end="")
        globals()[name.replace("-", "_")](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
