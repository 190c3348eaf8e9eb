"""The ZeroMQ node a worker uses to join the bus.

    node = Node.from_env(manifest=MANIFEST)   # configuration handed by the supervisor
    node.ready()                              # subscribed to the manifest's consumes already
    for msg in node.events():                 # ends on SIGTERM / Ctrl-C
        node.publish("asr.text", recognise(msg.payload), trace=msg.trace)

The node connects a PUB socket to the proxy's XSUB side and a SUB socket to its XPUB side (and,
on an ipc bus, one more SUB socket for the proxy's ``sys.bus``: whether it may send shared
memory now, :mod:`bus.shmgate`), then
checks the path end to end by publishing a probe to itself until it comes back (so nothing
published after the constructor returns is lost to a half-made connection). A manifest's
subscriptions are made before that probe, so they have reached the proxy when it returns.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from typing import Any

import zmq

from bus import shm
from bus.connect import await_handshake, connect
from bus.events import STOP_CHECK_NS
from bus.heartbeat import HeartbeatThread
from bus.logbridge import BusLogHandler, configure_logging
from bus.manifest import Manifest
from bus.nodeconfig import NodeConfig
from bus.nodecore import NodeCore
from bus.shmgate import ShmGate
from bus.socketio import PubIO, SubIO
from bus.topics import literal_prefix
from schemas.registry import Registry, registry

__all__ = ["Node"]

log = logging.getLogger(__name__)


class Node(NodeCore):
    """A bus participant over ZeroMQ."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        reg: Registry = registry,
        manifest: Manifest | None = None,
        handshake: bool = True,
        signals: bool = True,
        logging_setup: bool = False,
    ) -> None:
        super().__init__(
            config.name,
            settings=config.settings,
            restarts=config.restarts,
            reg=reg,
            manifest=manifest,
        )
        self.config = config
        self._closed = True
        self._log_handler: BusLogHandler | None = None
        if logging_setup:
            self._log_handler = configure_logging(config.name, config.log_level)
        self._declare()  # bad settings fail here, before any socket exists
        self._ctx = zmq.Context()
        self._pub = connect(self._ctx, zmq.PUB, config)
        self._sub = connect(self._ctx, zmq.SUB, config)
        self._pub_io = PubIO(self._pub)
        self._shm_gate: ShmGate | None = None
        if config.shm_min_bytes and shm.available() and _all_ipc(config):
            # shared memory only while the proxy says every reader reads it (bus.shmgate)
            self._shm_gate = ShmGate.connect(self._ctx, config)
            self._shm = shm.ShmOut(
                self.instance,
                config.shm_min_bytes,
                config.shm_ring_bytes,
                config.shm_hold_ms,
                self._shm_gate.open,
            )
        self._sub_io = SubIO(self._sub)
        # the hot calls bound once (no extra Python frame per message)
        self._send = self._pub_io.send  # type: ignore[method-assign]
        self._recv_nowait = self._sub_io.recv_nowait  # type: ignore[method-assign]
        self._closed = False
        self._heartbeat = HeartbeatThread(
            connect(self._ctx, zmq.PUB, config),
            config.name,
            self.instance ^ 0x5A5A5A5A,
            config.heartbeat_ms / 1000.0,
            self.heartbeat_fields,
        )
        try:
            self._subscribe(sorted(self._consumes or ()))
            if handshake:
                await_handshake(self._pub, self._sub, config, self.instance)
            self._heartbeat.start()
        except BaseException:
            self.close()
            raise
        if signals:
            self.install_signal_handlers()
        if self._log_handler is not None:
            self._log_handler.attach(self, config.bus_log_level)

    @classmethod
    def from_env(cls, name: str | None = None, **kwargs: Any) -> Node:
        """Join the bus with the configuration handed by the supervisor (``VOICEBUS_NODE``)."""
        kwargs.setdefault("logging_setup", True)
        return cls(NodeConfig.from_env(name), **kwargs)

    def install_signal_handlers(self) -> None:
        """Turn SIGTERM and SIGINT into a clean stop (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return

        def _handler(signum: int, _frame: object) -> None:
            log.info("stop_requested signal=%s", signal.Signals(signum).name)
            self.request_stop()

        signal.signal(signal.SIGTERM, _handler)
        signal.signal(signal.SIGINT, _handler)

    def _subscribe_prefix(self, pattern: str) -> None:
        self._sub.setsockopt(zmq.SUBSCRIBE, literal_prefix(pattern).encode())

    def _on_ready(self) -> None:
        self._heartbeat.beat_now()

    def _send(self, frames: list[bytes]) -> None:
        self._pub_io.send(frames)  # replaced by the bound method itself in __init__

    def _recv_nowait(self) -> list[bytes] | None:
        return self._sub_io.recv_nowait()  # replaced by the bound method itself in __init__

    def _wait(self, wait_ns: int, fds: Sequence[int]) -> tuple[bool, Sequence[int]] | None:
        # rounded up to whole ms; at most STOP_CHECK_NS, so that a stop request is noticed
        timeout_ms = -(-min(STOP_CHECK_NS, wait_ns if wait_ns >= 0 else STOP_CHECK_NS) // 1_000_000)
        return self._sub_io.wait(timeout_ms, bool(fds))

    def _watch(self, fds: Sequence[int]) -> None:
        self._sub_io.watch(fds)

    def _unwatch(self, fds: Sequence[int]) -> None:
        self._sub_io.unwatch(fds)

    def pending(self) -> int:
        """1 when a message waits in the socket, else 0 (ZeroMQ does not say how many)."""
        return 1 if self._sub_io.readable() else 0

    def close(self) -> None:
        """Send a last heartbeat (state ``stopping``), then close the sockets."""
        if self._closed:  # already, or the settings were refused before the sockets were made
            return
        self._closed = True
        self.state = "stopping"
        if self._log_handler is not None:
            self._log_handler.detach()
        if self._heartbeat.is_alive():
            self._heartbeat.stop()
        else:
            self._heartbeat._sock.close(linger=0)
        self._pub.close()
        self._sub.close(linger=0)
        if self._shm_gate is not None:
            self._shm_gate.close()
        self._ctx.term()  # waits for what is queued to be sent (LINGER), then the ring can go
        if self._shm is not None:
            self._shm.close()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _all_ipc(config: NodeConfig) -> bool:
    """True when both endpoints are on this machine (a reader of shared memory must be)."""
    return config.pub_endpoint.startswith("ipc://") and config.sub_endpoint.startswith("ipc://")
