"""backprop-harness: plumbing shared by the tests and the command line (reporting, checks, CLI)."""
__version__ = "0.1.0"

# one BLAS thread, for the processes whose arrays are small and share the cores (the
# sandboxed workers, a class's runs) and for a process that forks (fork copies one thread)
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def write_atomically(path, text: str):
    """Write ``text`` (UTF-8) to ``path`` whole or not at all: a temporary file beside it
    (named by process, so concurrent writers do not meet; created with the usual mode,
    unlike mkstemp's 0600), then os.replace. Creates the parent folder. Returns the path."""
    import os
    from pathlib import Path
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        part.write_text(text, encoding="utf-8")
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return path


# The harness's packages, and what of them a test process never imports: code under test
# (the adapters, loaded by the workers), the entry point, the conformance tests (collected).
HARNESS_PACKAGES = ("backprop_harness", "oracles", "reference", "fixtures")
NOT_LOADED = ("backprop_harness.adapters", "backprop_harness.__main__", "backprop_harness.conformance.test_conformance")
AUTODIFF_ORACLES = {"torch64": "oracles.torch64", "jax64": "oracles.jax64"}


def harness_modules(oracles=()) -> list:
    """The names of every module of the harness that a test process may import: all of
    ``HARNESS_PACKAGES`` but ``NOT_LOADED``, and the autodiff oracles only among ``oracles``
    (they import torch and JAX). The conformance plug-in loads them all before a run's
    first test (``conformance.plugin.load_harness``: why), and the grader's zygote before
    it forks (``zygote.HARNESS``)."""
    import importlib
    import pkgutil
    skipped = NOT_LOADED + tuple(m for name, m in AUTODIFF_ORACLES.items() if name not in oracles)
    names = []
    for top in HARNESS_PACKAGES:
        names.append(top)
        names += [m.name for m in pkgutil.walk_packages(importlib.import_module(top).__path__, f"{top}.")]
    return [n for n in names if not any(n == s or n.startswith(f"{s}.") for s in skipped)]
