"""SenseVoice acoustic front end: fbank -> LFR -> CMVN, exactly as ``sensevoice_rknn.py``.

The reference (``WavFrontend`` of SenseVoiceSmall-RKNN2, taken from lovemefan/SenseVoice-python)
scales float audio in [-1, 1] by 32768, computes an 80-bin Kaldi fbank (25 ms window, 10 ms shift,
hamming, dither 0, snip_edges, energy floor 0), stacks 7 frames every 6 (LFR, 560 values per
60 ms with the reference padding) and normalises with the ``am.mvn`` shift and scale.
"""

from __future__ import annotations

from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np

__all__ = [
    "FBANK_BINS",
    "FRAME_LENGTH_MS",
    "FRAME_SHIFT_MS",
    "LFR_M",
    "LFR_N",
    "SAMPLE_RATE_HZ",
    "apply_cmvn",
    "apply_lfr",
    "fbank",
    "features",
    "lfr_frames",
    "load_cmvn",
    "parse_cmvn",
    "samples_for_lfr_frames",
]

SAMPLE_RATE_HZ = 16000
FBANK_BINS = 80
FRAME_LENGTH_MS = 25
FRAME_SHIFT_MS = 10
LFR_M = 7
LFR_N = 6
_WINDOW = SAMPLE_RATE_HZ * FRAME_LENGTH_MS // 1000
_SHIFT = SAMPLE_RATE_HZ * FRAME_SHIFT_MS // 1000


def _fbank_options() -> knf.FbankOptions:
    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = SAMPLE_RATE_HZ
    opts.frame_opts.dither = 0
    opts.frame_opts.window_type = "hamming"
    opts.frame_opts.frame_shift_ms = float(FRAME_SHIFT_MS)
    opts.frame_opts.frame_length_ms = float(FRAME_LENGTH_MS)
    opts.frame_opts.snip_edges = True
    opts.mel_opts.num_bins = FBANK_BINS
    opts.mel_opts.debug_mel = False
    opts.energy_floor = 0
    return opts


_OPTIONS = _fbank_options()


def fbank(waveform: np.ndarray) -> np.ndarray:
    """80-bin log-mel fbank of float audio in [-1, 1] at 16 kHz, shape (frames, 80), float32."""
    scaled = np.asarray(waveform, dtype=np.float32) * float(1 << 15)
    online = knf.OnlineFbank(_OPTIONS)
    online.accept_waveform(SAMPLE_RATE_HZ, scaled.tolist())
    frames = online.num_frames_ready
    mat = np.empty((frames, FBANK_BINS), dtype=np.float32)
    for i in range(frames):
        mat[i, :] = online.get_frame(i)
    return mat


def apply_lfr(inputs: np.ndarray, lfr_m: int = LFR_M, lfr_n: int = LFR_N) -> np.ndarray:
    """Low frame rate stacking with the reference padding, shape (ceil(T / n), m * dim).

    The first frame is repeated (m - 1) // 2 times on the left; the last output frame is
    completed with copies of the last input frame.
    """
    t = inputs.shape[0]
    if t == 0:
        return np.zeros((0, lfr_m * inputs.shape[1]), dtype=np.float32)
    t_lfr = int(np.ceil(t / lfr_n))
    left = (lfr_m - 1) // 2
    padded = np.vstack((np.tile(inputs[0], (left, 1)), inputs))
    t += left
    out = []
    for i in range(t_lfr):
        start = i * lfr_n
        if lfr_m <= t - start:
            out.append(padded[start : start + lfr_m].reshape(-1))
        else:
            missing = lfr_m - (t - start)
            tail = [padded[start:].reshape(-1)] + [padded[-1]] * missing
            out.append(np.concatenate(tail))
    return np.vstack(out).astype(np.float32)


def parse_cmvn(text: str) -> np.ndarray:
    """Parse a Kaldi nnet text ``am.mvn`` into a (2, dim) float64 array: [add_shift, rescale].

    As the reference parser: for the line after ``<AddShift>`` / ``<Rescale>`` that starts with
    ``<LearnRateCoef>``, the values are the tokens from index 3 up to the closing ``]``.
    """
    lines = text.splitlines()
    shift: list[str] = []
    scale: list[str] = []
    for i, line in enumerate(lines[:-1]):
        head = line.split()[:1]
        nxt = lines[i + 1].split()
        if not head or not nxt or nxt[0] != "<LearnRateCoef>":
            continue
        if head[0] == "<AddShift>":
            shift = nxt[3:-1]
        elif head[0] == "<Rescale>":
            scale = nxt[3:-1]
    if not shift or not scale:
        raise ValueError(
            "The CMVN file has no <AddShift>/<Rescale> blocks with <LearnRateCoef> values; "
            "use the am.mvn shipped with the SenseVoice model."
        )
    if len(shift) != len(scale):
        raise ValueError(
            f"The CMVN file has {len(shift)} shift values but {len(scale)} scale values; "
            "it is damaged, copy am.mvn from the model again."
        )
    return np.array([np.array(shift, dtype=np.float64), np.array(scale, dtype=np.float64)])


def load_cmvn(path: Path) -> np.ndarray:
    """Read and parse ``am.mvn`` (see :func:`parse_cmvn`)."""
    return parse_cmvn(Path(path).read_text(encoding="utf-8"))


def apply_cmvn(inputs: np.ndarray, cmvn: np.ndarray) -> np.ndarray:
    """``(x + add_shift) * rescale`` per dimension (float64 as the reference)."""
    dim = inputs.shape[1]
    return (inputs + cmvn[0:1, :dim]) * cmvn[1:2, :dim]


def features(waveform: np.ndarray, cmvn: np.ndarray) -> np.ndarray:
    """The whole front end: fbank -> LFR -> CMVN, shape (lfr_frames, 560)."""
    return apply_cmvn(apply_lfr(fbank(waveform)), cmvn)


def lfr_frames(num_samples: int) -> int:
    """How many LFR frames :func:`features` yields for ``num_samples`` samples."""
    if num_samples < _WINDOW:
        return 0
    fbank_frames = 1 + (num_samples - _WINDOW) // _SHIFT
    return -(-fbank_frames // LFR_N)


def samples_for_lfr_frames(frames: int) -> int:
    """The largest number of samples that yields at most ``frames`` LFR frames."""
    if frames <= 0:
        return _WINDOW - 1
    return _WINDOW + (frames * LFR_N - 1) * _SHIFT + _SHIFT - 1
