"""Where the default test run spends its time: seconds per test module.

    .venv/bin/python benchmarks/suite_parts.py [pytest arguments, e.g. -n 0]

Runs ``python -m pytest`` (the README's command, plus any arguments given) with a
small plugin that adds up, per test module, the time of its tests (setup, call
and teardown, as ``--durations`` counts them) and prints them slowest first, with
the startup (until the first test reports) and the wall time. The default run is
spread over the cores (pytest-xdist), so the modules' seconds add up to about
the number of workers times the wall time; with ``-n 0`` they are spans of the
one process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PLUGIN = textwrap.dedent('''
    import json, os, time
    T0 = time.perf_counter()
    SECONDS = {}
    FIRST = []
    def pytest_runtest_logreport(report):
        FIRST or FIRST.append(time.perf_counter() - T0)
        module = report.nodeid.split("::")[0]
        SECONDS[module] = SECONDS.get(module, 0.0) + report.duration
    def pytest_unconfigure(config):
        if hasattr(config, "workerinput"):       # an xdist worker: the controller has the reports
            return
        with open(os.environ["SUITE_PARTS_OUT"], "w") as f:
            json.dump({"first": FIRST[0] if FIRST else 0.0, "seconds": SECONDS,
                       "workers": getattr(config.option, "numprocesses", None)}, f)
''')


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "suite_parts_plugin.py").write_text(PLUGIN)
        out = Path(tmp) / "parts.json"
        env = {**os.environ, "PYTHONPATH": tmp + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "SUITE_PARTS_OUT": str(out)}
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "suite_parts_plugin", *args], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - t0
        if not out.exists():
            print(proc.stdout[-3000:])
            return proc.returncode or 1
        parts = json.loads(out.read_text())
    summary = next((line for line in reversed(proc.stdout.splitlines()) if " in " in line and "passed" in line),
                   proc.stdout.strip().splitlines()[-1])
    print(summary)
    print(f"{'part':<36}{'seconds':>9}")
    print(f"{'startup (until the first report)':<36}{parts['first']:>9.1f}")
    for module, seconds in sorted(parts["seconds"].items(), key=lambda kv: -kv[1]):
        print(f"{module:<36}{seconds:>9.1f}")
    print(f"{'sum of the modules':<36}{sum(parts['seconds'].values()):>9.1f}  (workers: {parts['workers']})")
    print(f"{'wall time':<36}{wall:>9.1f}")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
