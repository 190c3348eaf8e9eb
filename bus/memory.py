"""An in-memory bus for tests: the node API with no sockets and no threads.

    bus = MemoryBus()
    worker, probe = bus.node("asr"), bus.node("probe")
    probe.subscribe("asr.text")
    worker.publish("asr.text", AsrText(text="hi", segment_id="s1"))
    assert probe.poll().payload.text == "hi"

Every message is really encoded and decoded (the frames a socket would carry), so a schema or
framing mistake fails here as it would on the bus. ``poll`` never blocks, and a node's event loop
(``node.events(...)``, ``for msg in node``) ends when nothing is left to do: no message queued, no
watched descriptor readable, no tick due. Give the bus a ``clock`` to drive ticks and message
ages from a test (``MemoryBus(clock=lambda: now_ns)``), and a ``sleep`` to let time pass while
a loop waits for its next tick or a watched descriptor::

    clock = FakeClock()                              # tests/fakeclock.py: simulated time
    bus = MemoryBus(clock=clock, sleep=clock.sleep)
    clock.run_for(2.0)                               # idle loops wait two seconds, then end

    bus = MemoryBus(sleep=wait_realtime)             # real time, for loops fed by threads
"""

from __future__ import annotations

import select
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from bus.events import STOP_CHECK_NS
from bus.manifest import Manifest
from bus.nodecore import NodeCore
from bus.topics import literal_prefix
from schemas.registry import Registry, registry

__all__ = ["MemoryBus", "MemoryNode", "Sleep", "wait_realtime"]

#: ``sleep(ns, fds)``: wait up to ``ns`` (a fake clock moves on, or real time passes) and return
#: the readable ones of ``fds``, or ``None`` to end the loop instead.
Sleep = Callable[[int, Sequence[int]], Sequence[int] | None]


def wait_realtime(ns: int, fds: Sequence[int]) -> Sequence[int]:
    """A :data:`Sleep` in real time: for loops fed by threads (a worker's own, or a test's)."""
    if fds:
        return select.select(fds, [], [], ns / 1e9)[0]
    time.sleep(ns / 1e9)
    return ()


class MemoryNode(NodeCore):
    """A node attached to a :class:`MemoryBus`."""

    def __init__(
        self, bus: MemoryBus, name: str, settings: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        super().__init__(name, settings=settings, reg=bus.registry, clock=bus.clock, **kw)
        self._bus = bus
        self._queue: deque[list[bytes]] = deque()
        self._prefixes: list[bytes] = []
        self._declare()
        self._subscribe(sorted(self._consumes or ()))

    def _subscribe_prefix(self, pattern: str) -> None:
        self._prefixes.append(literal_prefix(pattern).encode())

    def _on_ready(self) -> None:
        self._bus.ready.add(self.name)

    def _send(self, frames: list[bytes]) -> None:
        self._bus.deliver([bytes(f) for f in frames])

    def _recv_nowait(self) -> list[bytes] | None:
        return self._queue.popleft() if self._queue else None

    def _wait(self, wait_ns: int, fds: Sequence[int]) -> tuple[bool, Sequence[int]] | None:
        ready = select.select(fds, [], [], 0)[0] if fds else ()
        if self._queue or ready:
            return bool(self._queue), ready
        sleep = self._bus.sleep
        if sleep is None or not (wait_ns > 0 or fds):
            return None  # nothing can happen any more: the loop ends
        woke = sleep(wait_ns if wait_ns > 0 else STOP_CHECK_NS, fds)
        return None if woke is None else (bool(self._queue), woke)

    def pending(self) -> int:
        """Frames waiting in this node's queue."""
        return len(self._queue)

    def close(self) -> None:
        """Detach from the bus."""
        self._bus.nodes.remove(self)


class MemoryBus:
    """A set of in-memory nodes that see each other's messages."""

    def __init__(
        self,
        reg: Registry = registry,
        *,
        clock: Callable[[], int] = time.monotonic_ns,
        sleep: Sleep | None = None,
    ) -> None:
        self.registry = reg
        self.clock = clock
        """The monotonic clock of every node on this bus, ns."""
        self.sleep = sleep
        """How an idle loop that has a tick due later, or watches descriptors, waits; ``None``:
        idle loops end at once (see :data:`Sleep`)."""
        self.nodes: list[MemoryNode] = []
        self.ready: set[str] = set()
        self.log: list[list[bytes]] = []

    def node(
        self,
        name: str,
        settings: dict[str, Any] | None = None,
        *,
        manifest: Manifest | None = None,
        **kw: Any,
    ) -> MemoryNode:
        """A new node on this bus (given a manifest: subscribed to what it consumes)."""
        n = MemoryNode(self, name, settings, manifest=manifest, **kw)
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
