"""What the dialog does when a worker on a turn's way is lost, or the bus dropped messages.

Functions of the :class:`~workers.dialog.manager.TurnManager` state, driven by ``sys.lifecycle``
(pure: they append what to publish to ``out``). The ASR and the LLM are watched in
:mod:`~workers.dialog.listening` and :mod:`~workers.dialog.answering`: a dead ASR's closed
segment is answered from its pause's speculative transcript when that holds all of its speech
(:func:`~workers.dialog.listening.take_partial`), else apologised for at once; a dead LLM's
reply is apologised for at once, and the early request it was generating forgotten (the turn
asks again at its transcript). Here:

- **the VAD** died in the middle of an utterance (after a pause's transcript or not): its audio
  is lost, the user hears "Sorry, I did not catch that", as for a transcript that never comes;
  the early request of that utterance is aborted (a STOP its pause sent stays sent);
- **the ASR** is down when a segment closes (it died after the pause's transcript, say): the
  segment is answered from that transcript when it holds all the speech, otherwise its
  transcript gets ``outage_grace_s`` (a new ASR may still get the segment), then the apology;
- **the TTS** died: the sentences it had not synthesized are sent again once it is ready (a
  turn waiting for its last audio waits for the new TTS, not for ``tts_timeout_s``);
- **the speaker** died: the sentences it had not finished playing (estimated from when playback
  started and the length of each sentence; a hung speaker stopped ``silent_s`` before it was
  declared hung) are said again, from the one it was in, once it is ready;
- **the car's gateway or RT app** died: the acks it owed may be lost; they are inferred from
  telemetry (:meth:`~workers.dialog.car.CarDesk.on_telemetry`);
- **the bus proxy** restarted (the supervisor announces it as worker ``proxy``, once the bus is
  back): whatever was published meanwhile is lost, so an early request is aborted (its held
  stream has gaps), a reply being streamed is asked for again (an intents-only request as one),
  sentences whose audio never came are sent again, a transcript still awaited gets
  ``outage_grace_s`` before its apology, and acks of the car's commands may be inferred from
  telemetry;
- **the dialog itself** restarted (:mod:`~workers.dialog.memory` restored its state): a STOP
  that may not have left is sent again first, an early request is aborted, a reply
  being streamed is asked for again (the sentences the user already heard are not said twice),
  a reply that was being spoken is closed when the speaker finishes it, a transcript awaited or
  an utterance under way (its transcript may have come while the dialog was down) gets
  ``outage_grace_s`` before its apology.

An utterance lost to a fault (the VAD, the bus or the dialog down while it was said) is
apologised for even while the dialog is asleep: it may have held the wake phrase, and the user
would otherwise hear nothing; the window then opens for the answer to "please say it again".

A ``speaker.report`` lost on the way would leave a turn playing forever; such a turn is dropped
from ``playing`` once its audio should have ended long ago
(:meth:`~workers.dialog.delivery.Delivery.overdue`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bus import Out
from schemas.llm import LlmAbort
from schemas.system import LifecycleEvent
from schemas.tts import TtsRequest
from schemas.vad import VadState
from workers.dialog import early
from workers.dialog.answering import DEAD_EVENTS, ask_intent, ask_llm
from workers.dialog.listening import fail_asr, take_partial
from workers.dialog.speech import ReplySpeech
from workers.dialog.stopping import resend_unconfirmed
from workers.dialog.turn import Timeline, Turn

if TYPE_CHECKING:
    from workers.dialog.manager import TurnManager

__all__ = ["PROXY", "Recovery", "ResumedSpeech", "reask"]

log = logging.getLogger("workers.dialog.manager")

#: The name under which the supervisor announces the bus proxy's exit and restart.
PROXY = "proxy"


class ResumedSpeech(ReplySpeech):
    """The speech of a reply asked for again: sentences the user already heard (``heard``, in
    order) are not sent twice as long as the new reply repeats them."""

    heard: list[str]

    def feed(self, text: str, *, thinking: bool = False) -> list[TtsRequest]:
        return self._skip(super().feed(text, thinking=thinking))

    def finish(self, *extra: str) -> list[TtsRequest]:
        return self._skip(super().finish(*extra))

    def _skip(self, reqs: list[TtsRequest]) -> list[TtsRequest]:
        out = []
        for r in reqs:
            heard = getattr(self, "heard", [])
            rest = r.text
            # A sentence heard before, or the reply's first clause (the rest of its sentence
            # then follows in the new reply's first sentence).
            while heard and rest and _starts_with(rest, heard[0]):
                rest = rest[len(heard.pop(0)) :].lstrip()
            if rest != r.text:
                idx = len(self.spoken) - 1 - self.spoken[::-1].index(r.text)
                if rest:
                    self.spoken[idx] = rest
                else:
                    del self.spoken[idx]  # said before the restart, already in ``spoken``
                if rest or r.final:
                    out.append(r.model_copy(update={"text": rest}))  # an empty one ends the turn
                continue
            if r.text:
                heard.clear()  # the new reply went another way: say it as it comes
            out.append(r)
        return out


def _starts_with(text: str, heard: str) -> bool:
    """``text`` is ``heard``, or begins with it when that is a clause (it ends in a mark)."""
    return text == heard or (text.startswith(heard) and not heard[-1].isalnum())


def reask(m: TurnManager, t: Turn, now_ns: int, out: list[Out], *, why: str) -> None:
    """Ask the LLM again for turn ``t`` (its stream was lost): abort the old request, send the
    question again; what was already said is not said twice. An intents-only request
    (``t.asked``) is asked again as one (:func:`~workers.dialog.answering.ask_intent`)."""
    log.warning("llm_reasked turn=%s why=%s heard=%d", t.turn_id, why, len(t.speech.spoken))
    out.append(Out("llm.abort", LlmAbort(request_id=t.request_id, reason=why), t.turn_id))
    part = t.request_id.count("+") + 1
    if t.asked is not None:  # nothing of it was spoken: its reply is acted on, never said
        ask_intent(m, t, t.asked, now_ns, out, part=part)
        return

    speech = ResumedSpeech.resumed(
        t.turn_id,
        t.language,
        max_chars=m.s.sentence_max_chars,
        sent=t.speech.sent,
        spoken=t.speech.spoken,
        first_clause_chars=m.s.first_clause_chars,
    )
    assert isinstance(speech, ResumedSpeech)
    speech.heard = list(t.speech.spoken)
    t.speech = speech
    ask_llm(m, t, now_ns, out, part=part)


@dataclass
class Recovery:
    """Which workers are down, and the checks due after a loss."""

    down_ns: dict[str, int] = field(default_factory=dict)
    """Lost worker -> when it stopped working (monotonic ns)."""
    open_segments: set[str] = field(default_factory=set)
    """Speech segments the VAD started and has not ended."""
    lost: set[str] = field(default_factory=set)
    """Awaited segments whose transcript a fault may have lost (apologised for even asleep)."""
    checks: dict[str, int] = field(default_factory=dict)
    """Turn id -> when to send again the sentences of it that got no audio (ns)."""
    asr_down: str = ""
    """The ASR worker's last event while it is down (``exited``, ``gave_up`` ...), else ''."""

    def on_lifecycle(self, m: TurnManager, p: LifecycleEvent, now_ns: int, out: list[Out]) -> None:
        """A worker of the speech path died or came back; the bus proxy restarted."""
        s = m.s
        if p.worker == PROXY and p.event == "exited":
            self.bus_outage(m, now_ns, out)
        elif p.event in DEAD_EVENTS and p.worker == s.vad_worker:
            for seg_id in sorted(self.open_segments):
                log.warning("utterance_lost segment=%s event=%s", seg_id, p.event)
                m.pending.setdefault(seg_id, (Timeline(speech_end_ns=now_ns), now_ns))
                self.lost.add(seg_id)
                self.fail_lost(m, seg_id, now_ns, out, why=f"vad_{p.event}")
            self.open_segments.clear()
        elif p.worker == s.asr_worker:
            if p.event in DEAD_EVENTS:
                self.asr_down = p.event
            elif p.event == "ready":
                self.asr_down = ""
        elif p.event in DEAD_EVENTS and p.worker in (s.rtgw_worker, s.rtapp_worker):
            m.car.suspect_lost_acks()
        elif p.worker not in (s.tts_worker, s.speaker_worker):
            return
        elif p.event in DEAD_EVENTS:
            if p.worker not in self.down_ns:
                self.down_ns[p.worker] = now_ns - int(p.silent_s * 1e9)
                log.warning("worker_lost worker=%s event=%s", p.worker, p.event)
            self._hold_deadlines(m, now_ns)
        elif p.event == "ready" and p.worker in self.down_ns:
            lost_ns = self.down_ns.pop(p.worker)
            if p.worker == s.tts_worker:
                self._resend_unsynthesized(m, m.delivery.live(), now_ns, out, why="tts_restarted")
            else:
                self._replay_unheard(m, lost_ns, now_ns, out)

    def fail_lost(
        self, m: TurnManager, seg_id: str, now_ns: int, out: list[Out], *, why: str
    ) -> None:
        """No transcript for ``seg_id``; if a fault lost it, the apology is said even while
        asleep (what was lost may have held the wake phrase), and the window opens for the
        answer to "please say it again"."""
        if seg_id in self.lost and not m.window.awake:
            log.info("awake_window_opened why=lost_to_a_fault segment=%s", seg_id)
            m.window.open(now_ns / 1e9)
        self.lost.discard(seg_id)
        fail_asr(m, seg_id, now_ns, out, why=why)

    def on_vad(self, p: VadState) -> None:
        """Which segments are open (a VAD lost in the middle of one loses it)."""
        if p.speaking:
            self.open_segments.add(p.segment_id)
        else:
            self.open_segments.discard(p.segment_id)

    def on_closed(self, m: TurnManager, p: VadState, now_ns: int, out: list[Out]) -> None:
        """A segment closed while the ASR is down (after its speculative transcript, perhaps):
        answered from the pause's transcript when that holds all of it, otherwise its
        transcript (the new ASR may still get the segment) gets ``outage_grace_s``, then the
        apology."""
        if p.speaking or p.dropped or not self.asr_down or p.segment_id not in m.pending:
            return
        if take_partial(m, p.segment_id, now_ns, out):
            return
        tl, deadline = m.pending[p.segment_id]
        m.pending[p.segment_id] = (tl, min(deadline, now_ns + int(m.s.outage_grace_s * 1e9)))
        if self.asr_down != "gave_up":  # an ASR that gave up: asleep stays quiet, as ever
            self.lost.add(p.segment_id)
        log.warning("transcript_at_risk segment=%s asr=%s", p.segment_id, self.asr_down)

    def _hold_deadlines(self, m: TurnManager, now_ns: int) -> None:
        # A turn waiting for its last audio waits for the new worker, not for the timeout.
        t = m.turn
        if t is not None and t.stage == "speaking":
            t.deadline_ns = max(t.deadline_ns, now_ns + int(m.s.tts_timeout_s * 1e9))

    def _resend_unsynthesized(
        self, m: TurnManager, turn_ids: list[str], now_ns: int, out: list[Out], *, why: str
    ) -> None:
        for tid in turn_ids:
            reqs = m.delivery.unsynthesized(tid)
            if reqs:
                log.warning("sentences_resent turn=%s count=%d why=%s", tid, len(reqs), why)
                out += [Out("tts.request", r, tid) for r in reqs]
                self._hold_deadlines(m, now_ns)

    def _replay_unheard(self, m: TurnManager, lost_ns: int, now_ns: int, out: list[Out]) -> None:
        for tid in m.delivery.live():
            texts = m.delivery.unheard(tid, lost_ns)
            m.delivery.forget_playback(tid)
            m.playing.discard(tid)
            t = m.turns.get(tid)
            if not texts or t is None:
                continue
            log.warning("sentences_replayed turn=%s count=%d", tid, len(texts))
            reqs = [t.speech.aside(text) for text in texts]
            if t.stage in ("speaking", "done"):
                reqs += t.speech.say_texts([])  # an empty final request ends the replay
                t.stage = "speaking"
                t.deadline_ns = now_ns + int(m.s.tts_timeout_s * 1e9)
            out += [Out("tts.request", r, tid) for r in reqs]
            m.set_state("speaking", tid, texts[0], out)

    def bus_outage(self, m: TurnManager, now_ns: int, out: list[Out]) -> None:
        """Messages published while the proxy was down are lost: recover each turn."""
        log.warning("bus_outage pending=%d turn=%s", len(m.pending), m.turn and m.turn.turn_id)
        grace_ns = now_ns + int(m.s.outage_grace_s * 1e9)
        for seg_id, (tl, deadline) in list(m.pending.items()):
            m.pending[seg_id] = (tl, min(deadline, grace_ns))
            self.lost.add(seg_id)
        early.abandon(m, out, reason="bus_outage")  # its held stream has lost pieces
        t = m.turn
        if t is not None and t.stage == "llm" and t.request_id:
            reask(m, t, now_ns, out, why="bus_outage")
        for tid in m.delivery.live():
            self.checks[tid] = now_ns + int(m.s.resend_grace_s * 1e9)
        m.car.suspect_lost_acks()

    def restored(self, m: TurnManager, now_ns: int, out: list[Out]) -> None:
        """The dialog itself restarted with its state: go on with the turn in flight. Sentences
        already sent are not sent again: their audio most likely reached the speaker while the
        dialog was down (the turn is closed when the speaker reports it finished). A STOP
        that may not have left is sent again first
        (:func:`~workers.dialog.stopping.resend_unconfirmed`); an early request is aborted (its
        stream went on while no dialog listened: the turn asks again when its transcript
        comes)."""
        resend_unconfirmed(m, now_ns, out)
        early.abandon(m, out, reason="dialog_restarted")
        t = m.turn
        if t is not None and t.stage == "llm" and t.request_id:
            reask(m, t, now_ns, out, why="dialog_restarted")
        elif t is not None and t.stage == "speaking":
            t.deadline_ns = now_ns + int(m.s.tts_timeout_s * 1e9)
        # What was said while the dialog was down (a hang can last seconds) did not reach it.
        grace_ns = now_ns + int(m.s.outage_grace_s * 1e9)
        for seg_id in self.open_segments - set(m.pending):
            m.pending[seg_id] = (Timeline(), grace_ns)
        self.open_segments.clear()
        for seg_id, (tl, deadline) in list(m.pending.items()):
            m.pending[seg_id] = (tl, min(deadline, grace_ns))
            self.lost.add(seg_id)
        m.car.suspect_lost_acks()

    def tick(self, m: TurnManager, now_ns: int, out: list[Out]) -> None:
        """Due checks; turns whose end of playback was never reported (call before the
        deadlines are checked: a turn waits for a lost worker to come back)."""
        if self.down_ns:
            self._hold_deadlines(m, now_ns)
        for tid, due in list(self.checks.items()):
            if now_ns >= due:
                del self.checks[tid]
                self._resend_unsynthesized(m, [tid], now_ns, out, why="lost_on_the_bus")
        for tid in m.delivery.overdue(m.playing, now_ns):
            log.warning("playback_report_lost turn=%s", tid)
            m.playing.discard(tid)
            if not m.playing and (m.turn is None or m.turn.stage == "done"):
                m.restore_state(out)
