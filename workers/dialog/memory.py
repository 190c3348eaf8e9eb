"""The dialog's memory across its own restarts: a small file, written on change, read at start.

A dialog killed (``kill -9``, a hang, a crash) and started again by the supervisor resumes where
the user left it instead of starting asleep and blank:

=====================  ==========================================================================
what                   restored as
=====================  ==========================================================================
awake window           open again if it would still be open now (its last activity is kept)
history                the conversation the next LLM request carries
car                    the latest telemetry (device questions), the command numbering (the
                       gateway refuses an id still in progress), the plan being carried out step
                       by step and the commands awaiting their ack (a lost ``done`` is inferred
                       from telemetry, :meth:`~workers.dialog.car.CarDesk.on_telemetry`)
turn in flight         its stage, text, timeline and what was already said; a reply being
                       streamed is asked for again (:func:`~workers.dialog.recovery.reask`), a
                       reply being spoken is closed when the speaker finishes it
intents-only request   ``Turn.asked``: a command-like utterance whose intent the LLM was asked
                       for is asked again as one (``ask_intent``, under its schema), never as
                       chat: its answer is acted on or refused, never spoken
STOPs sent             ``TurnManager.stopped``, per utterance: its id, kind and ring stamp. A
                       later transcript of the same utterance does not send a second STOP (nor
                       does its command grammar); one whose ``accepted`` ack had not come is sent
                       again at once if it is still the newest command (it may not have left:
                       the state is saved before the messages go out; a second STOP is harmless,
                       a lost one is not)
early request          ``TurnManager.early``, its request id only: aborted at the restart (its
                       stream went on while no dialog listened, what it held is gone); its
                       segment's turn asks again when the transcript comes
speculative            ``TurnManager.partials`` (lazily): the pause's transcript of each open
transcripts            segment, for the turn's ``asr_partial_ms`` and so that a segment whose ASR
                       dies can still be answered from it
transcripts awaited    what was said while the dialog was down is lost: a transcript awaited, or
                       an utterance that had started, gets ``outage_grace_s`` to come, then the
                       apology (as after a bus outage)
sentences              what was sent, synthesized and played (:mod:`~workers.dialog.delivery`)
=====================  ==========================================================================

Not kept: the output an early request held (it is aborted), a reply's repeat guard (a reply
asked again starts a new one), which workers are down (the supervisor announces their return).
The JSON form of each part is in :mod:`~workers.dialog.snapshot`.

**Where**: the file named by ``$VOICEBUS_STATE_FILE``, which the supervisor sets for every worker
(``<runtime dir>/state/<name>.json``: the private 0700 runtime directory; it removes the folder
when it stops cleanly, so a clean stop forgets). No variable: no memory (a dialog run by hand).

**When**: before the messages of a change are published (the manager saves at the end of each
``handle``/``tick``), so a kill at any moment leaves the state before or after the change, never
half of it: the file is written whole to a temporary file and renamed over the old one. A change
of anything but the telemetry, the window's last activity and the turns' deadlines is written at
once; those three at most once per :data:`LAZY_S`. A deadline moves with every token of a reply
(the wait for the next one): written at once, it was a file written per token, and a message
that came meanwhile waited behind it (the capture, compare and write took 1.35 ms a message
at the median in the test harness, 0.38 ms a token since; it counts in ``bench.e2e``'s bus
share, which includes a receiver's busy time). A
restored deadline is at most :data:`LAZY_S` early, and a reply being streamed is asked for again
at the restart anyway.

**Staleness**: every time in the state is ``CLOCK_MONOTONIC`` (``time.monotonic_ns``), one clock
for every process of a boot (not across boots, and not across boards). The file carries the boot
id (``/proc/sys/kernel/random/boot_id``); a state from another boot, one from the future, or one
older than ``memory_max_age_s`` (a long outage: the conversation is over) is discarded whole.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bus import Out
from schemas.llm import ChatMessage
from schemas.rtos import RtosTelemetry
from supervision.statefiles import ENV_STATE_FILE
from workers.dialog.car import CarDesk
from workers.dialog.delivery import Delivery
from workers.dialog.snapshot import (
    early_from,
    early_state,
    partial_from,
    partial_state,
    stopped_from,
    stopped_state,
    timeline_from,
    timeline_state,
    turn_from,
    turn_state,
)

if TYPE_CHECKING:
    from workers.dialog.manager import TurnManager

__all__ = ["ENV_STATE_FILE", "FORMAT", "LAZY_S", "Memory", "boot_id"]

log = logging.getLogger("workers.dialog.memory")

#: Version of the file's layout; another one is discarded.
FORMAT = 2
#: Longest delay of a change of the telemetry or of the awake window's last activity, s.
LAZY_S = 1.0
_BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    """This boot's id (monotonic times are comparable only within one boot)."""
    try:
        return _BOOT_ID_FILE.read_text().strip()
    except OSError:
        return ""


class Memory:
    """The state file of one dialog."""

    def __init__(self, path: Path, *, max_age_s: float, boot: str | None = None) -> None:
        self.path = path
        self.max_age_s = max_age_s
        self.boot = boot_id() if boot is None else boot
        self._core = ""
        self._lazy = ""
        self._written_ns = 0

    @classmethod
    def from_env(cls, max_age_s: float) -> Memory | None:
        """The memory the supervisor gave this worker (``None`` without one)."""
        path = os.environ.get(ENV_STATE_FILE)
        return cls(Path(path), max_age_s=max_age_s) if path else None

    # --- saving --------------------------------------------------------------------------

    def capture(self, m: TurnManager, now_ns: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the state that is written at once when it changes, the lazy part)."""
        keep = {m.turn.turn_id} if m.turn is not None else set()
        keep |= {*m.playing, *m.delivery.live(), *m.car.turn_ids()}
        keep &= set(m.turns)
        turns = [turn_state(m.turns[tid]) for tid in m.turns if tid in keep]
        # every token of a reply moves its turn's deadline: kept lazily, not a write a token
        deadlines = {t["turn_id"]: t.pop("deadline_ns") for t in turns}
        core = {
            "awake": m.window.awake,
            "history": [msg.model_dump() for msg in m.history.messages],
            "turns": turns,
            "current": m.turn.turn_id if m.turn is not None and m.turn.turn_id in keep else None,
            "pending": {
                seg: {"timeline": timeline_state(tl), "deadline_ns": dl}
                for seg, (tl, dl) in m.pending.items()
            },
            "playing": sorted(m.playing),
            "open_segments": sorted(m.recovery.open_segments),
            "car": m.car.to_state(),
            "delivery": m.delivery.to_state(),
            "stopped": {seg: stopped_state(x) for seg, x in m.stopped.items()},
            "early": early_state(m.early) if m.early is not None else None,
        }
        now_s = now_ns / 1e9
        left = m.window.remaining_s(now_s)
        lazy = {
            "window_last_s": now_s - m.window.window_s + left if left != float("inf") else now_s,
            "telemetry": m.telemetry.model_dump() if m.telemetry is not None else None,
            "partials": {seg: partial_state(x) for seg, x in m.partials.items()},
            "deadlines": deadlines,
        }
        return core, lazy

    def keep(self, m: TurnManager, now_ns: int) -> None:
        """Write the state if it changed (the lazy part at most once per :data:`LAZY_S`)."""
        core, lazy = self.capture(m, now_ns)
        core_text = json.dumps(core, sort_keys=True, ensure_ascii=False)
        if core_text == self._core:
            lazy_text = json.dumps(lazy, sort_keys=True)
            if lazy_text == self._lazy or now_ns - self._written_ns < LAZY_S * 1e9:
                return
        self._write(core, lazy, now_ns)
        self._core = core_text
        self._lazy = json.dumps(lazy, sort_keys=True)
        self._written_ns = now_ns

    def _write(self, core: dict[str, Any], lazy: dict[str, Any], now_ns: int) -> None:
        doc = {"format": FORMAT, "boot_id": self.boot, "saved_ns": now_ns, **core, **lazy}
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp.write_text(json.dumps(doc, ensure_ascii=False))
            tmp.replace(self.path)  # atomic: a reader sees the old file or the new one
        except OSError as exc:
            log.warning("state_not_saved path=%s error=%s", self.path, exc)

    def forget(self) -> None:
        """Remove the file (the state must not come back)."""
        with contextlib.suppress(OSError):
            self.path.unlink()

    # --- restoring -----------------------------------------------------------------------

    def load(self, now_ns: int) -> dict[str, Any] | None:
        """The saved state, or ``None`` when there is none or it is not to be trusted."""
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("state_discarded path=%s reason=unreadable error=%s", self.path, exc)
            return None
        why = ""
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            why = "another format"
        elif doc.get("boot_id") != self.boot:
            why = "saved during another boot"
        elif not 0 <= now_ns - int(doc.get("saved_ns", 0)) <= self.max_age_s * 1e9:
            why = f"saved {(now_ns - int(doc.get('saved_ns', 0))) / 1e9:.0f} s ago"
        if why:
            log.warning("state_discarded path=%s reason=%r", self.path, why)
            return None
        return doc

    def restore(self, m: TurnManager, now_ns: int) -> list[Out] | None:
        """Put the saved state back into ``m``; what to publish to go on (``None``: there was
        no state to restore)."""
        doc = self.load(now_ns)
        if doc is None:
            # No memory: at least never reuse the ids of commands still at the gateway.
            m.car.seed_ids(now_ns // 1_000_000)
            return None
        try:
            out = self._apply(m, doc, now_ns)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # Never a crash loop on a bad state: forget it, start as a fresh dialog.
            log.warning("state_discarded path=%s reason=invalid error=%r", self.path, exc)
            self.forget()
            return None
        self.keep(m, now_ns)
        return out

    def _apply(self, m: TurnManager, doc: dict[str, Any], now_ns: int) -> list[Out]:
        # Everything is read first: a state that does not parse leaves ``m`` untouched.
        history = [ChatMessage.model_validate(x) for x in doc["history"]]
        last_s = float(doc["window_last_s"])
        tlm = doc["telemetry"]
        telemetry = RtosTelemetry.model_validate(tlm) if tlm is not None else None
        clause = m.s.first_clause_chars
        deadlines = doc.get("deadlines", {})  # a file from before it: in each turn
        turns = {
            d["turn_id"]: turn_from(
                {**d, "deadline_ns": int(deadlines.get(d["turn_id"], d.get("deadline_ns", 0)))},
                max_chars=m.s.sentence_max_chars,
                first_clause_chars=clause,
            )
            for d in doc["turns"]
        }
        pending = {
            seg: (timeline_from(p["timeline"]), int(p["deadline_ns"]))
            for seg, p in doc["pending"].items()
        }
        stopped = {str(seg): stopped_from(x) for seg, x in doc["stopped"].items()}
        partials = {str(seg): partial_from(x) for seg, x in doc["partials"].items()}
        early = early_from(doc["early"]) if doc["early"] is not None else None
        playing = {str(tid) for tid in doc["playing"]}
        open_segments = {str(seg) for seg in doc["open_segments"]}
        car = CarDesk(m.s.bounds, source=m.name, speak_done=m.s.speak_done)
        car.restore(doc["car"], turns)
        delivery = Delivery()
        delivery.restore(doc["delivery"])
        m.history.add(*history)
        if doc["awake"] and not m.window.awake:
            m.window.open(last_s)
            if m.window.expire(now_ns / 1e9):
                log.info("awake_window_closed while=restarting")
        m.telemetry = telemetry or m.telemetry
        m.turns.update(turns)
        m.turn = turns.get(doc["current"]) if doc["current"] else None
        m.pending, m.playing, m.car, m.delivery = pending, playing, car, delivery
        m.recovery.open_segments = open_segments
        m.stopped, m.partials, m.early = stopped, partials, early
        t = m.turn
        log.info(
            "state_restored awake=%s history=%d turn=%s stage=%s pending=%d playing=%d",
            m.window.awake,
            len(m.history.messages),
            t.turn_id if t else "",
            t.stage if t else "",
            len(m.pending),
            len(m.playing),
        )
        out: list[Out] = []
        m.recovery.restored(m, now_ns, out)
        if t is not None and t.stage in ("llm", "speaking"):
            m.set_state("thinking" if t.stage == "llm" else "speaking", t.turn_id, "", out)
        else:
            m.restore_state(out)
        return out
