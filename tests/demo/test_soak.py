"""The soak's record counts the audio the VAD lost and the memory of each worker over time."""

from __future__ import annotations

import os
from pathlib import Path

from bus.framing import Envelope
from demo.conductor import Conductor
from demo.script import Line
from demo.soak import Soak, slope_per_hour
from schemas.system import Heartbeat, Metric


def env(topic: str, p) -> Envelope:
    return Envelope(topic, "x", 1, 1, 0, "", p)


def test_a_steady_leak_has_a_slope_and_a_one_off_step_has_little():
    leak = [(t * 60.0, 100 + t * 0.5) for t in range(30)]  # 0.5 MiB a minute
    assert round(slope_per_hour(leak) or 0, 1) == 30.0
    step = [(t * 60.0, 100.0 if t == 0 else 135.0) for t in range(30)]  # filled once at the start
    assert (slope_per_hour(step) or 0) < 30.0
    assert slope_per_hour(leak[:2]) is None


def test_the_record_has_the_vad_s_own_frame_loss_and_the_memory_samples(tmp_path: Path):
    soak = Soak(os.getpid(), sample_s=10)
    me = Heartbeat(worker="vad", pid=os.getpid(), state="ready", uptime_s=1, received=5000,
                   dropped=3)  # fmt: skip
    soak.feed(env("sys.heartbeat", me))
    soak.feed(env("sys.metric", Metric(name="vad.frames_lost", value=2, worker="vad")))
    soak.feed(env("sys.metric", Metric(name="vad.frames_lost", value=7, worker="vad")))
    soak.begin(100.0)
    soak.tick(105.0)
    soak.tick(110.0)
    soak.tick(121.0)
    conductor = Conductor((Line("a", 1, "question"),), set())
    record = soak.write(tmp_path / "soak.json", conductor, 30.0)
    assert record["vad"] == {"audio_frames_lost": 7, "frames_received": 5000, "messages_lost": 0}
    assert record["workers"]["vad"]["frames_refused"] == 3  # malformed frames, not audio
    assert [s["t_s"] for s in record["rss_samples"]][:3] == [0.0, 10.0, 21.0]
    assert record["workers"]["vad"]["rss_mib_start"] > 0
    assert (tmp_path / "soak.json").is_file()
