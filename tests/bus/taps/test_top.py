"""bus.taps.top: per-topic rates, ages and gaps; per-worker state, CPU, memory and restarts."""

from __future__ import annotations

import json
import math
import os
import time

import pytest

from bus.framing import decode
from bus.node import Node
from bus.taps.observe import BusObserver, ProcessSampler, percentile
from bus.taps.tapnode import Received, TapStats
from bus.taps.top import render, snapshot
from schemas import AsrText, Heartbeat, LifecycleEvent, TurnMetrics
from schemas.system import BusReaders
from tests.bus.conftest import ProxyProc
from tests.bus.taps.tapsupport import received, start


def _feed(obs: BusObserver, item: Received, gap: int = 0) -> None:
    obs.observe(item, decode(item.frames), gap)


def test_percentile_is_nearest_rank() -> None:
    values = [float(x) for x in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert math.isnan(percentile([], 0.5))


def test_topic_rows_count_messages_bytes_ages_gaps_and_malformed() -> None:
    obs = BusObserver(window_s=5.0)
    for i in range(10):
        item = received("asr.text", AsrText(text="x", segment_id="s"), seq=i + 1, age_ns=200_000)
        _feed(obs, item, gap=1 if i == 5 else 0)
    bad = Received(time.monotonic_ns(), [b"asr.text", b"\xc1"])
    obs.observe(bad, ValueError("bad"))
    (row,) = obs.topic_rows()
    assert row["topic"] == "asr.text"
    assert row["messages"] == 10 and row["gaps"] == 1 and row["malformed"] == 1
    assert row["bytes"] > 0 and row["msgs_per_s"] > 0
    assert 200 <= row["age_p50_us"] < 200 + 1e6  # received 200 us after publishing (+ test)


def test_worker_state_comes_from_heartbeats_then_lifecycle_events() -> None:
    obs = BusObserver()
    hb = Heartbeat(worker="asr", pid=os.getpid(), state="ready", uptime_s=3.0, restarts=2)
    _feed(obs, received("sys.heartbeat", hb))
    sampler = ProcessSampler()
    sampler.prime(os.getpid())
    (row,) = obs.worker_rows(sampler)
    assert row["state"] == "ready" and row["restarts"] == 2 and row["pid"] == os.getpid()
    assert row["rss_mb"] > 1 and row["cpu_percent"] >= 0
    ev = LifecycleEvent(worker="asr", event="exited", pid=os.getpid(), exit_code=-9, restarts=3)
    _feed(obs, received("sys.lifecycle", ev))
    (row,) = obs.worker_rows()
    assert row["state"] == "exited" and row["exit_code"] == -9 and row["restarts"] == 3
    future = time.monotonic_ns() + 10 * 10**9
    obs.workers["asr"].event_ns = 0
    assert obs.worker_rows(now_ns=future)[0]["state"] == "silent"


def test_render_shows_both_tables() -> None:
    obs = BusObserver()
    _feed(obs, received("asr.text", AsrText(text="x", segment_id="s")))
    hb = Heartbeat(worker="asr", pid=1, state="ready", uptime_s=3.0)
    _feed(obs, received("sys.heartbeat", hb))
    text = render(snapshot(obs, TapStats(lost=4)))
    assert "lost by tap 4" in text
    assert "asr.text" in text and "AGE p99" in text
    assert "asr" in text.split("WORKER")[1] and "ready" in text


def test_the_proxys_word_on_shared_memory_is_shown() -> None:
    obs = BusObserver()
    assert "shared memory" not in render(snapshot(obs, TapStats()))  # not heard: no line
    off = BusReaders(shm=False, readers=6, shm_readers=5, remote_readers=0)
    _feed(obs, received("sys.bus", off))
    snap = snapshot(obs, TapStats())
    assert snap["bus"] == off.model_dump()
    line = next(x for x in render(snap).splitlines() if x.startswith("bus:"))
    assert "shared memory OFF  readers 6  read rings 5  on tcp 0" in line
    _feed(obs, received("sys.bus", off.model_copy(update={"shm": True, "readers": 5})))
    assert "bus: shared memory on  readers 5" in render(snapshot(obs, TapStats()))


def test_the_last_turns_latency_breakdown_is_shown() -> None:
    obs = BusObserver()
    for i in range(7):
        turn = TurnMetrics(
            turn_id=f"t{i}",
            user_text=f"question {i}",
            outcome="answered",
            vad_close_ms=411,
            asr_partial_ms=260,
            asr_ms=2,
            speculative=True,
            llm_ttft_ms=150,
            first_clause_ms=330,
            tts_ms=50,
            first_audio_ms=380,
            end_to_end_ms=1500 + i,
            bus_ms=7.5,
        )
        _feed(obs, received("dialog.turn", turn))
    snap = snapshot(obs, TapStats())
    assert [t["turn_id"] for t in snap["turns"]] == ["t2", "t3", "t4", "t5", "t6"]
    text = render(snap)
    row = next(line for line in text.splitlines() if line.startswith("question 6"))
    cells = ["answered", "411", "260", "2s", "150", "330", "50", "380", "1506", "-", "7.5"]
    assert row.split()[2:] == cells  # the STOP stage was not measured: "-"


@pytest.mark.slow
def test_top_once_json_lists_topics_and_a_live_worker(proxy: ProxyProc) -> None:
    with Node(proxy.config("asr", heartbeat_ms=100), signals=False) as node:
        node.ready()
        top = start(["bus.taps.top", "--once", "--json", "--interval", "1.5"], proxy)
        for i in range(20):
            node.publish("asr.text", AsrText(text=str(i), segment_id="s"))
            time.sleep(0.05)
        out, _ = top.communicate(timeout=30)
    snap = json.loads(out)
    topics = {t["topic"]: t for t in snap["topics"]}
    assert topics["asr.text"]["messages"] > 0
    assert topics["asr.text"]["age_p99_us"] is not None
    (worker,) = [w for w in snap["workers"] if w["name"] == "asr"]
    assert worker["state"] == "ready" and worker["pid"] == os.getpid()
    assert worker["rss_mb"] > 1
