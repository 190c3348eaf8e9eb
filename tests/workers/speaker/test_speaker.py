"""The speaker: queueing, stop within one buffer with a report of the cut, WAV and PortAudio."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from audio.playback import PlaybackQueue
from audio.wavio import read_wav
from bus import MemoryBus
from schemas.speaker import SpeakerReport, SpeakerStop
from schemas.tts import TtsAudio
from tests.bus.conftest import ProxyProc
from tests.fakeclock import MS, FakeClock
from tests.workers.cannot_run import cannot_run
from workers.speaker.__main__ import serve
from workers.speaker.manifest import MANIFEST
from workers.speaker.settings import SpeakerSettings
from workers.speaker.speaker import Speaker


def audio(turn: str, index: int, seconds: float, rate: int = 16000, final: bool = False):
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * 440 * t) * 10000).astype("<i2").tobytes()
    return TtsAudio(pcm=pcm, sample_rate_hz=rate, turn_id=turn, index=index, final=final)


def test_turn_plays_in_order_and_reports_started_then_finished() -> None:
    sp = Speaker(SpeakerSettings(backend="wav", sample_rate_hz=16000, buffer_ms=20))
    sp.on_audio(audio("t1", 0, 0.1))
    sp.on_audio(audio("t1", 1, 0.1, final=True))
    events = []
    for _ in range(15):
        events += sp.pull()[1]
    assert [(e.event, round(e.played_ms)) for e in events] == [("started", 0), ("finished", 200)]


def test_stop_cuts_within_one_buffer_and_reports_what_was_cut(tmp_path: Path) -> None:
    sp = Speaker(
        SpeakerSettings(backend="wav", sample_rate_hz=16000, buffer_ms=20, out_dir=tmp_path)
    )
    sp.on_audio(audio("t1", 0, 1.0, final=True))
    for _ in range(10):
        sp.pull()
    reports = sp.on_stop(SpeakerStop(turn_id=""))
    assert len(reports) == 1
    r = reports[0]
    assert (r.turn_id, r.event) == ("t1", "cut")
    assert r.played_ms == pytest.approx(200.0)
    assert r.cut_ms == pytest.approx(800.0)
    pcm, _ = sp.pull()
    assert not np.frombuffer(pcm, "<i2").any()  # the very next buffer is silence
    assert len(read_wav(r.path)) == 3200  # the WAV holds what was played
    # Late sentences of a stopped turn are not played, and say so at once.
    (late,) = sp.on_audio(audio("t1", 1, 0.5, final=True))
    assert sp.queue.queued_ms() == 0
    assert (late.turn_id, late.event, late.played_ms) == ("t1", "cut", 0.0)
    assert late.cut_ms == pytest.approx(500.0)
    assert sp.on_audio(audio("t2", 0, 0.1, final=True)) == []  # another turn plays as usual


def test_stop_of_one_turn_leaves_the_next_turn_queued() -> None:
    q = PlaybackQueue(16000)
    q.enqueue("a", np.ones(1600, np.int16), True)
    q.enqueue("b", np.ones(1600, np.int16), True)
    (cut,) = q.stop("a")
    assert cut.turn_id == "a"
    assert q.queued_ms() == pytest.approx(100.0)


def test_other_rates_are_resampled_to_the_output_rate() -> None:
    sp = Speaker(SpeakerSettings(backend="wav", sample_rate_hz=48000))
    sp.on_audio(audio("t", 0, 1.0, rate=22050, final=True))
    assert sp.queue.queued_ms() == pytest.approx(1000.0, abs=1.0)


def test_the_loop_plays_at_the_device_pace_and_a_stop_cuts_the_turn(tmp_path: Path) -> None:
    clock = FakeClock()
    bus = MemoryBus(clock=clock, sleep=clock.sleep)
    settings = SpeakerSettings(backend="wav", sample_rate_hz=16000, out_dir=tmp_path)
    node = bus.node("speaker", settings.model_dump(mode="json"), manifest=MANIFEST)
    dialog, tap = bus.node("dialog"), bus.node("tap")
    tap.subscribe("speaker.report")
    speaker = Speaker(settings)
    dialog.publish("tts.audio", audio("turn-1", 0, 0.3, final=True), trace="turn-1")
    start = clock.now_ns
    clock.run_for(1.0)
    serve(node, speaker, None)
    got = [m.payload for m in tap]
    assert [(p.event, p.turn_id) for p in got] == [("started", "turn-1"), ("finished", "turn-1")]  # type: ignore[union-attr]
    finished = got[-1]
    assert isinstance(finished, SpeakerReport) and finished.path.endswith("turn-1.wav")
    assert len(read_wav(finished.path)) == 16000 * 3 // 10

    dialog.publish("tts.audio", audio("turn-2", 0, 2.0, final=True), trace="turn-2")
    clock.run_for(0.5)  # half a second of it plays, then the loop ends (a test horizon)
    serve(node, speaker, None)
    dialog.publish("speaker.stop", SpeakerStop(turn_id="turn-2"))
    serve(node, speaker, None)
    started, cut = [m.payload for m in tap]
    assert isinstance(started, SpeakerReport) and started.event == "started"
    assert isinstance(cut, SpeakerReport) and cut.event == "cut" and cut.turn_id == "turn-2"
    assert cut.played_ms == pytest.approx(500.0, abs=20.0)  # simulated time: one buffer
    assert cut.played_ms + cut.cut_ms == pytest.approx(2000.0)
    assert (clock.now_ns - start) // MS == 1500


@pytest.mark.slow
def test_pyaudio_output_plays_on_the_alsa_null_device(tmp_path: Path) -> None:
    pytest.importorskip("pyaudio")
    (tmp_path / ".asoundrc").write_text("pcm.!default { type null }\n")
    code = """
        import time
        from schemas.tts import TtsAudio
        from workers.speaker.output import PyAudioOutput
        from workers.speaker.settings import SpeakerSettings
        from workers.speaker.speaker import Speaker
        sp = Speaker(SpeakerSettings(backend="pyaudio", sample_rate_hz=48000, device="default"))
        out = PyAudioOutput(sp)
        sp.on_audio(TtsAudio(pcm=b"\\x10\\x00" * 4800, sample_rate_hz=48000, turn_id="t",
                             index=0, final=True))
        out.stream.start_stream()
        events = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(e.event == "finished" for e in events):
            time.sleep(0.02)
            events += out.take_events()
        out.close()
        print("EVENTS", [e.event for e in events])
    """
    env = dict(os.environ, HOME=str(tmp_path))
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "EVENTS ['started', 'finished']" in r.stdout, r.stderr[-2000:]


@pytest.mark.slow
def test_speaker_process_cuts_a_turn_on_stop_and_reports_it(tmp_path: Path) -> None:
    import json
    import time

    from bus import Node
    from schemas.system import Heartbeat

    proxy = ProxyProc(tmp_path)
    env = dict(os.environ)
    env["VOICEBUS_NODE"] = json.dumps({
        "name": "speaker", "pub_endpoint": proxy.pub, "sub_endpoint": proxy.sub,
        "settings": {"backend": "wav", "sample_rate_hz": 16000, "out_dir": str(tmp_path / "out")},
    })  # fmt: skip
    reports: list[SpeakerReport] = []
    try:
        with Node(proxy.config("dialog"), signals=False) as dialog:
            dialog.subscribe("speaker.report", "sys.heartbeat")
            proc = subprocess.Popen([sys.executable, "-m", "workers.speaker"], env=env)
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    msg = dialog.poll(0.1)
                    p = None if msg is None else msg.payload
                    if isinstance(p, Heartbeat) and p.worker == "speaker" and p.state == "ready":
                        break
                time.sleep(0.2)
                dialog.publish("tts.audio", audio("turn-9", 0, 5.0, final=True), trace="turn-9")
                while time.monotonic() < deadline and not reports:
                    msg = dialog.poll(0.1)
                    if msg is not None and isinstance(msg.payload, SpeakerReport):
                        reports.append(msg.payload)  # "started"
                time.sleep(0.5)
                dialog.publish("speaker.stop", SpeakerStop(turn_id="turn-9"))
                while time.monotonic() < deadline and len(reports) < 2:
                    msg = dialog.poll(0.1)
                    if msg is not None and isinstance(msg.payload, SpeakerReport):
                        reports.append(msg.payload)
            finally:
                proc.terminate()
                proc.wait(timeout=20)
    finally:
        proxy.stop()
    assert [r.event for r in reports] == ["started", "cut"]
    cut = reports[1]
    assert 300 < cut.played_ms < 4000  # paced in real time, stopped mid-way
    assert cut.played_ms + cut.cut_ms == pytest.approx(5000.0)
    assert len(read_wav(cut.path)) == pytest.approx(cut.played_ms * 16, abs=16)


@pytest.mark.slow
def test_the_worker_with_no_such_device_cannot_run_and_lists_the_devices(
    tmp_path: Path, proxy: ProxyProc
) -> None:
    settings = {"backend": "pyaudio", "device": "no-such-device-xyz"}
    reason = cannot_run("workers.speaker", settings, tmp_path, proxy=proxy)
    assert "no-such-device-xyz" in reason or "pyaudio is not installed" in reason
