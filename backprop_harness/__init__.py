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
