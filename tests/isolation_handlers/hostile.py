"""A handler that misbehaves as each request says (``{"do": "segfault"}``), the way
a plug-in might; ``init={"factory": "raise"}`` makes the factory itself fail."""
import ctypes
import fcntl
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np


def _reply_fd():
    # The worker keeps its reply pipe under a number of its own choosing: find
    # the one write-only pipe besides stdout/stderr, as stray plug-in code might.
    for fd in range(3, 256):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                return fd
        except OSError:
            pass
    raise RuntimeError("no reply pipe found")


class Hostile:
    def handle(self, request):
        do = request["do"]
        if do == "spawn":        # a process of the plug-in's own, which must not outlive it
            return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]).pid
        if do == "sleep":
            time.sleep(3600)
        if do == "exit":
            print("about to exit", flush=True)
            os._exit(request.get("status", 3))
        if do == "segfault":
            ctypes.string_at(0)
        if do == "flood":
            sys.stdout.write(("y" * 99 + "\n") * 500_000)   # 50 MB
            print("flood done")
            return "answered"
        if do == "patch_numpy":
            np.sum = lambda *args, **kwargs: 42
        if do == "sum":
            return np.sum(np.asarray(request["x"]))
        if do == "raise":
            raise ValueError("the handler is broken")
        if do == "system_exit":
            sys.exit(2)
        if do == "sigint":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
            return "survived"
        if do == "unencodable":
            return {"grads": [np.zeros(2), 1.0, {3}]}
        if do == "garbage":
            os.write(_reply_fd(), (5).to_bytes(8, "big") + b"hello")
        if do == "oversize":
            os.write(_reply_fd(), b"\xff" * 8)
        if do == "big":
            return np.zeros(request["n"])
        if do == "random":       # numpy's global state, seeded by the process
            return float(np.random.random())
        if do == "environ":
            return os.environ.get(request["name"])
        if do == "parent_memory":     # what another process of the same uid may do to its parent
            try:
                with open(f"/proc/{os.getppid()}/mem", "rb"):
                    return "opened"
            except OSError as exc:
                return type(exc).__name__
        if do == "where":
            import tempfile
            return {"cwd": os.getcwd(), "path0": sys.path[0], "tmp": tempfile.gettempdir(), "argv": sys.argv[1:]}
        if do == "signal_parent":
            os.kill(os.getppid(), request["signal"])
            return "sent"
        if do == "write_file":
            with open("scribble.txt", "w") as f:
                f.write("scribble")
            return os.path.abspath("scribble.txt")
        return "done"


def factory(init):
    if init.get("factory") == "raise":
        raise RuntimeError("the factory is broken")
    if init.get("factory") == "sleep":
        time.sleep(3600)
    return Hostile(), {"pid": os.getpid()}
