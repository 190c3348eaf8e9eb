"""wavsource: framing, pacing as a live capture, the worker loop, and its cannot-run path."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.io import wavfile

from bus import MemoryBus
from schemas.audio import AudioFrame
from tests.bus.conftest import ProxyProc
from tests.fakeclock import MS, FakeClock
from tests.workers.cannot_run import cannot_run
from workers.wavsource.__main__ import run
from workers.wavsource.manifest import MANIFEST
from workers.wavsource.playout import Playout, load_files, wav_frames
from workers.wavsource.settings import WavSourceSettings


def test_frames_cover_the_audio_and_the_last_one_is_final_and_padded() -> None:
    x = np.arange(1000, dtype=np.int16)
    frames = list(wav_frames(x, 20))
    assert [i for i, _, _ in frames] == [0, 1, 2, 3]
    assert [f for _, _, f in frames] == [False, False, False, True]
    joined = np.frombuffer(b"".join(p for _, p, _ in frames), "<i2")
    np.testing.assert_array_equal(joined[:1000], x)
    assert not joined[1000:].any()


def test_looping_repeats_the_audio_with_indices_going_on_and_never_final() -> None:
    x = np.arange(640, dtype=np.int16)
    frames = list(itertools.islice(wav_frames(x, 20, loop=True), 6))
    assert [i for i, _, _ in frames] == list(range(6))
    assert not any(f for _, _, f in frames)
    assert frames[0][1] == frames[2][1] == frames[4][1]


def test_files_of_other_rates_and_channels_are_joined_at_16k_mono(tmp_path: Path) -> None:
    wavfile.write(tmp_path / "a.wav", 48000, np.zeros((48000, 2), np.int16))
    wavfile.write(tmp_path / "b.wav", 8000, np.zeros(4000, np.float32))
    assert len(load_files([tmp_path / "a.wav", tmp_path / "b.wav"])) == 16000 + 8000


def test_settings_refuse_unknown_keys_and_bad_frame_lengths() -> None:
    with pytest.raises(ValidationError, match="10, 20 or 30"):
        WavSourceSettings(files=[Path("a.wav")], frame_ms=25)
    with pytest.raises(ValidationError, match="extra"):
        WavSourceSettings.model_validate({"files": ["a.wav"], "lop": True})


def test_a_realtime_playout_hands_a_frame_over_when_its_last_sample_was_captured() -> None:
    p = Playout(np.zeros(16000, np.int16), 20, start_ns=1000 * MS, source="a.wav")
    assert p.due(1000 * MS + 19 * MS) == []
    (first,) = p.due(1000 * MS + 20 * MS)
    frame = first.payload
    assert isinstance(frame, AudioFrame)
    assert (first.topic, frame.index, frame.capture_ns, frame.source) == (
        "audio.frame",
        0,
        1000 * MS,
        "a.wav",
    )
    # after a stall the frames captured meanwhile come at once, stamped as captured
    late = p.due(1000 * MS + 100 * MS)
    assert [o.payload.capture_ns for o in late] == [1000 * MS + k * 20 * MS for k in (1, 2, 3, 4)]  # type: ignore[attr-defined]
    assert not p.done and p.due(2000 * MS)[-1].payload.final and p.done  # type: ignore[attr-defined]


def test_a_playout_without_realtime_hands_over_bursts() -> None:
    p = Playout(np.zeros(16000 * 3, np.int16), 20, start_ns=0, source="a", realtime=False)
    assert [len(p.due(0)) for _ in range(2)] == [100, 50] and p.done


def _write(path: Path, seconds: float) -> Path:
    wavfile.write(path, 16000, np.zeros(int(16000 * seconds), np.int16))
    return path


def test_the_worker_loop_publishes_the_frames_on_its_ticks_and_exits_when_done(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    bus = MemoryBus(clock=clock, sleep=clock.sleep)
    clock.run_for(60.0)  # the loop ends by itself (exit_when_done) long before
    settings = {"files": [str(_write(tmp_path / "a.wav", 0.1))], "exit_when_done": True}
    node, probe = bus.node("wavsource", settings, manifest=MANIFEST), bus.node("probe")
    probe.subscribe("audio.frame")
    run(node)
    frames = [m.payload for m in probe]
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]  # type: ignore[union-attr]
    assert [f.final for f in frames] == [False] * 4 + [True]  # type: ignore[union-attr]
    starts = [f.capture_ns for f in frames]  # type: ignore[union-attr]
    assert all(b - a == 20 * MS for a, b in itertools.pairwise(starts))
    assert "wavsource" in bus.ready
    assert clock.now_ns - frames[-1].capture_ns == 20 * MS  # type: ignore[union-attr]


@pytest.mark.slow
def test_the_worker_with_a_missing_file_cannot_run_and_names_it(
    tmp_path: Path, proxy: ProxyProc
) -> None:
    missing = tmp_path / "nope.wav"
    reason = cannot_run("workers.wavsource", {"files": [str(missing)]}, tmp_path, proxy=proxy)
    assert reason == f"WAV file {missing} does not exist; check the path in the configuration."
