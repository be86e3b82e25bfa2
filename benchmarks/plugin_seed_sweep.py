"""The same implementations under many Hypothesis seeds: is each verdict the same under every seed?

    .venv/bin/python benchmarks/plugin_seed_sweep.py zoo/correct/*.py --seeds 1 2 3 4 5

Each run is ``pytest backprop_harness/conformance/test_conformance.py --impl PATH --hypothesis-seed S -n 0`` (the
dev profile: fresh examples each seed) with ``--conformance-json``; the table gives, per
implementation, the verdict of each system under each seed, and the line ends in STABLE or
UNSTABLE. A seed under which a correct implementation fails is a bug of the harness (its
policy or a strategy), to be understood, never retried. Exit status 1 when any verdict
differs between seeds.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(impl: str, seed: int, out: Path) -> dict:
    report = out / f"{Path(impl).stem}_{seed}.json"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
                           "backprop_harness/conformance/test_conformance.py", "--impl", impl,
                           f"--hypothesis-seed={seed}",
                           "--conformance-json", str(report)], cwd=ROOT, capture_output=True, text=True)
    (out / f"{Path(impl).stem}_{seed}.log").write_text(proc.stdout + proc.stderr)
    if not report.exists():
        return {"error": f"no report (exit {proc.returncode})"}
    doc = json.loads(report.read_text())
    return {s: v["status"] for s, v in doc["systems"].items() if v["status"] != "not provided"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("impls", nargs="+", help="implementations (paths or module names)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, default=None, help="folder for the reports and logs (default: a temp dir)")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="plugin-seed-sweep-"))
    out.mkdir(parents=True, exist_ok=True)
    start, unstable = time.perf_counter(), 0
    print(f"{'implementation':<40} " + " ".join(f"seed {s:<4}" for s in args.seeds))
    for impl in args.impls:
        verdicts = [run(str(Path(impl).resolve()) if Path(impl).exists() else impl, s, out) for s in args.seeds]
        stable = all(v == verdicts[0] for v in verdicts)
        unstable += not stable
        cells = [",".join(f"{k}:{v}" for k, v in sorted(v.items())) for v in verdicts]
        print(f"{Path(impl).stem:<40} {cells[0] if stable else ' | '.join(cells)}  "
              f"{'STABLE' if stable else 'UNSTABLE'}", flush=True)
    print(f"{len(args.impls) - unstable}/{len(args.impls)} implementations with one verdict under "
          f"{len(args.seeds)} seeds, in {time.perf_counter() - start:.0f} s; reports in {out}")
    return 1 if unstable else 0


if __name__ == "__main__":
    sys.exit(main())
