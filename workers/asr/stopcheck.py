"""A second recogniser that listens again for a stop word in short audio (``stop_check``).

A missed STOP is the one error the car cannot afford, and a small recogniser misses short stop
commands in two ways that a second model does not share. Whisper tiny.en, the host default,
loses a stop word under babble ("Stop it now!" heard as "start, it's not"; "Okay that's enough,
stop." as "... it's gone"); Whisper base loses a lone word ("Freeze!" heard as ","), but
hears most of what tiny.en lost. On the understanding corpora's tuning split the two missed
different stop lines (``docs/asr.md``, "A second opinion on short audio").

So a :class:`StopChecked` recogniser asks its main recogniser first and, only when

- the audio is at most ``max_audio_s`` long (a stop command is short; long audio is left to the
  main recogniser alone, which hears a stop word inside a sentence well enough), and
- the main transcript holds no stop word (:func:`heard_stop`: a stop form, or a lone sound-alike
  of one that the dialog reads as a stop, :mod:`text.stopsounds`),

asks the check recogniser too. When the check hears a stop word in at most ``max_words`` words,
its transcript is the answer (the dialog then sends STOP); otherwise the main one is, unchanged.
The check never removes a stop word and never adds a motion: what it adds is a STOP. What it
costs is one more decode of short audio whose main transcript has no stop word (Whisper base,
p50 0.24 s on this machine's two cores, ``bench/results/stopcheck.md``), and a STOP the speaker
did not say when the check hallucinates one: it never moves the car, but on a line without a
stop word ``python -m bench.understanding`` counts it as a false command.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import numpy as np

from text.stopsounds import restore_stop
from text.stopwords import has_stop_word
from workers.asr.transcript import Recognizer, Transcript

__all__ = ["StopChecked", "heard_stop"]

log = logging.getLogger(__name__)

_SAMPLE_RATE = 16000
#: A word, as the length rule counts them (English words, or one Chinese character each).
_WORD = re.compile(r"[A-Za-z0-9']+|[\u4e00-\u9fff]")


def heard_stop(text: str) -> bool:
    """True when the dialog would send STOP for ``text``: a stop form in it, or only a
    sound-alike of one ("start moving")."""
    return has_stop_word(text) or restore_stop(text) is not None


class StopChecked:
    """``main``, with ``check`` asked again about short audio in which ``main`` heard no stop
    word (a :class:`~workers.asr.transcript.Recognizer` itself).

    :meth:`transcribe` asks both in turn and answers with one transcript (a segment, the
    benches); the worker instead publishes the main transcript of a partial at once and asks
    :meth:`recheck` in a thread (:mod:`workers.asr.background`), so no transcript waits for
    the check."""

    def __init__(
        self, main: Recognizer, check: Recognizer, max_audio_s: float, max_words: int = 4
    ) -> None:
        if max_audio_s <= 0:
            raise ValueError(f"stop_check.max_audio_s must be above 0, not {max_audio_s}")
        if max_words < 1:
            raise ValueError(f"stop_check.max_words must be at least 1, not {max_words}")
        self.main = main
        self.check = check
        self.name = main.name
        self.max_samples = main.max_samples
        self._max_check = int(max_audio_s * _SAMPLE_RATE)
        self._max_words = max_words
        self.checked = 0
        """Transcripts the check recogniser was asked about."""
        self.stops = 0
        """Of those, the ones in which only the check heard a stop word (answered with its)."""

    def transcribe(self, samples: np.ndarray, *, partial: bool = False) -> Transcript:
        """The main transcript, or the check's when only the check hears a stop word."""
        first = self.main.transcribe(samples, partial=partial)
        second = self.recheck(samples, first.text, partial=partial)
        return first if second is None else second

    def due(self, samples: int, first: str) -> bool:
        """Whether the check is asked about ``samples`` samples of audio whose main transcript
        is ``first``."""
        return samples <= self._max_check and not heard_stop(first)

    def recheck(
        self, samples: np.ndarray, first: str, *, partial: bool = False
    ) -> Transcript | None:
        """The check's transcript of ``samples`` when it hears a stop word in at most
        ``max_words`` words and the main transcript ``first`` held none; else None (also when
        the check is not due: long audio, or a stop already heard)."""
        if not self.due(len(samples), first):
            return None
        self.checked += 1
        second = self.check.transcribe(samples, partial=partial)
        if not heard_stop(second.text) or len(_WORD.findall(second.text)) > self._max_words:
            return None
        self.stops += 1
        log.info(
            "asr_stop_check main=%s heard %r, check=%s heard %r: a stop word",
            self.main.name,
            first,
            self.check.name,
            second.text,
        )
        return replace(second, checked_from=first)

    def close(self) -> None:
        """Release both models."""
        try:
            self.main.close()
        finally:
            self.check.close()
