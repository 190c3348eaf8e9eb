"""Every rule of docs/protocol.md section 3, one table: what a reader refuses, why, and as what.

Each case names the rule it shows; a test checks that every rule on the page has a case, so a
rule added to the page without a reader that follows it fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import pytest

import bus.framing
from bus import nativeio
from bus.errors import FrameError, SchemaError, VersionError
from bus.framecheck import MAX_ENVELOPE_BYTES, MAX_RAW_BYTES
from bus.framing import decode
from schemas import AsrText, AudioFrame

DOC = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()


@pytest.fixture(autouse=True, params=["C envelope", "C key check", "Python"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case runs with the envelope read in C, with only the key check in C (the path of
    an envelope the C reader passes on), and all in Python (bus/native not built)."""
    if request.param != "Python" and nativeio.vbio is None:
        pytest.skip(f"bus/native is not built: {nativeio.why}")
    if request.param != "C envelope":
        monkeypatch.setattr(bus.framing, "_decode_env", None)
    if request.param == "Python":
        monkeypatch.setattr(bus.framing, "_check_keys", None)


RULES = re.findall(r"^\| `([A-Z]\d+)` \|", DOC, re.M)
DROP: Any = object()


def env(**changes: Any) -> dict[str, Any]:
    """A valid ``asr.text`` envelope with ``changes`` (``DROP`` removes a key)."""
    e: dict[str, Any] = {
        "v": [1, 0],
        "src": "w",
        "inst": 1,
        "seq": 1,
        "ts": 5,
        "tr": "",
        "sv": [1, 0],
        "p": {"text": "hi", "segment_id": "s"},
    }
    e.update(changes)
    return {k: x for k, x in e.items() if x is not DROP}


def asr(**changes: Any) -> list[bytes]:
    return [b"asr.text", msgpack.packb(env(**changes), use_bin_type=True)]


def audio(frame2: bytes | None = b"\x01\x00", **changes: Any) -> list[bytes]:
    """An ``audio.frame`` with its ``pcm`` in frame 2 (``frame2=None``: no frame 2)."""
    p = {"index": 1, "capture_ns": 1, "sample_rate_hz": 16000}
    e = env(p=p, raw="pcm")
    e.update(changes)
    e = {k: x for k, x in e.items() if x is not DROP}
    frames = [b"audio.frame", msgpack.packb(e, use_bin_type=True)]
    return frames if frame2 is None else [*frames, frame2]


def pairs_map(pairs: list[tuple[Any, Any]]) -> bytes:
    """A msgpack map written pair by pair, so that a key can repeat."""
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(
        msgpack.packb(k) + msgpack.packb(x, use_bin_type=True) for k, x in pairs
    )


def dup_top() -> list[bytes]:
    items = list(env().items())
    return [b"asr.text", pairs_map([*items, ("seq", 2)])]


def dup_payload() -> list[bytes]:
    p = pairs_map([("text", "hi"), ("segment_id", "s"), ("text", "other")])
    body = pairs_map([(k, x) for k, x in env().items() if k != "p"])
    return [b"asr.text", bytes([body[0] + 1]) + body[1:] + msgpack.packb("p") + p]


@dataclass
class Case:
    """One line of the table: the rule, the frames, what the reader must do."""

    rule: str
    name: str
    frames: list[bytes]
    error: type[Exception] | None = FrameError
    says: str = ""
    never_says: str = ""


CASES = [
    Case("F1", "one frame", [b"asr.text"], says="has 1"),
    Case("F1", "four frames", [*audio(), b"x"], says="has 4"),
    Case("F2", "topic not UTF-8", [b"\xff\xfe", asr()[1]], says="UTF-8"),
    Case("F2", "empty topic", [b"", asr()[1]], says="empty"),
    Case(
        "F3",
        "envelope over 4 MiB",
        [b"asr.text", bytes(MAX_ENVELOPE_BYTES + 1)],
        says=f"{MAX_ENVELOPE_BYTES + 1} bytes",
    ),
    Case("F4", "raw over 64 MiB", audio(bytes(MAX_RAW_BYTES + 1)), says=f"{MAX_RAW_BYTES + 1}"),
    Case("F5", "raw frame, no raw key", [*asr(), b"xx"], says="names no field for it"),
    Case("F6", "raw key, no raw frame", audio(None), says="no frame 2"),
    Case("F6", "shm key, no frame 2", audio(None, raw=DROP, shm="pcm"), says="no frame 2"),
    Case(
        "F7",
        "shm with a frame 2 that is no descriptor",
        audio(b"pcm", raw=DROP, shm="pcm"),
        says="not a shared-memory descriptor",
    ),
    Case(
        "F7",
        "shm naming a file outside the ring directory",
        audio(b"VBS1" + bytes(24) + b"../../etc/passwd", raw=DROP, shm="pcm"),
        says="is not a voicebus ring name",
    ),
    Case("E1", "reserved byte 0xc1", [b"asr.text", b"\xc1"], says="0xc1"),
    Case("E1", "truncated", [b"asr.text", asr()[1][:-3]], says="truncated"),
    Case("E1", "bytes after the map", [b"asr.text", asr()[1] + b"\x00"], says="bytes follow"),
    Case("E1", "str not UTF-8", [b"asr.text", b"\x81\xa1v\xa2\xff\xfe"], says="UTF-8"),
    Case("E1", "nested too deep", [b"asr.text", b"\x91" * 5000], says="nest"),
    Case("E2", "an array", [b"asr.text", msgpack.packb([1, 2])], says="array, not a map"),
    Case("E3", "int key in the envelope", [b"asr.text", pairs_map([(1, 2)])], says="not a string"),
    Case("E3", "bin key in the payload", asr(p={b"text": "hi", "segment_id": "s"}), says="b'text'"),
    Case("E4", "envelope key twice", dup_top(), says="'seq' twice"),
    Case("E4", "payload key twice", dup_payload(), says="'text' twice"),
    Case("E5", "no tr", asr(tr=DROP), says="no 'tr'"),
    Case("E5", "no p and no ts", asr(p=DROP, ts=DROP), says="no 'ts', 'p'"),
    Case("E6", "v of three numbers", asr(v=[1, 0, 0]), says="[1, 0, 0]"),
    Case("E6", "v of one number", asr(v=[1]), says="[1]"),
    Case("E6", "v a string", asr(v="1.0"), says="'1.0'"),
    Case("E6", "v with a negative minor", asr(v=[1, -1])),
    Case("E6", "v of booleans", asr(v=[True, False])),
    Case("V1", "major 2", asr(v=[2, 0]), VersionError, says="protocol 2.0"),
    Case("V1", "major 2 of three numbers", asr(v=[2, 0, 1]), VersionError),
    Case(
        "V1", "major 3 and nothing else", [b"asr.text", msgpack.packb({"v": [3, 0]})], VersionError
    ),
    Case("E7", "empty src", asr(src=""), says="non-empty"),
    Case("E7", "src an int", asr(src=5), says="5 (int)"),
    Case("E8", "inst above 2^32-1", asr(inst=2**32), says=str(2**32)),
    Case("E8", "inst negative", asr(inst=-1)),
    Case("E8", "inst a float", asr(inst=1.0), says="(float)"),
    Case("E9", "seq 0", asr(seq=0), says="'seq' is 0"),
    Case("E9", "seq -1", asr(seq=-1), says="'seq' is -1"),
    Case("E9", "seq true", asr(seq=True), says="(bool)"),
    Case("E10", "ts a float", asr(ts=1.5)),
    Case("E11", "tr nil", asr(tr=None), says="None (nil)"),
    Case("E11", "tr an int", asr(tr=5)),
    Case("E12", "p an array", asr(p=[1]), says="[1] (array)"),
    Case("E13", "sv of one number", asr(sv=[1])),
    Case("E13", "sv nil", asr(sv=None)),
    Case("E13", "sv negative", asr(sv=[-1, 0])),
    Case("V2", "schema major 2", asr(sv=[2, 0]), VersionError, says="schema 2.0"),
    Case(
        "E14",
        "raw 5 with a frame 2",
        audio(raw=5),
        says="'raw' is 5",
        never_says="missing",
    ),
    Case("E14", "raw empty", audio(raw="")),
    Case("E16", "shm and raw together", audio(b"pcm", shm="pcm"), says="not both"),
    Case("E16", "shm an int", audio(b"pcm", raw=DROP, shm=3), says="'shm' is 3"),
    Case(
        "E15",
        "shm field also in p",
        audio(b"VBS1", raw=DROP, shm="pcm", p={"index": 1, "capture_ns": 1, "pcm": b""}),
        says="both in shared memory",
    ),
    Case(
        "E15",
        "raw field also in p",
        audio(p={"index": 1, "capture_ns": 1, "pcm": b"\x00\x00"}),
        says="'pcm' is both",
    ),
    Case("P1", "payload without segment_id", asr(p={"text": "hi"}), SchemaError, says="segment_id"),
    Case("A1", "unknown envelope key", asr(future="x"), None),
    Case("A2", "higher minors", asr(v=[1, 9], sv=[1, 9]), None),
    Case("A3", "no sv", asr(sv=DROP), None),
    Case("A4", "unknown payload field", asr(p={"text": "hi", "segment_id": "s", "new": 1}), None),
    Case("A5", "optional payload field missing", audio(p={"index": 1, "capture_ns": 1}), None),
    Case("A6", "topic without a model", [b"ext.nobody.x", asr()[1]], None),
]


def test_every_rule_on_the_page_has_a_case_and_every_case_a_rule() -> None:
    assert len(RULES) >= 30 and len(set(RULES)) == len(RULES)
    assert {c.rule for c in CASES} == set(RULES)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}-{c.name}" for c in CASES])
def test_the_reader_follows_the_rule(case: Case) -> None:
    if case.error is None:
        msg = decode(case.frames)
        assert msg.source == "w"
        return
    with pytest.raises(FrameError) as info:
        decode(case.frames)
    exc = info.value
    assert type(exc) is case.error, f"{type(exc).__name__}: {exc}"
    text = str(exc)
    assert text.endswith(f"(docs/protocol.md rule {case.rule})"), text
    assert case.says in text
    assert not case.never_says or case.never_says not in text


def test_what_the_accepted_cases_mean() -> None:
    assert decode(asr(future="x")).extra == {"future": "x"}
    assert decode(asr(v=[1, 9], sv=[1, 9])).schema_version == (1, 9)
    assert decode(asr(sv=DROP)).schema_version == (1, 0)
    opt = decode(audio(p={"index": 1, "capture_ns": 1})).payload
    assert isinstance(opt, AudioFrame) and opt.sample_rate_hz == 16000 and opt.pcm == b"\x01\x00"
    plain = decode([b"ext.nobody.x", asr()[1]]).payload
    assert plain == {"text": "hi", "segment_id": "s"}
    assert decode(asr(p={"text": "hi", "segment_id": "s", "new": 1})).payload == AsrText(
        text="hi", segment_id="s"
    )
