"""One node type: both node kinds are a ``BusNode``; a manifest wires a node; ``Out`` publishes."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from bus import (
    BusNode,
    ConfigError,
    Manifest,
    ManifestError,
    MemoryBus,
    MemoryNode,
    Message,
    NodeConfig,
    Out,
    SchemaError,
)
from bus.node import Node
from schemas import AsrText, VadSegment
from schemas.system import Metric
from tests.bus.conftest import ProxyProc


class StageSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    overlap_ms: int = Field(default=300, ge=0)


STAGE = Manifest(
    kind="stage",
    summary="Segments in, text out.",
    consumes={"vad.segment": VadSegment},
    produces={"asr.text": AsrText},
    settings=StageSettings,
)


def _segment() -> VadSegment:
    return VadSegment(pcm=b"\0\0", segment_id="s1", start_ns=1, end_ns=2)


def _members() -> list[str]:
    own = set(vars(BusNode)) | set(BusNode.__annotations__)
    return sorted(n for n in own if not n.startswith("_") or n == "__iter__")


@pytest.mark.parametrize("kind", ["memory", "zmq"])
def test_both_node_kinds_are_a_bus_node_with_the_same_signatures(kind: str, tmp_path: Path) -> None:
    if kind == "memory":
        node: Any = MemoryBus().node("w")
    else:
        config = NodeConfig(name="w", pub_endpoint=f"ipc://{tmp_path}/p", sub_endpoint="ipc://x")
        node = Node(config, handshake=False, signals=False)
    try:
        assert isinstance(node, BusNode)
        for name in _members():
            assert hasattr(node, name), f"{type(node).__name__} lacks {name}"
            want = getattr(BusNode, name, None)
            if inspect.isfunction(want) and name != "events":
                have = inspect.signature(getattr(type(node), name))
                assert have == inspect.signature(want), f"{type(node).__name__}.{name}"
    finally:
        node.close()


def _worker(node: BusNode) -> list[str]:
    # mypy checks that both kinds pass as a BusNode (tests are type-checked)
    node.ready()
    return [msg.topic for msg in node.events()]


def test_a_function_taking_a_bus_node_runs_on_a_memory_node() -> None:
    bus = MemoryBus()
    node: MemoryNode = bus.node("w")
    node.subscribe("asr.text")
    bus.node("src").publish("asr.text", AsrText(text="x", segment_id="s"))
    assert _worker(node) == ["asr.text"]


def test_publish_many_publishes_each_out_in_order_with_its_trace() -> None:
    bus = MemoryBus()
    node, probe = bus.node("w"), bus.node("probe")
    probe.subscribe("asr.text", "sys.metric")
    outs = [
        Out("asr.text", AsrText(text="a", segment_id="s"), "t1"),
        Out("sys.metric", Metric(name="m", value=1.0, worker="w")),
        ("asr.text", AsrText(text="b", segment_id="s"), "t2"),  # a plain triple is an Out too
    ]
    node.publish_many(outs)
    assert [(m.topic, m.trace) for m in probe] == [
        ("asr.text", "t1"),
        ("sys.metric", ""),
        ("asr.text", "t2"),
    ]
    assert Out("asr.text", AsrText(text="a", segment_id="s")).trace == ""


def test_a_node_given_a_manifest_is_subscribed_to_what_it_consumes() -> None:
    bus = MemoryBus()
    node = bus.node("asr", manifest=STAGE)
    bus.node("vad").publish("vad.segment", _segment(), trace="s1")
    bus.node("other").publish("asr.text", AsrText(text="not for us", segment_id="s"))
    assert [m.topic for m in node] == ["vad.segment"]


def test_a_node_refuses_to_publish_a_topic_its_manifest_does_not_declare() -> None:
    node = MemoryBus().node("asr", manifest=STAGE)
    with pytest.raises(
        ManifestError, match=r"publishes 'vad\.segment'.*declares asr\.text.*produces"
    ):
        node.publish("vad.segment", _segment())
    node.publish("asr.text", AsrText(text="x", segment_id="s"))
    node.metric("asr_rtf", 0.1)  # sys.metric, sys.log and sys.heartbeat are implicit


def test_a_declared_topic_still_checks_the_model() -> None:
    node = MemoryBus().node("asr", manifest=STAGE)
    with pytest.raises(SchemaError, match="carries AsrText, not VadSegment"):
        node.publish("asr.text", _segment())


def test_a_node_with_a_manifest_refuses_an_undeclared_subscription() -> None:
    node = MemoryBus().node("asr", manifest=STAGE)
    node.subscribe("vad.segment")
    with pytest.raises(ManifestError, match=r"subscribes to 'llm\.delta'.*consumes"):
        node.subscribe("llm.delta")


def test_invalid_settings_are_refused_when_the_node_is_made_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"settings\.overlap_ms: Input should be greater"):
        MemoryBus().node("asr", {"overlap_ms": -5}, manifest=STAGE)


def test_a_zmq_node_refuses_invalid_settings_before_joining(tmp_path: Path) -> None:
    # no proxy runs: the refusal must come before the handshake would time out
    config = NodeConfig(
        name="asr",
        pub_endpoint=f"ipc://{tmp_path}/nobody-pub",
        sub_endpoint=f"ipc://{tmp_path}/nobody-sub",
        handshake_timeout_s=30,
        settings={"overlap": 5},
    )
    with pytest.raises(ConfigError, match=r"settings\.overlap: unknown key"):
        Node(config, manifest=STAGE, signals=False)


def test_a_zmq_node_given_a_manifest_receives_what_it_consumes(proxy: ProxyProc) -> None:
    import time

    with Node(proxy.config("asr"), manifest=STAGE, signals=False) as node:
        with Node(proxy.config("vad"), signals=False) as vad:
            deadline = time.monotonic() + 10
            msg = None
            while msg is None and time.monotonic() < deadline:
                vad.publish("vad.segment", _segment(), trace="s1")
                msg = node.poll(0.05)
            assert msg is not None and msg.topic == "vad.segment" and msg.trace == "s1"
            with pytest.raises(ManifestError):
                node.publish("llm.delta", AsrText(text="x", segment_id="s"))


class Counted(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    topics: list[str] = ["asr.*"]


def _topics(s: Counted) -> tuple[dict[str, type[Message]], dict[str, type[Message]]]:
    return {t: Message for t in s.topics}, {}


def test_a_manifest_whose_topics_follow_the_settings_subscribes_to_those() -> None:
    manifest = Manifest(kind="sink", summary="Counts.", settings=Counted, topics=_topics)
    bus = MemoryBus()
    node = bus.node("echo", {"topics": ["vad.*"]}, manifest=manifest)
    src = bus.node("src")
    src.publish("asr.text", AsrText(text="x", segment_id="s"))
    src.publish("vad.segment", _segment())
    assert [m.topic for m in node] == ["vad.segment"]
