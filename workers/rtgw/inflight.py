"""Commands written to the ring and not yet finished: each ends in exactly one final ack.

Pure bookkeeping, no I/O. A command enters when the gateway writes it to the ring (ack
``accepted``) and leaves with its first final ack (``done``, ``rejected``, ``expired`` or
``failed``), whoever gives it:

- the RT side's own final ack (the normal case);
- the telemetry: the RT side sends acks and telemetry in one order, so a sample that shows
  another active command than a motion that had ``started`` proves its final ack was sent before
  that sample; when it never came, it was lost (dropped by the RT side, or with a ring backlog
  at a re-attach) and the gateway ends the command ``failed`` at once;
- a deadline: time to live + the run the command asks for (its duration, or the envelope's
  longest drive for a distance or a turn) + ``grace_s``; past it the gateway ends it ``failed``.

A final ack that arrives after the command was ended (late, or a duplicate) is not published
again but counted and logged; ``finished`` remembers ended ids for ``remember_s`` (at most
``remember`` of them) for that.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

from bus import Out
from schemas.rtos import RtosAck, RtosCommand
from workers.rtgw.envelope import EnvelopeSettings

__all__ = ["FINAL", "InFlight", "InFlightTable"]

log = logging.getLogger("workers.rtgw")

#: Ack statuses that end a command.
FINAL = frozenset({"done", "rejected", "expired", "failed"})


@dataclass
class InFlight:
    """A command in the ring or running on the RT side."""

    cmd: RtosCommand
    trace: str
    sent_s: float
    deadline_s: float
    started: bool = False


class InFlightTable:
    """The commands the RT side owes a final ack, by ``cmd_id``."""

    def __init__(
        self,
        envelope: EnvelopeSettings,
        grace_s: float,
        remember_s: float = 60.0,
        remember: int = 65536,
    ) -> None:
        self.env = envelope
        self.grace_s = grace_s
        self.remember_s = remember_s
        self.remember = remember
        self.pending: dict[int, InFlight] = {}
        self.finished: OrderedDict[int, float] = OrderedDict()  # cmd_id -> when it ended
        self._now_s = 0.0
        self.counts = dict.fromkeys(("ack_timeouts", "acks_lost", "late_acks", "unknown_acks"), 0)

    def __len__(self) -> int:
        return len(self.pending)

    def __contains__(self, cmd_id: object) -> bool:
        return cmd_id in self.pending

    def run_s(self, cmd: RtosCommand) -> float:
        """How long the command may run once started, seconds."""
        if cmd.kind == "drive" and cmd.distance_m:
            return self.env.max_duration_ms / 1000
        if cmd.kind == "drive":
            return cmd.duration_ms / 1000
        if cmd.kind == "turn":
            return self.env.max_duration_ms / 1000
        return 0.0

    def add(self, cmd: RtosCommand, trace: str, now_s: float) -> None:
        """``cmd`` was written to the ring at ``now_s``."""
        self._now_s = now_s
        self.finished.pop(cmd.cmd_id, None)
        deadline = now_s + cmd.ttl_ms / 1000 + self.run_s(cmd) + self.grace_s
        self.pending[cmd.cmd_id] = InFlight(cmd, trace, now_s, deadline)

    def started(self, cmd_id: int, now_s: float) -> None:
        """The RT side began executing it: the deadline counts from now."""
        f = self.pending.get(cmd_id)
        if f is not None:
            f.started = True
            f.deadline_s = now_s + self.run_s(f.cmd) + self.grace_s

    def finish(self, cmd_id: int) -> InFlight | None:
        """Its final ack is being published; returns the entry (None if it was not in flight)."""
        f = self.pending.pop(cmd_id, None)
        if f is not None:
            self.finished[cmd_id] = self._now_s
            horizon = self._now_s - self.remember_s
            while self.finished and (
                len(self.finished) > self.remember or next(iter(self.finished.values())) < horizon
            ):
                self.finished.popitem(last=False)
        return f

    def was_finished(self, cmd_id: int) -> bool:
        """A final ack for this id was published already (a late or duplicate one now)."""
        return cmd_id in self.finished

    def lost_by_telemetry(self, active_cmd_id: int) -> list[InFlight]:
        """Started motions that a telemetry sample shows are no longer running."""
        return [
            f
            for cid, f in self.pending.items()
            if f.started and f.cmd.kind in ("drive", "turn") and cid != active_cmd_id
        ]

    def overdue(self, now_s: float) -> list[InFlight]:
        """Commands past their deadline."""
        return [f for f in self.pending.values() if now_s > f.deadline_s]

    # --- the acks to publish ---------------------------------------------------------------

    def on_ack(self, ack: RtosAck, now_s: float) -> list[Out]:
        """An RT ack: published once (with the command's trace); late ones counted, not sent."""
        self._now_s = now_s
        cid = ack.cmd_id
        f = self.pending.get(cid)
        if f is None:
            if self.was_finished(cid):
                self.counts["late_acks"] += 1
                log.warning("ack_late cmd_id=%s status=%s reason=%s", cid, ack.status, ack.reason)
                return []
            self.counts["unknown_acks"] += 1  # e.g. a command of a previous gateway instance
            log.info("ack_unknown_command cmd_id=%s status=%s", cid, ack.status)
            return [Out("rtos.ack", ack, "")]
        if ack.status in FINAL:
            self.finish(cid)
        else:
            self.started(cid, now_s)
        return [Out("rtos.ack", ack, f.trace)]

    def _end(self, f: InFlight, reason: str, why: str) -> Out:
        self.finish(f.cmd.cmd_id)
        self.counts[why] += 1
        log.warning("command_ended cmd_id=%s kind=%s why=%s", f.cmd.cmd_id, f.cmd.kind, why)
        return Out(
            "rtos.ack", RtosAck(cmd_id=f.cmd.cmd_id, status="failed", reason=reason), f.trace
        )

    def on_telemetry(self, active_cmd_id: int) -> list[Out]:
        """End the started motions a sample shows are over although no final ack came."""
        return [
            self._end(
                f,
                "The RT side no longer runs this command but its final acknowledgement was "
                "lost (dropped, or the RT side re-initialised); the outcome is unknown.",
                "acks_lost",
            )
            for f in self.lost_by_telemetry(active_cmd_id)
        ]

    def on_clock(self, now_s: float, rt_ack_drops: int) -> list[Out]:
        """End the commands past their deadline."""
        self._now_s = now_s
        return [
            self._end(
                f,
                f"No final acknowledgement from the RT side {now_s - f.sent_s:.1f} s after it "
                f"was sent (the RT side dropped {rt_ack_drops} acks so far); its ack was lost "
                "or the RT side stalled, so the outcome is unknown.",
                "ack_timeouts",
            )
            for f in self.overdue(now_s)
        ]
