"""Intents for the car: bounds, the commands they become, and how their outcome is spoken.

An intent is the argument map of one ``rtos_command`` tool call (the fields of
:class:`schemas.rtos.RtosCommand` the model may set). :func:`check_intent` refuses one that is
out of the dialog's bounds (the gateway's safety envelope checks again; refusing here lets the
assistant say why); :func:`to_commands` numbers a checked sequence. The car runs one motion at a
time and a new one preempts the current one, so the dialog sends a sequence one command at a
time, each when the previous one is done.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from schemas import rtos_limits as car
from schemas.rtos import RtosCommand
from text.intents import parse_intent

__all__ = [
    "Bounds",
    "Checked",
    "Intent",
    "check_intent",
    "describe",
    "intents_from_json",
    "to_commands",
]

Intent = dict[str, Any]


class Bounds(BaseModel):
    """What the dialog lets a spoken command ask of the car (defaults: the car's limits)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_speed_mps: float = car.MAX_LINEAR_MPS
    """Largest forward or backward speed, m/s."""
    default_speed_mps: float = 0.3
    """Speed used when a drive gives a distance but no speed, m/s."""
    max_distance_m: float = car.MAX_DISTANCE_M
    """Longest drive of one command, metres."""
    max_angle_deg: float = car.MAX_ANGLE_DEG
    """Largest turn of one command, degrees."""
    max_angular_dps: float = car.MAX_ANGULAR_DPS
    """Largest yaw rate, degrees per second."""
    max_duration_ms: int = car.MAX_DURATION_MS
    """Longest timed drive, ms (a tone: the car's MAX_BUZZER_MS)."""
    ttl_ms: int = 500
    """Time to live of a command that can start at once, ms."""


@dataclass(frozen=True)
class Checked:
    """An intent after the bounds check."""

    intent: Intent | None
    """The intent, completed with defaults; None when refused."""
    refusal: str = ""
    """Why it was refused, as a short phrase (spoken after 'I can't do that:')."""


def intents_from_json(intent_json: str) -> tuple[list[Intent], str]:
    """Intents of an ``llm.reply`` (one object or a list); ``(intents, error)``.

    Each object is re-validated with the LLM worker's schema, so a garbled one yields an error
    and no intent at all (never a guess).
    """
    try:
        data = json.loads(intent_json)
    except json.JSONDecodeError as exc:
        return [], f"the command is not valid JSON ({exc.msg})"
    items = data if isinstance(data, list) else [data]
    out: list[Intent] = []
    for item in items:
        res = parse_intent(json.dumps(item))
        if res.error or not res.intent_json:
            return [], res.error or "the command is empty"
        out.append(json.loads(res.intent_json))
    return out, ""


def check_intent(intent: Intent, bounds: Bounds) -> Checked:
    """Refuse an intent outside ``bounds``; fill in the drive speed when only a distance is set."""
    try:
        cmd = RtosCommand.model_validate({"cmd_id": 0, **intent})
    except ValidationError as exc:
        return Checked(None, f"the command is malformed ({exc.errors()[0]['msg']})")
    out = dict(intent)
    if cmd.kind == "drive":
        if cmd.distance_m == 0 and cmd.duration_ms == 0:
            return Checked(None, "a drive needs a distance or a duration")
        if abs(cmd.distance_m) > bounds.max_distance_m:
            return Checked(
                None, f"{abs(cmd.distance_m):g} metres is more than my {bounds.max_distance_m:g}"
            )
        if cmd.duration_ms < 0 or cmd.duration_ms > bounds.max_duration_ms:
            return Checked(None, f"{cmd.duration_ms / 1000:g} seconds is too long a drive")
        speed = cmd.linear_mps
        if speed == 0 and cmd.distance_m != 0:
            speed = bounds.default_speed_mps if cmd.distance_m > 0 else -bounds.default_speed_mps
            out["linear_mps"] = speed
        if abs(speed) > bounds.max_speed_mps:
            return Checked(None, f"{abs(speed):g} metres per second is too fast")
        if speed * cmd.distance_m < 0:
            return Checked(None, "the speed and the distance point in opposite directions")
    if cmd.kind in ("drive", "turn") and abs(cmd.angular_dps) > bounds.max_angular_dps:
        return Checked(None, f"turning at {abs(cmd.angular_dps):g} degrees a second is too fast")
    if cmd.kind == "turn":
        if cmd.angle_deg == 0 or abs(cmd.angle_deg) > bounds.max_angle_deg:
            return Checked(None, f"a turn of {cmd.angle_deg:g} degrees is out of range")
    elif cmd.kind == "buzzer":
        tone_ok = car.BUZZER_MIN_HZ <= cmd.buzzer_hz <= car.BUZZER_MAX_HZ
        if not 0 < cmd.duration_ms <= car.MAX_BUZZER_MS or not tone_ok:
            return Checked(None, "that tone is out of range")
    elif cmd.kind == "led" and not 0 <= cmd.led_rgb <= 0xFFFFFF:
        return Checked(None, "that colour does not exist")
    return Checked(out)


def to_commands(
    intents: Sequence[Intent], bounds: Bounds, *, first_id: int, source: str
) -> list[RtosCommand]:
    """Number checked intents from ``first_id`` (the caller sends them one after the other)."""
    out = []
    for i, intent in enumerate(intents):
        fields = {"cmd_id": (first_id + i) & 0xFFFFFFFF, "ttl_ms": bounds.ttl_ms, "source": source}
        out.append(RtosCommand.model_validate({**intent, **fields}))
    return out


def _num(x: float) -> str:
    return f"{x:g}"


def describe(intent: Intent, lang: str = "en") -> str:
    """A short spoken description of an intent ('moving forward 1 metre' / '前进1米')."""
    kind = intent.get("kind")
    dist = float(intent.get("distance_m", 0.0))
    angle = float(intent.get("angle_deg", 0.0))
    secs = float(intent.get("duration_ms", 0)) / 1000
    zh = lang == "zh"
    if kind == "drive":
        fwd = dist > 0 or (dist == 0 and float(intent.get("linear_mps", 0.0)) >= 0)
        if zh:
            how = f"{_num(abs(dist))}米" if dist else f"{_num(secs)}秒"
            return ("前进" if fwd else "后退") + how
        how = (
            f"{_num(abs(dist))} metre" + ("" if abs(dist) == 1 else "s")
            if dist
            else f"for {_num(secs)} seconds"
        )
        return f"moving {'forward' if fwd else 'backward'} {how}"
    if kind == "turn":
        side_zh, side_en = ("左", "left") if angle > 0 else ("右", "right")
        if zh:
            return f"{side_zh}转{_num(abs(angle))}度"
        return f"turning {side_en}" + ("" if abs(angle) == 90 else f" {_num(abs(angle))} degrees")
    table = {
        "stop": ("停车", "stopping"),
        "estop": ("紧急停车", "emergency stop"),
        "led": ("换灯光颜色", "changing the light"),
        "buzzer": ("鸣笛", "beeping"),
    }
    zh_text, en_text = table.get(str(kind), ("执行命令", "running the command"))
    return zh_text if zh else en_text
