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

asks again, in up to three steps. First (``spotter``, when set) a small keyword model on the
sound itself (:class:`~workers.asr.spotter.StopSpotter`, about 25 ms): when its probability that
a stop word just ended is at least ``spotter_threshold``, the answer is the transcript "stop".
Then (``alternatives``: when the main recogniser can give them,
:class:`~workers.asr.transcript.Alternatives`) the main model's own best few hypotheses of a
beam search on the encoding it already made: the greedy transcript of "Freeze!" in babble was
"and breathe." where a beam search also held "breeze." and "freeze,". Then the check
recogniser. When either hears a stop word in at most ``max_words`` words, that transcript is
the answer (the dialog then sends STOP); otherwise the main one is, unchanged. The check never
removes a stop word and never adds a motion: what it adds is a STOP. What it costs is, for
short audio whose main transcript has no stop word, a beam search of the main model and one
more decode by the check model (p50 0.10 s and 0.31 s on this machine's two cores,
``bench/results/stopcheck.md``), and a STOP the speaker did not say when the check
hallucinates one: it never moves the car, but on a line without a stop word
``python -m bench.understanding`` counts it as a false command.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from text.stopsounds import restore_stop
from text.stopwords import has_stop_word
from workers.asr.transcript import Alternatives, Recognizer, Transcript


class Spotter(Protocol):
    """What :class:`StopChecked` asks of a keyword spotter
    (:class:`~workers.asr.spotter.StopSpotter`)."""

    name: str

    def score(self, samples: np.ndarray) -> float:
        """The probability that ``samples`` (float, 16 kHz) hold a stop word."""
        ...


__all__ = ["Spotter", "StopChecked", "heard_stop"]

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
        self,
        main: Recognizer,
        check: Recognizer,
        max_audio_s: float,
        max_words: int = 4,
        alternatives: int = 0,
        alternatives_margin: float = 1.0,
        *,
        nice: int = 0,
        spotter: Spotter | None = None,
        spotter_threshold: float = 1.0,
    ) -> None:
        if max_audio_s <= 0:
            raise ValueError(f"stop_check.max_audio_s must be above 0, not {max_audio_s}")
        if max_words < 1:
            raise ValueError(f"stop_check.max_words must be at least 1, not {max_words}")
        if alternatives < 0 or alternatives_margin <= 0:
            raise ValueError(
                f"stop_check.alternatives must be at least 0 (it is {alternatives}) and "
                f"alternatives_margin above 0 (it is {alternatives_margin})"
            )
        self.main = main
        self.check = check
        self.name = main.name
        self.max_samples = main.max_samples
        self._max_check = int(max_audio_s * _SAMPLE_RATE)
        self._max_words = max_words
        self._alternatives = alternatives if isinstance(main, Alternatives) else 0
        self._margin = alternatives_margin
        self.nice = nice
        """How much lower the priority of the threads that run the check is (``check`` was
        built at it: :func:`workers.asr.priority.build_niced`)."""
        self.spotter = spotter
        self._spotter_threshold = spotter_threshold
        self.checked = 0
        """Transcripts asked about again."""
        self.stops = 0
        """Of those, the ones in which only the check recogniser heard a stop word."""
        self.alternative_stops = 0
        """Of those, the ones in which a stop word was in one of the main model's other
        hypotheses (the check model was then not asked)."""
        self.spotter_stops = 0
        """Of those, the ones in which the spotter heard a stop word (no other step asked)."""

    def transcribe(self, samples: np.ndarray, *, partial: bool = False) -> Transcript:
        """The main transcript, or the check's when only the check hears a stop word."""
        first = self.main.transcribe(samples, partial=partial)
        second = self.recheck(samples, first.text, partial=partial)
        return first if second is None else second

    def due(self, samples: int, first: str) -> bool:
        """Whether the check is asked about ``samples`` samples of audio whose main transcript
        is ``first``."""
        return samples <= self._max_check and not heard_stop(first)

    def encoding(self, samples: np.ndarray) -> Any:
        """What the main recogniser's last decode of ``samples`` left for :meth:`recheck` to
        read its other hypotheses from (None without ``alternatives``). Call it from the thread
        that decoded, right after the decode."""
        if not self._alternatives:
            return None
        assert isinstance(self.main, Alternatives)
        return self.main.encoding(samples)

    def recheck(
        self, samples: np.ndarray, first: str, *, partial: bool = False, encoding: Any = None
    ) -> Transcript | None:
        """A transcript of ``samples`` with a stop word in at most ``max_words`` words, when
        the main transcript ``first`` held none: one of the main model's other hypotheses
        (``encoding``: :meth:`encoding`'s, taken now when not given), else the check's; None
        when neither holds one, or when the check is not due (long audio, a stop heard)."""
        if not self.due(len(samples), first):
            return None
        self.checked += 1
        heard = self.by_spotter(samples, first)
        if heard is None:
            heard = self.in_alternatives(samples, first, encoding)
        return heard if heard is not None else self.by_check(samples, first, partial=partial)

    def by_spotter(self, samples: np.ndarray, first: str) -> Transcript | None:
        """The transcript "stop" when the spotter's probability that ``samples`` hold a stop
        word is at least ``spotter_threshold``; else None (also without a spotter)."""
        if self.spotter is None:
            return None
        p = self.spotter.score(samples)
        if p < self._spotter_threshold:
            return None
        self.spotter_stops += 1
        log.info(
            "asr_stop_check main=%s heard %r, the spotter a stop word (p=%.6f)",
            self.main.name,
            first,
            p,
        )
        return Transcript("stop", language="en", checked_from=first, checked_by=self.spotter.name)

    def in_alternatives(
        self, samples: np.ndarray, first: str, encoding: Any = None
    ) -> Transcript | None:
        """The first of the main model's best ``alternatives`` hypotheses, within
        ``alternatives_margin`` of the best one's score, that holds a stop word in at most
        ``max_words`` words; else None (also without alternatives, or when the main model
        decoded other audio since and ``encoding`` was not given)."""
        if not self._alternatives:
            return None
        assert isinstance(self.main, Alternatives)
        if encoding is None:
            encoding = self.main.encoding(samples)
            if encoding is None:
                log.debug("asr_stop_alternatives skipped: the main model decoded other audio")
                return None
        hypotheses = self.main.alternatives(encoding)[: self._alternatives]
        best = hypotheses[0][1] if hypotheses else 0.0
        for heard, score in hypotheses:
            if best - score <= self._margin and self._is_stop(heard.text):
                self.alternative_stops += 1
                log.info(
                    "asr_stop_check main=%s heard %r, its hypothesis %r (score %.2f, best "
                    "%.2f): a stop word",
                    self.main.name,
                    first,
                    heard.text,
                    score,
                    best,
                )
                return replace(heard, checked_from=first, checked_by=f"{self.main.name}-nbest")
        return None

    def by_check(
        self, samples: np.ndarray, first: str, *, partial: bool = False
    ) -> Transcript | None:
        """The check recogniser's transcript of ``samples`` when it holds a stop word in at
        most ``max_words`` words; else None."""
        second = self.check.transcribe(samples, partial=partial)
        if not self._is_stop(second.text):
            return None
        self.stops += 1
        log.info(
            "asr_stop_check main=%s heard %r, check=%s heard %r: a stop word",
            self.main.name,
            first,
            self.check.name,
            second.text,
        )
        return replace(second, checked_from=first, checked_by=self.check.name)

    def _is_stop(self, text: str) -> bool:
        return heard_stop(text) and len(_WORD.findall(text)) <= self._max_words

    def close(self) -> None:
        """Release both models."""
        try:
            self.main.close()
        finally:
            self.check.close()
