"""The subscriber under every tap: a bounded queue filled by a receiver thread.

    tap = TapNode(NodeConfig.from_env("tap"), ["vad.*", "asr.text"])
    while (item := tap.get(timeout_s=0.5)) is not None or tap.running:
        ...
    tap.close()

A tap must never slow the pipeline down. The proxy already gives every subscriber its own
queue and drops (instead of blocking) when that queue is full; on top of that a receiver thread
takes frames off the socket as fast as ZeroMQ delivers them and puts them in a bounded queue.
When the consumer (a terminal, a disk, a scraper) is slower, the newest frames are dropped and
counted in :attr:`TapStats.lost`; frames the proxy dropped before they reached us show up as
sequence gaps once decoded. Either way only the tap loses messages.

Frames are kept raw (with their receive time, monotonic ns) so a recorder can store exactly what
travelled; :meth:`TapNode.decode` turns one into an :class:`~bus.framing.Envelope` and counts
malformed frames instead of raising.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import zmq

from bus.connect import PROBE_PREFIX, await_handshake, connect
from bus.errors import FrameError, LostError, VersionError
from bus.framing import Envelope, decode
from bus.heartbeat import HeartbeatThread
from bus.nodeconfig import NodeConfig
from bus.seqtrack import SeqTracker
from bus.shm import materialize
from bus.topics import literal_prefix, matcher
from schemas.registry import Registry, registry

__all__ = ["Received", "TapNode", "TapStats"]

log = logging.getLogger(__name__)

#: Default number of frames held between the receiver thread and the consumer.
DEFAULT_QUEUE = 10_000


@dataclass(frozen=True, slots=True)
class Received:
    """One multipart message as it came off the socket."""

    recv_ns: int
    """Monotonic time (ns) at which the receiver thread took it off the socket."""
    frames: list[bytes]
    """The ZeroMQ frames, unchanged."""

    @property
    def topic(self) -> str:
        """The first frame as text (undecodable bytes replaced)."""
        return self.frames[0].decode("utf-8", "replace") if self.frames else ""

    @property
    def size(self) -> int:
        """Bytes of all frames together."""
        return sum(len(f) for f in self.frames)


@dataclass
class TapStats:
    """What a tap saw and lost."""

    received: int = 0
    """Frames taken off the socket that matched the tap's globs."""
    lost: int = 0
    """Frames dropped because the tap's own queue was full (the consumer was too slow)."""
    decoded: int = 0
    """Frames decoded successfully."""
    malformed: int = 0
    """Frames that could not be decoded."""
    refused_version: int = 0
    """Frames with a protocol or schema major version this reader does not speak."""
    gaps: int = 0
    """Messages missing from publishers' sequence numbers: lost before reaching the tap, or
    dropped by the tap itself (``lost``), which shows up as a gap once a later one is decoded."""
    last_error: str = ""
    """Reason of the last malformed or refused frame."""
    malformed_by_topic: dict[str, int] = field(default_factory=dict)
    """Malformed and refused frames per topic."""


class TapNode:
    """A read-mostly bus participant for taps; ``publish_raw`` serves the replayer.

    ``patterns`` are topic globs (``*`` = everything); an empty list subscribes to nothing.
    With ``heartbeat`` the tap beats like a worker (state ``ready`` once connected), so the
    supervisor can run it as one.
    """

    def __init__(
        self,
        config: NodeConfig,
        patterns: Sequence[str] = ("*",),
        *,
        queue_size: int = DEFAULT_QUEUE,
        reg: Registry = registry,
        handshake: bool = True,
        publisher: bool = True,
        heartbeat: bool = False,
    ) -> None:
        self.config = config
        self.name = config.name
        self.registry = reg
        self.instance = secrets.randbits(32) | 1
        self.patterns = list(patterns)
        self.stats = TapStats()
        self.last_gap = 0
        self._match = matcher(self.patterns)
        self._tracker = SeqTracker()
        self._queue: queue.Queue[Received] = queue.Queue(maxsize=max(1, queue_size))
        self._stop = threading.Event()
        self._ctx = zmq.Context()
        self._sub = connect(self._ctx, zmq.SUB, config, linger_ms=0)
        self._pub = connect(self._ctx, zmq.PUB, config) if publisher or handshake else None
        self._thread = threading.Thread(target=self._receive, name=f"tap-{self.name}", daemon=True)
        self.started_ns = self.loop_tick_ns = time.monotonic_ns()
        self._heartbeat: HeartbeatThread | None = None
        try:
            # subscribe before the handshake: once our probe came back through the proxy, the
            # subscriptions sent ahead of it on the same connection have reached it too
            for p in self.patterns:
                self._sub.setsockopt(zmq.SUBSCRIBE, literal_prefix(p).encode())
            if handshake:
                assert self._pub is not None
                await_handshake(
                    self._pub,
                    self._sub,
                    config,
                    self.instance,
                    lambda frames: self._take(time.monotonic_ns(), frames),
                )
            if heartbeat:
                self._heartbeat = HeartbeatThread(
                    connect(self._ctx, zmq.PUB, config),
                    self.name,
                    self.instance ^ 0x5A5A5A5A,
                    config.heartbeat_ms / 1000.0,
                    self._heartbeat_fields,
                )
        except BaseException:
            self._close_sockets()
            raise
        self._thread.start()
        if self._heartbeat is not None:
            self._heartbeat.start()

    # --- consuming -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """False once :meth:`request_stop` or :meth:`close` was called."""
        return not self._stop.is_set()

    def request_stop(self) -> None:
        """Make :attr:`running` false (a CLI's signal handler calls this)."""
        self._stop.set()

    def get(self, timeout_s: float | None = 0.1) -> Received | None:
        """The next received frame set, or ``None`` after ``timeout_s``."""
        self.loop_tick_ns = time.monotonic_ns()
        try:
            return self._queue.get(timeout=timeout_s) if timeout_s else self._queue.get_nowait()
        except queue.Empty:
            return None

    def pending(self) -> int:
        """Frames waiting in the tap's queue."""
        return self._queue.qsize()

    def decode(self, item: Received) -> Envelope | FrameError:
        """Decode ``item``; a bad frame is counted and returned as its error, never raised.

        :attr:`last_gap` is then the number of messages lost just before this one on its
        publisher's stream (0 when none).
        """
        self.last_gap = 0
        try:
            msg = decode(item.frames, self.registry)
        except FrameError as exc:
            if isinstance(exc, VersionError):
                self.stats.refused_version += 1
            else:
                self.stats.malformed += 1
            topic = item.topic
            self.stats.malformed_by_topic[topic] = self.stats.malformed_by_topic.get(topic, 0) + 1
            self.stats.last_error = str(exc)
            return exc
        self.stats.decoded += 1
        gap = self._tracker.observe(msg.source, msg.instance, msg.topic, msg.seq)
        if gap is not None:
            self.stats.gaps += gap.lost
            self.last_gap = gap.lost
        return msg

    # --- publishing (the replayer) -------------------------------------------------------

    def publish_raw(self, frames: list[bytes]) -> None:
        """Send already encoded frames unchanged (blocks only if our own send queue is full)."""
        if self._pub is None:
            raise RuntimeError("This TapNode was created with publisher=False.")
        self._pub.send_multipart(frames, copy=len(frames[-1]) < 65536)

    # --- internals -----------------------------------------------------------------------

    def _heartbeat_fields(self) -> dict[str, Any]:
        now = time.monotonic_ns()
        s = self.stats
        return {
            "worker": self.name,
            "pid": os.getpid(),
            "state": "ready" if self.running else "stopping",
            "uptime_s": (now - self.started_ns) / 1e9,
            "loop_age_ms": (now - self.loop_tick_ns) / 1e6,
            "restarts": self.config.restarts,
            "received": s.received,
            "published": 0,
            "dropped": s.lost + s.malformed + s.refused_version,
            "gaps": s.gaps,
        }

    def _take(self, now_ns: int, frames: list[bytes]) -> None:
        """Queue ``frames`` if they match our globs; count them lost if the queue is full.

        A payload in shared memory is copied out now (its slot may be reused before the
        consumer gets to it), so what is queued, shown and recorded is a plain message.
        """
        head = frames[0]
        if head.startswith(PROBE_PREFIX) or not self._match(head.decode("utf-8", "replace")):
            return
        self.stats.received += 1
        try:
            frames = materialize(frames)
        except LostError:
            self.stats.lost += 1
            return
        except FrameError:
            pass  # decode() refuses it and says why
        try:
            self._queue.put_nowait(Received(now_ns, frames))
        except queue.Full:
            self.stats.lost += 1

    def _receive(self) -> None:
        sub = self._sub
        take = self._take
        try:
            while not self._stop.is_set():
                if not sub.poll(100):
                    continue
                while True:
                    try:
                        frames = sub.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    take(time.monotonic_ns(), frames)
        except zmq.ContextTerminated:
            pass
        except Exception:
            log.exception("tap_receiver_failed name=%s", self.name)
            self._stop.set()

    def _close_sockets(self) -> None:
        if self._heartbeat is not None and self._heartbeat.is_alive():
            self._heartbeat.stop()  # sends a last beat (stopping) and closes its socket
        self._sub.close(linger=0)
        if self._pub is not None:
            self._pub.close()
        self._ctx.term()

    def close(self) -> None:
        """Stop the receiver thread and close the sockets (sent frames are flushed up to 1 s)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._close_sockets()

    def __enter__(self) -> TapNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
