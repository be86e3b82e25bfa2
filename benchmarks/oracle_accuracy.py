"""Oracle accuracy, cost and the policy's sensitivity, per system and regime.

    PYTHONPATH=. .venv/bin/python benchmarks/oracle_accuracy.py --cases 100

For each system and regime, draws ``--cases`` Hypothesis cases (the suite's own
strategies, fixed seed: sizes vary as in the suite, up to depth 4 and width 8)
and prints, over them:

* the error of the reference against each oracle, relative to the gradient's
  largest entry, median / 90th percentile;
* the error of each oracle against the others (the autodiff pair, the complex
  step against each, Richardson and central against torch64), the worst case;
* each oracle's cost per example over the run (JAX: with its shape buckets, the
  compilations included), and JAX's cost when every shape compiles afresh;
* the smallest change to one gradient entry, as a fraction of the largest entry,
  that the exact rule catches on that case (its atol / max|g|).
"""
from __future__ import annotations

import argparse
import importlib
import time

import numpy as np
from hypothesis import HealthCheck, given, settings

import oracles
from backprop_harness.implementations import reference_gradient
from oracles.rounding import magnitude
from oracles.tolerance import tolerance
from tests.strategies import SOFTMAX_REGIMES, cases

PAIRS = [("scalar_graph", "conditioned")] + [(s, r) for s in ("manual_222", "mlp") for r in ("conditioned", "saturated")] \
    + [("softmax", r) for r in SOFTMAX_REGIMES]


# Cases whose gradient is more than 1e5 times smaller than its rounding magnitude (paths
# that cancel, outputs on their targets) are left out of the oracle-against-oracle
# table: there "relative to the largest entry" measures the cancellation, not the oracle.
MAX_CANCELLATION = 1e5
CROSS = [("torch64", "jax64"), ("complex_step", "torch64"), ("complex_step", "jax64"),
         ("richardson", "torch64"), ("central", "torch64")]


def measure(system, regime, n_cases):
    errors = {o: [] for o in oracles.ORACLES}
    cross = {pair: [] for pair in CROSS}
    seconds = {o: 0.0 for o in oracles.ORACLES}
    detectable = []
    count = [0]

    @settings(max_examples=n_cases, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(cases(system, regime))
    def run(case):
        ref = reference_gradient(case)
        largest = max(float(np.max(np.abs(g))) for g in ref.grads.values())
        if largest == 0.0:
            return
        count[0] += 1
        answers = {}
        for o in oracles.ORACLES:
            t0 = time.perf_counter()
            answers[o] = g = oracles.gradient(case, o)
            seconds[o] += time.perf_counter() - t0
            err = max(float(np.max(np.abs(np.asarray(ref.grads[k]) - g.grads[k]))) for k in ref.grads)
            errors[o].append(err / largest)
        _, mags = magnitude(case)
        if max(float(np.max(m)) for m in mags.values()) <= MAX_CANCELLATION * largest:
            for a, b in CROSS:
                cross[(a, b)].append(max(float(np.max(np.abs(answers[a].grads[k] - answers[b].grads[k])))
                                         for k in ref.grads) / largest)
        scale = max(float(np.max(m)) for m in mags.values())
        detectable.append(tolerance("exact", terms=case.summation_length).atol(scale) / largest)
    run()
    per_example = {o: 1e3 * t / max(count[0], 1) for o, t in seconds.items()}
    return ({o: np.array(e) for o, e in errors.items()}, {p: np.array(e) for p, e in cross.items()}, per_example,
            np.array(detectable))


def jax_every_shape_compiles(system, regime, n_cases):
    """ms per example when JAX compiles every case afresh (its caches cleared before each)."""
    import jax
    total, count = [0.0], [0]

    @settings(max_examples=n_cases, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(cases(system, regime))
    def run(case):
        jax.clear_caches()
        t0 = time.perf_counter()
        oracles.gradient(case, "jax64")
        total[0] += time.perf_counter() - t0
        count[0] += 1
    run()
    return 1e3 * total[0] / max(count[0], 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100)
    args = parser.parse_args(argv)
    names = list(oracles.ORACLES)
    for module in ("oracles.torch64", "oracles.jax64"):      # imports are not a cost per example
        importlib.import_module(module)
    results = {(system, regime): measure(system, regime, args.cases) for system, regime in PAIRS}
    print(f"{'system':<13}{'regime':<15}" + "".join(f"{n:>17}" for n in names)
          + f"{'detect median':>15}{'1e-8 caught':>13}")
    for (system, regime), (errors, _, _, detect) in results.items():
        print(f"{system:<13}{regime:<15}"
              + "".join(f"{np.median(errors[n]):>9.1e}/{np.percentile(errors[n], 90):.0e}" for n in names)
              + f"{np.median(detect):>15.1e}{np.mean(detect <= 1e-8):>13.0%}")
    print("\nerrors: reference vs oracle, max|diff| / max|gradient| per case: median / 90th percentile"
          "\ndetect: the exact rule's atol / max|gradient| (the smallest one-entry error it catches), median;"
          "\n1e-8 caught: share of cases where an error of 1e-8 of the largest entry is caught")
    print(f"\n{'system':<13}{'regime':<15}" + "".join(f"{a + ' v ' + b:>25}" for a, b in CROSS))
    for (system, regime), (_, cross, _, _) in results.items():
        print(f"{system:<13}{regime:<15}" + "".join(f"{np.max(cross[p], initial=0.0):>25.1e}" for p in CROSS)
              + f"  ({len(cross[CROSS[0]])} cases)")
    print(f"oracle against oracle: the worst case's max|diff| / max|gradient|, over the cases whose gradient is "
          f"within {MAX_CANCELLATION:g} of its rounding magnitude")
    print(f"\n{'system':<13}{'regime':<15}" + "".join(f"{n:>14}" for n in names) + f"{'jax, no buckets':>17}")
    for (system, regime), (_, _, per_example, _) in results.items():
        fresh = jax_every_shape_compiles(system, regime, min(args.cases, 20)) if regime == "conditioned" else None
        print(f"{system:<13}{regime:<15}" + "".join(f"{per_example[n]:>12.2f}ms" for n in names)
              + (f"{fresh:>15.0f}ms" if fresh is not None else f"{'':>17}"))
    jax_total = sum(r[2]["jax64"] for r in results.values()) / len(results)
    print(f"cost per example over the run (each oracle's gradient, imports excluded; JAX with its shape buckets, "
          f"compilations included: {jax_total:.2f} ms per example over the whole run); 'jax, no buckets': every "
          f"case compiled afresh (20 cases)")


if __name__ == "__main__":
    main()
