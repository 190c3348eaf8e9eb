"""The node's socket calls on the per-message path: send one message, receive one, wait.

pyzmq's convenience methods cost more than the message itself: ``send_multipart`` is one
Python call per frame with enum flags, ``recv_multipart`` asks ``getsockopt(RCVMORE)`` through
an enum conversion after every frame, ``Socket.poll`` builds a ``Poller`` per call and
``get(EVENTS)`` converts through enums too (tens of thousands of instructions per message,
measured with ``python -m bench.bushop --callgrind``). Here the same libzmq calls are made
from C (:mod:`bus.nativeio`) when it is built, else through pyzmq's Cython methods directly
with plain int flags; waiting is one ``zmq_poll`` over a list made once.

A raw frame of ``ZERO_COPY_BYTES`` or more is handed to ZeroMQ without a copy (pyzmq keeps the
bytes alive until the I/O thread has sent them); smaller frames are copied, which is cheaper.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import Any

import zmq
from zmq.backend import Socket as _CySocket

from bus.nativeio import raise_errno, vbio

__all__ = ["ZERO_COPY_BYTES", "PubIO", "SubIO"]

#: Frames this large or larger are sent without a copy.
ZERO_COPY_BYTES = 65536

# pyzmq's Cython methods, without its Python wrappers (typed loosely: pyzmq's stubs are overloads)
_send: Any = _CySocket.send
_recv: Any = _CySocket.recv
_poll: Any = zmq.zmq_poll
_POLLIN = int(zmq.POLLIN)
_SNDMORE = int(zmq.SNDMORE)
_NOBLOCK = int(zmq.NOBLOCK)
_EAGAIN_EINTR = (errno.EAGAIN, errno.EINTR)


class PubIO:
    """Sends whole messages on one PUB socket."""

    def __init__(self, sock: zmq.Socket) -> None:
        self.sock = sock
        self._handle = sock.underlying

    def send(self, frames: list[bytes]) -> None:
        """Send ``frames`` as one multipart message (a PUB never blocks: it drops at the HWM)."""
        last = frames[-1]
        if vbio is not None and len(last) < ZERO_COPY_BYTES:
            rc = vbio.send(self._handle, frames)
            if rc:
                raise_errno(rc)
            return
        sock = self.sock
        for f in frames[:-1]:
            _send(sock, f, _SNDMORE)
        _send(sock, last, 0, len(last) < ZERO_COPY_BYTES)


class SubIO:
    """Receives whole messages from one SUB socket and waits for them (and for descriptors)."""

    def __init__(self, sock: zmq.Socket) -> None:
        self.sock = sock
        self._handle = sock.underlying
        self._one: list[tuple[Any, int]] = [(sock, _POLLIN)]
        self._items = list(self._one)

    def recv_nowait(self) -> list[bytes] | None:
        """The frames of the next message, or ``None`` if none is waiting."""
        if vbio is not None:
            r = vbio.recv(self._handle)
            if r.__class__ is list or r is None:
                return r
            if r in _EAGAIN_EINTR:
                return None
            raise_errno(r)
        if not _poll(self._one, 0):
            return None
        f = _recv(self.sock, _NOBLOCK, False)
        frames = [f.bytes]
        while f.more:  # the rest of a multipart message is there already
            f = _recv(self.sock, 0, False)
            frames.append(f.bytes)
        return frames

    def readable(self) -> bool:
        """True when a message waits."""
        return bool(_poll(self._one, 0))

    def wait(self, timeout_ms: int, watching: bool) -> tuple[bool, list[int]]:
        """Wait up to ``timeout_ms`` for a message or a watched descriptor; (message waits,
        descriptors readable)."""
        ready = _poll(self._items, timeout_ms)
        if not watching:
            return bool(ready), []
        sock = self.sock
        return any(s is sock for s, _ in ready), [s for s, _ in ready if s is not sock]

    def watch(self, fds: Sequence[int]) -> None:
        """Also wait for these descriptors."""
        self._items += [(fd, _POLLIN) for fd in fds]

    def unwatch(self, fds: Sequence[int]) -> None:
        """Stop waiting for these descriptors."""
        gone = set(fds)
        self._items = [it for it in self._items if it[0] not in gone or it[0] is self.sock]
