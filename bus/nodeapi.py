"""The node API a worker programs against: :class:`BusNode`, and :class:`Out` to publish.

``BusNode`` is a protocol: the ZeroMQ :class:`~bus.node.Node` and the in-memory
:class:`~bus.memory.MemoryNode` both satisfy it (``tests/bus/test_nodeapi.py`` checks both,
member by member), so a worker's functions take a ``BusNode`` and run unchanged in a test.

    def run(node: BusNode, logic: Logic) -> None:
        node.ready()
        for event in node.events(tick_s=0.05):
            if isinstance(event, Tick):
                node.publish_many(logic.tick(event.now_ns))
            else:
                node.publish_many(logic.handle(event))

A worker's pure logic returns ``list[Out]``: what to publish, in order, each with its trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol, TypeVar, overload, runtime_checkable

from pydantic import BaseModel

from bus.events import EventLoop, Readable, Tick, Watchable
from bus.framing import Envelope
from bus.manifest import Manifest
from schemas.base import Message

__all__ = ["BusNode", "Out"]

S = TypeVar("S", bound=BaseModel)


class Out(NamedTuple):
    """One message to publish: ``node.publish_many([Out("asr.text", text, trace), ...])``."""

    topic: str
    """The topic (registered to the payload's model; declared in the worker's manifest)."""
    payload: Message
    """The message."""
    trace: str = ""
    """The trace id it carries on (the turn's id), empty for none."""


@runtime_checkable
class BusNode(Protocol):
    """What every node offers a worker (see ``docs/writing-a-worker.md``)."""

    name: str
    """The worker's name (the ``source`` of its messages)."""
    settings: dict[str, Any]
    """The ``settings:`` of the worker's config entry, unvalidated (see :meth:`settings_as`)."""
    restarts: int
    """How many times the supervisor restarted this worker before."""
    manifest: Manifest | None
    """The manifest the node was given (it subscribed to its ``consumes``), or ``None``."""

    @property
    def restarted(self) -> bool:
        """True when the supervisor restarted this worker at least once before."""
        ...

    @property
    def running(self) -> bool:
        """False once a stop was requested (SIGTERM, Ctrl-C or :meth:`request_stop`)."""
        ...

    def request_stop(self) -> None:
        """Make the loop end and :attr:`running` false."""
        ...

    def settings_as(self, model: type[S]) -> S:
        """The settings validated by ``model``, or :class:`~bus.errors.ConfigError` naming keys."""
        ...

    def subscribe(self, *patterns: str) -> None:
        """Receive topics matching any of the globs (a node with a manifest needs not)."""
        ...

    def read_in_place(self, *patterns: str) -> None:
        """Raw fields of these topics from shared memory as read-only memoryviews, not bytes."""
        ...

    def ready(self) -> None:
        """Tell the supervisor this worker is ready (it starts the workers that depend on it)."""
        ...

    def publish(self, topic: str, payload: Message, *, trace: str = "") -> None:
        """Publish ``payload`` on ``topic`` (registered to its model, declared if a manifest)."""
        ...

    def publish_many(self, outs: Iterable[tuple[str, Message, str]]) -> None:
        """Publish each :class:`Out` (or ``(topic, payload, trace)``) in order."""
        ...

    def metric(
        self, name: str, value: float, kind: str = "gauge", *, trace: str = "", **labels: str
    ) -> None:
        """Publish one ``sys.metric`` (kind ``gauge``, ``counter`` or ``sample``)."""
        ...

    def poll(self, timeout_s: float | None = 0.0) -> Envelope | None:
        """The next message, or ``None`` after ``timeout_s`` (for probes and tests)."""
        ...

    def pending(self) -> int:
        """Whether messages wait to be received (a count on the memory node; 0 or 1 on ZeroMQ)."""
        ...

    @overload
    def events(
        self, *, tick_s: None = None, skip_own: bool = False, watch: tuple[()] = ()
    ) -> EventLoop[Envelope]: ...
    @overload
    def events(
        self, *, tick_s: float, skip_own: bool = False, watch: tuple[()] = ()
    ) -> EventLoop[Envelope | Tick]: ...
    @overload
    def events(
        self, *, tick_s: None = None, skip_own: bool = False, watch: Sequence[Watchable]
    ) -> EventLoop[Envelope | Readable]: ...
    @overload
    def events(
        self, *, tick_s: float | None, skip_own: bool = False, watch: Sequence[Watchable] = ()
    ) -> EventLoop[Envelope | Tick | Readable]: ...
    def events(
        self,
        *,
        tick_s: float | None = None,
        skip_own: bool = False,
        watch: Sequence[Watchable] = (),
    ) -> EventLoop[Any]:
        """The worker's loop: messages, a tick every ``tick_s``, readable ``watch`` descriptors."""
        ...

    def __iter__(self) -> Iterator[Envelope]:
        """Messages until a stop is requested: ``node.events()`` without a tick."""
        ...

    def close(self) -> None:
        """Leave the bus."""
        ...
