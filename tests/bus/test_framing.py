"""Frames: the documented layout, loud refusal of other versions, clean errors for garbage."""

from __future__ import annotations

import re

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.errors import FrameError
from bus.framing import PROTOCOL_VERSION, decode, encode
from bus.memory import MemoryBus
from schemas import AsrText, AudioFrame


def _frames(**overrides: object) -> list[bytes]:
    env = {
        "v": [1, 0],
        "src": "w",
        "inst": 1,
        "seq": 1,
        "ts": 5,
        "tr": "",
        "sv": [1, 0],
        "p": {"text": "hi", "segment_id": "s"},
    }
    env.update(overrides)
    return [b"asr.text", msgpack.packb(env)]


def test_envelope_layout_matches_docs_protocol_md() -> None:
    frames = encode(
        "asr.text",
        AsrText(text="hi", segment_id="s"),
        source="asr",
        instance=42,
        seq=7,
        ts_ns=1000,
        trace="t1",
    )
    env = msgpack.unpackb(frames[1])
    assert frames[0] == b"asr.text"
    assert env["v"] == list(PROTOCOL_VERSION)
    assert (env["src"], env["inst"], env["seq"], env["ts"], env["tr"]) == ("asr", 42, 7, 1000, "t1")
    assert env["sv"] == list(AsrText.schema_version)
    assert env["p"]["text"] == "hi" and "raw" not in env


def test_raw_field_travels_in_a_third_frame_and_is_restored() -> None:
    pcm = bytes(range(256)) * 5
    frames = encode(
        "audio.frame",
        AudioFrame(pcm=pcm, index=3, capture_ns=9),
        source="mic",
        instance=1,
        seq=1,
        ts_ns=1,
    )
    assert frames[2] == pcm and "pcm" not in msgpack.unpackb(frames[1])["p"]
    assert decode(frames).payload.pcm == pcm  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), min_size=0, max_size=4))
def test_random_bytes_never_escape_as_anything_but_frame_error(frames: list[bytes]) -> None:
    try:
        decode(frames)
    except FrameError as exc:
        assert re.search(r"\S \(docs/protocol.md rule [A-Z]\d+\)$", str(exc)), str(exc)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=64))
def test_a_random_envelope_is_refused_with_a_reason_that_is_not_empty(data: bytes) -> None:
    try:
        decode([b"asr.text", data])
    except FrameError as exc:
        reason = str(exc).rsplit(" (docs/protocol.md rule ", 1)[0]
        assert reason and not reason.endswith(":"), str(exc)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    max_leaves=10,
)


@settings(max_examples=120, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["v", "src", "inst", "seq", "ts", "tr", "sv", "p", "raw"]),
        _json,
        max_size=9,
    )
)
def test_wrongly_typed_envelopes_raise_frame_error(env: dict) -> None:
    try:
        decode([b"asr.text", msgpack.packb(env)])
    except FrameError:
        pass


def test_truncated_envelopes_raise_frame_error() -> None:
    good = encode(
        "asr.text", AsrText(text="hello", segment_id="s"), source="a", instance=1, seq=1, ts_ns=1
    )
    for cut in range(len(good[1])):
        with pytest.raises(FrameError):
            decode([good[0], good[1][:cut]])


def test_subscriber_counts_bad_frames_and_keeps_delivering_good_ones() -> None:
    bus = MemoryBus()
    pub, sub = bus.node("pub"), bus.node("sub")
    sub.subscribe("asr.*")
    bus.inject([b"asr.text", b"\x00garbage"])
    bus.inject(_frames(v=[3, 0]))
    bus.inject([b"asr.text", b"\x81" * 10, b"big" * 100_000])
    pub.publish("asr.text", AsrText(text="still here", segment_id="s"))
    got = list(sub)
    assert [m.payload.text for m in got] == ["still here"]  # type: ignore[union-attr]
    assert sub.stats.malformed == 2 and sub.stats.refused_version == 1
