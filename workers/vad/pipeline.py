"""The VAD worker's logic without the bus: audio frames in, ``vad.state``/``vad.segment`` out.

With ``partial_after_ms`` it also publishes ``vad.partial`` (the open segment at a pause) and
``vad.resumed`` (the speech went on after such a pause) and,
with ``end_of_turn``, takes the transcript of that pause back (:meth:`VadPipeline.on_transcript`,
``asr.partial``) to close the segment after the wait the words call for
(:class:`text.endofturn.EndOfTurn`) rather than after the full hangover.

Incoming ``audio.frame`` messages may have any length; they are re-cut into the VAD's own
10/20/30 ms frames on a sample clock anchored at the first frame's capture time. A jump in the
frame index (lost frames) or in the capture time closes any open segment (``flush``) and restarts
the clock, so a segment never spans a hole in the audio.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from audio.framer import Framer
from bus import Out
from schemas.asr import AsrPartial
from schemas.audio import AudioFrame
from schemas.vad import VadPartial, VadResumed, VadSegment, VadState
from text.endofturn import EndOfTurn
from text.turnend import command_reading
from workers.vad.classifier import FrameClassifier
from workers.vad.segmenter import (
    Event,
    PartialReady,
    SegmentClosed,
    Segmenter,
    SpeechEnded,
    SpeechResumed,
    SpeechStarted,
)
from workers.vad.settings import VadSettings

__all__ = ["VadPipeline", "VadSettings"]

log = logging.getLogger(__name__)

#: A capture-time jump larger than this (beyond the expected frame start) is a hole in the audio.
_MAX_JITTER_NS = 5_000_000


class VadPipeline:
    """Classify and segment a stream of ``audio.frame`` payloads."""

    def __init__(
        self, settings: VadSettings | None = None, clock: Callable[[], int] = time.monotonic_ns
    ) -> None:
        self.s = settings or VadSettings()
        self._clock = clock
        self.classifier = FrameClassifier(self.s.classifier_params())
        self.segmenter = Segmenter(self.s.segmenter_params())
        self._framer: Framer | None = None
        self._next_index = -1
        self._next_ns = 0
        self.frames_in = 0
        self.frames_lost = 0
        self.rejected = 0
        eot = self.s.end_of_turn
        self.end_of_turn = (
            EndOfTurn(
                eot.complete_ms,
                eot.open_ms,
                eot.trailing_ms,
                reader=command_reading if eot.grammar else None,
                mark_ms=eot.mark_ms,
            )
            if eot is not None
            else None
        )
        self._age_ms = 0.0

    def on_transcript(self, partial: AsrPartial) -> list[Out]:
        """The transcript of a pause: close the segment after the wait its words call for."""
        if self.end_of_turn is None or not partial.paused:
            return []
        wait = self.end_of_turn.wait_ms(partial.text, partial.language)
        log.debug("eot segment=%s rev=%d wait_ms=%d", partial.segment_id, partial.revision, wait)
        return self._emit(self.segmenter.set_wait(partial.segment_id, partial.revision, wait))

    def feed(self, frame: AudioFrame, age_ms: float = 0.0) -> list[Out]:
        """Take one ``audio.frame`` (``age_ms``: its time on the bus); return the messages to
        publish, in order."""
        self._age_ms = age_ms
        if self.s.source and frame.source != self.s.source:
            return []
        if frame.sample_rate_hz != 16000:
            self.rejected += 1
            log.error(
                "frame_rejected reason=sample_rate rate=%d source=%s: the VAD needs 16 kHz "
                "frames; set the capture worker's output rate to 16000",
                frame.sample_rate_hz,
                frame.source,
            )
            return []
        self.frames_in += 1
        out: list[Out] = []
        if self._framer is None or self._discontinuous(frame):
            out += self._emit(self.segmenter.flush())
            self._framer = Framer(self.s.frame_ms, 16000, frame.capture_ns)
        self._next_index = frame.index + 1
        self._next_ns = frame.capture_ns + frame.samples * 1_000_000_000 // 16000
        for f in self._framer.push_bytes(frame.pcm):
            voiced, level = self.classifier.classify(f.pcm)
            out += self._emit(self.segmenter.push(f.pcm, f.capture_ns, voiced, level))
        if frame.final:
            out += self._emit(self.segmenter.flush())
            self._framer = None
        return out

    def _discontinuous(self, frame: AudioFrame) -> bool:
        if frame.index != self._next_index:
            lost = frame.index - self._next_index
            if lost > 0:
                self.frames_lost += lost
            log.warning(
                "audio_discontinuity expected_index=%d got=%d source=%s",
                self._next_index,
                frame.index,
                frame.source,
            )
            return True
        return abs(frame.capture_ns - self._next_ns) > _MAX_JITTER_NS

    def _emit(self, events: list[Event]) -> list[Out]:
        now = self._clock()
        out: list[Out] = []
        for e in events:
            if isinstance(e, SpeechStarted):
                out.append(
                    Out(
                        "vad.state",
                        VadState(
                            speaking=True, segment_id=e.segment_id, at_ns=e.at_ns, decided_ns=now
                        ),
                        e.segment_id,
                    )
                )
            elif isinstance(e, SpeechEnded):
                out.append(
                    Out(
                        "vad.state",
                        VadState(
                            speaking=False,
                            segment_id=e.segment_id,
                            at_ns=e.at_ns,
                            decided_ns=now,
                            dropped=e.dropped,
                            bus_ms=self._age_ms,
                        ),
                        e.segment_id,
                    )
                )
            elif isinstance(e, SegmentClosed):
                out.append(
                    Out(
                        "vad.segment",
                        VadSegment(
                            pcm=e.pcm,
                            segment_id=e.segment_id,
                            start_ns=e.start_ns,
                            end_ns=e.end_ns,
                            speech_start_ns=e.speech_start_ns,
                            speech_end_ns=e.speech_end_ns,
                            closed_by=e.closed_by,
                            part=e.part,
                            decided_ns=now,
                            eot_wait_ms=e.eot_wait_ms,
                            partial_revision=e.partial_revision,
                            bus_ms=self._age_ms,
                        ),
                        e.segment_id,
                    )
                )
            elif isinstance(e, SpeechResumed):
                resumed = VadResumed(
                    segment_id=e.segment_id,
                    revision=e.revision,
                    part=e.part,
                    at_ns=e.at_ns,
                    decided_ns=now,
                )
                out.append(Out("vad.resumed", resumed, e.segment_id))
            elif isinstance(e, PartialReady):
                out.append(
                    Out(
                        "vad.partial",
                        VadPartial(
                            pcm=e.pcm,
                            segment_id=e.segment_id,
                            revision=e.revision,
                            part=e.part,
                            start_ns=e.start_ns,
                            end_ns=e.end_ns,
                            speech_start_ns=e.speech_start_ns,
                            speech_end_ns=e.speech_end_ns,
                            paused=e.paused,
                            decided_ns=now,
                            bus_ms=self._age_ms,
                        ),
                        e.segment_id,
                    )
                )
        return out
