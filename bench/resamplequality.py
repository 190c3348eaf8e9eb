"""How well a resampler keeps a signal: tones, the band edge, aliasing, images and speech.

Every figure compares a method's output with what an ideal (band-limited) resampler would give,
so that the hand-written polyphase filter (the filter of ``scipy.signal.resample_poly``), scipy
itself and libsoxr are judged on the same scale; ``speech_vs_scipy_db`` is the one figure
against scipy's polyphase result rather than against the ideal.

- ``tone_snr_db_1k`` / ``tone_snr_db_worst``: the SNR of a 1 kHz tone, and the worst over
  100 Hz, 1 kHz, 3 kHz and 80 % of the lower Nyquist frequency, against the exact sine at the
  output rate, edges trimmed;
- ``edge_gain_db``: the gain of a tone at 90 % and 95 % of the lower Nyquist frequency (the
  pass band's roll-off; 0 dB is flat);
- ``alias_near_db`` / ``alias_far_db`` (down-sampling): the level left of a sweep that lies
  wholly above the output's Nyquist frequency, just above it (1.02-1.25 x) and further up;
  everything left is aliasing (-inf is perfect);
- ``image_db`` (up-sampling): white noise band-limited to 90 % of the input's Nyquist frequency;
  the power that appears above 110 % of it (images), relative to the total;
- ``speech_snr_db``: espeak-ng speech against the ideal, in the band below 85 % of the lower
  Nyquist frequency (so that a method is not blamed for its transition band);
- ``speech_vs_scipy_db``: the same speech against ``scipy.signal.resample_poly``, full band.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from math import gcd
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import chirp, resample_poly
from scipy.signal import resample as fft_resample

__all__ = ["Method", "espeak_speech", "quality"]

#: A whole-signal resampler: (samples as float64, input rate, output rate) -> float64 output.
Method = Callable[[np.ndarray, int, int], np.ndarray]

_TRIM_S = 0.1  # edges left out of every comparison (start-up and the end's zero padding)


def _db(power_ratio: float) -> float:
    return round(float(10 * np.log10(power_ratio)), 1) if power_ratio > 0 else float("-inf")


def _snr_db(y: np.ndarray, ideal: np.ndarray, rate: int) -> float:
    n = min(len(y), len(ideal))
    trim = int(_TRIM_S * rate)
    err = y[trim : n - trim] - ideal[trim : n - trim]
    sig = float(np.sum(ideal[trim : n - trim] ** 2))
    noise = float(np.sum(err**2))
    return round(float(10 * np.log10(sig / noise)), 1) if noise > 0 else float("inf")


def _tone(rate: int, seconds: float, hz: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * hz * t + 0.3)


def _lowpass(x: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    spec = np.fft.rfft(x)
    spec[np.fft.rfftfreq(len(x), 1 / rate) > cutoff_hz] = 0
    return np.fft.irfft(spec, len(x))


def _ideal(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited (brick-wall) resampling of a whole signal that starts and ends in silence.

    The signal is padded with silence to a whole number of periods of the ratio, so that the
    output's sample period is exactly ``1 / rate_out`` (no stretch), then cut back.
    """
    period = rate_in // gcd(rate_in, rate_out)
    padded = np.concatenate([x, np.zeros(-len(x) % period)])
    y = fft_resample(padded, len(padded) * rate_out // rate_in)
    return y[: round(len(x) * rate_out / rate_in)]


def espeak_speech(rate_hz: int, seconds_max: float = 6.0) -> np.ndarray | None:
    """English and Chinese espeak-ng speech at ``rate_hz`` (ideally resampled from espeak's own
    22.05 kHz), float64 in [-1, 1]; None when espeak-ng is not installed."""
    if shutil.which("espeak-ng") is None:
        return None
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for voice, text in (
            ("en-us", "Move forward one metre, then turn left and tell me the battery level."),
            ("cmn-latn-pinyin", "qian2 jin4 yi1 mi3 ran2 hou4 zuo3 zhuan3"),
        ):
            out = Path(tmp) / f"{voice}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(out), text], check=True)
            native, pcm = wavfile.read(out)
            parts.append(pcm.astype(np.float64) / 32768.0)
    x = np.concatenate(parts)[: int(native * seconds_max)]
    x = np.concatenate([np.zeros(native // 4), x, np.zeros(native // 4)])
    return x if rate_hz == native else _ideal(x, native, rate_hz)


def quality(method: Method, rate_in: int, rate_out: int, *, seconds: float = 1.0) -> dict:
    """Every figure of the module docstring for one method and one pair of rates."""
    nyq = min(rate_in, rate_out) / 2
    out: dict[str, float] = {}
    snr = {
        hz: _snr_db(method(_tone(rate_in, seconds, hz), rate_in, rate_out),
                    _tone(rate_out, seconds, hz), rate_out)
        for hz in (100.0, 1000.0, 3000.0, 0.8 * nyq)
    }  # fmt: skip
    out["tone_snr_db_1k"] = snr[1000.0]
    out["tone_snr_db_worst"] = min(snr.values())
    for frac in (0.9, 0.95):
        y = method(_tone(rate_in, seconds, frac * nyq), rate_in, rate_out)
        ideal = _tone(rate_out, seconds, frac * nyq)
        trim = int(_TRIM_S * rate_out)
        n = min(len(y), len(ideal)) - trim
        gain = float(np.sum(y[trim:n] ** 2) / np.sum(ideal[trim:n] ** 2))
        out[f"edge_gain_db_{round(frac * 100)}"] = _db(gain)
    if rate_out < rate_in:
        t = np.arange(int(rate_in * seconds)) / rate_in
        bands = {"alias_near_db": (1.02, 1.25), "alias_far_db": (1.25, 0.98 * rate_in / rate_out)}
        for name, (lo, hi) in bands.items():
            if hi <= lo:
                continue
            f0, f1 = lo * rate_out / 2, hi * rate_out / 2
            x = 0.5 * chirp(t, f0, t[-1], f1)
            y = method(x, rate_in, rate_out)
            trim = int(_TRIM_S * rate_out)
            out[name] = _db(float(np.mean(y[trim:-trim] ** 2) / np.mean(x**2)))
    else:
        noise = np.random.default_rng(3).standard_normal(int(rate_in * seconds)) * 0.1
        noise = _lowpass(noise, rate_in, 0.9 * rate_in / 2)
        y = method(noise, rate_in, rate_out)
        trim = int(_TRIM_S * rate_out)
        core = y[trim:-trim]
        spec = np.abs(np.fft.rfft(core * np.hanning(len(core)))) ** 2
        freqs = np.fft.rfftfreq(len(core), 1 / rate_out)
        out["image_db"] = _db(float(spec[freqs > 1.1 * rate_in / 2].sum() / spec.sum()))
    speech = espeak_speech(rate_in)
    if speech is not None:
        y = method(speech, rate_in, rate_out)
        ideal = _ideal(speech, rate_in, rate_out)
        n = min(len(y), len(ideal))
        band = 0.85 * nyq
        out["speech_snr_db"] = _snr_db(
            _lowpass(y[:n], rate_out, band), _lowpass(ideal[:n], rate_out, band), rate_out
        )
        g = gcd(rate_in, rate_out)
        out["speech_vs_scipy_db"] = _snr_db(
            y, resample_poly(speech, rate_out // g, rate_in // g), rate_out
        )
    return out
