"""The sandbox a worker process runs in: bubblewrap's Linux namespaces, an unprivileged uid,
a read-only view of only what the worker needs, and resource limits.

This module is the one place that decides whether a sandbox can be built here
(``status``), what a sandboxed worker sees and runs as (``plan``, ``Sandbox``) and
within which limits (``LIMITS``, each with its reason). ``isolation.Worker`` asks it at
each start; ``backprop-harness grade`` requires it. ``docs/sandbox.md`` says what each
mode protects and against what.

Modes (``Worker(sandbox=...)``, or the environment's ``BACKPROP_SANDBOX``):

* ``strict``  required: the worker sees the Python installation (the venv's packages
              included), its own modules (``WORKER_FILES``) and the folders of the code
              under test; nothing else of the harness, of the user or of the machine.
              What ``grade`` uses.
* ``auto``    the default: sandboxed where bubblewrap works, else unsandboxed after one
              line saying why. The harness's folder is visible too, read-only: a
              ``pytest --impl`` run checks code its user chose on their own machine,
              where nothing of the harness is secret (its plug-ins may import the
              reference); what is protected is everything it could change or leave
              behind. Code inside the harness's folder (the reference, the adapters,
              the test plug-ins) is the harness's own and runs unsandboxed.
* ``off``     no sandbox (``grade --no-sandbox``; the isolation tests' own handlers).

How it is built (``Sandbox.start``): ``bwrap`` with new PID, network, IPC, UTS and
cgroup namespaces and a new mount namespace whose root is an empty tmpfs holding only
read-only binds of the view, a private ``/tmp`` (its size capped) for ``HOME`` and the
working directory, a new ``/proc`` and a minimal ``/dev``, a cleared environment,
``--new-session`` (no terminal to push input into) and ``--die-with-parent``. bwrap's
own process is PID 1 of the namespace; when it dies the kernel kills every process in
it, so ``Worker`` ends a sandbox by killing that process and waiting for it: nothing
the code under test started, detached or stopped survives (``isolation.Worker._stop``).

The uid: run by root, bwrap sets up the view with root's rights (it can read the
Python installation under ``/root``) and ``setpriv`` then drops to a uid of the
sandbox's own (``uid_for``: one per sandbox, so that one sandbox's process count never
starves another's; a fork server's sandbox holds several workers, and its process limit
is per worker: ``Sandbox.workers``) with no capabilities, no supplementary groups and
no_new_privs.
Run by anyone else, bwrap makes a user namespace in which the worker is uid 65534 and
may make no further user namespace (``--disable-userns``). ``prlimit`` sets the limits
last, then the worker's Python starts.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from backprop_harness import ONE_BLAS_THREAD

__all__ = ["MODES", "WORKER_FILES", "PACKAGE_DIR", "LIMITS", "TMP_BYTES", "MAX_MESSAGE", "SANDBOX_UID", "UID_BASE",
           "UID_SLOTS", "PID_MAX", "PER_WORKER", "process_limit", "Unavailable", "Status", "status", "mode", "plan",
           "Sandbox", "code_dirs",
           "shows_harness", "uid_for", "uids_of", "describe", "popen_thread", "read_info", "processes",
           "kill_processes"]

MODES = ("strict", "auto", "off")
ROOT = Path(__file__).resolve().parent.parent

# What the worker process imports of the harness, relative to the harness's folder: the
# sandbox binds these files, read-only, under PACKAGE_DIR and nothing else of the harness
# (strict mode). Adjust it when the worker's imports change.
WORKER_FILES = (
    "backprop_harness/__init__.py",
    "backprop_harness/isolation.py",      # the child's main loop
    "backprop_harness/forkserver.py",     # the process that forks workers
    "backprop_harness/wire.py",           # the pipes' codec
    "backprop_harness/worker.py",         # loads and calls the implementation
    "backprop_harness/protocol.py",       # the protocol's names
)
PACKAGE_DIR = "/opt/backprop-harness"     # where the worker's modules are, inside the sandbox

# Resource limits of every process in a sandbox (setrlimit, through prlimit): name ->
# (value, why this figure).
LIMITS = {
    "as": (1 << 30, "address space, 1 GiB: a worker that has imported numpy maps ~100 MB, one that "
                    "imports torch ~600 MB (measured: VmPeak), and the largest answer the harness asks "
                    "for (a 256-512-10 network's gradient) is ~1 MB; an allocation of gigabytes fails "
                    "at once with MemoryError instead of taking the machine's memory"),
    "nproc": (32, "processes and threads of the sandbox's uid, for a sandbox of one worker process "
                  "(process_limit: a fork server's sandbox holds several): a worker runs 2 threads (BLAS "
                  "is held to one thread in the sandbox), a library may start a few; 32 stops a fork bomb "
                  "early. Each sandbox has its own uid, so this count is the sandbox's alone"),
    "nofile": (256, "open files: the worker holds a few pipes and module files; 256 stops a "
                    "descriptor leak long before the system's limit"),
    "fsize": (16 << 20, "largest file written, 16 MiB: the worker needs to write nothing; a write "
                        "past it fails (SIGXFSZ, or EFBIG where that signal is ignored)"),
    "cpu": (900, "CPU seconds per process, a backstop: every call has its own timeout (--impl-timeout) "
                 "and a grading run its --timeout (300 s); only a process that escaped both spins "
                 "this long"),
    "core": (0, "no core dumps"),
}
# each further worker process a sandbox may hold at once (a fork server's), and the server
PER_WORKER = 16


def process_limit(workers: int = 1) -> int:
    """RLIMIT_NPROC of a sandbox that may hold ``workers`` worker processes at once (and, for
    more than one, the fork server that forks them): LIMITS["nproc"] for one, PER_WORKER more
    for each further one and for the server, so that a fork bomb is stopped as early."""
    return LIMITS["nproc"][0] + (PER_WORKER * workers if workers > 1 else 0)


TMP_BYTES = 64 << 20    # the private /tmp (and HOME in it): 64 MiB, so a sandbox fills no disk
MAX_MESSAGE = 64 << 20  # a reply's largest size when sandboxed: 100x the largest legitimate one
SANDBOX_UID = 65534     # the uid inside a user namespace (unprivileged runs): nobody
# Privileged runs: each sandbox gets its own uid, UID_BASE + pid * UID_SLOTS + n, from the
# pid of the harness process that starts it (pids are below 2^22) and a counter of its
# sandboxes: unique among the sandboxes alive, far above the uids of users and of the
# usual subordinate ranges (100000 + 65536 n), below 2^31 (some tools read uids as signed).
UID_BASE = 1_500_000_000
UID_SLOTS = 16
PID_MAX = 1 << 22

_BWRAP = ("/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap")
_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")   # merged-/usr links or dirs
_counter = itertools.count()


class Unavailable(RuntimeError):
    """No sandbox can be built here (the message says why), and one was required."""


@dataclass(frozen=True)
class Status:
    available: bool
    reason: str               # why not, or what is used ("bubblewrap 0.8.0, ...")
    bwrap: str | None = None
    privileged: bool = False  # run by root: setpriv drops to a uid of the sandbox's own


_status: list = []


def status() -> Status:
    """Whether a sandbox can be built here: bwrap (and, as root, setpriv) present and a
    trial sandbox running Python works. Decided once per process."""
    if not _status:
        _status.append(_probe())
    return _status[0]


def _which(name: str, candidates=()) -> str | None:
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    return shutil.which(name)


def _probe() -> Status:
    if not sys.platform.startswith("linux"):
        return Status(False, f"the sandbox needs Linux namespaces; this is {sys.platform}")
    bwrap = _which("bwrap", _BWRAP)
    if bwrap is None:
        return Status(False, "bubblewrap is not installed (Debian: apt-get install bubblewrap)")
    privileged = os.geteuid() == 0
    for tool in ("prlimit",) + (("setpriv",) if privileged else ()):
        if not os.access(f"/usr/bin/{tool}", os.X_OK):      # inside, only /usr is there
            return Status(False, f"/usr/bin/{tool} (util-linux) is not installed")
    try:
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return Status(False, f"{bwrap} does not run: {exc}")
    trial = Status(True, version, bwrap, privileged)
    box = Sandbox(strict=True, code=(), root=ROOT, python=sys.executable, uid=uid_for(os.getpid()) if privileged
                  else None, status=trial)
    script = "import os, sys; print(os.getuid(), os.getpid(), sys.base_prefix)"
    try:
        proc = box.start([sys.executable, "-S", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
        stdout, stderr = proc.communicate(timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return Status(False, f"a trial sandbox did not run: {exc}")
    run = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    expected = f"{box.uid if privileged else SANDBOX_UID} 2 {sys.base_prefix}"
    if run.returncode != 0 or run.stdout.strip() != expected:
        said = (run.stderr or run.stdout).strip().splitlines()[-1:] or [f"exit status {run.returncode}"]
        return Status(False, f"a trial sandbox failed: {said[0]}")
    who = f"uids from {UID_BASE}, one per sandbox (setpriv)" if privileged else f"uid {SANDBOX_UID} in a user namespace"
    return Status(True, f"{version}, {who}", bwrap, privileged)


def mode(requested: str | None = None) -> str:
    """The mode asked for: ``requested``, else ``BACKPROP_SANDBOX``, else "auto"."""
    chosen = requested or os.environ.get("BACKPROP_SANDBOX") or "auto"
    if chosen not in MODES:
        raise ValueError(f"sandbox mode {chosen!r}: expected one of {MODES} (BACKPROP_SANDBOX)")
    return chosen


def uid_for(pid: int, n: int | None = None) -> int:
    """The host uid of a sandbox started by process ``pid`` (its ``n``-th, by default the next)."""
    if n is None:
        n = next(_counter)
    return UID_BASE + (pid % PID_MAX) * UID_SLOTS + n % UID_SLOTS


def uids_of(pid: int) -> range:
    """Every uid that the sandboxes started by process ``pid`` can run as."""
    first = UID_BASE + (pid % PID_MAX) * UID_SLOTS
    return range(first, first + UID_SLOTS)


def code_dirs(init: dict) -> tuple:
    """The folders the code under test is loaded from, as the plug-in worker's ``init``
    names them (``backprop_harness.worker``: ``sys_path`` and a file's own folder)."""
    dirs = [Path(p) for p in init.get("sys_path") or ()]
    if init.get("kind") == "file" and init.get("target"):
        dirs.append(Path(init["target"]).parent)
    seen = []
    for d in dirs:
        d = Path(os.path.abspath(d))
        if d not in seen:
            seen.append(d)
    return tuple(seen)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def shows_harness(folder: Path, root: Path = ROOT) -> bool:
    """Whether showing ``folder`` would show the harness's own files: the harness's folder
    or one above it, or a folder inside one of its parts (the zoo's entries included)."""
    folder, root = Path(os.path.abspath(folder)), Path(root).resolve()
    return _inside(root, folder) or any(_inside(folder, root / part) for part in _HIDDEN)


def _serves(handler: str) -> bool:
    module = handler.partition(":")[0]
    return module.replace(".", "/") + ".py" in WORKER_FILES


_said: set = set()


def _say_once(text: str) -> None:
    # sys.__stderr__: pytest's capture would hide it in the first test's output
    if text not in _said:
        _said.add(text)
        print(f"backprop-harness: {text}", file=sys.__stderr__ or sys.stderr, flush=True)


def plan(requested: str | None, handler: str, init: dict, *, root: Path = ROOT, python: str = sys.executable):
    """The sandbox a worker serving ``handler`` with ``init`` runs in, or None (unsandboxed).

    ``strict`` raises Unavailable where none can be built, or where the code's folders
    would show the harness; ``auto`` falls back to None and says once why."""
    chosen = mode(requested)
    if chosen == "off":
        return None
    if not _serves(handler):
        if chosen == "strict":
            raise Unavailable(f"the sandbox serves only the worker's own handlers (WORKER_FILES); {handler} "
                              f"is not one")
        return None          # a test's own handler (tests/isolation_handlers): the harness's code
    root = Path(root).resolve()
    code = code_dirs(init)
    if chosen == "auto" and code and all(_inside(d, root) for d in code):
        return None          # the reference, an adapter, a test plug-in: the harness's own code
    if chosen == "strict":
        hidden = [d for d in code if shows_harness(d, root)]
        if hidden:
            raise Unavailable(f"the code under test is loaded from {hidden[0]}, which holds the harness's own "
                              f"files; a strict sandbox shows the code's folder, so give the implementation's "
                              f"file from a folder of its own")
    state = status()
    if not state.available:
        if chosen == "strict":
            raise Unavailable(f"no sandbox can be built here: {state.reason}")
        _say_once(f"the code under test runs without a sandbox: {state.reason}")
        return None
    uid = uid_for(os.getpid()) if state.privileged else None
    return Sandbox(strict=chosen == "strict", code=code, root=root, python=python, uid=uid, status=state)


def _caches(root: Path) -> list:
    """The harness's and the user's caches: Hypothesis' databases, JAX's compilations, HOME's
    caches. A sandbox hides each under an empty tmpfs where a folder it shows holds one."""
    found = [root / ".hypothesis", Path.cwd() / ".hypothesis", Path.home() / ".cache"]
    for chosen in ("BACKPROP_JAX_CACHE", "HYPOTHESIS_STORAGE_DIRECTORY"):
        if os.environ.get(chosen):
            found.append(Path(os.environ[chosen]))
    return [Path(os.path.abspath(p)) for p in found]


# the harness's parts that a strict sandbox never shows: a code folder inside one is refused
_HIDDEN = ("reference", "oracles", "fixtures", "tests", "templates", "zoo", "conftest.py", "benchmarks", "docs")


@dataclass
class Sandbox:
    """One sandbox: what it shows (the harness's modules from ``root``, the code's
    folders), the host uid its processes run as (None: the caller's own, mapped to
    SANDBOX_UID in a user namespace) and the command that starts a process in it."""
    strict: bool
    code: tuple
    root: Path
    python: str
    uid: int | None
    status: Status
    workers: int = 1          # worker processes alive in it at once (a fork server's: more, and itself)

    @property
    def mode(self) -> str:
        return "strict" if self.strict else "auto"

    @property
    def max_message(self) -> int:
        """The largest reply the harness reads from a worker in this sandbox."""
        return MAX_MESSAGE

    def environment(self, extra: dict | None = None) -> dict:
        """The worker's whole environment: what Python needs, nothing of the caller's."""
        path = [PACKAGE_DIR] + ([] if self.strict else [str(self.root)])
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp/home", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
               "PYTHONPATH": os.pathsep.join(path), "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
               # one BLAS thread: the answers are small, and threads count against nproc
               **ONE_BLAS_THREAD}
        prefix = os.environ.get("PYTHONPYCACHEPREFIX")
        if prefix:         # grade's per-run bytecode, compiled by the harness: read-only in here
            env["PYTHONPYCACHEPREFIX"] = prefix
        env.update(extra or {})
        return env

    def launcher_env(self) -> dict:
        """bwrap's own environment (it passes none of it on: --clearenv)."""
        return {"PATH": "/usr/bin:/bin"}

    def _binds(self) -> list:
        # /tmp is the sandbox's own tmpfs, made first (options): code under /tmp is bound on it
        made: set = {"/tmp"}

        def bind(source, dest, how="--ro-bind"):
            # bwrap makes a destination's missing parents 0700, root's: the sandbox's uid
            # could not reach what is bound below them
            for parent in reversed(Path(dest).parents[:-1]):
                if str(parent) not in made:
                    made.add(str(parent))
                    args.extend(["--perms", "0755", "--dir", str(parent)])
            args.extend([how, str(source), str(dest)])

        args = []
        bind("/usr", "/usr")
        for link in _SYSTEM_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                bind(link, link)
        bind("/etc/ld.so.cache", "/etc/ld.so.cache", "--ro-bind-try")
        shown = [Path("/usr")]
        if not self.strict:
            bind(self.root, self.root)
            shown.append(self.root)
        python = Path(self.python)
        installs = [Path(sys.base_prefix), Path(sys.base_exec_prefix), Path(sys.prefix), Path(sys.exec_prefix),
                    python.parent.parent, python.resolve().parent.parent]
        for place in installs:
            place = Path(os.path.abspath(place))
            if place.is_dir() and not any(_inside(place, s) for s in shown):
                bind(place, place)
                shown.append(place)
        for rel in WORKER_FILES:
            source = self.root / rel
            if not source.is_file():
                raise Unavailable(f"the worker's module {source} is missing (sandbox.WORKER_FILES)")
            bind(source, f"{PACKAGE_DIR}/{rel}")
        prefix = os.environ.get("PYTHONPYCACHEPREFIX")
        if prefix and os.path.isdir(prefix):
            # the bytecode of what is shown, no more: the prefix also holds the harness's own
            # modules, compiled by the harness's side (the reference and the oracles among them)
            for place in shown:
                mirror = Path(prefix) / place.relative_to(place.anchor)
                if mirror.is_dir():
                    bind(mirror, mirror)
        for d in self.code:
            if any(_inside(d, s) for s in shown) or not d.is_dir():
                continue
            if self.status.privileged and d.stat().st_mode & 0o005 != 0o005:
                # a folder only its owner may enter (pytest's tmp_path, a home): the
                # sandbox's uid could not; its entries, bound one by one below a folder
                # the sandbox makes, keep their own modes
                for entry in sorted(os.listdir(d)):
                    bind(d / entry, d / entry, "--ro-bind-try")
            else:
                bind(d, d, "--ro-bind-try")
        # caches the code under test must not see although a folder shown holds them
        shown += list(self.code)
        for secret in _caches(self.root):
            if secret.is_dir() and any(_inside(secret, s) for s in shown):
                args += ["--tmpfs", str(secret)]
        return args

    def options(self, info_fd: int | None = None, env: dict | None = None) -> list:
        """bwrap's options: the namespaces, the view, the environment ``environment(env)``;
        bwrap writes its namespace's PID 1 (as the host sees it) to ``info_fd`` as JSON
        ({"child-pid": ...})."""
        options = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                   "--hostname", "sandbox", "--die-with-parent", "--new-session"]
        if not self.status.privileged:
            options += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns"]
        options += ["--proc", "/proc", "--dev", "/dev",
                    "--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp",
                    "--perms", "0777", "--dir", "/tmp/home", "--perms", "0777", "--dir", "/tmp/work"]
        options += self._binds()
        options += ["--remount-ro", "/", "--chdir", "/tmp/work", "--clearenv"]
        for key, value in self.environment(env).items():
            options += ["--setenv", key, str(value)]
        if info_fd is not None:
            options += ["--info-fd", str(info_fd)]
        return options

    def chain(self, argv: list) -> list:
        """What bwrap runs: the drop to the sandbox's uid, the limits, then ``argv``."""
        chain = []
        if self.status.privileged:
            chain += ["/usr/bin/setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                      "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        limits = {name: value for name, (value, _) in LIMITS.items()}
        limits["nproc"] = process_limit(self.workers)
        chain += ["/usr/bin/prlimit"] + [f"--{name}={value}" for name, value in limits.items()] + ["--"]
        return chain + list(argv)

    def command(self, argv: list, info_fd: int | None = None, env: dict | None = None) -> list:
        """The whole command that runs ``argv`` (the worker's Python) in this sandbox."""
        return [self.status.bwrap or "bwrap", *self.options(info_fd, env), "--", *self.chain(argv)]

    def start(self, argv: list, *, info_fd: int | None = None, env: dict | None = None, pass_fds=(),
              **popen) -> subprocess.Popen:
        """Start ``argv`` in this sandbox (``popen``'s other arguments as Popen's). bwrap
        reads its options from a memfd (--args), so that the sandbox's PID 1, whose
        command line every process inside can read, does not list the view's paths."""
        fd = os.memfd_create("bwrap-options")
        try:
            os.write(fd, b"".join(o.encode() + b"\0" for o in self.options(info_fd, env)))
            os.lseek(fd, 0, os.SEEK_SET)
            command = [self.status.bwrap or "bwrap", "--args", str(fd), "--", *self.chain(argv)]
            return popen_thread(command, pass_fds=(*pass_fds, fd), env=self.launcher_env(), **popen)
        finally:
            os.close(fd)

    def describe(self) -> str:
        who = f"uid {self.uid}" if self.uid is not None else f"uid {SANDBOX_UID} in a user namespace"
        return f"{self.mode} sandbox ({self.status.reason.split(',')[0]}, {who})"


def describe(requested: str | None = None) -> str:
    """One line for a report's header: the mode and what it is built from, or why not."""
    chosen = mode(requested)
    if chosen == "off":
        return "sandbox: off"
    state = status()
    if not state.available:
        return f"sandbox: {chosen}, unavailable: {state.reason}"
    limits = ", ".join(f"{name} {value}" for name, (value, _) in LIMITS.items())
    return f"sandbox: {chosen} ({state.reason}; limits: {limits})"


# -- starting one -------------------------------------------------------------------------------

_requests: list = []


def popen_thread(command: list, **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(command, **kwargs)``, run on a thread that lives as long as the
    process. bwrap's --die-with-parent is the kernel's parent-death signal, which fires
    when the *thread* that started bwrap ends: a worker started on a passing thread (the
    plug-in path loads its spare workers on one) would die with that thread."""
    if not _requests:
        import queue
        _requests.append(queue.Queue())
        threading.Thread(target=_launch, args=(_requests[0],), name="sandbox-launcher", daemon=True).start()
    done, box = threading.Event(), {}
    _requests[0].put((command, kwargs, box, done))
    done.wait()
    if "error" in box:
        raise box["error"]
    return box["proc"]


def _launch(requests) -> None:
    while True:
        command, kwargs, box, done = requests.get()
        try:
            box["proc"] = subprocess.Popen(command, **kwargs)
        except BaseException as exc:      # the caller's to raise
            box["error"] = exc
        finally:
            done.set()


# -- processes of a sandbox, as the host sees them ----------------------------------------------

def processes(uids) -> list:
    """The host pids of the live (not zombie) processes whose real uid is in ``uids``."""
    uids = set(uids) if not isinstance(uids, range) else uids
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:                       # gone meanwhile
            continue
        if int(fields["Uid"].split()[0]) in uids and not fields["State"].strip().startswith("Z"):
            found.append(int(entry))
    return found


def kill_processes(uids, timeout: float = 10.0) -> list:
    """SIGKILL every process running as one of ``uids`` until none is left (a sandbox's
    uid is its own: nothing else runs as it); the pids that were found. Raises
    TimeoutError if some are still there after ``timeout`` seconds."""
    deadline, seen = time.monotonic() + timeout, []
    while True:
        left = processes(uids)
        if not left:
            return seen
        seen += [p for p in left if p not in seen]
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes {left} of the sandbox's uids survive SIGKILL")
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)


def read_info(fd: int, deadline: float) -> dict:
    """bwrap's --info-fd JSON (the namespace's PID 1 as "child-pid"), read before ``deadline``."""
    import select
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError("bwrap did not report its namespace in time")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise EOFError("bwrap ended before it reported its namespace")
        data += chunk
        try:
            return json.loads(data)
        except ValueError:
            continue
