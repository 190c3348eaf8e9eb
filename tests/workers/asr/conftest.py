"""Stand-ins for the SenseVoice model files, built inside the tests.

The fake model directory has the reference layout: a SenseVoice-shaped ONNX encoder (input
``[1, 171, 560]`` float32, CTC logits out with the vocabulary on axis 1 as the RKNN export), a
sentencepiece BPE model trained here with the reference's tag tokens as user-defined symbols, a
generated ``am.mvn`` (Kaldi nnet text) and ``embedding.npy`` (16 x 560).

The encoder is linear: it reads the centre fbank frame of each LFR frame (dims 240..319) and
answers token ``k`` where a tone sits at the centre of mel bin ``BINS[k]``; silence gives the
blank; the query rows (a one-hot of 100 at dim 540 + row) give the tag of their row; all-zero
padding frames give a junk token, so decoding past the real length shows up as junk text.
Audio for it is a sequence of tones, one per expected token, separated by silence.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
spm = pytest.importorskip("sentencepiece")

RATE = 16000
DIM = 560
SEQ = 171
CENTRE = 3 * 80  # offset of the centre fbank frame inside one 7-frame LFR vector
QUERY_DIM = 540  # query row r is 100 at dim 540 + r
SHIFT, SCALE = -20.0, 0.2  # the generated am.mvn: (x - 20) * 0.2 for every dim
BINS = (8, 16, 24, 32, 40, 48, 56)  # mel bins the tones sit in, far enough apart
TAGS = [
    "<|zh|>", "<|en|>", "<|yue|>", "<|ja|>", "<|ko|>", "<|nospeech|>",
    "<|HAPPY|>", "<|SAD|>", "<|ANGRY|>", "<|NEUTRAL|>", "<|EMO_UNKNOWN|>",
    "<|Speech|>", "<|BGM|>", "<|Event_UNK|>", "<|withitn|>", "<|woitn|>",
]  # fmt: skip
#: query row -> tag its position yields (row 0 = auto "detects" English here)
ROW_TAGS = {0: "<|en|>", 3: "<|zh|>", 4: "<|en|>", 13: "<|nospeech|>", 1: "<|HAPPY|>",
            2: "<|Speech|>", 14: "<|withitn|>", 15: "<|woitn|>"}  # fmt: skip
TRAINING_LINES = [
    "hello world", "turn on the light", "hello robot", "turn left",
    "the world is round", "light on", "hello hello world",
]  # fmt: skip
EXPECTED_TEXT = "turn on the light hello world"


def mel_bin_centre_hz(m: int, bins: int = 80, low: float = 20.0, high: float = 8000.0) -> float:
    """Centre frequency of Kaldi mel bin ``m`` (mel = 1127 ln(1 + f / 700))."""
    mel_lo, mel_hi = (1127.0 * np.log1p(f / 700.0) for f in (low, high))
    centre = mel_lo + (m + 1) * (mel_hi - mel_lo) / (bins + 1)
    return float(700.0 * np.expm1(centre / 1127.0))


def write_cmvn(path: Path, shift: np.ndarray, scale: np.ndarray) -> None:
    """An ``am.mvn`` in the Kaldi nnet text format of FunASR."""
    vals = lambda v: " ".join(f"{x:.6f}" for x in v)  # noqa: E731
    n = len(shift)
    path.write_text(
        f"<Nnet>\n<Splice> {n} {n}\n[ 0 ]\n<AddShift> {n} {n}\n"
        f"<LearnRateCoef> 0 [ {vals(shift)} ]\n<Rescale> {n} {n}\n"
        f"<LearnRateCoef> 0 [ {vals(scale)} ]\n</Nnet>\n",
        encoding="utf-8",
    )


def build_encoder(path: Path, weight: np.ndarray, bias: np.ndarray, layout: str) -> None:
    """Linear encoder ``x @ W + b``; ``layout``: vocab_first (1,V,T), 4d (1,V,1,T), time_first."""
    from onnx import TensorProto, helper, numpy_helper

    vocab = weight.shape[1]
    nodes = [
        helper.make_node("MatMul", ["speech", "W"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["logits_tv"]),
    ]
    if layout == "time_first":
        out_shape = [1, SEQ, vocab]
        nodes.append(helper.make_node("Identity", ["logits_tv"], ["ctc_logits"]))
    else:
        nodes.append(helper.make_node("Transpose", ["logits_tv"], ["logits_vt"], perm=[0, 2, 1]))
        if layout == "4d":
            out_shape = [1, vocab, 1, SEQ]
            nodes.append(helper.make_node("Unsqueeze", ["logits_vt", "axes"], ["ctc_logits"]))
        else:
            out_shape = [1, vocab, SEQ]
            nodes.append(helper.make_node("Identity", ["logits_vt"], ["ctc_logits"]))
    inits = [
        numpy_helper.from_array(weight.astype(np.float32), "W"),
        numpy_helper.from_array(bias.astype(np.float32), "b"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axes"),
    ]
    graph = helper.make_graph(
        nodes,
        "sensevoice_shaped_encoder",
        [helper.make_tensor_value_info("speech", TensorProto.FLOAT, [1, SEQ, DIM])],
        [helper.make_tensor_value_info("ctc_logits", TensorProto.FLOAT, out_shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@dataclass
class FakeSenseVoice:
    """A generated model directory and what it was built to recognise."""

    dir: Path
    sp: object
    token_bin: dict[int, int]
    weight: np.ndarray
    bias: np.ndarray
    junk_id: int

    def logits(self, x: np.ndarray) -> np.ndarray:
        """What the encoder computes, (1, V, T): the fake NPU returns this."""
        return np.transpose(x @ self.weight + self.bias, (0, 2, 1)).astype(np.float32)

    def tone_audio(self, text: str, tone_s: float = 0.3, gap_s: float = 0.2) -> np.ndarray:
        """int16 audio: one tone per token of ``text``, silence between and around."""
        ids = self.sp.encode(text)  # type: ignore[attr-defined]
        gap = np.zeros(int(gap_s * RATE))
        t = np.arange(int(tone_s * RATE)) / RATE
        parts = [gap]
        for i in ids:
            freq = mel_bin_centre_hz(self.token_bin[i])
            parts += [0.3 * np.sin(2 * np.pi * freq * t), gap]
        return (np.concatenate(parts) * 32767).astype(np.int16)


def make_fake_sensevoice(root: Path, layout: str = "vocab_first") -> FakeSenseVoice:
    """Write the five reference files (both encoder names) into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_LINES * 20),
        model_writer=buf,
        vocab_size=60,
        model_type="bpe",
        user_defined_symbols=TAGS,
        hard_vocab_limit=False,
        character_coverage=1.0,
        minloglevel=2,
    )
    (root / "chn_jpn_yue_eng_ko_spectok.bpe.model").write_bytes(buf.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    vocab = sp.get_piece_size()
    wanted = list(dict.fromkeys(sp.encode(EXPECTED_TEXT)))
    assert len(wanted) <= len(BINS), "the expected text needs more tones than there are bins"
    token_bin = dict(zip(wanted, BINS, strict=False))
    junk_id = next(
        i for i in range(vocab - 1, 0, -1) if i not in token_bin and sp.id_to_piece(i) not in TAGS
    )

    weight = np.zeros((DIM, vocab))
    bias = np.zeros(vocab)
    for token, b in token_bin.items():
        weight[CENTRE + b, token] = 1.0
    for row, tag in ROW_TAGS.items():
        weight[QUERY_DIM + row, sp.piece_to_id(tag)] = 1.0
    weight[CENTRE : CENTRE + 80, junk_id] = 1.0  # very negative on real frames ...
    bias[junk_id] = 1.0  # ... but wins on all-zero padding
    embedding = np.zeros((16, DIM), dtype=np.float32)
    for row in range(16):
        embedding[row, QUERY_DIM + row] = 100.0
    np.save(root / "embedding.npy", embedding)
    write_cmvn(root / "am.mvn", np.full(DIM, SHIFT), np.full(DIM, SCALE))
    build_encoder(root / "sense-voice-encoder.onnx", weight, bias, layout)
    (root / "sense-voice-encoder.rknn").write_bytes(b"RKNN stand-in: never read on x86")
    return FakeSenseVoice(root, sp, token_bin, weight, bias, junk_id)


@pytest.fixture(scope="session")
def fake_sensevoice(tmp_path_factory: pytest.TempPathFactory) -> FakeSenseVoice:
    """The fake model directory (reference output layout, vocab on axis 1)."""
    return make_fake_sensevoice(tmp_path_factory.mktemp("sensevoice"))


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """A 16-bit mono WAV."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def read_wav(path: Path) -> np.ndarray:
    """A 16 kHz 16-bit mono WAV as int16."""
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def espeak_wav(text: str, voice: str, path: Path) -> Path:
    """Speak ``text`` with espeak-ng and convert it to 16 kHz mono int16 with sox."""
    if not shutil.which("espeak-ng") or not shutil.which("sox"):
        pytest.skip("espeak-ng and sox are needed: apt-get install espeak-ng sox")
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)], check=True)
    return path
