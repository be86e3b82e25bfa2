"""The bug zoo graded as a class: the wall time of ``backprop-harness grade``.

    .venv/bin/python benchmarks/grade_class.py [--jobs 2] [--profile ci] [--oracles complex_step] [--json out.json]

Puts every zoo entry (zoo/buggy and zoo/correct) in one class folder, grades it into a
fresh output folder (nothing reused), and prints the wall time, the time per
submission (median, 90th percentile, slowest) and whether every row has the
verdict its ``ZOO`` declaration expects (buggy: its system fails with its
diagnosis code; correct: its systems pass).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backprop_harness import grade  # noqa: E402
from zoo.judge import ENTRIES, outcome  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--oracles", default="complex_step")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="grade-class-") as tmp:
        klass, out = Path(tmp) / "class", Path(tmp) / "graded"
        klass.mkdir()
        for path in ENTRIES:
            (klass / path.name).symlink_to(path)
        start = time.perf_counter()
        records = grade.grade(klass, out, grade.Settings(profile=args.profile, oracles=args.oracles),
                              jobs=args.jobs, progress_stream=sys.stderr)
        wall = time.perf_counter() - start
        wrong = []
        for path in ENTRIES:
            report = out / path.stem / "conformance.json"
            log = out / path.stem / "pytest.log"
            run = {"report": json.loads(report.read_text()) if report.exists() else None,
                   "output": log.read_text() if log.exists() else ""}
            result = outcome(path, run)
            if not result["ok"]:
                wrong.append(f"{path.stem}: {result['problem']}")
    seconds = sorted(r["seconds"] for r in records)
    figures = {"submissions": len(records), "jobs": args.jobs, "profile": args.profile, "oracles": args.oracles,
               "wall_s": round(wall, 1), "median_s": statistics.median(seconds),
               "p90_s": seconds[int(0.9 * (len(seconds) - 1))], "max_s": seconds[-1],
               "slowest": max(records, key=lambda r: r["seconds"])["name"],
               "statuses": {s: sum(r["status"] == s for r in records) for s in sorted({r["status"] for r in records})},
               "rows_as_expected": len(records) - len(wrong), "cpu_count": os.cpu_count()}
    print(f"\nthe bug zoo as a class: {figures['submissions']} submissions, {args.jobs} at a time, "
          f"profile {args.profile}, oracles {args.oracles}")
    print(f"wall {figures['wall_s']:.0f} s; per submission median {figures['median_s']:.1f} s, "
          f"90th percentile {figures['p90_s']:.1f} s, slowest {figures['max_s']:.1f} s ({figures['slowest']})")
    print(f"rows with the expected verdict: {figures['rows_as_expected']}/{figures['submissions']}; "
          f"statuses {figures['statuses']}")
    for line in wrong:
        print(f"  UNEXPECTED {line}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
