"""The ``asr`` worker as a real process on a real proxy: ready, answers, clean stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bus import Node
from schemas.asr import AsrText
from schemas.system import Heartbeat
from schemas.vad import VadSegment
from tests.bus.conftest import ProxyProc
from tests.workers.asr.conftest import EXPECTED_TEXT, FakeSenseVoice
from tests.workers.cannot_run import cannot_run

pytestmark = pytest.mark.slow


def start_worker(proxy: ProxyProc, settings: dict) -> subprocess.Popen:
    env = dict(os.environ)
    env["VOICEBUS_NODE"] = json.dumps(
        {"name": "asr", "pub_endpoint": proxy.pub, "sub_endpoint": proxy.sub, "settings": settings}
    )
    return subprocess.Popen(
        [sys.executable, "-m", "workers.asr"], env=env, stderr=subprocess.PIPE, text=True
    )


def test_worker_process_answers_a_segment_and_stops_cleanly(
    fake_sensevoice: FakeSenseVoice, tmp_path: Path
) -> None:
    proxy = ProxyProc(tmp_path)
    settings = {"backend": "sensevoice-onnx", "sensevoice": {"model_dir": str(fake_sensevoice.dir)}}
    proc = start_worker(proxy, settings)
    try:
        with Node(proxy.config("probe"), signals=False) as probe:
            probe.subscribe("sys.heartbeat", "asr.text")
            deadline = time.monotonic() + 60
            ready = False
            while not ready and time.monotonic() < deadline:
                msg = probe.poll(0.1)
                p = None if msg is None else msg.payload
                ready = isinstance(p, Heartbeat) and p.worker == "asr" and p.state == "ready"
            assert ready, "the asr worker did not report ready"
            pcm = fake_sensevoice.tone_audio(EXPECTED_TEXT).tobytes()
            segment = VadSegment(pcm=pcm, segment_id="s-9", start_ns=1, end_ns=2)
            probe.publish("vad.segment", segment, trace="s-9")
            answer, trace = None, ""
            while answer is None and time.monotonic() < deadline:
                msg = probe.poll(0.1)
                if msg is not None and isinstance(msg.payload, AsrText):
                    answer, trace = msg.payload, msg.trace
            assert answer is not None, "no asr.text came back"
            assert trace == "s-9" and answer.text == EXPECTED_TEXT
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proxy.stop()


def test_worker_process_with_a_missing_model_file_cannot_run_and_names_it(
    tmp_path: Path, proxy: ProxyProc
) -> None:
    (tmp_path / "model").mkdir()
    settings = {"backend": "sensevoice-onnx", "sensevoice": {"model_dir": str(tmp_path / "model")}}
    reason = cannot_run("workers.asr", settings, tmp_path, proxy=proxy)
    assert "lacks sense-voice-encoder.onnx, embedding.npy, am.mvn" in reason


def test_worker_process_with_a_missing_model_directory_cannot_run_and_names_it(
    tmp_path: Path, proxy: ProxyProc
) -> None:
    model_dir = tmp_path / "no-such-dir"
    settings = {"backend": "sensevoice-onnx", "sensevoice": {"model_dir": str(model_dir)}}
    reason = cannot_run("workers.asr", settings, tmp_path, proxy=proxy)
    assert reason.startswith(f"The SenseVoice model directory {model_dir} does not exist.")
