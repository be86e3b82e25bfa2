"""Gradescope: ``backprop-harness gradescope --assignment FILE --out autograder.zip``.

The bundle follows Gradescope's autograder specification: at the root of the zip,
``setup.sh`` (run once, as root, when Gradescope builds the autograder's image on its
Ubuntu base) and ``run_autograder`` (run for each submission in a fresh container,
in ``/autograder``, the student's files in ``/autograder/submission``; it writes
``/autograder/results/results.json``). Beside them, ``assignment.toml`` and
``harness/``: the harness's own source tree (``grade.HARNESS_PARTS`` and
``constraints.txt``), which setup.sh installs in place with its pinned dependencies
and which grades the submission exactly as ``grade`` grades a class of one.

``run_autograder`` takes its root from ``BACKPROP_AUTOGRADER_ROOT`` (default
``/autograder``) and its Python from ``BACKPROP_AUTOGRADER_PYTHON`` (default the
venv setup.sh made), so that a folder laid out like Gradescope's can be graded
anywhere with a Python that already has the harness's dependencies.

The sandbox there: Gradescope gives each submission a container of its own,
discarded afterwards, so what the sandbox protects on a shared machine (the other
submissions, the class's records, the grader's files) the container already
protects. What it would still hide is the harness itself (a submission could
import the reference to answer from it); setup.sh installs bubblewrap, and the
run uses the strict sandbox where a trial sandbox works in the container, and
grades without it otherwise (a container without the right to make namespaces),
saying which in the instructor's output. The self-check is not run: the container
is fresh from the image, and the bundle is no git checkout to check against.
"""
from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

from backprop_harness import assignment as assignments, grade

__all__ = ["build", "run", "setup_script", "RUN_AUTOGRADER", "TORCH_INDEX", "ROOT_VARIABLE", "PYTHON_VARIABLE",
           "SANDBOX_VARIABLE", "main", "add_arguments"]

ROOT_VARIABLE = "BACKPROP_AUTOGRADER_ROOT"
PYTHON_VARIABLE = "BACKPROP_AUTOGRADER_PYTHON"
SANDBOX_VARIABLE = "BACKPROP_AUTOGRADER_SANDBOX"       # auto (default), strict or off
# torch from PyTorch's CPU index only: the same version from PyPI is the CUDA build (gigabytes)
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
FRESH = "a fresh container per submission, from a bundle that is no git checkout"

RUN_AUTOGRADER = f"""#!/usr/bin/env bash
# Gradescope runs this for each submission, in /autograder, the student's files in
# /autograder/submission; it writes /autograder/results/results.json (docs/grading.md).
set -euo pipefail
ROOT="${{{ROOT_VARIABLE}:-/autograder}}"
PYTHON="${{{PYTHON_VARIABLE}:-$ROOT/venv/bin/python}}"
HARNESS="$ROOT/source/harness"
cd "$HARNESS"
# the bundle's harness, whatever else the Python has installed
export PYTHONPATH="$HARNESS"
exec "$PYTHON" -m backprop_harness.gradescope run --root "$ROOT"
"""


def _torch_pin() -> str:
    """torch's version in constraints.txt (the one pin setup.sh installs from the CPU index)."""
    for line in (grade.ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.split("#")[0].strip().partition("==")
        if name.strip().lower() == "torch" and version.strip():
            return version.strip()
    raise ValueError(f"{grade.ROOT / 'constraints.txt'} pins no torch version (torch==X.Y.Z)")


def setup_script() -> str:
    """setup.sh: Python 3.11 (the harness's), bubblewrap, a venv at /autograder/venv with
    torch's CPU build at its pinned version and the harness with its pinned dependencies."""
    return f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
set -euxo pipefail
SOURCE=/autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get update
# Python 3.11, the harness's (requires-python in pyproject.toml): Ubuntu 22.04's own, else deadsnakes' PPA
if ! apt-get install -y --no-install-recommends python3.11 python3.11-venv; then
    apt-get install -y --no-install-recommends software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
fi
# the sandbox, used where the container lets it make namespaces (run_autograder says which)
apt-get install -y --no-install-recommends bubblewrap util-linux || true
python3.11 -m venv /autograder/venv
PIP="/autograder/venv/bin/python -m pip"
$PIP install --upgrade pip
# torch: its CPU build only, from PyTorch's CPU index, at the version constraints.txt pins;
# its dependencies come with the harness's below, pinned by constraints.txt
$PIP install --no-deps --index-url {TORCH_INDEX} torch=={_torch_pin()}
# the harness, in place (the bundle's copy is the one that runs), with its pinned dependencies
$PIP install -c "$SOURCE/harness/constraints.txt" -e "$SOURCE/harness"
$PIP check
/autograder/venv/bin/python -c "import backprop_harness.grade, numpy, pytest, hypothesis, torch; \
print('backprop-harness installed; torch', torch.__version__)"
"""


def _add(archive: zipfile.ZipFile, name: str, text: str, executable: bool = False):
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    archive.writestr(info, text)


def _harness_files() -> list:
    """(path in the bundle, file) of the harness's source tree: what grade copies per run, and
    the pins setup.sh installs."""
    files = []
    for part in (*grade.HARNESS_PARTS, "constraints.txt"):
        src = grade.ROOT / part
        if src.is_file():
            files.append((f"harness/{part}", src))
        elif src.is_dir():
            files += [(f"harness/{p.relative_to(grade.ROOT).as_posix()}", p)
                      for p in sorted(src.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
                      and p.suffix != ".pyc"]
    return files


def build(assignment_file, out) -> Path:
    """Write the autograder bundle for ``assignment_file`` (checked first) to ``out``."""
    assignments.load(assignment_file)
    missing = [part for part in (*grade.HARNESS_PARTS, "constraints.txt") if not (grade.ROOT / part).exists()]
    if missing:
        raise FileNotFoundError(f"the harness's source tree is not here ({grade.ROOT} has no {', '.join(missing)}): "
                                f"build the bundle from a clone of the harness")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        with zipfile.ZipFile(part, "w") as archive:
            _add(archive, "setup.sh", setup_script(), executable=True)
            _add(archive, "run_autograder", RUN_AUTOGRADER, executable=True)
            _add(archive, "assignment.toml", Path(assignment_file).read_text(encoding="utf-8"))
            for name, path in _harness_files():
                mode = path.stat().st_mode & 0o777
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = ((mode | 0o644) | stat.S_IFREG) << 16
                archive.writestr(info, path.read_bytes())
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return out


def submission_folder(submission: Path) -> Path:
    """The folder holding the student's files: the submission itself, or the one folder it
    holds when it holds nothing else (a zip of a folder)."""
    entries = [p for p in submission.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and entries[0].is_dir() and not any(submission.glob("*.py")):
        return entries[0]
    return submission


def run(root, sandbox_mode: str | None = None, stream=sys.stdout) -> Path:
    """Grade ``root/submission`` under ``root/source/assignment.toml`` into
    ``root/results/results.json``; returns that path. ``sandbox_mode``: auto (the strict
    sandbox where it can be built, else none), strict or off; default ``BACKPROP_AUTOGRADER_SANDBOX``,
    else auto. The output (Gradescope shows it to the instructor only) says how it was graded."""
    from backprop_harness import sandbox
    root = Path(root)
    course = assignments.load(root / "source" / "assignment.toml")
    wanted = sandbox_mode or os.environ.get(SANDBOX_VARIABLE) or "auto"
    if wanted not in ("auto", "strict", "off"):
        raise ValueError(f"{SANDBOX_VARIABLE}={wanted!r}: expected auto, strict or off")
    state = sandbox.status() if wanted != "off" else None
    mode = "strict" if wanted == "strict" or (wanted == "auto" and state.available) else "off"
    stream.write(f"backprop-harness on Gradescope: {course.describe()}\n")
    stream.write("sandbox: strict\n" if mode == "strict" else
                 f"sandbox: off ({'asked' if wanted == 'off' else state.reason}); the container is this "
                 f"submission's own and is discarded after the run\n")
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="backprop-gradescope-"))
    try:
        klass = scratch / "class"
        klass.mkdir()
        shutil.copytree(submission_folder(root / "submission"), klass / "submission")
        args = argparse.Namespace(profile=None, timeout=None, impl_timeout=None, oracles=None, no_html=True,
                                  allow_modified_harness=True)
        settings = grade.settings_of(args, course, mode)
        settings.no_self_check = FRESH
        (record,) = grade.grade(klass, scratch / "graded", settings, jobs=1, progress_stream=stream)
        target = results / "results.json"
        shutil.copyfile(scratch / "graded" / "submission" / "gradescope" / "results.json", target)
        stream.write(f"{record['score']:g} of {record['max_score']:g} points ({record['status']}); "
                     f"{target} written\n")
        log = scratch / "graded" / "submission" / "pytest.log"
        if log.exists():
            stream.write("--- the run's pytest log ---\n" + log.read_text(errors="replace")[-20000:] + "\n")
        return target
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def add_arguments(parser):
    parser.add_argument("--assignment", type=Path, required=True, metavar="FILE",
                        help="the assignment (TOML, docs/grading.md) the autograder grades")
    parser.add_argument("--out", type=Path, required=True, metavar="ZIP",
                        help="where to write the bundle (upload it on Gradescope's Configure Autograder page)")


def main(args) -> int:
    """``backprop-harness gradescope``: 0 written; 2 an assignment that is not valid."""
    try:
        out = build(args.assignment, args.out)
    except assignments.AssignmentError as exc:
        print(f"backprop-harness gradescope: the assignment is not valid: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"backprop-harness gradescope: {exc}", file=sys.stderr)
        return 2
    with zipfile.ZipFile(out) as archive:
        count = len(archive.namelist())
    print(f"{out}: the autograder for {args.assignment} ({count} files; {out.stat().st_size / 1e3:.0f} kB). Upload "
          f"it on the assignment's Configure Autograder page (docs/grading.md)")
    return 0


def _run_main(argv) -> int:
    parser = argparse.ArgumentParser(prog="python -m backprop_harness.gradescope run",
                                     description="grade /autograder/submission (what run_autograder does)")
    parser.add_argument("command", choices=("run",))
    parser.add_argument("--root", type=Path, default=Path(os.environ.get(ROOT_VARIABLE) or "/autograder"))
    args = parser.parse_args(argv)
    try:
        run(args.root)
    except Exception:                       # noqa: BLE001 - the instructor's output says why, no results written
        traceback.print_exc(file=sys.stdout)
        print("backprop-harness: the autograder failed (the traceback above); no results.json was written")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_run_main(sys.argv[1:]))
