"""Settings of the ``vad`` worker and the parameters of its two pure parts.

:class:`VadSettings` is the ``settings:`` of the worker's entry in the supervisor config;
:class:`SegmenterParams` (the segmenter, :mod:`workers.vad.segmenter`) and
:class:`ClassifierParams` (the frame classifier, :mod:`workers.vad.classifier`) hold the defaults,
once. A light module (pydantic and dataclasses only), so that the manifest and ``supervisor.py
check`` validate the settings without importing webrtcvad or numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ClassifierParams", "EndOfTurnSettings", "SegmenterParams", "VadSettings"]


@dataclass(frozen=True)
class SegmenterParams:
    """Segmentation parameters; see the module docstring for their meaning.

    These defaults are the ``vad`` worker's defaults, chosen by ``python -m bench.vad``.
    """

    frame_ms: int = 10
    start_voiced: int = 4
    start_window: int = 6
    continue_voiced: int = 2
    pre_roll_ms: int = 200
    hangover_ms: int = 500
    post_roll_ms: int = 100
    min_speech_ms: int = 150
    max_segment_ms: int = 10_000
    split_search_ms: int = 2_000
    partial_after_ms: int = 120
    partial_every_ms: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.start_voiced <= self.start_window:
            raise ValueError(
                f"start_voiced ({self.start_voiced}) must be between 1 and start_window "
                f"({self.start_window})."
            )
        if not 1 <= self.continue_voiced <= self.start_window:
            raise ValueError(
                f"continue_voiced ({self.continue_voiced}) must be between 1 and start_window "
                f"({self.start_window})."
            )
        if self.post_roll_ms > self.hangover_ms:
            raise ValueError(
                f"post_roll_ms ({self.post_roll_ms}) cannot exceed hangover_ms "
                f"({self.hangover_ms}): the audio after the hangover is not yet captured."
            )
        if self.split_search_ms >= self.max_segment_ms:
            raise ValueError(
                f"split_search_ms ({self.split_search_ms}) must be below max_segment_ms "
                f"({self.max_segment_ms})."
            )
        if self.partial_after_ms and self.partial_after_ms >= self.hangover_ms:
            raise ValueError(
                f"partial_after_ms ({self.partial_after_ms}) must be below hangover_ms "
                f"({self.hangover_ms}): the partial is taken before the segment closes."
            )

    def frames(self, ms: int) -> int:
        """Whole frames covering ``ms`` milliseconds (rounded up)."""
        return math.ceil(ms / self.frame_ms)


@dataclass(frozen=True)
class ClassifierParams:
    """Frame classification parameters (defaults chosen by ``python -m bench.vad``)."""

    aggressiveness: int = 2
    sample_rate_hz: int = 16000
    gate_db: float | None = 6.0
    floor_window_s: float = 3.0
    floor_percentile: float = 20.0
    min_level_dbfs: float = -70.0

    def __post_init__(self) -> None:
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0, 1, 2 or 3, got {self.aggressiveness}.")
        if self.sample_rate_hz not in (8000, 16000, 32000, 48000):
            raise ValueError(
                f"webrtcvad needs 8, 16, 32 or 48 kHz audio, got {self.sample_rate_hz} Hz."
            )


class EndOfTurnSettings(BaseModel):
    """How long the silence after a pause must last, by what the words so far read as.

    The rule is :class:`text.endofturn.EndOfTurn` (trailing off, complete, open); the defaults
    were chosen by ``python -m bench.eot`` on the tuning split (``docs/audio.md``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    complete_ms: int = Field(default=400, ge=0)
    """Wait after words that end a request (terminal punctuation), ms."""
    open_ms: int = Field(default=400, ge=0)
    """Wait after words that neither end nor trail off, ms."""
    trailing_ms: int = Field(default=1000, ge=0)
    """Wait after words that trail off (a comma, 'and', 'the', 'um', 然后 ...), ms."""
    mark_ms: int | None = Field(default=None, ge=0)
    """Wait after words that trail off only by their last mark, not by a word ("what's your
    name,": the recogniser's comma is a weak sign), when the grammar does not read them, ms;
    null: ``trailing_ms``."""
    grammar: bool = True
    """Let the car's grammar read the requests it understands first
    (:func:`text.turnend.command_reading`: a command with its amount, a turn or a stop
    is complete whatever its punctuation; a drive with no amount may go on, trailing)."""


#: The defaults live in the pure parameter classes (one place); these are read from them.
_SEG = SegmenterParams()
_CLS = ClassifierParams()


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
    partial_after_ms: int = Field(default=_SEG.partial_after_ms, ge=0)
    """Publish the open segment as ``vad.partial`` once the speech has paused this long, ms, so
    that it is transcribed before the segment closes (0 = never)."""
    partial_every_ms: int = Field(default=_SEG.partial_every_ms, ge=0)
    """Also publish a partial after every this many ms of ongoing speech (0 = only at pauses):
    a stop word inside a long utterance is then heard before it ends."""
    end_of_turn: EndOfTurnSettings | None = None
    """Close the segment after a wait chosen from the transcript of its pause (``asr.partial``)
    instead of always after ``hangover_ms`` (needs ``partial_after_ms``); null = the hangover."""
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
        eot = self.end_of_turn
        if eot is not None:
            if not self.partial_after_ms:
                raise ValueError(
                    "end_of_turn needs partial_after_ms: the wait is chosen from the transcript "
                    "of the pause, which only a partial gives."
                )
            longest = max(eot.complete_ms, eot.open_ms, eot.trailing_ms, eot.mark_ms or 0)
            if longest > self.hangover_ms:
                raise ValueError(
                    f"end_of_turn waits up to {longest} ms but hangover_ms is {self.hangover_ms}:"
                    " the hangover is the longest wait, raise it to at least that."
                )
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
            partial_after_ms=self.partial_after_ms,
            partial_every_ms=self.partial_every_ms,
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
