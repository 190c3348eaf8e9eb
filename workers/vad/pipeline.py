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
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from audio.framer import Framer
from schemas.audio import AudioFrame
from schemas.base import Message
from schemas.vad import VadSegment, VadState
from workers.vad.classifier import ClassifierParams, FrameClassifier
from workers.vad.segmenter import (
    Event,
    SegmentClosed,
    Segmenter,
    SegmenterParams,
    SpeechEnded,
    SpeechStarted,
)

__all__ = ["VadPipeline", "VadSettings"]

log = logging.getLogger(__name__)

#: The defaults live in the pure parameter classes (one place); these are read from them.
_SEG = SegmenterParams()
_CLS = ClassifierParams()

#: A capture-time jump larger than this (beyond the expected frame start) is a hole in the audio.
_MAX_JITTER_NS = 5_000_000


class VadSettings(BaseModel):
    """Settings of the ``vad`` worker; defaults chosen by ``bench.vad`` (see ``docs/audio.md``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frame_ms: Literal[10, 20, 30] = _SEG.frame_ms  # type: ignore[assignment]
    """Length of the frames webrtcvad judges, ms."""
    aggressiveness: int = Field(default=_CLS.aggressiveness, ge=0, le=3)
    """webrtcvad mode: 0 lets most through as speech, 3 is the strictest."""
    start_voiced: int = Field(default=_SEG.start_voiced, ge=1)
    """Speech starts when this many of the last ``start_window`` frames are voiced."""
    start_window: int = Field(default=_SEG.start_window, ge=1)
    """Frames in the start trigger window."""
    continue_voiced: int = Field(default=_SEG.continue_voiced, ge=1)
    """While speaking, a voiced frame restarts the hangover only if this many of the last
    ``start_window`` frames are voiced (isolated noise hits do not prolong a segment)."""
    pre_roll_ms: int = Field(default=_SEG.pre_roll_ms, ge=0)
    """Audio kept before the speech start, ms."""
    hangover_ms: int = Field(default=_SEG.hangover_ms, ge=10)
    """Unvoiced audio after the last voiced frame that ends speech, ms."""
    post_roll_ms: int = Field(default=_SEG.post_roll_ms, ge=0)
    """Audio kept after the speech end, ms (at most ``hangover_ms``)."""
    min_speech_ms: int = Field(default=_SEG.min_speech_ms, ge=0)
    """Shorter speech is dropped (``vad.state`` ended with ``dropped``, no segment), ms."""
    max_segment_ms: int = Field(default=_SEG.max_segment_ms, ge=1000)
    """A longer segment is split at its quietest point near this length, ms."""
    split_search_ms: int = Field(default=_SEG.split_search_ms, ge=100)
    """How far back from the limit the split point is searched, ms."""
    gate_db: float | None = _CLS.gate_db
    """Voiced frames must also be this many dB above the noise floor; null disables the gate."""
    floor_window_s: float = Field(default=_CLS.floor_window_s, gt=0)
    """The noise floor is taken over this many seconds of frame levels."""
    floor_percentile: float = Field(default=_CLS.floor_percentile, ge=0, le=100)
    """The noise floor is this percentile of those levels."""
    min_level_dbfs: float = _CLS.min_level_dbfs
    """Frames quieter than this (dBFS) are never voiced."""
    source: str = ""
    """Only use frames whose ``source`` is this; empty accepts any source."""

    @model_validator(mode="after")
    def _check(self) -> VadSettings:
        self.segmenter_params()  # raises ValueError with a full sentence on a bad combination
        return self

    def segmenter_params(self) -> SegmenterParams:
        """The segmenter's part of the settings."""
        return SegmenterParams(
            frame_ms=self.frame_ms,
            start_voiced=self.start_voiced,
            start_window=self.start_window,
            continue_voiced=self.continue_voiced,
            pre_roll_ms=self.pre_roll_ms,
            hangover_ms=self.hangover_ms,
            post_roll_ms=self.post_roll_ms,
            min_speech_ms=self.min_speech_ms,
            max_segment_ms=self.max_segment_ms,
            split_search_ms=self.split_search_ms,
        )

    def classifier_params(self) -> ClassifierParams:
        """The frame classifier's part of the settings."""
        return ClassifierParams(
            aggressiveness=self.aggressiveness,
            gate_db=self.gate_db,
            floor_window_s=self.floor_window_s,
            floor_percentile=self.floor_percentile,
            min_level_dbfs=self.min_level_dbfs,
        )


Out = tuple[str, Message, str]  # (topic, payload, trace)


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
                    (
                        "vad.state",
                        VadState(
                            speaking=True, segment_id=e.segment_id, at_ns=e.at_ns, decided_ns=now
                        ),
                        e.segment_id,
                    )
                )
            elif isinstance(e, SpeechEnded):
                out.append(
                    (
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
                    (
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
