"""What a tap learns from the traffic: per-topic rates, ages and gaps; per-worker health.

:class:`BusObserver` is pure bookkeeping fed one decoded message at a time (``top`` and the
metrics exporter share it, tests feed it directly). Rates and age percentiles are over a sliding
window; counts are totals since the tap started. Worker rows come from ``sys.heartbeat`` and
``sys.lifecycle``; :class:`ProcessSampler` adds CPU and memory of each worker's pid (same machine).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import psutil

from bus.framing import Envelope
from bus.taps.tapnode import Received
from schemas.dialog import TurnMetrics
from schemas.system import BusReaders, Heartbeat, LifecycleEvent

__all__ = ["BusObserver", "ProcessSampler", "TopicStats", "WorkerInfo", "percentile"]

#: A worker whose last heartbeat is older than this is shown as ``silent``.
SILENT_AFTER_S = 3.0
#: Lifecycle events after which the worker is not running.
_DOWN_EVENTS = {"exited", "hung", "restarting", "gave_up", "stopped"}


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) of already sorted values, nearest rank; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[rank]


@dataclass
class TopicStats:
    """Totals and a sliding window of one topic."""

    messages: int = 0
    """Messages received since the tap started."""
    bytes: int = 0
    """Bytes of all their frames."""
    gaps: int = 0
    """Messages missing from sequence numbers (lost before the tap)."""
    malformed: int = 0
    """Frames on this topic that could not be decoded."""
    window: deque[tuple[int, int, int]] = field(default_factory=deque)
    """(receive time ns, bytes, age ns) of the messages in the window."""

    def trim(self, now_ns: int, window_ns: int) -> None:
        """Forget window entries older than ``window_ns``."""
        while self.window and now_ns - self.window[0][0] > window_ns:
            self.window.popleft()


@dataclass
class WorkerInfo:
    """What is known of one worker."""

    name: str
    pid: int = 0
    state: str = "unknown"
    restarts: int = 0
    uptime_s: float = 0.0
    loop_age_ms: float = 0.0
    beat_ns: int = 0
    """Monotonic time (ns) the last heartbeat was received; 0 if never."""
    last_event: str = ""
    event_ns: int = 0
    exit_code: int | None = None
    detail: str = ""
    received: int = 0
    published: int = 0
    dropped: int = 0
    gaps: int = 0


class BusObserver:
    """Bookkeeping of what a tap sees."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_ns = int(window_s * 1e9)
        self.started_ns = time.monotonic_ns()
        self.topics: dict[str, TopicStats] = {}
        self.workers: dict[str, WorkerInfo] = {}
        #: The last few finished turns (``dialog.turn``), newest last.
        self.turns: deque[TurnMetrics] = deque(maxlen=5)
        #: The proxy's last word on who reads the bus (``sys.bus``), if heard.
        self.bus: BusReaders | None = None

    def observe(self, item: Received, msg: Envelope | Exception, gap: int = 0) -> None:
        """Account for one received frame set (``msg`` is its decoding or the error)."""
        stats = self.topics.get(item.topic)
        if stats is None:
            stats = self.topics[item.topic] = TopicStats()
        if isinstance(msg, Exception):
            stats.malformed += 1
            return
        size = item.size
        stats.messages += 1
        stats.bytes += size
        stats.gaps += gap
        stats.window.append((item.recv_ns, size, item.recv_ns - msg.ts_ns))
        stats.trim(item.recv_ns, self.window_ns)
        if isinstance(msg.payload, Heartbeat):
            self._heartbeat(msg.payload, item.recv_ns)
        elif isinstance(msg.payload, LifecycleEvent):
            self._lifecycle(msg.payload, item.recv_ns)
        elif isinstance(msg.payload, TurnMetrics):
            self.turns.append(msg.payload)
        elif isinstance(msg.payload, BusReaders):
            self.bus = msg.payload

    def _worker(self, name: str) -> WorkerInfo:
        info = self.workers.get(name)
        if info is None:
            info = self.workers[name] = WorkerInfo(name)
        return info

    def _heartbeat(self, hb: Heartbeat, now_ns: int) -> None:
        w = self._worker(hb.worker)
        w.pid, w.state, w.uptime_s, w.loop_age_ms = hb.pid, hb.state, hb.uptime_s, hb.loop_age_ms
        w.restarts = max(w.restarts, hb.restarts)
        w.received, w.published, w.dropped, w.gaps = hb.received, hb.published, hb.dropped, hb.gaps
        w.beat_ns = now_ns

    def _lifecycle(self, ev: LifecycleEvent, now_ns: int) -> None:
        w = self._worker(ev.worker)
        w.last_event, w.event_ns, w.detail = ev.event, now_ns, ev.detail
        w.restarts = max(w.restarts, ev.restarts)
        if ev.pid:
            w.pid = ev.pid
        if ev.exit_code is not None:
            w.exit_code = ev.exit_code

    # --- reports -------------------------------------------------------------------------

    def topic_rows(self, now_ns: int | None = None) -> list[dict[str, Any]]:
        """One row per topic: rate, bytes/s and age percentiles over the window, totals."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        span_s = min(self.window_ns, max(1, now - self.started_ns)) / 1e9
        rows = []
        for topic, s in sorted(self.topics.items()):
            s.trim(now, self.window_ns)
            ages = sorted(a / 1e3 for _, _, a in s.window)
            rows.append(
                {
                    "topic": topic,
                    "msgs_per_s": len(s.window) / span_s,
                    "bytes_per_s": sum(b for _, b, _ in s.window) / span_s,
                    "age_p50_us": percentile(ages, 0.50),
                    "age_p99_us": percentile(ages, 0.99),
                    "messages": s.messages,
                    "bytes": s.bytes,
                    "gaps": s.gaps,
                    "malformed": s.malformed,
                }
            )
        return rows

    def worker_state(self, w: WorkerInfo, now_ns: int) -> str:
        """``ready``/``starting``/``stopping`` from heartbeats, else the last lifecycle event."""
        if w.event_ns > w.beat_ns and w.last_event in _DOWN_EVENTS:
            return w.last_event
        if w.beat_ns and (now_ns - w.beat_ns) / 1e9 > SILENT_AFTER_S:
            return "silent"
        if not w.beat_ns:
            return w.last_event or "unknown"
        return w.state

    def worker_rows(
        self, sampler: ProcessSampler | None = None, now_ns: int | None = None
    ) -> list[dict[str, Any]]:
        """One row per worker seen in heartbeats or lifecycle events."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        rows = []
        for name, w in sorted(self.workers.items()):
            state = self.worker_state(w, now)
            cpu, rss = (math.nan, math.nan)
            if sampler is not None and w.pid and state not in _DOWN_EVENTS:
                cpu, rss = sampler.sample(w.pid)
            rows.append(
                {
                    "name": name,
                    "state": state,
                    "pid": w.pid,
                    "cpu_percent": cpu,
                    "rss_mb": rss,
                    "restarts": w.restarts,
                    "beat_age_s": (now - w.beat_ns) / 1e9 if w.beat_ns else math.nan,
                    "loop_age_ms": w.loop_age_ms,
                    "uptime_s": w.uptime_s,
                    "last_event": w.last_event,
                    "exit_code": w.exit_code,
                    "detail": w.detail,
                    "received": w.received,
                    "published": w.published,
                    "dropped": w.dropped,
                    "gaps": w.gaps,
                }
            )
        return rows


class ProcessSampler:
    """CPU percent and resident memory of pids, via psutil (CPU is measured between calls)."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def prime(self, pid: int) -> None:
        """Start measuring ``pid``'s CPU so the next :meth:`sample` has an interval."""
        self.sample(pid)

    def sample(self, pid: int) -> tuple[float, float]:
        """(CPU percent since the previous call, RSS in MiB); NaN when the pid is gone."""
        proc = self._procs.get(pid)
        try:
            if proc is None:
                proc = self._procs[pid] = psutil.Process(pid)
                proc.cpu_percent(None)
                return math.nan, proc.memory_info().rss / 2**20
            return proc.cpu_percent(None), proc.memory_info().rss / 2**20
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            self._procs.pop(pid, None)
            return math.nan, math.nan
