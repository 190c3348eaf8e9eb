"""The proxy's forwarding loop in C (``bus/native/build/libvbforward.so``) through ctypes.

``make -C bus/native`` (run by ``make setup``) builds it. The library is not linked against
libzmq: it is handed the addresses of the libzmq functions pyzmq itself loaded, found in this
process's memory map, so the C loop and pyzmq's sockets share one libzmq. The call releases the
GIL and runs until a timeout, a control message, a refusal, a change among the shared-memory
readers (a subscription to their marker, or a subscriber connected or gone on the monitor) or
the end of the context, so no Python runs per message. :func:`load` returns ``None`` (and says
why) when the library or a separate libzmq cannot be found; the proxy then forwards in Python.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import zmq

__all__ = ["LIBRARY", "NativeForward", "libzmq_path", "load"]

#: Where ``make -C bus/native`` puts the library.
LIBRARY = Path(__file__).parent / "native" / "build" / "libvbforward.so"

# What vb_forward returns (forward.c)
TIMEOUT, CONTROL, REFUSED, READERS, MONITOR, TERMINATED, FAILED = 0, 1, 2, 3, 4, -2, -1

_FUNCTIONS = (
    "zmq_msg_init",
    "zmq_msg_recv",
    "zmq_msg_send",
    "zmq_msg_close",
    "zmq_msg_size",
    "zmq_msg_more",
    "zmq_msg_data",
    "zmq_poll",
    "zmq_errno",
)


class _Zmq(ctypes.Structure):
    _fields_ = [(name, ctypes.c_void_p) for name in _FUNCTIONS]


class Limits(ctypes.Structure):
    """Largest frame 0, 1 and 2 forwarded, bytes; the subscription counted in ``Stats.marked``
    (:data:`bus.shmreaders.MARKER`, at most 60 bytes; length 0 counts none)."""

    _fields_ = [
        ("topic", ctypes.c_uint64),
        ("envelope", ctypes.c_uint64),
        ("raw", ctypes.c_uint64),
        ("marker_len", ctypes.c_uint32),
        ("marker", ctypes.c_char * 60),
    ]


class Stats(ctypes.Structure):
    """The loop's counters (``struct vb_stats``); refused by the index of ``REASONS``."""

    _fields_ = [
        ("forwarded", ctypes.c_uint64),
        ("refused", ctypes.c_uint64 * 4),
        ("subscriptions", ctypes.c_uint64),
        ("marked", ctypes.c_int64),
        ("last_reason", ctypes.c_int32),
        ("last_frames", ctypes.c_int32),
        ("last_size", ctypes.c_uint64),
        ("last_topic_len", ctypes.c_uint32),
        ("last_topic", ctypes.c_char * 80),
    ]


def libzmq_path() -> str | None:
    """The libzmq shared library this process has loaded for pyzmq (Linux memory map)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and "/libzmq" in parts[5] and ".so" in parts[5]:
            return parts[5].strip()
    return None


class NativeForward:
    """``vb_forward`` bound to one XSUB/XPUB/control (and optional monitor) socket set."""

    def __init__(self, lib: ctypes.CDLL, zmq_lib: ctypes.CDLL) -> None:
        self._fn = lib.vb_forward
        self._fn.restype = ctypes.c_int
        self._fn.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_long] + [ctypes.c_void_p] * 2
        self._zmq = _Zmq(*(ctypes.cast(getattr(zmq_lib, f), ctypes.c_void_p) for f in _FUNCTIONS))
        self._errno = zmq_lib.zmq_errno
        self.stats = Stats()
        self.limits = Limits()

    def run(
        self,
        front: zmq.Socket,
        back: zmq.Socket,
        ctl: zmq.Socket,
        timeout_ms: int,
        mon: zmq.Socket | None = None,
    ) -> int:
        """Forward for up to ``timeout_ms``; one of TIMEOUT, CONTROL, REFUSED, READERS, MONITOR,
        TERMINATED."""
        rc: int = self._fn(
            ctypes.byref(self._zmq),
            front.underlying,
            back.underlying,
            ctl.underlying,
            mon.underlying if mon is not None else None,
            timeout_ms,
            ctypes.byref(self.limits),
            ctypes.byref(self.stats),
        )
        if rc == FAILED:
            errno = self._errno()
            raise zmq.ZMQError(errno, f"the proxy's forwarding loop failed: {zmq.strerror(errno)}")
        return rc

    def last_topic(self) -> bytes:
        """Frame 0 (at most 80 bytes) of the last refused message."""
        return bytes(self.stats.last_topic[: self.stats.last_topic_len])


def load() -> tuple[NativeForward | None, str]:
    """The C loop, or ``None`` and the reason it is not available."""
    if not LIBRARY.is_file():
        return None, f"{LIBRARY} is not built (run 'make -C bus/native')"
    path = libzmq_path()
    if path is None:
        return None, "pyzmq's libzmq is not a separate shared library in this process"
    try:
        return NativeForward(ctypes.CDLL(str(LIBRARY)), ctypes.CDLL(path)), ""
    except (OSError, AttributeError) as exc:
        return None, f"{LIBRARY} cannot be loaded: {exc}"
