"""The message codec between the harness and its worker process: JSON, never pickle.

The parent decodes replies written by untrusted code, so decoding must not be
able to run anything: a message is JSON (``NaN``/``Infinity`` allowed) whose
values are None, bool, int, float, str, list and dict with str keys, plus
numpy arrays written as

    {"__ndarray__": {"dtype": "<f8", "shape": [2, 3], "data": "<base64 of the C-order bytes>"}}

A numpy scalar travels as a 0-d array, so np.float32(1.5) comes back as a 0-d
float32 array and the harness can still tell float32 results from float64.
Tuples come back as lists. Only plain numeric dtypes cross (``DTYPES``).

A frame on a pipe is an 8-byte big-endian length, then the payload. The fork servers'
control sockets (SOCK_SEQPACKET) carry plain JSON packets with descriptors beside them
(``receive_packet``).
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import os
import select
import time

import numpy as np

__all__ = ["WireError", "DTYPES", "encode", "decode", "write_message", "write_frame", "read_message",
           "receive_packet"]

DTYPES = "bool, int8..int64, uint8..uint64, float16/32/64, complex64/128 (either byte order)"
_DTYPE_STRS = frozenset(np.dtype(t).newbyteorder(order).str
                        for t in ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"]
                        for order in "<>")
_ARRAY_KEY = "__ndarray__"
_HEADER = 8


class WireError(ValueError):
    """A value that cannot be sent, or bytes that are not a well-formed message."""


def _a(name: str) -> str:
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _jsonable(obj, path: str):
    # numpy first: np.float64 is a subclass of float and would lose its dtype.
    if isinstance(obj, np.generic):
        obj = np.asarray(obj)
    if type(obj) is np.ndarray:
        if obj.dtype.str not in _DTYPE_STRS:
            raise WireError(f"{path}: cannot send an array of dtype {obj.dtype} (allowed: {DTYPES})")
        return {_ARRAY_KEY: {"dtype": obj.dtype.str, "shape": list(obj.shape),
                             "data": base64.b64encode(obj.tobytes(order="C")).decode("ascii")}}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise WireError(f"{path}: cannot send a dict key of type {type(k).__name__} ({k!r}); keys must be str")
            if k == _ARRAY_KEY:
                raise WireError(f"{path}: the dict key {_ARRAY_KEY!r} is reserved for arrays")
            out[k] = _jsonable(v, f"{path}[{json.dumps(k)}]")
        return out
    raise WireError(f"{path}: cannot send {_a(type(obj).__name__)}")


def encode(obj, name: str = "message") -> bytes:
    """``obj`` as JSON bytes; WireError naming the path (``reply["grads"][2]``) of anything else.

    ``name`` is the root of that path. An ndarray subclass (matrix, masked
    array) is refused rather than silently losing what makes it a subclass.
    """
    try:
        return json.dumps(_jsonable(obj, name), allow_nan=True, separators=(",", ":")).encode("ascii")
    except RecursionError:
        raise WireError(f"{name}: nested too deeply, or contains itself") from None
    except WireError:
        raise
    except ValueError as e:   # e.g. an int with more digits than Python will print
        raise WireError(f"{name}: {e}") from None


def _array(spec):
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data"}:
        fields = sorted(spec) if isinstance(spec, dict) else type(spec).__name__
        raise WireError(f"malformed array: expected the fields dtype, shape, data; got {fields}")
    dtype, shape, data = spec["dtype"], spec["shape"], spec["data"]
    if not isinstance(dtype, str) or dtype not in _DTYPE_STRS:
        raise WireError(f"malformed array: dtype {dtype!r} is not allowed (allowed: {DTYPES})")
    if (not isinstance(shape, list) or len(shape) > 64
            or not all(type(n) is int and n >= 0 for n in shape)):
        raise WireError(f"malformed array: shape {shape!r} is not a list of at most 64 sizes")
    if not isinstance(data, str):
        raise WireError(f"malformed array: data is {type(data).__name__}, not a base64 str")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise WireError("malformed array: data is not valid base64") from None
    dt = np.dtype(dtype)
    if len(raw) != math.prod(shape) * dt.itemsize:
        raise WireError(f"malformed array: {len(raw)} bytes of data for shape {tuple(shape)} of {dt} "
                        f"({math.prod(shape) * dt.itemsize} expected)")
    # A bytearray makes the result writeable without a second copy.
    return np.frombuffer(bytearray(raw), dtype=dt).reshape(shape)


def _object(d):
    if _ARRAY_KEY in d:
        if len(d) != 1:
            raise WireError(f"malformed array: {_ARRAY_KEY!r} beside other keys {sorted(set(d) - {_ARRAY_KEY})}")
        return _array(d[_ARRAY_KEY])
    return d


def decode(data: bytes):
    """The value ``encode`` wrote; arrays (and scalars) come back as writeable ndarrays.

    Raises WireError for anything that is not such a message: bad JSON, an
    array with a disallowed dtype, a data length that does not match its shape.
    """
    try:
        return json.loads(bytes(data), object_hook=_object)
    except WireError:
        raise
    except RecursionError:
        raise WireError("not a valid message: nested too deeply") from None
    except (ValueError, TypeError) as e:   # JSONDecodeError, UnicodeDecodeError are ValueErrors
        raise WireError(f"not a valid message: {e}") from None


def _wait(fd: int, events: int, deadline: float | None, alive) -> None:
    """Return once ``fd`` is ready; TimeoutError at ``deadline``, EOFError when ``alive()`` turns false."""
    poller = select.poll()
    poller.register(fd, events)
    while True:
        # Wake now and then, so a peer that died while something else holds the
        # pipe open (a forked grandchild) is noticed before the deadline.
        step = 0.25 if alive is not None else None
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the deadline passed")
            step = left if step is None else min(step, left)
        if poller.poll(None if step is None else math.ceil(step * 1000)):
            return
        if alive is not None and not alive():
            raise EOFError("the other side is gone")


def write_frame(fd: int, payload: bytes, deadline: float | None = None, alive=None) -> None:
    """Write the length header and ``payload``; for an already encoded message.

    With a ``deadline`` (a ``time.monotonic()`` value) ``fd`` should be
    non-blocking, else one large write can outlast it. Raises TimeoutError,
    BrokenPipeError when the reader is gone, EOFError when ``alive()`` is false.
    """
    view = memoryview(len(payload).to_bytes(_HEADER, "big") + payload)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            _wait(fd, select.POLLOUT, deadline, alive)
            continue
        view = view[n:]


def write_message(fd: int, obj, deadline: float | None = None, alive=None) -> None:
    """Encode ``obj`` (WireError before anything is written) and write it as one frame."""
    write_frame(fd, encode(obj), deadline, alive)


def _read_exactly(fd: int, n: int, deadline, alive) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None or alive is not None:
            _wait(fd, select.POLLIN, deadline, alive)
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError(f"the pipe closed after {got} of {n} bytes" if got else "the pipe closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_message(fd: int, deadline: float | None = None, max_bytes: int | None = None, alive=None):
    """Read one frame from ``fd`` and decode it.

    Without ``deadline`` and ``alive`` this simply blocks (the worker's side).
    ``deadline`` is a ``time.monotonic()`` value; ``alive``, if given, is
    called about every 0.25 s while waiting. Raises EOFError if the pipe closes
    (or ``alive()`` turns false) before a whole frame, TimeoutError at the
    deadline, WireError if the announced length is above ``max_bytes`` or the
    payload does not decode.
    """
    n = int.from_bytes(_read_exactly(fd, _HEADER, deadline, alive), "big")
    if max_bytes is not None and n > max_bytes:
        raise WireError(f"a message of {n} bytes was announced, above the limit of {max_bytes} bytes")
    return decode(_read_exactly(fd, n, deadline, alive))


def receive_packet(sock, max_bytes: int, max_fds: int = 0):
    """One packet of a SOCK_SEQPACKET socket, plain JSON, and the descriptors sent with it:
    (message, fds), or (None, []) at the end of the stream. A packet cut short (longer than
    ``max_bytes``, or with more than ``max_fds`` descriptors) or not JSON raises WireError,
    its descriptors closed."""
    import socket
    data, fds, flags, _ = socket.recv_fds(sock, max_bytes, max_fds)
    problem = None
    if data and flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        problem = f"a packet longer than {max_bytes} bytes, or with more than {max_fds} descriptors"
    elif data:
        try:
            return json.loads(data), fds
        except ValueError as exc:
            problem = f"a packet that is not JSON ({exc})"
    for fd in fds:
        os.close(fd)
    if problem:
        raise WireError(problem)
    return None, []
