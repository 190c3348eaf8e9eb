"""The user's side of a turn: speech start and end, the transcript, barge-in, a lost transcript.

Functions of the :class:`~workers.dialog.manager.TurnManager` state (pure: they append what to
publish to ``out``). A transcript either belongs to a turn in progress (a later part of a long
segment), is ignored (not awake, no wake phrase), or opens a turn as
:func:`~workers.dialog.understanding.interpret` decides: a device question answered from
telemetry, car commands understood locally (after a near-miss repair if need be), a refusal
(an amount was lost), the LLM asked for the intent of a command-like utterance, or a question
for the LLM.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bus import Envelope, Out
from schemas.asr import AsrText
from schemas.llm import LlmAbort
from schemas.speaker import SpeakerStop
from schemas.system import LifecycleEvent
from schemas.vad import VadState
from workers.dialog import answering
from workers.dialog.device import answer_device_question
from workers.dialog.replies import language_of, say
from workers.dialog.speech import ReplySpeech
from workers.dialog.turn import Timeline, Turn
from workers.dialog.understanding import interpret

if TYPE_CHECKING:
    from workers.dialog.manager import TurnManager

__all__ = ["barge_in", "fail_asr", "on_asr", "on_lifecycle", "on_vad"]

log = logging.getLogger("workers.dialog.manager")

_KEEP_TURNS = 8


def on_vad(m: TurnManager, p: VadState, msg: Envelope, now_ns: int, out: list[Out]) -> None:
    """Speech started (barge-in, listening) or ended (a transcript is now awaited)."""
    m.window.touch(now_ns / 1e9)
    if p.speaking:
        if m.s.barge_in and m.assistant_talking():
            barge_in(m, now_ns, out)
        if m.window.awake:
            m.set_state("listening", p.segment_id, "", out)
        return
    if p.dropped:  # too short to be speech: no segment, no transcript follows
        if not m.assistant_talking():
            m.restore_state(out)
        return
    tl = Timeline(speech_end_ns=p.at_ns, closed_ns=p.decided_ns or now_ns)
    tl.bus_ms += max(0.0, msg.age_ms)
    m.pending[p.segment_id] = (tl, now_ns + int(m.s.asr_timeout_s * 1e9))
    if m.window.awake and not m.assistant_talking():
        m.set_state("thinking", p.segment_id, "", out)


def barge_in(m: TurnManager, now_ns: int, out: list[Out]) -> None:
    """Stop what the assistant says (every turn still playing) and what it is generating."""
    t = m.turn
    log.info("barge_in turn=%s", t.turn_id if t else "")
    # Name each turn: the speaker then also refuses its audio still on the way.
    turns = set(m.playing) | ({t.turn_id} if t is not None and t.stage != "done" else set())
    for turn_id in sorted(turns) or [""]:
        out.append(Out("speaker.stop", SpeakerStop(reason="barge-in", turn_id=turn_id), turn_id))
    m.playing.clear()
    if t is not None and t.stage in ("llm", "speaking"):
        if t.stage == "llm":
            out.append(Out("llm.abort", LlmAbort(request_id=t.request_id), t.turn_id))
        t.outcome = "aborted"
        m.remember(t)
        m.close(t, now_ns, out)


def on_asr(m: TurnManager, p: AsrText, msg: Envelope, now_ns: int, out: list[Out]) -> None:
    """A transcript: part of a turn, ignored, or the start of a new turn."""
    if p.segment_id in m.turns:
        _more_of_turn(m, m.turns[p.segment_id], p.text.strip(), now_ns, out)
        return
    tl, _ = m.pending.pop(p.segment_id, (Timeline(speech_end_ns=p.speech_end_ns), 0))
    tl.transcript_ns = now_ns
    tl.bus_ms += max(0.0, msg.age_ms)
    trace = p.segment_id
    text = p.text.strip()
    if not text:
        m.restore_state(out)
        return
    hit = m.matcher.match(text) if m.matcher is not None else None
    if not m.window.awake and hit is None:
        log.info("not_awake text=%r", text)
        out.append(Out("dialog.turn", tl.metrics(trace, user_text=text, outcome="ignored"), trace))
        m.restore_state(out)
        return
    if hit is not None:
        m.window.open(now_ns / 1e9)
        text = hit.rest
    m.window.touch(now_ns / 1e9)
    lang = (
        language_of(text or p.text)
        if not p.language or p.language not in ("en", "zh")
        else p.language
    )
    if m.turn is not None and m.turn.stage in ("llm", "speaking"):
        barge_in(m, now_ns, out)  # a new utterance supersedes the one being answered
    t = Turn(trace, lang, text, tl, ReplySpeech(trace, lang, max_chars=m.s.sentence_max_chars))
    m.turn = t
    m.turns[trace] = t
    while len(m.turns) > _KEEP_TURNS:
        m.turns.pop(next(iter(m.turns)))
    if not text:
        m.speak(t, t.speech.say(say("wake", lang)), now_ns, out)
        return
    u = interpret(text, m.s)
    answer = answer_device_question(text, m.telemetry) if u.kind == "device" else None
    if answer is not None:
        m.remember(t, answer)
        m.speak(t, t.speech.say(answer), now_ns, out)
    elif u.kind == "commands":
        if u.source == "repair":
            log.info("command_repaired turn=%s heard=%r as=%r", trace, u.heard, u.text)
        t.outcome = "command"
        m.speak(t, t.speech.say_texts(answering.act(m, t, list(u.intents), out)), now_ns, out)
    elif u.kind == "refuse":
        log.info("command_refused turn=%s text=%r why=%s", trace, u.heard, u.detail)
        m.speak(t, t.speech.say(say(u.refusal, lang)), now_ns, out)
    elif u.kind == "ask":
        answering.ask_intent(m, t, u, now_ns, out)
    else:
        answering.ask_llm(m, t, now_ns, out)


def _more_of_turn(m: TurnManager, t: Turn, text: str, now_ns: int, out: list[Out]) -> None:
    """A later part of a long segment (the VAD splits monologues): ask again with all of it."""
    if not text or t.stage != "llm":
        log.info("late_part_ignored turn=%s stage=%s", t.turn_id, t.stage)
        return
    out.append(Out("llm.abort", LlmAbort(request_id=t.request_id, reason="more"), t.turn_id))
    t.user_text = f"{t.user_text} {text}".strip()
    t.asked = None  # the whole of it is a question now
    t.speech = ReplySpeech(t.turn_id, t.language, max_chars=m.s.sentence_max_chars)
    answering.ask_llm(m, t, now_ns, out, part=t.request_id.count("+") + 1)


def on_lifecycle(m: TurnManager, p: LifecycleEvent, now_ns: int, out: list[Out]) -> None:
    """The ASR worker died: the transcripts it owed will not come."""
    if p.event in answering.DEAD_EVENTS and p.worker == m.s.asr_worker:
        for seg_id in list(m.pending):
            fail_asr(m, seg_id, now_ns, out, why=p.event)


def fail_asr(m: TurnManager, seg_id: str, now_ns: int, out: list[Out], *, why: str) -> None:
    """No transcript for ``seg_id``: apologise if it may have been meant for us."""
    tl, _ = m.pending.pop(seg_id)
    if not m.window.awake:
        return  # it may not have been meant for us: stay quiet
    log.warning("asr_failed segment=%s why=%s", seg_id, why)
    lang = m.turn.language if m.turn is not None else "en"
    t = Turn(seg_id, lang, "", tl, ReplySpeech(seg_id, lang), outcome="error")
    m.turn = m.turns[seg_id] = t
    m.speak(t, t.speech.say(say("asr_failed", lang)), now_ns, out)
