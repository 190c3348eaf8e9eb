"""The public API for worker authors: ``bus.__all__`` is pinned, and each name does its job."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

import bus
from bus import (
    ConfigError,
    MemoryBus,
    Message,
    RegistryError,
    SchemaError,
    VersionError,
    payload_as,
    register_topic,
)
from bus.framing import encode
from schemas.asr import AsrText
from schemas.registry import Registry

PINNED = [
    "PROTOCOL_VERSION",
    "BusError",
    "BusNode",
    "BusTimeout",
    "ConfigError",
    "Envelope",
    "Event",
    "FrameError",
    "Manifest",
    "ManifestError",
    "MemoryBus",
    "MemoryNode",
    "Message",
    "Node",
    "NodeConfig",
    "Out",
    "Readable",
    "RegistryError",
    "SchemaError",
    "Tick",
    "VersionError",
    "Wakeup",
    "payload_as",
    "register_topic",
]


def test_all_is_pinned() -> None:
    # Changing this list is an API change: say so in the changelog and the guide.
    assert bus.__all__ == PINNED


def test_every_public_name_exists_and_is_documented() -> None:
    for name in bus.__all__:
        obj = getattr(bus, name)
        if callable(obj):
            assert obj.__doc__, f"bus.{name} has no docstring"


def test_errors_form_one_hierarchy() -> None:
    for name in (
        "BusTimeout",
        "ConfigError",
        "FrameError",
        "ManifestError",
        "SchemaError",
        "VersionError",
    ):
        assert issubclass(getattr(bus, name), bus.BusError)


class Shout(Message):
    """A test payload."""

    text: str
    """Upper-cased text."""


class ShoutV2(Message):
    """The same topic's next major version."""

    schema_version = (2, 0)
    text: str
    """Upper-cased text."""


def test_register_topic_accepts_an_ext_topic_and_a_second_identical_registration() -> None:
    assert register_topic("ext.apitest.shout", Shout) is Shout
    assert register_topic("ext.apitest.shout", Shout) is Shout


@pytest.mark.parametrize("topic", ["asr.text", "sys.heartbeat", "llm.delta", "vad.custom"])
def test_register_topic_refuses_a_core_topic_with_a_clear_error(topic: str) -> None:
    with pytest.raises(RegistryError, match=r"core voicebus topic.*ext\.<yourname>\.<event>"):
        register_topic(topic, Shout)


def test_register_topic_refuses_a_name_outside_ext() -> None:
    with pytest.raises(RegistryError, match="not namespaced"):
        register_topic("myworker.event", Shout)


def test_register_topic_refuses_a_topic_taken_by_another_model() -> None:
    register_topic("ext.apitest.taken", Shout)
    with pytest.raises(RegistryError, match="already registered"):
        register_topic("ext.apitest.taken", ShoutV2)


def test_payload_as_returns_the_registered_model() -> None:
    b = MemoryBus()
    a, probe = b.node("a"), b.node("probe")
    probe.subscribe("asr.text")
    a.publish("asr.text", AsrText(text="hi", segment_id="s1"))
    msg = probe.poll()
    assert msg is not None
    assert payload_as(msg, AsrText).text == "hi"


def test_payload_as_refuses_another_model() -> None:
    b = MemoryBus()
    a, probe = b.node("a"), b.node("probe")
    probe.subscribe("asr.text")
    a.publish("asr.text", AsrText(text="hi", segment_id="s1"))
    msg = probe.poll()
    assert msg is not None
    with pytest.raises(SchemaError, match="carries AsrText, not Shout"):
        payload_as(msg, Shout)


def _unregistered(payload: Message) -> bus.Envelope:
    """An envelope as decoded by a process that never registered the topic."""
    reg = Registry()
    b = MemoryBus(reg)
    probe = b.node("probe")
    probe.subscribe("ext.*")
    frames = encode(
        "ext.other.shout", payload, source="other", instance=1, seq=1, ts_ns=1, trace=""
    )
    b.inject(frames)
    msg = probe.poll()
    assert msg is not None and isinstance(msg.payload, dict)
    return msg


def test_payload_as_validates_an_unregistered_topic() -> None:
    assert payload_as(_unregistered(Shout(text="HI")), Shout).text == "HI"


def test_payload_as_reports_a_map_that_does_not_fit() -> None:
    with pytest.raises(SchemaError, match="does not match AsrText"):
        payload_as(_unregistered(Shout(text="HI")), AsrText)


def test_payload_as_refuses_another_major_version() -> None:
    with pytest.raises(VersionError, match=r"schema 2\.0"):
        payload_as(_unregistered(ShoutV2(text="HI")), Shout)


class Settings(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}
    keywords: list[str]


def test_memory_node_settings_errors_name_the_key() -> None:
    node = MemoryBus().node("w", {"keyword": ["x"]})
    with pytest.raises(ConfigError, match=r"settings\.keyword: unknown key"):
        node.settings_as(Settings)


class ShoutV11(Message):
    """Minor version 1.1 of ``Shout``: one optional field more."""

    schema_version = (1, 1)
    text: str
    """Upper-cased text."""
    loud: bool = True
    """Added in 1.1."""


def _across(writer: Message, reader: type[Message]) -> Message:
    """Frames written with ``writer``'s model, read where ``reader`` is registered."""
    rreg = Registry()
    rreg.register("ext.ver.shout", reader)
    frames = encode("ext.ver.shout", writer, source="w", instance=1, seq=1, ts_ns=1)
    b = MemoryBus(rreg)
    probe = b.node("probe")
    probe.subscribe("ext.ver.*")
    b.inject(frames)
    msg = probe.poll()
    assert msg is not None
    return payload_as(msg, reader)


def test_a_minor_version_is_read_both_ways() -> None:
    old_reads_new = _across(ShoutV11(text="HI", loud=False), Shout)
    assert old_reads_new == Shout(text="HI")
    new_reads_old = _across(Shout(text="HI"), ShoutV11)
    assert new_reads_old == ShoutV11(text="HI", loud=True)


def test_another_major_version_is_refused_by_the_reader() -> None:
    frames = encode("ext.ver.shout", ShoutV2(text="HI"), source="w", instance=1, seq=1, ts_ns=1)
    rreg = Registry()
    rreg.register("ext.ver.shout", Shout)
    b = MemoryBus(rreg)
    probe = b.node("probe")
    probe.subscribe("ext.ver.*")
    b.inject(frames)
    assert probe.poll() is None
    assert probe.stats.refused_version == 1


def test_bus_cli_modules_run_without_a_double_import_warning(tmp_path: Path) -> None:
    # `import bus` must not import bus.curve, or `python -m bus.curve` warns (runpy).
    done = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "bus.curve", "keygen", tmp_path, "x"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
