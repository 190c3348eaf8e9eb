"""Speculative transcripts: the open segment recognised at a pause, reused when it closes.

The VAD publishes the open segment as ``vad.partial`` when the speech pauses; the ASR recognises
it at once (``asr.partial``: the dialog hears a stop word, the VAD reads the end of the turn). If
the segment then closes with the same speech (``vad.segment.partial_revision`` names the
partial), the partial's transcript *is* the segment's: ``asr.text`` goes out at the close without
a second recognition, so the recognition is off the turn's critical path. If the speech went on,
the partial is out of date and forgotten.

:class:`Speculation` holds the latest transcript per open segment and picks, from a batch of
waiting messages, those still worth recognising (:meth:`Speculation.worklist`): a partial with a
newer partial or its closed segment behind it in the batch is skipped.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from bus import Envelope
from schemas.asr import AsrPartial, AsrText
from schemas.vad import VadPartial, VadSegment

__all__ = ["Speculation"]

#: Open segments remembered at most (a segment whose close never comes is forgotten).
_REMEMBER = 16


@dataclass(frozen=True)
class _Held:
    part: int
    revision: int
    transcript: AsrPartial


class Speculation:
    """The latest speculative transcript of each open segment."""

    def __init__(self) -> None:
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self.reused = 0
        """Segments answered with their partial's transcript."""
        self.skipped = 0
        """Partials not recognised because a newer one, or the segment, was already waiting."""

    def worklist(self, batch: list[Envelope]) -> list[Envelope]:
        """The messages of ``batch`` to handle, in order, without out-of-date partials."""
        out: list[Envelope] = []
        for i, msg in enumerate(batch):
            p = msg.payload
            if isinstance(p, VadPartial) and any(
                isinstance(later.payload, VadPartial | VadSegment)
                and later.payload.segment_id == p.segment_id
                for later in batch[i + 1 :]
            ):
                self.skipped += 1
                continue
            out.append(msg)
        return out

    def keep(self, partial: VadPartial, transcript: AsrPartial) -> None:
        """Remember the transcript of ``partial`` (the newest of its segment)."""
        self._held[partial.segment_id] = _Held(partial.part, partial.revision, transcript)
        self._held.move_to_end(partial.segment_id)
        while len(self._held) > _REMEMBER:
            self._held.popitem(last=False)

    def amend(self, partial: VadPartial, transcript: AsrPartial) -> None:
        """Answer ``partial``'s segment with ``transcript`` instead, if that partial is still the
        one held for it (its segment not closed, no newer partial)."""
        held = self._held.get(partial.segment_id)
        if held is not None and (held.part, held.revision) == (partial.part, partial.revision):
            self._held[partial.segment_id] = _Held(partial.part, partial.revision, transcript)

    def take(self, segment: VadSegment, *, bus_ms: float = 0.0) -> AsrText | None:
        """The segment's ``asr.text`` from its partial's transcript, if that holds all its
        speech; the segment's partials are forgotten either way."""
        held = self._held.pop(segment.segment_id, None)
        if held is None or segment.partial_revision < 0:
            return None
        if held.revision != segment.partial_revision or held.part != segment.part:
            return None
        t = held.transcript
        audio_s = len(segment.pcm) / 2 / segment.sample_rate_hz
        self.reused += 1
        return AsrText(
            text=t.text,
            segment_id=segment.segment_id,
            language=t.language,
            emotion=t.emotion,
            event=t.event,
            itn=t.itn,
            audio_s=audio_s,
            infer_ms=t.infer_ms,
            rtf=t.infer_ms / 1000 / audio_s if audio_s > 0 else 0.0,
            speech_end_ns=segment.speech_end_ns,
            backend=t.backend,
            speculative=True,
            bus_ms=bus_ms,
        )
