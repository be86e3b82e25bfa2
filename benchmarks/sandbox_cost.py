"""What the sandbox costs: a worker's start, and a submission graded, with and without it.

    .venv/bin/python benchmarks/sandbox_cost.py [--starts 20] [--repeat 2] [--profile ci] [--json out.json]

Worker starts: a plug-in worker (``backprop_harness.worker``) loading a correct zoo
entry, asked one question, closed; ``--starts`` times in a strict sandbox and
unsandboxed, alternating, median and 90th percentile. Grading: a class of four zoo
entries (two correct, two buggy, every system) graded with ``grade.grade`` one at a
time (jobs 1), ``--repeat`` times each way, alternating; the seconds per submission
(the record's own figure: the harness's whole pytest run) and the class's wall time,
which in strict mode includes the pre-class self-check (timed on its own too).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backprop_harness import grade, sandbox  # noqa: E402
from backprop_harness.isolation import Worker  # noqa: E402

CLASS = ["zoo/correct/mlp_einsum.py", "zoo/correct/value_kahn.py", "zoo/buggy/manual_222_sign_flipped.py",
         "zoo/buggy/softmax_wrong_axis.py"]
QUESTION = {"fn": "gradients", "args": [[1.0, 2.0], [0.0, 1.0], [0.1] * 8]}


def _start_once(mode: str, folder: Path) -> float:
    path = folder / "manual_222_numpy.py"       # a copy: a strict sandbox shows no folder of the harness
    if not path.exists():
        path.write_text((ROOT / "zoo/correct/manual_222_numpy.py").read_text())
    init = {"kind": "file", "target": str(path), "sys_path": [str(folder)]}
    started = time.perf_counter()
    with Worker("backprop_harness.worker:factory", init, sandbox=mode) as w:
        w.call(QUESTION)
        assert (w.sandbox is not None) == (mode == "strict")
    return time.perf_counter() - started


def _grade_once(mode: str, profile: str, allow: bool) -> tuple[float, list]:
    with tempfile.TemporaryDirectory(prefix="sandbox-cost-") as tmp:
        klass = Path(tmp) / "class"
        klass.mkdir()
        for rel in CLASS:
            (klass / Path(rel).name).write_text((ROOT / rel).read_text())
        started = time.perf_counter()
        records = grade.grade(klass, Path(tmp) / "graded", grade.Settings(profile=profile, sandbox=mode, html=False,
                                                                          allow_modified_harness=allow),
                              jobs=1, progress_stream=io.StringIO())
        return time.perf_counter() - started, [r["seconds"] for r in records]


def _summary(xs: list) -> str:
    xs = sorted(xs)
    return f"median {statistics.median(xs):.3f} s, 90th percentile {xs[int(0.9 * (len(xs) - 1))]:.3f} s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    state = sandbox.status()
    if not state.available:
        print(f"no sandbox here: {state.reason}", file=sys.stderr)
        return 2
    print(f"{sandbox.describe('strict')}; {os.cpu_count()} cores\n")
    starts = {"strict": [], "off": []}
    with tempfile.TemporaryDirectory(prefix="sandbox-cost-") as folder:
        for _ in range(args.starts):
            for mode in starts:
                starts[mode].append(_start_once(mode, Path(folder)))
    for mode, xs in starts.items():
        print(f"worker start + one call + close, {mode:>6}: {_summary(xs)}")
    t = time.perf_counter()
    changed = grade.check_harness()
    check = time.perf_counter() - t
    differs = f" (the harness differs from its commit: {len(changed)} files)" if changed else ""
    print(f"\npre-class self-check (strict only): {check:.1f} s{differs}")
    walls, per = {"strict": [], "off": []}, {"strict": [], "off": []}
    for _ in range(args.repeat):
        for mode in walls:
            wall, seconds = _grade_once(mode, args.profile, bool(changed))
            walls[mode].append(wall)
            per[mode] += seconds
    print(f"\na class of {len(CLASS)} graded one at a time, profile {args.profile}, {args.repeat} times each way:")
    for mode in walls:
        print(f"  {mode:>6}: per submission {_summary(per[mode])}; class wall {statistics.median(walls[mode]):.1f} s")
    extra = statistics.median(per["strict"]) - statistics.median(per["off"])
    print(f"  the sandbox's cost per submission: {extra:+.2f} s (median against median)")
    if args.json:
        args.json.write_text(json.dumps({"starts": starts, "self_check_s": check, "class_wall_s": walls,
                                         "per_submission_s": per, "profile": args.profile,
                                         "cpu_count": os.cpu_count(), "sandbox": sandbox.describe("strict")},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
