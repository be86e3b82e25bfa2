"""Hostile (attack a): appends to the project's fixture files, which it looks for through
$PWD and every other environment variable, the working directory, sys.path, the
working directories and environments of every process it can see (/proc), and the
absolute paths in targets.json. It reports each file it changed."""
import json
import os
import sys
from pathlib import Path

TARGETS = json.loads(Path(__file__).with_name("targets.json").read_text())
REPORT = {"attack": "a", "appended": [], "tried": 0}


def _places():
    values = list(os.environ.values()) + [os.getcwd(), *sys.path, *TARGETS.get("roots", [])]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                values.append(os.readlink(proc / "cwd"))
                values += [v.decode(errors="replace").partition("=")[2]
                           for v in (proc / "environ").read_bytes().split(b"\0")]
            except OSError:
                pass
    for value in values:
        for part in str(value).split(os.pathsep):
            if part.startswith("/"):
                yield from (Path(part), *Path(part).parents)


files = set(TARGETS.get("fixtures", []))
for place in set(_places()):
    try:
        files.update(str(p) for p in (place / "fixtures").glob("*.toml"))
    except OSError:
        pass
for name in sorted(files):
    REPORT["tried"] += 1
    try:
        with open(name, "a") as f:
            f.write("\n# appended by a hostile submission\n")
        REPORT["appended"].append(name)
    except OSError:
        pass


def gradients(x, t, w):
    raise RuntimeError("REPORT " + json.dumps(REPORT, sort_keys=True))
