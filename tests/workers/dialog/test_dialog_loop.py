"""The dialog's recipe: its loop on simulated time, its turn metrics, its cannot-run path."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus import MemoryBus, Out
from schemas.dialog import TurnMetrics
from schemas.system import Metric
from schemas.tts import TtsRequest
from schemas.vad import VadState
from tests.fakeclock import MS, FakeClock
from tests.workers.cannot_run import cannot_run
from workers.dialog.__main__ import publish, run
from workers.dialog.manifest import MANIFEST


def test_the_loop_s_tick_apologises_for_a_lost_transcript_at_its_deadline() -> None:
    clock = FakeClock()
    bus = MemoryBus(clock=clock, sleep=clock.sleep)
    settings = {"wake": "always", "warm_up": False, "asr_timeout_s": 2.0, "tick_s": 0.05}
    node = bus.node("dialog", settings, manifest=MANIFEST)
    vad, probe = bus.node("vad"), bus.node("probe")
    probe.subscribe("tts.request")
    t0 = clock.now_ns
    vad.publish("vad.state", VadState(speaking=True, segment_id="t1", at_ns=t0), trace="t1")
    vad.publish("vad.state", VadState(speaking=False, segment_id="t1", at_ns=t0), trace="t1")
    clock.run_for(3.0)  # no transcript ever comes
    run(node)
    msg, *_ = [m for m in probe if isinstance(m.payload, TtsRequest) and m.payload.text]
    assert (
        isinstance(msg.payload, TtsRequest) and msg.payload.text == "Sorry, I did not catch that."
    )
    assert msg.trace == "t1"
    assert t0 + 2000 * MS <= msg.ts_ns <= t0 + 2050 * MS  # on the first tick after the deadline


def test_a_finished_turn_s_latency_goes_out_as_metric_samples_with_its_trace() -> None:
    bus = MemoryBus()
    node, probe = bus.node("dialog", manifest=MANIFEST), bus.node("probe")
    probe.subscribe("dialog.turn", "sys.metric")
    turn = TurnMetrics(turn_id="t1", end_to_end_ms=900.0, bus_ms=4.0, outcome="answered")
    ignored = TurnMetrics(turn_id="t2", outcome="ignored")
    publish(node, [Out("dialog.turn", turn, "t1"), Out("dialog.turn", ignored, "t2")])
    got = list(probe)
    assert [m.topic for m in got[:2]] == ["dialog.turn", "dialog.turn"]
    metrics = {m.payload.name: m.payload.value for m in got if isinstance(m.payload, Metric)}
    assert metrics["turn_end_to_end_ms"] == 900.0 and metrics["turn_bus_ms"] == 4.0
    assert {m.trace for m in got if isinstance(m.payload, Metric)} == {"t1"}  # not the ignored


@pytest.mark.slow
def test_the_worker_with_a_zero_tick_cannot_run_and_names_the_key(tmp_path: Path) -> None:
    reason = cannot_run("workers.dialog", {"tick_s": 0}, tmp_path)
    assert reason.startswith("Invalid settings of worker 'dialog': settings.tick_s: ")
