"""Every registered model survives encode -> frames -> decode unchanged."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

import pytest

import schemas
from bus.framing import decode, encode
from schemas.base import Message


def sample(annotation: Any) -> Any:
    """A plausible value for a field annotation (recursing into nested models)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return get_args(annotation)[-1]
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in get_args(annotation) if a is not type(None)))
    if origin is tuple:
        return (sample(get_args(annotation)[0]),)
    if origin is list:
        return [sample(get_args(annotation)[0])]
    if origin is dict:
        return {"k": sample(get_args(annotation)[1])}
    if isinstance(annotation, type) and issubclass(annotation, Message):
        return build(annotation)
    return {str: "x", int: 7, float: 1.5, bool: True, bytes: b"\x01\x02\x03\x04"}[annotation]


def build(model: type[Message]) -> Message:
    """An instance with every field set to a non-default sample."""
    values = {name: sample(f.annotation) for name, f in model.model_fields.items()}
    return model.model_validate(values)


@pytest.mark.parametrize(
    "topic,model", list(schemas.registry), ids=[t for t, _ in schemas.registry]
)
def test_every_registered_model_round_trips(topic: str, model: type[Message]) -> None:
    original = build(model)
    frames = encode(topic, original, source="t", instance=3, seq=9, ts_ns=123, trace="tr")
    assert len(frames) == (3 if model.raw_field else 2)
    back = decode(frames)
    assert back.payload == original
    assert (back.topic, back.source, back.seq, back.ts_ns, back.trace) == (topic, "t", 9, 123, "tr")


@pytest.mark.parametrize(
    "topic,model", list(schemas.registry), ids=[t for t, _ in schemas.registry]
)
def test_every_field_is_documented(topic: str, model: type[Message]) -> None:
    undocumented = [n for n, f in model.model_fields.items() if not f.description]
    assert not undocumented, f"{model.__name__} fields without a docstring: {undocumented}"


def test_models_are_frozen() -> None:
    msg = schemas.AsrText(text="a", segment_id="s")
    with pytest.raises(Exception, match="frozen"):
        msg.text = "b"


def test_unknown_fields_are_ignored_and_missing_optional_ones_defaulted() -> None:
    msg = schemas.AsrText.model_validate({"text": "a", "segment_id": "s", "new_in_2_1": 5})
    assert msg.language == "" and not hasattr(msg, "new_in_2_1")


def test_core_topics_cover_the_pipeline() -> None:
    topics = {t for t, _ in schemas.registry}
    for needed in (
        "audio.frame",
        "vad.state",
        "vad.segment",
        "asr.text",
        "llm.request",
        "llm.delta",
        "llm.reply",
        "llm.abort",
        "tts.request",
        "tts.audio",
        "dialog.state",
        "dialog.turn",
        "rtos.command",
        "rtos.ack",
        "rtos.telemetry",
        "rtos.link",
        "sys.heartbeat",
        "sys.log",
        "sys.metric",
        "sys.lifecycle",
        "speaker.stop",
        "speaker.report",
    ):
        assert needed in topics
