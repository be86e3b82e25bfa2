#!/usr/bin/env python3
"""Set up everything and run the correctness benchmark: ``python3 bootstrap.py``.

Creates ``.venv`` (if absent) with Python 3.11's venv, installs the project and
its pinned dependencies (constraints.txt: torch 2.13.0 CPU, JAX on the CPU,
numpy, pytest, hypothesis), then runs ``backprop-harness check``, which prints a
verdict per system for the built-in reference implementations.
Re-running it reuses the environment; pip then installs nothing new.
"""
from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def run(*cmd):
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def main() -> int:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"bootstrap.py needs Python 3.11 (torch 2.13.0's CPU wheel is built for it); "
                 f"this is {sys.version.split()[0]}. Run it as python3.11 bootstrap.py")
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    python = BIN / "python"
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "-c", "constraints.txt", "-e", ".[oracles,test]")
    return subprocess.run([BIN / "backprop-harness", "check"], cwd=ROOT).returncode


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        sys.exit(f"bootstrap.py: step failed with exit code {exc.returncode}: {' '.join(map(str, exc.cmd))}")
