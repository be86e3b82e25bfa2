"""Oracle accuracy against the truth, cost and the policy's sensitivity, per system and regime.

    PYTHONPATH=. .venv/bin/python benchmarks/oracle_accuracy.py --cases 100 [--large 3] [--json PATH]

For each system and regime, draws ``--cases`` Hypothesis cases (the suite's own
strategies, fixed seed: depth 1-4, widths 1-8, batch 1-8), plus ``--large``
larger MLP and softmax networks (widths 32-64, batch 32; ``large_cases``), and
computes for every case each oracle's gradient, the reference's and the truth:
``oracles.extended``, the complex step in long double (eps 2^-63, 2^-11 of
float64's), whose own error is checked here by a second step (suite sizes). Prints:

1. the reference against each oracle, relative to the gradient's largest entry,
   median / 90th percentile, with the exact rule's sensitivity;
2. each oracle and the reference against the truth, max|diff| / max|truth|:
   median / 90th percentile / worst;
3. the same errors in units of u max(magnitude) (u = 2^-53, the magnitude from
   ``oracles.rounding``): what a float64 evaluation can reach at best is ~1 there;
4. oracle against oracle, the worst case (over the cases whose gradient is within
   MAX_CANCELLATION of its rounding magnitude), and for each worst case
   of two exact oracles which of them is off from the truth, and by how much;
5. the complex step against the autodiff oracles, worst case, over the cases where
   torch64 and jax64 agree within AUTODIFF_AGREEMENT of the largest entry and over
   the well-conditioned cases (magnitude <= WELL_CONDITIONED x the largest entry);
6. the requirement checked: complex step <= 1e-15, Richardson <= 1e-11, central
   about 1e-10 of the largest entry;
7. each oracle's cost per example, the truth's included.

``--json PATH`` writes every figure (summaries, worst cases explained, and the
per-case errors) to PATH.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pickle
import time

# One BLAS thread unless the caller says otherwise (set before numpy is imported). The numerical
# oracles' matmuls are small and batched; on a loaded machine OpenBLAS's threads contend for the
# busy cores and slow them by orders of magnitude: a cost per example that would measure the load.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import hypothesis  # noqa: E402
import numpy as np  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

import oracles  # noqa: E402
from backprop_harness.implementations import reference_gradient  # noqa: E402
from backprop_harness.strategies import RELU_MARGIN, SOFTMAX_REGIMES, cases, clear_of_zero  # noqa: E402
from oracles import EXACT, extended  # noqa: E402
from oracles.cases import GraphCase, ManualCase, MLPCase, SoftmaxCase  # noqa: E402
from oracles.numeric import ACTIVATIONS  # noqa: E402
from oracles.rounding import magnitude  # noqa: E402
from oracles.tolerance import tolerance  # noqa: E402

PAIRS = [("scalar_graph", "conditioned")] \
    + [(s, r) for s in ("manual_222", "mlp") for r in ("conditioned", "saturated")] \
    + [("softmax", r) for r in SOFTMAX_REGIMES]
LARGE_REGIME = "conditioned, 32-64"
ORACLE_NAMES = list(oracles.ORACLES)
SIDES = ["reference"] + ORACLE_NAMES          # what is measured against the truth
U = float(np.finfo(np.float64).eps) / 2        # float64's unit roundoff, 2^-53
EPS_LD = float(np.finfo(np.longdouble).eps)
# The policy's floor for each side: below that gradient scale it judges absolutely, and so do
# these figures (such cases are counted apart). Exact evaluations 1e-150 (the float64 complex
# step's h f' underflows below it); differences 1e-3 (their error is a fraction of |f| and of its
# higher derivatives, not of a tiny gradient: 2.5e-52 with a loss of order 1 is all error).
FLOORS = {s: tolerance(s if s in ("richardson", "central") else "exact").floor for s in SIDES}
FLOOR = FLOORS["complex_step"]

# Cases whose gradient is more than 1e5 times smaller than its rounding magnitude (paths
# that cancel, outputs on their targets) are left out of the oracle-against-oracle
# table: there "relative to the largest entry" measures the cancellation, not the oracle.
MAX_CANCELLATION = 1e5
CROSS = [("torch64", "jax64"), ("complex_step", "torch64"), ("complex_step", "jax64"),
         ("richardson", "torch64"), ("central", "torch64")]
# The requirement, relative to the gradient's largest entry: the complex step within 1e-15
# of the autodiff oracles, "the limit" being two autodiff libraries' 2e-16 to 5e-16 (hence
# AUTODIFF_AGREEMENT: the cases where torch64 and jax64 agree that well); Richardson within
# 1e-11; central differences reported for comparison, "about 1e-10".
REQUIREMENT = {"complex_step": 1e-15, "richardson": 1e-11, "central": 1e-10}
AUTODIFF_AGREEMENT = 5e-16
WELL_CONDITIONED = 10.0
SECOND_STEP = 3 * np.ldexp(np.longdouble(1), -1600)     # another mantissa than extended.STEP: other roundings

# Larger networks: the architectures cycled through by --large (each batch 32). Long double
# matmul has no BLAS and the truth evaluates the network once per parameter, so its cost
# grows as the square of the widths: the input and hidden widths' product stays at
# 2048-2304, where a case takes seconds rather than minutes.
LARGE_ARCHITECTURES = {"mlp": [(32, 64, 10), (64, 32, 10), (32, 32, 32, 10)],
                       "softmax": [(32, 64, 10), (64, 32, 10), (48, 48, 10)]}
LARGE_BATCH = 32
# The suite's conditioned weights are uniform in [-2, 2] on layers of at most 8 inputs;
# on 32-64 inputs the same range saturates nearly every sigmoid. Weights are scaled by
# sqrt(SUITE_FAN_IN / fan_in), so pre-activations spread as in the suite's widest layers.
SUITE_FAN_IN = 8


def large_cases(system, count, seed=0):
    """``count`` conditioned cases of ``system`` ("mlp" or "softmax") on LARGE_ARCHITECTURES
    (cycled), batch LARGE_BATCH; inputs in [-3, 3], targets in [0, 1], biases in [-2, 2] and
    weights in [-2, 2] scaled to the fan-in, as ``backprop_harness.strategies`` draws them; MLP
    activations, loss, layout and biases drawn as there (relu units cleared of the kink)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        dims = LARGE_ARCHITECTURES[system][i % len(LARGE_ARCHITECTURES[system])]
        n = LARGE_BATCH
        X = rng.uniform(-3, 3, (n, dims[0]))
        Ws = [rng.uniform(-2, 2, (a, b)) * np.sqrt(SUITE_FAN_IN / a) for a, b in zip(dims, dims[1:])]
        bs = [rng.uniform(-2, 2, b) for b in dims[1:]]
        if system == "softmax":
            Y = np.eye(dims[-1])[rng.integers(0, dims[-1], n)]
            out.append(SoftmaxCase(X, Y, Ws[0], bs[0], Ws[1], bs[1], str(rng.choice(["sum", "mean"]))))
            continue
        acts = tuple(str(a) for a in rng.choice(["sigmoid", "tanh", "relu", "identity"], len(Ws)))
        A = X
        for l, act in enumerate(acts):
            Z = A @ Ws[l]
            if act == "relu":
                bs[l] = clear_of_zero(Z, bs[l], RELU_MARGIN)
            A = ACTIVATIONS[act](Z + bs[l])
        with_bias = "relu" in acts or bool(rng.integers(0, 2))
        case = MLPCase(X, rng.uniform(0, 1, (n, dims[-1])), Ws, bs if with_bias else None, acts,
                       str(rng.choice(["sse", "half_mean"])), "row")
        if rng.integers(0, 2):
            case = MLPCase(X.T, case.T.T, [W.T for W in Ws], case.bs, acts, case.loss, "column")
        out.append(case)
    return out


def describe(case) -> str:
    """A case in a few words: its shape and conventions."""
    if isinstance(case, GraphCase):
        return f"graph, {case.leaves.size} leaves, {len(case.nodes)} nodes"
    if isinstance(case, ManualCase):
        return "2-2-2"
    if isinstance(case, MLPCase):
        return (f"{'-'.join(map(str, case.dims))}, batch {case.batch}, {'/'.join(case.activations)}, {case.loss}, "
                f"{case.layout}{'' if case.bs is not None else ', no biases'}")
    n, d = case.X.shape
    return f"{d}-{case.W1.shape[1]}-{case.W2.shape[1]}, batch {n}, {case.reduction}"


def _max_diff(a, b):
    """max |a - b| over every entry of every parameter, in long double (no underflow below 1e-308)."""
    return max(np.max(np.abs(np.asarray(a[k], dtype=np.longdouble) - np.asarray(b[k], dtype=np.longdouble)))
               for k in a)


def _largest(grads):
    return max(np.max(np.abs(np.asarray(g, dtype=np.longdouble))) for g in grads.values())


def measure_case(case, seconds, second_step=True):
    """One case's figures (a dict), or None when its true gradient is exactly 0.

    Ratios are taken in long double: a true gradient may lie below float64's range (a
    softmax probability of e^-2000), where every float64 answer is 0 and "largest" reads 0.0.
    Where the reference's gradient is 0 the figures against it are None.
    ``seconds`` collects each oracle's wall time per case (and the truth's, as "extended")."""
    ref = reference_gradient(case)
    t0 = time.perf_counter()
    truth = extended.gradient(case)
    seconds["extended"].append(time.perf_counter() - t0)
    largest, ref_largest = _largest(truth.grads), _largest(ref.grads)
    if largest == 0:
        return None
    answers = {"reference": ref}
    for o in ORACLE_NAMES:
        t0 = time.perf_counter()
        answers[o] = oracles.gradient(case, o)
        seconds[o].append(time.perf_counter() - t0)
    _, mags = magnitude(case)
    mag = max(float(np.max(m)) for m in mags.values())
    exact_rule = tolerance("exact", terms=case.summation_length)

    def relative(a, b, scale):
        return float(_max_diff(a, b) / scale)
    return {
        "case": describe(case),
        "largest": float(largest),
        "magnitude": mag,
        "k": exact_rule.rtol / float(np.finfo(np.float64).eps),
        "versus_reference": ({o: relative(ref.grads, answers[o].grads, ref_largest) for o in ORACLE_NAMES}
                             if ref_largest > 0 else None),
        "versus_truth": {s: relative(answers[s].grads, truth.grads, largest) for s in SIDES},
        "cross": {f"{a} v {b}": relative(answers[a].grads, answers[b].grads, largest) for a, b in CROSS},
        "truth_two_steps": (relative(truth.grads, extended.gradient(case, step=SECOND_STEP).grads, largest)
                            if second_step else None),
        "detect": float(exact_rule.atol(mag) / ref_largest) if ref_largest > 0 else None,
    }


def draw(system, regime, n_cases, seed):
    """``n_cases`` cases of the suite's strategy, from Hypothesis seed ``seed``: the same cases
    whatever this file's code (a derandomized run seeds itself from the test function's
    source, so every edit of the benchmark drew other cases), drawn before anything is
    measured (an exception while measuring is not a failing example to shrink). Distinct cases
    only, so fewer than ``n_cases`` where the strategy repeated itself."""
    drawn = {}

    @hypothesis.seed(seed)
    @settings(max_examples=n_cases, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(cases(system, regime))
    def collect(case):
        drawn.setdefault(pickle.dumps(case), case)      # Hypothesis repeats some cases: each counts once
    collect()
    return list(drawn.values())


def measure(cases_, second_step=True):
    """Figures of a list of cases: (records, ms per example for each oracle and the truth)."""
    seconds = {o: [] for o in ORACLE_NAMES + ["extended"]}
    records = [r for r in (measure_case(c, seconds, second_step) for c in cases_) if r is not None]
    return records, {"cases": len(cases_), **{o: 1e3 * float(np.mean(t)) if t else np.nan for o, t in seconds.items()}}


def jax_every_shape_compiles(cases_):
    """ms per example when JAX compiles every case afresh (its caches cleared before each)."""
    import jax
    total = 0.0
    for case in cases_:
        jax.clear_caches()
        t0 = time.perf_counter()
        oracles.gradient(case, "jax64")
        total += time.perf_counter() - t0
    return 1e3 * total / max(len(cases_), 1)


# --- summaries ------------------------------------------------------------------------

def _units(r, side):
    """The error against the truth in units of u max(magnitude)."""
    return r["versus_truth"][side] * r["largest"] / (U * r["magnitude"])


def _stats(values):
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return None
    return {"median": float(np.median(v)), "p90": float(np.percentile(v, 90)), "worst": float(np.max(v))}


def _above_floor(records, *sides):
    """The records whose gradient is at or above the floor of every one of ``sides``."""
    floor = max(FLOORS[s] for s in sides)
    return [r for r in records if r["largest"] >= floor]


def _off_from_truth(r, a, b):
    """Which of two oracles is off from the truth on record r, in words: the one at least
    twice as far from it as the other; or both alike, on opposite sides of the truth (their
    difference the sum of their errors) or on the same side (an error they share)."""
    ea, eb = r["versus_truth"][a], r["versus_truth"][b]
    (worse, ew), (better, eb_) = sorted(((a, ea), (b, eb)), key=lambda x: -x[1])
    if ew >= 2 * eb_:
        return f"{worse} is off, {ew:.1e} ({_units(r, worse):.2g} u*mag), {better} {eb_:.1e} ({_units(r, better):.2g})"
    diff = r["cross"][f"{a} v {b}"]
    side = ("on opposite sides of the truth" if diff > ew else "an error they share" if diff < eb_ / 2 else "")
    return (f"both off alike, {ea:.1e} and {eb:.1e} ({_units(r, a):.2g} and {_units(r, b):.2g} u*mag)"
            + (f", {side}" if side else ""))


def summarise(records):
    """Every figure of one row (system, regime) from its per-case records."""
    kept = _above_floor(records, *EXACT)
    with_ref = [r for r in records if r["versus_reference"] is not None]
    agree = [r for r in kept if r["cross"]["torch64 v jax64"] <= AUTODIFF_AGREEMENT]
    well = [r for r in kept if r["magnitude"] <= WELL_CONDITIONED * r["largest"]]
    within = {f"{a} v {b}": [r for r in _above_floor(records, a, b)
                             if r["magnitude"] <= MAX_CANCELLATION * r["largest"]]
              for a, b in CROSS}
    worst_cases = {}
    for key, subset in within.items():
        if not subset:
            continue
        a, b = key.split(" v ")
        r = max(subset, key=lambda r: r["cross"][key])
        worst_cases[key] = {"value": r["cross"][key], "case": r["case"], "magnitude_over_largest":
                            r["magnitude"] / r["largest"], "versus_truth": r["versus_truth"],
                            "versus_truth_units": {s: _units(r, s) for s in SIDES},
                            "explanation": _off_from_truth(r, a, b)}
    two_steps = [r["truth_two_steps"] for r in kept if r["truth_two_steps"] is not None]
    complex_v_autodiff = [max(r["cross"]["complex_step v torch64"], r["cross"]["complex_step v jax64"]) for r in kept]

    def restricted(subset):
        return {"cases": len(subset),
                **{key: float(max((r["cross"][key] for r in subset), default=np.nan))
                   for key in ("complex_step v torch64", "complex_step v jax64", "torch64 v jax64")},
                **{f"{s} v truth": float(max((r["versus_truth"][s] for r in subset), default=np.nan))
                   for s in EXACT}}
    return {
        "cases": len(records),
        "below_floor": {s: len(records) - len(_above_floor(records, s)) for s in SIDES},
        **{f"below_floor_{o}_worst": float(max((r["versus_truth"][o] for r in records if r["largest"] < FLOOR),
                                               default=np.nan)) for o in ("complex_step", "torch64")},
        "versus_reference": {o: _stats([r["versus_reference"][o] for r in with_ref]) for o in ORACLE_NAMES},
        "detect_median": float(np.median([r["detect"] for r in with_ref])) if with_ref else None,
        "caught_1e-8": float(np.mean([r["detect"] <= 1e-8 for r in with_ref])) if with_ref else None,
        "versus_truth": {s: _stats([r["versus_truth"][s] for r in _above_floor(records, s)]) for s in SIDES},
        "versus_truth_units": {s: _stats([_units(r, s) for r in _above_floor(records, s)]) for s in SIDES},
        "truth_bound_units": float(max((r["k"] * EPS_LD / U for r in kept), default=np.nan)),
        "truth_two_steps_worst": float(max(two_steps)) if two_steps else None,
        "cross_cases": {key: len(subset) for key, subset in within.items()},
        "cross_worst": {key: float(max((r["cross"][key] for r in subset), default=np.nan))
                        for key, subset in within.items()},
        "worst_cases": worst_cases,
        "complex_step_v_autodiff_worst": float(max(complex_v_autodiff, default=np.nan)),
        "autodiff_agree": restricted(agree),
        "well_conditioned": restricted(well),
    }


# --- printing ---------------------------------------------------------------------------

def _row(system, regime):
    return f"{system:<13}{regime:<19}"


def _three(s, fmt=".1e"):
    return "-" if s is None else f"{s['median']:{fmt}}/{s['p90']:{fmt}}/{s['worst']:{fmt}}"


def _worst(stats):
    return np.nan if stats is None else stats["worst"]


def _verdict(value, limit):
    return "-" if np.isnan(value) else f"{value:.1e} {'ok' if value <= limit else 'OVER'}"


def _e(value, width):
    return f"{'-':>{width}}" if np.isnan(value) else f"{value:>{width}.1e}"


def report(rows, per_example, fresh):
    print(f"{'system':<13}{'regime':<19}" + "".join(f"{n:>17}" for n in ORACLE_NAMES)
          + f"{'detect median':>15}{'1e-8 caught':>13}")
    for (system, regime), s in rows.items():
        v = s["versus_reference"]
        print(_row(system, regime) + "".join(f"{v[n]['median']:>9.1e}/{v[n]['p90']:.0e}" for n in ORACLE_NAMES)
              + f"{s['detect_median']:>15.1e}{s['caught_1e-8']:>13.0%}")
    print("\n1. reference vs oracle, max|diff| / max|gradient| per case: median / 90th percentile;"
          "\ndetect: the exact rule's atol / max|gradient| (the smallest one-entry error it catches), median;"
          "\n1e-8 caught: share of cases where an error of 1e-8 of the largest entry is caught")

    print(f"\n{'system':<13}{'regime':<19}{'cases':>6}" + "".join(f"{n:>28}" for n in SIDES) + f"{'truth 2 steps':>15}")
    for (system, regime), s in rows.items():
        two = s["truth_two_steps_worst"]
        print(_row(system, regime) + f"{s['cases'] - s['below_floor']['complex_step']:>6}"
              + "".join(f"{_three(s['versus_truth'][n]):>28}" for n in SIDES)
              + f"{'-' if two is None else f'{two:.1e}':>15}")
    print("\n2. against the truth (oracles.extended: the complex step in long double), max|diff| / max|truth| per "
          "case: median / 90th percentile / worst;\ntruth 2 steps: the truth at a second step against the first, "
          f"worst (its own rounding); cases: those above the exact rule's floor. Cases whose gradient is below the "
          f"policy's floor\n(exact {FLOOR:g}, Richardson {FLOORS['richardson']:g}, central {FLOORS['central']:g}) are "
          "left out of that side's figures here and below; the policy judges them absolutely:")
    for (system, regime), s in rows.items():
        below = s["below_floor"]
        if below["complex_step"]:
            print(f"   {system} {regime}: {below['complex_step']} case(s) with max|gradient| < {FLOOR:g} (the float64 "
                  f"complex step's h f' underflows; a softmax probability of e^-2000 is 0 in float64), where the "
                  f"complex step's error is up to {s['below_floor_complex_step_worst']:.2g} and torch64's up to "
                  f"{s['below_floor_torch64_worst']:.2g} of the largest entry")
        if below["richardson"] > below["complex_step"]:
            print(f"   {system} {regime}: {below['richardson']} case(s) with max|gradient| < {FLOORS['richardson']:g}, "
                  "left out of Richardson's and central's figures")

    print(f"\n{'system':<13}{'regime':<19}" + "".join(f"{n:>28}" for n in SIDES) + f"{'truth <=':>10}")
    for (system, regime), s in rows.items():
        print(_row(system, regime) + "".join(f"{_three(s['versus_truth_units'][n], '.2g'):>28}" for n in SIDES)
              + f"{s['truth_bound_units']:>10.2g}")
    print("\n3. the same errors in units of the case's conditioning, max|diff| / (u max(magnitude)), u = 2^-53: "
          "median / 90th / worst;\nan exact float64 evaluation reaches ~1 at best; truth <=: the truth's own "
          "rounding bound in these units (k eps_ld / u, the exact rule's k)")

    print(f"\n{'system':<13}{'regime':<19}" + "".join(f"{a + ' v ' + b:>25}" for a, b in CROSS))
    for (system, regime), s in rows.items():
        n = s["cross_cases"]
        print(_row(system, regime) + "".join(_e(s['cross_worst'][f'{a} v {b}'], 25) for a, b in CROSS)
              + f"  ({n['torch64 v jax64']} / {n['central v torch64']} cases)")
    print(f"4. oracle against oracle: the worst case's max|diff| / max|gradient|, over the cases whose gradient is "
          f"within {MAX_CANCELLATION:g} of its rounding magnitude\n(and above the floor: cases for the exact pairs / "
          "for the differences).\nThe worst cases of the exact pairs, against the truth (magnitude: max(magnitude) "
          "/ max|gradient|):")
    for (system, regime), s in rows.items():
        for key, w in s["worst_cases"].items():
            a, b = key.split(" v ")
            if a not in EXACT or b not in EXACT:
                continue
            print(f"   {system} {regime}, {key} {w['value']:.1e} "
                  f"[{w['case']}; magnitude {w['magnitude_over_largest']:.2g}]: "
                  + ", ".join(f"{o} {w['versus_truth'][o]:.1e}" for o in EXACT) + f" -> {w['explanation']}")

    head = "".join(f"{c:>12}" for c in ("cs v torch", "cs v jax", "cs v truth", "torch v tr", "jax v truth"))
    print(f"\n{'system':<13}{'regime':<19}{'cases':>6}{head}{'cases':>8}{head}")
    for (system, regime), s in rows.items():
        line = _row(system, regime)
        for part, width in (("autodiff_agree", 6), ("well_conditioned", 8)):
            d = s[part]
            line += f"{d['cases']:>{width}}" + "".join(_e(d[k], 12) for k in (
                "complex_step v torch64", "complex_step v jax64", "complex_step v truth", "torch64 v truth",
                "jax64 v truth"))
        print(line)
    print(f"5. worst case, complex step (cs) against the autodiff oracles and everyone against the truth, over the "
          f"cases where torch64 and jax64 agree within {AUTODIFF_AGREEMENT:g} of max|gradient| (left) and over the "
          f"well-conditioned cases, max(magnitude) <= {WELL_CONDITIONED:g} max|gradient| (right)")

    print(f"\n{'system':<13}{'regime':<19}" + "".join(f"{c:>21}" for c in (
        "complex v truth", "complex v autodiff", "(where they agree)", "Richardson v truth", "central v truth")))
    for (system, regime), s in rows.items():
        t = s["versus_truth"]
        agree = max(s["autodiff_agree"]["complex_step v torch64"], s["autodiff_agree"]["complex_step v jax64"])
        central = t["central"] or {"worst": np.nan, "median": np.nan}
        print(_row(system, regime) + "".join(f"{_verdict(value, REQUIREMENT[o]):>21}" for value, o in (
            (_worst(t["complex_step"]), "complex_step"), (s["complex_step_v_autodiff_worst"], "complex_step"),
            (agree, "complex_step"), (_worst(t["richardson"]), "richardson")))
            + _e(central["worst"], 13) + ("" if np.isnan(central["median"]) else f" ({central['median']:.0e})"))
    print(f"6. the requirement, worst cases relative to max|gradient| (above the floor): complex step <= "
          f"{REQUIREMENT['complex_step']:g} against the truth and against the autodiff oracles (all cases, and "
          f"those where torch64 and jax64 agree within {AUTODIFF_AGREEMENT:g}); Richardson <= "
          f"{REQUIREMENT['richardson']:g} against the truth; central about {REQUIREMENT['central']:g} (worst, median)")

    names = ORACLE_NAMES + ["extended"]
    print(f"\n{'system':<13}{'regime':<19}" + "".join(f"{n:>14}" for n in names) + f"{'jax, no buckets':>17}")
    for key, cost in per_example.items():
        print(_row(*key) + "".join(f"{cost[n]:>12.2f}ms" for n in names)
              + (f"{fresh[key]:>15.0f}ms" if key in fresh else f"{'':>17}"))
    # a run of the suite's varying shapes: every row but the larger networks, weighted by its cases
    suite = [c for (_, regime), c in per_example.items() if regime != LARGE_REGIME]
    jax_run = sum(c["jax64"] * c["cases"] for c in suite) / max(sum(c["cases"] for c in suite), 1)
    print(f"7. cost per example over the run (each oracle's gradient, imports excluded; JAX with its shape buckets, "
          f"compilations included: {jax_run:.2f} ms per example over the suite-size rows, "
          f"{sum(c['cases'] for c in suite)} cases of varying shapes; each larger network compiles its own bucket); "
          f"extended: the truth (one step); 'jax, no buckets': every case compiled afresh (20 cases)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100, help="Hypothesis cases per system and regime")
    parser.add_argument("--large", type=int, default=3, help="larger networks per system (MLP, softmax)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed of the drawn cases")
    parser.add_argument("--json", metavar="PATH", help="write every figure to PATH")
    args = parser.parse_args(argv)
    extended.require_extended()
    for module in ("oracles.torch64", "oracles.jax64"):      # imports are not a cost per example
        importlib.import_module(module)
    started = time.perf_counter()
    drawn = {(system, regime): draw(system, regime, args.cases, args.seed) for system, regime in PAIRS}
    measured = {key: measure(cases_) for key, cases_ in drawn.items()}
    if args.large > 0:
        measured.update({(system, LARGE_REGIME): measure(large_cases(system, args.large, args.seed), second_step=False)
                         for system in LARGE_ARCHITECTURES})
    rows = {key: summarise(records) for key, (records, _) in measured.items()}
    per_example = {key: cost for key, (_, cost) in measured.items()}
    fresh = {(system, regime): jax_every_shape_compiles(drawn[(system, regime)][:20])
             for system, regime in PAIRS if regime == "conditioned"}
    report(rows, per_example, fresh)
    wall = time.perf_counter() - started
    print(f"\nwall time {wall:.0f} s")
    if args.json:
        figures = {"settings": {"cases": args.cases, "large": args.large, "seed": args.seed, "u": U,
                                "eps_longdouble": EPS_LD,
                                "floor": FLOOR, "max_cancellation": MAX_CANCELLATION,
                                "autodiff_agreement": AUTODIFF_AGREEMENT, "well_conditioned": WELL_CONDITIONED,
                                "requirement": REQUIREMENT, "wall_seconds": wall},
                   "rows": [{"system": system, "regime": regime, **rows[(system, regime)],
                             "ms_per_example": per_example[(system, regime)],
                             "jax_no_buckets_ms": fresh.get((system, regime)),
                             "records": measured[(system, regime)][0]} for system, regime in rows]}
        with open(args.json, "w") as f:
            json.dump(_plain(figures), f, indent=1, allow_nan=False)
        print(f"figures written to {args.json}")


def _plain(x):
    """JSON's types: numpy floats as floats, NaN (an empty subset's worst case) as null."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if np.isnan(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


if __name__ == "__main__":
    main()
