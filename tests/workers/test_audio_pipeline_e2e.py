"""wavsource -> vad as real processes through a real proxy: segments with the right boundaries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.corpus import speak
from bus.node import Node
from schemas.audio import AudioFrame
from schemas.system import Heartbeat
from schemas.vad import VadSegment, VadState
from tests.bus.conftest import ProxyProc

pytestmark = pytest.mark.slow

GAP_S = 1.5
LEAD_S = 0.7


def _worker(proxy: ProxyProc, name: str, module: str, settings: dict) -> subprocess.Popen:
    env = dict(os.environ)
    env["VOICEBUS_NODE"] = json.dumps(
        {"name": name, "pub_endpoint": proxy.pub, "sub_endpoint": proxy.sub, "settings": settings}
    )
    return subprocess.Popen([sys.executable, "-m", module], env=env)


def _wait_ready(probe: Node, name: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = probe.poll(0.1)
        p = None if msg is None else msg.payload
        if isinstance(p, Heartbeat) and p.worker == name and p.state == "ready":
            return
    raise AssertionError(f"worker {name} did not report ready within {timeout_s} s")


def _make_wav(path: Path) -> list[tuple[float, float]]:
    """Two sentences at 22.05 kHz stereo (the source converts); returns true speech spans."""
    parts, spans, pos = [np.zeros(int(LEAD_S * 16000), np.int16)], [], int(LEAD_S * 16000)
    for i, text in enumerate(["Turn on the light.", "What time is it?"]):
        if i:
            parts.append(np.zeros(int(GAP_S * 16000), np.int16))
            pos += int(GAP_S * 16000)
        s = speak(text, "en")
        nz = np.nonzero(np.abs(s.astype(np.int32)) > 2)[0]
        s = s[nz[0] : nz[-1] + 1]
        spans.append((pos / 16000, (pos + len(s)) / 16000))
        parts.append(s)
        pos += len(s)
    parts.append(np.zeros(16000, np.int16))
    x = np.concatenate(parts).astype(np.float64)
    from scipy.signal import resample_poly

    y = resample_poly(x, 441, 320)  # 16 kHz -> 22.05 kHz
    stereo = np.stack([y, y], axis=1)
    from scipy.io import wavfile

    wavfile.write(path, 22050, np.clip(stereo, -32768, 32767).astype(np.int16))
    return spans


def test_wavsource_to_vad_gives_segments_at_the_true_speech_boundaries(tmp_path: Path) -> None:
    wav = tmp_path / "two.wav"
    spans = _make_wav(wav)
    proxy = ProxyProc(tmp_path)
    procs: list[subprocess.Popen] = []
    try:
        with Node(proxy.config("probe"), signals=False) as probe:
            probe.subscribe("sys.heartbeat", "vad.*", "audio.frame")
            procs.append(_worker(proxy, "vad", "workers.vad", {}))
            _wait_ready(probe, "vad")
            procs.append(
                _worker(
                    proxy,
                    "wavsource",
                    "workers.wavsource",
                    {"files": [str(wav)], "realtime": False},
                )
            )
            states: list[VadState] = []
            segments: list[VadSegment] = []
            frames: list[AudioFrame] = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (
                frames and frames[-1].final and len(segments) >= 2
            ):
                msg = probe.poll(0.1)
                if msg is None:
                    continue
                p = msg.payload
                if isinstance(p, AudioFrame):
                    frames.append(p)
                elif isinstance(p, VadState):
                    states.append(p)
                elif isinstance(p, VadSegment):
                    assert msg.trace == p.segment_id
                    segments.append(p)
            time.sleep(0.3)
            while (msg := probe.poll(0.1)) is not None:
                if isinstance(msg.payload, VadSegment):
                    segments.append(msg.payload)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
        proxy.stop()
    assert [f.index for f in frames] == list(range(len(frames)))  # nothing lost on the way
    t0 = frames[0].capture_ns
    assert [s.speaking for s in states] == [True, False, True, False]
    assert len(segments) == 2
    for seg, (start_s, end_s), on, off in zip(
        segments, spans, states[0::2], states[1::2], strict=True
    ):
        assert seg.closed_by == "silence"
        assert on.segment_id == off.segment_id == seg.segment_id
        assert abs((seg.speech_start_ns - t0) / 1e9 - start_s) < 0.06
        assert abs((seg.speech_end_ns - t0) / 1e9 - end_s) < 0.06
        assert seg.start_ns < seg.speech_start_ns < seg.speech_end_ns < seg.end_ns
        assert len(seg.pcm) == (seg.end_ns - seg.start_ns) * 16000 // 10**9 * 2
