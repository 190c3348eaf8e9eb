"""The ZeroMQ node a worker uses to join the bus.

    node = Node.from_env()          # configuration handed by the supervisor
    node.subscribe("vad.segment")
    node.ready()
    for msg in node:                # ends on SIGTERM / Ctrl-C
        node.publish("asr.text", recognise(msg.payload), trace=msg.trace)

The node connects a PUB socket to the proxy's XSUB side and a SUB socket to its XPUB side, then
checks the path end to end by publishing a probe to itself until it comes back (so nothing
published after the constructor returns is lost to a half-made connection).
"""

from __future__ import annotations

import logging
from typing import Any

import zmq

from bus.connect import await_handshake, connect
from bus.heartbeat import HeartbeatThread
from bus.logbridge import BusLogHandler, configure_logging
from bus.nodeconfig import NodeConfig
from bus.nodecore import NodeCore
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
        handshake: bool = True,
        signals: bool = True,
        logging_setup: bool = False,
    ) -> None:
        super().__init__(config.name, settings=config.settings, restarts=config.restarts, reg=reg)
        self.config = config
        self._ctx = zmq.Context()
        self._pub = connect(self._ctx, zmq.PUB, config)
        self._sub = connect(self._ctx, zmq.SUB, config)
        self._poller = zmq.Poller()
        self._poller.register(self._sub, zmq.POLLIN)
        self._closed = False
        self._log_handler: BusLogHandler | None = None
        self._heartbeat = HeartbeatThread(
            connect(self._ctx, zmq.PUB, config),
            config.name,
            self.instance ^ 0x5A5A5A5A,
            config.heartbeat_ms / 1000.0,
            self.heartbeat_fields,
        )
        try:
            if handshake:
                await_handshake(self._pub, self._sub, config, self.instance)
            self._heartbeat.start()
        except BaseException:
            self.close()
            raise
        if signals:
            self.install_signal_handlers()
        if logging_setup:
            self._log_handler = configure_logging(config.name, config.log_level)
            self._log_handler.attach(self, config.bus_log_level)

    @classmethod
    def from_env(cls, name: str | None = None, **kwargs: Any) -> Node:
        """Join the bus with the configuration handed by the supervisor (``VOICEBUS_NODE``)."""
        kwargs.setdefault("logging_setup", True)
        return cls(NodeConfig.from_env(name), **kwargs)

    def _subscribe_prefix(self, pattern: str) -> None:
        self._sub.setsockopt(zmq.SUBSCRIBE, literal_prefix(pattern).encode())

    def _on_ready(self) -> None:
        self._heartbeat.beat_now()

    def _send(self, frames: list[bytes]) -> None:
        self._pub.send_multipart(frames, copy=len(frames[-1]) < 65536)

    def _recv(self, timeout_s: float | None) -> list[bytes] | None:
        timeout_ms = None if timeout_s is None else int(timeout_s * 1000)
        if self._sub.poll(timeout_ms):
            return self._sub.recv_multipart()
        return None

    def close(self) -> None:
        """Send a last heartbeat (state ``stopping``), then close the sockets."""
        if self._closed:
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
        self._ctx.term()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
