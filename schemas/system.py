"""System topics: heartbeats, logs, metrics, worker lifecycle and the bus handshake."""

from __future__ import annotations

from typing import ClassVar, Literal

from schemas.base import Message
from schemas.registry import registry

__all__ = ["BusReaders", "Heartbeat", "LifecycleEvent", "LogRecord", "Metric", "Ping"]


class Heartbeat(Message):
    """Proof of life of a worker (topic ``sys.heartbeat``), every ``heartbeat_ms``."""

    worker: str
    """Worker name."""
    pid: int
    """Process id."""
    state: Literal["starting", "ready", "stopping"]
    """``ready`` once the worker called ``ready()``."""
    uptime_s: float
    """Seconds since the node started."""
    loop_age_ms: float = 0.0
    """Time since the worker's loop last asked the node for a message, ms (a stall shows here)."""
    restarts: int = 0
    """How many times the supervisor restarted this worker before this run."""
    received: int = 0
    """Messages received by the node so far."""
    published: int = 0
    """Messages published by the node so far."""
    dropped: int = 0
    """Malformed or refused frames dropped so far."""
    gaps: int = 0
    """Messages detected as lost (sequence gaps) so far."""


class LogRecord(Message):
    """A log line (topic ``sys.log``), WARNING and above by default."""

    worker: str
    """Worker name."""
    level: str
    """Logging level name."""
    logger: str
    """Logger name."""
    message: str
    """The formatted message."""


class Metric(Message):
    """A measurement (topic ``sys.metric``)."""

    name: str
    """Metric name, ``snake_case`` with the unit as suffix (``asr_rtf``, ``vad_close_ms``)."""
    value: float
    """The value."""
    kind: Literal["gauge", "counter", "sample"] = "gauge"
    """gauge = current value; counter = running total; sample = one observation."""
    worker: str = ""
    """Worker that measured it."""
    labels: dict[str, str] = {}
    """Extra dimensions (e.g. ``{"backend": "whisper"}``)."""


class LifecycleEvent(Message):
    """A worker lifecycle change seen by the supervisor (topic ``sys.lifecycle``).

    The bus proxy's exit and restart are announced as worker ``proxy`` (once the bus is back:
    ``exited`` with how long it was down in ``silent_s``, then ``ready``)."""

    schema_version: ClassVar[tuple[int, int]] = (1, 1)

    worker: str
    """Worker name (``proxy`` for the bus proxy)."""
    event: Literal[
        "spawned", "ready", "exited", "hung", "restarting", "gave_up", "stopped", "added"
    ]
    """What happened."""
    pid: int = 0
    """Process id concerned."""
    exit_code: int | None = None
    """Normalised exit code: >= 0 exit status, negative = killed by that signal."""
    restarts: int = 0
    """Restarts so far."""
    delay_s: float = 0.0
    """For ``restarting``: the backoff delay before the new start, s."""
    detail: str = ""
    """A sentence for humans."""
    silent_s: float = 0.0
    """How long before this event the worker stopped working, s: for ``hung``, the time since
    its last heartbeat (or since its loop last polled); for the proxy's ``exited``, how long the
    bus was down. 0 when it ended at the moment of the event (added in 1.1)."""


class BusReaders(Message):
    """Who reads the bus, as its proxy counts them (topic ``sys.bus``, from ``bus-proxy``).

    The proxy publishes it when a count changes and with its counters (every 10 s). Publishers
    on the proxy's machine send raw fields through shared memory only while the last one they
    received says ``shm`` (``docs/protocol.md`` section 9)."""

    shm: bool
    """True when every subscriber connection is on an ``ipc://`` endpoint and has said that it
    reads this machine's shared-memory rings (by subscribing to ``_shm.reader``); False as soon
    as one has not."""
    readers: int
    """Subscriber connections to the proxy's XPUB side now, ipc and tcp."""
    shm_readers: int
    """Subscriptions to ``_shm.reader`` now: connections that read the rings."""
    remote_readers: int
    """Subscriber connections on ``tcp://`` endpoints now (another machine may be behind them,
    which cannot read this one's rings)."""


class Ping(Message):
    """Start-up probe a node publishes to itself on ``_probe.<instance>`` until it comes back."""

    nonce: int
    """Random value identifying the probe."""


registry.register("sys.heartbeat", Heartbeat, core=True)
registry.register("sys.log", LogRecord, core=True)
registry.register("sys.metric", Metric, core=True)
registry.register("sys.lifecycle", LifecycleEvent, core=True)
registry.register("sys.bus", BusReaders, core=True)
