"""The topic registry refuses collisions, bad names and non-models with clear messages."""

from __future__ import annotations

import pytest

from schemas.base import Message
from schemas.registry import Registry, RegistryError, registry


class Thing(Message):
    """A test model."""

    n: int = 0
    """A number."""


def test_outside_code_cannot_take_a_core_topic() -> None:
    with pytest.raises(RegistryError, match="core voicebus topic"):
        registry.register("asr.text", Thing)


def test_outside_topics_must_be_namespaced_under_ext() -> None:
    with pytest.raises(RegistryError, match="ext.<yourname>"):
        Registry().register("myworker.event", Thing)


def test_a_topic_cannot_be_registered_to_two_models() -> None:
    reg = Registry()
    reg.register("ext.a.b", Thing)
    reg.register("ext.a.b", Thing)  # same model again is harmless

    class Other(Message):
        pass

    with pytest.raises(RegistryError, match="already registered"):
        reg.register("ext.a.b", Other)


def test_bad_names_and_non_models_are_refused() -> None:
    with pytest.raises(RegistryError, match="not a valid name"):
        Registry().register("ext.Bad Name", Thing)
    with pytest.raises(RegistryError, match="subclass of schemas.Message"):
        Registry().register("ext.a.b", dict)  # type: ignore[arg-type]


def test_raw_field_must_name_a_bytes_field() -> None:
    class Bad(Message):
        raw_field = "n"
        n: int = 0

    with pytest.raises(RegistryError, match="must be a bytes field"):
        Registry().register("ext.a.raw", Bad)
