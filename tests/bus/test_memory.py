"""The in-memory node behaves like the real one: globs, sequence gaps, typed payloads."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from bus.errors import ConfigError, SchemaError
from bus.framing import encode
from bus.memory import MemoryBus
from schemas import AsrText, VadState


def test_glob_subscriptions_deliver_only_matching_topics() -> None:
    bus = MemoryBus()
    a, b = bus.node("a"), bus.node("b")
    b.subscribe("vad.st*")
    a.publish("vad.state", VadState(speaking=True, segment_id="s", at_ns=1))
    a.publish("asr.text", AsrText(text="x", segment_id="s"))
    assert [m.topic for m in b] == ["vad.state"]


def test_sequence_gaps_are_counted_per_publisher_and_topic() -> None:
    bus = MemoryBus()
    sub = bus.node("sub")
    sub.subscribe("asr.text")
    for seq in (1, 2, 5, 6):
        bus.inject(
            encode(
                "asr.text",
                AsrText(text=str(seq), segment_id="s"),
                source="w",
                instance=11,
                seq=seq,
                ts_ns=1,
            )
        )
    # a restarted publisher (new instance) starts again at 1: not a gap
    bus.inject(
        encode(
            "asr.text", AsrText(text="r", segment_id="s"), source="w", instance=12, seq=1, ts_ns=1
        )
    )
    assert len(list(sub)) == 5
    assert sub.stats.gaps == 2


def test_publishing_to_an_unregistered_topic_or_the_wrong_model_is_refused() -> None:
    node = MemoryBus().node("a")
    with pytest.raises(SchemaError, match="not registered"):
        node.publish("asr.txt", AsrText(text="x", segment_id="s"))
    with pytest.raises(SchemaError, match="carries AsrText"):
        node.publish("asr.text", VadState(speaking=True, segment_id="s", at_ns=1))


def test_bad_settings_name_the_offending_key() -> None:
    class Settings(BaseModel):
        model_config = ConfigDict(extra="forbid")
        hangover_ms: int = 300

    node = MemoryBus().node("vad", settings={"hangover_ms": 200, "hangovr_ms": 5})
    with pytest.raises(ConfigError, match=r"settings\.hangovr_ms: unknown key"):
        node.settings_as(Settings)
    ok = MemoryBus().node("vad", settings={"hangover_ms": 200}).settings_as(Settings)
    assert ok.hangover_ms == 200


def test_trace_id_travels_with_the_message() -> None:
    bus = MemoryBus()
    a, b = bus.node("a"), bus.node("b")
    b.subscribe("*")
    a.publish("asr.text", AsrText(text="x", segment_id="s"), trace="turn-1")
    assert next(iter(b)).trace == "turn-1"
