"""The echo worker: its counting, and its loop on an in-memory bus with a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus import ConfigError, MemoryBus, MemoryNode
from schemas import AsrText, VadState
from schemas.system import Metric
from tests.fakeclock import MS, FakeClock
from tests.workers.cannot_run import cannot_run
from workers.echo.__main__ import run
from workers.echo.counter import TopicCounter
from workers.echo.manifest import MANIFEST
from workers.echo.settings import EchoSettings


def test_counter_reports_only_topics_that_changed() -> None:
    c = TopicCounter()
    c.add("audio.frame")
    c.add("audio.frame")
    c.add("vad.segment")
    assert c.changed() == [("audio.frame", 2), ("vad.segment", 1)]
    assert c.changed() == []
    c.add("vad.segment")
    assert c.changed() == [("vad.segment", 2)]


def test_settings_default_to_every_topic_and_refuse_typos() -> None:
    assert EchoSettings().topics == ["*"]
    node = MemoryBus().node("echo", settings={"topic": ["x"]})
    with pytest.raises(ConfigError, match=r"settings\.topic: unknown key"):
        node.settings_as(EchoSettings)


def test_counts_become_counter_metrics() -> None:
    bus = MemoryBus()
    echo, probe = bus.node("echo"), bus.node("probe")
    probe.subscribe("sys.metric")
    counter = TopicCounter()
    counter.add("audio.frame")
    for topic, total in counter.changed():
        echo.metric("topic_messages", total, "counter", topic=topic)
    (msg,) = list(probe)
    assert isinstance(msg.payload, Metric)
    assert (msg.payload.name, msg.payload.value, msg.payload.labels) == (
        "topic_messages",
        1.0,
        {"topic": "audio.frame"},
    )


def _reports(probe: MemoryNode) -> list[tuple[str, float]]:
    out = []
    for msg in probe:
        assert isinstance(msg.payload, Metric)
        out.append((msg.payload.labels["topic"], msg.payload.value))
    return out


def test_the_loop_reports_the_other_nodes_topics_each_period_never_its_own() -> None:
    clock = FakeClock()
    bus = MemoryBus(clock=clock)
    echo = bus.node("echo", {"report_every_s": 1.0}, manifest=MANIFEST)
    src, probe = bus.node("src"), bus.node("probe")
    probe.subscribe("sys.metric")
    src.publish("asr.text", AsrText(text="0", segment_id="s"))
    run(echo)  # the memory loop ends when idle: nothing is reported before a period passed
    assert _reports(probe) == []
    echo.close()

    echo = bus.node("echo", {"report_every_s": 1.0}, manifest=MANIFEST)
    for i in range(3):
        src.publish("asr.text", AsrText(text=str(i), segment_id="s"))
    src.publish("vad.state", VadState(speaking=True, segment_id="s", at_ns=1))
    clock.step_ns = 400 * MS  # time passes as the loop runs: a tick every few readings
    run(echo)
    reports = _reports(probe)
    # echo subscribes to "*", so its own sys.metric comes back to it: skipped, never counted
    assert reports[-2:] == [("asr.text", 3.0), ("vad.state", 1.0)]
    assert {t for t, _ in reports} == {"asr.text", "vad.state"}


@pytest.mark.slow
def test_the_worker_with_a_misspelt_topic_cannot_run_and_says_which(tmp_path: Path) -> None:
    reason = cannot_run("workers.echo", {"topics": ["asr.txt"]}, tmp_path)
    assert "'asr.txt', which is not a registered topic; check the spelling" in reason
