"""The heartbeat thread of a node: ``sys.heartbeat`` every period, at once on ``ready()``.

It owns its own PUB socket (ZeroMQ sockets are not shared between threads), so a worker busy in
a long computation still beats; the ``loop_age_ms`` field shows how long its loop has not asked
for a message, which the supervisor can use to detect a stuck loop. A stopped process (SIGSTOP,
a hung interpreter) stops beating, and the supervisor replaces it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from bus.framing import encode
from bus.socketio import PubIO
from schemas.system import Heartbeat

__all__ = ["HeartbeatThread"]

log = logging.getLogger(__name__)


class HeartbeatThread(threading.Thread):
    """Publishes ``sys.heartbeat`` with the fields returned by ``fields()``."""

    def __init__(
        self,
        sock: zmq.Socket,
        name: str,
        instance: int,
        period_s: float,
        fields: Callable[[], dict[str, Any]],
    ) -> None:
        super().__init__(name=f"heartbeat-{name}", daemon=True)
        self._sock = sock
        self._io = PubIO(sock)
        self._name = name
        self._instance = instance
        self._period_s = period_s
        self._fields = fields
        self._wake = threading.Event()
        self._stop_evt = threading.Event()
        self._seq = 0

    def beat_now(self) -> None:
        """Send a heartbeat without waiting for the period (e.g. on ready)."""
        self._wake.set()

    def stop(self) -> None:
        """Send a last heartbeat and end the thread."""
        self._stop_evt.set()
        self._wake.set()
        self.join(timeout=2.0)

    def run(self) -> None:
        try:
            while True:
                self._beat()
                if self._stop_evt.is_set():
                    break
                self._wake.wait(self._period_s)
                self._wake.clear()
        finally:
            self._sock.close(linger=200)

    def _beat(self) -> None:
        self._seq += 1
        frames = encode(
            "sys.heartbeat",
            Heartbeat(**self._fields()),
            source=self._name,
            instance=self._instance,
            seq=self._seq,
            ts_ns=time.monotonic_ns(),
        )
        self._io.send(frames)  # a PUB socket drops rather than blocks when its queue is full
