"""Hostile (attack d): passes without computing anything if it can reach the harness's
own answers: ``from reference.protocol import *``, the oracles' entry point, the
fixtures' worked examples. Where it cannot, its gradients raises and reports why."""
import json
from pathlib import Path

TARGETS = json.loads(Path(__file__).with_name("targets.json").read_text())
REPORT = {"attack": "d"}

try:
    from reference.protocol import *  # noqa: F401,F403  (forward, gradients, Value, mlp_gradients, ...)
    REPORT["reference"] = "imported"
except Exception as exc:
    REPORT["reference"] = f"{type(exc).__name__}: {exc}"
try:
    from oracles import gradient as _oracle  # noqa: F401
    REPORT["oracles"] = "imported"
except Exception as exc:
    REPORT["oracles"] = f"{type(exc).__name__}: {exc}"
try:
    import oracles.numeric  # noqa: F401
    REPORT["oracles.numeric"] = "imported"
except Exception as exc:
    REPORT["oracles.numeric"] = f"{type(exc).__name__}: {exc}"
try:
    import fixtures  # noqa: F401
    REPORT["fixtures"] = "imported"
except Exception as exc:
    REPORT["fixtures"] = f"{type(exc).__name__}: {exc}"
for name in TARGETS.get("fixtures", []):
    try:
        Path(name).read_text()
        REPORT.setdefault("fixture files read", []).append(name)
    except OSError:
        pass

if REPORT["reference"] != "imported":
    def gradients(x, t, w):
        raise RuntimeError("REPORT " + json.dumps(REPORT, sort_keys=True))
