"""bench.resample's measures on short signals (the figures themselves are the bench's job)."""

from __future__ import annotations

import numpy as np

from bench.resample import METHODS, streaming
from bench.resamplequality import quality


def test_the_hand_written_filter_is_scipy_and_soxr_is_measured_on_the_same_scale() -> None:
    ours = quality(METHODS["polyphase"], 48000, 16000, seconds=0.3)
    ref = quality(METHODS["scipy"], 48000, 16000, seconds=0.3)
    hq = quality(METHODS["soxr-HQ"], 48000, 16000, seconds=0.3)
    assert ours["tone_snr_db_1k"] == ref["tone_snr_db_1k"]
    assert ours["alias_near_db"] == ref["alias_near_db"]
    assert set(hq) == set(ours)
    if "speech_vs_scipy_db" in ours:  # espeak-ng installed
        assert ours["speech_vs_scipy_db"] > 200


def test_streams_are_chunk_independent_aligned_and_report_their_lag() -> None:
    for name in ("polyphase", "soxr-HQ"):
        s = streaming(name, 48000, 16000, seconds=0.5)
        assert s["chunked_vs_one_call_max_diff"] == 0.0
        assert abs(s["align_us"]) < 1.0
        assert 0 <= s["lag_ms_min"] <= s["lag_ms_mean"] <= s["lag_ms_max"]
    # The look-ahead of the hand-written filter is 31 input samples at 48 kHz (0.65 ms).
    assert streaming("polyphase", 48000, 16000, seconds=0.5)["lag_ms_max"] < 1.0


def test_every_method_takes_and_gives_float64() -> None:
    x = np.zeros(4800)
    for method in METHODS.values():
        assert method(x, 48000, 16000).dtype == np.float64
