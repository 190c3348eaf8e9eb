"""What every ASR backend returns, and the interface a backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Alternatives", "Recognizer", "Transcript"]


@dataclass(frozen=True)
class Transcript:
    """The recognised text of one piece of audio, rich tags already parsed out."""

    text: str
    """Text without tags; empty when the audio held no speech."""
    language: str = ""
    """Language code (zh, en, yue, ja, ko) or empty when unknown or no speech."""
    emotion: str = ""
    """SenseVoice emotion tag (HAPPY, NEUTRAL, EMO_UNKNOWN, ...) or empty."""
    event: str = ""
    """SenseVoice audio event tag (Speech, BGM, ...) or empty."""
    itn: bool = False
    """True when the text is inverse-normalised (punctuation, digits)."""
    loop_cut: bool = False
    """True when the text is a looping decode's first turn (``workers/asr/deloop.py``), kept
    instead of decoding again: good enough to hear a stop word in, not to act on as a whole."""
    checked_from: str = ""
    """When a second recogniser heard a stop word the main one did not
    (``workers/asr/stopcheck.py``): the main recogniser's text, which this one replaces."""
    checked_by: str = ""
    """Then, who heard it: the check recogniser's name, the main one's with ``-nbest`` when
    one of its own other hypotheses held the stop word, or ``stop-spotter`` when the keyword
    model did (``workers/asr/spotter.py``; its text is then "stop")."""

    @property
    def is_speech(self) -> bool:
        """False for tag-only output (no words recognised)."""
        return bool(self.text.strip())


class Recognizer(Protocol):
    """An ASR backend: 16 kHz float audio in, one transcript out."""

    name: str
    """Backend name reported in ``asr.text`` (e.g. ``sensevoice-rknn``, ``whisper-base``)."""
    max_samples: int
    """Longest audio one call accepts; longer segments are split by the caller."""

    def transcribe(self, samples: np.ndarray, *, partial: bool = False) -> Transcript:
        """Recognise mono float32 audio in [-1, 1] at 16 kHz (at most ``max_samples``).

        ``partial``: the audio is an open segment's, recognised at a pause to hear a stop word
        early; a backend may then answer sooner and less carefully (Whisper keeps a loop's
        first turn instead of decoding again) and says so in ``loop_cut``."""
        ...

    def close(self) -> None:
        """Release the model (idempotent)."""
        ...


@runtime_checkable
class Alternatives(Protocol):
    """A recogniser that can give its best few transcripts of audio it has just recognised,
    without encoding it again (Whisper: :class:`~workers.asr.whisper.WhisperRecognizer`)."""

    name: str

    def encoding(self, samples: np.ndarray) -> Any:
        """What the last :meth:`Recognizer.transcribe` of ``samples`` left to decode them
        again, or None (another audio was decoded since)."""
        ...

    def alternatives(self, encoding: Any) -> list[tuple[Transcript, float]]:
        """The best transcripts of that audio, best first, each with its score (a mean
        log-probability per token: higher is likelier)."""
        ...
