"""An in-memory bus for tests: the node API with no sockets and no threads.

    bus = MemoryBus()
    worker, probe = bus.node("asr"), bus.node("probe")
    probe.subscribe("asr.text")
    worker.publish("asr.text", AsrText(text="hi", segment_id="s1"))
    assert probe.poll().payload.text == "hi"

Every message is really encoded and decoded (the frames a socket would carry), so a schema or
framing mistake fails here as it would on the bus. ``poll`` never blocks and iteration ends when
the node's queue is empty.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from bus.framing import Envelope
from bus.nodecore import NodeCore
from bus.topics import literal_prefix
from schemas.registry import Registry, registry

__all__ = ["MemoryBus", "MemoryNode"]


class MemoryNode(NodeCore):
    """A node attached to a :class:`MemoryBus`."""

    def __init__(
        self, bus: MemoryBus, name: str, settings: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        super().__init__(name, settings=settings, reg=bus.registry, **kw)
        self._bus = bus
        self._queue: deque[list[bytes]] = deque()
        self._prefixes: list[bytes] = []

    def _subscribe_prefix(self, pattern: str) -> None:
        self._prefixes.append(literal_prefix(pattern).encode())

    def _on_ready(self) -> None:
        self._bus.ready.add(self.name)

    def _send(self, frames: list[bytes]) -> None:
        self._bus.deliver([bytes(f) for f in frames])

    def _recv(self, timeout_s: float | None) -> list[bytes] | None:
        return self._queue.popleft() if self._queue else None

    def __iter__(self) -> Iterator[Envelope]:
        while self.running and self._queue:
            msg = self.poll(0.0)
            if msg is not None:
                yield msg

    def pending(self) -> int:
        """Frames waiting in this node's queue."""
        return len(self._queue)

    def close(self) -> None:
        """Detach from the bus."""
        self._bus.nodes.remove(self)


class MemoryBus:
    """A set of in-memory nodes that see each other's messages."""

    def __init__(self, reg: Registry = registry) -> None:
        self.registry = reg
        self.nodes: list[MemoryNode] = []
        self.ready: set[str] = set()
        self.log: list[list[bytes]] = []

    def node(self, name: str, settings: dict[str, Any] | None = None, **kw: Any) -> MemoryNode:
        """A new node on this bus."""
        n = MemoryNode(self, name, settings, **kw)
        self.nodes.append(n)
        return n

    def deliver(self, frames: list[bytes]) -> None:
        """Queue ``frames`` at every node subscribed to a prefix of the topic."""
        self.log.append(frames)
        topic = frames[0]
        for n in self.nodes:
            if any(topic.startswith(p) for p in n._prefixes):
                n._queue.append(frames)

    def inject(self, frames: list[bytes]) -> None:
        """Deliver raw frames (for testing how nodes treat malformed input)."""
        self.deliver(frames)
