"""Encoding and decoding of bus frames (the layout is specified in ``docs/protocol.md``).

A message is a ZeroMQ multipart ``[topic, envelope]`` or ``[topic, envelope, raw]``. The envelope
is a msgpack map; the payload is the topic's model dumped to a map, except the model's
``raw_field`` which travels alone in the third frame.

(About 350 lines, over the house's 300: the encoder and the decoder of one format stay together,
with the fast path of the reader's checks beside the fields they test; the exact reasons of a
refusal are in :mod:`bus.framecheck`.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack
from pydantic import ValidationError

from bus.errors import FrameError, LostError, SchemaError, VersionError
from bus.framecheck import (
    MAX_ENVELOPE_BYTES,
    MAX_INSTANCE,
    MAX_RAW_BYTES,
    check_envelope,
    check_schema_version,
    msgpack_reason,
    msgpack_type,
    refuse,
    unique_map,
)
from bus.nativeio import vbio
from bus.payloadmap import payload_map
from bus.shm import ShmOut
from bus.shm import read as _shm_read
from schemas.base import Message
from schemas.registry import Registry, registry

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "MAX_RAW_BYTES",
    "PROTOCOL_VERSION",
    "SHM_PROTOCOL_VERSION",
    "Envelope",
    "decode",
    "encode",
]

#: (major, minor) of the frame layout. Readers refuse another major.
PROTOCOL_VERSION: tuple[int, int] = (1, 0)
#: The version a message with its raw field in shared memory carries (``shm``, added in 1.1).
SHM_PROTOCOL_VERSION: tuple[int, int] = (1, 1)

_KNOWN = frozenset({"v", "src", "inst", "seq", "ts", "tr", "sv", "p", "raw"})


@dataclass(slots=True)
class Envelope:
    """A decoded frame: routing fields plus the payload.

    ``payload`` is the topic's model when the topic is registered, else the plain map.
    Treat it as read-only (it is not frozen only because that costs time on every message).
    ``recv_ns`` is stamped by the node that received it; ``age_ms`` is how long it travelled.
    """

    topic: str
    source: str
    instance: int
    seq: int
    ts_ns: int
    trace: str
    payload: Message | dict[str, Any]
    schema_version: tuple[int, int] = (1, 0)
    extra: dict[str, Any] = field(default_factory=dict)
    recv_ns: int = 0
    """When this node received it (its monotonic clock), ns; 0 if not received by a node."""
    empty_ns: int = 0
    """The last moment before it was received at which the node found nothing left to
    receive (the end of a wait, or an empty queue), ns; 0 if not known."""

    @property
    def age_ms(self) -> float:
        """Receive time minus publish time, ms: its time on the bus and, when the receiver was
        busy, its wait for the receiver (meaningful on one board, where both stamps come from
        the same monotonic clock); 0.0 if not received by a node."""
        return (self.recv_ns - self.ts_ns) / 1e6 if self.recv_ns else 0.0

    @property
    def bus_ms(self) -> float:
        """The part of :attr:`age_ms` on the bus, ms: from publish to the moment the receiver
        last found its queue empty (or to the receipt, if that came first), so the time the
        frame then waited while the receiver finished other work is not counted (that is
        :attr:`queued_ms`). A lower bound: a frame published while the receiver was busy
        counts 0, its transit hidden in that work. Without ``empty_ns``: :attr:`age_ms`."""
        if not self.recv_ns:
            return 0.0
        until = min(self.recv_ns, self.empty_ns) if self.empty_ns else self.recv_ns
        return max(0.0, (until - self.ts_ns) / 1e6)

    @property
    def queued_ms(self) -> float:
        """The part of :attr:`age_ms` spent waiting for a busy receiver, ms."""
        return max(0.0, self.age_ms - self.bus_ms)

    @property
    def typed(self) -> bool:
        """True when ``payload`` is a registered model."""
        return isinstance(self.payload, Message)


def encode(
    topic: str,
    payload: Message,
    *,
    source: str,
    instance: int,
    seq: int,
    ts_ns: int,
    trace: str = "",
    shm: ShmOut | None = None,
) -> list[bytes]:
    """Build the multipart frames for one message.

    With ``shm``, a raw field of at least ``shm.min_bytes`` goes into the publisher's
    shared-memory ring and frame 2 is its descriptor (``docs/protocol.md`` section 9).
    """
    raw_name = payload.raw_field
    body = payload_map(payload, raw_name)
    sv = payload.schema_version
    if shm is not None and raw_name and len(getattr(payload, raw_name)) >= shm.min_bytes:
        descriptor = shm.descriptor(getattr(payload, raw_name))
        if descriptor is not None:
            data = None
            if _encode_env is not None:  # the shared-memory form (v [1, 1], "shm"), in C
                data = _encode_env(
                    source, instance, seq, ts_ns, trace, sv[0], sv[1], body, raw_name, True
                )
            if data is None:
                env = _env_map(SHM_PROTOCOL_VERSION, source, instance, seq, ts_ns, trace, sv, body)
                env["shm"] = raw_name
                data = _pack(env)
            return [topic.encode(), data, descriptor]
    data = None
    if _encode_env is not None:  # the same bytes as the Packer below, written in C
        data = _encode_env(source, instance, seq, ts_ns, trace, sv[0], sv[1], body, raw_name)
    if data is None:
        env = _env_map(PROTOCOL_VERSION, source, instance, seq, ts_ns, trace, sv, body)
        if raw_name:
            env["raw"] = raw_name
        data = _pack(env)
    if raw_name:
        return [topic.encode(), data, getattr(payload, raw_name)]
    return [topic.encode(), data]


def _env_map(
    v: Any, src: str, inst: int, seq: int, ts: int, tr: str, sv: Any, body: Any
) -> dict[str, Any]:
    """The envelope keys every frame carries (section 3), in the order they are written."""
    return {"v": v, "src": src, "inst": inst, "seq": seq, "ts": ts, "tr": tr, "sv": sv, "p": body}


class _Packers(threading.local):
    """A msgpack Packer per thread (reused: cheaper than ``packb``; not safe to share)."""

    def __init__(self) -> None:
        self.pack = msgpack.Packer(use_bin_type=True).pack


_packers = _Packers()


def _pack(env: dict[str, Any]) -> bytes:
    return _packers.pack(env)


_ABSENT: Any = object()
_unpackb = msgpack.unpackb
_check_keys = vbio.check_keys if vbio is not None else None
_decode_env = vbio.decode_envelope if vbio is not None else None
_encode_env = vbio.encode_envelope if vbio is not None else None


def decode(
    frames: list[bytes],
    reg: Registry = registry,
    in_place: Callable[[str], bool] | None = None,
) -> Envelope:
    """Decode multipart frames; raise :class:`FrameError` (or a subclass) if they are bad.

    Every rule of ``docs/protocol.md`` section 3 is checked; the reason names the rule broken.
    A raw field in shared memory on a topic for which ``in_place`` is true is read in place: a
    read-only ``memoryview`` of the publisher's ring, valid as long as it is referenced
    (section 9, "Reads in place"); otherwise, and for every other raw field, ``bytes``.
    """
    # This runs once per message per subscriber. The envelope is read in C when bus/native is
    # built (every rule that needs no model checked there); anything unusual, and everything
    # without it, goes through _envelope() below, which pays for the exact diagnosis.
    n = len(frames)
    if n != 2 and n != 3:
        raise refuse("F1", f"a message has 2 or 3 frames, this one has {n}")
    t = frames[0]
    try:
        topic = (t if t.__class__ is bytes else bytes(t)).decode()
    except UnicodeDecodeError as exc:
        raise refuse("F2", "the topic (frame 0) is not valid UTF-8") from exc
    if not topic:
        raise refuse("F2", "the topic (frame 0) is empty")
    data = frames[1]
    if len(data) > MAX_ENVELOPE_BYTES:
        raise refuse(
            "F3",
            f"the envelope (frame 1) has {len(data)} bytes, more than the "
            f"limit of {MAX_ENVELOPE_BYTES}",
        )
    fields = _decode_env(data) if _decode_env is not None else None
    if fields is None:
        fields = _envelope(data, topic)
    source, instance, seq, ts_ns, trace, body, sv_major, sv_minor, raw_name, extra = fields
    view_of = None
    if extra is not None and "shm" in extra:  # the raw field is in shared memory (section 9)
        try:
            view_of = _from_shm(
                frames, body, raw_name, extra, in_place is not None and in_place(topic)
            )
        except LostError as exc:
            exc.stream = (source, instance, topic, seq)
            raise
        if not extra:
            extra = None
    elif raw_name is not None:
        if n != 3:
            raise refuse(
                "F6",
                f"the envelope names the raw field {raw_name!r:.60} but the message has no frame 2",
            )
        if raw_name in body:
            raise refuse(
                "E15",
                f"the payload field {raw_name!r:.60} is both in frame 2 (raw) and "
                "in 'p'; send it in one place",
            )
        raw = frames[2]
        if len(raw) > MAX_RAW_BYTES:
            raise refuse(
                "F4",
                f"the raw frame (frame 2) has {len(raw)} bytes, more than the "
                f"limit of {MAX_RAW_BYTES}",
            )
        body[raw_name] = raw if raw.__class__ is bytes else bytes(raw)
    elif n == 3:
        raise refuse(
            "F5",
            "the message has a frame 2 but the envelope names no field for it ('raw' or 'shm')",
        )
    model = reg.model_for(topic)
    payload: Message | dict[str, Any] = body
    if model is not None:
        if sv_major != model.schema_version[0]:
            raise VersionError(
                f"payload on {topic!r} from {source!r} has schema {sv_major}."
                f"{sv_minor}; this reader knows {model.schema_version[0]}.x "
                "(docs/protocol.md rule V2)"
            )
        view = None
        if view_of is not None and body[view_of].__class__ is memoryview:
            view = body[view_of]  # validated as bytes (a memoryview is not), then put back
            body[view_of] = b""
        try:
            payload = model.__pydantic_validator__.validate_python(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "payload"
            raise SchemaError(
                f"payload on {topic!r} from {source!r} does not match "
                f"{model.__name__}: {where}: {first['msg']} (docs/protocol.md rule P1)"
            ) from exc
        # __pydantic_fields__, not model_fields: that is a slow class property (about 5 us)
        if view is not None and view_of in model.__pydantic_fields__:
            payload.__dict__[view_of] = view
    return Envelope(
        topic,
        source,
        instance,
        seq,
        ts_ns,
        trace,
        payload,
        (sv_major, sv_minor),
        {} if extra is None else extra,
    )


def _from_shm(
    frames: list[bytes],
    body: dict[str, Any],
    raw_name: str | None,
    extra: dict[str, Any],
    in_place: bool,
) -> str:
    """Put the payload a descriptor (frame 2) names into ``body`` (rules E16, F6, E15, F7);
    the field's name."""
    name = extra.pop("shm")
    if type(name) is not str or not name or raw_name is not None:
        raise refuse(
            "E16",
            f"envelope key 'shm' is {name!r:.60}"
            + (
                "; a message has either 'raw' or 'shm', not both"
                if raw_name is not None
                else "; it must be the name of the payload field in shared memory"
            ),
        )
    if len(frames) != 3:
        raise refuse(
            "F6",
            f"the envelope names the field {name!r:.60} in shared memory but the "
            "message has no frame 2 (its descriptor)",
        )
    if name in body:
        raise refuse(
            "E15",
            f"the payload field {name!r:.60} is both in shared memory and in "
            "'p'; send it in one place",
        )
    body[name] = _shm_read(frames[2], in_place)
    return name


def _envelope(data: bytes, topic: str) -> tuple[Any, ...]:
    """The envelope's fields in Python (the fields ``decode_envelope`` returns), or a refusal
    with its exact reason: rules E1 to E14 and V1."""
    try:
        if _check_keys is not None and not _check_keys(data):
            # every map's keys are unique strs (checked in C): the plain unpacker is enough
            env = _unpackb(data, raw=False, strict_map_key=True, max_bin_len=MAX_ENVELOPE_BYTES)
        else:  # the hook says which key of which map is wrong (rules E3, E4)
            env = _unpackb(
                data,
                raw=False,
                strict_map_key=True,
                object_pairs_hook=unique_map,
                max_bin_len=MAX_ENVELOPE_BYTES,
            )
    except FrameError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise msgpack_reason(exc) from exc
    if type(env) is not dict:
        raise refuse("E2", f"the envelope is a msgpack {msgpack_type(env)}, not a map")
    v: Any = env.get("v")
    source: Any = env.get("src")
    body: Any = env.get("p")
    trace: Any = env.get("tr")
    instance: Any = env.get("inst")
    seq: Any = env.get("seq")
    ts_ns: Any = env.get("ts")
    if not (
        type(v) is list
        and len(v) == 2
        and v[0] == 1
        and type(v[0]) is int
        and type(v[1]) is int
        and v[1] >= 0
        and type(source) is str
        and source
        and type(body) is dict
        and type(trace) is str
        and type(instance) is int
        and 0 <= instance <= MAX_INSTANCE
        and type(seq) is int
        and seq >= 1
        and type(ts_ns) is int
    ):
        check_envelope(env, topic)
    raw_name = env.get("raw")
    if "raw" in env and (type(raw_name) is not str or not raw_name):
        raise refuse(
            "E14",
            f"envelope key 'raw' is {raw_name!r:.60}; when present it must be "
            "the name of the payload field carried in frame 2",
        )
    sv = env.get("sv", _ABSENT)
    if sv is _ABSENT:
        sv_major, sv_minor = 1, 0
    elif type(sv) is list and len(sv) == 2 and type(sv[0]) is int and type(sv[1]) is int:
        sv_major, sv_minor = sv
        if sv_major < 0 or sv_minor < 0:
            check_schema_version(sv)
    else:
        sv_major, sv_minor = check_schema_version(sv)
    extra = None if _KNOWN.issuperset(env) else {k: x for k, x in env.items() if k not in _KNOWN}
    return (source, instance, seq, ts_ns, trace, body, sv_major, sv_minor, raw_name, extra)
