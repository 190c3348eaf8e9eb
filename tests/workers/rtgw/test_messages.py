"""The message catalogue: byte layouts shared with rtos/app/msgs.h."""

from __future__ import annotations

import struct

import pytest

from schemas.rtos import RtosCommand
from workers.rtgw import layout, messages


def test_drive_payload_layout() -> None:
    c = RtosCommand(
        cmd_id=7, kind="drive", linear_mps=-0.25, angular_dps=12.5, duration_ms=1500, ttl_ms=300
    )
    rtype, flags, payload = messages.encode_command(c, age_ms=4)
    assert (rtype, flags) == (0x0101, 0)
    assert payload == struct.pack("<IHHiiII", 7, 300, 4, -250, 12500, 1500, 0)
    assert len(payload) == 24


@pytest.mark.parametrize(
    ("fields", "rtype", "size"),
    [
        ({"kind": "turn", "angle_deg": -90, "angular_dps": -30}, 0x0102, 16),
        ({"kind": "stop"}, 0x0103, 8),
        ({"kind": "estop"}, 0x0104, 8),
        ({"kind": "reset"}, 0x0105, 8),
        ({"kind": "led", "led_rgb": 0x123456}, 0x0106, 12),
        ({"kind": "buzzer", "buzzer_hz": 440, "duration_ms": 200}, 0x0107, 12),
    ],
)
def test_every_kind_has_its_type_and_size(fields: dict, rtype: int, size: int) -> None:
    t, flags, payload = messages.encode_command(RtosCommand(cmd_id=1, **fields))
    assert (t, len(payload)) == (rtype, size)
    assert bool(flags & layout.FLAG_URGENT) == (fields["kind"] in ("stop", "estop"))


def test_turn_sends_the_rate_magnitude() -> None:
    _, _, p = messages.encode_command(
        RtosCommand(cmd_id=1, kind="turn", angle_deg=-90, angular_dps=-30)
    )
    assert struct.unpack("<ii", p[8:]) == (-90000, 30000)


def test_telemetry_and_ack_decode_and_tolerate_trailing_bytes() -> None:
    raw = struct.pack("<IHHiiiiiIII", 1234, 1, 5050, 1500, -20, 90000, 300, 0, 0x2, 7900, 9)
    t = messages.decode_telemetry(raw + b"future")
    assert (t.state, t.x_m, t.y_m, t.heading_deg, t.linear_mps) == ("moving", 1.5, -0.02, 90, 0.3)
    assert (t.battery_pct, t.battery_v, t.faults, t.active_cmd_id, t.rt_time_ms) == (
        50.5, 7.9, 2, 9, 1234,
    )  # fmt: skip
    a = messages.decode_ack(struct.pack("<IHHiI", 9, 3, 3, 0, 5))
    assert (a.cmd_id, a.status, a.by) == (9, "rejected", "rtos") and "reset" in a.reason


def test_short_payloads_are_refused() -> None:
    with pytest.raises(messages.PayloadError):
        messages.decode_telemetry(bytes(39))
    with pytest.raises(messages.PayloadError):
        messages.decode_ack(bytes(15))
