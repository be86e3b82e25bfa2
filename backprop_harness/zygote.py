"""A pre-imported grader process that forks one pytest run per submission.

Grading a class starts pytest once per submission, and a new interpreter imports
pytest, Hypothesis, numpy and the harness, compiles and rewrites their modules, before
its first test, and collects their garbage at its exit. The zygote imports them once;
each run is a ``fork()`` of it calling ``pytest.main``. The submission's code never runs
in the zygote nor in its forks: a fork is the harness's side of a run, and the code
under test runs, as always, in the sandboxed worker processes the fork starts. So no
submission can change what the next fork starts from.

A fork draws the same examples as a new interpreter. Hypothesis biases its draws with
the literals of the "local" modules loaded (outside site-packages: the harness's own),
so the zygote imports, of the harness, only modules that every run has imported before
its first example (``HARNESS``: all of them, which the conformance plug-in loads at the end
of collection), and none of its own is left where Hypothesis looks (the zygote is started
with ``-c`` and leaves ``sys.modules``). Third-party modules carry no
such weight and are imported freely (``THIRD_PARTY``). Not imported ahead: the
conftest, the conformance plug-in and the test module (pytest imports those itself, to
rewrite their asserts), and torch and JAX (neither is safe to fork once started).

The wire: a Unix SOCK_SEQPACKET pair. The grader sends one JSON message per run with the
write end of the run's output pipe attached (``socket.send_fds``); the zygote answers
``{"id", "pid"}`` once the fork leads its own session (so that killing the group
``pid`` kills the run and everything it started), then ``{"id", "status"}`` when it has
reaped it (``status`` as ``subprocess.Popen.returncode``: the exit code, or minus the
signal), or ``{"id", "error"}`` when it could not fork. The zygote exits when the
grader's end closes, killing the runs still alive.

``Zygote`` is the grader's side; each run is a ``Run`` with the part of
``subprocess.Popen``'s interface that ``grade`` uses (``pid``, ``stdout``, ``wait``,
``returncode``).
"""
from __future__ import annotations

import atexit
import gc
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import warnings
from pathlib import Path

from backprop_harness import ONE_BLAS_THREAD, harness_modules, wire

__all__ = ["Zygote", "Run", "ZygoteLost", "PRELOAD", "HARNESS", "THIRD_PARTY", "main"]

MAX_MESSAGE = 1 << 16           # a run's request: its command line

# Of the harness, what every run imports before its first example (the conformance plug-in
# loads all of it, harness_modules; tests/test_zygote.py holds the list to that), but the
# plug-in itself: pytest imports it, and it loads the run's Hypothesis profile from the
# run's environment.
HARNESS = tuple(name for name in harness_modules() if name != "backprop_harness.conformance.plugin")
# Everything else a run imports, in full or when it fails (a failure's heat maps: matplotlib
# and Pillow). A module missing here is imported by each run: the list only saves time.
THIRD_PARTY = (
    "numpy", "numpy.random", "pytest", "_pytest.pytester", "_pytest.python", "_pytest.runner", "_pytest.terminal",
    "hypothesis", "hypothesis.extra.numpy", "hypothesis.extra.pytestplugin", "_hypothesis_pytestplugin",
    "hypothesis.internal.conjecture.optimiser", "hypothesis.strategies._internal.flatmapped",
    "xdist.plugin", "xdist.looponfail", "xdist.newhooks", "pdb", "faulthandler", "secrets",
    "matplotlib.figure", "matplotlib.backends.backend_agg", "matplotlib.patches", "matplotlib.lines",
    "PIL.Image", "PIL.ImageDraw", "PIL.ImageFont", "PIL.PngImagePlugin", "PIL.BmpImagePlugin", "PIL.GifImagePlugin",
    "PIL.JpegImagePlugin", "PIL.PpmImagePlugin",
)
PRELOAD = THIRD_PARTY + HARNESS


class ZygoteLost(RuntimeError):
    """The zygote ended (or never started): no run can be started or waited for."""


# --- the zygote ------------------------------------------------------------------------------------

def _send(sock, message: dict, fds=()) -> None:
    socket.send_fds(sock, [json.dumps(message).encode()], list(fds))


def _receive(sock, want_fds: int = 0):
    """One message (a packet of the SOCK_SEQPACKET pair) and the descriptors sent with
    it; None at the end of the stream; WireError (a ValueError) for one cut short."""
    return wire.receive_packet(sock, MAX_MESSAGE, want_fds)


def _run_pytest(argv: list, cwd: str, out_fd: int) -> None:
    """In the fork: become the run, never return."""
    code = 70                                   # EX_SOFTWARE: the harness failed before pytest answered
    try:
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        os.chdir(cwd)
        # Hypothesis fixed its folder (its example database) where the zygote imported it: a
        # run's is in its own working folder, as a new interpreter's would be
        from hypothesis.configuration import set_hypothesis_home_dir
        set_hypothesis_home_dir(os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY") or Path(cwd) / ".hypothesis")
        sys.argv = ["pytest", *argv]
        import pytest
        code = int(pytest.main(argv))
    except BaseException:                       # noqa: BLE001 - the fork must not return into the zygote
        try:
            import traceback
            traceback.print_exc()
        except BaseException:                   # noqa: BLE001
            pass
    finally:
        # what a normal exit would do (the plug-in's workers are closed by an atexit hook),
        # without the final collection of a heap that is mostly the zygote's, and large
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _scan_local_constants() -> None:
    """Hypothesis biases its draws with the constants in the source of every module it
    counts as local (the harness's, outside site-packages), parsing each the first time
    a test asks, and caching them under the working folder, which is a new one for every
    run of a class: parsed once here, the forks inherit them."""
    try:
        from hypothesis.errors import HypothesisSideeffectWarning
        from hypothesis.internal.conjecture import providers
    except ImportError:                         # a Hypothesis without it: nothing to share
        return
    with warnings.catch_warnings():
        # it warns that a plug-in's initialisation is slow: the zygote's is, once, for the forks
        warnings.simplefilter("ignore", HypothesisSideeffectWarning)
        getattr(providers, "_get_local_constants", lambda: None)()


def _request_problem(message, fds) -> str | None:
    """What is wrong with a run's request, if anything (checked before forking for it)."""
    if not isinstance(message, dict) or not isinstance(message.get("id"), int):
        return "a request without its id"
    argv, cwd = message.get("argv"), message.get("cwd")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not isinstance(cwd, str):
        return "a request without its command line (argv: strings) or its folder (cwd)"
    if len(fds) != 1:
        return f"a request with {len(fds)} descriptors attached, not the one of its output"
    return None


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def serve(fd: int, preload=PRELOAD) -> None:
    """The zygote's loop on the socket ``fd``, after importing ``preload``."""
    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # the zygote's own module is no module of a run's: out of Hypothesis's sight (above)
    sys.modules.pop(__name__, None)
    _scan_local_constants()
    # what the zygote holds now is never freed: the forks' garbage collections skip it
    # (faster collections, and fewer of its pages copied into each fork)
    gc.collect()
    gc.freeze()
    sock = socket.socket(fileno=fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)          # the grader stops its runs itself
    runs = {}                                             # pid -> id
    _send(sock, {"ready": os.getpid()})
    try:
        while True:
            readable, _, _ = select.select([sock, wake_r], [], [])
            if wake_r in readable:
                os.read(wake_r, 4096)
            while runs:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid in runs:
                    _send(sock, {"id": runs.pop(pid), "status": os.waitstatus_to_exitcode(status)})
            if sock not in readable:
                continue
            try:
                message, fds = _receive(sock, 1)
            except ValueError as exc:            # unreadable: no id to answer; the grader's side times out
                print(f"zygote: a request was refused: {exc}", file=sys.stderr, flush=True)
                continue
            if message is None:
                break
            problem = _request_problem(message, fds)
            if problem is None and _threads() != 1:
                problem = f"the grader's process has {_threads()} threads: forking it is not safe"
            if problem is not None:
                for fd in fds:
                    os.close(fd)
                if isinstance(message, dict) and isinstance(message.get("id"), int):
                    _send(sock, {"id": message["id"], "error": problem})
                continue
            ready_r, ready_w = os.pipe()
            sys.stdout.flush()                  # nothing of the zygote's may reach a run's output
            sys.stderr.flush()
            try:
                pid = os.fork()
            except OSError as exc:
                for fd in (*fds, ready_r, ready_w):
                    os.close(fd)
                _send(sock, {"id": message["id"], "error": f"the grader's process cannot fork: {exc}"})
                continue
            if pid == 0:
                try:
                    # the signals as a new interpreter has them (the zygote's own are for its loop)
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    signal.signal(signal.SIGINT, signal.default_int_handler)
                    for own in (sock.detach(), ready_r, wake_r, wake_w):
                        os.close(own)
                    os.setsid()
                    os.close(ready_w)           # the zygote's read returns: the session is the run's
                    _run_pytest(message["argv"], message["cwd"], fds[0])
                finally:
                    os._exit(70)                # never back into the zygote's loop
            os.close(ready_w)
            for fd in fds:
                os.close(fd)
            os.read(ready_r, 1)
            os.close(ready_r)
            runs[pid] = message["id"]
            _send(sock, {"id": message["id"], "pid": pid})
    finally:
        for pid in runs:
            try:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass


def main() -> None:
    """``python -c "from backprop_harness.zygote import main; main()" FD MODULE...``: started so,
    the zygote has no ``__main__`` file for Hypothesis to read (``-m`` would give it this one)."""
    serve(int(sys.argv[1]), sys.argv[2:])


# --- the grader's side -----------------------------------------------------------------------------

class Run:
    """One forked pytest run, as much of ``subprocess.Popen`` as ``grade`` uses."""

    def __init__(self, stdout):
        self.pid, self.stdout, self.returncode = None, stdout, None
        self.lost = None                      # why no status came: the zygote ended first
        self._started = threading.Event()
        self._done = threading.Event()

    def _finish(self, status, lost=None):
        self.returncode, self.lost = status, lost
        self._started.set()
        self._done.set()

    def poll(self):
        return self.returncode

    def wait(self, timeout: float | None = None):
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired("pytest (forked)", timeout)
        return self.returncode


class Zygote:
    """Starts the zygote with ``env`` in ``cwd``, importing ``preload``, and forks runs of it;
    thread-safe. ``close()`` ends it and every run still alive. What the zygote printed (a
    traceback if it died) is in ``cwd/zygote.log``, and its end in a lost run's message."""

    def __init__(self, env: dict, cwd, preload=PRELOAD, start_timeout: float = 60.0,
                 answer_timeout: float = 60.0):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._lock = threading.Lock()
        self._runs = {}                       # id -> Run, until its status comes
        self._next = 0
        self._closed = False
        self.answer_timeout = answer_timeout
        self.log = Path(cwd) / "zygote.log"
        with open(self.log, "ab") as err:
            # fork() copies the calling thread only: the zygote may have no other, and numpy's
            # BLAS starts threads at import unless told to use one
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-c", "from backprop_harness.zygote import main; main()",
                 str(theirs.fileno()), *preload],
                pass_fds=(theirs.fileno(),), env={**env, **ONE_BLAS_THREAD}, cwd=str(cwd), stdin=subprocess.DEVNULL,
                stdout=err, stderr=err, start_new_session=True)
        theirs.close()
        ours.settimeout(start_timeout)
        try:
            message, _ = _receive(ours)
        except (OSError, ValueError):
            message = None
        if not message or "ready" not in message:
            self.close()
            raise ZygoteLost("the grader's pre-imported process did not start" + self._said())
        ours.settimeout(None)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _said(self) -> str:
        """The end of what the zygote printed, as the tail of a message."""
        try:
            text = self.log.read_text(errors="replace").strip()
        except OSError:
            return ""
        return f": {text[-2000:]}" if text else ""

    def _read(self):
        why = None
        try:
            while True:
                message, _ = _receive(self._sock)
                if message is None:
                    break
                with self._lock:
                    run = self._runs.get(message["id"])
                    if "status" in message or "error" in message:
                        self._runs.pop(message["id"], None)
                if run is None:
                    continue
                if "pid" in message:
                    run.pid = message["pid"]
                    run._started.set()
                elif "error" in message:
                    run._finish(None, message["error"])
                else:
                    run._finish(message["status"])
        except (OSError, ValueError) as exc:
            why = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._closed = True
            orphans, self._runs = list(self._runs.values()), {}
        if orphans:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        lost = "the grader's pre-imported process ended" + (f" ({why})" if why else "") + self._said()
        for run in orphans:
            run._finish(None, lost)

    @property
    def alive(self) -> bool:
        return not self._closed

    def run(self, argv: list, cwd) -> Run:
        """Fork ``pytest.main(argv)`` in ``cwd``; its output (stdout and stderr) is ``run.stdout``."""
        request = {"argv": [str(a) for a in argv], "cwd": str(cwd)}
        if len(json.dumps(request)) > MAX_MESSAGE - 64:
            raise ValueError(f"a run's command line longer than the {MAX_MESSAGE} bytes the zygote reads")
        read_end, write_end = os.pipe()
        run = Run(os.fdopen(read_end, "rb", buffering=0))
        try:
            with self._lock:
                if self._closed:
                    raise ZygoteLost("the grader's pre-imported process has ended")
                self._next += 1
                ident = self._next
                self._runs[ident] = run
                try:
                    _send(self._sock, {"id": ident, **request}, [write_end])
                except OSError as exc:
                    self._runs.pop(ident, None)
                    raise ZygoteLost(f"the grader's pre-imported process has ended ({exc})") from exc
        except ZygoteLost:
            run.stdout.close()
            raise
        finally:
            os.close(write_end)
        if not run._started.wait(self.answer_timeout):
            # a zygote that no longer answers is as good as lost: ended, with the runs it holds
            self.close()
            run._started.wait()
        if run.pid is None:
            run.stdout.close()
            raise ZygoteLost(run.lost or "the grader's pre-imported process ended before the run started")
        return run

    def close(self) -> None:
        with self._lock:
            self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._sock.close()
