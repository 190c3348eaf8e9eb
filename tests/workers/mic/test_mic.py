"""The mic through real PortAudio: no device (clear error), and an ALSA file device as input.

An ALSA ``type file`` PCM whose ``infile`` is a raw s16le file makes PortAudio capture exactly
those bytes; it is defined in a ``.asoundrc`` under a temporary ``$HOME``. Each case runs in its
own process because ALSA reads its configuration once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tests.bus.conftest import ProxyProc
from tests.workers.cannot_run import cannot_run

pytest.importorskip("pyaudio")
pytestmark = pytest.mark.slow

ASOUNDRC = """
pcm.vbmic {{
  type file
  slave.pcm "null"
  file "/dev/null"
  infile "{infile}"
  format "raw"
  hint {{ show on description "voicebus test microphone" }}
}}
"""


def run_py(code: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOME=str(home))
    env.pop("VOICEBUS_NODE", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )


@pytest.fixture
def alsa_mic(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A HOME whose ALSA config has a 'vbmic' device capturing a 1 kHz tone recorded at 48 kHz."""
    t = np.arange(48000 * 2) / 48000
    x = (np.sin(2 * np.pi * 1000 * t) * 8000).astype("<i2")
    raw = tmp_path / "in48k.raw"
    raw.write_bytes(x.tobytes())
    (tmp_path / ".asoundrc").write_text(ASOUNDRC.format(infile=raw))
    return tmp_path, x


def test_an_unknown_device_is_an_error_naming_the_devices_that_exist(tmp_path: Path) -> None:
    r = run_py(
        """
        from workers.mic.capture import MicCapture
        from workers.mic.settings import MicSettings
        from audio.devices import AudioDeviceError
        try:
            MicCapture(MicSettings(device="no-such-microphone"))
        except AudioDeviceError as exc:
            print("ERROR:", exc)
        """,
        tmp_path,
    )
    assert "ERROR: No input device name contains 'no-such-microphone'" in r.stdout, r.stderr
    assert "input devices are" in r.stdout


def test_a_machine_without_a_default_input_says_so(tmp_path: Path) -> None:
    r = run_py(
        """
        from audio.devices import open_pyaudio, list_devices
        from workers.mic.capture import MicCapture
        from workers.mic.settings import MicSettings
        from audio.devices import AudioDeviceError
        pa = open_pyaudio()
        if any(d.max_input_channels for d in list_devices(pa)):
            print("HAS-DEVICES")
        else:
            try:
                MicCapture(MicSettings(device=None), pa=pa)
            except AudioDeviceError as exc:
                print("ERROR:", exc)
        """,
        tmp_path,
    )
    if "HAS-DEVICES" in r.stdout:
        pytest.skip("this machine has input devices")
    assert "ERROR: There is no default input device" in r.stdout, r.stderr
    assert "no input audio devices" in r.stdout


def test_list_prints_the_devices(alsa_mic: tuple[Path, np.ndarray]) -> None:
    home, _ = alsa_mic
    env = dict(os.environ, HOME=str(home))
    r = subprocess.run(
        [sys.executable, "-m", "workers.mic", "--list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "vbmic" in r.stdout


def test_capture_at_48k_through_portaudio_is_resampled_to_16k_frames(
    alsa_mic: tuple[Path, np.ndarray],
) -> None:
    home, x = alsa_mic
    r = run_py(
        """
        import numpy as np
        from workers.mic.capture import MicCapture
        from workers.mic.settings import MicSettings
        from audio.capture import CaptureConverter
        mic = MicCapture(MicSettings(device="vbmic", capture_rate_hz=48000, queue_s=100))
        mic.stream.start_stream()
        conv = CaptureConverter(mic.rate_hz, 1, 20)
        raw, frames = [], []
        while len(frames) < 90:
            buf, t, lost = mic.queue.get(timeout=10)
            raw.append(buf)
            frames += conv.push(buf, t, lost)
        mic.close()
        np.save("raw.npy", np.frombuffer(b"".join(raw), "<i2"))
        np.save("out.npy", np.frombuffer(b"".join(f.pcm for f in frames), "<i2"))
        print("INDICES", [f.index for f in frames] == list(range(len(frames))))
        print("SIZES", {len(f.pcm) for f in frames})
        """.replace('"raw.npy"', repr(str(home / "raw.npy"))).replace(
            '"out.npy"', repr(str(home / "out.npy"))
        ),
        home,
    )
    assert r.returncode == 0, r.stderr
    assert "INDICES True" in r.stdout
    assert "SIZES {640}" in r.stdout
    raw = np.load(home / "raw.npy")
    np.testing.assert_array_equal(raw[: len(x)], x[: len(raw)])  # PortAudio captured the file
    out = np.load(home / "out.npy")[800:-800].astype(np.float64)
    spec = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    assert abs(np.argmax(spec) * 16000 / len(out) - 1000) < 15
    assert abs(out.std() - 8000 / np.sqrt(2)) < 8000 * 0.02


def test_mic_worker_publishes_frames_and_loss_metrics_on_the_bus(
    alsa_mic: tuple[Path, np.ndarray],
) -> None:
    from bus import Node
    from schemas.audio import AudioFrame
    from schemas.system import Metric

    home, _ = alsa_mic
    proxy = ProxyProc(home)
    env = dict(os.environ, HOME=str(home))
    env["VOICEBUS_NODE"] = json.dumps({
        "name": "mic", "pub_endpoint": proxy.pub, "sub_endpoint": proxy.sub,
        "settings": {"device": "vbmic", "capture_rate_hz": 48000, "metrics_every_s": 0.2},
    })  # fmt: skip
    frames: list[AudioFrame] = []
    metrics: dict[str, float] = {}
    try:
        with Node(proxy.config("probe"), signals=False) as probe:
            probe.subscribe("audio.frame", "sys.metric")
            mic = subprocess.Popen([sys.executable, "-m", "workers.mic"], env=env)
            try:
                deadline = time.monotonic() + 60
                names = {"mic.overruns", "mic.dropped_buffers"}
                while time.monotonic() < deadline and not (
                    len(frames) >= 50 and names <= set(metrics)
                ):
                    msg = probe.poll(0.1)
                    if msg is not None and isinstance(msg.payload, AudioFrame):
                        frames.append(msg.payload)
                    elif msg is not None and isinstance(msg.payload, Metric):
                        metrics[msg.payload.name] = msg.payload.value
            finally:
                mic.terminate()
                assert mic.wait(timeout=20) == 0
    finally:
        proxy.stop()
    assert len(frames) >= 50
    assert {f.source for f in frames} == {"vbmic"}
    assert all(len(f.pcm) == 640 and f.sample_rate_hz == 16000 for f in frames)
    assert {"mic.overruns", "mic.dropped_buffers"} <= set(metrics)


def test_the_worker_with_no_such_device_cannot_run_and_lists_the_devices(
    alsa_mic: tuple[Path, np.ndarray], proxy: ProxyProc
) -> None:
    home, _ = alsa_mic
    reason = cannot_run(
        "workers.mic", {"device": "no-such-microphone"}, home, proxy=proxy, env={"HOME": str(home)}
    )
    assert reason.startswith("No input device name contains 'no-such-microphone'.")
    assert "vbmic" in reason  # the devices that exist are listed
