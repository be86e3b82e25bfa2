"""Workers forked by a fork server (``backprop_harness/forkserver.py``): each is a process
that has answered nothing, with its own state, folder and numpy random state and the
harness's current environment; it is lost and replaced as a worker started on its own
is; a server that the code under test stops or kills is replaced while the workers it
forked before go on; and every process is gone with the server.

Unsandboxed through the hostile handler (tests/isolation_handlers), sandboxed through
the plug-in worker and a probe file, as tests/test_sandbox.py does.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from backprop_harness import sandbox
from backprop_harness.forkserver import ForkServer
from backprop_harness.isolation import Worker, WorkerLost
from backprop_harness.plugin import Implementation, resolve
from oracles.cases import ManualCase

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "tests.isolation_handlers.hostile:factory"
HANDLER = "backprop_harness.worker:factory"
STATE = sandbox.status()
needs_sandbox = pytest.mark.skipif(not STATE.available, reason=f"no sandbox here: {STATE.reason}")


@pytest.fixture
def server():
    forks = ForkServer(HOSTILE, {}, sandbox="off")
    yield forks
    forks.close()


def forked(forks: ForkServer, **kwargs) -> Worker:
    return Worker(forks.handler, forks.init, sandbox=forks.sandbox_mode, forks=forks, **kwargs)


def _gone(pid: int, within: float = 5.0) -> bool:
    """No such process (or a zombie nobody reaped yet) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def test_each_forked_worker_is_a_process_of_its_own(server, monkeypatch):
    with forked(server) as a, forked(server) as b:
        assert a.info["pid"] == a.pid and b.info["pid"] == b.pid and a.pid != b.pid
        started = server.starts      # the unsandboxed server is shared: other tests may have started it
        assert a.call({"do": "patch_numpy"}) == "done" and a.call({"do": "sum", "x": [1, 2]}) == 42
        assert b.call({"do": "sum", "x": [1, 2]}) == 3                 # the other one's numpy is its own
        assert a.call({"do": "random"}) != b.call({"do": "random"})    # seeded afresh, as a new interpreter's
        folders = [Path(w.call({"do": "write_file"})).parent for w in (a, b)]
        assert folders[0] != folders[1]
        # the environment of the harness now, not the server's at its start
        monkeypatch.setenv("PYTEST_CURRENT_TEST", "this one")
        with forked(server) as c:
            assert c.call({"do": "environ", "name": "PYTEST_CURRENT_TEST"}) == "this one"
    assert not any(f.exists() for f in folders)                        # removed with their workers
    assert server.starts == started


@pytest.mark.parametrize("request_, kind, message", [
    ({"do": "sleep"}, "timeout", "did not answer within 0.5 s"),
    ({"do": "exit", "status": 3}, "exit", "exited with status 3"),
    ({"do": "segfault"}, "signal", "SIGSEGV"),
])
def test_a_forked_worker_that_hangs_or_dies_is_lost_and_the_next_one_forked(server, request_, kind, message):
    with forked(server, call_timeout=0.5) as w:
        assert w.info
        first, started = w.pid, server.starts
        with pytest.raises(WorkerLost) as info:
            w.call(request_)
        assert info.value.kind == kind and message in str(info.value)
        assert _gone(first)
        assert w.call({"do": "nothing"}) == "done" and w.starts == 2 and w.pid != first
    assert server.starts == started


@pytest.mark.parametrize("sig", [signal.SIGSTOP, signal.SIGKILL])
def test_a_server_the_code_stops_or_kills_is_replaced(server, sig):
    with forked(server) as first, forked(server) as hostile:
        assert first.call({"do": "nothing"}) == "done" and hostile.call({"do": "nothing"}) == "done"
        started = server.starts
        assert hostile.call({"do": "signal_parent", "signal": int(sig)}) == "sent"
        with forked(server) as after:
            assert after.call({"do": "nothing"}) == "done"
        assert server.starts == started + 1
        if sig == signal.SIGSTOP:          # the workers forked before go on
            assert first.call({"do": "nothing"}) == "done"


def test_a_worker_and_its_server_serve_the_same_code(server):
    with pytest.raises(ValueError, match="fork server"):
        Worker(HOSTILE, {"factory": "raise"}, forks=server)


def test_unsandboxed_implementations_share_a_server_unless_their_start_up_environment_differs(monkeypatch):
    one, two = ForkServer(HOSTILE, {}, sandbox="off"), ForkServer(HOSTILE, {"other": 1}, sandbox="off")
    monkeypatch.setenv("BACKPROP_TEST_START_UP", "1")
    three = ForkServer(HOSTILE, {}, sandbox="off")
    try:
        monkeypatch.delenv("BACKPROP_TEST_START_UP")
        for forks in (one, two):
            with forked(forks) as w:
                assert w.call({"do": "nothing"}) == "done"
        monkeypatch.setenv("BACKPROP_TEST_START_UP", "1")
        with forked(three) as w:
            assert w.call({"do": "environ", "name": "BACKPROP_TEST_START_UP"}) == "1"
        assert one._server is two._server and three._server is not one._server
    finally:
        for forks in (one, two, three):
            forks.close()


def test_forked_workers_die_with_the_harness(tmp_path):
    script = textwrap.dedent(f"""
        import threading
        from backprop_harness.forkserver import ForkServer
        from backprop_harness.isolation import Worker
        forks = ForkServer({HOSTILE!r}, {{}}, sandbox="off")
        w = Worker({HOSTILE!r}, {{}}, sandbox="off", forks=forks)
        print(w.pid if w.info else 0, w.call({{"do": "spawn"}}), w.call({{"do": "where"}})["cwd"], flush=True)
        threading.Thread(target=w.call, args=({{"do": "sleep"}}, 600), daemon=True).start()   # busy
        threading.Event().wait()
    """)
    harness = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        worker, spawned, folder = harness.stdout.readline().split()
        worker, spawned = int(worker), int(spawned)
        assert not _gone(worker, within=0) and Path(folder).is_dir()
    finally:
        harness.kill()
        harness.wait()
        harness.stdout.close()
    assert _gone(worker) and _gone(spawned)
    deadline = time.monotonic() + 5.0            # its folder goes with it
    while Path(folder).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not Path(folder).exists()


# --- in a sandbox -------------------------------------------------------------------------------

def _probe(folder: Path, body: str, **kwargs) -> ForkServer:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probe.py").write_text(textwrap.dedent(body))
    return ForkServer(HANDLER, {"kind": "file", "target": str(folder / "probe.py"), "sys_path": [str(folder)]},
                      sandbox="strict", **kwargs)


FORWARD = {"fn": "forward", "args": [[1.0, 2.0], [0.1] * 8]}


@needs_sandbox
def test_a_sandboxed_server_stopped_by_its_code_is_replaced_and_everything_ends_with_it(tmp_path):
    forks = _probe(tmp_path / "code", '''
        import os, signal, subprocess
        def forward(x, w):
            if x[0] == 1.0:
                detached = subprocess.Popen(["sleep", "600"], start_new_session=True, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
                return [detached.pid, os.getpid()]
            os.kill(os.getppid(), signal.SIGSTOP)       # its parent: the server
            return []
    ''')
    try:
        with forked(forks) as first, forked(forks) as hostile:
            assert first.call(FORWARD)["status"] == "ok"
            assert hostile.call({**FORWARD, "args": [[2.0, 2.0], [0.1] * 8]})["status"] == "ok"
            with forked(forks) as after:
                assert after.call(FORWARD)["status"] == "ok"
            assert first.call(FORWARD)["status"] == "ok"
            assert forks.starts == 2 and first.sandbox is not None and first.sandbox.uid == after.sandbox.uid
        uid = first.sandbox.uid
        if STATE.privileged:
            assert sandbox.processes([uid])          # detached sleeps and the servers live on the sandbox
    finally:
        forks.close()
    if STATE.privileged:
        deadline = time.monotonic() + 5.0
        while sandbox.processes([uid]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sandbox.processes([uid]) == []




@pytest.mark.skipif(os.environ.get("PYTHONHASHSEED", "random") != "random",
                    reason="PYTHONHASHSEED fixes every interpreter's hash seed")
def test_the_determinism_check_s_new_processes_hash_with_another_seed_than_the_worker(tmp_path):
    """A walk over a set of strings may go another way in a new interpreter: the new
    processes come from a server of their own, so their seed is not the worker's."""
    (tmp_path / "seeded.py").write_text("def gradients(x, t, w):\n    return [float(hash('backprop'))] * 8\n")
    impl = Implementation(resolve(str(tmp_path / "seeded.py")), sandbox="off")
    try:
        case = ManualCase([3.0, 1.0], [1.0, 0.0], [6.0, -3.0, -2.0, 5.0, 1.0, -2.0, 0.25, 2.0])
        worker = impl.answer(case, "gradients").gradient.grads
        assert impl.answer(case, "gradients").gradient.grads == worker          # one process, one seed
        fresh = [impl.fresh_answer(case, "gradients").gradient.grads for _ in range(2)]
        assert fresh[0] == fresh[1] and fresh[0] != worker
    finally:
        impl.close()


def test_a_worker_starts_where_a_new_interpreter_would_with_the_whole_environment(monkeypatch):
    monkeypatch.setenv("BACKPROP_TEST_LONG", "x" * 8000)      # a spawn request carries the environment
    forks = ForkServer(HOSTILE, {}, sandbox="off")
    try:
        monkeypatch.setenv("PYTEST_CURRENT_TEST", "after the server started")
        with forked(forks) as w:
            where = w.call({"do": "where"})
            assert where["cwd"] == where["path0"] and Path(where["cwd"]).name.startswith("backprop-worker-")
            assert where["argv"][2] == HOSTILE
            assert w.call({"do": "environ", "name": "PYTEST_CURRENT_TEST"}) == "after the server started"
            assert w.call({"do": "environ", "name": "BACKPROP_TEST_LONG"}) == "x" * 8000
        assert not Path(where["cwd"]).exists()
    finally:
        forks.close()


@pytest.mark.skipif(not os.access("/proc/sys/kernel/ns_last_pid", os.W_OK), reason="needs root (ns_last_pid)")
def test_a_worker_s_pid_stays_its_own_until_it_is_killed_and_waited_for(server):
    """The server reaps a worker only when the harness is done with it: a worker that died
    long before its close cannot have its pid (its process group's id) taken by a stranger,
    whom the close's kill would reach."""
    with forked(server) as w:
        assert w.info
        pid = w.pid
        os.kill(pid, signal.SIGKILL)
        assert _gone(pid)                                   # a zombie, held by the server
        time.sleep(0.2)                                     # (a server that reaped at once has done so by now)
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        stranger = subprocess.Popen(["sleep", "30"], start_new_session=True)
        try:
            assert stranger.pid != pid
            w.close()
            assert stranger.poll() is None                  # not killed by the worker's close
        finally:
            stranger.kill()
            stranger.wait()


@needs_sandbox
def test_a_sandbox_holds_every_worker_its_pool_may_hold_and_a_fork_that_fails_fails_alone(tmp_path):
    threads = '''
        import threading, time
        for _ in range(THREADS):
            threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
        def forward(x, w):
            return [threading.active_count()]
    '''
    # as many workers alive at once as a run's "fresh" pool may hold, each with a library's few threads
    alive = Implementation.MAX_AHEAD + 1
    forks = _probe(tmp_path / "pool", threads.replace("THREADS", "6"), workers=alive)
    workers = [forked(forks) for _ in range(alive)]
    try:
        assert all(w.info["loaded"] for w in workers)
        assert all(w.call(FORWARD)["result"][0] == 8 for w in workers)   # main, watcher, six
    finally:
        for w in workers:
            w.close()
        forks.close()
    # one worker's allowance (sandbox.process_limit(1): 32 tasks) for two workers of 16 threads
    # each: the second fails to start (its fork, its watcher thread or its import's threads,
    # whichever the limit stops first), alone: the first still answers
    forks = _probe(tmp_path / "one", threads.replace("THREADS", "16"), workers=1)
    try:
        with forked(forks) as first:
            assert first.call(FORWARD)["status"] == "ok"
            with forked(forks) as second:
                try:
                    loaded = second.info["loaded"]
                except WorkerLost:
                    loaded = False
                assert not loaded
            assert first.call(FORWARD)["status"] == "ok"
    finally:
        forks.close()


@needs_sandbox
def test_a_sandboxed_worker_cannot_reach_into_its_server_and_has_its_own_folders(tmp_path):
    forks = _probe(tmp_path / "code", '''
        import os, sys, tempfile, zlib
        def forward(x, w):
            try:
                with open(f"/proc/{os.getppid()}/mem", "rb"):
                    memory = "opened"
            except OSError as exc:
                memory = type(exc).__name__
            here = os.getcwd()
            return [float(memory == "PermissionError"), float(here == tempfile.gettempdir() == os.environ["HOME"]),
                    float(here in sys.path and "/tmp/work" not in sys.path), float(zlib.crc32(here.encode()))]
    ''')
    try:
        with forked(forks) as a, forked(forks) as b:
            seen = [[float(v) for v in w.call(FORWARD)["result"]] for w in (a, b)]
        # the server is not dumpable: its memory, and so every worker forked after, is out of reach
        assert [s[:3] for s in seen] == [[1.0, 1.0, 1.0]] * 2, seen
        assert seen[0][3] != seen[1][3]                  # a folder of its own each
    finally:
        forks.close()
