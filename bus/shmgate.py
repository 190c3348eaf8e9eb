"""Whether a publisher may use shared memory now: what the proxy last said on ``sys.bus``.

Shared memory is on by default (``shm_min_bytes`` 64 KiB) but a payload goes into the ring only
while every reader of the bus reads rings; the proxy counts them (:mod:`bus.busreaders`) and
says so on ``sys.bus``. A node that may send shared memory (an ``ipc://`` bus, ``bus/native``
built) keeps one more SUB socket, subscribed to ``sys.bus`` alone, and :meth:`ShmGate.open`
reads what has arrived on it, without waiting, each time a payload is large enough to ask.
Until the proxy has said yes (a proxy that never says, another implementation's, included),
the answer is no and payloads travel in their ZeroMQ frames, which every reader reads.

The gate believes only ``sys.bus`` from ``bus-proxy``; anything else arriving on it is logged
(at most every 10 s) and changes nothing.
"""

from __future__ import annotations

import logging
import time

import zmq

from bus.busreaders import PROXY_NAME
from bus.connect import connect as _connect
from bus.errors import FrameError
from bus.framing import decode
from bus.nodeconfig import NodeConfig
from bus.socketio import SubIO
from schemas.system import BusReaders

__all__ = ["TOPIC", "ShmGate"]

log = logging.getLogger(__name__)

#: The topic the proxy says it on.
TOPIC = "sys.bus"
_WARN_EVERY_NS = 10_000_000_000


class ShmGate:
    """Shared memory allowed or not, from the ``sys.bus`` messages on ``sock``: a SUB socket
    connected to the proxy's XPUB side and subscribed to :data:`TOPIC` (:meth:`connect`)."""

    def __init__(self, sock: zmq.Socket) -> None:
        self._io = SubIO(sock)
        self._open = False
        self.last: BusReaders | None = None
        """The last ``sys.bus`` believed (``None`` before the first)."""
        self._warned_ns = -_WARN_EVERY_NS

    @classmethod
    def connect(cls, ctx: zmq.Context, config: NodeConfig) -> ShmGate:
        """A gate with its own socket to the proxy of ``config``."""
        return cls(_connect(ctx, zmq.SUB, config, linger_ms=0, subscribe=(TOPIC.encode(),)))

    def open(self) -> bool:
        """True while the proxy's last word is that every reader reads shared memory."""
        # asked before every large payload: one C call when nothing came (pyzmq's
        # getsockopt(EVENTS) and its enum flags took about 15 us after a pause, bench.bushop)
        recv = self._io.recv_nowait
        frames = recv()
        while frames is not None:
            self._take(frames)
            frames = recv()
        return self._open

    def _take(self, frames: list[bytes]) -> None:
        try:
            env = decode(frames)
        except FrameError as exc:
            self._refuse(f"malformed: {exc}")
            return
        if env.topic != TOPIC or not isinstance(env.payload, BusReaders):
            self._refuse(f"topic {env.topic!r} carrying {type(env.payload).__name__}")
        elif env.source != PROXY_NAME:
            self._refuse(f"sys.bus from {env.source!r}, not {PROXY_NAME!r}")
        else:
            self.last = env.payload
            self._open = env.payload.shm

    def _refuse(self, why: str) -> None:
        now = time.monotonic_ns()
        if now - self._warned_ns >= _WARN_EVERY_NS:
            self._warned_ns = now
            log.warning("shm_gate_ignored %s (only bus-proxy's sys.bus is believed)", why)

    def close(self) -> None:
        """Close the socket."""
        self._io.sock.close(linger=0)
