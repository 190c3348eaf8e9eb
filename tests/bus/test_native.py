"""The C helpers (bus/native) do what the Python paths do: same verdicts, same frames."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

import bus.framing
import schemas
from bus import nativeio
from bus.errors import FrameError
from bus.framecheck import unique_map
from bus.payloadmap import is_flat, payload_map
from schemas.base import Message
from tests.schemas.test_roundtrip import build

vbio: Any = nativeio.vbio
needs_c = pytest.mark.skipif(vbio is None, reason=f"bus/native is not built: {nativeio.why}")

_keys = st.text(max_size=6)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(_keys, c, max_size=5),
    max_leaves=20,
)  # fmt: skip


def _hook_verdict(data: bytes) -> str:
    """What the Python decoder says about the keys: 'ok', 'keys' (E3/E4) or 'other'."""
    try:
        msgpack.unpackb(data, raw=False, strict_map_key=True, object_pairs_hook=unique_map)
    except FrameError as exc:
        return "keys" if "rule E3" in str(exc) or "rule E4" in str(exc) else "other"
    except ValueError as exc:
        return "keys" if "map key" in str(exc) else "other"
    except Exception:
        return "other"
    return "ok"


def _pairs(pairs: list[tuple[Any, Any]]) -> bytes:
    head = bytes([0x80 | len(pairs)]) if len(pairs) < 16 else b"\xde" + len(pairs).to_bytes(2)
    return head + b"".join(msgpack.packb(k) + msgpack.packb(v, use_bin_type=True) for k, v in pairs)


@needs_c
@settings(max_examples=400, deadline=None)
@given(_values)
def test_check_keys_passes_what_the_python_decoder_accepts(value: Any) -> None:
    data = msgpack.packb(value, use_bin_type=True)
    assert _hook_verdict(data) == "ok"
    assert vbio.check_keys(data) == 0


@needs_c
@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", 1, b"a"]), _values), max_size=6), _values)
def test_check_keys_never_passes_a_repeated_or_non_string_key(
    pairs: list[tuple[Any, Any]], outer: Any
) -> None:
    inner = _pairs(pairs)
    for data in (inner, _pairs([("p", 1)])[:1] + msgpack.packb("p") + inner):
        if vbio.check_keys(data) == 0:
            assert _hook_verdict(data) != "keys"


@needs_c
@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=80))
def test_check_keys_survives_any_bytes_and_never_hides_a_key_problem(data: bytes) -> None:
    if vbio.check_keys(data) == 0:
        assert _hook_verdict(data) != "keys"


@needs_c
def test_check_keys_sends_deep_or_wide_maps_the_slow_way() -> None:
    deep: Any = {"k": 1}
    for _ in range(40):
        deep = {"k": deep}
    assert vbio.check_keys(msgpack.packb(deep)) == 1
    assert vbio.check_keys(msgpack.packb({str(i): i for i in range(100)})) == 1
    assert vbio.check_keys(msgpack.packb({str(i): i for i in range(60)})) == 0


@pytest.fixture
def pair() -> Iterator[tuple[zmq.Socket, zmq.Socket]]:
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://native-test")
    b.connect("inproc://native-test")
    yield a, b
    a.close(linger=0)
    b.close(linger=0)
    ctx.term()


@needs_c
def test_recv_and_send_move_whole_messages(pair: tuple[zmq.Socket, zmq.Socket]) -> None:
    a, b = pair
    assert vbio.recv(b.underlying) is None
    messages = [[b"t", b"e", bytes(70_000)], [b"one"], [b"", b""], [b"x"] * 5]
    for m in messages:
        assert vbio.send(a.underlying, m) == 0
    a.send_multipart([b"from", b"pyzmq"])
    got: list[Any] = []
    while len(got) < len(messages) + 1:
        assert b.poll(5000)
        got.append(vbio.recv(b.underlying))
    assert got == [*messages, [b"from", b"pyzmq"]]
    assert vbio.recv(b.underlying) is None


@pytest.mark.parametrize(
    "topic,model", list(schemas.registry), ids=[t for t, _ in schemas.registry]
)
def test_the_payload_map_is_what_pydantic_dumps(topic: str, model: type[Message]) -> None:
    payload = build(model)
    raw = model.raw_field
    expected = payload.model_dump(mode="python", exclude={raw} if raw else None)
    got = payload_map(payload, raw)
    assert msgpack.packb(got, use_bin_type=True) == msgpack.packb(expected, use_bin_type=True)


def test_models_with_nested_models_are_dumped_by_pydantic() -> None:
    assert not is_flat(schemas.LlmReply) and is_flat(schemas.AudioFrame)


# --- the envelope in C ----------------------------------------------------------------------

_u64 = st.integers(0, 2**64 - 1)
_i = st.integers(-(2**63), 2**64 - 1)
_bodies = st.dictionaries(_keys, _values | st.tuples(_values, _values), max_size=6)


@needs_c
@settings(max_examples=500, deadline=None)
@given(
    st.text(min_size=1, max_size=40),
    st.integers(0, 2**32 - 1),
    st.integers(1, 2**64 - 1),
    _i,
    st.text(max_size=300),
    st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)),
    _bodies,
    st.none() | st.text(min_size=1, max_size=8),
    st.booleans(),
)
def test_encode_envelope_writes_what_the_packer_writes(
    src: str,
    inst: int,
    seq: int,
    ts: int,
    tr: str,
    sv: tuple[int, int],
    body: dict,
    raw: Any,
    shm: bool,
) -> None:
    shm = shm and raw is not None  # the shared-memory form names its field
    env = {"v": (1, 1 if shm else 0), "src": src, "inst": inst, "seq": seq, "ts": ts, "tr": tr,
           "sv": sv, "p": body}  # fmt: skip
    if raw is not None:
        env["shm" if shm else "raw"] = raw
    expected = msgpack.Packer(use_bin_type=True).pack(env)
    args = (src, inst, seq, ts, tr, sv[0], sv[1], body, raw)
    assert vbio.encode_envelope(*args, shm) == expected
    if not shm:
        assert vbio.encode_envelope(*args) == expected


@needs_c
def test_encode_envelope_leaves_what_it_does_not_write_to_python() -> None:
    class Name(str):
        pass

    for body in ({"k": Name("x")}, {"k": 2**64}, {1: "int key"}, {"k": {1, 2}}):
        assert vbio.encode_envelope("s", 1, 1, 1, "", 1, 0, body, None) is None


def _python_fields(data: bytes) -> Any:
    try:
        return bus.framing._envelope(data, "t")
    except FrameError:
        return "refused"


_envelope_dicts = st.dictionaries(
    st.sampled_from(["v", "src", "inst", "seq", "ts", "tr", "sv", "p", "raw", "x"]),
    _values | st.sampled_from([[1, 0], [1, 3], [2, 0], [1, 0, 0]]),
    max_size=10,
)


@needs_c
@settings(max_examples=1500, deadline=None)
@given(
    _envelope_dicts,
    st.fixed_dictionaries(
        {
            "v": st.just([1, 0]),
            "src": st.text(max_size=3),
            "inst": _i,
            "seq": _i,
            "ts": _i,
            "tr": st.text(max_size=3),
            "p": st.dictionaries(_keys, _values, max_size=4),
        }
    ),
)
def test_decode_envelope_accepts_only_what_python_accepts_and_gives_the_same_fields(
    noise: dict, base: dict
) -> None:
    for env in (noise, base, {**base, **noise}):
        data = msgpack.packb(env, use_bin_type=True)
        fast = vbio.decode_envelope(data)
        if fast is not None:
            assert msgpack.packb(fast) == msgpack.packb(_python_fields(data))


@needs_c
@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=80))
def test_decode_envelope_survives_any_bytes(data: bytes) -> None:
    fast = vbio.decode_envelope(data)
    if fast is not None:
        assert msgpack.packb(fast) == msgpack.packb(_python_fields(data))


@needs_c
@pytest.mark.parametrize(
    "topic,model", list(schemas.registry), ids=[t for t, _ in schemas.registry]
)
def test_every_model_travels_the_same_with_and_without_c(
    topic: str, model: type[Message], monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = build(model)
    kw: dict[str, Any] = {"source": "s", "instance": 7, "seq": 3, "ts_ns": 11, "trace": "t"}
    fast = bus.framing.encode(topic, payload, **kw)
    fast_msg = bus.framing.decode(fast)
    monkeypatch.setattr(bus.framing, "_encode_env", None)
    monkeypatch.setattr(bus.framing, "_decode_env", None)
    monkeypatch.setattr(bus.framing, "_check_keys", None)
    slow = bus.framing.encode(topic, payload, **kw)
    assert fast == slow
    assert bus.framing.decode(slow) == fast_msg


@pytest.mark.parametrize("native", [True, False], ids=["C", "pyzmq"])
def test_the_socket_paths_move_whole_messages_with_and_without_c(
    native: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import bus.socketio as socketio

    if native and vbio is None:
        pytest.skip(f"bus/native is not built: {nativeio.why}")
    if not native:
        monkeypatch.setattr(socketio, "vbio", None)
    ctx = zmq.Context()
    pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.bind(f"ipc://{tmp_path}/s")
    pub.connect(f"ipc://{tmp_path}/s")
    out, inp = socketio.PubIO(pub), socketio.SubIO(sub)
    messages = [[b"t", b"e"], [b"t", b"e", bytes(100_000)], [b"t", b"e", b"small"], [b"x"] * 4]
    try:
        assert inp.recv_nowait() is None
        got: list[list[bytes]] = []
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:  # the subscription reaches the PUB
            out.send([b"warm", b"up"])
            got = (
                [m for m in [inp.recv_nowait()] if m is not None] if inp.wait(20, False)[0] else []
            )
        for m in messages:
            out.send(m)
        received: list[list[bytes]] = []
        while len(received) < len(messages) and time.monotonic() < deadline:
            if inp.wait(100, False)[0]:
                frames = inp.recv_nowait()
                if frames is not None and frames[0] != b"warm":
                    received.append(frames)
        assert received == messages
    finally:
        pub.close(linger=0)
        sub.close(linger=0)
        ctx.term()
