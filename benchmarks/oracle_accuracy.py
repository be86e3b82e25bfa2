"""Oracle accuracy and the policy's sensitivity, per system and regime.

    .venv/bin/python benchmarks/oracle_accuracy.py --cases 100

For each system and regime, draws ``--cases`` Hypothesis cases (the suite's own
strategies, fixed seed) and prints, over them:

* the worst error of the reference against each oracle, relative to the
  gradient's largest entry (the figure the issue's accuracy floors are about);
* the smallest change to one gradient entry, as a fraction of the largest entry,
  that the exact rule catches on that case (its atol / max|g|): median and worst.
"""
from __future__ import annotations

import argparse
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


def measure(system, regime, n_cases):
    errors = {o: [] for o in oracles.ORACLES}
    seconds = {o: 0.0 for o in oracles.ORACLES}
    detectable = []

    @settings(max_examples=n_cases, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(cases(system, regime))
    def run(case):
        ref = reference_gradient(case)
        largest = max(float(np.max(np.abs(g))) for g in ref.grads.values())
        if largest == 0.0:
            return
        for o in oracles.ORACLES:
            t0 = time.perf_counter()
            g = oracles.gradient(case, o)
            seconds[o] += time.perf_counter() - t0
            err = max(float(np.max(np.abs(np.asarray(ref.grads[k]) - g.grads[k]))) for k in ref.grads)
            errors[o].append(err / largest)
        _, mags = magnitude(case)
        scale = max(float(np.max(m)) for m in mags.values())
        detectable.append(tolerance("exact", terms=case.summation_length).atol(scale) / largest)
    run()
    return {o: np.array(e) for o, e in errors.items()}, seconds, np.array(detectable)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100)
    args = parser.parse_args(argv)
    names = list(oracles.ORACLES)
    print(f"{'system':<13}{'regime':<15}" + "".join(f"{n:>17}" for n in names)
          + f"{'detect median':>15}{'1e-8 caught':>13}")
    for system, regime in PAIRS:
        errors, seconds, detect = measure(system, regime, args.cases)
        print(f"{system:<13}{regime:<15}"
              + "".join(f"{np.median(errors[n]):>9.1e}/{np.percentile(errors[n], 90):.0e}" for n in names)
              + f"{np.median(detect):>15.1e}{np.mean(detect <= 1e-8):>13.0%}")
    print("\nerrors: reference vs oracle, max|diff| / max|gradient| per case: median / 90th percentile"
          "\ndetect: the exact rule's atol / max|gradient| (the smallest one-entry error it catches), median;"
          "\n1e-8 caught: share of cases where an error of 1e-8 of the largest entry is caught")


if __name__ == "__main__":
    main()
