"""The echo worker's counting, and its metric on an in-memory bus."""

from __future__ import annotations

import pytest

from bus.errors import ConfigError
from bus.memory import MemoryBus
from schemas.system import Metric
from workers.echo.worker import EchoSettings, TopicCounter


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
