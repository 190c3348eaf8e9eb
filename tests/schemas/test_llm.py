"""``llm.reply`` 2.0: typed intents; a 1.x reply (``intent_json``) is refused, not misread."""

from __future__ import annotations

import msgpack
import pytest

from bus.errors import VersionError
from bus.framing import decode, encode
from schemas.llm import LlmReply
from schemas.rtos import CarIntent


def test_the_intents_cross_the_wire_as_maps_and_come_back_typed() -> None:
    reply = LlmReply(
        request_id="r1",
        text="OK.",
        intents=(CarIntent(kind="turn", angle_deg=90.0), CarIntent(kind="stop")),
    )
    frames = encode("llm.reply", reply, source="llm", instance=1, seq=1, ts_ns=1)
    env = msgpack.unpackb(frames[1])
    assert env["sv"] == [2, 0]
    assert [i["kind"] for i in env["p"]["intents"]] == ["turn", "stop"]
    back = decode(frames).payload
    assert isinstance(back, LlmReply) and back == reply
    assert all(type(i) is CarIntent for i in back.intents)


def test_a_reply_of_schema_1_with_intent_json_is_refused_loudly() -> None:
    env = {
        "v": [1, 0],
        "src": "llm",
        "inst": 1,
        "seq": 1,
        "ts": 1,
        "tr": "",
        "sv": [1, 0],
        "p": {"request_id": "r1", "text": "", "intent_json": '{"kind": "stop"}'},
    }
    with pytest.raises(VersionError, match="schema 1.0"):
        decode([b"llm.reply", msgpack.packb(env)])


def test_an_intent_from_a_newer_minor_keeps_what_it_knows() -> None:
    intent = CarIntent.model_validate({"kind": "drive", "distance_m": 1.0, "curvature": 0.2})
    assert intent == CarIntent(kind="drive", distance_m=1.0)
