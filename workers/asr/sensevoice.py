"""The SenseVoiceSmall pipeline around its encoder, as ``sensevoice_rknn.py`` does it.

features (see :mod:`workers.asr.frontend`) -> four query rows from ``embedding.npy`` before the
speech frames (speech scaled by ``speech_scale``) -> zero padding to the fixed encoder length
-> encoder (any :class:`~workers.asr.runtimes.EncoderRuntime`) -> CTC greedy decoding over the
real length only -> sentencepiece -> leading ``<|lang|><|emotion|><|event|><|itn|>`` tags parsed.
"""

from __future__ import annotations

import re

import numpy as np
import sentencepiece as spm

from workers.asr.frontend import features, load_cmvn, samples_for_lfr_frames
from workers.asr.modeldir import SenseVoiceFiles
from workers.asr.runtimes import EncoderRuntime
from workers.asr.settings import SPEECH_SCALE
from workers.asr.transcript import Transcript

__all__ = [
    "EMOTION_TAGS",
    "EVENT_EMOTION_ROWS",
    "EVENT_TAGS",
    "ITN_ROWS",
    "LANGUAGE_ROWS",
    "LANGUAGE_TAGS",
    "PROMPT_FRAMES",
    "RKNN_INPUT_LEN",
    "SPEECH_SCALE",
    "SenseVoice",
    "build_encoder_input",
    "ctc_greedy",
    "parse_tags",
    "time_major_logits",
]

RKNN_INPUT_LEN = 171
"""Fixed encoder length in LFR frames, the four query rows included (about 10 s of speech)."""
PROMPT_FRAMES = 4
LANGUAGE_ROWS: dict[str, int] = {
    "auto": 0,
    "zh": 3,
    "en": 4,
    "yue": 7,
    "ja": 11,
    "ko": 12,
    "nospeech": 13,
}
EVENT_EMOTION_ROWS = (1, 2)
ITN_ROWS = {True: 14, False: 15}

LANGUAGE_TAGS = frozenset({"zh", "en", "yue", "ja", "ko", "nospeech"})
EMOTION_TAGS = frozenset(
    {"HAPPY", "SAD", "ANGRY", "NEUTRAL", "FEARFUL", "DISGUSTED", "SURPRISED", "EMO_UNKNOWN"}
)
#: The event tags exactly as FunAudioLLM/SenseVoice ``webui.py`` (d478f77) lists them; note the
#: mixed case of ``Event_UNK`` (the tokenizer's own spelling, not ``EVENT_UNK``).
EVENT_TAGS = frozenset(
    {
        "BGM",
        "Speech",
        "Applause",
        "Laughter",
        "Cry",
        "Sneeze",
        "Breath",
        "Cough",
        "Sing",
        "Speech_Noise",
        "GBG",
        "Event_UNK",
    }
)
_ITN_TAGS = {"withitn": True, "woitn": False}
_TAG = re.compile(r"\s*<\|([^|<>]*)\|>")


def build_encoder_input(
    embedding: np.ndarray,
    speech: np.ndarray,
    language: str = "auto",
    use_itn: bool = True,
    speech_scale: float = SPEECH_SCALE,
    input_len: int = RKNN_INPUT_LEN,
) -> tuple[np.ndarray, int]:
    """Encoder input ``[1, input_len, dim]`` float32 and the real (unpadded) length.

    Rows: language query, event/emotion queries (rows 1, 2), itn query, then the scaled speech
    frames, then zeros. Speech longer than ``input_len - 4`` frames must be split by the caller.
    """
    if language not in LANGUAGE_ROWS:
        raise ValueError(f"Unknown SenseVoice language {language!r}; use one of {LANGUAGE_ROWS}.")
    if speech.ndim != 2 or speech.shape[1] != embedding.shape[1]:
        raise ValueError(
            f"Speech features have shape {speech.shape} but the query rows are "
            f"{embedding.shape[1]} wide; am.mvn and embedding.npy must come from the same model."
        )
    limit = input_len - PROMPT_FRAMES
    if speech.shape[0] > limit:
        raise ValueError(
            f"{speech.shape[0]} speech frames exceed the encoder window of {limit}; split the "
            "audio first (SenseVoice.max_samples)."
        )
    rows = [LANGUAGE_ROWS[language], *EVENT_EMOTION_ROWS, ITN_ROWS[use_itn]]
    sequence = np.concatenate([embedding[rows], speech * speech_scale], axis=0).astype(np.float32)
    length = sequence.shape[0]
    padded = np.zeros((1, input_len, sequence.shape[1]), dtype=np.float32)
    padded[0, :length] = sequence
    return padded, length


def time_major_logits(output: np.ndarray, vocab_size: int, seq_len: int) -> np.ndarray:
    """The encoder output as (time, vocab), whatever its layout.

    Singleton axes are squeezed (``(1, V, T)``, ``(1, T, V)``, ``(1, V, 1, T)`` all work); the
    vocabulary axis is the one whose size is ``vocab_size``, else the one that is not
    ``seq_len``. When both sizes are equal the reference layout (vocab first) is assumed.
    """
    logits = np.squeeze(np.asarray(output))
    if logits.ndim != 2:
        raise ValueError(
            f"The encoder output has shape {np.shape(output)}: expected a (vocab, time) matrix "
            "after removing singleton axes; the model is not a SenseVoice CTC encoder."
        )
    rows, cols = logits.shape
    if rows == vocab_size and cols != vocab_size:
        vocab_axis = 0
    elif cols == vocab_size and rows != vocab_size:
        vocab_axis = 1
    elif rows == cols == vocab_size or (cols == seq_len and rows != seq_len):
        vocab_axis = 0
    elif rows == seq_len:
        vocab_axis = 1
    else:
        raise ValueError(
            f"The encoder output has shape {np.shape(output)} with no axis of the vocabulary "
            f"size {vocab_size} or the sequence length {seq_len}; the sentencepiece model does "
            "not belong to this encoder."
        )
    return logits.T if vocab_axis == 0 else logits


def ctc_greedy(logits: np.ndarray, length: int, blank_id: int = 0) -> list[int]:
    """Greedy CTC over the first ``length`` (time, vocab) steps: argmax, merge, drop blank."""
    best = np.argmax(logits[:length], axis=1)
    if best.size == 0:
        return []
    keep = np.append([True], best[1:] != best[:-1])
    merged = best[keep]
    return [int(i) for i in merged[merged != blank_id]]


def parse_tags(decoded: str, default_itn: bool = False) -> Transcript:
    """Split leading ``<|...|>`` tags into fields; the text keeps no tag at all.

    Tags are classified by their value (language, emotion, event, itn), not their position, so a
    missing or extra tag cannot shift the others. ``nospeech`` gives an empty language.
    """
    fields: dict[str, str] = {"language": "", "emotion": "", "event": ""}
    itn = default_itn
    pos = 0
    while match := _TAG.match(decoded, pos):
        tag = match.group(1)
        pos = match.end()
        if tag in LANGUAGE_TAGS:
            fields["language"] = "" if tag == "nospeech" else tag
        elif tag in EMOTION_TAGS:
            fields["emotion"] = tag
        elif tag in EVENT_TAGS:
            fields["event"] = tag
        elif tag in _ITN_TAGS:
            itn = _ITN_TAGS[tag]
    text = " ".join(_TAG.sub(" ", decoded[pos:]).split())
    return Transcript(
        text=text,
        itn=itn,
        language=fields.get("language", ""),
        emotion=fields.get("emotion", ""),
        event=fields.get("event", ""),
    )


class SenseVoice:
    """SenseVoiceSmall with a pluggable encoder runtime; one call per <= ~10 s of audio."""

    def __init__(
        self,
        files: SenseVoiceFiles,
        runtime: EncoderRuntime,
        language: str = "auto",
        use_itn: bool = True,
        speech_scale: float = SPEECH_SCALE,
        input_len: int = RKNN_INPUT_LEN,
    ) -> None:
        self.name = f"sensevoice-{runtime.name}"
        self._runtime = runtime
        self._cmvn = load_cmvn(files.cmvn)
        self._embedding = np.load(files.embedding)
        if self._embedding.ndim != 2 or self._embedding.shape[0] <= max(ITN_ROWS.values()):
            raise ValueError(
                f"{files.embedding} has shape {self._embedding.shape}; expected (16, 560) query "
                "rows. Copy embedding.npy from SenseVoiceSmall-RKNN2 again."
            )
        if self._cmvn.shape[1] != self._embedding.shape[1]:
            raise ValueError(
                f"am.mvn is {self._cmvn.shape[1]} wide but embedding.npy is "
                f"{self._embedding.shape[1]}; both must come from the same SenseVoice model."
            )
        self._sp = spm.SentencePieceProcessor(model_file=str(files.bpe))
        self._language = language
        self._use_itn = use_itn
        self._speech_scale = speech_scale
        self._input_len = input_len
        self.max_samples = samples_for_lfr_frames(input_len - PROMPT_FRAMES)

    def transcribe(self, samples: np.ndarray, *, partial: bool = False) -> Transcript:
        """Recognise up to ``max_samples`` of 16 kHz float audio."""
        speech = features(samples, self._cmvn)
        if speech.shape[0] == 0:
            return Transcript(text="", itn=self._use_itn)
        encoder_input, length = build_encoder_input(
            self._embedding,
            speech,
            self._language,
            self._use_itn,
            self._speech_scale,
            self._input_len,
        )
        output = self._runtime.run(encoder_input)
        logits = time_major_logits(output, self._sp.get_piece_size(), self._input_len)
        ids = ctc_greedy(logits, length)
        return parse_tags(self._sp.decode_ids(ids), default_itn=self._use_itn)

    def close(self) -> None:
        """Release the encoder runtime."""
        self._runtime.close()
