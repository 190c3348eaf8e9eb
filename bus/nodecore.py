"""What every node does regardless of transport: numbering, encoding, decoding, counting.

:class:`NodeCore` is the base of the ZeroMQ :class:`bus.node.Node` and of the in-memory
:class:`bus.memory.MemoryNode`; a subclass supplies ``_send`` and ``_recv``.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bus.errors import ConfigError, FrameError, SchemaError, VersionError
from bus.framing import Envelope, decode, encode
from bus.nodeconfig import format_errors
from bus.seqtrack import SeqTracker
from bus.topics import matcher
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


class NodeCore:
    """Transport-independent part of a node."""

    def __init__(
        self,
        name: str,
        *,
        settings: dict[str, Any] | None = None,
        restarts: int = 0,
        reg: Registry = registry,
    ) -> None:
        self.name = name
        self.settings: dict[str, Any] = dict(settings or {})
        self.restarts = restarts
        self.registry = reg
        self.instance = secrets.randbits(32) | 1
        self.stats = NodeStats()
        self.started_ns = time.monotonic_ns()
        self.state = "starting"
        self._seq: dict[str, int] = {}
        self._patterns: list[str] = []
        self._match = matcher(())
        self._tracker = SeqTracker()
        self._stop = threading.Event()
        self._pub_lock = threading.Lock()
        self._last_warn: dict[str, float] = {}
        self.loop_tick_ns = self.started_ns

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
        for p in patterns:
            if p not in self._patterns:
                self._patterns.append(p)
                self._subscribe_prefix(p)
        self._match = matcher(self._patterns)

    def ready(self) -> None:
        """Tell the supervisor this worker is ready (it starts workers that depend on it)."""
        self.state = "ready"
        self._on_ready()

    def publish(self, topic: str, payload: Message, *, trace: str = "") -> None:
        """Publish ``payload`` on ``topic``; the topic must be registered to its model."""
        model = self.registry.model_for(topic)
        if model is None:
            raise SchemaError(
                f"Topic {topic!r} is not registered; register its model first "
                "(bus.register_topic) or check the spelling."
            )
        if not isinstance(payload, model):
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
                ts_ns=time.monotonic_ns(),
                trace=trace,
            )
            self._send(frames)
            self.stats.published += 1

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
        self.loop_tick_ns = time.monotonic_ns()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            frames = self._recv(left)
            if frames is None:
                return None
            msg = self._accept(frames)
            if msg is not None:
                return msg
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def __iter__(self) -> Iterator[Envelope]:
        """Messages until a stop is requested."""
        while self.running:
            msg = self.poll(0.1)
            if msg is not None:
                yield msg

    def install_signal_handlers(self) -> None:
        """Turn SIGTERM and SIGINT into a clean stop (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return

        def _handler(signum: int, _frame: object) -> None:
            log.info("stop_requested signal=%s", signal.Signals(signum).name)
            self.request_stop()

        signal.signal(signal.SIGTERM, _handler)
        signal.signal(signal.SIGINT, _handler)

    # --- internals -----------------------------------------------------------------------

    def _accept(self, frames: list[bytes]) -> Envelope | None:
        try:
            msg = decode(frames, self.registry)
        except VersionError as exc:
            self.stats.refused_version += 1
            self._warn("version", logging.ERROR, "frame_refused reason=%s", exc)
            return None
        except FrameError as exc:
            self.stats.malformed += 1
            self._warn("malformed", logging.WARNING, "frame_dropped reason=%s", exc)
            return None
        if not self._match(msg.topic):
            return None
        self.stats.received += 1
        gap = self._tracker.observe(msg.source, msg.instance, msg.topic, msg.seq)
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
        return msg

    def _warn(self, kind: str, level: int, fmt: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_warn.get(kind, -1e9) >= _WARN_EVERY_S:
            self._last_warn[kind] = now
            log.log(level, fmt, *args)

    def heartbeat_fields(self) -> dict[str, Any]:
        """The values a heartbeat reports now."""
        now = time.monotonic_ns()
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

    def _subscribe_prefix(self, pattern: str) -> None:
        raise NotImplementedError

    def _on_ready(self) -> None:
        raise NotImplementedError

    def _send(self, frames: list[bytes]) -> None:
        raise NotImplementedError

    def _recv(self, timeout_s: float | None) -> list[bytes] | None:
        raise NotImplementedError
