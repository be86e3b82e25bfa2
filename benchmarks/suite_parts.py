"""Where the default test run spends its time: wall time per test module.

    .venv/bin/python benchmarks/suite_parts.py [pytest arguments]

Runs ``python -m pytest`` (the README's command, plus any arguments given) with a
small plugin that notes when each module's last test finishes, and prints the
startup (until the first test), each module's span, and the total wall time.
"""
from __future__ import annotations

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
    ENDS = {}
    FIRST = []
    def pytest_runtest_logstart(nodeid, location):
        FIRST or FIRST.append(time.perf_counter() - T0)
    def pytest_runtest_logfinish(nodeid, location):
        ENDS[nodeid.split("::")[0]] = time.perf_counter() - T0
    def pytest_unconfigure(config):
        with open(os.environ["SUITE_PARTS_OUT"], "w") as f:
            json.dump({"first": FIRST[0] if FIRST else 0.0, "ends": ENDS, "end": time.perf_counter() - T0}, f)
''')


def main(argv=None) -> int:
    import json
    import os
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
        parts = json.loads(out.read_text())
    print(proc.stdout.strip().splitlines()[-1])
    print(f"{'part':<36}{'seconds':>9}")
    print(f"{'startup (interpreter, collection)':<36}{parts['first']:>9.1f}")
    previous = parts["first"]
    for module, end in sorted(parts["ends"].items(), key=lambda kv: kv[1]):
        print(f"{module:<36}{end - previous:>9.1f}")
        previous = end
    print(f"{'wall time':<36}{wall:>9.1f}")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
