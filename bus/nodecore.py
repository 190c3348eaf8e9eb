"""What every node does regardless of transport: numbering, encoding, decoding, counting.

:class:`NodeCore` is the base of the ZeroMQ :class:`bus.node.Node` and of the in-memory
:class:`bus.memory.MemoryNode` (both satisfy :class:`bus.nodeapi.BusNode`); a subclass supplies
the transport (:class:`bus.transport.Transport`). Given a :class:`~bus.manifest.Manifest`, a node
validates its settings with the manifest's model, subscribes to what it consumes and refuses to
publish what it does not declare (the declared models also spare the registry look-up).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from pydantic import BaseModel, ValidationError

from bus.errors import ConfigError, FrameError, LostError, SchemaError, VersionError
from bus.events import EventLoop, Readable, Tick, Watchable
from bus.framing import Envelope, decode, encode
from bus.manifest import IMPLICIT_PRODUCES, Manifest, ManifestError
from bus.nodeconfig import format_errors
from bus.seqtrack import SeqTracker
from bus.shm import ShmOut
from bus.topics import matcher
from bus.transport import Transport
from schemas.base import Message
from schemas.registry import Registry, registry
from schemas.system import Metric

__all__ = ["NodeCore", "NodeStats"]

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Message)
S = TypeVar("S", bound=BaseModel)

#: Warnings about bad frames are rate-limited to one per this many seconds per kind.
_WARN_EVERY_S = 5.0


@dataclass
class NodeStats:
    """Counters of one node."""

    received: int = 0
    published: int = 0
    malformed: int = 0
    refused_version: int = 0
    gaps: int = 0


class NodeCore(Transport):
    """Transport-independent part of a node."""

    def __init__(
        self,
        name: str,
        *,
        settings: dict[str, Any] | None = None,
        restarts: int = 0,
        reg: Registry = registry,
        manifest: Manifest | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.name = name
        self.settings: dict[str, Any] = dict(settings or {})
        self.restarts = restarts
        self.registry = reg
        self.manifest = manifest
        self.clock = clock
        """The monotonic clock, ns: message stamps, receive times, ticks (a test may fake it)."""
        self.instance = secrets.randbits(32) | 1
        self.stats = NodeStats()
        self.started_ns = clock()
        self.state = "starting"
        self._seq: dict[str, int] = {}
        self._patterns: list[str] = []
        self._match = matcher(())
        self._in_place_patterns: list[str] = []
        self._in_place: Callable[[str], bool] | None = None
        self._tracker = SeqTracker()
        self._stop = threading.Event()
        self._pub_lock = threading.Lock()
        self._last_warn: dict[str, float] = {}
        self.loop_tick_ns = self.started_ns
        self.empty_ns = 0
        """When the loop last found nothing to receive (``Envelope.empty_ns``), ns."""
        # topic -> model of what this node may publish: the manifest's produces, or (without
        # one) a cache of the registry's answers
        self._models: dict[str, type[Message]] = {}
        self._consumes: frozenset[str] | None = None
        self._shm: ShmOut | None = None  # large raw fields through shared memory (bus.shm)

    # --- what a worker calls -------------------------------------------------------------

    @property
    def restarted(self) -> bool:
        """True when the supervisor restarted this worker at least once before."""
        return self.restarts > 0

    @property
    def running(self) -> bool:
        """False once a stop was requested (SIGTERM, Ctrl-C or :meth:`request_stop`)."""
        return not self._stop.is_set()

    def request_stop(self) -> None:
        """Make iteration end and :attr:`running` false."""
        self._stop.set()

    def settings_as(self, model: type[S]) -> S:
        """Validate the worker's settings with ``model`` (use ``extra="forbid"`` in it)."""
        try:
            return model.model_validate(self.settings)
        except ValidationError as exc:
            raise ConfigError(
                f"Invalid settings of worker {self.name!r}: {format_errors(exc, 'settings')}"
            ) from exc

    def subscribe(self, *patterns: str) -> None:
        """Receive topics matching any of the globs (``vad.*``, ``asr.text``, ``*``)."""
        if self._consumes is not None:
            undeclared = [p for p in patterns if p not in self._consumes]
            if undeclared:
                raise ManifestError(
                    f"Worker {self.name!r} subscribes to {', '.join(map(repr, undeclared))}, "
                    "which its manifest does not declare; add it to the manifest's consumes "
                    "(a node with a manifest is subscribed to those already)."
                )
        self._subscribe(patterns)

    def read_in_place(self, *patterns: str) -> None:
        """Take the raw fields of these topics (globs) that come through shared memory as
        read-only ``memoryview``s of the publisher's ring instead of ``bytes`` (one copy fewer;
        ``docs/protocol.md`` section 9, "Reads in place"). The publisher does not write over a
        payload while any view of it is referenced: drop the message (or copy what you keep)
        when you are done with it. Other raw fields stay ``bytes``."""
        self._in_place_patterns += [p for p in patterns if p not in self._in_place_patterns]
        self._in_place = matcher(self._in_place_patterns)

    def _subscribe(self, patterns: Iterable[str]) -> None:
        for p in patterns:
            if p not in self._patterns:
                self._patterns.append(p)
                self._subscribe_prefix(p)
        self._match = matcher(self._patterns)

    def _declare(self) -> None:
        """Validate the settings and take the manifest's topics (a subclass calls this first,
        then subscribes to ``_consumes`` once its transport can)."""
        m = self.manifest
        if m is None:
            return
        settings = self.settings_as(m.settings) if m.settings is not None else None
        consumes, produces = m.resolve(settings)
        models = dict(produces)
        for topic in IMPLICIT_PRODUCES:
            model = self.registry.model_for(topic)
            assert model is not None, topic
            models[topic] = model
        self._models = models
        self._consumes = frozenset(consumes)

    def ready(self) -> None:
        """Tell the supervisor this worker is ready (it starts workers that depend on it)."""
        self.state = "ready"
        self._on_ready()

    def publish(self, topic: str, payload: Message, *, trace: str = "") -> None:
        """Publish ``payload`` on ``topic``: registered to its model, declared in the manifest."""
        model = self._models.get(topic) or self._model_to_publish(topic)
        if payload.__class__ is not model and not isinstance(payload, model):
            raise SchemaError(
                f"Topic {topic!r} carries {model.__name__}, not {type(payload).__name__}."
            )
        with self._pub_lock:
            seq = self._seq.get(topic, 0) + 1
            self._seq[topic] = seq
            frames = encode(
                topic,
                payload,
                source=self.name,
                instance=self.instance,
                seq=seq,
                ts_ns=self.clock(),
                trace=trace,
                shm=self._shm,
            )
            self._send(frames)
            self.stats.published += 1

    def publish_many(self, outs: Iterable[tuple[str, Message, str]]) -> None:
        """Publish each :class:`~bus.nodeapi.Out` (or ``(topic, payload, trace)``) in order."""
        publish = self.publish
        for topic, payload, trace in outs:
            publish(topic, payload, trace=trace)

    def _model_to_publish(self, topic: str) -> type[Message]:
        if self.manifest is not None:
            declared = ", ".join(t for t in self._models if t not in IMPLICIT_PRODUCES)
            raise ManifestError(
                f"Worker {self.name!r} publishes {topic!r}, which its manifest does not declare "
                f"(it declares {declared or 'nothing'}); add the topic to the manifest's "
                "produces, or check the spelling."
            )
        model = self.registry.model_for(topic)
        if model is None:
            raise SchemaError(
                f"Topic {topic!r} is not registered; register its model first "
                "(bus.register_topic) or check the spelling."
            )
        self._models[topic] = model
        return model

    def metric(
        self, name: str, value: float, kind: str = "gauge", *, trace: str = "", **labels: str
    ) -> None:
        """Publish one ``sys.metric``."""
        self.publish(
            "sys.metric",
            Metric(name=name, value=value, kind=kind, worker=self.name, labels=labels),  # type: ignore[arg-type]
            trace=trace,
        )

    def poll(self, timeout_s: float | None = 0.0) -> Envelope | None:
        """The next message for us, or ``None`` after ``timeout_s`` (``None`` = wait forever)."""
        clock = self.clock
        now = self.loop_tick_ns = clock()
        deadline = None if timeout_s is None else now + int(timeout_s * 1e9)
        while True:
            frames = self._recv_nowait()
            if frames is not None:
                msg = self._accept(frames, clock())
                if msg is not None:
                    return msg
                continue
            now = self.empty_ns = clock()
            if deadline is not None and now >= deadline:
                return None
            if self._wait(-1 if deadline is None else deadline - now, ()) is None:
                return None
            self.empty_ns = clock()  # nothing came until the wait ended

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
        """The worker's loop: messages, a tick every ``tick_s``, readable ``watch`` descriptors.

        See :mod:`bus.events` for what it promises; ``skip_own`` drops this node's own messages.
        """
        return EventLoop(self, tick_s, skip_own, watch)

    def __iter__(self) -> Iterator[Envelope]:
        """Messages until a stop is requested: ``node.events()`` without a tick."""
        return iter(self.events())

    # --- internals -----------------------------------------------------------------------

    def _accept(self, frames: list[bytes], recv_ns: int) -> Envelope | None:
        try:
            msg = decode(frames, self.registry, self._in_place)
        except VersionError as exc:
            self.stats.refused_version += 1
            self._warn("version", logging.ERROR, "frame_refused reason=%s", exc)
            return None
        except LostError as exc:  # a slow reader, as with a sequence gap: not a bad frame
            self._lost(exc)
            return None
        except FrameError as exc:
            self.stats.malformed += 1
            self._warn("malformed", logging.WARNING, "frame_dropped reason=%s", exc)
            return None
        if not self._match(msg.topic):
            return None
        msg.recv_ns = recv_ns
        msg.empty_ns = self.empty_ns
        self.stats.received += 1
        self._observe(msg.source, msg.instance, msg.topic, msg.seq)
        return msg

    def _lost(self, exc: LostError) -> None:
        """A message whose payload was overwritten: one gap, and its seq taken as seen (else
        the next message's jump would count it a second time)."""
        if exc.stream is not None:
            if not self._match(exc.stream[2]):
                return
            self._observe(*exc.stream)
        self.stats.gaps += 1
        self._warn("lost", logging.WARNING, "messages_lost lost=1 reason=%s", exc)

    def _observe(self, source: str, instance: int, topic: str, seq: int) -> None:
        gap = self._tracker.observe(source, instance, topic, seq)
        if gap is not None:
            self.stats.gaps += gap.lost
            self._warn(
                "gap",
                logging.WARNING,
                "messages_lost source=%s topic=%s lost=%d",
                gap.source,
                gap.topic,
                gap.lost,
            )

    def _warn(self, kind: str, level: int, fmt: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_warn.get(kind, -1e9) >= _WARN_EVERY_S:
            self._last_warn[kind] = now
            log.log(level, fmt, *args)

    def heartbeat_fields(self) -> dict[str, Any]:
        """The values a heartbeat reports now."""
        now = self.clock()
        return {
            "worker": self.name,
            "pid": os.getpid(),
            "state": self.state,
            "uptime_s": (now - self.started_ns) / 1e9,
            "loop_age_ms": (now - self.loop_tick_ns) / 1e6,
            "restarts": self.restarts,
            "received": self.stats.received,
            "published": self.stats.published,
            "dropped": self.stats.malformed + self.stats.refused_version,
            "gaps": self.stats.gaps,
        }
