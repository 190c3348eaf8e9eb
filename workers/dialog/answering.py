"""The assistant's side of a turn: the LLM request and its stream, the car, the audio, failures.

Functions of the :class:`~workers.dialog.manager.TurnManager` state (pure: they append what to
publish to ``out``). Deltas become sentences for the TTS as they complete (never the thinking);
the reply's intent becomes car commands, sent one at a time by the
:class:`~workers.dialog.car.CarDesk`, or a spoken refusal; the final audio closes the turn. A
command-like utterance the grammar did not parse asks for intents only (:func:`ask_intent`):
that reply is never spoken, its intents are acted on when the words support them
(:func:`~workers.dialog.understanding.conclude`) or refused aloud.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bus import Envelope, Out
from schemas.llm import ChatMessage, LlmDelta, LlmReply, LlmRequest
from schemas.rtos import RtosAck, RtosCommand, RtosTelemetry
from schemas.speaker import SpeakerReport
from schemas.system import LifecycleEvent
from schemas.tts import TtsAudio
from text.endofturn import without_trailing_mark
from text.history import fit_messages
from workers.dialog.actions import IntentLike, describe, strict_intent
from workers.dialog.replies import say
from workers.dialog.stopping import skip_sent_stop
from workers.dialog.turn import Turn
from workers.dialog.understanding import (
    Understanding,
    conclude,
    intent_request,
    unsupported_tool_call,
)

if TYPE_CHECKING:
    from workers.dialog.manager import TurnManager

__all__ = [
    "DEAD_EVENTS",
    "act",
    "apologise",
    "ask_intent",
    "ask_llm",
    "await_reply",
    "llm_request",
    "on_ack",
    "on_audio",
    "on_delta",
    "on_lifecycle",
    "on_reply",
    "on_speaker",
    "on_telemetry",
    "stable_history",
]

log = logging.getLogger("workers.dialog.manager")

#: ``sys.lifecycle`` events after which a worker will not answer what it was asked.
DEAD_EVENTS = frozenset({"exited", "hung", "restarting", "gave_up"})


# --- the LLM -------------------------------------------------------------------------------


def llm_request(m: TurnManager, question: str, request_id: str) -> LlmRequest:
    """The request for ``question``: system prompt, the bounded history, the question (without
    the comma the recogniser may end it with at a pause)."""
    user = ChatMessage(role="user", content=without_trailing_mark(question))
    system = ChatMessage(role="system", content=m.s.system_prompt)
    return LlmRequest(
        request_id=request_id,
        messages=(system, *stable_history(m, user)),
        max_tokens=m.s.max_tokens,
        temperature=m.s.temperature,
        tools=m.s.tools,
        enable_thinking=m.s.enable_thinking,
    )


def stable_history(m: TurnManager, user: ChatMessage) -> tuple[ChatMessage, ...]:
    """The history and ``user``, bounded by ``history_max_chars`` so that the prompt's prefix
    stays what the LLM already holds: over the budget, the oldest turns go until half of it is
    left (and the history keeps just that), so the prefix changes once every few turns instead
    of at every turn (each change costs a prefill of the whole history)."""
    budget = m.s.history_max_chars
    messages = (*m.history.messages, user)
    if sum(len(x.content) for x in messages) <= budget:
        return messages
    kept = fit_messages(messages, max_chars=budget // 2)
    m.history.clear()
    m.history.add(*kept[:-1])
    return kept


def ask_llm(m: TurnManager, t: Turn, now_ns: int, out: list[Out], *, part: int = 0) -> None:
    """Send the turn's question with the bounded history; start the first-token deadline."""
    t.request_id = t.turn_id + "+" * part
    out.append(Out("llm.request", llm_request(m, t.user_text, t.request_id), t.turn_id))
    await_reply(m, t, now_ns, out)


def await_reply(m: TurnManager, t: Turn, now_ns: int, out: list[Out]) -> None:
    """The turn waits for ``t.request_id``'s reply: the first-token deadline starts."""
    t.stage = "llm"
    t.deadline_ns = now_ns + int(m.s.llm_first_token_timeout_s * 1e9)
    m.set_state("thinking", t.turn_id, t.user_text, out)


def ask_intent(
    m: TurnManager, t: Turn, u: Understanding, now_ns: int, out: list[Out], *, part: int = 0
) -> None:
    """Ask the LLM for the intent of a command-like utterance the grammar did not parse
    (``part``: asked again, as for :func:`ask_llm`)."""
    t.asked = u
    t.request_id = t.turn_id + "+" * part
    t.stage = "llm"
    t.deadline_ns = now_ns + int(m.s.llm_first_token_timeout_s * 1e9)
    out.append(Out("llm.request", intent_request(u, m.s, t.request_id), t.turn_id))
    m.set_state("thinking", t.turn_id, t.user_text, out)


def on_delta(m: TurnManager, p: LlmDelta, msg: Envelope, now_ns: int, out: list[Out]) -> None:
    """A piece of the reply: complete sentences go to the TTS at once."""
    t = m.turn
    if t is None or t.stage != "llm" or p.request_id != t.request_id:
        return
    if not t.timeline.first_token_ns:
        t.timeline.first_token_ns = now_ns
        t.timeline.bus.add("llm.delta", msg.bus_ms, {"llm.request": p.bus_ms})
    t.deadline_ns = now_ns + int(m.s.llm_stall_timeout_s * 1e9)
    if t.asked is not None:
        return  # an intents answer (JSON) is acted on, never spoken
    reqs = t.speech.feed(p.text, thinking=p.thinking)
    if reqs:
        m.speak(t, reqs, now_ns, out, stage="llm")


def on_reply(m: TurnManager, p: LlmReply, now_ns: int, out: list[Out]) -> None:
    """The reply is complete: its last sentences, and its intent acted on or refused."""
    t = m.turn
    if t is None or t.stage != "llm" or p.request_id != t.request_id:
        return
    if p.finish_reason == "error" or p.finish_reason == "abort":
        log.warning("llm_failed turn=%s reason=%s error=%s", t.turn_id, p.finish_reason, p.error)
        apologise(m, t, "llm_failed", now_ns, out)
        return
    if t.asked is not None:
        _on_intents(m, t, t.asked, p, now_ns, out)
        return
    extra: list[str] = []
    if p.intent_error:
        log.warning(
            "intent_refused turn=%s error=%s call=%r", t.turn_id, p.intent_error, p.refused_call
        )
        extra.append(say("garbled", t.language))
    elif p.intents and (why := unsupported_tool_call(t.user_text, tuple(p.intents), m.s)):
        log.warning("llm_tool_call_unsupported turn=%s text=%r why=%s", t.turn_id, t.user_text, why)
        extra.append(say("garbled", t.language))
    elif p.intents:
        t.outcome = "command"
        extra += act(m, t, list(p.intents), out)
    if not p.text.strip() and not t.speech.spoken and not extra:
        extra.append(say("no_answer", t.language))
    reqs = t.speech.finish(*extra)
    if t.speech.dropped:
        log.info("repeats_dropped turn=%s n=%d first=%r", t.turn_id, len(t.speech.dropped),
                 t.speech.dropped[0])  # fmt: skip
    m.remember(t, t.speech.answer_text() or p.text.strip())
    m.speak(t, reqs, now_ns, out)


def _on_intents(
    m: TurnManager, t: Turn, asked: Understanding, p: LlmReply, now_ns: int, out: list[Out]
) -> None:
    """The LLM's intents for a command-like utterance: acted on when the words support them,
    else refused aloud."""
    v = conclude(asked, p, m.s)
    todo = skip_sent_stop(m, t.turn_id, v.intents)
    if v.kind == "commands" and todo:
        log.info("llm_intent turn=%s text=%r", t.turn_id, v.text)
        t.outcome = "command"
        sentences = act(m, t, todo, out)
    elif v.kind == "commands":  # only the STOP, and it went out already
        sentences = [
            say("command_ok", t.language, what=describe(strict_intent(v.intents[0]), t.language))
        ]
    else:
        log.warning("intent_refused turn=%s why=%s call=%r", t.turn_id, v.detail, p.refused_call)
        sentences = [say(v.refusal, t.language)]
    t.reply_text = " ".join(sentences)
    m.speak(t, t.speech.finish(*sentences), now_ns, out)


def on_lifecycle(m: TurnManager, p: LifecycleEvent, now_ns: int, out: list[Out]) -> None:
    """The LLM worker died while answering: apologise instead of waiting for its deadline. An
    early request (:mod:`~workers.dialog.early`) it was generating is forgotten: its segment's
    turn asks the new LLM when its transcript comes."""
    t = m.turn
    if p.event not in DEAD_EVENTS or p.worker != m.s.llm_worker:
        return
    if m.early is not None:
        log.warning("early_request_lost segment=%s event=%s", m.early.segment_id, p.event)
        m.early = None
    if t is not None and t.stage == "llm":
        log.warning("llm_worker_lost turn=%s event=%s", t.turn_id, p.event)
        apologise(m, t, "llm_failed", now_ns, out)


def apologise(m: TurnManager, t: Turn, key: str, now_ns: int, out: list[Out]) -> None:
    """End the turn with an apology (``key`` names it in :mod:`~workers.dialog.replies`)."""
    t.outcome = "error"
    t.speech.finish()  # drop a half sentence
    m.speak(t, t.speech.say(say(key, t.language)), now_ns, out)


# --- the car -------------------------------------------------------------------------------


def act(m: TurnManager, t: Turn, intents: Sequence[IntentLike], out: list[Out]) -> list[str]:
    """Commands for valid intents (all or none, see :class:`CarDesk`); what to say."""
    cmds, sentences, what = m.car.act(t, intents)
    out += [Out("rtos.command", c, t.turn_id) for c in cmds]
    if what:
        m.set_state("acting", t.turn_id, what, out)
    return sentences


def on_ack(m: TurnManager, p: RtosAck, now_ns: int, out: list[Out]) -> None:
    """A command's outcome: the next step of the plan, and the outcome spoken."""
    _car_outcome(m, *m.car.on_ack(p), now_ns, out)


def on_telemetry(m: TurnManager, p: RtosTelemetry, now_ns: int, out: list[Out]) -> None:
    """The car's state: the outcome of a command whose ack was lost while the dialog or the bus
    was down (:meth:`~workers.dialog.car.CarDesk.on_telemetry`), acted on as its ack."""
    _car_outcome(m, *m.car.on_telemetry(p), now_ns, out)


def _car_outcome(
    m: TurnManager, t: Turn | None, cmds: list[RtosCommand], text: str, now_ns: int, out: list[Out]
) -> None:
    if t is None:
        return
    out += [Out("rtos.command", c, t.turn_id) for c in cmds]
    if text:
        m.speak(t, t.speech.say(text), now_ns, out, follow_up=True)


# --- the audio -----------------------------------------------------------------------------


def on_audio(m: TurnManager, p: TtsAudio, msg: Envelope, now_ns: int, out: list[Out]) -> None:
    """Synthesized audio: the first one times the turn, the last one closes it."""
    t = m.turns.get(p.turn_id)
    if t is None:
        return
    if not t.timeline.first_audio_ns and p.pcm:
        t.timeline.first_audio_ns = now_ns
        t.timeline.bus.add("tts.audio", msg.bus_ms, {"tts.request": p.bus_ms})
    if p.final and t.stage == "speaking" and p.index == t.speech.sent - 1:
        m.close(t, now_ns, out)


def on_speaker(m: TurnManager, p: SpeakerReport, now_ns: int, out: list[Out]) -> None:
    """What the speaker plays: the state goes back to idle when it has finished."""
    if p.event == "started":
        m.playing.add(p.turn_id)
    else:
        m.playing.discard(p.turn_id)
        t = m.turns.get(p.turn_id)
        if p.event == "finished" and t is not None and t.stage == "speaking":
            # The speaker played the last sentence: its audio reached it even if the dialog
            # missed it (the dialog was restarting, the bus dropped it).
            m.close(t, now_ns, out)
        m.window.touch(now_ns / 1e9)
        if not m.playing and (m.turn is None or m.turn.stage == "done"):
            m.restore_state(out)
