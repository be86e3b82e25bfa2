"""The peers side by side: which single-entry error each gradient checker catches, how fast.

    .venv/bin/python benchmarks/peers.py [--sizes 2-2-2,8-16-4,32-64-10,128-256-10,256-512-10]
        [--batch 32] [--repeat 3] [--gradcheck-limit 40000] [--full-ladder] [--seed 0] [--json out.json]

The tools, each asked about the same *claimed* gradient of the same network
(``oracles.large.random_mlp``: a sigmoid MLP with biases, squared error summed
over the batch and the outputs, batch ``--batch``, float64 throughout):

  gradcheck        ``torch.autograd.gradcheck`` with its defaults (eps 1e-6,
                   atol 1e-5, rtol 1e-3): the whole Jacobian by central
                   differences, two loss evaluations per parameter
  gradcheck fast   the same with ``fast_mode=True``: one random projection
                   v^T J u per input tensor (when it fails, torch recomputes the
                   slow-mode Jacobians for its message)
  check_grads      ``jax.test_util.check_grads(f, params, order=1, modes=("rev",))``
                   with x64 enabled (eps 1e-4, atol = rtol = 1e-5): one random
                   direction over all inputs, the VJP against a central difference
  harness          ``oracles.large.verify``: every entry in a block question
                   answered by the complex step, judged by the exact rule
                   (``oracles.tolerance``), failing blocks bisected to the entries
  harness 4 dirs   ``oracles.large.directional_only``: 4 random sign directions
                   over all parameters, the complex step, the exact rule (the
                   harness's cheapest check; shows what the blocks add)

How a claimed gradient is handed to a peer. gradcheck and check_grads check a
*function's* derivative, as its framework's autodiff computes it, against finite
differences of the same function. So the claimed gradient becomes the function's
autodiff: the loss is written once in each framework (the same formula as the
case's), and the function's backward is replaced by the claim,

  torch   class Claimed(torch.autograd.Function): forward(*params) = the loss;
          backward(ctx, v) = tuple(v * claimed[k] for each tensor k)
  JAX     f = jax.custom_vjp(loss); f.defvjp(fwd = (loss, no residuals),
          bwd = lambda _, v: tuple(v * claimed[k] for each tensor k))

For a scalar loss the vector-Jacobian product at the point checked is exactly
v * gradient, and both tools ask the backward only at that point (the finite
differences use the forward, the true loss), so each tool sees what a
hand-written backward returning the claimed numbers would give it: the situation
these tools exist for. check_grads' forward mode is left out (a custom_vjp
function has no JVP; ``modes=("rev",)``). The harness gets the claim as it gets
any implementation's answer: a dict of arrays by parameter name.

The claims. The right gradient is the reference's (``backprop_harness.implementations
.reference_gradient``); the perturbed claim moves one entry, drawn once per network
with ``--seed`` among all its parameters, by delta * max |g| for delta on the
ladder 1e-2, 1e-3, ..., 1e-14. For each tool and network:

  passes right   whether it passes the unperturbed gradient (a tool that fails it
                 is shown as FAILS: then "catches" means nothing)
  catches        the smallest delta on the ladder it rejects ("none": not even 1e-2)
  locates        what its failure names at that delta: "entry" (the very entry,
                 the harness's located entries), "tensor" (gradcheck's "with respect
                 to input i", the right tensor; it also prints both Jacobians, with
                 no index), "-" (a verdict on a random direction over everything)
  seconds        wall time of one call on the right gradient: median of --repeat
                 runs after one warm-up run; a call over 2 s is run once (the tool
                 warmed up on the smaller networks). The harness is given a fresh
                 case each run (its rounding magnitudes are kept per case)
  fail s         the wall time of the failing call at the smallest delta caught
                 (gradcheck fast recomputes slow mode; the harness bisects)

The ladder. When a tool's call on the right gradient and its call at delta 1e-2
both take under --bisect-above seconds (0.5), every delta of the ladder is asked
(13 calls; the table marks "!" where a tool caught a delta but missed a larger
one). Otherwise the ladder is bisected: binary search for the smallest delta
caught, assuming a tool that catches delta catches every larger one (4-5 calls
instead of 13); the table says "(bisected)". gradcheck's default mode costs two
evaluations of the function per parameter, so above --gradcheck-limit parameters
(40,000) it is not run: its seconds are estimated as that cost (two evaluations,
each timed, times the parameters: a lower bound, its own bookkeeping left out;
beside every network it runs on, the same figure is printed against the measured
seconds). ``--gradcheck-limit 0`` runs
it everywhere (bisected: about 5 calls each). ``--full-ladder`` asks every delta
of every tool.

Deterministic: the networks (``random_mlp``'s seed 0), the perturbed entry
(``--seed``), the harness's blocks (its seed 0), check_grads' directions
(``np.random.RandomState(0)`` inside JAX) and gradcheck's fast-mode vectors (its
own ``torch.Generator()``, default seed). torch runs on --torch-threads threads (1:
these are small tensors on a shared 2-core machine).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backprop_harness.implementations import reference_gradient  # noqa: E402
from oracles.large import directional_only, random_mlp, verify  # noqa: E402

LADDER = tuple(10.0 ** -e for e in range(2, 15))
SIZES = "2-2-2,8-16-4,32-64-10,128-256-10,256-512-10"
TOOLS = ("gradcheck", "gradcheck fast", "check_grads", "harness", "harness 4 dirs")
ONCE_ABOVE = 2.0        # seconds: a call this slow is timed once, not --repeat times


# -- the tools: each is (case, claimed grads) -> (caught, what its failure locates) ------------------

class Torch:
    """gradcheck on a torch.autograd.Function whose backward returns the claimed gradient."""

    def __init__(self, threads):
        import torch
        from torch.autograd.gradcheck import GradcheckError
        torch.set_num_threads(threads)
        self.torch, self.error = torch, GradcheckError

    def function(self, case, claimed):
        """(the loss as a torch.autograd.Function whose backward returns ``claimed``, its inputs)."""
        torch = self.torch
        names = list(case.params())
        X, T = torch.tensor(np.array(case.X)), torch.tensor(np.array(case.T))
        layers = len(case.Ws)
        divisor = case.loss_divisor
        grads = [torch.tensor(np.array(claimed[k], dtype=float)) for k in names]

        class Claimed(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *params):
                p = dict(zip(names, params))
                A = X
                for l in range(layers):
                    A = torch.sigmoid(A @ p[f"W{l + 1}"] + p[f"b{l + 1}"])
                return torch.sum((A - T) ** 2) / divisor

            @staticmethod
            def backward(ctx, v):
                return tuple(v * g for g in grads)

        inputs = tuple(torch.tensor(np.array(case.params()[k])).requires_grad_(True) for k in names)
        return Claimed, inputs

    def check(self, case, claimed, fast):
        names = list(case.params())
        Claimed, inputs = self.function(case, claimed)
        try:
            self.torch.autograd.gradcheck(Claimed.apply, inputs, fast_mode=fast)
        except self.error as e:
            found = re.search(r"with respect to input (\d+)", str(e))
            return True, {"tensor": names[int(found.group(1))]} if found else {}
        return False, {}


    def estimate(self, case, claimed, runs=50):
        """gradcheck's seconds estimated as its central differences' cost: two evaluations of the
        function per parameter, each timed as the median of ``runs``."""
        Claimed, inputs = self.function(case, claimed)
        times = []
        with self.torch.no_grad():
            for _ in range(runs):
                t = time.perf_counter()
                Claimed.apply(*inputs)
                times.append(time.perf_counter() - t)
        return 2 * sum(x.numel() for x in inputs) * statistics.median(times)


class Jax:
    """check_grads on a jax.custom_vjp function whose backward returns the claimed gradient."""

    def __init__(self):
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from jax.test_util import check_grads
        self.jax, self.jnp, self.check_grads = jax, jnp, check_grads
        self.losses = {}

    def _loss(self, layers, divisor):
        """The loss, jit-compiled once per depth and divisor (shapes: once per network)."""
        key = (layers, divisor)
        if key not in self.losses:
            jnp = self.jnp

            def loss(X, T, *params):
                A = X
                for l in range(layers):
                    A = self.jax.nn.sigmoid(A @ params[2 * l] + params[2 * l + 1])
                return jnp.sum((A - T) ** 2) / divisor

            self.losses[key] = self.jax.jit(loss)
        return self.losses[key]

    def check(self, case, claimed):
        jnp = self.jnp
        layers = len(case.Ws)
        names = [k for l in range(layers) for k in (f"W{l + 1}", f"b{l + 1}")]
        X, T = jnp.asarray(case.X), jnp.asarray(case.T)
        loss = self._loss(layers, case.loss_divisor)
        grads = tuple(jnp.asarray(claimed[k], dtype=jnp.float64) for k in names)

        @self.jax.custom_vjp
        def f(*params):
            return loss(X, T, *params)

        f.defvjp(lambda *params: (loss(X, T, *params), None), lambda _, v: tuple(v * g for g in grads))
        params = tuple(jnp.asarray(case.params()[k]) for k in names)
        try:
            self.check_grads(f, params, order=1, modes=("rev",))
        except AssertionError:
            return True, {}
        return False, {}


def harness(case, claimed):
    r = verify(case, claimed)
    entries = {k: [e for e in v if not isinstance(e, str)] for k, v in r.located.items()}
    return not r.ok, {"entries": entries}


def harness_directions(case, claimed):
    return not directional_only(case, claimed).ok, {}


# -- one tool on one network --------------------------------------------------------------------

def pick_entry(right, seed):
    """(tensor, index) of one entry drawn uniformly among all the parameters."""
    names = list(right)
    ends = np.cumsum([right[k].size for k in names])
    flat = int(np.random.default_rng(seed).integers(int(ends[-1])))
    k = int(np.searchsorted(ends, flat, side="right"))
    index = np.unravel_index(flat - (int(ends[k - 1]) if k else 0), right[names[k]].shape)
    return names[k], tuple(int(x) for x in index)


def perturbed(right, where, delta, gmax):
    tensor, index = where
    claim = {k: np.array(v, dtype=float) for k, v in right.items()}
    claim[tensor][index] += delta * gmax
    return claim


def locates(where, found) -> str:
    tensor, index = where
    if "entries" in found:
        if found["entries"] == {tensor: [index]}:
            return "entry"
        if tensor in found["entries"] and index in found["entries"][tensor]:
            return "entry+"                  # the entry among others located
        return "wrong" if found["entries"] else "-"
    if "tensor" in found:
        return "tensor" if found["tensor"] == tensor else "wrong"
    return "-"


def run_tool(call, dims, batch, right, where, gmax, repeat, bisect_above, full_ladder):
    """Time ``call`` on the right gradient, then walk or bisect the ladder."""
    def once(claim):
        case = random_mlp(dims, batch)               # a fresh case: nothing kept from the last call
        t = time.perf_counter()
        caught, found = call(case, claim)
        return caught, found, time.perf_counter() - t

    fails_right, _, first = once(right)              # the warm-up
    times = [first]
    if first < ONCE_ABOVE:
        times = [once(right)[2] for _ in range(repeat)]
    seconds = statistics.median(times)
    outcome = {}                                     # ladder index -> (caught, found, seconds)
    row = {"seconds": seconds, "timed_runs": len(times), "passes_right": not fails_right,
           "calls": 1 + len(times) * (first < ONCE_ABOVE)}

    def at(i):
        if i not in outcome:
            outcome[i] = once(perturbed(right, where, LADDER[i], gmax))
        return outcome[i][0]

    at(0)
    if full_ladder or max(seconds, outcome[0][2]) < bisect_above:
        for i in range(len(LADDER)):
            at(i)
        method = "ladder"
    else:
        method = "bisect"
        if at(0):                                    # the first miss lies in (lo, hi]
            lo, hi = 0, len(LADDER)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if at(mid) else (lo, mid)
    caught = [i for i in sorted(outcome) if outcome[i][0]]
    smallest = max(caught) if caught else None
    monotone = all(outcome[i][0] for i in outcome if smallest is not None and i < smallest)
    row.update({"method": method, "calls": row["calls"] + len(outcome),
           "smallest_caught": LADDER[smallest] if smallest is not None else None, "monotone": monotone,
           "caught": {f"{LADDER[i]:.0e}": bool(outcome[i][0]) for i in sorted(outcome)}})
    if smallest is not None:
        row["locates"] = locates(where, outcome[smallest][1])
        row["fail_seconds"] = outcome[smallest][2]
    return row


# -- the table ----------------------------------------------------------------------------------

def cell_caught(row):
    if row["method"] == "estimated":
        return "not run"
    mark = "" if row["monotone"] else "!"
    return ("none" if row["smallest_caught"] is None else f"{row['smallest_caught']:.0e}") + mark


HEADER = (f"{'network':<13}{'params':>8}  {'tool':<16}{'seconds':>9}{'passes right':>14}{'catches':>9}"
          f"{'locates':>9}{'fail s':>8}{'calls':>7}")


NOTES = {"bisect": "  (bisected)",
         "estimated": "  (not run, over --gradcheck-limit: its evaluations' seconds, a lower bound)"}


def line(r) -> str:
    right = {True: "yes", False: "FAILS", None: "not run"}[r["passes_right"]]
    fail = f"{r['fail_seconds']:.2f}" if "fail_seconds" in r else "-"
    seconds = f"~{r['seconds']:.3g}" if r["method"] == "estimated" else f"{r['seconds']:.3f}"
    return (f"{r['network']:<13}{r['params']:>8}  {r['tool']:<16}{seconds:>9}{right:>14}"
            f"{cell_caught(r):>9}{r.get('locates', '-'):>9}{fail:>8}{r['calls']:>7}"
            + NOTES.get(r["method"], "")
            + (f"  (its evaluations: {r['estimated_seconds']:.3f} s)" if "estimated_seconds" in r else ""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=SIZES, help="comma-separated layer sizes, e.g. 2-2-2,128-256-10")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up; the median is shown")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)}")
    parser.add_argument("--gradcheck-limit", type=int, default=40000,
                        help="largest network (parameters) gradcheck's default mode is run on; 0: no limit")
    parser.add_argument("--bisect-above", type=float, default=0.5,
                        help="seconds per call above which the ladder is bisected instead of walked")
    parser.add_argument("--full-ladder", action="store_true", help="every delta for every tool")
    parser.add_argument("--seed", type=int, default=0, help="draws the perturbed entry")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the rows here as JSON")
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        parser.error(f"unknown tool(s) {unknown}; expected some of {', '.join(TOOLS)}")
    try:
        sizes = [tuple(int(d) for d in s.split("-")) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes takes layer sizes joined by '-', comma-separated (e.g. 2-2-2,8-16-4), "
                     f"got {args.sizes!r}")
    if any(len(s) < 2 or min(s) < 1 for s in sizes):
        parser.error(f"each network needs at least two positive layer sizes, got {args.sizes!r}")

    torch_tool = Torch(args.torch_threads) if any(t.startswith("gradcheck") for t in tools) else None
    jax_tool = Jax() if "check_grads" in tools else None
    calls = {"gradcheck": lambda c, g: torch_tool.check(c, g, fast=False),
             "gradcheck fast": lambda c, g: torch_tool.check(c, g, fast=True),
             "check_grads": lambda c, g: jax_tool.check(c, g),
             "harness": harness, "harness 4 dirs": harness_directions}
    started = time.perf_counter()
    print(f"claimed gradient: the reference's with one entry moved by delta * max|g|, delta in "
          f"1e-2 .. 1e-14; batch {args.batch}; {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print(HEADER, flush=True)
    rows = []
    for dims in sizes:
        case = random_mlp(dims, args.batch)
        right = {k: np.array(v) for k, v in reference_gradient(case).grads.items()}
        gmax = max(float(np.max(np.abs(g))) for g in right.values())
        where = pick_entry(right, args.seed)
        n = sum(v.size for v in right.values())
        network = "-".join(map(str, dims))
        print(f"{network}: {n} parameters, max|g| {gmax:.3g}; the entry moved is {where[0]}{list(where[1])}, "
              f"|g| = {abs(float(right[where[0]][where[1]])) / gmax:.2g} max|g|", flush=True)
        for tool in tools:
            base = {"network": network, "params": n, "tool": tool, "entry": f"{where[0]}{list(where[1])}",
                    "entry_over_max": abs(float(right[where[0]][where[1]])) / gmax, "max_grad": gmax}
            if tool == "gradcheck" and args.gradcheck_limit and n > args.gradcheck_limit:
                row = {**base, "method": "estimated", "passes_right": None, "calls": 0,
                       "seconds": torch_tool.estimate(random_mlp(dims, args.batch), right)}
            else:
                row = {**base, **run_tool(calls[tool], dims, args.batch, right, where, gmax, args.repeat,
                                          args.bisect_above, args.full_ladder)}
                if tool == "gradcheck":
                    row["estimated_seconds"] = torch_tool.estimate(random_mlp(dims, args.batch), right)
            rows.append(row)
            print(line(row), flush=True)
    total = time.perf_counter() - started
    print(f"\n{total:.0f} s in all. The entry moved in each network: "
          + "; ".join(f"{r['network']} {r['entry']}" for r in rows if r["tool"] == tools[0]))
    if args.json:
        meta = {"command": " ".join([Path(sys.executable).name, "benchmarks/peers.py", *(argv or sys.argv[1:])]),
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu_count": os.cpu_count(),
                "load_average": os.getloadavg(), "python": platform.python_version(), "seconds": total,
                "ladder": [f"{d:.0e}" for d in LADDER], "batch": args.batch}
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
