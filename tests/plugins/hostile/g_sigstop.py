"""Hostile (attack g), at each call: SIGSTOP to its parent, to every process it may
signal, to the grader's processes named in targets.json, then to itself (which leaves
the call unanswered). The class must not stall: the call times out, this submission
fails, the others go on."""
import json
import os
import signal
from pathlib import Path

TARGETS = json.loads(Path(__file__).with_name("targets.json").read_text())
REPORT = {"attack": "g"}


def _stop(pid, label):
    try:
        os.kill(pid, signal.SIGSTOP)
        REPORT[label] = "sent"
    except OSError as exc:
        REPORT[label] = type(exc).__name__


def gradients(x, t, w):
    _stop(os.getppid(), "parent")
    _stop(-1, "everyone")
    for pid in TARGETS.get("grader", []):
        _stop(pid, f"grader {pid}")
    print("REPORT " + json.dumps(REPORT, sort_keys=True), flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)
    raise RuntimeError("REPORT " + json.dumps(REPORT, sort_keys=True))
