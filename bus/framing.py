"""Encoding and decoding of bus frames (the layout is specified in ``docs/protocol.md``).

A message is a ZeroMQ multipart ``[topic, envelope]`` or ``[topic, envelope, raw]``. The envelope
is a msgpack map; the payload is the topic's model dumped to a map, except the model's
``raw_field`` which travels alone in the third frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack
from pydantic import ValidationError

from bus.errors import FrameError, SchemaError, VersionError
from schemas.base import Message
from schemas.registry import Registry, registry

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "PROTOCOL_VERSION",
    "Envelope",
    "decode",
    "encode",
]

#: (major, minor) of the frame layout. Readers refuse another major.
PROTOCOL_VERSION: tuple[int, int] = (1, 0)
#: Largest envelope frame a reader accepts (large binary data belongs in the raw frame).
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024
#: Largest raw frame a reader accepts.
MAX_RAW_BYTES = 64 * 1024 * 1024

_REQUIRED = {"v": list, "src": str, "inst": int, "seq": int, "ts": int, "p": dict}
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

    @property
    def age_ms(self) -> float:
        """Receive time minus publish time, ms: the time on the bus (meaningful on one board,
        where both stamps come from the same monotonic clock); 0.0 if not received by a node."""
        return (self.recv_ns - self.ts_ns) / 1e6 if self.recv_ns else 0.0

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
) -> list[bytes]:
    """Build the multipart frames for one message."""
    raw_name = payload.raw_field
    body = payload.model_dump(mode="python", exclude={raw_name} if raw_name else None)
    env: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "src": source,
        "inst": instance,
        "seq": seq,
        "ts": ts_ns,
        "tr": trace,
        "sv": payload.schema_version,
        "p": body,
    }
    if raw_name:
        env["raw"] = raw_name
        return [topic.encode(), msgpack.packb(env, use_bin_type=True), getattr(payload, raw_name)]
    return [topic.encode(), msgpack.packb(env, use_bin_type=True)]


def _unpack(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_ENVELOPE_BYTES:
        raise FrameError(f"envelope of {len(data)} bytes exceeds {MAX_ENVELOPE_BYTES}")
    try:
        env = msgpack.unpackb(data, raw=False, strict_map_key=True, max_bin_len=MAX_ENVELOPE_BYTES)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise FrameError(f"envelope is not valid msgpack: {exc}") from exc
    if type(env) is not dict:
        raise FrameError(f"envelope is a msgpack {type(env).__name__}, expected a map")
    return env


def _version(value: Any, what: str) -> tuple[int, int]:
    if (
        not isinstance(value, list | tuple)
        or len(value) < 1
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in value)
    ):
        raise FrameError(f"{what} {value!r} is not a list of integers")
    return (value[0], value[1] if len(value) > 1 else 0)


def _check_fields(env: dict[str, Any]) -> None:
    """Raise the precise error for an envelope that failed the fast checks."""
    for key, typ in _REQUIRED.items():
        value = env.get(key)
        if not isinstance(value, typ) or isinstance(value, bool):
            raise FrameError(f"envelope field {key!r} is missing or not a {typ.__name__}")
    if not isinstance(env.get("tr", ""), str):
        raise FrameError("envelope field 'tr' is not a string")


def decode(frames: list[bytes], reg: Registry = registry) -> Envelope:
    """Decode multipart frames; raise :class:`FrameError` (or a subclass) if they are bad."""
    # This runs once per message per subscriber: the common case is checked with cheap exact
    # type tests, and only a frame that fails them pays for the detailed diagnosis.
    if len(frames) not in (2, 3):
        raise FrameError(f"expected 2 or 3 frames, got {len(frames)}")
    try:
        topic = bytes(frames[0]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError("topic is not valid UTF-8") from exc
    env = _unpack(bytes(frames[1]))
    v = env.get("v")
    if type(v) is list and len(v) == 2 and type(v[0]) is int and type(v[1]) is int:
        version = (v[0], v[1])
    else:
        version = _version(v, "protocol version")
    if version[0] != PROTOCOL_VERSION[0]:
        raise VersionError(
            f"frame on {topic!r} from {env.get('src')!r} uses protocol {version[0]}.{version[1]}; "
            f"this reader speaks {PROTOCOL_VERSION[0]}.x"
        )
    source: Any = env.get("src")
    body: Any = env.get("p")
    trace: Any = env.get("tr", "")
    instance: Any = env.get("inst")
    seq: Any = env.get("seq")
    ts_ns: Any = env.get("ts")
    if not (
        type(source) is str
        and type(body) is dict
        and type(trace) is str
        and type(instance) is int
        and type(seq) is int
        and type(ts_ns) is int
    ):
        _check_fields(env)
    raw_name = env.get("raw")
    if raw_name is not None:
        if type(raw_name) is not str or len(frames) != 3:
            raise FrameError("envelope names a raw field but the raw frame is missing")
        if len(frames[2]) > MAX_RAW_BYTES:
            raise FrameError(f"raw frame of {len(frames[2])} bytes exceeds {MAX_RAW_BYTES}")
        body[raw_name] = bytes(frames[2])
    elif len(frames) == 3:
        raise FrameError("a raw frame was sent but the envelope names no raw field")
    sv = env.get("sv")
    if sv is None:
        schema_version = (1, 0)
    elif type(sv) is list and len(sv) == 2 and type(sv[0]) is int and type(sv[1]) is int:
        schema_version = (sv[0], sv[1])
    else:
        schema_version = _version(sv, "schema version")
    model = reg.model_for(topic)
    payload: Message | dict[str, Any] = body
    if model is not None:
        if schema_version[0] != model.schema_version[0]:
            raise VersionError(
                f"payload on {topic!r} from {source!r} has schema {schema_version[0]}."
                f"{schema_version[1]}; this reader knows {model.schema_version[0]}.x"
            )
        try:
            payload = model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "payload"
            raise SchemaError(
                f"payload on {topic!r} from {source!r} does not match "
                f"{model.__name__}: {where}: {first['msg']}"
            ) from exc
    extra = {} if _KNOWN.issuperset(env) else {k: x for k, x in env.items() if k not in _KNOWN}
    return Envelope(
        topic,
        source,
        instance,
        seq,
        ts_ns,
        trace,
        payload,
        schema_version,
        extra,
    )
