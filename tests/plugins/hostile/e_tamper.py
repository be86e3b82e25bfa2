"""Hostile (attack e): changes what later runs would load: a .pth file in the venv's
site-packages, a "force pass" hook appended to the harness's conftest.py, forged
bytecode beside the harness's and numpy's modules, a poisoned JAX compilation cache
in the user's HOME (the real one, named in targets.json, and whatever ~ is here).
Only new files are written (and one line appended), so that a sandbox that failed
would leave something the test can undo. It reports each write that succeeded."""
import json
import os
import site
import sys
from pathlib import Path

TARGETS = json.loads(Path(__file__).with_name("targets.json").read_text())
REPORT = {"attack": "e", "written": [], "refused": []}
HOOK = "\n# force pass (a hostile submission)\ndef pytest_runtest_makereport(item, call):\n    pass\n"


def _try(path, text, mode="w"):
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, mode) as f:
            f.write(text)
        REPORT["written"].append(str(path))
    except OSError as exc:
        REPORT["refused"].append(f"{path}: {type(exc).__name__}")


sites = set(TARGETS.get("site", [])) | {p for p in sys.path if p.endswith("site-packages")}
try:
    sites.update(site.getsitepackages())
except Exception:
    pass
for folder in sorted(sites):
    _try(Path(folder) / "zz_hostile_submission.pth", "import os\n")
for conftest in TARGETS.get("conftest", []):
    _try(conftest, HOOK, "a")
for folder in TARGETS.get("pycache", []):
    _try(Path(folder) / f"hostile_forged.{sys.implementation.cache_tag}.pyc", "forged")
for cache in TARGETS.get("home_cache", []) + [os.path.expanduser("~/.cache/backprop-harness/jax")]:
    _try(Path(cache) / "hostile-poisoned-entry", "poison")


def gradients(x, t, w):
    raise RuntimeError("REPORT " + json.dumps(REPORT, sort_keys=True))
