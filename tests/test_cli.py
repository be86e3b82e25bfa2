"""``backprop-harness test PATH``: the conformance suite from any folder, whatever pytest
configuration surrounds it (a student repository's own ``addopts`` included)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_test_command_runs_from_a_folder_with_its_own_pytest_configuration(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "--cov=mine --strict-config"\n')
    (tmp_path / "mine.py").write_text((ROOT / "tests" / "plugins" / "conventional.py").read_text())
    env = {k: v for k, v in os.environ.items() if k not in ("BACKPROP_IMPL", "PYTEST_XDIST_WORKER")}
    env["PYTEST_ADDOPTS"] = "--no-such-option"
    env["HYPOTHESIS_PROFILE"] = "smoke"          # the configuration is the question, not the implementation
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)
    cli = [sys.executable, "-c", "import sys; from backprop_harness.cli import main; sys.exit(main())"]
    proc = subprocess.run(cli + ["test", "mine.py", "--json", "out.json", "--", "-q", "-n", "0",
                                 "--oracles", "complex_step"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["systems"]["mlp"]["status"] == "pass" and doc["systems"]["softmax"]["status"] == "pass"
    assert not (tmp_path / ".pytest_cache").exists() and not (tmp_path / ".hypothesis").exists()
    assert (tmp_path / "cache" / "backprop-harness" / "hypothesis").is_dir()      # the user's cache instead


def test_pytest_without_impl_says_it_checked_the_built_in_reference():
    """Inside the harness, ``pytest`` alone checks the built-in reference: its verdict says so,
    so that nobody reads its PASS as their own file's."""
    env = {k: v for k, v in os.environ.items() if k not in ("BACKPROP_IMPL", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0",
                           "backprop_harness/conformance/test_conformance.py", "-k", "worked_example and grad_v21"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    verdict = proc.stdout.split("verdict per system")[1]
    assert "built-in reference" in verdict and "this run checked the built-in reference, not your code" in verdict
