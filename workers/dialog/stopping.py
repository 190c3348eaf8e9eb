"""STOP, always: a stop word in anything the user says stops the car before anything else.

Safety before conversation. An utterance that holds a stop word (:mod:`text.stopwords`: stop,
halt, freeze, brake, don't move, 停, 别动, 急停, 刹车 ...) sends ``stop`` (``estop`` for the
emergency forms) to the car the moment the word is known, whatever the dialog is doing:

- awake or not (no wake phrase needed), in the middle of a turn, while the assistant speaks;
- from the first transcript that holds it: the speculative one of the pause (``asr.partial``,
  about ``partial_after_ms`` + one recognition after the end of speech), or the segment's own
  (``asr.text``) when there was none; before the wake phrase is looked for, before a command
  is parsed, before anything is asked of the LLM;
- once per utterance (a segment): the later transcripts of the same words do not send it again,
  and a command grammar that reads the same stop (``stop and turn left``) skips it;
- the car obeys the newest command, so a plan in progress (the rest of "forward, then left") is
  dropped, and its cut-off steps are not spoken about.

The STOP is sent even when the word was not meant as one ("don't stop believing", 停车场): a
false STOP is safe, a missed one is not. For the same reason an utterance that is only a
sound-alike of a stop command ("start moving", "of the car immediately": how Whisper writes
"stop moving" and "halt the car immediately") is read as that command (:func:`heard_words`,
:mod:`text.stopsounds`). The gateway's ``accepted`` ack stamps when it was
written to the ring (``RtosAck.at_ns``); the turn reports the end of the speech whose transcript
held the stop word (the pause's, for a partial: a STOP may be in the ring before the utterance
ends) -> that moment as ``stop_ms``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bus import Out
from schemas.rtos import CarIntent, RtosAck
from text.segment import without_echoes
from text.stopsounds import restore_stop
from text.stopwords import StopHit, find_stop
from workers.dialog.actions import IntentLike

if TYPE_CHECKING:
    from workers.dialog.manager import TurnManager

__all__ = [
    "Stopped",
    "heard_words",
    "on_stop_ack",
    "resend_unconfirmed",
    "skip_sent_stop",
    "stop_if_asked",
    "stop_intent",
    "without_leading_stop",
]

log = logging.getLogger("workers.dialog.stop")

#: Utterances whose STOP is remembered (a later transcript of the same words finds it).
_REMEMBER = 16


@dataclass
class Stopped:
    """The STOP one utterance sent."""

    cmd_id: int
    kind: str
    sent_ns: int
    speech_end_ns: int = 0
    """End of the speech whose transcript held the stop word (the pause's, for a partial)."""
    ring_ns: int = 0
    """When the gateway wrote it to the ring (0 until its ``accepted`` ack)."""


def stop_if_asked(
    m: TurnManager, segment_id: str, text: str, now_ns: int, out: list[Out], speech_end_ns: int = 0
) -> bool:
    """Send STOP now if ``text`` (whose speech ended at ``speech_end_ns``) holds a stop word and
    this utterance has not sent one yet; True when it has stopped the car (now or before)."""
    if segment_id in m.stopped:
        return True
    hit = find_stop(text)  # the words as the dialog reads them (listening._heard: heard_words)
    if hit is None:
        return False
    cmd = m.car.stop_now(stop_intent(hit), turn_id=segment_id)
    out.append(Out("rtos.command", cmd, segment_id))
    m.stopped[segment_id] = Stopped(cmd.cmd_id, hit.kind, now_ns, speech_end_ns)
    while len(m.stopped) > _REMEMBER:
        m.stopped.pop(next(iter(m.stopped)))
    log.info("stop_sent segment=%s kind=%s word=%r cmd_id=%d", segment_id, hit.kind, hit.form,
             cmd.cmd_id)  # fmt: skip
    return True


def heard_words(text: str) -> str:
    """``text`` as the dialog reads it: a sentence that repeats the one before it once
    (:func:`text.segment.without_echoes`), and the stop command it sounds like when it is only a
    sound-alike of one (:mod:`text.stopsounds`)."""
    text = without_echoes(text)
    return restore_stop(text) or text


def stop_intent(hit: StopHit) -> CarIntent:
    """What a stop word sends: ``stop``, or ``estop`` for the emergency forms."""
    return CarIntent(kind=hit.kind)


def skip_sent_stop(
    m: TurnManager, segment_id: str, intents: Sequence[IntentLike]
) -> list[IntentLike]:
    """``intents`` (the grammar's field maps or the LLM's intents) without a leading stop this
    utterance already sent."""
    sent = m.stopped.get(segment_id)
    return list(intents) if sent is None else without_leading_stop(intents, sent.kind)


def without_leading_stop(intents: Sequence[IntentLike], sent: str) -> list[IntentLike]:
    """``intents`` less a first stop that the ``sent`` one (``stop``/``estop``, what the stop
    word sent) already covers: the same kind, or a plain stop after an emergency one."""
    first = _kind(intents[0]) if intents else ""
    if first == sent or (first == "stop" and sent == "estop"):
        return list(intents[1:])
    return list(intents)


def _kind(intent: IntentLike) -> str:
    return intent.kind if isinstance(intent, CarIntent) else str(intent.get("kind", ""))


def resend_unconfirmed(m: TurnManager, now_ns: int, out: list[Out]) -> None:
    """After a restart of the dialog (:mod:`~workers.dialog.memory`): a STOP kept as sent whose
    ``accepted`` ack had not come may never have left (the state is saved before the messages
    are published); it is sent again, with a new id, if it is still the newest command. A
    second STOP is harmless; a lost one is not. One whose ack came is never sent again."""
    for segment_id, sent in m.stopped.items():
        if sent.ring_ns or sent.cmd_id != m.car.latest_id:
            continue
        cmd = m.car.stop_now(CarIntent(kind=sent.kind), turn_id=segment_id)  # type: ignore[arg-type]
        out.insert(0, Out("rtos.command", cmd, segment_id))  # before anything else
        log.warning("stop_resent segment=%s kind=%s cmd_id=%d was=%d", segment_id, sent.kind,
                    cmd.cmd_id, sent.cmd_id)  # fmt: skip
        sent.cmd_id = cmd.cmd_id
        t = m.turns.get(segment_id)
        if t is not None:
            t.commands.append(cmd.cmd_id)
        return


def on_stop_ack(m: TurnManager, p: RtosAck) -> None:
    """Note when a STOP was written to the ring (for the turn's ``stop_ms``)."""
    if p.status != "accepted":
        return
    for segment_id, sent in m.stopped.items():
        if sent.cmd_id == p.cmd_id and not sent.ring_ns:
            sent.ring_ns = p.at_ns
            t = m.turns.get(segment_id)
            if t is not None:
                t.timeline.stop_ring_ns = p.at_ns
                t.timeline.stop_speech_end_ns = sent.speech_end_ns
            return
