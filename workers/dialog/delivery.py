"""Where each sentence of a reply is: sent to the TTS, synthesized, played by the speaker.

The dialog sends a reply sentence by sentence (``tts.request``); the TTS answers each with its
audio (``tts.audio``, seen by the dialog too) and the speaker reports when a turn's playback
started and when it finished or was cut (``speaker.report``). :class:`Delivery` keeps that
account per turn, so that when a worker on the way is lost the dialog knows what the user has
not heard:

- the TTS died (or the bus dropped messages): the sentences without audio
  (:meth:`Delivery.unsynthesized`) are sent again once it is back;
- the speaker died: the sentences not yet played (:meth:`Delivery.unheard`, estimated from when
  playback started and the length of each sentence's audio) are sent again once it is back;
- a ``speaker.report`` lost on the way would leave a turn "playing" forever:
  :meth:`Delivery.overdue` names the turns whose audio should have ended long ago.

Pure: times are monotonic ns given by the caller; nothing is published here.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from schemas.speaker import SpeakerReport
from schemas.tts import TtsAudio, TtsRequest

__all__ = ["Delivery", "TurnAudio"]

#: Turns kept (the newest); older ones are forgotten.
_KEEP_TURNS = 8
#: A playing turn is overdue this long after its known audio should have ended, ns.
_OVERDUE_MARGIN_NS = 3_000_000_000


@dataclass
class TurnAudio:
    """The sentences of one turn and what became of them."""

    turn_id: str
    requests: dict[int, TtsRequest] = field(default_factory=dict)
    """Sentence requests sent, by index."""
    audio_ms: dict[int, float] = field(default_factory=dict)
    """Length of the audio synthesized for each index, ms (absent: no audio seen)."""
    started_ns: int = 0
    """When the speaker reported the turn started (0: not yet, or restarted since)."""
    ended: bool = False
    """The speaker reported it finished or cut."""
    stopped: bool = False
    """The dialog stopped it (barge-in): nothing of it is to be sent again."""

    def pending_requests(self) -> list[TtsRequest]:
        """Requests without audio, in order."""
        return [r for i, r in sorted(self.requests.items()) if i not in self.audio_ms]

    def audio_total_ms(self) -> float:
        """Length of all audio seen, ms."""
        return sum(self.audio_ms.values())


class Delivery:
    """The account of every recent turn's sentences."""

    def __init__(self) -> None:
        self.turns: OrderedDict[str, TurnAudio] = OrderedDict()

    def _turn(self, turn_id: str) -> TurnAudio:
        t = self.turns.get(turn_id)
        if t is None:
            t = self.turns[turn_id] = TurnAudio(turn_id)
            while len(self.turns) > _KEEP_TURNS:
                self.turns.popitem(last=False)
        return t

    # --- what passes ---------------------------------------------------------------------

    def sent(self, req: TtsRequest) -> None:
        """The dialog sent ``req``."""
        self._turn(req.turn_id).requests[req.index] = req

    def synthesized(self, audio: TtsAudio) -> None:
        """Audio of one sentence came from the TTS."""
        t = self.turns.get(audio.turn_id)
        if t is not None:
            rate = audio.sample_rate_hz or 1
            t.audio_ms[audio.index] = 1000.0 * (len(audio.pcm) // 2) / rate

    def reported(self, report: SpeakerReport, now_ns: int) -> None:
        """The speaker said what it did with a turn."""
        t = self.turns.get(report.turn_id)
        if t is None:
            return
        if report.event == "started":
            t.started_ns, t.ended = now_ns, False
        else:
            t.ended = True

    def stopped(self, turn_id: str) -> None:
        """The dialog stopped this turn (barge-in): never send it again."""
        if turn_id in self.turns:
            self.turns[turn_id].stopped = True

    # --- what the user has not heard -----------------------------------------------------

    def unsynthesized(self, turn_id: str) -> list[TtsRequest]:
        """The turn's requests whose audio never came (lost with the TTS or on the bus)."""
        t = self.turns.get(turn_id)
        if t is None or t.stopped or t.ended:
            return []
        return t.pending_requests()

    def unheard(self, turn_id: str, lost_ns: int) -> list[str]:
        """Texts of the turn's sentences that the speaker lost at ``lost_ns`` had received but not
        finished playing (the one it was in the middle of included), in order. Sentences whose
        audio has not come yet are not among them: it will reach the new speaker."""
        t = self.turns.get(turn_id)
        if t is None or t.stopped or t.ended or not t.requests:
            return []
        played_ms = (lost_ns - t.started_ns) / 1e6 if t.started_ns else 0.0
        out: list[str] = []
        elapsed = 0.0
        for i, req in sorted(t.requests.items()):
            if i not in t.audio_ms:
                continue
            length = t.audio_ms[i]
            if t.started_ns and elapsed + length <= played_ms:
                elapsed += length  # played to its end before the speaker was lost
                continue
            elapsed = float("inf")  # the rest comes after the sentence cut short
            if req.text:
                out.append(req.text)
        return out

    def forget_playback(self, turn_id: str) -> None:
        """The speaker that played this turn is gone: its audio is to be sent anew."""
        t = self.turns.get(turn_id)
        if t is not None:
            t.started_ns, t.ended = 0, False

    def live(self) -> list[str]:
        """Turns that may still be playing or waiting for audio (not ended, not stopped)."""
        return [tid for tid, t in self.turns.items() if not t.ended and not t.stopped]

    def overdue(self, playing: set[str], now_ns: int) -> list[str]:
        """Turns reported started whose audio should have ended long ago (the report of their
        end was lost)."""
        out = []
        for tid in playing:
            t = self.turns.get(tid)
            if t is None or not t.started_ns or t.pending_requests():
                continue
            end_ns = t.started_ns + int(t.audio_total_ms() * 1e6) + _OVERDUE_MARGIN_NS
            if now_ns > end_ns:
                out.append(tid)
        return out

    # --- across a restart ----------------------------------------------------------------

    def to_state(self) -> list[dict[str, object]]:
        """The account as JSON-ready data."""
        return [
            {
                "turn_id": t.turn_id,
                "requests": [r.model_dump() for r in t.requests.values()],
                "audio_ms": {str(i): ms for i, ms in t.audio_ms.items()},
                "started_ns": t.started_ns,
                "ended": t.ended,
                "stopped": t.stopped,
            }
            for t in self.turns.values()
        ]

    def restore(self, data: list[dict[str, object]]) -> None:
        """Take back what :meth:`to_state` gave."""
        self.turns.clear()
        for d in data:
            t = self._turn(str(d["turn_id"]))
            for r in d["requests"]:  # type: ignore[attr-defined]
                req = TtsRequest.model_validate(r)
                t.requests[req.index] = req
            t.audio_ms = {int(i): float(ms) for i, ms in d["audio_ms"].items()}  # type: ignore[attr-defined]
            t.started_ns = int(d["started_ns"])  # type: ignore[call-overload]
            t.ended, t.stopped = bool(d["ended"]), bool(d["stopped"])
