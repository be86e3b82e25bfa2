"""``backprop-harness large``: check YOUR implementation's gradient of a large network.

    python -m backprop_harness.large_check --impl PATH_OR_MODULE [--dims 256,512,10] [--batch 32]
        [--seed 0] [--system mlp|softmax] [--timeout 60] [--budget 8192]

Builds one random network of layer sizes ``--dims`` (``oracles.large.random_mlp``
or ``random_softmax``: weights ~ N(0, 1/fan_in), inputs in [-1, 1]) under the
conventions your module declares (``CONVENTIONS``: layout, loss, activations;
softmax reduction), asks your implementation for its gradient once, through the
plug-in path (its own worker process, the protocol call, the shapes, float64
and finite values checked: ``backprop_harness.plugin``), and checks it with
``oracles.large.verify``: every entry of every tensor is in a block question
answered by the complex step, judged by the exact rule; failing blocks are
bisected to the wrong entries. The loss it returned is held to the exact rule
on the loss's rounding magnitude.

The mlp system is asked through ``mlp_gradients(X, T, Ws, bs)``, or, when only
003's ``NeuralNetwork`` is provided, through it (two layers, no biases: --dims
has three sizes). The softmax system through ``softmax_gradients``.

Exit status: 0 the gradient (and loss) passed; 1 they were checked and are
wrong (the report names the tensors and the entries located); 2 nothing could be
checked: bad arguments, the implementation not found or not importable, the
system not provided, or its call raised, hung, crashed, or returned the wrong
shapes or dtypes (the message says what was expected).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import numpy as np

from backprop_harness.isolation import WorkerLost
from backprop_harness.plugin import PROTOCOL_CALLS, ConformanceFailure, Implementation, NotProvided, NotRun, resolve
from backprop_harness.protocol import SYSTEM_FUNCTIONS
from backprop_harness.systems.mlp import activations as mlp_activations
from oracles import numeric
from oracles.cases import MLPCase
from oracles.large import BUDGET, random_mlp, random_softmax, verify
from oracles.rounding import exact_rule

__all__ = ["main", "add_arguments", "check", "run"]


DESCRIPTION = ("Check your implementation's gradient of a large random network (256-512-10 by default): every "
               "entry in a block question answered by the complex step, wrong entries located, in about a second.")


class UsageError(Exception):
    """Nothing could be checked; the message says what was wrong and what was expected (exit 2)."""


def _dims(text: str) -> tuple:
    try:
        dims = tuple(int(x) for x in text.split(","))
    except ValueError:
        dims = ()
    if len(dims) < 2 or min(dims) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of layer sizes; expected at least two positive integers separated by "
            "commas, inputs first, like 256,512,10")
    return dims


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The subcommand's options (for ``backprop-harness large`` and for ``main``)."""
    parser.add_argument("--impl", required=True,
                        help="your implementation: a .py file, a package directory or an importable module name")
    parser.add_argument("--dims", type=_dims, default=(256, 512, 10),
                        help="layer sizes, inputs first (default 256,512,10; softmax: inputs,hidden,classes)")
    parser.add_argument("--batch", type=_positive, default=32, help="rows of X (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random network and of the check (default 0)")
    parser.add_argument("--system", choices=("mlp", "softmax"), default="mlp",
                        help="which protocol system (default mlp)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds your implementation may take for its one call (default 60)")
    parser.add_argument("--budget", type=_positive, default=BUDGET,
                        help=f"block questions of the check (default {BUDGET}; more: finer resolution, slower)")
    return parser


def _case(impl: Implementation, args):
    """(the case, the protocol function to ask, a description of both)."""
    provided = [fn for fn in SYSTEM_FUNCTIONS[args.system] if impl.provides(fn)]
    if not provided:
        expected = " or ".join(PROTOCOL_CALLS[fn] for fn in SYSTEM_FUNCTIONS[args.system])
        defined = ", ".join(impl.info.get("functions", {})) or "nothing from the protocol"
        near = "; ".join(f"{found} is not {fn}" for fn, found in impl.info.get("near_misses", {}).items())
        raise UsageError(f"{impl.spec.label} does not provide the {args.system} system: expected {expected}; "
                         f"it defines {defined}" + (f" (did you mean the protocol's names? {near})" if near else ""))
    fn = provided[0]
    try:
        conv = impl.conventions()
    except ConformanceFailure as exc:
        raise UsageError(str(exc)) from None
    if fn == "NeuralNetwork" and len(args.dims) != 3:
        raise UsageError(f"--dims {','.join(map(str, args.dims))}: {impl.spec.label} provides only the "
                         "NeuralNetwork class (not mlp_gradients), which has one hidden layer; expected three sizes, "
                         "inputs,hidden,outputs, like 256,512,10")
    if args.system == "softmax":
        if args.dims[2] < 2:
            raise UsageError(f"--dims {','.join(map(str, args.dims))}: the softmax network needs at least 2 classes")
        sm = conv["softmax"]
        if sm["l2"]:
            raise UsageError("backprop-harness large checks softmax networks without an L2 term; "
                             f"CONVENTIONS declares l2 = {sm['l2']}")
        case = random_softmax(args.dims, args.batch, args.seed, reduction=sm["reduction"])
        return (replace(case, hidden=sm["hidden"]), fn,
                f"{sm['hidden']} hidden layer, softmax output, cross-entropy ({sm['reduction']} over the batch)")
    if fn == "NeuralNetwork":
        c = random_mlp(args.dims, args.batch, args.seed)
        return (MLPCase(c.X, c.T, c.Ws, None), fn,
                "NeuralNetwork's network: row layout, sigmoid, no biases, squared error summed")
    m = conv["mlp"]
    acts = mlp_activations(m, len(args.dims) - 1)
    case = random_mlp(args.dims, args.batch, args.seed, activations=acts, loss=m["loss"], layout=m["layout"])
    if m["bias"] == "none":
        case = replace(case, bs=None)
    return (case, fn,
            f"{m['layout']} layout, activations {', '.join(acts)}, loss {m['loss']}")


def run(impl: Implementation, args) -> int:
    """Ask ``impl`` once, check the answer, print the report; the exit status."""
    error = impl.load_error()
    if error:
        raise UsageError(f"cannot load the implementation: {error}")
    case, fn, conventions = _case(impl, args)
    n = sum(np.size(p) for p in case.params().values())
    print(impl.header())
    print(f"case: {args.system} {'-'.join(map(str, args.dims))}, batch {args.batch}, seed {args.seed}; {conventions}; "
          f"{n:,} parameters; asked through {PROTOCOL_CALLS[fn]}")
    t0 = time.perf_counter()
    try:
        answer = impl.answer(case, fn)
    except (NotProvided, NotRun) as exc:
        raise UsageError(f"{impl.spec.label}: {exc}") from None
    except ConformanceFailure as exc:
        raise UsageError(f"the answer could not be checked: {exc}") from None
    except WorkerLost as exc:
        tail = f"\nits last output:\n{exc.output[-2000:]}" if exc.output.strip() else ""
        raise UsageError(f"{fn} did not answer: {exc.message}{tail}") from None
    print(f"{fn} answered in {time.perf_counter() - t0:.2f} s"
          + (f"; note: it modified its inputs {answer.modified}" if answer.modified else ""))

    result = verify(case, answer.gradient.grads, seed=args.seed, budget=args.budget)
    loss_ok = _report_loss(case, answer.gradient.loss)
    print(f"gradient: {result.report()}")
    print(f"  {'tensor':<8}{'entries':>9}{'max |grad|':>12}{'resolution':>12}{'floor':>10}  verdict")
    bad = {q.tensor for q in result.questions if not q.ok}
    for name, p in case.params().items():
        g = float(np.max(np.abs(answer.gradient.grads[name]), initial=0.0))
        verdict = "wrong" if name in bad else "ok"
        print(f"  {name:<8}{np.size(p):>9}{g:>12.3g}{result.resolution[name]:>12.1e}{result.floor[name]:>10.1e}"
              f"  {verdict}")
    print("  (resolution: the smallest single-entry error this check is guaranteed to catch, over max |grad|; "
          "floor: one entry's own exact-rule tolerance)")
    ok = result.ok and loss_ok
    wrong = sorted(bad - {"all"})
    print(f"{'PASS' if ok else 'FAIL'}: " + (f"the gradient of {', '.join(wrong)} is wrong" if wrong else
                                             "the gradient agrees with the complex step" if result.ok else
                                             "the gradient disagrees along a direction over all tensors")
          + ("" if loss_ok else "; the loss is wrong"))
    return 0 if ok else 1


def _report_loss(case, got) -> bool:
    """The implementation's loss against ``oracles.numeric``'s, under the exact rule on the
    loss's rounding magnitude."""
    if got is None:
        print("loss: not returned by this function; not checked")
        return True
    expected = float(np.real(numeric.loss(case, case.params())))
    atol = exact_rule(case).loss_atol
    ok = abs(got - expected) <= atol
    print(f"loss: IMPL {got!r}  NUMPY {expected!r}  abs err {abs(got - expected):.3g}  tol {atol:.3g}: "
          f"{'agrees' if ok else 'WRONG'}")
    return ok


def _usage_problem(args) -> str | None:
    """What is wrong with the arguments that argparse cannot see alone, or None."""
    if args.system == "softmax" and len(args.dims) != 3:
        return (f"--dims {','.join(map(str, args.dims))}: the softmax network has one hidden layer; expected three "
                "sizes, inputs,hidden,classes, like 256,512,10")
    return None


def check(args) -> int:
    """The check for parsed arguments (``add_arguments``'s options); the exit status. What
    ``backprop-harness large`` runs."""
    problem = _usage_problem(args)
    if problem:
        print(f"backprop-harness large: error: {problem}", file=sys.stderr)
        return 2
    spec = resolve(args.impl)
    if spec.error:
        print(f"backprop-harness large: error: {spec.error}", file=sys.stderr)
        return 2
    impl = Implementation(spec, call_timeout=args.timeout)
    try:
        return run(impl, args)
    except UsageError as exc:
        print(f"backprop-harness large: error: {exc}", file=sys.stderr)
        return 2
    finally:
        impl.close()


def main(argv=None) -> int:
    parser = add_arguments(argparse.ArgumentParser(
        prog="backprop-harness large", description=DESCRIPTION,
        epilog="Exit status: 0 pass, 1 the gradient or loss is wrong, 2 nothing could be checked (see the message)."))
    try:
        args = parser.parse_args(argv)
        if _usage_problem(args):
            parser.error(_usage_problem(args))
    except SystemExit as exc:            # argparse has printed the usage and what was wrong
        return int(exc.code or 0)
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
