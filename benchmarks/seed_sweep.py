"""Run the whole suite under many Hypothesis seeds: the "no false alarm" figure.

    .venv/bin/python benchmarks/seed_sweep.py --first 1000 --count 200 --jobs 2

Each run is ``python -m pytest -q -p no:cacheprovider -n 0 --hypothesis-profile dev
--hypothesis-seed N`` (50 fresh examples per property test); runs go ``--jobs``
at a time. Every failing seed is listed with its first failing test, and the
log of every run is kept under ``--logs``. Exit status 1 when any seed fails.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(seed: int, logs: Path) -> tuple[int, int, float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
                           "--hypothesis-profile", "dev", f"--hypothesis-seed={seed}"],
                          cwd=ROOT, capture_output=True, text=True, env=None)
    (logs / f"seed_{seed}.log").write_text(proc.stdout + proc.stderr)
    summary = next((line for line in reversed(proc.stdout.splitlines()) if " in " in line and "passed" in line
                    or "failed" in line), "")
    first_failure = next((line for line in proc.stdout.splitlines() if line.startswith("FAILED")), "")
    return seed, proc.returncode, time.perf_counter() - start, first_failure or summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=1000)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--logs", type=Path, default=Path("/tmp/seed_sweep"))
    args = parser.parse_args(argv)
    args.logs.mkdir(parents=True, exist_ok=True)
    failed, done, start = [], 0, time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:
        for seed, code, seconds, line in pool.map(lambda s: run(s, args.logs),
                                                  range(args.first, args.first + args.count)):
            done += 1
            if code != 0:
                failed.append((seed, line))
            print(f"seed {seed}: {'ok' if code == 0 else 'FAIL'} ({seconds:.0f} s) {line}", flush=True)
    print(f"\n{done - len(failed)} / {done} seeds passed in {time.perf_counter() - start:.0f} s")
    for seed, line in failed:
        print(f"  seed {seed}: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
