"""Resampler benchmark: the hand-written streaming polyphase filter beside libsoxr and scipy.

    python -m bench.resample            # six pairs of rates, 2 s signals, best of 5; JSON
    python -m bench.resample --quick    # two pairs, short signals, one round; JSON only

Methods, measured in the same run on the same signals:

- ``polyphase``: ``audio.resample.Resampler`` (hand-written; the Kaiser-windowed sinc of
  ``scipy.signal.resample_poly``, in polyphase form, streaming, delay-compensated);
- ``scipy``: ``scipy.signal.resample_poly`` on the whole signal (the reference it was built to);
- ``soxr-HQ`` / ``soxr-VHQ``: ``soxr.resample`` (python-soxr, libsoxr) at those qualities;
  streaming uses ``soxr.ResampleStream`` (HQ).

Figures per pair of rates: quality (``bench.resamplequality``: tone SNR against the exact sine,
roll-off at the band edge, aliasing of a sweep above the new Nyquist frequency, images, espeak-ng
speech against the ideal and against scipy); streaming (a stream cut into random chunks against
one call, the time alignment of the output in microseconds, and how far the output lags the
input when 10 ms chunks are fed: the latency a live stream pays); speed (a 2 s signal in one
call, and 20 ms chunks of a stream: microseconds per chunk). Results go to
``bench/results/resample.json`` (``resample_quick.json`` with ``--quick``); an SNR of two
identical signals (scipy against itself) is written as null.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from scipy.signal import resample_poly

from audio.resample import Resampler
from bench.resamplequality import Method, quality

__all__ = ["METHODS", "STREAMS", "main", "speed", "streaming"]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
PAIRS = ((48000, 16000), (44100, 16000), (22050, 16000), (16000, 48000), (22050, 48000),
         (16000, 22050))  # fmt: skip
QUICK_PAIRS = ((48000, 16000), (22050, 48000))


def _polyphase(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    r = Resampler(rate_in, rate_out)
    return np.concatenate([r.process(x), r.flush()])


def _scipy(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    g = gcd(rate_in, rate_out)
    return resample_poly(x, rate_out // g, rate_in // g)


def _soxr(q: str) -> Method:
    def run(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
        return soxr.resample(np.ascontiguousarray(x, dtype=np.float64), rate_in, rate_out, q)

    return run


METHODS: dict[str, Method] = {
    "polyphase": _polyphase,
    "scipy": _scipy,
    "soxr-HQ": _soxr("HQ"),
    "soxr-VHQ": _soxr("VHQ"),
}

#: A stream: (chunk, last) -> output so far; made per (input rate, output rate).
Stream = Callable[[np.ndarray, bool], np.ndarray]


def _polyphase_stream(rate_in: int, rate_out: int) -> Stream:
    r = Resampler(rate_in, rate_out)

    def feed(chunk: np.ndarray, last: bool) -> np.ndarray:
        y = r.process(chunk)
        return np.concatenate([y, r.flush()]) if last else y

    return feed


def _soxr_stream(rate_in: int, rate_out: int) -> Stream:
    s = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float64", quality="HQ")

    def feed(chunk: np.ndarray, last: bool) -> np.ndarray:
        return s.resample_chunk(np.ascontiguousarray(chunk, dtype=np.float64), last=last)

    return feed


STREAMS: dict[str, tuple[Callable[[int, int], Stream], Method]] = {
    "polyphase": (_polyphase_stream, _polyphase),
    "soxr-HQ": (_soxr_stream, _soxr("HQ")),
}


def _run(stream: Stream, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    out, i, k = [], 0, 0
    while i < len(x):
        n = sizes[k % len(sizes)]
        out.append(stream(x[i : i + n], False))
        i, k = i + n, k + 1
    out.append(stream(np.zeros(0), True))
    return np.concatenate(out)


def streaming(name: str, rate_in: int, rate_out: int, *, seconds: float) -> dict[str, Any]:
    """Chunk-boundary equality, time alignment and live lag of one stream."""
    make, whole = STREAMS[name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal(int(rate_in * seconds))
    chunked = _run(make(rate_in, rate_out), x, [int(n) for n in rng.integers(1, 900, 64)])
    one_call = _run(make(rate_in, rate_out), x, [len(x)])
    n = min(len(chunked), len(one_call))
    ref = whole(x, rate_in, rate_out)
    m = min(len(chunked), len(ref))
    # Alignment: the phase of a 1 kHz tone against the exact sine, as a time offset.
    hz, t_in = 1000.0, np.arange(int(rate_in * seconds)) / rate_in
    y = _run(make(rate_in, rate_out), np.sin(2 * np.pi * hz * t_in), [rate_in // 100])
    t = np.arange(len(y)) / rate_out
    keep = slice(int(0.1 * rate_out), len(y) - int(0.1 * rate_out))
    basis = np.stack([np.sin(2 * np.pi * hz * t[keep]), np.cos(2 * np.pi * hz * t[keep])], 1)
    (a, b), *_ = np.linalg.lstsq(basis, y[keep], rcond=None)
    align_us = np.arctan2(-b, a) / (2 * np.pi * hz) * 1e6
    # Live lag: 10 ms chunks; how far behind the input the output is after each one.
    feed, got, lags = make(rate_in, rate_out), 0, []
    step = rate_in // 100
    for i in range(0, len(x) - step + 1, step):
        got += len(feed(x[i : i + step], False))
        if i >= rate_in // 5:
            lags.append(((i + step) / rate_in - got / rate_out) * 1e3)
    return {
        "chunked_vs_one_call_max_diff": float(np.max(np.abs(chunked[:n] - one_call[:n]))),
        "length_chunked_minus_one_call": len(chunked) - len(one_call),
        "chunked_vs_whole_call_max_diff": float(np.max(np.abs(chunked[:m] - ref[:m]))),
        "align_us": round(float(align_us), 2),
        "lag_ms_min": round(min(lags), 2),
        "lag_ms_mean": round(float(np.mean(lags)), 2),
        "lag_ms_max": round(max(lags), 2),
    }


def _best_s(fn: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def speed(rate_in: int, rate_out: int, *, seconds: float, rounds: int) -> dict[str, Any]:
    """Whole-signal time per method and per-chunk time per stream (best of ``rounds``)."""
    x = np.random.default_rng(2).standard_normal(int(rate_in * seconds))
    out: dict[str, Any] = {"signal_s": seconds}
    for name, method in METHODS.items():
        s = _best_s(lambda m=method: m(x, rate_in, rate_out), rounds)  # type: ignore[misc]
        out[f"{name}_whole_ms"] = round(s * 1e3, 3)
    step = rate_in // 50
    chunks = [x[i : i + step] for i in range(0, len(x) - step + 1, step)]
    for name, (make, _) in STREAMS.items():

        def stream_all(make: Callable[[int, int], Stream] = make) -> None:
            feed = make(rate_in, rate_out)
            for c in chunks:
                feed(c, False)

        s = _best_s(stream_all, rounds)
        out[f"{name}_stream_us_per_20ms_chunk"] = round(s / len(chunks) * 1e6, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print and save the figures."""
    ap = argparse.ArgumentParser(
        prog="python -m bench.resample",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="two pairs, short signals, one round")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    pairs = QUICK_PAIRS if args.quick else PAIRS
    seconds, rounds = (0.5, 1) if args.quick else (2.0, 5)
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "quick": args.quick,
        "soxr_version": soxr.__version__,
        "pairs": {},
    }
    for rate_in, rate_out in pairs:
        key = f"{rate_in}->{rate_out}"
        print(f"{key} ...", flush=True)
        result["pairs"][key] = {
            "quality": {
                n: quality(m, rate_in, rate_out, seconds=seconds) for n, m in METHODS.items()
            },
            "streaming": {n: streaming(n, rate_in, rate_out, seconds=seconds) for n in STREAMS},
            "speed": speed(rate_in, rate_out, seconds=seconds, rounds=rounds),
        }
        _print(key, result["pairs"][key])
    args.out.mkdir(parents=True, exist_ok=True)
    name = "resample_quick.json" if args.quick else "resample.json"
    (args.out / name).write_text(json.dumps(_finite(result), indent=1, allow_nan=False) + "\n")
    print(f"saved {args.out / name}")
    return 0


def _finite(value: Any) -> Any:
    """``value`` with infinities as null (an SNR of identical signals), so the file is JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _print(key: str, fig: dict[str, Any]) -> None:
    names = sorted({k for q in fig["quality"].values() for k in q})
    print(f"  {'quality':24}" + "".join(f"{m:>11}" for m in fig["quality"]))
    for k in names:
        print(f"  {k:24}" + "".join(f"{q.get(k, '-')!s:>11}" for q in fig["quality"].values()))
    for n, s in fig["streaming"].items():
        print(f"  stream {n:10} " + " ".join(f"{k}={v}" for k, v in s.items()))
    print("  speed " + " ".join(f"{k}={v}" for k, v in fig["speed"].items()))


if __name__ == "__main__":
    raise SystemExit(main())
