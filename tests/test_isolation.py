"""The worker process: whatever the code in it does, the harness gets a result or a
WorkerLost, never a hang, a patched numpy or a crash of its own; and the wire
codec between the two never runs what it decodes.

The handlers live in tests/isolation_handlers/ (``hostile`` misbehaves on request).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backprop_harness import wire
from backprop_harness.isolation import Worker, WorkerError, WorkerLost
from backprop_harness.wire import WireError, decode, encode

ECHO = "tests.isolation_handlers.echo:factory"
HOSTILE = "tests.isolation_handlers.hostile:factory"


@pytest.fixture
def hostile():
    # the default timeout, so a loaded machine does not fail the calls that are meant to
    # answer; the hang test sets its own
    with Worker(HOSTILE, {}) as w:
        yield w


@pytest.fixture(scope="module")
def echo():
    with Worker(ECHO, {}, call_timeout=5.0) as w:
        yield w


def _gone(pid: int) -> bool:
    """No such process, or only a zombie that nobody has reaped yet."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


# -- wire ---------------------------------------------------------------------

def test_wire_round_trip_keeps_dtypes_shapes_and_non_finite_values():
    msg = {"f32": np.arange(6, dtype=np.float32).reshape(2, 3), "scalar": np.float32(1.5),
           "f64": np.float64(0.1), "big_endian": np.arange(3, dtype=">i4"), "bool": np.array([True, False]),
           "complex": np.array([1 + 2j], dtype=np.complex64), "empty": np.zeros((0, 3)),
           "strided": np.arange(12.0).reshape(3, 4)[:, ::2], "nan": [float("nan"), float("inf"), -float("inf")],
           "tuple": (1, "two", None, True), "nested": {"a": [np.int8(-1)]}}
    got = decode(encode(msg))
    assert got.keys() == msg.keys()
    for k in ["f32", "big_endian", "bool", "complex", "empty", "strided"]:
        assert got[k].dtype == msg[k].dtype and got[k].shape == msg[k].shape, k
        np.testing.assert_array_equal(got[k], msg[k])
        assert got[k].flags.writeable, k
    assert got["scalar"].dtype == np.float32 and got["scalar"].shape == () and got["scalar"] == 1.5
    assert got["f64"].dtype == np.float64 and got["f64"] == 0.1
    assert np.isnan(got["nan"][0]) and got["nan"][1:] == [float("inf"), -float("inf")]
    assert got["tuple"] == [1, "two", None, True]
    assert got["nested"]["a"][0].dtype == np.int8 and got["nested"]["a"][0] == -1


@pytest.mark.parametrize("obj, where, what", [
    ({"grads": [1, 2, {3}]}, 'message["grads"][2]', "cannot send a set"),
    ([object()], "message[0]", "cannot send an object"),
    ({1: 2}, "message", "keys must be str"),
    ({"a": np.array(["x"])}, 'message["a"]', "dtype <U1"),
    (np.array([None]), "message", "dtype object"),
    (np.zeros(2, dtype="f4,f4"), "message", "dtype"),
    ({"__ndarray__": 1}, "message", "reserved"),
])
def test_encode_refuses_what_it_cannot_send_and_names_where(obj, where, what):
    with pytest.raises(WireError) as info:
        encode(obj)
    assert str(info.value).startswith(where + ":") and what in str(info.value)


def _array_msg(**spec):
    return ('{"__ndarray__": %s}' % str(spec).replace("'", '"')).encode()


@pytest.mark.parametrize("data, what", [
    (b"not json", "not a valid message"),
    (b'{"a": [1, 2', "not a valid message"),
    (b"\xff\xfe\x00", "not a valid message"),
    (_array_msg(dtype="|O", shape=[1], data="AAAAAAAAAAA="), "'|O' is not allowed"),
    (_array_msg(dtype="<U1", shape=[1], data="AAAAAA=="), "is not allowed"),
    (_array_msg(dtype="<f8", shape=[2], data="AAAAAAAAAAA="), "8 bytes of data for shape (2,)"),
    (_array_msg(dtype="<f8", shape=[-1], data=""), "is not a list of at most 64 sizes"),
    (_array_msg(dtype="<f8", shape=[1], data="!!!!"), "base64"),
    (_array_msg(dtype="<f8", shape=[1]), "expected the fields dtype, shape, data"),
    (b'{"__ndarray__": {"dtype": "<f8", "shape": [0], "data": ""}, "x": 1}', "beside other keys"),
])
def test_decode_rejects_malformed_messages(data, what):
    with pytest.raises(WireError) as info:
        decode(data)
    assert what in str(info.value)


def test_read_message_refuses_an_announced_length_above_the_limit():
    r, w = os.pipe()
    try:
        os.write(w, (10_000).to_bytes(8, "big"))
        with pytest.raises(WireError, match="10000 bytes was announced, above the limit of 100 bytes"):
            wire.read_message(r, time.monotonic() + 1, max_bytes=100)
        with pytest.raises(TimeoutError):
            wire.read_message(r, time.monotonic() + 0.05)
    finally:
        os.close(r)
        os.close(w)


# -- the worker answers, and nothing it does reaches the parent -----------------

def test_arrays_cross_the_process_boundary_intact(echo):
    big = np.random.default_rng(0).standard_normal(1_000_000)
    got = echo.call({"f32": np.ones((2, 2), np.float32), "scalar": np.float32(2.5), "big": big,
                     "odd": np.array([np.nan, np.inf, -np.inf, -0.0])})
    assert got["f32"].dtype == np.float32 and got["scalar"].dtype == np.float32 and got["scalar"].shape == ()
    assert got["big"].dtype == np.float64 and np.array_equal(got["big"], big)
    np.testing.assert_array_equal(got["odd"], [np.nan, np.inf, -np.inf, -0.0])
    assert np.signbit(got["odd"][3])


def test_the_worker_runs_in_a_fresh_scratch_directory_with_the_given_environment():
    w = Worker(ECHO, {"env": ["FOO", "PYTHONPATH"]}, env={"FOO": "bar"})
    with w:
        info = w.info
        assert info["pid"] == w.pid != os.getpid()
        assert info["cwd"] != os.getcwd() and info["listing"] == []
        assert os.path.isdir(info["cwd"])
        assert info["env"]["FOO"] == "bar"
        assert info["env"]["PYTHONPATH"].split(os.pathsep)[0] == os.path.dirname(os.path.dirname(wire.__file__))
    assert not os.path.exists(info["cwd"])


def test_patching_numpy_in_the_worker_leaves_the_parent_alone(hostile):
    assert hostile.call({"do": "patch_numpy"}) == "done"
    assert hostile.call({"do": "sum", "x": [1, 2, 3]}) == 42   # the patch took, over there
    assert np.sum([1, 2, 3]) == 6


def test_files_the_worker_writes_go_to_its_scratch_directory_and_away(hostile):
    path = hostile.call({"do": "write_file"})
    assert os.path.dirname(path) != os.getcwd() and os.path.exists(path)
    hostile.close()
    assert not os.path.exists(path)


def test_flooding_stdout_neither_blocks_nor_fills_memory(hostile):
    assert hostile.call({"do": "flood"}, timeout=10) == "answered"
    tail = hostile.output_tail()
    first, rest = tail.split("\n", 1)
    omitted = int(first.removeprefix("[... ").removesuffix(" bytes omitted]"))
    assert omitted + len(rest.encode()) == 50_000_000 + len("flood done\n")
    assert len(rest.encode()) <= 64 * 1024 and rest.endswith("flood done\n")


def test_the_worker_ignores_sigint(hostile):
    assert hostile.call({"do": "sigint"}) == "survived"


# -- a lost worker is a WorkerLost, and the next call gets a fresh one ------------

def test_a_hang_is_killed_at_the_timeout_and_the_next_call_starts_afresh(hostile):
    first = hostile.info["pid"]
    start = time.monotonic()
    with pytest.raises(WorkerLost) as info:
        hostile.call({"do": "sleep"}, timeout=1.0, label="mlp_gradients")
    assert time.monotonic() - start < 1.0 + 5.0      # killed near its timeout, not after the hour it sleeps
    assert info.value.kind == "timeout"
    assert "did not answer within 1 s (call: mlp_gradients)" in str(info.value)
    assert _gone(first)
    assert hostile.call({"do": "nothing"}) == "done"
    assert hostile.starts == 2 and hostile.pid != first and hostile.info["pid"] == hostile.pid


def test_an_exit_is_reported_with_its_status_at_once(hostile):
    hostile.call_timeout = 30.0   # the death, not the deadline, must end the wait
    start = time.monotonic()
    with pytest.raises(WorkerLost) as info:
        hostile.call({"do": "exit", "status": 3}, label="mlp_gradients")
    assert time.monotonic() - start < 5.0
    assert info.value.kind == "exit"
    assert "exited with status 3 during mlp_gradients" in info.value.message
    assert "about to exit" in info.value.output
    assert str(info.value).endswith("last output of the worker:\n    about to exit")
    assert hostile.pid is None and hostile.call({"do": "nothing"}) == "done" and hostile.starts == 2


def test_a_segfault_is_reported_with_the_signal_and_the_python_stack(hostile):
    with pytest.raises(WorkerLost) as info:
        hostile.call({"do": "segfault"}, label="mlp_gradients")
    assert info.value.kind == "signal"
    assert "SIGSEGV (segmentation fault) during mlp_gradients" in info.value.message
    assert "Fatal Python error" in info.value.output or "Segmentation fault" in info.value.output
    assert "hostile.py" in info.value.output   # faulthandler's stack names the culprit
    assert hostile.call({"do": "nothing"}) == "done"


@pytest.mark.parametrize("do, what", [("garbage", "not a valid message"),
                                      ("oversize", "above the limit of 536870912 bytes")])
def test_garbage_on_the_reply_pipe_is_a_protocol_error(hostile, do, what):
    with pytest.raises(WorkerLost) as info:
        hostile.call({"do": do})
    assert info.value.kind == "protocol" and what in info.value.message
    assert hostile.call({"do": "nothing"}) == "done" and hostile.starts == 2


def test_a_reply_above_max_message_is_a_protocol_error():
    with Worker(HOSTILE, {}, max_message=10_000) as w:
        assert w.call({"do": "big", "n": 10}).shape == (10,)
        with pytest.raises(WorkerLost, match="above the limit of 10000 bytes") as info:
            w.call({"do": "big", "n": 10_000})
        assert info.value.kind == "protocol"


def test_close_leaves_no_process(hostile):
    pid = hostile.info["pid"]
    hostile.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert hostile.pid is None


def test_the_worker_dies_with_its_parent_even_while_busy(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from backprop_harness.isolation import Worker
        w = Worker({HOSTILE!r}, {{}}, call_timeout=60)
        print(w.info["pid"], w.call({{"do": "spawn"}}), flush=True)
        w.call({{"do": "sleep"}})
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=os.path.dirname(os.path.dirname(wire.__file__)),
                              env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        child, grandchild = map(int, parent.stdout.readline().split())
        time.sleep(0.2)   # let the child get into its handler
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    deadline = time.monotonic() + 3.0
    for pid, what in ((child, "worker"), (grandchild, "process the plug-in started")):
        while not _gone(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"{what} {pid} outlived the harness")
            time.sleep(0.05)
    assert not [d for d in os.listdir(tmp_path) if d.startswith("backprop-worker-")]   # its scratch went too


# -- errors of the handler itself -----------------------------------------------

@pytest.mark.parametrize("do, what", [("raise", "ValueError: the handler is broken"),
                                      ("system_exit", "SystemExit: 2"),
                                      ("unencodable", 'reply["grads"][2]: cannot send a set')])
def test_a_handler_error_is_a_worker_error_and_the_worker_stays(hostile, do, what):
    pid = hostile.info["pid"]
    with pytest.raises(WorkerError) as info:
        hostile.call({"do": do}, label="mlp_gradients")
    assert what in info.value.traceback and "during mlp_gradients" in str(info.value)
    assert hostile.pid == pid and hostile.call({"do": "nothing"}) == "done" and hostile.starts == 1


def test_a_failing_factory_is_a_worker_error_and_leaves_no_process():
    with Worker(HOSTILE, {"factory": "raise"}) as w:
        with pytest.raises(WorkerError, match="RuntimeError: the factory is broken"):
            _ = w.info
        assert w.pid is None and w.starts == 1


def test_a_start_that_hangs_is_killed_at_the_start_timeout():
    with Worker(HOSTILE, {"factory": "sleep"}, start_timeout=0.5) as w:
        with pytest.raises(WorkerLost, match=r"did not start within 0.5 s") as info:
            w.call({"do": "nothing"}, label="mlp_gradients")
        assert info.value.kind == "timeout" and w.pid is None


def test_an_unencodable_request_is_refused_before_the_worker_starts():
    with Worker(ECHO, {}) as w:
        with pytest.raises(WireError, match=r'request\["x"\]: cannot send a set'):
            w.call({"x": {1}})
        assert w.starts == 0


# -- WorkerLost and Hypothesis --------------------------------------------------

def test_worker_lost_escapes_hypothesis_without_shrinking():
    assert not issubclass(WorkerLost, Exception)
    calls = []

    @settings(max_examples=50, database=None, deadline=None)
    @given(st.integers())
    def prop(n):
        calls.append(n)
        raise WorkerLost("timeout", "the implementation did not answer within 1 s")

    with pytest.raises(WorkerLost):
        prop()
    assert len(calls) == 1


def test_worker_lost_shows_a_bounded_tail_of_the_output():
    lost = WorkerLost("exit", "the worker process exited with status 3", "\n".join(map(str, range(1000))))
    text = str(lost)
    assert text.startswith("the worker process exited with status 3\nlast output of the worker:\n    [...]\n")
    assert text.endswith("\n    999") and len(text.splitlines()) == 2 + 1 + 40
    assert str(WorkerLost("timeout", "late")) == "late"


def test_a_packet_cut_short_or_not_json_is_refused_and_its_descriptors_closed():
    import socket
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours, theirs:
        for packet, limit in ((b'{"cwd": "/tmp"}' + b" " * 100, 16), (b"not json", 1024)):
            r, w = os.pipe()
            socket.send_fds(theirs, [packet], [r])
            os.close(r)
            before = len(os.listdir("/proc/self/fd"))
            with pytest.raises(WireError):
                wire.receive_packet(ours, limit, 1)
            assert len(os.listdir("/proc/self/fd")) == before      # the copy of r it received is closed
            os.close(w)
        socket.send_fds(theirs, [b'{"cwd": null}'], [])
        assert wire.receive_packet(ours, 1024, 1) == ({"cwd": None}, [])
        theirs.shutdown(socket.SHUT_WR)
        assert wire.receive_packet(ours, 1024, 1) == (None, [])
