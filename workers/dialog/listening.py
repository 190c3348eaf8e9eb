"""The user's side of a turn: speech start and end, the transcripts, barge-in, a lost transcript.

Functions of the :class:`~workers.dialog.manager.TurnManager` state (pure: they append what to
publish to ``out``). Every transcript is first looked at for a stop word (:mod:`stopping`: STOP
goes to the car at once, awake or not, before the wake phrase, the grammar or the LLM). The
speculative transcript of a pause (``asr.partial``) may then ask the LLM early (:mod:`early`),
for an ordinary question only. A segment's transcript either belongs to a turn in progress (a
later part of a long segment), is ignored (not awake, no wake phrase), or opens a turn as
:func:`~workers.dialog.understanding.interpret` decides: a device question answered from
telemetry, car commands understood locally (after a near-miss repair if need be; a STOP already
sent is not sent again), a refusal (an amount was lost), the LLM asked for the intent of a
command-like utterance (never early), or a question for the LLM (taking over the early request
when it asked the same). When the ASR dies, a closed segment whose pause's transcript holds all
of its speech is handled with that transcript (:func:`take_partial`), the others are apologised
for (:func:`fail_asr`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bus import Envelope, Out
from schemas.asr import AsrPartial, AsrText
from schemas.dialog import HOP_FRAME, HOP_SEGMENT
from schemas.llm import LlmAbort, LlmDelta
from schemas.speaker import SpeakerStop
from schemas.system import LifecycleEvent
from schemas.vad import VadState
from text.endofturn import by_mark_only, classify
from workers.dialog import answering, early
from workers.dialog.actions import IntentLike, describe, strict_intent
from workers.dialog.device import answer_device_question
from workers.dialog.replies import language_of, say
from workers.dialog.speech import ReplySpeech
from workers.dialog.stopping import heard_words, skip_sent_stop, stop_if_asked
from workers.dialog.turn import Partial, Timeline, Turn
from workers.dialog.understanding import Understanding, interpret

if TYPE_CHECKING:
    from workers.dialog.manager import TurnManager

__all__ = [
    "barge_in",
    "fail_asr",
    "on_asr",
    "on_lifecycle",
    "on_partial",
    "on_vad",
    "route",
    "take_partial",
]

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
    tl = Timeline(speech_end_ns=p.at_ns, closed_ns=p.decided_ns or now_ns, frame_bus_ms=p.bus_ms)
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


def take_back(m: TurnManager, t: Turn, text: str, now_ns: int, out: list[Out]) -> None:
    """A STOP heard in an utterance whose turn its first transcript already started (the asr's
    stop check, ``docs/asr.md``, answers after the segment when it closed during the check):
    the car was stopped; what the misheard words started is taken back. Its reply is cut (the
    speaker stops its audio, the LLM its generation) and the turn is reported as the STOP it
    was (outcome ``command``, the stop transcript as what was said); the misheard exchange is
    not kept in the history. A turn already over keeps its record; its audio still playing is
    stopped."""
    _claim_stop(m, t)
    live = t.stage in ("llm", "speaking")
    log.info("stop_after_turn turn=%s stage=%s heard=%r was=%r", t.turn_id, t.stage, text,
             t.user_text)  # fmt: skip
    if t.turn_id in m.playing or live:
        out.append(Out("speaker.stop", SpeakerStop(reason="stop", turn_id=t.turn_id), t.turn_id))
        m.playing.discard(t.turn_id)
    if not live:
        return
    if t.stage == "llm" and t.request_id:
        out.append(Out("llm.abort", LlmAbort(request_id=t.request_id, reason="stop"), t.turn_id))
    t.user_text = text  # the turn is the STOP now (outcome command, from _claim_stop)
    m.close(t, now_ns, out)


def _heard(segment_id: str, said: str) -> str:
    """The transcript's words as the dialog reads them (:func:`stopping.heard_words`: a sentence
    the recogniser wrote twice once; "start moving" as the stop it sounds like)."""
    text = said.strip()
    words = heard_words(text)
    if words != text:
        log.info("transcript_read segment=%s heard=%r as=%r", segment_id, text, words)
    return words


def route(m: TurnManager, text: str) -> tuple[str, str, Understanding]:
    """What ``text`` would become, the words it is about (the wake phrase taken out) and how
    they are understood: ``ignore`` (not awake, no wake phrase), ``wake`` (the phrase alone),
    or the kind :func:`~workers.dialog.understanding.interpret` gives them: ``device``,
    ``commands``, ``refuse``, ``ask`` (the LLM asked for an intent) or ``chat`` (a question for
    the LLM)."""
    hit = m.matcher.match(text) if m.matcher is not None else None
    if not m.window.awake and hit is None:
        return "ignore", text, Understanding("empty", text)
    rest = hit.rest if hit is not None else text
    if not rest:
        return "wake", rest, Understanding("empty", rest)
    u = interpret(rest, m.s)
    return u.kind, rest, u


def on_partial(m: TurnManager, p: AsrPartial, msg: Envelope, now_ns: int, out: list[Out]) -> None:
    """What was said so far: a stop word stops the car now; a question may be asked early."""
    text = _heard(p.segment_id, p.text)
    if not text:
        return
    late = p.segment_id in m.turns and p.segment_id not in m.stopped
    stopped = stop_if_asked(m, p.segment_id, text, now_ns, out, p.speech_end_ns)
    if stopped and late:  # the recogniser's second opinion heard a stop after the first's turn
        take_back(m, m.turns[p.segment_id], text, now_ns, out)
    m.partials[p.segment_id] = Partial(
        text, p.speech_end_ns, now_ns, p.language, paused=p.paused, part=p.part
    )
    while len(m.partials) > _KEEP_TURNS:
        m.partials.pop(next(iter(m.partials)))
    if not (m.s.early_answers and p.paused) or p.segment_id in m.turns:
        return
    if early.superseded(m, p):  # the user went on while it was decoded: not all of it
        return
    kind, question, _ = route(m, text)
    if kind != "chat" or (stopped and m.assistant_talking()):
        early.abandon(m, out, reason="not for the LLM")
    elif classify(text, p.language) != "trailing" or by_mark_only(text, p.language):
        early.start(m, p, question, out)  # words that trail off will go on; a comma may not


def on_asr(m: TurnManager, p: AsrText, msg: Envelope | None, now_ns: int, out: list[Out]) -> None:
    """A transcript: part of a turn, ignored, or the start of a new turn (``msg`` None: one
    the dialog made itself, :func:`take_partial`)."""
    text = _heard(p.segment_id, p.text)
    stop_if_asked(m, p.segment_id, text, now_ns, out, p.speech_end_ns)  # first, awake or not
    if p.segment_id in m.turns:
        _more_of_turn(m, m.turns[p.segment_id], text, now_ns, out)
        return
    tl, _ = m.pending.pop(p.segment_id, (Timeline(speech_end_ns=p.speech_end_ns), 0))
    tl.transcript_ns = now_ns
    tl.speculative = p.speculative
    partial = m.partials.get(p.segment_id)
    if partial is not None and partial.speech_end_ns == p.speech_end_ns:
        tl.partial_ns = partial.at_ns
    if msg is not None:
        frame = min(max(0.0, tl.frame_bus_ms), max(0.0, p.bus_ms))  # the VAD's share of it
        tl.bus.add("asr.text", msg.bus_ms, {HOP_FRAME: frame, HOP_SEGMENT: p.bus_ms - frame})
    trace = p.segment_id
    if not text:
        early.abandon(m, out, reason="no speech")
        m.restore_state(out)
        return
    kind, rest, u = route(m, text)
    if kind == "ignore":
        log.info("not_awake text=%r", text)
        early.abandon(m, out, reason="not awake")
        out.append(Out("dialog.turn", _ignored(m, trace, tl, text), trace))
        m.restore_state(out)
        return
    if rest != text or kind == "wake":
        m.window.open(now_ns / 1e9)
    m.window.touch(now_ns / 1e9)
    lang = (
        language_of(rest or p.text)
        if not p.language or p.language not in ("en", "zh")
        else p.language
    )
    if m.turn is not None and m.turn.stage in ("llm", "speaking"):
        barge_in(m, now_ns, out)  # a new utterance supersedes the one being answered
    t = Turn(trace, lang, rest, tl, _speech(m, trace, lang))
    m.turn = t
    m.turns[trace] = t
    while len(m.turns) > _KEEP_TURNS:
        m.turns.pop(next(iter(m.turns)))
    _claim_stop(m, t)
    asked = early.adopt(m, t, text, out) if kind == "chat" else None
    if kind != "chat":
        early.abandon(m, out, reason="not for the LLM")
    if kind == "wake":
        m.speak(t, t.speech.say(say("wake", lang)), now_ns, out)
    elif kind == "device":
        answer = answer_device_question(rest, m.telemetry)
        assert answer is not None  # interpret() saw a device question
        m.remember(t, answer)
        m.speak(t, t.speech.say(answer), now_ns, out)
    elif kind == "commands":
        if u.source == "repair":
            log.info("command_repaired turn=%s heard=%r as=%r", trace, u.heard, u.text)
        _command(m, t, list(u.intents), now_ns, out)
    elif kind == "refuse":
        log.info("command_refused turn=%s text=%r why=%s", trace, u.heard, u.detail)
        m.speak(t, t.speech.say(say(u.refusal, lang)), now_ns, out)
    elif kind == "ask":  # no early request was sent for it: the intent is asked for now
        answering.ask_intent(m, t, u, now_ns, out)
    elif asked is not None:  # the early request asked exactly this: its output is the answer
        answering.await_reply(m, t, now_ns, out)
        for item, held_msg in asked.held:
            if isinstance(item, LlmDelta):
                answering.on_delta(m, item, held_msg, now_ns, out)
            else:
                answering.on_reply(m, item, now_ns, out)
    else:
        answering.ask_llm(m, t, now_ns, out)


def _command(
    m: TurnManager, t: Turn, intents: list[IntentLike], now_ns: int, out: list[Out]
) -> None:
    """Car commands understood locally: sent (less the STOP this utterance already sent), and
    what is being done spoken."""
    t.outcome = "command"
    todo = skip_sent_stop(m, t.turn_id, intents)
    if todo:
        said = answering.act(m, t, todo, out)
    else:  # only the STOP, and it went out already
        said = [say("command_ok", t.language, what=describe(strict_intent(intents[0]), t.language))]
    m.speak(t, t.speech.say_texts(said), now_ns, out)


def _speech(m: TurnManager, turn_id: str, lang: str) -> ReplySpeech:
    return ReplySpeech(
        turn_id, lang, max_chars=m.s.sentence_max_chars, first_clause_chars=m.s.first_clause_chars
    )


def _claim_stop(m: TurnManager, t: Turn) -> None:
    """A STOP this utterance sent belongs to its turn (its id, when it reached the ring)."""
    sent = m.stopped.get(t.turn_id)
    if sent is not None:
        t.commands.append(sent.cmd_id)
        t.timeline.stop_ring_ns = sent.ring_ns
        t.timeline.stop_speech_end_ns = sent.speech_end_ns
        t.outcome = "command"


def _ignored(m: TurnManager, trace: str, tl: Timeline, text: str):
    sent = m.stopped.get(trace)
    if sent is not None:
        tl.stop_ring_ns = sent.ring_ns
        tl.stop_speech_end_ns = sent.speech_end_ns
    return tl.metrics(trace, user_text=text, outcome="ignored")


def _more_of_turn(m: TurnManager, t: Turn, text: str, now_ns: int, out: list[Out]) -> None:
    """A later part of a long segment (the VAD splits monologues): ask again with all of it."""
    if t.timeline.speculative:
        # A pause's transcript holds the whole of its segment (it is the last part): this one
        # is the segment recognised again (an ASR restarted after the dialog took the partial).
        log.info("transcript_repeated turn=%s", t.turn_id)
        return
    if not text or t.stage != "llm":
        log.info("late_part_ignored turn=%s stage=%s", t.turn_id, t.stage)
        return
    out.append(Out("llm.abort", LlmAbort(request_id=t.request_id, reason="more"), t.turn_id))
    t.user_text = f"{t.user_text} {text}".strip()
    t.asked = None  # the whole of it is a question now
    t.speech = _speech(m, t.turn_id, t.language)
    answering.ask_llm(m, t, now_ns, out, part=t.request_id.count("+") + 1)


def on_lifecycle(m: TurnManager, p: LifecycleEvent, now_ns: int, out: list[Out]) -> None:
    """The ASR worker died: the transcripts it owed will not come; a segment whose pause's
    transcript holds all of it is answered from that, the others are apologised for."""
    if p.event in answering.DEAD_EVENTS and p.worker == m.s.asr_worker:
        for seg_id in list(m.pending):
            if not take_partial(m, seg_id, now_ns, out):
                fail_asr(m, seg_id, now_ns, out, why=p.event)


def take_partial(m: TurnManager, seg_id: str, now_ns: int, out: list[Out]) -> bool:
    """Handle the closed segment ``seg_id`` with the speculative transcript of its pause, when
    that holds all of its speech (the ASR would have sent the same words as its ``asr.text``,
    :class:`~workers.asr.speculative.Speculation`); True when it did."""
    pending = m.pending.get(seg_id)
    partial = m.partials.get(seg_id)
    if pending is None or partial is None or not partial.covers(pending[0].speech_end_ns):
        return False
    log.warning("transcript_from_partial segment=%s text=%r", seg_id, partial.text)
    text = AsrText(
        text=partial.text,
        segment_id=seg_id,
        language=partial.language,
        speech_end_ns=partial.speech_end_ns,
        speculative=True,
    )
    on_asr(m, text, None, now_ns, out)
    return True


def fail_asr(m: TurnManager, seg_id: str, now_ns: int, out: list[Out], *, why: str) -> None:
    """No transcript for ``seg_id``: apologise if it may have been meant for us."""
    tl, _ = m.pending.pop(seg_id)
    if m.early is not None and m.early.segment_id == seg_id:
        early.abandon(m, out, reason="no transcript")
    if not m.window.awake:
        return  # it may not have been meant for us: stay quiet
    log.warning("asr_failed segment=%s why=%s", seg_id, why)
    lang = m.turn.language if m.turn is not None else "en"
    t = Turn(seg_id, lang, "", tl, ReplySpeech(seg_id, lang), outcome="error")
    m.turn = m.turns[seg_id] = t
    m.speak(t, t.speech.say(say("asr_failed", lang)), now_ns, out)
