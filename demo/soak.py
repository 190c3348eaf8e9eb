"""What a soak run records: memory of every worker at start and end, restarts, losses, turns.

Fed every message the demo sees (heartbeats give each worker's pid, restarts, detected message
gaps and dropped frames; lifecycle events count restarts; ``dialog.turn`` counts turns), it
samples the resident memory of every worker process (and of the RT app, found among the
supervisor's children) once the first round is over and again at the end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psutil

from bus import Envelope
from demo.conductor import Conductor
from schemas.dialog import TurnMetrics
from schemas.system import Heartbeat, LifecycleEvent

__all__ = ["Soak"]


class Soak:
    """Counters and memory samples of a soak run."""

    def __init__(self, supervisor_pid: int) -> None:
        self.supervisor_pid = supervisor_pid
        self.beats: dict[str, Heartbeat] = {}
        self.restart_events: dict[str, int] = {}
        self.outcomes: dict[str, int] = {}
        self.start: dict[str, float] = {}

    def feed(self, msg: Envelope) -> None:
        """Take note of one message."""
        p = msg.payload
        if isinstance(p, Heartbeat) and not p.worker.startswith("demo"):
            self.beats[p.worker] = p
        elif isinstance(p, LifecycleEvent) and p.event == "restarting":
            self.restart_events[p.worker] = self.restart_events.get(p.worker, 0) + 1
        elif isinstance(p, TurnMetrics):
            self.outcomes[p.outcome] = self.outcomes.get(p.outcome, 0) + 1

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
        record = {
            "duration_s": elapsed_s,
            "rounds": conductor.round + 1,
            "turns": self.outcomes,
            "lines_without_a_turn": len(conductor.timed_out),
            "workers": {
                name: {
                    "rss_mib_start": self.start.get(name),
                    "rss_mib_end": end.get(name),
                    "restarts": beat.restarts,
                    "restart_events": self.restart_events.get(name, 0),
                    "messages_lost": beat.gaps,
                    "frames_dropped": beat.dropped,
                }
                for name, beat in sorted(self.beats.items())
            },
            "rtapp_rss_mib": {"start": self.start.get("rtapp"), "end": end.get("rtapp")},
        }
        path.write_text(json.dumps(record, indent=2))
        return record
