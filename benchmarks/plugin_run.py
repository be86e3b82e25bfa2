"""Wall time of whole plug-in runs: ``pytest --impl SPEC`` as a user types it.

    .venv/bin/python benchmarks/plugin_run.py [--repeat 3] [--jobs 1 2] [SPEC ...]

For each implementation (default: the reference as a plug-in file, micrograd, the
student template) and each process count (``-n``: 1 runs in one process, 2 under
pytest-xdist), runs the conformance suite with the default profile and prints
the median wall time of ``--repeat`` runs, the exit status and the verdicts.
Also the floor: a Python that only imports numpy, torch and JAX.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ["reference/protocol.py", "micrograd", "templates/student.py"]


def _run(cmd) -> tuple[float, int, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return time.perf_counter() - t, proc.returncode, proc.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("specs", nargs="*", default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    floor = [_run([sys.executable, "-c", "import numpy, torch, jax"])[0] for _ in range(args.repeat)]
    print(f"import floor (numpy, torch, jax): {statistics.median(floor):.1f} s\n")
    print(f"{'implementation':<24}{'-n':>3}{'wall (median)':>15}{'exit':>6}  verdicts")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        for spec in args.specs:
            for jobs in args.jobs:
                cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--impl", spec,
                       "--conformance-json", str(report), "-n", str(jobs if jobs > 1 else 0)]
                times = []
                for _ in range(args.repeat):
                    report.unlink(missing_ok=True)
                    seconds, status, output = _run(cmd)
                    times.append(seconds)
                if not report.exists():
                    print(f"{spec:<24}{jobs:>3}  no report (exit {status}):\n{output[-2000:]}")
                    continue
                verdicts = json.loads(report.read_text())["systems"]
                summary = ", ".join(f"{s} {r['status']}" for s, r in verdicts.items())
                print(f"{spec:<24}{jobs:>3}{statistics.median(times):>14.1f}s{status:>6}  {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
