"""What a kind of node supplies to :class:`bus.nodecore.NodeCore`: the transport's few verbs.

The ZeroMQ :class:`bus.node.Node` implements them on its sockets and a ``zmq.Poller``; the
in-memory :class:`bus.memory.MemoryNode` on a queue, a non-blocking ``select`` and an optional
simulated clock. Everything
else (numbering, encoding, decoding, the manifest, the event loop) is shared.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Transport"]


class Transport:
    """The transport hooks of a node (each kind of node overrides them)."""

    def _subscribe_prefix(self, pattern: str) -> None:
        raise NotImplementedError

    def _on_ready(self) -> None:
        raise NotImplementedError

    def _send(self, frames: list[bytes]) -> None:
        raise NotImplementedError

    def _recv_nowait(self) -> list[bytes] | None:
        """The next frames if any are queued, else ``None`` (never blocks)."""
        raise NotImplementedError

    def _wait(self, wait_ns: int, fds: Sequence[int]) -> tuple[bool, Sequence[int]] | None:
        """Wait up to ``wait_ns`` (-1: no tick to wait for) for frames or readable ``fds``.

        Returns whether frames are waiting and which of ``fds`` are readable; ``None`` when
        nothing will come (the in-memory node with nothing left to do: the loop ends).
        """
        raise NotImplementedError

    def _watch(self, fds: Sequence[int]) -> None:
        """Start waiting on ``fds`` too (an event loop begins)."""

    def _unwatch(self, fds: Sequence[int]) -> None:
        """Stop waiting on ``fds`` (the event loop ended)."""

    def pending(self) -> int:
        """Whether messages wait to be received (a count on the memory node; 0 or 1 on ZeroMQ)."""
        raise NotImplementedError
