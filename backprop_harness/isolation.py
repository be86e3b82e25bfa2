"""Run untrusted code (the plug-in) in a worker process, so that whatever it does
(patch numpy, write files, os._exit, segfault, loop forever, flood stdout)
changes nothing but its own result.

Parent side: ``Worker("package.module:factory", init)``; ``worker.call(request)``
returns the handler's reply. Child side: ``python -m backprop_harness.isolation
READ_FD WRITE_FD module:factory`` calls ``factory(init) -> (handler, info)`` once,
then ``handler.handle(request) -> reply`` per request. Messages cross as
``wire`` frames (JSON, never pickle) on two pipes; the worker's stdout and
stderr go to a third, of which the parent keeps the last 64 kB.

Where the plug-in worker's code under test runs, the process is sandboxed
(``backprop_harness.sandbox``: namespaces, an unprivileged uid, a read-only view of
what it needs, limits); the sandbox's whole PID namespace dies when the worker is
stopped. ``Worker(sandbox="off")`` (or ``BACKPROP_SANDBOX=off``) opts out.
``Worker(forks=ForkServer(...))`` forks the process instead, in the sandbox of its
fork server (``backprop_harness.forkserver``), which ends with the server; the child
then runs ``serve`` as the new interpreter would.

This module imports only the standard library, ``wire`` (and so numpy) and
``forkserver`` (the standard library only) at top level, because in the child it runs
before the plug-in and must not disturb it.
"""
from __future__ import annotations

import atexit
import fcntl
import importlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import traceback
import weakref
from dataclasses import dataclass
from pathlib import Path

from backprop_harness import forkserver, wire

__all__ = ["Worker", "WorkerLost", "WorkerError"]

TAIL_BYTES = 64 * 1024
SCRATCH_PREFIX = "backprop-worker-"
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SIGNAL_NOTES = {"SIGSEGV": "segmentation fault", "SIGABRT": "abort", "SIGBUS": "bus error",
                 "SIGFPE": "floating-point exception", "SIGILL": "illegal instruction",
                 "SIGKILL": "killed from outside, perhaps by the out-of-memory killer"}


class WorkerLost(BaseException):
    """The worker hung past its timeout, died (exit status or signal), or broke the
    protocol (garbled or oversize reply, closed its pipe). It has been killed; the
    next call starts a fresh process.

    A BaseException on purpose: Hypothesis shrinks on Exceptions, and every
    retry of an example that hangs would cost the whole timeout again.

    ``kind`` is "timeout", "exit", "signal" or "protocol"; ``message`` one plain
    sentence; ``output`` the tail of what the worker printed.
    """

    def __init__(self, kind: str, message: str, output: str = ""):
        super().__init__(kind, message, output)
        self.kind, self.message, self.output = kind, message, output

    def __str__(self):
        if not self.output.strip():
            return self.message
        tail = self.output[-4096:]
        lines = tail.splitlines()[-40:]
        cut = len(tail) < len(self.output) or len(lines) < len(tail.splitlines())
        lines = (["[...]"] if cut else []) + lines
        return self.message + "\nlast output of the worker:\n" + "\n".join("    " + s for s in lines)


class WorkerError(Exception):
    """The handler itself raised inside the worker (a bug in the handler, not a
    lost worker); ``traceback`` is the worker's formatted traceback. The worker
    stays alive, unless it was its factory that raised."""

    def __init__(self, message: str, traceback: str):
        super().__init__(f"{message}:\n{traceback.rstrip()}")
        self.traceback = traceback


class Tail:
    """The last TAIL_BYTES a pipe delivered, and how many bytes came in all."""

    def __init__(self):
        self.lock = threading.Lock()
        self.data = bytearray()
        self.total = 0
        self.pipe = None

    def drain(self, pipe) -> None:
        # Runs in a daemon thread for the life of the pipe: a flooding worker
        # must never block on a full pipe, nor fill the parent's memory. Each
        # read happens once the pipe is readable, and is kept under the lock
        # with its bookkeeping, so "the pipe is empty" (FIONREAD, under the same
        # lock) means that everything written so far is in ``data``.
        self.pipe = pipe
        poller = select.poll()
        poller.register(pipe.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            while True:
                poller.poll()
                with self.lock:
                    chunk = os.read(pipe.fileno(), 1 << 16)
                    if not chunk:
                        break
                    self.total += len(chunk)
                    self.data += chunk
                    del self.data[:-TAIL_BYTES]
        finally:
            with self.lock:
                pipe.close()
                self.pipe = None

    def _caught_up(self) -> bool:
        with self.lock:
            if self.pipe is None:
                return True
            pending = fcntl.ioctl(self.pipe.fileno(), termios.FIONREAD, b"\0\0\0\0")
            return int.from_bytes(pending, sys.byteorder) == 0

    def text(self) -> str:
        # What the worker printed before its reply is in the pipe when the reply
        # arrives, but perhaps not yet drained: wait for the drainer (a worker
        # that keeps printing from another thread is cut off after 2 s).
        deadline = time.monotonic() + 2.0
        while not self._caught_up() and time.monotonic() < deadline:
            time.sleep(0.001)
        with self.lock:
            data, omitted = bytes(self.data), self.total - len(self.data)
        text = data.decode("utf-8", errors="replace")
        return f"[... {omitted} bytes omitted]\n{text}" if omitted else text


def _exited(proc) -> bool:
    """Whether ``proc`` has exited, without reaping it where the platform allows,
    so its process group id cannot be reused before we kill the group."""
    if isinstance(proc, forkserver.Forked):
        return proc.exited()
    if not hasattr(os, "waitid"):   # macOS
        return proc.poll() is not None
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


_live: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_all():
    for worker in list(_live):
        worker.close()


class Worker:
    """A worker process serving ``handler`` ("module:factory"), started lazily.

    ``init`` (wire-encodable) goes to ``factory(init)`` in the worker at each
    start; the factory's ``info`` comes back as ``worker.info``. Each ``call``
    waits at most ``call_timeout`` seconds, the start (interpreter, imports,
    factory) at most ``start_timeout``. ``env`` is added to the inherited
    environment (to the sandbox's own, when sandboxed). Replies longer than
    ``max_message`` bytes are a protocol error (default: ``sandbox.MAX_MESSAGE``,
    64 MiB, when sandboxed; 512 MiB otherwise).

    ``sandbox`` is "strict", "auto" or "off" (default: ``BACKPROP_SANDBOX``, else
    "auto"): ``backprop_harness.sandbox.plan`` decides at each start whether and how
    the process is sandboxed; ``worker.sandbox`` is the sandbox of the running (or
    last) process, None when it ran unsandboxed. A strict sandbox that cannot be
    built raises ``sandbox.Unavailable`` at the start. Not thread-safe: one call at a
    time.

    ``forks``: a ``forkserver.ForkServer`` for the same handler and init, which forks
    each process of this worker (and of the others given it) instead of starting a new
    interpreter; it decides the sandbox, ``sandbox`` and ``python`` are its own.
    """

    def __init__(self, handler: str, init: dict, *, call_timeout: float = 5.0, start_timeout: float = 60.0,
                 env: dict | None = None, python: str = sys.executable, max_message: int | None = None,
                 sandbox: str | None = None, forks: forkserver.ForkServer | None = None):
        module, _, factory = handler.partition(":")
        if not module or not factory:
            raise ValueError(f"handler must be 'module:factory', got {handler!r}")
        if forks is not None and (forks.handler, forks.init) != (handler, init):
            raise ValueError(f"the fork server serves {forks.handler} with other init than this worker's {handler}")
        self.forks = forks
        self.handler, self.init = handler, init
        self.call_timeout, self.start_timeout = call_timeout, start_timeout
        self.env, self.python, self.max_message = dict(env or {}), python, max_message
        self.sandbox_mode = sandbox
        self.sandbox = None
        self.starts = 0
        self._proc = None
        self._pidfd = self._init_pid = None     # the sandbox's PID 1 (bwrap's), while it runs
        self._info = None
        self._tail = Tail()
        _live.add(self)

    # -- public -------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The running worker's process id, or None."""
        return None if self._proc is None else self._proc.pid

    @property
    def namespace_pid(self) -> int | None:
        """The host pid of the running sandbox's PID 1 (its death ends every process in
        the sandbox), or None."""
        return None if self._proc is None or self._pidfd is None else self._init_pid

    @property
    def info(self):
        """What the factory returned beside the handler (starts the worker if needed)."""
        if self._proc is None:
            self._start("")
        return self._info

    def call(self, request: dict, timeout: float | None = None, label: str = ""):
        """The handler's reply to ``request``.

        ``label`` names the call in messages ("during mlp_gradients"). Raises
        WireError (worker untouched) if ``request`` cannot be encoded,
        WorkerError if the handler raised, WorkerLost if the worker hung
        (``timeout``, default ``call_timeout``), died or broke the protocol.
        """
        payload = wire.encode(request, name="request")
        if self._proc is None:
            self._start(label)
        seconds = self.call_timeout if timeout is None else timeout
        name = f" (call: {label})" if label else ""
        return self._exchange(payload, seconds, f"during {label or 'a call'}",
                              f"the implementation did not answer within {seconds:g} s{name}; the worker was killed")

    def output_tail(self) -> str:
        """The last 64 kB the current (or last) worker printed, stdout and stderr
        together; a first line "[... N bytes omitted]" when there was more."""
        return self._tail.text()

    def close(self) -> None:
        """Kill the worker, if running, and remove its scratch directory. A later
        call starts a fresh one."""
        self._stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:   # interpreter shutdown: the atexit hook has run
            pass

    # -- process --------------------------------------------------------------

    def _start(self, label: str) -> None:
        init = wire.encode(self.init, name="init")
        requests_r, self._requests = os.pipe()
        self._replies, replies_w = os.pipe()
        self._scratch = self._pidfd = self._init_pid = None
        try:
            if self.forks is not None:
                self._proc, self.sandbox, self._scratch = self._fork(requests_r, replies_w, label)
            else:
                argv = [self.python, "-m", "backprop_harness.isolation", str(requests_r), str(replies_w),
                        self.handler]
                box = plan_sandbox(self.sandbox_mode, self.handler, self.init, self.python)
                started = launch(argv, box, env=worker_environment(self.env), pass_fds=(requests_r, replies_w),
                                 timeout=self.start_timeout)
                self._proc, self.sandbox, self._scratch = started.proc, started.sandbox, started.scratch
                self._pidfd, self._init_pid = started.pidfd, started.init_pid
        except BaseException:
            for fd in (self._requests, self._replies):
                os.close(fd)
            raise
        finally:
            for fd in (requests_r, replies_w):
                os.close(fd)
        self._limit = self.max_message or (self.sandbox.max_message if self.sandbox else 1 << 29)
        self.starts += 1
        os.set_blocking(self._requests, False)   # so a write cannot outlast its deadline
        self._tail = Tail()
        self._drain = threading.Thread(target=self._tail.drain, args=(self._proc.stdout,),
                                       name=f"worker-{self._proc.pid}-output", daemon=True)
        self._drain.start()
        before = f" (before {label})" if label else ""
        try:
            self._info = self._exchange(
                init, self.start_timeout, f"during start-up{before}",
                f"the worker did not start within {self.start_timeout:g} s (handler: {self.handler}); "
                f"the worker was killed")
        except WorkerError:
            self._stop()   # the worker exits after a failed factory anyway
            raise

    def _fork(self, requests_r: int, replies_w: int, label: str) -> tuple:
        """A worker forked by ``self.forks``: (process, sandbox, scratch folder or None)."""
        output_r, output_w = os.pipe()
        scratch = None
        try:
            # unsandboxed, the harness makes (and removes) the folder; a sandbox's is in its own /tmp
            scratch = None if self.forks.sandboxed() else tempfile.mkdtemp(prefix=SCRATCH_PREFIX)
            proc, box = self.forks.spawn(requests_r, replies_w, output_w, scratch)
        except BaseException as exc:
            os.close(output_r)
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
            if isinstance(exc, forkserver.ServerLost):
                before = f" (before {label})" if label else ""
                raise WorkerLost("protocol", f"no worker could be started{before}: {exc.message}",
                                 exc.output) from None
            raise
        finally:
            os.close(output_w)
        proc.stdout = open(output_r, "rb", buffering=0)
        return proc, box, scratch

    def _exchange(self, payload: bytes, seconds: float, during: str, late: str):
        """Send one frame and return the reply's "ok" value, or raise."""
        proc, deadline = self._proc, time.monotonic() + seconds

        def alive():
            return not _exited(proc)

        try:
            wire.write_frame(self._requests, payload, deadline, alive)
            reply = wire.read_message(self._replies, deadline, self._limit, alive)
        except TimeoutError:
            self._lose("timeout", late)
        except (EOFError, BrokenPipeError):
            self._died(during)
        except wire.WireError as e:
            self._lose("protocol", f"the worker broke the protocol {during} ({e}); the worker was killed")
        except BaseException:
            # KeyboardInterrupt and the like: a late reply would be taken for the
            # answer to the next request, so this process cannot be used again.
            self._stop()
            raise
        if isinstance(reply, dict) and reply.keys() == {"ok"}:
            return reply["ok"]
        if isinstance(reply, dict) and reply.keys() == {"error"} and isinstance(reply["error"], str):
            raise WorkerError(f"the handler ({self.handler}) raised {during}", reply["error"])
        self._lose("protocol", f"the worker broke the protocol {during} (a reply that is neither "
                               f"{{'ok': ...}} nor {{'error': str}}); the worker was killed")

    def _died(self, during: str):
        proc, deadline = self._proc, time.monotonic() + 1.0
        while not _exited(proc):
            if time.monotonic() > deadline:
                self._lose("protocol", f"the worker closed its reply pipe {during} but did not exit; "
                                       f"the worker was killed")
            time.sleep(0.01)
        through_bwrap = self.sandbox is not None and self.forks is None
        code = self._stop(status=True)
        if code is None:
            self._lose("exit", f"the worker process ended {during}; how is not known: its fork server, which "
                               f"would have said, is stopped or gone (the code under test can stop or kill "
                               f"it)", stopped=True)
        if through_bwrap and code > 128 and code - 128 in signal.valid_signals():
            code = 128 - code     # bwrap passes on a death by signal N as the exit status 128 + N
        if code >= 0:
            self._lose("exit", f"the worker process exited with status {code} {during} "
                               f"(os._exit or sys.exit in the implementation?)", stopped=True)
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"number {-code}"
        note = f" ({_SIGNAL_NOTES[name]})" if name in _SIGNAL_NOTES else ""
        self._lose("signal", f"the worker process was killed by signal {name}{note} {during}", stopped=True)

    def _lose(self, kind: str, message: str, stopped: bool = False):
        if not stopped:
            self._stop()
        raise WorkerLost(kind, message, self.output_tail()) from None   # not "during handling of TimeoutError"

    def _stop(self, status: bool = False) -> int | None:
        """Kill the worker's whole process group, reap it, clean up; its exit code (None:
        unknown: a forked worker whose server did not say, or did not have to: ``status``)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        pidfd, self._pidfd = self._pidfd, None
        if isinstance(proc, forkserver.Forked):
            proc.kill()
            code = proc.wait(told=1.0 if status else 0.0)
        else:
            code = end(proc, pidfd)
        for fd in (self._requests, self._replies):
            os.close(fd)
        # The output pipe ends once the group is dead; a process that escaped it
        # (setsid) keeps the daemon thread draining, harmlessly.
        self._drain.join(timeout=2.0)
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
        return code


def worker_environment(env: dict | None = None) -> dict:
    """What a worker's process gets beside ``env``: tracebacks of crashes, unbuffered output."""
    return {**(env or {}), "PYTHONFAULTHANDLER": "1", "PYTHONUNBUFFERED": "1"}


def unsandboxed_environment(env: dict) -> dict:
    """The whole environment of an unsandboxed process: this one's, ``env``, and the harness
    on the path."""
    full = {**os.environ, **env}
    full["PYTHONPATH"] = os.pathsep.join(p for p in [_REPO_ROOT, full.get("PYTHONPATH")] if p)
    return full


def plan_sandbox(mode: str | None, handler: str, init: dict, python: str):
    """The sandbox (``sandbox.plan``) of a process serving ``handler`` with ``init``, or None.
    Raises sandbox.Unavailable where a strict one cannot be built."""
    if (mode or os.environ.get("BACKPROP_SANDBOX")) == "off":
        return None
    # imported here, on the parent's side only: the child imports none of it
    from backprop_harness import sandbox
    return sandbox.plan(mode, handler, init, root=Path(_REPO_ROOT), python=python)


def launch(argv: list, box, *, env: dict, pass_fds: tuple, timeout: float) -> Launched:
    """Start ``argv`` (a Python process) in the sandbox ``box`` (None: unsandboxed), in its
    own session, stdout and stderr on one pipe; ``env`` is added to the environment (the
    sandbox's own, when sandboxed). ``timeout`` bounds the wait for bwrap's report."""
    # first: it may fail, the pipes not leak. A sandbox has its own private /tmp.
    scratch = None if box else tempfile.mkdtemp(prefix=SCRATCH_PREFIX)
    info_r, info_w = os.pipe() if box else (None, None)
    pipes = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if box is None:
            proc = subprocess.Popen(argv, pass_fds=pass_fds, cwd=scratch, env=unsandboxed_environment(env), **pipes)
        else:
            proc = box.start(argv, info_fd=info_w, env=env, pass_fds=(*pass_fds, info_w), cwd="/", **pipes)
    except BaseException:
        if info_r is not None:
            os.close(info_r)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        if info_w is not None:
            os.close(info_w)
    pidfd, init_pid = (None, None) if box is None else _watch_namespace(proc, info_r, time.monotonic() + timeout)
    return Launched(proc, box, pidfd, init_pid, scratch)


@dataclass
class Launched:
    """A process ``launch`` started: its sandbox (None: unsandboxed), a pidfd of the
    sandbox's PID 1 and that process's host pid (None: unsandboxed, or bwrap failed to
    set up), the scratch folder it works in (None: a sandbox's own)."""
    proc: subprocess.Popen
    sandbox: object
    pidfd: int | None
    init_pid: int | None
    scratch: str | None


def _watch_namespace(proc: subprocess.Popen, info_r: int, deadline: float) -> tuple:
    """A pidfd of the sandbox's PID 1, from bwrap's report: killing it ends the sandbox,
    and its exit means that every process in it is gone. A bwrap that fails to set up
    reports nothing ((None, None)); its exit and message then come through the exchange."""
    from backprop_harness import sandbox
    try:
        pid = int(sandbox.read_info(info_r, deadline)["child-pid"])
        pidfd = os.pidfd_open(pid)
        with open(f"/proc/{pid}/status") as f:     # the pid is still bwrap's child, not reused
            parent = int(next(line for line in f if line.startswith("PPid:")).split()[1])
        if parent != proc.pid:
            os.close(pidfd)
            return None, None
        return pidfd, pid
    except (OSError, ValueError, KeyError, EOFError, TimeoutError, StopIteration):
        return None, None
    finally:
        os.close(info_r)


def end(proc: subprocess.Popen, pidfd: int | None) -> int:
    """Kill a process that ``launch`` started, its process group and (``pidfd``) its
    sandbox; reap it; its exit code."""
    if pidfd is not None:
        # The sandbox's PID 1 first: when it dies, the kernel kills every process of its
        # namespace and waits for them before it reports PID 1's exit (the pidfd becomes
        # readable); detached, stopped and hidden processes included.
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
        select.select([pidfd], [], [], 30.0)
        os.close(pidfd)
        try:
            proc.wait(timeout=5.0)      # bwrap reaps its PID 1 and exits with its status
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)   # the group: also whatever the plug-in started
    except OSError:
        pass
    proc.wait()
    return proc.returncode


# -- the worker process -------------------------------------------------------

def _orphaned(scratch: str) -> None:
    """The parent is gone without cleaning up after us: remove our scratch directory and end
    our process group, which holds whatever the plug-in started (the parent's killpg will
    never come). Only for a worker that Worker started (its own session and directory):
    someone may run this module by hand elsewhere."""
    if os.path.basename(scratch).startswith(SCRATCH_PREFIX):
        shutil.rmtree(scratch, ignore_errors=True)
    if os.getpgrp() == os.getpid():
        os.killpg(0, signal.SIGKILL)
    os._exit(0)


def _watch_parent(parent: int, scratch: str) -> None:
    # A handler busy in a loop never reads the request pipe's EOF; this notices.
    while os.getppid() == parent:
        time.sleep(0.5)
    _orphaned(scratch)


def _send(fd: int, result=None, error: str | None = None) -> None:
    if error is None:
        try:
            # Encoded on its own so a failure names the path from "reply".
            wire.write_frame(fd, b'{"ok":' + wire.encode(result, name="reply") + b"}")
            return
        except wire.WireError as e:
            error = f"the handler's reply cannot be sent: {e}"
    wire.write_message(fd, {"error": error})


def serve(argv: list[str]) -> int:
    """The worker's main loop: init, then one reply per request until EOF."""
    # Own copies (not inheritable) of the protocol pipes, and the passed
    # numbers closed, so the plug-in and what it spawns do not stumble on them.
    requests, replies = os.dup(int(argv[0])), os.dup(int(argv[1]))
    os.close(int(argv[0]))
    os.close(int(argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is for the parent, which kills us
    scratch = os.getcwd()
    threading.Thread(target=_watch_parent, args=(os.getppid(), scratch), daemon=True).start()
    try:
        init = wire.read_message(requests)
    except EOFError:   # only a dead parent closes the pipe; a live one kills us
        _orphaned(scratch)
    try:
        module, _, factory = argv[2].partition(":")
        handler, info = getattr(importlib.import_module(module), factory)(init)
    except BaseException:
        _send(replies, error=traceback.format_exc())
        return 0
    _send(replies, info)
    while True:
        try:
            request = wire.read_message(requests)
        except EOFError:
            _orphaned(scratch)
        try:
            result = handler.handle(request)
        except BaseException:   # SystemExit too: a reply, not the end of the loop
            _send(replies, error=traceback.format_exc())
        else:
            _send(replies, result)


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
