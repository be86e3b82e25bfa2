"""Installed like a library: the project's wheel in a fresh virtual environment, numpy only
(no torch, no JAX), checks a file outside any project, under that folder's own pytest
configuration, with the right verdict and the oracles it has named in its header."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_in_a_numpy_only_environment_checks_a_file_anywhere(tmp_path):
    # built from a copy of the tracked files: nothing of an earlier build, nothing written here
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(source)], check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("backprop_harness-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-c",
                              str(ROOT / "constraints.txt"), str(wheel)], capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    assert subprocess.run([python, "-c", "import torch"], capture_output=True).returncode != 0
    assert subprocess.run([python, "-c", "import jax"], capture_output=True).returncode != 0

    student = tmp_path / "student"
    student.mkdir()
    # the student's own project configuration, which must not reach the harness's run
    (student / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "--cov=mine"\n')
    (student / "right.py").write_text((ROOT / "zoo" / "correct" / "mlp_einsum.py").read_text())
    (student / "wrong.py").write_text((ROOT / "zoo" / "buggy" / "mlp_weight_not_transposed.py").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "BACKPROP", "HYPOTHESIS"))}
    command = env_dir / "bin" / "backprop-harness"
    for name, status, verdict in (("right.py", 0, "PASS"), ("wrong.py", 1, "FAIL")):
        run = subprocess.run([command, "test", name, "--", "-n", "0"], cwd=student, env=env, capture_output=True,
                             text=True, timeout=600)
        assert run.returncode == status, run.stdout[-3000:] + run.stderr[-2000:]
        assert "oracles complex_step, richardson, central" in run.stdout
        row = next(line for line in run.stdout.splitlines() if line.startswith("mlp "))
        assert row.split()[1] == verdict, row
