"""The proxy's forwarding loop: messages one way within the limits, subscriptions the other.

Messages from publishers (the XSUB side) go to subscribers (the XPUB side) frame by frame; a
raw frame is never copied (``copy=False``: ZeroMQ hands the same buffer on). Before a message is
sent on, its frames are checked against the limits of ``docs/protocol.md`` (frames 0 and 1:
4 MiB, frame 2: 64 MiB, at most 3 frames); a message over them is dropped whole, counted by reason,
logged (one line per reason per ``_WARN_EVERY_S``) and reported on the bus as the proxy's own
``sys.metric`` ``proxy_refused_total{reason=...}``. Only the frames already received are held:
the rest of a refused message is read and let go one frame at a time.

Subscriptions (and unsubscriptions) from the XPUB side go to the XSUB side unchanged, so
publishers filter at the source as with ``zmq_proxy``. Those to :data:`bus.connect.SHM_READER`
are also counted, with the subscriber connections the XPUB socket's monitor reports
(:mod:`bus.busreaders`), and the proxy publishes on ``sys.bus`` whether every reader reads
shared memory, whenever that changes.

The loop is C (:mod:`bus.nativeforward`) when ``bus/native`` is built: Python then runs only to
log a refusal, to publish the counters and to read the control socket. Without it the same
rules run in Python (:meth:`Forwarder._run_python`), at a few tens of microseconds per message.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import zmq

from bus import nativeforward, shm
from bus.busreaders import PROXY_NAME, ReaderCount
from bus.connect import SHM_READER
from bus.errors import ConfigError
from bus.framecheck import MAX_ENVELOPE_BYTES, MAX_RAW_BYTES
from bus.framing import encode
from schemas.base import Message
from schemas.system import BusReaders, Metric

__all__ = ["REASONS", "Forwarder", "ProxyStats"]

log = logging.getLogger(__name__)

#: Why a message is refused, as counted in ``proxy_refused_total{reason=...}``.
REASONS = ("envelope_over_limit", "raw_over_limit", "topic_over_limit", "too_many_frames")
#: At most this many messages are forwarded before subscriptions and control are looked at.
_BATCH = 256
_WARN_EVERY_S = 5.0
_MARKS = {b"\x01" + SHM_READER: 1, b"\x00" + SHM_READER: -1}  # (un)subscription -> count


@dataclass
class ProxyStats:
    """Counters of one proxy (written by its loop only)."""

    forwarded: int = 0
    refused: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    subscriptions: int = 0

    @property
    def refused_total(self) -> int:
        """Messages refused for any reason."""
        return sum(self.refused.values())


class Forwarder:
    """Moves traffic between ``front`` (XSUB) and ``back`` (XPUB) until told to TERMINATE.

    ``report_s`` is the period of the proxy's ``sys.metric`` counters (and of a ``sys.bus``
    that did not change); a refusal brings the next report forward to at most
    ``_REPORT_AFTER_REFUSAL_S`` later. ``monitor`` is the XPUB socket's monitor
    (:data:`bus.busreaders.MONITOR_EVENTS`), started before it was bound; without it nothing is
    known of the readers and ``sys.bus`` is never published (publishers then keep every payload
    in its frame). ``back`` must have ``ZMQ_XPUB_VERBOSER`` set, or a reader's subscription to
    the marker is not seen when another reader has one.
    """

    _REPORT_AFTER_REFUSAL_S = 0.5

    def __init__(
        self,
        front: zmq.Socket,
        back: zmq.Socket,
        report_s: float = 10.0,
        native: bool | None = None,
        monitor: zmq.Socket | None = None,
    ) -> None:
        """``native``: True requires the C loop, False never uses it, None uses it if built."""
        self.front, self.back, self.monitor = front, back, monitor
        self.readers = ReaderCount()
        self._announced: BusReaders | None = None
        self.native: nativeforward.NativeForward | None = None
        if native is not False:
            self.native, why = nativeforward.load()
            if self.native is None and native:
                raise ConfigError(f"The proxy's C forwarding loop is not available: {why}.")
            if self.native is None:
                log.warning("forwarder_in_python reason=%s (slower per message)", why)
        self.stats = ProxyStats()
        self.report_s = report_s
        self.instance = secrets.randbits(32) | 1
        self._seq: dict[str, int] = {}
        self._next_report = time.monotonic() + report_s
        self._last_warn: dict[str, float] = {}

    def run(self, ctl: zmq.Socket) -> None:
        """Forward until TERMINATE arrives on ``ctl`` (or the context ends)."""
        if self.native is not None:
            self._run_native(self.native, ctl)
        else:
            self._run_python(ctl)

    def _run_native(self, nat: nativeforward.NativeForward, ctl: zmq.Socket) -> None:
        nat.limits.topic = nat.limits.envelope = MAX_ENVELOPE_BYTES
        nat.limits.raw = MAX_RAW_BYTES
        nat.limits.marker, nat.limits.marker_len = SHM_READER, len(SHM_READER)
        st = nat.stats
        self._announce()
        while True:
            timeout_ms = max(0, int((self._next_report - time.monotonic()) * 1000)) + 1
            rc = nat.run(self.front, self.back, ctl, timeout_ms, self.monitor)
            self.stats.forwarded = st.forwarded
            self.stats.subscriptions = st.subscriptions
            for i, reason in enumerate(REASONS):
                self.stats.refused[reason] = st.refused[i]
            if rc == nativeforward.TERMINATED:
                raise zmq.ContextTerminated()
            if rc == nativeforward.CONTROL and ctl.recv() == b"TERMINATE":
                return
            if rc == nativeforward.REFUSED:
                reason = REASONS[st.last_reason]
                self._refused(reason, nat.last_topic(), st.last_size, st.last_frames)
            if rc in (nativeforward.READERS, nativeforward.MONITOR):
                self.readers.marked = st.marked
                self._announce()
            if time.monotonic() >= self._next_report:
                self._report()

    def _run_python(self, ctl: zmq.Socket) -> None:
        front, back = self.front, self.back
        items = [(front, zmq.POLLIN), (back, zmq.POLLIN), (ctl, zmq.POLLIN)]
        if self.monitor is not None:
            items.append((self.monitor, zmq.POLLIN))
        poll, monotonic = zmq.zmq_poll, time.monotonic
        self._announce()
        while True:
            timeout_ms = int((self._next_report - monotonic()) * 1000) + 1
            for sock, _ in poll(items, timeout_ms if timeout_ms > 0 else 0):
                if sock is front:
                    self._forward()
                elif sock is back:
                    self._subscriptions()
                elif sock is ctl:
                    if ctl.recv() == b"TERMINATE":
                        return
                else:
                    self._announce()  # the monitor: _announce reads it
            if monotonic() >= self._next_report:
                self._report()

    def _forward(self) -> None:
        # Frames 0 and 1 are small (a topic, an envelope): received as bytes, which costs less
        # than a zmq.Frame object; frame 2 (raw) as a Frame, so its buffer is never copied.
        # ZMQ_EVENTS tells when the socket is empty, so no zmq.Again is raised per message.
        front, back, stats = self.front, self.back, self.stats
        recv, send = front.recv, back.send
        get: Callable[[int], int] = front.get  # type: ignore[assignment]
        more, events, pollin, sndmore = zmq.RCVMORE, zmq.EVENTS, zmq.POLLIN, zmq.SNDMORE
        for _ in range(_BATCH):
            topic: bytes = recv()
            if not get(more):  # one frame: readers refuse it (rule F1); it costs nothing here
                if len(topic) > MAX_ENVELOPE_BYTES:
                    self._refuse("topic_over_limit", topic, len(topic), 1)
                else:
                    send(topic)
                    stats.forwarded += 1
            else:
                env: bytes = recv()
                if len(topic) > MAX_ENVELOPE_BYTES:
                    self._refuse("topic_over_limit", topic, len(topic), 2)
                elif len(env) > MAX_ENVELOPE_BYTES:
                    self._refuse("envelope_over_limit", topic, len(env), 2)
                elif not get(more):
                    send(topic, sndmore)
                    send(env)
                    stats.forwarded += 1
                else:
                    raw = recv(copy=False)
                    if len(raw) > MAX_RAW_BYTES:
                        self._refuse("raw_over_limit", topic, len(raw), 3)
                    elif raw.more:
                        self._refuse("too_many_frames", topic, 0, 3)
                    else:
                        send(topic, sndmore)
                        send(env, sndmore)
                        send(raw, copy=False)
                        stats.forwarded += 1
            if not get(events) & pollin:
                return

    def _refuse(self, reason: str, topic: bytes, size: int, frames: int) -> None:
        """Count and report a refused message, and read away its remaining frames.

        ``size`` is the length of the frame over its limit (0 when the count is the problem)
        and ``frames`` how many were read so far.
        """
        while self.front.get(zmq.RCVMORE):  # one frame at a time, never the whole message
            self.front.recv(copy=False)
            frames += 1
        self.stats.refused[reason] += 1
        self._refused(reason, topic, size, frames)

    def _refused(self, reason: str, topic: bytes, size: int, frames: int) -> None:
        """Log a refusal (rate-limited per reason) and bring the next report forward."""
        n = self.stats.refused[reason]
        now = time.monotonic()
        self._next_report = min(self._next_report, now + self._REPORT_AFTER_REFUSAL_S)
        if now - self._last_warn.get(reason, -1e9) >= _WARN_EVERY_S:
            self._last_warn[reason] = now
            log.warning(
                "message_refused reason=%s topic=%r frames=%d bytes=%d envelope_limit=%d "
                "raw_limit=%d refused_so_far=%d (see docs/protocol.md, limits)",
                reason,
                topic[:80].decode("utf-8", "replace"),
                frames,
                size,
                MAX_ENVELOPE_BYTES,
                MAX_RAW_BYTES,
                n,
            )

    def _subscriptions(self) -> None:
        marked = self.readers.marked
        for _ in range(_BATCH):
            try:
                msg = self.back.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            self.front.send_multipart(msg)
            self.stats.subscriptions += 1
            if len(msg) == 1:
                self.readers.marked += _MARKS.get(msg[0], 0)
        if self.readers.marked != marked:
            self._announce()

    def _announce(self, always: bool = False) -> None:
        """Publish ``sys.bus`` if what it says changed (or ``always``), the monitor read first."""
        if self.monitor is None:
            return
        self.readers.read_monitor(self.monitor)
        state = self.readers.state()
        if always or state != self._announced:
            self._announced = state
            self._publish("sys.bus", state)

    def _report(self) -> None:
        """Publish the counters as ``sys.metric`` and the readers as ``sys.bus`` on the XPUB side
        (to the proxy's subscribers), and remove the shared-memory rings of publishers that are
        gone (killed)."""
        self._next_report = time.monotonic() + self.report_s
        shm.sweep()
        self._announce(always=True)
        counters: list[tuple[str, int, dict[str, str]]] = [
            ("proxy_forwarded_total", self.stats.forwarded, {})
        ]
        counters += [
            ("proxy_refused_total", n, {"reason": reason})
            for reason, n in self.stats.refused.items()
        ]
        metrics = [
            Metric(name=name, value=n, kind="counter", worker=PROXY_NAME, labels=labels)
            for name, n, labels in counters
        ]
        for m in metrics:
            self._publish("sys.metric", m)

    def _publish(self, topic: str, payload: Message) -> None:
        """Send one message of the proxy's own on the XPUB side."""
        seq = self._seq[topic] = self._seq.get(topic, 0) + 1
        frames = encode(
            topic,
            payload,
            source=PROXY_NAME,
            instance=self.instance,
            seq=seq,
            ts_ns=time.monotonic_ns(),
        )
        try:
            self.back.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:  # pragma: no cover (XPUB drops rather than blocks)
            pass
