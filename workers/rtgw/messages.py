"""The car controller's message catalogue (``rtos/app/msgs.h``) <-> the bus models.

Payloads are little-endian with naturally aligned fields; receivers ignore extra trailing bytes
and reject short payloads. Physical units on the wire are integers (mm/s, millidegrees, ms);
the bus models use SI-ish floats (m/s, degrees).
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from schemas.rtos import RtosAck, RtosCommand, RtosTelemetry
from workers.rtgw import layout

__all__ = [
    "COMMAND_TYPES",
    "MSG_ACK",
    "MSG_HELLO",
    "MSG_PING",
    "MSG_PONG",
    "MSG_TELEMETRY",
    "URGENT_KINDS",
    "PayloadError",
    "RtDrops",
    "decode_ack",
    "decode_drops",
    "decode_telemetry",
    "encode_command",
]

MSG_PING: Final = 0x0001
MSG_PONG: Final = 0x0002
MSG_HELLO: Final = 0x0004
MSG_TELEMETRY: Final = 0x0201
MSG_ACK: Final = 0x0202

#: Command kind -> record type.
COMMAND_TYPES: Final = {
    "drive": 0x0101,
    "turn": 0x0102,
    "stop": 0x0103,
    "estop": 0x0104,
    "reset": 0x0105,
    "led": 0x0106,
    "buzzer": 0x0107,
}
#: Kinds sent with the URGENT flag (they may use the reserved last quarter of the ring).
URGENT_KINDS: Final = frozenset({"stop", "estop"})

_HDR = struct.Struct("<IHH")  # cmd_id, ttl_ms, age_ms
_TELEMETRY = struct.Struct("<IHHiiiiiIII")  # 40 B (v1.0)
_DROPS = struct.Struct("<IIII")  # appended in v1.1 at offset 40
_ACK = struct.Struct("<IHHiI")  # 16 B

_STATES: Final = ("idle", "moving", "turning", "stopped", "estop", "fault")
_ACK_STATUS: Final = {1: "started", 2: "done", 3: "rejected", 4: "expired", 5: "failed"}
#: RT ack reason codes as sentences.
ACK_REASONS: Final = {
    0: "",
    1: "The RT side clamped the set-point to its own limits.",
    2: "The command was not started within its time to live.",
    3: "The emergency stop is latched; send a reset command first.",
    4: "The RT side lost the Linux heartbeat and stopped the motors.",
    5: "A newer motion command replaced this one.",
    6: "The payload was shorter than the message needs (version mismatch?).",
    7: "A value is beyond the RT side's hard limits.",
    8: "Stopped by a stop or emergency stop command.",
    9: "The RT side does not know this command type.",
    10: "The RT controller's command queue is full; send fewer commands.",
    11: "The motion hit the RT side's time limit before reaching its target.",
}


class PayloadError(ValueError):
    """A received payload is shorter than its message."""


def _clip_u16(v: int) -> int:
    return max(0, min(0xFFFF, v))


def encode_command(cmd: RtosCommand, age_ms: int = 0) -> tuple[int, int, bytes]:
    """``(record type, flags, payload)`` of a command that passed the envelope."""
    rtype = COMMAND_TYPES[cmd.kind]
    flags = layout.FLAG_URGENT if cmd.kind in URGENT_KINDS else 0
    hdr = _HDR.pack(cmd.cmd_id & 0xFFFFFFFF, _clip_u16(cmd.ttl_ms), _clip_u16(age_ms))
    if cmd.kind == "drive":
        body = struct.pack(
            "<iiII",
            round(cmd.linear_mps * 1000),
            round(cmd.angular_dps * 1000),
            cmd.duration_ms,
            round(abs(cmd.distance_m) * 1000),
        )
    elif cmd.kind == "turn":
        body = struct.pack("<ii", round(cmd.angle_deg * 1000), round(abs(cmd.angular_dps) * 1000))
    elif cmd.kind == "led":
        body = struct.pack("<I", cmd.led_rgb & 0xFFFFFF)
    elif cmd.kind == "buzzer":
        body = struct.pack("<HH", _clip_u16(cmd.buzzer_hz), _clip_u16(cmd.duration_ms))
    else:
        body = b""
    return rtype, flags, hdr + body


def decode_telemetry(payload: bytes) -> RtosTelemetry:
    """An RT ``TELEMETRY`` payload as the bus model."""
    if len(payload) < _TELEMETRY.size:
        raise PayloadError(f"Telemetry payload of {len(payload)} B, needs {_TELEMETRY.size}.")
    t, state, cpct, x, y, hd, v, w, faults, mv, active = _TELEMETRY.unpack_from(payload)
    return RtosTelemetry(
        state=_STATES[state] if state < len(_STATES) else "fault",
        x_m=x / 1000,
        y_m=y / 1000,
        heading_deg=hd / 1000,
        linear_mps=v / 1000,
        angular_dps=w / 1000,
        battery_pct=cpct / 100,
        battery_v=mv / 1000,
        faults=faults,
        rt_time_ms=t,
        active_cmd_id=active,
    )


class RtDrops(NamedTuple):
    """What the RT side could not send or act on since it started (telemetry v1.1), counts."""

    ack_drops: int
    """Acks not sent (its queue or ring full, no link, a fault)."""
    tlm_drops: int
    """Telemetry samples not sent."""
    ring_drops: int
    """Records of any type dropped at a full ring (each one is a seq gap on our side)."""
    cmd_drops: int
    """Commands dropped without an ack (payload too short to carry a cmd_id)."""


def decode_drops(payload: bytes) -> RtDrops | None:
    """The drop counters of a TELEMETRY payload; None for a 40-byte (v1.0) sample."""
    if len(payload) < _TELEMETRY.size + _DROPS.size:
        return None
    return RtDrops(*_DROPS.unpack_from(payload, _TELEMETRY.size))


def decode_ack(payload: bytes) -> RtosAck:
    """An RT ``ACK`` payload as the bus model."""
    if len(payload) < _ACK.size:
        raise PayloadError(f"Ack payload of {len(payload)} B, needs {_ACK.size}.")
    cmd_id, status, reason, value, _t = _ACK.unpack_from(payload)
    text = ACK_REASONS.get(reason, f"RT reason code {reason}.")
    if reason in (1, 7) and value:
        text = f"{text[:-1]} (value {value})."
    return RtosAck(
        cmd_id=cmd_id,
        status=_ACK_STATUS.get(status, "failed"),  # type: ignore[arg-type]
        reason=text,
        by="rtos",
    )
