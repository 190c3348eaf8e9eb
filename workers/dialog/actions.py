"""Intents for the car: bounds, the commands they become, and how their outcome is spoken.

An intent is a :class:`schemas.rtos.CarIntent`: one ``rtos_command`` tool call of the LLM
(``LlmReply.intents``, already checked by the LLM worker against the tool's schema), or the
field map of one clause the local grammar understood (``{"kind": "drive", "distance_m": 2.0}``).
:func:`check_intent` validates a field map as strictly as the LLM's tool calls (no unknown key,
no coercion: a misspelt key is refused, never defaulted) and refuses an intent that is out of the
dialog's bounds (the gateway's safety envelope checks again; refusing here lets the assistant say
why); :func:`to_commands` numbers a checked sequence. The car runs one motion at a time and a new
one preempts the current one, so the dialog sends a sequence one command at a time, each when the
previous one is done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from schemas import rtos_limits as car
from schemas.rtos import CarIntent, RtosCommand
from text.intents import ToolArguments

__all__ = [
    "Bounds",
    "Checked",
    "IntentLike",
    "check_intent",
    "describe",
    "strict_intent",
    "to_commands",
]

IntentLike = CarIntent | Mapping[str, Any]
"""A typed intent, or the field map of one (checked strictly by :func:`strict_intent`)."""


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

    intent: CarIntent | None
    """The intent, completed with defaults; None when refused."""
    refusal: str = ""
    """Why it was refused, as a short phrase (spoken after 'I can't do that:')."""
    detail: str = ""
    """What exactly was wrong with a malformed intent, for the log (not spoken)."""


def strict_intent(intent: IntentLike) -> CarIntent:
    """The typed intent of a field map, validated like a tool call (unknown keys and wrong
    types refused: :class:`ValueError` saying which); a :class:`CarIntent` as it is."""
    if isinstance(intent, CarIntent):
        return intent
    try:
        checked = ToolArguments.model_validate(dict(intent))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'intent'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ValueError(f"the command is malformed ({problems})") from exc
    return CarIntent.model_validate(checked.model_dump(exclude_unset=True))


def check_intent(intent: IntentLike, bounds: Bounds) -> Checked:
    """Refuse a malformed intent or one outside ``bounds``; fill in the drive speed when only a
    distance is set."""
    try:
        intent = strict_intent(intent)
    except ValueError as exc:
        return Checked(None, "I could not read that command", detail=str(exc))
    out = intent
    if intent.kind == "drive":
        if intent.distance_m == 0 and intent.duration_ms == 0:
            return Checked(None, "a drive needs a distance or a duration")
        if abs(intent.distance_m) > bounds.max_distance_m:
            return Checked(
                None, f"{abs(intent.distance_m):g} metres is more than my {bounds.max_distance_m:g}"
            )
        if intent.duration_ms < 0 or intent.duration_ms > bounds.max_duration_ms:
            return Checked(None, f"{intent.duration_ms / 1000:g} seconds is too long a drive")
        speed = intent.linear_mps
        if speed == 0 and intent.distance_m != 0:
            speed = bounds.default_speed_mps if intent.distance_m > 0 else -bounds.default_speed_mps
            out = intent.model_copy(update={"linear_mps": speed})
        if abs(speed) > bounds.max_speed_mps:
            return Checked(None, f"{abs(speed):g} metres per second is too fast")
        if speed * intent.distance_m < 0:
            return Checked(None, "the speed and the distance point in opposite directions")
    if intent.kind in ("drive", "turn") and abs(intent.angular_dps) > bounds.max_angular_dps:
        return Checked(None, f"turning at {abs(intent.angular_dps):g} degrees a second is too fast")
    if intent.kind == "turn":
        if intent.angle_deg == 0 or abs(intent.angle_deg) > bounds.max_angle_deg:
            return Checked(None, f"a turn of {intent.angle_deg:g} degrees is out of range")
    elif intent.kind == "buzzer":
        tone_ok = car.BUZZER_MIN_HZ <= intent.buzzer_hz <= car.BUZZER_MAX_HZ
        if not 0 < intent.duration_ms <= car.MAX_BUZZER_MS or not tone_ok:
            return Checked(None, "that tone is out of range")
    elif intent.kind == "led" and not 0 <= intent.led_rgb <= 0xFFFFFF:
        return Checked(None, "that colour does not exist")
    return Checked(out)


def to_commands(
    intents: Sequence[CarIntent], bounds: Bounds, *, first_id: int, source: str
) -> list[RtosCommand]:
    """Number checked intents from ``first_id`` (the caller sends them one after the other)."""
    return [
        RtosCommand(
            **intent.model_dump(),
            cmd_id=(first_id + i) & 0xFFFFFFFF,
            ttl_ms=bounds.ttl_ms,
            source=source,
        )
        for i, intent in enumerate(intents)
    ]


def _num(x: float) -> str:
    return f"{x:g}"


def describe(intent: CarIntent, lang: str = "en") -> str:
    """A short spoken description of an intent ('moving forward 1 metre' / '前进1米')."""
    kind = intent.kind
    dist = intent.distance_m
    angle = intent.angle_deg
    secs = intent.duration_ms / 1000
    zh = lang == "zh"
    if kind == "drive":
        fwd = dist > 0 or (dist == 0 and intent.linear_mps >= 0)
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
    zh_text, en_text = table.get(kind, ("执行命令", "running the command"))
    return zh_text if zh else en_text
