"""Resampling: libsoxr for whole signals, a hand-written polyphase filter for live streams.

:func:`resample` (WAV files, a TTS sentence, a buffer for the speaker) calls libsoxr
(python-soxr, quality HQ): about 130 dB SNR on in-band tones against the exact sine, no aliasing
of what lies above the new Nyquist frequency, and 10-30 times faster than the filter below.

:class:`Resampler` (the live capture stream) is written here, because libsoxr's stream holds its
output back in blocks: fed 10 ms chunks it lags the input by 6-40 ms (about 23 ms on average),
where this filter lags by the filter's look-ahead alone (about 0.6 ms), and the capture path
is the one place where that delay adds to every turn. ``bench/resample.py`` measures both and
``docs/audio.md`` gives the figures and the decision.

The streaming filter is the one ``scipy.signal.resample_poly`` designs (Kaiser-windowed sinc,
cutoff at the lower Nyquist frequency of the two rates), applied in polyphase form so that only
the taps that meet a non-zero input sample are computed. State is kept between calls, so a
stream cut into chunks of any length gives the same output as the whole signal at once.

Alignment (both): output sample ``n`` is the signal at input time ``n * in_rate / out_rate``
samples (the filter delay is compensated), so a capture timestamp carries over exactly. The
streaming filter pays for it with a look-ahead of :attr:`Resampler.lookahead` input samples:
output is produced only once the input that follows it has arrived (``flush`` releases the tail
at the end of a stream).
"""

from __future__ import annotations

from math import gcd

import numpy as np
import soxr

__all__ = ["Resampler", "resample"]


class Resampler:
    """Resample a mono stream from ``in_rate_hz`` to ``out_rate_hz`` chunk by chunk.

    ``half_taps`` is the filter half-length in input/output samples of the slower side (10, as
    in scipy, gives > 60 dB stop-band attenuation with the Kaiser beta 5 window).
    """

    def __init__(self, in_rate_hz: int, out_rate_hz: int, *, half_taps: int = 10) -> None:
        _check_rates(in_rate_hz, out_rate_hz)
        g = gcd(in_rate_hz, out_rate_hz)
        self.in_rate_hz = in_rate_hz
        self.out_rate_hz = out_rate_hz
        self.up = out_rate_hz // g
        self.down = in_rate_hz // g
        self.passthrough = self.up == self.down
        if self.passthrough:
            self.lookahead = 0
            return
        # scipy.signal takes about a second to import: only the streaming filter needs it, so
        # the speaker and the TTS (whole signals, soxr) restart without it.
        from scipy.signal import firwin

        big = max(self.up, self.down)
        n_taps = 2 * half_taps * big + 1
        taps = firwin(n_taps, 1.0 / big, window=("kaiser", 5.0)) * self.up
        # Pad so that every phase has the same number of taps K.
        k = -(-n_taps // self.up)
        padded = np.zeros(k * self.up)
        padded[:n_taps] = taps
        # bank[p, j] = h[p + j * up]: the taps of phase p, meeting input x[base - j].
        self._bank = padded.reshape(k, self.up).T.copy()
        self._k = k
        self._delay = (n_taps - 1) // 2  # filter centre, in upsampled samples
        self.lookahead = -(-self._delay // self.up) + 1
        self._buf_start = -k  # stream index of _buf[0]; negative = zero padding before the start
        self._buf = np.zeros(k, dtype=np.float64)
        self._next_out = 0  # index of the next output sample
        self._in_total = 0  # input samples received

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Feed input samples (any numeric dtype); return the float64 output now available."""
        x = np.asarray(samples, dtype=np.float64).ravel()
        if self.passthrough:
            return x.copy()
        self._buf = np.concatenate([self._buf, x])
        self._in_total += len(x)
        return self._emit(self._in_total)

    def flush(self) -> np.ndarray:
        """End of stream: return the remaining output, as if zeros followed the input."""
        if self.passthrough:
            return np.zeros(0)
        end = self._in_total
        self._buf = np.concatenate([self._buf, np.zeros(self.lookahead + 1)])
        n_total = (end * self.up) // self.down
        out = self._emit(end + self.lookahead + 1, limit=n_total)
        return out

    def _emit(self, available: int, limit: int | None = None) -> np.ndarray:
        # Output n needs input up to base(n) = (n*down + delay) // up; it must be < available.
        last = (available * self.up - self._delay - 1) // self.down  # largest n with base < avail
        if limit is not None:
            last = min(last, limit - 1)
        n = np.arange(self._next_out, last + 1, dtype=np.int64)
        if len(n) == 0:
            return np.zeros(0)
        t = n * self.down + self._delay
        phase = t % self.up
        base = t // self.up - self._buf_start
        idx = base[:, None] - np.arange(self._k)[None, :]
        out = np.einsum("ij,ij->i", self._bank[phase], self._buf[idx])
        self._next_out = int(n[-1]) + 1
        # Drop input no future output can reach.
        t_next = self._next_out * self.down + self._delay
        keep_from = t_next // self.up - self._k + 1 - self._buf_start
        if keep_from > 0:
            self._buf = self._buf[keep_from:]
            self._buf_start += keep_from
        return out


def _check_rates(in_rate_hz: int, out_rate_hz: int) -> None:
    if in_rate_hz <= 0 or out_rate_hz <= 0:
        raise ValueError(f"Sample rates must be positive, got {in_rate_hz} Hz -> {out_rate_hz} Hz.")


def resample(samples: np.ndarray, in_rate_hz: int, out_rate_hz: int) -> np.ndarray:
    """Resample a whole mono signal (libsoxr HQ) to float64 in the input's scale.

    The output has ``round(len * out / in)`` samples and is time-aligned with the input.
    """
    _check_rates(in_rate_hz, out_rate_hz)
    x = np.ascontiguousarray(samples, dtype=np.float64).ravel()
    if in_rate_hz == out_rate_hz:
        return x.copy()
    if len(x) == 0:
        return np.zeros(0)
    return np.asarray(soxr.resample(x, in_rate_hz, out_rate_hz, quality="HQ"), dtype=np.float64)
