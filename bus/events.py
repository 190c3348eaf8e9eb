"""The one event loop of every worker: messages, a periodic tick, readable descriptors.

    for event in node.events(tick_s=0.05, skip_own=True, watch=[doorbell]):
        if isinstance(event, Tick):          # every 50 ms, on time even under a flood
            node.publish_many(logic.tick(event.now_ns))
        elif isinstance(event, Readable):    # the doorbell's descriptor became readable
            doorbell.drain()
        else:                                # an Envelope: one message
            node.publish_many(logic.handle(event.payload, event.trace))

What the loop promises:

- A **tick** is yielded at ``deadline_ns`` or as soon after as the worker's own code lets it:
  the deadline is checked before every message, so a flood of messages does not delay it. Late
  ticks are not made up in a burst: after a stall the schedule restarts from now.
- A **message** is not held back by the tick: the loop waits for the next message or the next
  deadline, whichever comes first. Each message carries its receive time (``recv_ns``),
  ``age_ms`` (receive time minus publish time, same board, monotonic clock) and the part of it
  on the bus, ``bus_ms`` (until the loop last found nothing to receive: the rest,
  ``queued_ms``, it waited while the worker was busy).
- A **watched descriptor** (an ``int`` or an object with ``fileno()``) yields :class:`Readable`
  while it is readable: read or drain it in the handler (level-triggered, like ``poll(2)``).
  :class:`Wakeup` is such a descriptor that another thread sets (an audio callback, a generation
  thread), so a worker's threads hand it work without the loop polling for it.
- ``skip_own`` drops the node's own messages (a worker that consumes a glob it also publishes).

The loop ends when the node is asked to stop (SIGTERM, Ctrl-C, ``request_stop``); on the
in-memory node it also ends when nothing is left to do (no message queued, no descriptor
readable, and no tick due unless the bus may let simulated time pass: ``MemoryBus(sleep=)``), so
a test runs a worker's loop to completion. A tick period may be
changed between events (``loop.tick_s = None`` stops ticking). Nothing here allocates per
message: a message is yielded as the decoded :class:`~bus.framing.Envelope` itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from bus.framing import Envelope

if TYPE_CHECKING:
    from bus.nodecore import NodeCore

__all__ = ["Event", "EventLoop", "Readable", "Tick", "Wakeup", "Watchable"]

#: How long one wait of a blocking node may last at most, ns: a stop request is noticed within it.
STOP_CHECK_NS = 100_000_000
_NEVER = sys.maxsize


class HasFileno(Protocol):
    """Anything with a file descriptor (a socket, a FIFO, a :class:`Wakeup`, a doorbell)."""

    def fileno(self) -> int: ...


#: What ``watch=`` takes: a file descriptor or an object with ``fileno()``.
Watchable = int | HasFileno


@dataclass(frozen=True, slots=True)
class Tick:
    """The periodic tick of :meth:`~bus.nodeapi.BusNode.events`."""

    now_ns: int
    """When it was yielded (the node's monotonic clock), ns."""
    deadline_ns: int
    """When it was due, ns."""

    @property
    def late_ms(self) -> float:
        """How long after its deadline it came (time the worker's own code held the loop), ms."""
        return (self.now_ns - self.deadline_ns) / 1e6


@dataclass(frozen=True, slots=True)
class Readable:
    """A watched descriptor is readable."""

    source: Watchable
    """What was given to ``watch=`` (compare with ``is``)."""
    fd: int
    """Its file descriptor."""


#: What the loop yields.
Event = Envelope | Tick | Readable
E = TypeVar("E")


class Wakeup:
    """A descriptor other threads make readable: ``set()`` from anywhere, ``clear()`` in the loop.

    Clear it first, then take the work the thread left (a queue): a ``set()`` after the clear
    makes it readable again, so no hand-over is missed. Backed by an ``eventfd`` (a counter:
    ``set()`` never blocks and costs one system call).
    """

    def __init__(self) -> None:
        self._fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    def set(self) -> None:
        """Make the descriptor readable (thread-safe, async-signal-safe)."""
        os.eventfd_write(self._fd, 1)

    def clear(self) -> int:
        """Make it unreadable again; returns how many ``set()`` calls it absorbed."""
        try:
            return os.eventfd_read(self._fd)
        except BlockingIOError:
            return 0

    def fileno(self) -> int:
        """The descriptor to watch."""
        return self._fd

    def close(self) -> None:
        """Release the descriptor."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def fd_of(source: Watchable) -> int:
    """The descriptor number of ``source``."""
    fd = source if isinstance(source, int) else source.fileno()
    if not isinstance(fd, int) or fd < 0:
        raise ValueError(f"Cannot watch {source!r}: it has no open file descriptor ({fd!r}).")
    return fd


class EventLoop(Generic[E]):
    """The iterable returned by ``node.events(...)``; iterate it (again, on a memory node)."""

    def __init__(
        self,
        node: NodeCore,
        tick_s: float | None,
        skip_own: bool,
        watch: Sequence[Watchable],
    ) -> None:
        self._node = node
        self.skip_own = skip_own
        """Drop messages whose ``source`` is this node."""
        self._readable = {fd_of(w): Readable(w, fd_of(w)) for w in watch}
        self._period_ns = 0
        self._next_ns = _NEVER
        self.tick_s = tick_s

    @property
    def tick_s(self) -> float | None:
        """The tick period, s (``None``: no tick). Setting it restarts the schedule from now."""
        return self._period_ns / 1e9 if self._period_ns else None

    @tick_s.setter
    def tick_s(self, value: float | None) -> None:
        if value is not None and not value > 0:
            raise ValueError(f"tick_s must be a positive number of seconds or None, not {value!r}")
        self._period_ns = int(value * 1e9) if value else 0
        self._next_ns = self._node.clock() + self._period_ns if self._period_ns else _NEVER

    def __iter__(self) -> Iterator[E]:
        return self._run()  # type: ignore[return-value]

    def _run(self) -> Iterator[Event]:
        # The hot path is the message branch: one clock read, one non-blocking receive, the
        # decode; no allocation beyond the Envelope that decode makes anyway.
        node = self._node
        clock, recv, accept = node.clock, node._recv_nowait, node._accept
        stopped = node._stop.is_set
        name, skip_own = node.name, self.skip_own
        readable = self._readable
        fds = tuple(readable)
        node._watch(fds)
        try:
            pending = True  # a message may be waiting: try to receive before waiting
            # The queue was found empty and no handler ran since: a wait that ends with a
            # message ends that emptiness (Envelope.empty_ns). After a handler the queue is
            # looked at again before any wait: a message that came while it ran is received
            # as one that waited for the worker.
            empty = False
            node.empty_ns = 0  # not known before the loop's first empty receive
            while not stopped():
                now = clock()
                node.loop_tick_ns = now
                if now >= self._next_ns:
                    due = self._next_ns
                    nxt = due + self._period_ns
                    self._next_ns = nxt if nxt > now else now + self._period_ns
                    empty = False
                    yield Tick(now, due)
                    pending = True
                    continue
                if fds or not pending:
                    next_ns = self._next_ns
                    wait_ns = 0 if pending else -1 if next_ns == _NEVER else next_ns - now
                    woke = node._wait(wait_ns, fds)
                    if woke is None:
                        return  # in-memory node: nothing left to do
                    pending, ready = woke
                    if not pending or (empty and wait_ns):
                        node.empty_ns = clock()  # empty until now
                        empty = True
                    if ready:
                        empty = False
                        for fd in ready:
                            yield readable[fd]
                        pending = True
                    if not pending:
                        continue
                    if ready or wait_ns:
                        now = clock()  # time passed: the message's receive time is now
                frames = recv()
                if frames is None:
                    pending = False
                    empty = True
                    node.empty_ns = now
                    continue
                msg = accept(frames, now)
                if msg is None or (skip_own and msg.source == name):
                    continue
                empty = False
                yield msg
        finally:
            node._unwatch(fds)
