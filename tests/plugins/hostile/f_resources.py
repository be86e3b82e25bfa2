"""Hostile (attack f), at its first call: allocates 5 GiB and touches it, starts up to 500
detached `sleep 600`, writes a 200 MB file. Its feedback reports how far each got."""
import json
import os
import signal
import subprocess
from pathlib import Path

REPORT = {"attack": "f"}


def _attack():
    try:
        block = bytearray(5 << 30)
        block[::4096] = b"x" * len(block[::4096])
        REPORT["allocated"] = len(block)
    except MemoryError:
        REPORT["allocated"] = "MemoryError"
    started = 0
    for _ in range(500):
        try:
            subprocess.Popen(["sleep", "600"], start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started += 1
        except OSError as exc:
            REPORT["spawn error"] = type(exc).__name__ + ": " + str(exc)
            break
    REPORT["sleeps started"] = started
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)        # so the write fails instead of killing it
    written = 0
    try:
        with open(Path(os.environ.get("TMPDIR", "/tmp")) / "huge", "wb") as f:
            chunk = b"\0" * (1 << 20)
            while written < (200 << 20):
                f.write(chunk)
                f.flush()
                written += len(chunk)
    except OSError as exc:
        REPORT["write error"] = type(exc).__name__ + ": " + str(exc)
    REPORT["bytes written"] = written


def gradients(x, t, w):
    if "bytes written" not in REPORT:
        _attack()
    raise RuntimeError("REPORT " + json.dumps(REPORT, sort_keys=True))
