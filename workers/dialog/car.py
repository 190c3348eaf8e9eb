"""The car side of a turn: intents checked, sent one at a time, their outcome put into words.

The car runs one motion at a time and a new one preempts the current one (and the gateway keeps
only the newest motion waiting), so a sequence ("forward one metre, then turn left") is sent
step by step: the next command when the previous one is ``done``. A newer request drops what
is left of an older plan; acks of an older turn's commands are not spoken.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from schemas.rtos import CarIntent, RtosAck, RtosCommand, RtosTelemetry
from workers.dialog.actions import Bounds, IntentLike, check_intent, describe, to_commands
from workers.dialog.replies import join_steps, say
from workers.dialog.turn import Turn

__all__ = ["CarDesk"]

log = logging.getLogger(__name__)

_FAILED = {"rejected": "rt_rejected", "expired": "rt_expired", "failed": "rt_failed"}


class CarDesk:
    """Commands of the dialog to the car, and what to say about them."""

    def __init__(self, bounds: Bounds, *, source: str, speak_done: bool = True) -> None:
        self.bounds = bounds
        self.source = source
        self.speak_done = speak_done
        self._owner: dict[int, Turn] = {}
        self._next_id = 1
        self._acting: Turn | None = None
        self._started: set[int] = set()
        """Owned commands the RT side reported started."""
        self._restored: set[int] = set()
        """Owned commands whose acks may have been lost (the dialog or the bus was down)."""

    def act(
        self, t: Turn, intents: Sequence[IntentLike]
    ) -> tuple[list[RtosCommand], list[str], str]:
        """All or none: (commands to send now, sentences to say, what is being done or '')."""
        checked = [check_intent(i, self.bounds) for i in intents]
        refused = next((c for c in checked if c.intent is None), None)
        if refused is not None:
            log.warning(
                "command_refused turn=%s why=%s detail=%s",
                t.turn_id,
                refused.refusal,
                refused.detail,
            )
            t.outcome = "answered"
            return [], [say("refused", t.language, why=refused.refusal)], ""
        ok = [c.intent for c in checked if c.intent is not None]
        cmds = to_commands(
            ok, self.bounds, first_id=self._next_id, source=f"{self.source}:{t.turn_id}"
        )
        self._next_id = (self._next_id + len(cmds)) & 0xFFFFFFFF or 1
        if self._acting is not None:
            self._acting.plan.clear()  # the car obeys the newest request
        self._acting = t
        t.plan = cmds
        what = join_steps([describe(i, t.language) for i in ok], t.language)
        return [self._next(t)], [say("command_ok", t.language, what=what)], what

    def stop_now(self, intent: CarIntent, *, turn_id: str) -> RtosCommand:
        """A STOP (or ESTOP) to send at once; the plan in progress is dropped and its cut-off
        steps are not spoken about (the user asked for the stop)."""
        (cmd,) = to_commands(
            [intent], self.bounds, first_id=self._next_id, source=f"{self.source}:{turn_id}"
        )
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
        if self._acting is not None:
            self._acting.plan.clear()
            self._acting = None
        return cmd

    def on_ack(self, p: RtosAck) -> tuple[Turn | None, list[RtosCommand], str]:
        """(the turn concerned, commands to send next, a sentence to say or '')."""
        t = self._owner.get(p.cmd_id)
        if t is None or t is not self._acting:
            return None, [], ""  # unknown, or an older turn's command superseded since
        if p.status in _FAILED:
            t.plan.clear()
            for cid in t.commands:
                self._forget(cid)
            why = p.reason.rstrip(".") or p.status
            return t, [], say(_FAILED[p.status], t.language, why=why)
        if p.status == "started":
            self._started.add(p.cmd_id)
        if p.status != "done":
            return t, [], ""
        self._forget(p.cmd_id)
        if t.plan:
            return t, [self._next(t)], ""
        return t, [], say("rt_done", t.language) if self.speak_done else ""

    def on_telemetry(self, tlm: RtosTelemetry) -> tuple[Turn | None, list[RtosCommand], str]:
        """An ack lost while the dialog was down, inferred from the car's state: a command taken
        over from the dead dialog, seen started, that the idle car no longer runs, is done; one
        the car ended in a fault is failed. As :meth:`on_ack`."""
        for cid in sorted(self._restored):
            if tlm.active_cmd_id == cid:
                self._started.add(cid)  # its "started" may have been lost too
            if cid not in self._owner:
                self._restored.discard(cid)
            elif cid in self._started and tlm.active_cmd_id != cid:
                if tlm.state in ("moving", "turning"):
                    continue  # another command runs; its own ack says more
                done = tlm.state in ("idle", "stopped")
                log.info("ack_inferred cmd_id=%s done=%s car=%s", cid, done, tlm.state)
                reason = f"the car is in state {tlm.state}"
                ack = RtosAck(cmd_id=cid, status="done" if done else "failed", reason=reason)
                return self.on_ack(ack)
        return None, [], ""

    def _forget(self, cmd_id: int) -> None:
        self._owner.pop(cmd_id, None)
        self._started.discard(cmd_id)
        self._restored.discard(cmd_id)

    def turn_ids(self) -> set[str]:
        """The turns whose commands are in progress (a restarted dialog needs them)."""
        ids = {t.turn_id for t in self._owner.values()}
        return ids | ({self._acting.turn_id} if self._acting is not None else set())

    def to_state(self) -> dict[str, object]:
        """What a restarted dialog needs to go on with the car (JSON-ready)."""
        return {
            "next_id": self._next_id,
            "acting": self._acting.turn_id if self._acting is not None else None,
            "owner": {str(cid): t.turn_id for cid, t in self._owner.items()},
            "started": sorted(self._started),
        }

    def restore(self, data: dict[str, object], turns: dict[str, Turn]) -> None:
        """Take back :meth:`to_state` (``turns``: the restored turns by id; commands of a turn
        not among them are forgotten)."""
        self._next_id = int(data["next_id"]) or 1  # type: ignore[call-overload]
        self._acting = turns.get(str(data["acting"]))
        owner: dict[str, str] = data["owner"]  # type: ignore[assignment]
        self._owner = {int(c): turns[tid] for c, tid in owner.items() if tid in turns}
        self._started = {int(c) for c in data["started"] if int(c) in self._owner}  # type: ignore[attr-defined]

    def suspect_lost_acks(self) -> None:
        """Acks of the commands owned now may have been lost (the dialog or the bus was down):
        let :meth:`on_telemetry` infer them."""
        self._restored = set(self._owner)

    @property
    def latest_id(self) -> int:
        """The id of the command numbered last (0: none yet)."""
        return self._next_id - 1 if self._next_id > 1 else 0

    def seed_ids(self, seed: int) -> None:
        """Number new commands from ``seed`` (a dialog with no memory must not reuse the ids of
        commands still in progress at the gateway)."""
        self._next_id = seed & 0xFFFFFFFF or 1

    def _next(self, t: Turn) -> RtosCommand:
        cmd = t.plan.pop(0)
        self._owner[cmd.cmd_id] = t
        t.commands.append(cmd.cmd_id)
        return cmd
