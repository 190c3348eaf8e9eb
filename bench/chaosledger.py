"""What became of each user line in a chaos run, decided from bus traffic alone.

The :class:`Ledger` is told when each scripted line is said (:meth:`Ledger.said`) and fed every
message a tap sees (:meth:`Ledger.feed`): ``vad.state``, ``asr.text``, ``llm.request``,
``tts.request``, ``speaker.report``, ``dialog.turn``. A turn is a VAD segment (its id is the
turn's trace id); it belongs to the line being said when the segment started (a turn first seen
by a later message, its ``vad.state`` lost, goes to the line being said when that message came).
Each line ends as one of:

- **answered**: a reply of one of its turns reached the speaker (``speaker.report`` ``started``)
  within ``deadline_s`` of the line being said, and it was not an apology;
- **apologised**: what reached the speaker was an apology or error reply: the dialog reported
  the turn as ``error``, or every sentence sent to the speaker is one of the dialog's own
  apologies (:data:`APOLOGY_KEYS` of :mod:`workers.dialog.replies`);
- **lost**: nothing reached the speaker in time. :attr:`LineRecord.reason` says where the
  furthest of its turns stopped: not heard (no segment), dropped by the VAD, no transcript,
  ignored by the dialog (not awake), no reply requested, reply never played, or late.

An answered or apologised line also says whether its reply was **complete** (played to its end
or cut by a stop): a turn abandoned half way (its dialog killed between two sentences) never
sends the speaker its last sentence, so the speaker never reports it finished.
A line with several turns (a line split in two segments) takes the best of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bus.framing import Envelope
from schemas.asr import AsrText
from schemas.dialog import TurnMetrics
from schemas.llm import LlmRequest
from schemas.speaker import SpeakerReport
from schemas.tts import TtsRequest
from schemas.vad import VadState
from workers.dialog.replies import REPLIES

__all__ = ["APOLOGY_KEYS", "Ledger", "LineRecord", "TurnSeen", "is_apology"]

#: Replies of the dialog that tell the user their turn failed.
APOLOGY_KEYS = ("asr_failed", "llm_failed", "no_answer", "rt_offline", "rt_failed", "rt_expired")
_PREFIXES = tuple(
    template.split("{")[0].strip() for key in APOLOGY_KEYS for template in REPLIES[key]
)
_RANK = {"answered": 2, "apologised": 1, "lost": 0}


def is_apology(text: str) -> bool:
    """True when ``text`` is one of the dialog's apologies (English or Chinese)."""
    text = text.strip()
    return any(p and text.startswith(p) for p in _PREFIXES)


@dataclass
class TurnSeen:
    """Everything seen of one turn (times in monotonic s, -1 = not seen)."""

    turn_id: str
    line: int
    """Number of the line it belongs to."""
    started_at: float = -1.0
    """``vad.state`` speaking."""
    closed_at: float = -1.0
    """``vad.state`` not speaking (the segment closed)."""
    dropped: bool = False
    """The VAD dropped it as too short."""
    transcript: str | None = None
    llm_request_at: float = -1.0
    texts: list[str] = field(default_factory=list)
    """Sentences sent to ``tts.request`` for this turn."""
    outcome: str = ""
    """``dialog.turn`` outcome (empty: no report)."""
    audio_at: float = -1.0
    """First ``speaker.report`` ``started``."""
    playback_end: str = ""
    """``finished`` or ``cut`` once the speaker was done with it."""

    def verdict(self, said_at: float, deadline_s: float) -> tuple[str, str]:
        """(answered | apologised | lost, reason)."""
        if self.audio_at >= 0 and self.audio_at - said_at <= deadline_s:
            spoken = [t for t in self.texts if t.strip()]
            if self.outcome == "error" or (spoken and all(is_apology(t) for t in spoken)):
                return "apologised", ""
            return "answered", ""
        if self.audio_at >= 0:
            late_s = self.audio_at - said_at
            return "lost", f"late: the reply reached the speaker after {late_s:.0f} s"
        if self.dropped and self.transcript is None:
            return "lost", "dropped by the VAD as too short"
        if self.transcript is None:
            if self.outcome:
                return "lost", f"no transcript; the dialog reported the turn as {self.outcome}"
            return "lost", "no transcript (asr.text) for its segment"
        if self.outcome == "ignored":
            return "lost", f"ignored by the dialog (not awake): {self.transcript!r}"
        if self.texts:
            return "lost", "reply requested (tts.request) but it never reached the speaker"
        if self.llm_request_at >= 0:
            return "lost", "LLM asked (llm.request), no reply ever requested from TTS"
        return "lost", f"transcript {self.transcript!r} got no reply (no tts.request)"

    def progress(self) -> int:
        """How far the turn got, for choosing which lost turn explains its line."""
        return sum(
            (
                self.started_at >= 0,
                self.transcript is not None,
                self.llm_request_at >= 0,
                bool(self.texts),
                self.audio_at >= 0,
            )
        )


@dataclass
class LineRecord:
    """One line the user said and what became of it."""

    n: int
    """Line number in the run, from 0."""
    index: int
    """Index of the line in the script."""
    text: str
    kind: str
    said_at: float
    fault: str = ""
    """Fault injected while this line was in flight (empty: none)."""
    turns: list[str] = field(default_factory=list)
    verdict: str = ""
    reason: str = ""
    reply_s: float = -1.0
    """Line said -> its reply (or apology) reached the speaker, s (-1: never)."""
    complete: bool | None = None
    """For a reply that reached the speaker: it played to its end or was cut by a stop; false
    when the speaker never got its last sentence (the turn was abandoned half way)."""

    def as_dict(self, t0: float) -> dict[str, Any]:
        """For the results file (times relative to ``t0``)."""
        return {
            "n": self.n,
            "text": self.text,
            "kind": self.kind,
            "said_s": round(self.said_at - t0, 2),
            "fault": self.fault,
            "verdict": self.verdict,
            "reason": self.reason,
            "reply_s": round(self.reply_s, 2) if self.reply_s >= 0 else None,
            "complete": self.complete,
            "turns": self.turns,
        }


class Ledger:
    """Lines and turns of a run; :meth:`decide` gives each line its verdict."""

    def __init__(self, deadline_s: float) -> None:
        self.deadline_s = deadline_s
        self.lines: list[LineRecord] = []
        self.turns: dict[str, TurnSeen] = {}

    def said(self, n: int, index: int, text: str, kind: str, now: float) -> LineRecord:
        """Line ``n`` (script line ``index``) is being said from ``now``."""
        rec = LineRecord(n, index, text, kind, now)
        self.lines.append(rec)
        return rec

    def line_at(self, now: float) -> LineRecord | None:
        """The line being said (or last said) at ``now``."""
        for rec in reversed(self.lines):
            if rec.said_at <= now:
                return rec
        return None

    def _turn(self, turn_id: str, now: float) -> TurnSeen | None:
        turn = self.turns.get(turn_id)
        if turn is None:
            rec = self.line_at(now)
            if rec is None or not turn_id or turn_id == "warm-up":
                return None
            turn = self.turns[turn_id] = TurnSeen(turn_id, rec.n)
            rec.turns.append(turn_id)
        return turn

    def feed(self, msg: Envelope, now: float) -> None:
        """Take note of one message seen at ``now`` (monotonic s)."""
        p = msg.payload
        if isinstance(p, VadState):
            turn = self._turn(p.segment_id, now)
            if turn is None:
                return
            if p.speaking:
                turn.started_at = now if turn.started_at < 0 else turn.started_at
            else:
                turn.closed_at, turn.dropped = now, p.dropped
        elif isinstance(p, AsrText):
            turn = self._turn(p.segment_id, now)
            if turn is not None:
                turn.transcript = p.text.strip()
        elif isinstance(p, LlmRequest):
            turn = self._turn(msg.trace, now)
            if turn is not None and turn.llm_request_at < 0:
                turn.llm_request_at = now
        elif isinstance(p, TtsRequest):
            turn = self._turn(p.turn_id, now)
            if turn is not None and p.text:
                turn.texts.append(p.text)
        elif isinstance(p, SpeakerReport):
            turn = self._turn(p.turn_id, now)
            if turn is None:
                return
            if p.event == "started" or p.played_ms > 0:
                turn.audio_at = now if turn.audio_at < 0 else turn.audio_at
            if p.event != "started":
                turn.playback_end = p.event
        elif isinstance(p, TurnMetrics):
            turn = self._turn(p.turn_id, now)
            if turn is not None:
                turn.outcome = p.outcome

    def decide(self) -> None:
        """Give every line its verdict (call once the run is over)."""
        for rec in self.lines:
            turns = [self.turns[t] for t in rec.turns]
            if not turns:
                rec.verdict, rec.reason = "lost", "not heard: no speech segment from the VAD"
                continue
            verdicts = [(t.verdict(rec.said_at, self.deadline_s), t) for t in turns]
            (best, reason), turn = max(verdicts, key=lambda v: (_RANK[v[0][0]], v[1].progress()))
            rec.verdict, rec.reason = best, reason
            if best != "lost":
                rec.reply_s = turn.audio_at - rec.said_at
                rec.complete = turn.playback_end in ("finished", "cut")

    def answered_after(self, t: float) -> float:
        """When the first answered (not apologised) reply reached the speaker at or after ``t``."""
        best = -1.0
        for rec in self.lines:
            for turn_id in rec.turns:
                turn = self.turns[turn_id]
                if turn.audio_at >= t and turn.verdict(rec.said_at, self.deadline_s)[0] == (
                    "answered"
                ):
                    best = turn.audio_at if best < 0 else min(best, turn.audio_at)
        return best
