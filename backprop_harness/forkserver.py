"""New worker processes forked from one that has already imported numpy and the handler.

A new interpreter spends most of a worker's start importing numpy (and, for the plug-in
worker, its own modules) before the code under test is loaded. A run asks for many
workers of one implementation: the first, one after each lost worker, and one per
answer the determinism check wants from a process with no earlier call. ``ForkServer``
starts, once per implementation and in the implementation's sandbox, a process that
imports those modules and then forks one child per worker; the child is a worker
exactly as ``python -m backprop_harness.isolation`` makes one (``isolation.serve``),
before the code under test is loaded: no call has run in it.

What forked workers share, unlike workers started one by one: the sandbox (its PID
namespace, its uid and so its process limit, its /tmp), Python's hash seed and the
server's imports. Each child gets its own session, working folder, output pipe and
numpy random state (reseeded from the OS, as a new interpreter's is). Its process group
is killed from the harness's side; whatever it detached from it lives until the server's
sandbox ends (``ForkServer.close``, when the run is done with the implementation).

Parent side: ``ForkServer(handler, init, ...)``, then ``spawn(fds, cwd) -> Forked`` for
``isolation.Worker(forks=...)``. Child side: ``python -m backprop_harness.forkserver
CONTROL_FD module:factory``; it imports only the standard library, numpy, ``wire``,
``isolation`` and the handler's module before it forks.
"""
from __future__ import annotations

import atexit
import dataclasses
import gc
import importlib
import json
import os
import select
import shutil
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import weakref

__all__ = ["ForkServer", "Forked", "ServerLost"]

_FDS = 5                  # per spawn: requests (read end), replies (write end), output, status, hello
_ANSWER_SECONDS = 10.0    # the server answers a spawn at once; one that does not is lost
_CREDENTIALS = struct.Struct("3i")
# what pytest changes at every test; nothing reads it at start-up
_NOT_READ_AT_START = frozenset({"PYTEST_CURRENT_TEST"})


class ServerLost(Exception):
    """The fork server did not start, died or stopped answering; it has been killed and
    the next spawn starts a new one. ``output`` is the end of what it printed."""

    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.message, self.output = message, output


class Forked:
    """One forked worker, as the harness sees it: its host pid, a pidfd (readable once it
    has exited), its output pipe, and the status pipe the server writes its exit status
    to when it has ended. The server reaps it only once ``release`` has told it to, after
    the kill: until then its pid, and so its process group's id, cannot be reused. The part
    of ``subprocess.Popen`` that ``isolation.Worker`` uses."""

    def __init__(self, pid: int, pidfd: int, stdout, status_fd: int, inner_pid: int, release):
        self.pid, self._pidfd, self.stdout, self._status = pid, pidfd, stdout, status_fd
        self._inner, self._release = inner_pid, release      # its pid in the server's namespace
        self._started = _start_time(pid)
        self.returncode = None
        self.known = True           # False when the server could not say how it ended

    def exited(self) -> bool:
        return self._pidfd is None or bool(select.select([self._pidfd], [], [], 0)[0])

    def kill(self) -> None:
        """SIGKILL to its process group (what the code under test started in it) and to it."""
        # Its server holds it unreaped until released; a server that is gone did not: then
        # the pid is the same process only while its start time is.
        if self._started is not None and _start_time(self.pid) == self._started:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
        if self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except OSError:
                pass

    def wait(self, timeout: float = 5.0, told: float = 1.0):
        """Its exit status as Popen gives it (-N for a signal), once it has ended (within
        ``timeout``) and the server has said how (within ``told`` more); None, with
        ``known`` False, when the server does not say (it was stopped, say). Then the
        server may reap it."""
        if self.returncode is not None or self._status is None:
            return self.returncode
        if self._pidfd is not None:
            select.select([self._pidfd], [], [], timeout)
            os.close(self._pidfd)
            self._pidfd = None
        deadline = time.monotonic() + told
        data = b""
        while len(data) < 4:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._status], [], [], left)[0]:
                break
            chunk = os.read(self._status, 4 - len(data))
            if not chunk:
                break
            data += chunk
        os.close(self._status)
        self._status = None
        if len(data) == 4:
            self.returncode = int.from_bytes(data, "little", signed=True)
        else:
            self.known = False
        self._release(self._inner)
        return self.returncode


def _start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), or None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


_live: weakref.WeakSet = weakref.WeakSet()
_shared: dict = {}     # (process, handler, python, environment) -> the unsandboxed server they share
_shared_lock = threading.Lock()


@atexit.register
def _close_all():
    for server in [*_live, *_shared.values()]:
        server.close()


class ForkServer:
    """What forks the workers of one implementation (``handler`` with ``init``): a server
    process started at the first spawn, in the sandbox ``sandbox.plan`` decides for them.
    Unsandboxed, the code under test is loaded only after the fork, so every implementation
    of this process with the same handler, environment and ``pool`` shares one server (it
    lives until the process exits; two pools, two servers, two hash seeds); a sandbox shows
    one implementation's folders, so a sandboxed server is this implementation's own, ended
    by ``close``. Thread-safe: spare workers are spawned from other threads."""

    def __init__(self, handler: str, init: dict, *, sandbox: str | None = None, python: str = sys.executable,
                 env: dict | None = None, start_timeout: float = 60.0, pool: str = "", workers: int = 2):
        self.handler, self.init, self.sandbox_mode, self.python, self.pool = handler, init, sandbox, python, pool
        self.workers = workers      # alive at once, at most: the sandbox's process limit is per worker
        self.env, self.start_timeout = dict(env or {}), start_timeout
        self._lock = threading.Lock()
        self._planned = False
        self.sandbox = None
        self._server = None
        _live.add(self)

    def sandboxed(self) -> bool:
        """Whether its workers run in a sandbox (decided at the first call, as a worker's start
        decides it). Raises sandbox.Unavailable where a strict one cannot be built."""
        with self._lock:
            self._plan()
            return self.sandbox is not None

    def _plan(self) -> None:
        if not self._planned:
            from backprop_harness import isolation
            box = isolation.plan_sandbox(self.sandbox_mode, self.handler, self.init, self.python)
            self.sandbox = None if box is None else dataclasses.replace(box, workers=self.workers)
            self._planned = True

    def spawn(self, requests_r: int, replies_w: int, output_w: int, cwd: str | None) -> tuple:
        """Fork a worker whose protocol pipes are ``requests_r`` and ``replies_w`` and whose
        stdout and stderr are ``output_w`` (the caller keeps and closes its copies), working
        in ``cwd`` (None: a new folder in the sandbox's /tmp). Returns (Forked without its
        stdout, the sandbox it runs in or None). Raises ServerLost, sandbox.Unavailable."""
        from backprop_harness import isolation
        with self._lock:
            self._plan()
            env = self._environment()
            environ = None if self.sandbox is not None else isolation.unsandboxed_environment(env)
            if self._server is None and self.sandbox is not None:
                self._server = _Server(self.handler, self.python, env, self.start_timeout, self.sandbox)
            elif self._server is None:
                # Keyed by what the interpreter and numpy read when they start (a change of
                # another variable reaches the child: spawn passes the whole environment),
                # and by the process: a child forked from this one must not use its parent's.
                key = (os.getpid(), self.pool, self.handler, self.python,
                       tuple(sorted((k, v) for k, v in environ.items() if k not in _NOT_READ_AT_START)))
                with _shared_lock:
                    if key not in _shared:
                        _shared[key] = _Server(self.handler, self.python, env, self.start_timeout, None)
                    self._server = _shared[key]
            return self._server.spawn(requests_r, replies_w, output_w, cwd, environ), self.sandbox

    def _environment(self) -> dict:
        from backprop_harness import ONE_BLAS_THREAD, isolation
        # one BLAS thread: fork copies only the thread that calls it
        return isolation.worker_environment({**self.env, **ONE_BLAS_THREAD})

    @property
    def starts(self) -> int:
        """How many server processes this implementation's workers came from."""
        return 0 if self._server is None else self._server.starts

    def close(self) -> None:
        """End this implementation's sandboxed server, its sandbox and every process in it
        (a shared unsandboxed server stays, for the others)."""
        with self._lock:
            server, self._server = self._server, None
            if server is not None and self.sandbox is not None:
                server.close()

    def __del__(self):
        try:
            self.close()
        except Exception:      # interpreter shutdown
            pass


class _Server:
    """One server process, started at the first spawn. One that has died, is stopped or does
    not answer is replaced at the next spawn, and retired rather than killed: the workers it
    forked before may still be answering. ``close`` ends it and every retired one."""

    def __init__(self, handler: str, python: str, env: dict, start_timeout: float, box):
        self.handler, self.python, self.env, self.start_timeout, self.box = handler, python, env, start_timeout, box
        self.starts = 0
        self._lock = threading.Lock()
        self._proc = self._control = None
        self._retired: list = []

    def spawn(self, requests_r: int, replies_w: int, output_w: int, cwd: str | None, environ: dict | None) -> Forked:
        with self._lock:
            for attempt in (1, 2):
                if self._proc is not None and not self._usable():
                    self._retire()
                if self._proc is None:
                    self._start()
                try:
                    return self._spawn(requests_r, replies_w, output_w, cwd, environ)
                except ServerLost:
                    if attempt == 2:
                        raise

    def _spawn(self, requests_r: int, replies_w: int, output_w: int, cwd: str | None, environ: dict | None) -> Forked:
        status_r, status_w = os.pipe()
        hello, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        hello.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        try:
            request = json.dumps({"cwd": cwd, "environ": environ}).encode()
            try:
                socket.send_fds(self._control, [request], [requests_r, replies_w, output_w, status_w,
                                                           theirs.fileno()])
            except OSError as exc:
                self._lose(f"the fork server did not take a request ({exc})")
            finally:
                os.close(status_w)
                theirs.close()
            pid, inner = self._hello(hello)
            pidfd = os.pidfd_open(pid)     # the server reaps it only when released: the pid is its own
            hello.sendall(b"g")
        except BaseException:
            os.close(status_r)
            raise
        finally:
            hello.close()
        return Forked(pid, pidfd, None, status_r, inner, self._release_to(self._control))

    @staticmethod
    def _release_to(control: socket.socket):
        def release(inner: int) -> None:
            try:        # one datagram: atomic beside a spawn's, from any thread
                control.send(json.dumps({"release": inner}).encode())
            except OSError:     # the server is gone or retired: its end kills what it holds
                pass
        return release

    def _hello(self, hello: socket.socket) -> tuple:
        """(the child's host pid, its pid in the server's namespace): the kernel translates
        the pid the child sends with its credentials; the child says its own."""
        deadline = time.monotonic() + _ANSWER_SECONDS
        data, host = b"", None
        while len(data) < 5 or data[:1] != b"h":
            left = deadline - time.monotonic()
            if left <= 0:
                self._lose(f"the fork server did not fork a worker within {_ANSWER_SECONDS:g} s")
            if not select.select([hello], [], [], min(left, 0.05))[0]:
                if not self._usable():       # stopped (or killed) since the spawn began
                    self._lose("the fork server was stopped or ended before it forked a worker")
                continue
            chunk, ancillary, _, _ = hello.recvmsg(4096, socket.CMSG_SPACE(_CREDENTIALS.size))
            if not chunk:     # the end of the stream (which carries credentials of nobody, pid 0)
                if data[:1] == b"e":          # the server could not fork: it is fine, the spawn is not
                    raise ServerLost(f"the fork server could not fork a worker: {data[1:].decode(errors='replace')}")
                self._lose("the fork server or its child ended before the child said who it is")
            data += chunk
            for level, kind, value in ancillary:
                if host is None and (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
                    host = _CREDENTIALS.unpack(value[:_CREDENTIALS.size])[0]
        if host is None:
            self._lose("the fork server's child said who it is without its credentials")
        return host, int.from_bytes(data[1:5], "little")

    def _start(self) -> None:
        from backprop_harness import isolation
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        argv = [self.python, "-m", "backprop_harness.forkserver", str(theirs.fileno()), self.handler]
        try:
            started = isolation.launch(argv, self.box, env=self.env, pass_fds=(theirs.fileno(),),
                                       timeout=self.start_timeout)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._proc, self._pidfd, self._scratch = started.proc, started.pidfd, started.scratch
        self._control = ours
        self.starts += 1
        self._tail = isolation.Tail()
        threading.Thread(target=self._tail.drain, args=(self._proc.stdout,), name=f"fork-server-{self._proc.pid}",
                         daemon=True).start()
        self._pid = None
        if select.select([ours], [], [], self.start_timeout)[0]:
            data, ancillary, _, _ = ours.recvmsg(16, socket.CMSG_SPACE(_CREDENTIALS.size))
            for level, kind, value in ancillary:
                if data == b"ready" and (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
                    self._pid = _CREDENTIALS.unpack(value[:_CREDENTIALS.size])[0]   # as this process sees it
        if self._pid is None:
            self._lose(f"the fork server did not start within {self.start_timeout:g} s (handler: {self.handler})")

    def _usable(self) -> bool:
        """Alive and not stopped (the code under test runs as the server's uid, and may stop it)."""
        if self._proc.poll() is not None:
            return False
        try:
            with open(f"/proc/{self._pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t", "Z", "X")
        except (OSError, IndexError):
            return False

    def _lose(self, message: str):
        output = self._tail.text() if self._proc is not None else ""
        self._retire()
        raise ServerLost(message, output)

    def _retire(self) -> None:
        if self._proc is not None:
            self._retired.append((self._proc, self._pidfd, self._scratch))
            self._control.close()
            self._proc = None

    def close(self) -> None:
        """Kill the server, the retired ones, their sandboxes and every process in them."""
        from backprop_harness import isolation
        with self._lock:
            self._retire()
            while self._retired:
                proc, pidfd, scratch = self._retired.pop()
                isolation.end(proc, pidfd)
                if scratch:
                    shutil.rmtree(scratch, ignore_errors=True)


# -- the server process -----------------------------------------------------------------------

def _main(argv: list) -> int:
    control = socket.socket(fileno=int(argv[0]))
    handler = argv[1]
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is for the harness, which kills us
    _dumpable(0)
    from backprop_harness import isolation
    importlib.import_module(handler.partition(":")[0])
    # what is loaded lives as long as the server and each fork: frozen, a fork's collections
    # neither walk it nor write to its pages (which the fork would then have to copy)
    gc.collect()
    gc.freeze()
    scratch = os.getcwd()
    try:
        return _serve(control, handler, isolation)
    finally:
        if os.path.basename(scratch).startswith(isolation.SCRATCH_PREFIX):     # unsandboxed: the harness's
            shutil.rmtree(scratch, ignore_errors=True)


def _dumpable(value: int) -> None:
    """The server is not dumpable: the workers run as its uid, and none may read or write its
    memory (/proc/PID/mem, ptrace) or take its descriptors (pidfd_getfd), which would reach
    every worker forked after. Each child is made dumpable again, as a new interpreter is."""
    import ctypes
    try:
        ctypes.CDLL(None).prctl(_PR_SET_DUMPABLE, value, 0, 0, 0)
    except (OSError, AttributeError):     # not Linux: no /proc/PID/mem either
        pass


_PR_SET_DUMPABLE = 4
_MAX_REQUEST = 1 << 20     # a spawn request carries the harness's environment (unsandboxed)


def _serve(control: socket.socket, handler: str, isolation) -> int:
    from backprop_harness import wire
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    # pid -> the status pipe to write when it ends (None once written); ended and released:
    # a child is reaped only when both, so that its pid stays its own until the harness has
    # killed its process group
    parent, children, ended, released = os.getppid(), {}, set(), set()
    folders = {}           # pid -> the folder the harness made for it, which it removes unless it is gone
    control.sendmsg([b"ready"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS,
                                  _CREDENTIALS.pack(os.getpid(), os.getuid(), os.getgid()))])
    while True:
        ready = select.select([control, wake_r], [], [], 0.5)[0]
        if os.getppid() != parent:             # the harness is gone: so are its workers, and their folders
            for pid in children:
                _kill_group(pid)
            for folder in folders.values():
                if os.path.basename(folder).startswith(isolation.SCRATCH_PREFIX):
                    shutil.rmtree(folder, ignore_errors=True)
            return 0
        if wake_r in ready:
            while True:
                try:
                    os.read(wake_r, 512)
                except BlockingIOError:
                    break
        _collect(children, ended, released, folders)
        if control not in ready:
            continue
        try:
            request, fds = wire.receive_packet(control, _MAX_REQUEST, _FDS)
        except wire.WireError:       # refused: the harness sees the hello end, and says so
            continue
        except OSError:
            return 0
        if request is None:                    # the harness closed its end
            return 0
        if isinstance(request, dict) and "release" in request and not fds:
            released.add(request["release"])
            _collect(children, ended, released, folders)
            continue
        if not (isinstance(request, dict) and len(fds) == _FDS and request.keys() == {"cwd", "environ"}):
            for fd in fds:                     # refused: the harness sees the hello end, and says so
                os.close(fd)
            continue
        requests_r, replies_w, output_w, status_w, hello = fds
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:                 # the sandbox's process limit, say: this spawn fails
            with socket.socket(fileno=os.dup(hello)) as said:
                said.sendall(b"e" + str(exc).encode())
            for fd in fds:
                os.close(fd)
            continue
        if pid == 0:
            _child(isolation, handler, fds, request["cwd"], request["environ"],
                   [control.fileno(), wake_r, wake_w, *(fd for fd in children.values() if fd is not None)])
        children[pid] = status_w
        if request["cwd"]:
            folders[pid] = request["cwd"]
        for fd in (requests_r, replies_w, output_w, hello):
            os.close(fd)


def _collect(children: dict, ended: set, released: set, folders: dict) -> None:
    """Write the status of each child that has ended (without reaping it); reap those released."""
    for pid in list(children):
        if pid not in ended:
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
                ended.add(pid)
            if info is not None:
                ended.add(pid)
                code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
                fd, children[pid] = children[pid], None
                try:
                    os.write(fd, code.to_bytes(4, "little", signed=True))
                except OSError:
                    pass
                os.close(fd)
        if pid in ended and pid in released:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            del children[pid]
            folders.pop(pid, None)
            ended.discard(pid)
            released.discard(pid)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _child(isolation, handler: str, fds: list, cwd: str | None, environ: dict | None, inherited: list) -> None:
    """The forked worker: the server's descriptors closed, its own session, output,
    folder (also its TMPDIR, HOME and first entry of sys.path, as a new interpreter
    started there has) and (``environ``) environment, a fresh random state; then the
    worker's loop. Never returns."""
    requests_r, replies_w, output_w, status_w, hello = fds
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in (*inherited, status_w):
            os.close(fd)
        os.setsid()
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        os.close(output_w)
        import tempfile
        if cwd is None:
            cwd = tempfile.mkdtemp(prefix=isolation.SCRATCH_PREFIX)
        os.chdir(cwd)
        if isinstance(environ, dict):
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in environ.items()})
        if os.environ.get("TMPDIR") == "/tmp":         # the sandbox's /tmp is shared by its workers
            os.environ["TMPDIR"] = os.environ["HOME"] = cwd
        tempfile.tempdir = None                         # read TMPDIR again
        if sys.path and sys.path[0] not in ("", cwd):  # python -m puts the working folder first
            sys.path[0] = cwd
        sys.argv = [isolation.__file__, str(requests_r), str(replies_w), handler]
        if "numpy.random" in sys.modules:    # a new interpreter seeds numpy's global state afresh
            sys.modules["numpy.random"].seed()
        _dumpable(1)
        said = socket.socket(fileno=hello)
        said.sendmsg([b"h" + os.getpid().to_bytes(4, "little")],
                     [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS,
                       _CREDENTIALS.pack(os.getpid(), os.getuid(), os.getgid()))])
        if said.recv(1) != b"g":               # the harness gave up on us
            os._exit(0)
        said.close()
        code = isolation.serve([str(requests_r), str(replies_w), handler])
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
