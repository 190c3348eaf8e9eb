"""The JSON form of the parts of the dialog's state that :mod:`~workers.dialog.memory` keeps.

One pair of functions per part, ``<part>_state`` (to a JSON-ready dict) and ``<part>_from``
(back; a missing or mistyped key raises ``KeyError``/``TypeError``/``ValueError``, which makes
the memory discard the whole file): a turn with its timeline and, for an intents-only request,
what was asked (:class:`~workers.dialog.understanding.Understanding`); the STOP an utterance
sent (:class:`~workers.dialog.stopping.Stopped`); an early request
(:class:`~workers.dialog.early.Early`, without the output it held); a speculative transcript
(:class:`~workers.dialog.turn.Partial`).
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from schemas.rtos import CarIntent, RtosCommand
from workers.dialog.actions import IntentLike
from workers.dialog.early import Early
from workers.dialog.speech import ReplySpeech
from workers.dialog.stopping import Stopped
from workers.dialog.turn import BusHops, Partial, Timeline, Turn
from workers.dialog.understanding import Understanding

__all__ = [
    "early_from",
    "early_state",
    "partial_from",
    "partial_state",
    "stopped_from",
    "stopped_state",
    "timeline_from",
    "timeline_state",
    "turn_from",
    "turn_state",
]


_TIMES = tuple(f.name for f in fields(Timeline) if f.name != "bus")


def timeline_state(tl: Timeline) -> dict[str, Any]:
    """A :class:`Timeline` as ``asdict`` gives it, built directly: the memory takes this for
    every turn it keeps after every message, and ``asdict``'s deep copy cost about a millisecond
    a message there (a message waits that long behind it)."""
    out: dict[str, Any] = {name: getattr(tl, name) for name in _TIMES}
    out["bus"] = {"hop_ms": dict(tl.bus.ms)}
    return out


def timeline_from(d: dict[str, Any]) -> Timeline:
    """A :class:`Timeline` from :func:`timeline_state` (its bus hops included)."""
    bus = d["bus"]
    # a snapshot from before the hops were kept one by one: its sums by message received
    hop_ms = bus["hop_ms"] if "hop_ms" in bus else bus["ms"]
    return Timeline(**{**d, "bus": BusHops(ms={str(k): float(v) for k, v in hop_ms.items()})})


def _intent_state(i: IntentLike) -> dict[str, Any]:
    if isinstance(i, CarIntent):
        return {"typed": True, "fields": i.model_dump()}
    return {"typed": False, "fields": dict(i)}


def _intent_from(d: dict[str, Any]) -> IntentLike:
    fields = d["fields"]
    if not isinstance(fields, dict):
        raise TypeError("an intent is saved as a map of its fields")
    return CarIntent.model_validate(fields) if d["typed"] else fields


def _understanding_state(u: Understanding) -> dict[str, Any]:
    return {**asdict(u), "intents": [_intent_state(i) for i in u.intents]}


def _understanding_from(d: dict[str, Any]) -> Understanding:
    return Understanding(**{**d, "intents": tuple(_intent_from(i) for i in d["intents"])})


def turn_state(t: Turn) -> dict[str, Any]:
    """What a restarted dialog needs of a turn to go on with it."""
    return {
        "turn_id": t.turn_id,
        "language": t.language,
        "user_text": t.user_text,
        "timeline": timeline_state(t.timeline),
        "stage": t.stage,
        "outcome": t.outcome,
        "request_id": t.request_id,
        "deadline_ns": t.deadline_ns,
        "reply_text": t.reply_text,
        "reported": t.reported,
        "commands": list(t.commands),
        "plan": [c.model_dump() for c in t.plan],
        "sent": t.speech.sent,
        "spoken": list(t.speech.spoken),
        "asked": _understanding_state(t.asked) if t.asked is not None else None,
    }


def turn_from(d: dict[str, Any], *, max_chars: int, first_clause_chars: int) -> Turn:
    """The turn of :func:`turn_state`, its speech numbered on from what was sent."""
    speech = ReplySpeech.resumed(
        d["turn_id"],
        d["language"],
        max_chars=max_chars,
        sent=d["sent"],
        spoken=d["spoken"],
        first_clause_chars=first_clause_chars,
    )
    return Turn(
        turn_id=d["turn_id"],
        language=d["language"],
        user_text=d["user_text"],
        timeline=timeline_from(d["timeline"]),
        speech=speech,
        stage=d["stage"],
        outcome=d["outcome"],
        request_id=d["request_id"],
        deadline_ns=d["deadline_ns"],
        reply_text=d["reply_text"],
        reported=d["reported"],
        commands=list(d["commands"]),
        plan=[RtosCommand.model_validate(c) for c in d["plan"]],
        asked=_understanding_from(d["asked"]) if d["asked"] is not None else None,
    )


def stopped_state(s: Stopped) -> dict[str, Any]:
    """The STOP of an utterance."""
    return asdict(s)


def stopped_from(d: dict[str, Any]) -> Stopped:
    """The STOP of :func:`stopped_state`."""
    return Stopped(**d)


def early_state(e: Early) -> dict[str, Any]:
    """An early request, without the output it held (it is aborted after a restart)."""
    return {
        "segment_id": e.segment_id,
        "revision": e.revision,
        "heard": e.heard,
        "request_id": e.request_id,
    }


def early_from(d: dict[str, Any]) -> Early:
    """The early request of :func:`early_state`."""
    return Early(str(d["segment_id"]), int(d["revision"]), str(d["heard"]), str(d["request_id"]))


def partial_state(p: Partial) -> dict[str, Any]:
    """A speculative transcript."""
    return asdict(p)


def partial_from(d: dict[str, Any]) -> Partial:
    """The speculative transcript of :func:`partial_state`."""
    return Partial(**d)
