"""What a kind of node supplies to :class:`bus.nodecore.NodeCore`: the transport's few verbs.

The ZeroMQ :class:`bus.node.Node` implements them on its sockets and a ``zmq.Poller``; the
in-memory :class:`bus.memory.MemoryNode` on a queue and a non-blocking ``select``. Everything
else (numbering, encoding, decoding, the manifest, the event loop) is shared.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Transport"]


class Transport:
    """The transport hooks of a node (each kind of node overrides them)."""

    #: False for a transport whose waits return at once (the in-memory node): its event loop
    #: ends when nothing is left to do.
    _blocking = True

    def _subscribe_prefix(self, pattern: str) -> None:
        raise NotImplementedError

    def _on_ready(self) -> None:
        raise NotImplementedError

    def _send(self, frames: list[bytes]) -> None:
        raise NotImplementedError

    def _recv_nowait(self) -> list[bytes] | None:
        """The next frames if any are queued, else ``None`` (never blocks)."""
        raise NotImplementedError

    def _wait(self, wait_ns: int, fds: Sequence[int]) -> tuple[bool, Sequence[int]]:
        """Wait up to ``wait_ns`` (-1: forever) for frames or for ``fds`` to become readable.

        Returns whether frames are waiting and which of ``fds`` are readable.
        """
        raise NotImplementedError

    def _watch(self, fds: Sequence[int]) -> None:
        """Start waiting on ``fds`` too (an event loop begins)."""

    def _unwatch(self, fds: Sequence[int]) -> None:
        """Stop waiting on ``fds`` (the event loop ended)."""

    def pending(self) -> int:
        """Whether messages wait to be received (a count on the memory node; 0 or 1 on ZeroMQ)."""
        raise NotImplementedError
