"""Command line: ``backprop-harness check`` prints a verdict per system for the reference;
``backprop-harness grade DIR --out OUTDIR`` grades a class (``backprop_harness/grade.py``);
``backprop-harness large --impl PATH`` checks an implementation's gradient of a large network
(``backprop_harness/large_check.py``)."""
from __future__ import annotations

import argparse
import sys
import time

__all__ = ["main"]


def _check(args) -> int:
    from backprop_harness.correctness import run
    from oracles.tolerance import tolerance

    t0 = time.perf_counter()
    reports = run(cases=args.cases, seed=args.seed)
    print(f"backprop-harness correctness benchmark: built-in reference, {args.cases} random cases "
          f"per system (seed {args.seed})\n")
    print(f"{'system':<14}{'verdict':<9}{'fixtures':>14}{'errata':>8}{'cases':>7}"
          f"{'worst vs exact':>17}{'worst vs central':>18}{'time':>8}")
    for r in reports:
        route = r.worst.get("exact")
        central = r.worst.get("central")
        print(f"{r.system:<14}{'PASS' if r.ok else 'FAIL':<9}{f'{r.records_ok}/{r.records}':>14}{r.errata:>8}"
              f"{r.cases:>7}{'-' if route is None else f'{route:.1e}':>17}"
              f"{'-' if central is None else f'{central:.1e}':>18}{r.seconds:>7.2f}s")
    print(f"\nerrors are relative to the scale of the whole gradient; tolerances: routes "
          f"{tolerance('exact').rtol:.2g} of the rounding magnitude, central differences {tolerance('central').rtol:g} (oracles/tolerance.py)")
    failed = [r for r in reports if not r.ok]
    for r in failed:
        for line in r.failures[:10]:
            print(f"  {r.system}: {line}")
    print(f"total {time.perf_counter() - t0:.1f}s: {'all systems PASS' if not failed else f'{len(failed)} system(s) FAIL'}")
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="backprop-harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="run the correctness benchmark and print a verdict per system")
    check.add_argument("--cases", type=int, default=100, help="random cases per system (default 100)")
    check.add_argument("--seed", type=int, default=0, help="seed of the random cases (default 0)")
    from backprop_harness import grade, large_check
    grade.add_arguments(sub.add_parser("grade", help="grade every submission in a folder: a gradebook, "
                                                      "Gradescope results and an HTML report each"))
    large_check.add_arguments(sub.add_parser("large", help="check your implementation's gradient of a large "
                                                           "network (256-512-10 by default) in about a second",
                                             description=large_check.DESCRIPTION))
    args = parser.parse_args(argv)
    if args.command == "grade":
        return grade.main(args)
    if args.command == "large":
        return large_check.check(args)
    if args.cases < 0:
        parser.error("--cases must be >= 0")
    return _check(args)


if __name__ == "__main__":
    sys.exit(main())
