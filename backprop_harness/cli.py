"""Command line: ``backprop-harness test PATH`` checks your implementation (the conformance
suite, from any folder, whatever pytest configuration surrounds it);
``backprop-harness check`` prints a verdict per system for the reference;
``backprop-harness grade DIR --out OUTDIR`` grades a class (``backprop_harness/grade.py``;
``--assignment FILE`` for a course's, docs/grading.md);
``backprop-harness gradescope --assignment FILE --out autograder.zip`` builds a Gradescope
autograder (``backprop_harness/gradescope.py``);
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
          f"{tolerance('exact').rtol:.2g} of the rounding magnitude, central differences "
          f"{tolerance('central').rtol:g} (oracles/tolerance.py)")
    failed = [r for r in reports if not r.ok]
    for r in failed:
        for line in r.failures[:10]:
            print(f"  {r.system}: {line}")
    verdict = "all systems PASS" if not failed else f"{len(failed)} system(s) FAIL"
    print(f"total {time.perf_counter() - t0:.1f}s: {verdict}")
    return 1 if failed else 0


def _test(args, extra: list) -> int:
    """``pytest`` of the conformance checks (shipped in the package) on ``args.impl``, with the
    harness's own configuration pinned: its ini file and rootdir, no conftest above it, no
    PYTEST_ADDOPTS, nothing written in the caller's folder but what it asks for. Paths are
    the caller's (the run stays in the caller's folder)."""
    import os
    import subprocess
    from pathlib import Path

    from backprop_harness import conformance
    here = Path(conformance.__file__).resolve().parent
    target = Path(args.impl)
    impl = str(target.resolve()) if target.exists() or args.impl.endswith(".py") else args.impl
    cmd = [sys.executable, "-m", "pytest", "-c", str(here / "pytest.ini"), "--rootdir", str(here),
           "--confcutdir", str(here), str(here / "test_conformance.py"), "--impl", impl]
    if args.json:
        cmd += ["--conformance-json", str(Path(args.json).resolve())]
    if args.html:
        cmd += ["--report-html", str(Path(args.html).resolve())]
    if args.oracles:
        cmd += ["--oracles", args.oracles]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "BACKPROP_IMPL")}
    # the same file gets the same verdict on every run: derandomized examples ("ci"), unless
    # the caller asks for another profile (HYPOTHESIS_PROFILE, --hypothesis-profile after --)
    env.setdefault("HYPOTHESIS_PROFILE", "ci")
    # Hypothesis's files go to the user's cache folder, not into the caller's: the constants it
    # parses out of the harness's modules at each run's start (kept by content: every later
    # run, from any folder, finds them) and, under the random profiles, its example database
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "backprop-harness" / "hypothesis"
    env.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache))
    return subprocess.call(cmd + extra, env=env)


def _other_commands(sub):
    """The subcommands besides ``test``, whose modules a student's check does not import."""
    from backprop_harness import grade, gradescope, large_check
    check = sub.add_parser("check", help="run the correctness benchmark and print a verdict per system")
    check.add_argument("--cases", type=int, default=100, help="random cases per system (default 100)")
    check.add_argument("--seed", type=int, default=0, help="seed of the random cases (default 0)")
    grade.add_arguments(sub.add_parser("grade", help="grade every submission in a folder: a gradebook, "
                                                      "Gradescope results and an HTML report each, a class page"))
    gradescope.add_arguments(sub.add_parser("gradescope", help="build a Gradescope autograder (a zip) that grades "
                                                               "each submission under an assignment"))
    large_check.add_arguments(sub.add_parser("large", help="check your implementation's gradient of a large "
                                                           "network (256-512-10 by default) in about a second",
                                             description=large_check.DESCRIPTION))
    return {"grade": grade.main, "gradescope": gradescope.main, "large": large_check.check}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="backprop-harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    test = sub.add_parser("test", help="check your implementation: a verdict per system (exit 0 when every system "
                                       "it provides passes)",
                          description="Check your implementation against the posts' worked examples and the "
                                      "oracles (the complex step and finite differences; --oracles all adds "
                                      "PyTorch and JAX). Options after -- go to pytest (e.g. -- -n 0 "
                                      "--hypothesis-seed 3).")
    test.add_argument("impl", metavar="PATH_OR_MODULE", help="your .py file, package or module name")
    test.add_argument("--json", metavar="PATH", help="write the report as JSON (docs/conformance-schema.md)")
    test.add_argument("--html", metavar="PATH", help="write the report as a self-contained HTML page")
    test.add_argument("--oracles", metavar="NAMES", help="comma-separated oracles, or 'all' (every one installed); "
                                                         "default complex_step,richardson,central")
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {} if argv[:1] == ["test"] else _other_commands(sub)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if args.command == "test":
        return _test(args, extra)
    if args.command in commands:
        return commands[args.command](args)
    if args.cases < 0:
        parser.error("--cases must be >= 0")
    return _check(args)


if __name__ == "__main__":
    sys.exit(main())
