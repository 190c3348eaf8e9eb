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


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded frame: routing fields plus the payload.

    ``payload`` is the topic's model when the topic is registered, else the plain map.
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
    if not isinstance(env, dict):
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


def decode(frames: list[bytes], reg: Registry = registry) -> Envelope:
    """Decode multipart frames; raise :class:`FrameError` (or a subclass) if they are bad."""
    if len(frames) not in (2, 3):
        raise FrameError(f"expected 2 or 3 frames, got {len(frames)}")
    try:
        topic = bytes(frames[0]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError("topic is not valid UTF-8") from exc
    env = _unpack(bytes(frames[1]))
    version = _version(env.get("v"), "protocol version")
    if version[0] != PROTOCOL_VERSION[0]:
        raise VersionError(
            f"frame on {topic!r} from {env.get('src')!r} uses protocol {version[0]}.{version[1]}; "
            f"this reader speaks {PROTOCOL_VERSION[0]}.x"
        )
    for key, typ in _REQUIRED.items():
        value = env.get(key)
        if not isinstance(value, typ) or isinstance(value, bool):
            raise FrameError(f"envelope field {key!r} is missing or not a {typ.__name__}")
    trace = env.get("tr", "")
    if not isinstance(trace, str):
        raise FrameError("envelope field 'tr' is not a string")
    body: dict[str, Any] = env["p"]
    raw_name = env.get("raw")
    if raw_name is not None:
        if not isinstance(raw_name, str) or len(frames) != 3:
            raise FrameError("envelope names a raw field but the raw frame is missing")
        if len(frames[2]) > MAX_RAW_BYTES:
            raise FrameError(f"raw frame of {len(frames[2])} bytes exceeds {MAX_RAW_BYTES}")
        body = {**body, raw_name: bytes(frames[2])}
    elif len(frames) == 3:
        raise FrameError("a raw frame was sent but the envelope names no raw field")
    schema_version = _version(env.get("sv", [1, 0]), "schema version")
    model = reg.model_for(topic)
    payload: Message | dict[str, Any] = body
    if model is not None:
        if schema_version[0] != model.schema_version[0]:
            raise VersionError(
                f"payload on {topic!r} from {env['src']!r} has schema {schema_version[0]}."
                f"{schema_version[1]}; this reader knows {model.schema_version[0]}.x"
            )
        try:
            payload = model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "payload"
            raise SchemaError(
                f"payload on {topic!r} from {env['src']!r} does not match "
                f"{model.__name__}: {where}: {first['msg']}"
            ) from exc
    known = {"v", "src", "inst", "seq", "ts", "tr", "sv", "p", "raw"}
    return Envelope(
        topic=topic,
        source=env["src"],
        instance=env["inst"],
        seq=env["seq"],
        ts_ns=env["ts"],
        trace=trace,
        payload=payload,
        schema_version=schema_version,
        extra={k: v for k, v in env.items() if k not in known},
    )
