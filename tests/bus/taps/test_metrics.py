"""bus.taps.metrics: the Prometheus text format of topics, workers, sys.metric and dialog.turn."""

from __future__ import annotations

import os
import re
import time
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bus.framing import decode
from bus.node import Node
from bus.taps.metrics import BusMetrics
from bus.taps.tapnode import Received, TapStats
from schemas import AsrText, Heartbeat, Metric
from schemas.dialog import TurnMetrics
from tests.bus.conftest import ProxyProc
from tests.bus.taps.tapsupport import received, start_with_line


def _samples(collector: BusMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(collector)
    text = generate_latest(reg).decode()
    out = {}
    for fam in text_string_to_metric_families(text):  # also proves the text parses
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def _feed(m: BusMetrics, item: Received) -> None:
    m.observe(item, decode(item.frames))


def test_topics_get_counters_rates_gaps_and_an_age_histogram() -> None:
    m = BusMetrics()
    for i in range(3):
        _feed(m, received("asr.text", AsrText(text="x", segment_id="s"), seq=i + 1, age_ns=200_000))
    m.observe(Received(time.monotonic_ns(), [b"asr.text", b"\xc1"]), ValueError("bad"))
    m.set_tap_stats(TapStats(received=4, lost=2, malformed=1))
    s = _samples(m)
    t = frozenset({("topic", "asr.text")})
    assert s[("voicebus_topic_messages_total", t)] == 3
    assert s[("voicebus_topic_malformed_total", t)] == 1
    assert s[("voicebus_topic_rate_messages_per_second", t)] > 0
    assert s[("voicebus_topic_age_seconds_count", t)] == 3
    assert s[("voicebus_topic_age_seconds_bucket", t | {("le", "0.00025")})] == 3
    assert s[("voicebus_tap_lost_total", frozenset())] == 2


def test_heartbeats_become_worker_gauges() -> None:
    m = BusMetrics()
    hb = Heartbeat(worker="vad", pid=os.getpid(), state="ready", uptime_s=9.0, restarts=1)
    _feed(m, received("sys.heartbeat", hb))
    s = _samples(m)
    w = frozenset({("worker", "vad")})
    assert s[("voicebus_worker_up", w)] == 1
    assert s[("voicebus_worker_restarts", w)] == 1
    assert s[("voicebus_worker_uptime_seconds", w)] == 9.0
    assert s[("voicebus_worker_state", w | {("state", "ready")})] == 1
    assert s[("voicebus_worker_state", w | {("state", "silent")})] == 0


def test_every_sys_metric_is_exported_with_its_labels_and_kind() -> None:
    m = BusMetrics()
    for value in (0.1, 0.3):
        metric = Metric(name="asr_rtf", value=value, kind="sample", worker="asr",
                        labels={"backend": "whisper"})  # fmt: skip
        _feed(m, received("sys.metric", metric))
    _feed(m, received("sys.metric", Metric(name="queue_len", value=3, worker="vad")))
    _feed(m, received("sys.metric", Metric(name="frames", value=50, kind="counter", worker="w")))
    s = _samples(m)
    lab = frozenset({("worker", "asr"), ("backend", "whisper")})
    assert s[("voicebus_metric_asr_rtf_count", lab)] == 2
    assert s[("voicebus_metric_asr_rtf_sum", lab)] == pytest.approx(0.4)
    assert s[("voicebus_metric_asr_rtf_last", lab)] == 0.3
    assert s[("voicebus_metric_queue_len", frozenset({("worker", "vad")}))] == 3
    assert s[("voicebus_metric_frames_total", frozenset({("worker", "w")}))] == 50


def test_dialog_turns_become_latency_histograms_per_stage() -> None:
    m = BusMetrics()
    turn = TurnMetrics(turn_id="t", end_to_end_ms=1200.0, asr_ms=300.0)
    _feed(m, received("dialog.turn", turn))
    s = _samples(m)
    o = frozenset({("outcome", "answered")})
    assert s[("voicebus_turn_end_to_end_seconds_sum", o)] == pytest.approx(1.2)
    assert s[("voicebus_turn_asr_seconds_bucket", o | {("le", "0.5")})] == 1
    assert ("voicebus_turn_llm_ttft_seconds_count", o) not in s  # not measured: left out
    stop = TurnMetrics(turn_id="u", stop_ms=260.0, bus_ms=2.5, speculative=True, outcome="command")
    _feed(m, received("dialog.turn", stop))
    s = _samples(m)
    c = frozenset({("outcome", "command")})
    assert s[("voicebus_turn_stop_seconds_bucket", c | {("le", "0.4")})] == 1
    assert s[("voicebus_turn_bus_seconds_bucket", c | {("le", "0.001")})] == 0
    assert s[("voicebus_turn_bus_seconds_bucket", c | {("le", "0.0025")})] == 1  # ms buckets
    assert s[("voicebus_turn_speculative_total", c)] == 1


@pytest.mark.slow
def test_the_exporter_serves_on_localhost(proxy: ProxyProc) -> None:
    exporter, line = start_with_line(["bus.taps.metrics", "--port", "0"], proxy)
    port = int(re.search(r"127\.0\.0\.1:(\d+)/metrics", line).group(1))  # type: ignore[union-attr]
    try:
        with Node(proxy.config("asr", heartbeat_ms=100), signals=False) as node:
            node.ready()
            node.metric("asr_rtf", 0.2, kind="sample")
            text = ""
            deadline = time.monotonic() + 10
            while "voicebus_metric_asr_rtf_count" not in text and time.monotonic() < deadline:
                time.sleep(0.2)
                url = f"http://127.0.0.1:{port}/metrics"
                with urllib.request.urlopen(url, timeout=5) as r:
                    text = r.read().decode()
        assert 'voicebus_worker_up{worker="asr"} 1.0' in text
        assert 'voicebus_topic_messages_total{topic="sys.metric"}' in text
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)
    assert exporter.returncode == 0
