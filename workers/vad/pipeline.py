"""The VAD worker's logic without the bus: audio frames in, ``vad.state``/``vad.segment`` out.

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
from schemas.audio import AudioFrame
from schemas.vad import VadSegment, VadState
from workers.vad.classifier import FrameClassifier
from workers.vad.segmenter import (
    Event,
    SegmentClosed,
    Segmenter,
    SpeechEnded,
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

    def feed(self, frame: AudioFrame) -> list[Out]:
        """Take one ``audio.frame``; return the messages to publish, in order."""
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
                        ),
                        e.segment_id,
                    )
                )
        return out
