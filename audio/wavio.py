"""WAV files in and out: any rate, channel count and sample format in; 16-bit mono out.

Reading goes through ``scipy.io.wavfile`` (8/16/24/32-bit integer and 32/64-bit float PCM),
mixes the channels down to mono and converts to int16 at the wanted rate with the polyphase
resampler. Writing is plain 16-bit mono PCM.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from audio.resample import resample

__all__ = ["WavError", "read_wav", "to_int16", "write_wav"]


class WavError(Exception):
    """A WAV file is missing or cannot be decoded."""


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Convert float samples (full scale 1.0) or any integer PCM to clipped int16."""
    x = np.asarray(samples)
    if x.dtype == np.int16:
        return x
    if x.dtype.kind == "f":
        return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    if x.dtype == np.uint8:  # 8-bit WAV is unsigned, centred on 128
        return ((x.astype(np.int16) - 128) << 8).astype(np.int16)
    if x.dtype.kind in "iu":
        shift = 8 * x.dtype.itemsize - 16
        return (x.astype(np.int64) >> shift).astype(np.int16)
    raise WavError(f"Unsupported sample type {x.dtype}; use integer or float PCM.")


def _to_float_mono(data: np.ndarray) -> np.ndarray:
    if data.dtype.kind == "f":
        x = data.astype(np.float64)
    elif data.dtype == np.uint8:
        x = (data.astype(np.float64) - 128.0) / 128.0
    else:
        x = data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))
    if x.ndim == 2:
        x = x.mean(axis=1)
    return x


def read_wav(path: str | Path, rate_hz: int = 16000) -> np.ndarray:
    """Read a WAV file as mono int16 samples at ``rate_hz`` (converted when needed)."""
    p = Path(path)
    if not p.is_file():
        raise WavError(f"WAV file {p} does not exist; check the path in the configuration.")
    from scipy.io import wavfile  # half a second of import: only reading needs it

    try:
        file_rate, data = wavfile.read(p)
    except (ValueError, OSError, EOFError) as exc:
        raise WavError(
            f"Cannot decode {p} as a WAV file ({exc}); convert it to PCM WAV, e.g. with "
            f"'sox {p.name} -b 16 out.wav'."
        ) from exc
    if data.size == 0:
        return np.zeros(0, dtype=np.int16)
    if data.ndim == 1 and file_rate == rate_hz:
        return to_int16(data)
    x = _to_float_mono(data)
    if file_rate != rate_hz:
        x = resample(x, int(file_rate), rate_hz)
    return to_int16(x)


def write_wav(path: str | Path, samples: np.ndarray | bytes, rate_hz: int) -> Path:
    """Write mono int16 samples (array or little-endian bytes) as a 16-bit PCM WAV file."""
    p = Path(path)
    pcm = samples if isinstance(samples, bytes) else to_int16(samples).astype("<i2").tobytes()
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(pcm)
    return p
