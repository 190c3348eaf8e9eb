"""The SenseVoiceSmall-RKNN2 model directory: file names as in the reference repo, checked at start.

Layout (names from happyme531/SenseVoiceSmall-RKNN2)::

    <model_dir>/
        sense-voice-encoder.rknn               encoder for the NPU (backend sensevoice-rknn)
        sense-voice-encoder.onnx               the same encoder exported to ONNX (sensevoice-onnx)
        embedding.npy                          (16, 560) query rows: language, event/emotion, itn
        am.mvn                                 CMVN in Kaldi nnet text format
        chn_jpn_yue_eng_ko_spectok.bpe.model   sentencepiece vocabulary (25055 pieces)

Only the encoder of the selected runtime is required.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workers.asr.errors import ModelDirError

__all__ = [
    "BPE_FILE",
    "CMVN_FILE",
    "EMBEDDING_FILE",
    "ENCODER_FILES",
    "RuntimeName",
    "SenseVoiceFiles",
    "validate_model_dir",
]

RuntimeName = Literal["rknnlite", "onnxruntime"]

ENCODER_FILES: dict[str, str] = {
    "rknnlite": "sense-voice-encoder.rknn",
    "onnxruntime": "sense-voice-encoder.onnx",
}
EMBEDDING_FILE = "embedding.npy"
CMVN_FILE = "am.mvn"
BPE_FILE = "chn_jpn_yue_eng_ko_spectok.bpe.model"


@dataclass(frozen=True)
class SenseVoiceFiles:
    """Paths of the files one SenseVoice recogniser needs."""

    encoder: Path
    embedding: Path
    cmvn: Path
    bpe: Path


def validate_model_dir(
    model_dir: Path, runtime: RuntimeName, encoder_file: str | None = None
) -> SenseVoiceFiles:
    """Check that ``model_dir`` holds every file ``runtime`` needs; name all missing ones."""
    model_dir = Path(model_dir)
    files = SenseVoiceFiles(
        encoder=model_dir / (encoder_file or ENCODER_FILES[runtime]),
        embedding=model_dir / EMBEDDING_FILE,
        cmvn=model_dir / CMVN_FILE,
        bpe=model_dir / BPE_FILE,
    )
    if not model_dir.is_dir():
        raise ModelDirError(
            f"The SenseVoice model directory {model_dir} does not exist. Download "
            "SenseVoiceSmall-RKNN2 (happyme531 on Hugging Face) on a machine with network access "
            "and copy it there, or set asr.sensevoice.model_dir to where it is."
        )
    missing = [p.name for p in vars(files).values() if not p.is_file()]
    if missing:
        raise ModelDirError(
            f"The SenseVoice model directory {model_dir} lacks {', '.join(missing)}. Copy "
            f"{'these files' if len(missing) > 1 else 'this file'} from SenseVoiceSmall-RKNN2 "
            "(the .onnx encoder is the same model exported to ONNX) into it."
        )
    return files
