"""What an utterance asks for: the one path from a transcript to car commands.

The dialog (``listening.on_asr`` / ``answering.on_reply``) and the understanding bench
(``bench/understanding_path.py``) both call these functions, after the same STOP check
(:mod:`~workers.dialog.stopping`: a stop word has already stopped the car), so the bench scores
exactly what the dialog does. For a transcript (wake phrase already stripped), :func:`interpret`
decides:

0. first the clauses the user forbade or took back are taken out (:mod:`text.negation`: "don't
   turn left", 别往前走, "turn left, no, turn right"); a stop word in them leaves its STOP. The
   rest is read as below; nothing left: ``refuse`` (``negated``: "OK, I won't.");
1. ``device``: a question about the car (where, battery), answered from telemetry;
2. ``commands``: the grammar (:mod:`~text.commands`) parses it, as said or after the
   near-miss repair (:mod:`~workers.dialog.repair`: "dry forward" -> "drive forward", numbers
   untouched);
3. ``refuse`` (``no_amount``): a command whose number was lost ("go back at the meter": a unit
   and no amount): the dialog asks again instead of guessing one;
4. ``ask``: command-like (only command words, starting like a command; :mod:`evidence`) but not
   parsed: the LLM is asked for the intent only (:func:`intent_request`), under a JSON schema of
   the car's commands narrowed to the kinds and amounts the words support; :func:`conclude`
   turns its answer into ``commands`` only when every intent is supported by the words, else
   ``refuse`` (spoken: "Sorry, I did not understand that command.");
5. ``chat``: anything else is a question for the LLM.

Intents then pass the bounds check (``CarDesk.act``), whose refusal is spoken too.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Literal

from schemas.llm import ChatMessage, LlmReply, LlmRequest
from text.commands import parse_command
from text.intent_answer import answer_schema
from text.language import language_of
from text.negation import split_negated
from workers.dialog.actions import IntentLike, strict_intent
from workers.dialog.device import device_topic
from workers.dialog.evidence import (
    command_like,
    evidence,
    missing_amount,
    support,
    unsupported,
)
from workers.dialog.repair import repair
from workers.dialog.settings import DialogSettings

__all__ = [
    "INTENT_PROMPT",
    "Understanding",
    "conclude",
    "intent_request",
    "interpret",
    "unsupported_tool_call",
]

log = logging.getLogger(__name__)

Kind = Literal["empty", "device", "commands", "ask", "refuse", "chat"]

INTENT_PROMPT = (
    "You turn what the user says to a small robot car into car commands, as JSON. Answer with "
    "a JSON list of the commands in the order they were asked for, or null when the user does "
    "not ask the car to do anything. Each command is an object with a kind: drive (distance_m: "
    "metres, positive forward, negative backward; or linear_mps with duration_ms for a timed "
    "drive), turn (angle_deg: degrees, positive left, negative right), stop, estop (emergency "
    "stop), led (led_rgb: the colour as 0xRRGGBB) or buzzer (buzzer_hz, duration_ms). Use only "
    "the amounts the user said."
)
"""System prompt of an intent request."""
_TOKENS_PER_INTENT = 24
"""Tokens an intent of the answer takes at most (``{ "kind": "drive", "distance_m": -1.5}``)."""


@dataclass(frozen=True)
class Understanding:
    """What an utterance asks for."""

    kind: Kind
    text: str
    """The utterance as understood (after a repair, the repaired words)."""
    intents: tuple[IntentLike, ...] = ()
    """``commands``: the intents, in order (field maps from the grammar, typed from the LLM)."""
    refusal: str = ""
    """``refuse``: the key of the spoken refusal (:mod:`~workers.dialog.replies`)."""
    source: str = ""
    """``commands``: grammar, repair or llm."""
    heard: str = ""
    """The utterance as recognised (differs from ``text`` after a repair)."""
    detail: str = ""
    """Why it was refused, or what was repaired, for the log (not spoken)."""


def interpret(text: str, settings: DialogSettings) -> Understanding:
    """Decide what ``text`` (wake phrase already stripped) asks for, without the LLM."""
    text = text.strip()
    if not text:
        return Understanding("empty", text)
    if settings.device_questions and device_topic(text) is not None:
        return Understanding("device", text)
    if not settings.local_commands:
        return Understanding("chat", text)
    neg = split_negated(text)
    if not neg.negated:
        return _interpret_words(text, settings)
    detail = "taken out: " + " | ".join(neg.negated)
    words = neg.kept
    if neg.stop:  # "don't move forward yet": the stop word stands, the drive does not
        stop_word, sep = ("停", "，") if language_of(text) == "zh" else ("stop", ", ")
        words = stop_word + sep + words if words else stop_word
    if not words:
        return Understanding("refuse", "", refusal="negated", heard=text, detail=detail)
    u = _interpret_words(words, settings)
    if u.kind == "chat":  # a conversation keeps its own words; no command comes of it
        return Understanding("chat", text, heard=text, detail=detail)
    return Understanding(u.kind, u.text, u.intents, u.refusal, u.source, heard=text,
                         detail="; ".join(d for d in (u.detail, detail) if d))  # fmt: skip


def _interpret_words(text: str, settings: DialogSettings) -> Understanding:
    """:func:`interpret` after the negated clauses are out: the grammar, the repair, a lost
    amount, the LLM's intent, or chat."""
    speed = settings.bounds.default_speed_mps
    intents = parse_command(text, speed_mps=speed)
    if intents is not None:
        return Understanding("commands", text, tuple(intents), source="grammar", heard=text)
    fixed = repair(text) if settings.repair else None
    if fixed is not None and fixed.changes:
        intents = parse_command(fixed.text, speed_mps=speed)
        if intents is not None:
            detail = ", ".join(f"{a!r}->{b!r}" for a, b in fixed.changes)
            return Understanding(
                "commands", fixed.text, tuple(intents), source="repair", heard=text, detail=detail
            )
    words = fixed.text if fixed is not None else text
    if words != text and split_negated(words).negated:  # "don't trun left": now it reads
        return interpret(words, settings)
    ev = evidence(words)
    if missing_amount(ev):
        return Understanding("refuse", words, refusal="no_amount", heard=text, detail="no number")
    if settings.intent_llm and command_like(ev):
        if not support(ev, speed).values:  # command words, but no command the car could do
            return Understanding(
                "refuse", words, refusal="garbled", heard=text, detail="nothing the car can do"
            )
        return Understanding("ask", words, heard=text)
    return Understanding("chat", text, heard=text)


def intent_request(u: Understanding, settings: DialogSettings, request_id: str) -> LlmRequest:
    """The LLM request for the intent of a command-like utterance (kind ``ask``)."""
    ev = evidence(u.text)
    sup = support(ev, settings.bounds.default_speed_mps)
    schema = answer_schema(sup.values, max_items=sup.max_items)
    return LlmRequest(
        request_id=request_id,
        messages=(
            ChatMessage(role="system", content=INTENT_PROMPT),
            ChatMessage(role="user", content=u.text),
        ),
        max_tokens=_TOKENS_PER_INTENT * sup.max_items + 8,
        temperature=0.0,
        tools=False,
        intent_schema=json.dumps(schema, ensure_ascii=False, separators=(",", ":")),
    )


def conclude(u: Understanding, reply: LlmReply, settings: DialogSettings) -> Understanding:
    """The LLM's answer to :func:`intent_request`: ``commands`` when every intent is supported
    by the words, else ``refuse`` (``garbled``, or ``llm_failed`` when the LLM failed)."""
    if reply.finish_reason in ("error", "abort"):
        return Understanding("refuse", u.text, refusal="llm_failed", heard=u.heard,
                             detail=reply.error or reply.finish_reason)  # fmt: skip
    error, intents = reply.intent_error, tuple(reply.intents)
    if error or not intents:
        return Understanding("refuse", u.text, refusal="garbled", heard=u.heard,
                             detail=error or "the LLM found no command")  # fmt: skip
    why = _unsupported(u.text, intents, settings)
    if why:
        log.info("llm_intent_unsupported text=%r why=%s", u.text, why)
        return Understanding("refuse", u.text, refusal="garbled", heard=u.heard, detail=why)
    return Understanding("commands", u.text, intents, source="llm", heard=u.heard)


def unsupported_tool_call(
    text: str, intents: tuple[IntentLike, ...], settings: DialogSettings
) -> str:
    """Why the commands an LLM's *answer* called its tool for (a question, not a command the
    dialog asked it to read) are not what ``text`` said; ``""`` when the words support every
    one. The same check as :func:`conclude`'s, on the words left once the negated clauses are
    out: "she turned left at the bakery" may support a left turn; "don't turn left" never does,
    and no amount nobody said ever passes."""
    return _unsupported(split_negated(text).kept, intents, settings)


def _unsupported(words: str, intents: tuple[IntentLike, ...], settings: DialogSettings) -> str:
    """Why ``words`` do not support ``intents`` (typed intents of the LLM's reply), or ''."""
    sup = support(evidence(words), settings.bounds.default_speed_mps)
    return unsupported([strict_intent(i) for i in intents], sup)
