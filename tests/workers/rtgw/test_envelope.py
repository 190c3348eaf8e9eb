"""The safety envelope: allow-list, a bound on every field, rate limit, coalescing, STOP always."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas.rtos import RtosCommand
from workers.rtgw.envelope import (
    CommandQueue,
    EnvelopeSettings,
    Pending,
    RateLimiter,
    check,
    command_class,
)

S = EnvelopeSettings()


def cmd(**kw: Any) -> RtosCommand:
    kw.setdefault("cmd_id", 1)
    return RtosCommand(**kw)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"kind": "drive", "linear_mps": 0.51, "duration_ms": 100}, "linear_mps"),
        ({"kind": "drive", "linear_mps": -0.51, "duration_ms": 100}, "linear_mps"),
        ({"kind": "drive", "angular_dps": 91, "duration_ms": 100}, "angular_dps"),
        ({"kind": "drive", "linear_mps": 0.1, "duration_ms": 10_001}, "duration_ms"),
        ({"kind": "drive", "linear_mps": 0.1, "duration_ms": -1}, "duration_ms"),
        ({"kind": "drive", "linear_mps": 0.1, "distance_m": 3.01}, "distance_m"),
        ({"kind": "drive", "linear_mps": 0.1, "distance_m": -1}, "same sign"),
        ({"kind": "drive", "distance_m": 1}, "nonzero linear_mps"),
        ({"kind": "drive", "linear_mps": 0.1, "distance_m": 2}, "takes 20.0 s"),
        ({"kind": "drive", "linear_mps": float("nan")}, "finite"),
        ({"kind": "drive", "linear_mps": 0.1, "ttl_ms": 5001}, "ttl_ms"),
        ({"kind": "drive", "linear_mps": 0.1, "ttl_ms": 19}, "ttl_ms"),
        ({"kind": "turn", "angle_deg": 361}, "angle_deg"),
        ({"kind": "turn", "angle_deg": 0}, "angle_deg"),
        ({"kind": "turn", "angle_deg": 90, "angular_dps": 200}, "angular_dps"),
        ({"kind": "led", "led_rgb": 0x1000000}, "led_rgb"),
        ({"kind": "led", "led_rgb": -1}, "led_rgb"),
        ({"kind": "buzzer", "buzzer_hz": 49, "duration_ms": 100}, "buzzer_hz"),
        ({"kind": "buzzer", "buzzer_hz": 10_001, "duration_ms": 100}, "buzzer_hz"),
        ({"kind": "buzzer", "buzzer_hz": 440, "duration_ms": 0}, "duration_ms"),
        ({"kind": "buzzer", "buzzer_hz": 440, "duration_ms": 3001}, "duration_ms"),
        ({"kind": "drive", "cmd_id": 2**32}, "cmd_id"),
    ],
)
def test_every_bound_rejects_with_a_reason_naming_the_field(
    fields: dict[str, Any], needle: str
) -> None:
    reason = check(cmd(**fields), S)
    assert reason is not None and needle in reason and reason.endswith(".")


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "drive", "linear_mps": 0.5, "angular_dps": -90, "duration_ms": 10_000},
        {"kind": "drive", "linear_mps": 0.3, "distance_m": 3.0},
        {"kind": "drive", "linear_mps": -0.3, "distance_m": -3.0},
        {"kind": "drive", "linear_mps": 0.2, "duration_ms": 0, "ttl_ms": 20},
        {"kind": "turn", "angle_deg": -360, "angular_dps": 90},
        {"kind": "led", "led_rgb": 0xFFFFFF},
        {"kind": "buzzer", "buzzer_hz": 440, "duration_ms": 3000},
        {"kind": "reset"},
    ],
)
def test_values_on_the_bounds_pass(fields: dict[str, Any]) -> None:
    assert check(cmd(**fields), S) is None


def test_allow_list_refuses_other_kinds_but_never_stop_or_estop() -> None:
    s = EnvelopeSettings(allow=("led",))
    assert "allow-list" in (check(cmd(kind="drive", linear_mps=0.1), s) or "")
    assert check(cmd(kind="led"), s) is None
    # stop/estop skip even absurd fields
    assert check(cmd(kind="stop", ttl_ms=0, linear_mps=99), s) is None
    assert check(cmd(kind="estop", ttl_ms=99999), s) is None


def test_bounds_come_from_settings_and_unknown_keys_fail() -> None:
    s = EnvelopeSettings(max_linear_mps=1.0)
    assert check(cmd(kind="drive", linear_mps=0.9), s) is None
    with pytest.raises(ValidationError, match="max_speed"):
        EnvelopeSettings(max_speed=1)  # type: ignore[call-arg]


def test_rate_limiter_allows_a_burst_then_the_sustained_rate() -> None:
    rl = RateLimiter(rate_per_s=10, burst=3)
    assert [rl.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert rl.allow(0.05) is False
    assert rl.allow(0.1) is True


def test_queue_coalesces_set_points_newest_wins() -> None:
    q = CommandQueue()
    a = Pending(cmd(cmd_id=1, kind="drive", linear_mps=0.1), "", 0.0)
    b = Pending(cmd(cmd_id=2, kind="turn", angle_deg=10), "", 0.0)
    displaced, refused = q.put(a)
    assert displaced == [] and refused is None
    displaced, _ = q.put(b)
    assert [(p.cmd.cmd_id, "Superseded" in why) for p, why in displaced] == [(1, True)]
    assert [p.cmd.cmd_id for p in q] == [2]
    assert command_class("led") == "led" and command_class("reset") == "discrete"


def test_stop_cancels_pending_motion_and_goes_first() -> None:
    q = CommandQueue()
    q.put(Pending(cmd(cmd_id=1, kind="reset"), "", 0.0))
    q.put(Pending(cmd(cmd_id=2, kind="led", led_rgb=1), "", 0.0))
    q.put(Pending(cmd(cmd_id=3, kind="drive", linear_mps=0.1), "", 0.0))
    displaced, refused = q.put(Pending(cmd(cmd_id=4, kind="stop"), "", 0.0))
    assert refused is None and [p.cmd.cmd_id for p, _ in displaced] == [3]
    assert [p.cmd.cmd_id for p in q] == [4, 1, 2]


def test_discrete_fifo_is_bounded_but_stop_is_always_queued() -> None:
    q = CommandQueue(max_pending=2)
    for i in range(2):
        q.put(Pending(cmd(cmd_id=i, kind="reset"), "", 0.0))
    _, refused = q.put(Pending(cmd(cmd_id=9, kind="reset"), "", 0.0))
    assert refused is not None and "try again" in refused
    _, refused = q.put(Pending(cmd(cmd_id=10, kind="estop"), "", 0.0))
    assert refused is None and len(q) == 3
