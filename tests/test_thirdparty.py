"""Code nobody here wrote, plugged in as a user would: thin plug-ins (imports, the library's
objects, its calls, a ``CONVENTIONS`` declaration; no numeric glue) around libraries from
PyPI (``tests/plugins/thirdparty/``), each graded end to end by ``pytest --impl``.

The verdicts are the libraries' own: autograd and numpy-ml's layers are exact under their
conventions; numpy-ml's ``CrossEntropy`` computes ``-sum y log(p + eps)``, which caps the
loss at -log(eps) = 36.04 where a target class's probability underflows (logits 1000
apart), so its network fails "extreme inputs" and nothing else.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "tests" / "plugins" / "thirdparty"

EXPECTED = {
    "autograd_mlp": ("mlp", "pass", None),
    "autograd_softmax": ("softmax", "pass", None),
    "numpy_ml_mlp": ("mlp", "pass", None),
    "numpy_ml_softmax": ("softmax", "fail", "extreme inputs"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_thin_plugin_of_a_pypi_library_gets_its_verdict(tmp_path, name):
    system, verdict, failing = EXPECTED[name]
    report = tmp_path / "report.json"
    env = {**os.environ, "CI": "true"}                       # derandomized: the same examples every run
    env.pop("BACKPROP_IMPL", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "0",
                           "--impl", str(PLUGINS / f"{name}.py"), "--conformance-json", str(report)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    doc = json.loads(report.read_text())
    got = doc["systems"][system]
    assert got["status"] == verdict, proc.stdout[-3000:]
    assert proc.returncode == (0 if verdict == "pass" else 1), proc.stdout[-3000:]
    others = {s: v["status"] for s, v in doc["systems"].items() if s != system}
    assert set(others.values()) == {"not provided"}, others
    if failing:
        failed_checks = {c for c, counts in got["checks"].items() if counts.get("failed")}
        assert failed_checks == {failing}, (failed_checks, proc.stdout[-3000:])
