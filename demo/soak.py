"""What a soak run records: audio lost at the VAD, memory of every worker over time, restarts.

Fed every message the demo sees (heartbeats give each worker's pid, restarts, messages it
detected lost on the bus (sequence gaps) and frames it refused as malformed; ``sys.metric``
``vad.frames_lost`` is the VAD's own count of audio frames that never reached it (gaps in the
frames' indices); lifecycle events count restarts; ``dialog.turn`` counts turns), it samples the
resident memory of every worker process (and of the RT app, found among the supervisor's
children) every ``sample_s``. The growth of each worker is taken from the first sample after
the first round (models loaded, warm) to the last, with its slope (least squares over the
samples, MiB per hour) so that a one-off step (a cache filled once) tells from a steady leak.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psutil

from bus import Envelope
from demo.conductor import Conductor
from schemas.dialog import TurnMetrics
from schemas.system import Heartbeat, LifecycleEvent, Metric

__all__ = ["Soak"]

#: The VAD's own counter of audio frames lost before it (``workers/vad``).
VAD_FRAMES_LOST = "vad.frames_lost"


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of ``(t_s, value)`` points, per hour (``None`` for < 3 points)."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return None
    return sum((t - mt) * (v - mv) for t, v in points) / var * 3600.0


class Soak:
    """Counters and memory samples of a soak run."""

    def __init__(self, supervisor_pid: int, *, sample_s: float = 60.0) -> None:
        self.supervisor_pid = supervisor_pid
        self.sample_s = sample_s
        self.beats: dict[str, Heartbeat] = {}
        self.restart_events: dict[str, int] = {}
        self.outcomes: dict[str, int] = {}
        self.vad_frames_lost = 0.0
        self.start: dict[str, float] = {}
        self.series: list[tuple[float, dict[str, float]]] = []
        """(seconds since the start sample, RSS MiB by worker) every ``sample_s``."""
        self._start_at = -1.0
        self._next_at = -1.0

    def feed(self, msg: Envelope) -> None:
        """Take note of one message."""
        p = msg.payload
        if isinstance(p, Heartbeat) and not p.worker.startswith("demo"):
            self.beats[p.worker] = p
        elif isinstance(p, LifecycleEvent) and p.event == "restarting":
            self.restart_events[p.worker] = self.restart_events.get(p.worker, 0) + 1
        elif isinstance(p, TurnMetrics):
            self.outcomes[p.outcome] = self.outcomes.get(p.outcome, 0) + 1
        elif isinstance(p, Metric) and p.name == VAD_FRAMES_LOST:
            self.vad_frames_lost = max(self.vad_frames_lost, p.value)

    def begin(self, now: float) -> None:
        """The first round is over (models loaded, warm): the reference sample."""
        self.start = self.snapshot()
        self._start_at, self._next_at = now, now + self.sample_s
        self.series.append((0.0, self.start))

    def tick(self, now: float) -> None:
        """Sample the memory when due."""
        if self._start_at >= 0 and now >= self._next_at:
            self.series.append((round(now - self._start_at, 1), self.snapshot()))
            self._next_at += self.sample_s

    def snapshot(self) -> dict[str, float]:
        """Resident memory (MiB) of every worker now."""
        out: dict[str, float] = {}
        for name, beat in self.beats.items():
            try:
                out[name] = psutil.Process(beat.pid).memory_info().rss / 2**20
            except psutil.Error:
                continue
        try:
            for child in psutil.Process(self.supervisor_pid).children(recursive=True):
                if any(part.endswith("rtapp") for part in child.cmdline()[:1]):
                    out["rtapp"] = child.memory_info().rss / 2**20
        except psutil.Error:
            pass
        return out

    def write(self, path: Path, conductor: Conductor, elapsed_s: float) -> dict[str, Any]:
        """Save the record (and return it)."""
        end = self.snapshot()
        if self._start_at >= 0:
            self.series.append((round(time.monotonic() - self._start_at, 1), end))
        vad = self.beats.get("vad")
        record = {
            "duration_s": elapsed_s,
            "rounds": conductor.round + 1,
            "turns": self.outcomes,
            "lines_without_a_turn": len(conductor.timed_out),
            "vad": {
                "audio_frames_lost": self.vad_frames_lost,
                "frames_received": vad.received if vad else None,
                "messages_lost": vad.gaps if vad else None,
            },
            "workers": {
                name: self._worker(name, beat, end) for name, beat in sorted(self.beats.items())
            },
            "rtapp": self._memory("rtapp", end),
            "rss_samples": [
                {"t_s": t, "rss_mib": {k: round(v, 2) for k, v in s.items()}}
                for t, s in self.series
            ],
        }
        path.write_text(json.dumps(record, indent=2))
        return record

    def _memory(self, name: str, end: dict[str, float]) -> dict[str, Any]:
        start, last = self.start.get(name), end.get(name)
        points = [(t, s[name]) for t, s in self.series if name in s]
        slope = slope_per_hour(points)
        growth = round(last - start, 2) if start is not None and last is not None else None
        return {
            "rss_mib_start": start,
            "rss_mib_end": last,
            "rss_mib_max": max((v for _, v in points), default=None),
            "growth_mib": growth,
            "growth_mib_per_hour": round(slope, 2) if slope is not None else None,
        }

    def _worker(self, name: str, beat: Heartbeat, end: dict[str, float]) -> dict[str, Any]:
        return {
            **self._memory(name, end),
            "restarts": beat.restarts,
            "restart_events": self.restart_events.get(name, 0),
            "messages_lost": beat.gaps,
            "frames_refused": beat.dropped,
        }
