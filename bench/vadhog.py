"""wavsource -> vad through the real bus while CPU hogs saturate every core (used by ``bench.vad``).

A proxy, the ``vad`` worker, a looping real-time ``wavsource`` and a probe node run as separate
processes; ``hogs`` busy-loop processes (default: two per core) keep every core at 100 %. The
probe checks that ``audio.frame`` indices and the per-publisher sequence numbers have no gap, and
reads the vad worker's own heartbeat counters (``received``, ``gaps``). Each closed segment is
matched to the looped ground truth to measure speech end -> segment received latency.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.corpus import Manifest
from bench.vadeval import pct
from bus.node import Node
from bus.nodeconfig import NodeConfig
from schemas.audio import AudioFrame
from schemas.system import Heartbeat
from schemas.vad import VadSegment
from workers.wavsource.playout import load_files

__all__ = ["hog_run"]

#: Worker logs of the last run (for diagnosis; ignored by git).
LOG_DIR = Path(__file__).resolve().parent / "results" / "tmp"
_HOG = "import os\nwhile True:\n    pass\n"


def _spawn(
    name: str, module: str, pub: str, sub: str, settings: dict[str, Any]
) -> subprocess.Popen:
    env = dict(os.environ)
    env["VOICEBUS_NODE"] = json.dumps(
        {"name": name, "pub_endpoint": pub, "sub_endpoint": sub, "settings": settings}
    )
    log = LOG_DIR / f"vadhog-{name}.log"
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as err:
        return subprocess.Popen([sys.executable, "-m", module], env=env, stderr=err)


def hog_run(manifest: Manifest, seconds: float, hogs: int | None = None) -> dict[str, Any]:
    """Run the pipeline for ``seconds`` under CPU hogs; return frame-loss and latency figures."""
    files = [f for f in manifest.files if f.noise == "none"]
    paths = [Path(f.path) for f in files]
    period_s = len(load_files(paths)) / 16000
    truth_ends: list[float] = []
    offset = 0.0
    for f in files:
        truth_ends += [offset + u.end_s for u in f.utterances]
        offset += f.duration_s
    n_hogs = hogs if hogs is not None else 2 * (os.cpu_count() or 1)
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="vbhog-") as tmp:
        pub, sub = f"ipc://{tmp}/pub", f"ipc://{tmp}/sub"
        proxy = subprocess.Popen(
            [sys.executable, "-m", "bus.proxy", "--xsub", pub, "--xpub", sub],
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not Path(f"{tmp}/sub").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            probe = Node(
                NodeConfig(name="probe", pub_endpoint=pub, sub_endpoint=sub), signals=False
            )
            probe.subscribe("audio.frame", "vad.segment", "sys.heartbeat")
            vad = _spawn("vad", "workers.vad", pub, sub, {})
            procs.append(vad)
            _wait_ready(probe, "vad")
            src = _spawn(
                "wavsource",
                "workers.wavsource",
                pub,
                sub,
                {"files": [str(p) for p in paths], "realtime": True, "loop": True},
            )
            procs.append(src)
            _wait_topic(probe, "audio.frame")  # the hogs start once audio flows
            procs += [subprocess.Popen([sys.executable, "-c", _HOG]) for _ in range(n_hogs)]
            vad_cpu0 = psutil.Process(vad.pid).cpu_times()
            result = _collect(probe, seconds, period_s, truth_ends)
            cpu = psutil.Process(vad.pid).cpu_times()
            result["vad_cpu_s_per_audio_s"] = round(
                (cpu.user + cpu.system - vad_cpu0.user - vad_cpu0.system) / max(1e-9, seconds), 4
            )
            result["load_avg_1m"] = round(os.getloadavg()[0], 2)
            src.terminate()
            src.wait(timeout=10)
            last = _last_heartbeat(probe, "vad", 3.0)
            result["vad_heartbeat"] = {k: last.get(k) for k in ("received", "gaps", "dropped")}
            probe.close()
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
            proxy.terminate()
            proxy.wait(timeout=10)
    result.update(seconds=seconds, hogs=n_hogs, cores=os.cpu_count())
    return result


def _wait_ready(probe: Node, name: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = probe.poll(0.1)
        p = None if msg is None else msg.payload
        if isinstance(p, Heartbeat) and p.worker == name and p.state == "ready":
            return
    raise RuntimeError(f"worker {name} did not report ready within {timeout_s} s")


def _wait_topic(probe: Node, topic: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = probe.poll(0.1)
        if msg is not None and msg.topic == topic:
            return
    raise RuntimeError(f"nothing on {topic} within {timeout_s} s; is the worker failing?")


def _last_heartbeat(probe: Node, name: str, wait_s: float) -> dict[str, Any]:
    last: dict[str, Any] = {}
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        msg = probe.poll(0.1)
        if msg is not None and isinstance(msg.payload, Heartbeat) and msg.payload.worker == name:
            last = msg.payload.model_dump()
    return last


def _collect(probe: Node, seconds: float, period_s: float, truth_ends: list[float]) -> dict:
    t0: int | None = None
    next_index = 0
    index_gaps = 0
    frames = 0
    latency_ms: list[float] = []
    close_ms: list[float] = []
    end_err_ms: list[float] = []
    segments = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        msg = probe.poll(0.1)
        if msg is None:
            continue
        p = msg.payload
        now = time.monotonic_ns()
        if isinstance(p, AudioFrame):
            if t0 is None:
                t0 = p.capture_ns - p.index * 20_000_000
                next_index = p.index
            index_gaps += max(0, p.index - next_index)
            next_index = p.index + 1
            frames += 1
        elif isinstance(p, VadSegment) and t0 is not None:
            segments += 1
            end_s = (p.speech_end_ns - t0) / 1e9
            loop_i, within = divmod(end_s, period_s)
            true_end = min(truth_ends, key=lambda e: abs(e - within))
            true_ns = t0 + int((loop_i * period_s + true_end) * 1e9)
            end_err_ms.append((p.speech_end_ns - true_ns) / 1e6)
            latency_ms.append((now - true_ns) / 1e6)
            close_ms.append((p.decided_ns - true_ns) / 1e6)
    return {
        "frames_received": frames,
        "frame_index_gaps": index_gaps,
        "probe_seq_gaps": probe.stats.gaps,
        "segments": segments,
        "end_err_ms_p50": _r(pct(end_err_ms, 0.5)),
        "close_latency_ms": {
            "p50": _r(pct(close_ms, 0.5)),
            "p90": _r(pct(close_ms, 0.9)),
            "max": _r(max(close_ms, default=None)),
        },
        "received_latency_ms": {
            "p50": _r(pct(latency_ms, 0.5)),
            "p90": _r(pct(latency_ms, 0.9)),
            "max": _r(max(latency_ms, default=None)),
        },
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)
