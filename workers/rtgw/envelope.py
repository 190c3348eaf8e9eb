"""The safety envelope: what may reach the RT side, checked before anything enters the ring.

Pure logic, no I/O: :func:`check` (allow-list and a bound on every field), :class:`RateLimiter`
(token bucket) and :class:`CommandQueue` (coalescing newest-wins per set-point class, a bounded
FIFO for discrete commands). STOP and ESTOP are always admitted: they skip the bounds and the
rate limit, cancel pending motion, and use the ring's URGENT reserve. The RT side re-checks
everything (defence in depth); this layer gives the clear reasons.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from schemas import rtos_limits as car
from schemas.rtos import CommandKind, RtosCommand

__all__ = [
    "ALWAYS_ADMITTED",
    "CommandQueue",
    "EnvelopeSettings",
    "Pending",
    "RateLimiter",
    "check",
    "command_class",
]

#: Kinds that are never refused by bounds, allow-list or rate limit.
ALWAYS_ADMITTED = frozenset({"stop", "estop"})
_ALL_KINDS: tuple[CommandKind, ...] = ("drive", "turn", "stop", "estop", "reset", "led", "buzzer")


class EnvelopeSettings(BaseModel):
    """Bounds of the safety envelope (``settings.envelope`` of the ``rtgw`` worker); the
    defaults are the car's limits (:mod:`schemas.rtos_limits`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    allow: tuple[CommandKind, ...] = _ALL_KINDS
    """Command kinds allowed through; stop and estop are always allowed."""
    max_linear_mps: float = Field(default=car.MAX_LINEAR_MPS, gt=0)
    """Largest |linear_mps| of a drive, m/s."""
    max_angular_dps: float = Field(default=car.MAX_ANGULAR_DPS, gt=0)
    """Largest |angular_dps| of a drive or turn, degrees/s."""
    max_duration_ms: int = Field(default=car.MAX_DURATION_MS, gt=0)
    """Longest drive, ms."""
    max_distance_m: float = Field(default=car.MAX_DISTANCE_M, gt=0)
    """Longest drive distance, m."""
    max_angle_deg: float = Field(default=car.MAX_ANGLE_DEG, gt=0)
    """Largest |angle_deg| of a turn, degrees."""
    min_ttl_ms: int = Field(default=20, ge=1)
    """Shortest time to live accepted, ms."""
    max_ttl_ms: int = Field(default=5_000, le=65_535)
    """Longest time to live accepted, ms (u16 on the wire)."""
    buzzer_hz: tuple[int, int] = (car.BUZZER_MIN_HZ, car.BUZZER_MAX_HZ)
    """Allowed buzzer frequencies, Hz (inclusive)."""
    max_buzzer_ms: int = Field(default=car.MAX_BUZZER_MS, gt=0)
    """Longest buzzer tone, ms."""
    rate_per_s: float = Field(default=20.0, gt=0)
    """Sustained commands per second (token bucket; stop/estop exempt)."""
    burst: int = Field(default=10, ge=1)
    """Commands allowed at once above the sustained rate."""
    max_pending: int = Field(default=16, ge=1)
    """Discrete commands (reset) waiting for ring space before new ones are refused."""


def _bad_float(*values: float) -> bool:
    return any(not math.isfinite(v) for v in values)


def check(cmd: RtosCommand, s: EnvelopeSettings) -> str | None:
    """``None`` if ``cmd`` is inside the envelope, else the reason as a sentence."""
    if not 0 <= cmd.cmd_id <= 0xFFFFFFFF:
        return f"cmd_id {cmd.cmd_id} is outside 0..2^32-1; choose a 32-bit unsigned id."
    if cmd.kind in ALWAYS_ADMITTED:
        return None
    if cmd.kind not in s.allow:
        return (
            f"Command kind {cmd.kind!r} is not in the allow-list "
            f"({', '.join(s.allow)}); it was not sent."
        )
    if not s.min_ttl_ms <= cmd.ttl_ms <= s.max_ttl_ms:
        return f"ttl_ms {cmd.ttl_ms} is outside {s.min_ttl_ms}..{s.max_ttl_ms} ms."
    if _bad_float(cmd.linear_mps, cmd.angular_dps, cmd.angle_deg, cmd.distance_m):
        return "A numeric field is not a finite number (NaN or infinity)."
    if cmd.kind == "drive":
        if abs(cmd.linear_mps) > s.max_linear_mps:
            return f"linear_mps {cmd.linear_mps:g} exceeds the limit of ±{s.max_linear_mps:g} m/s."
        if abs(cmd.angular_dps) > s.max_angular_dps:
            return (
                f"angular_dps {cmd.angular_dps:g} exceeds the limit of "
                f"±{s.max_angular_dps:g} degrees/s."
            )
        if not 0 <= cmd.duration_ms <= s.max_duration_ms:
            return f"duration_ms {cmd.duration_ms} is outside 0..{s.max_duration_ms} ms."
        if abs(cmd.distance_m) > s.max_distance_m:
            return (
                f"|distance_m| {abs(cmd.distance_m):g} exceeds the limit of {s.max_distance_m:g} m."
            )
        if cmd.distance_m:
            if cmd.linear_mps == 0 or cmd.linear_mps * cmd.distance_m < 0:
                return (
                    "A drive over a distance needs a nonzero linear_mps with the same sign as "
                    "distance_m."
                )
            need_ms = abs(cmd.distance_m / cmd.linear_mps) * 1000
            if not cmd.duration_ms and need_ms > s.max_duration_ms:
                return (
                    f"Driving {abs(cmd.distance_m):g} m at {abs(cmd.linear_mps):g} m/s takes "
                    f"{need_ms / 1000:.1f} s, longer than max_duration_ms {s.max_duration_ms}."
                )
    elif cmd.kind == "turn":
        if cmd.angle_deg == 0 or abs(cmd.angle_deg) > s.max_angle_deg:
            return (
                f"angle_deg {cmd.angle_deg:g} must be nonzero and within "
                f"±{s.max_angle_deg:g} degrees."
            )
        if abs(cmd.angular_dps) > s.max_angular_dps:
            return (
                f"angular_dps {cmd.angular_dps:g} exceeds the limit of "
                f"±{s.max_angular_dps:g} degrees/s."
            )
    elif cmd.kind == "led":
        if not 0 <= cmd.led_rgb <= 0xFFFFFF:
            return f"led_rgb {cmd.led_rgb:#x} is not a 0xRRGGBB colour."
    elif cmd.kind == "buzzer":
        lo, hi = s.buzzer_hz
        if not lo <= cmd.buzzer_hz <= hi:
            return f"buzzer_hz {cmd.buzzer_hz} is outside {lo}..{hi} Hz."
        if not 0 < cmd.duration_ms <= s.max_buzzer_ms:
            return f"duration_ms {cmd.duration_ms} is outside 1..{s.max_buzzer_ms} ms for a tone."
    return None


class RateLimiter:
    """Token bucket: ``rate_per_s`` sustained, ``burst`` at once."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last_s: float | None = None

    def allow(self, now_s: float) -> bool:
        """Take a token if one is there."""
        if self._last_s is not None:
            self._tokens = min(self.burst, self._tokens + (now_s - self._last_s) * self.rate_per_s)
        self._last_s = now_s
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def command_class(kind: str) -> str:
    """The coalescing class: ``motion``, ``led``, ``buzzer``; ``discrete`` for the others."""
    if kind in ("drive", "turn"):
        return "motion"
    if kind in ("led", "buzzer"):
        return kind
    return "discrete"


@dataclass
class Pending:
    """A command accepted by the envelope, waiting for ring space."""

    cmd: RtosCommand
    trace: str
    accepted_s: float
    tries: int = 0


@dataclass
class CommandQueue:
    """Pending commands: one newest-wins slot per set-point class, a FIFO for the rest."""

    max_pending: int = 16
    slots: dict[str, Pending] = field(default_factory=dict)
    fifo: deque[Pending] = field(default_factory=deque)

    def put(self, p: Pending) -> tuple[list[tuple[Pending, str]], str | None]:
        """Queue ``p``. Returns the commands it displaced with the reason, and a reason if
        ``p`` itself was refused (queue full)."""
        displaced: list[tuple[Pending, str]] = []
        cls = command_class(p.cmd.kind)
        if cls == "discrete":
            if p.cmd.kind in ALWAYS_ADMITTED:
                old = self.slots.pop("motion", None)
                if old is not None:
                    displaced.append(
                        (old, f"Cancelled by {p.cmd.kind} {p.cmd.cmd_id} before it was sent.")
                    )
            elif len(self.fifo) >= self.max_pending:
                return displaced, (
                    f"{self.max_pending} commands already wait for ring space; try again later."
                )
            self.fifo.append(p)
            return displaced, None
        old = self.slots.get(cls)
        if old is not None:
            displaced.append(
                (old, f"Superseded by command {p.cmd.cmd_id} before it was sent (newest wins).")
            )
        self.slots[cls] = p
        return displaced, None

    def __iter__(self) -> Iterator[Pending]:
        """Pending commands in sending order: urgent first, then the FIFO, then the slots."""
        urgent = [p for p in self.fifo if p.cmd.kind in ALWAYS_ADMITTED]
        yield from urgent
        yield from (p for p in self.fifo if p.cmd.kind not in ALWAYS_ADMITTED)
        yield from list(self.slots.values())

    def remove(self, p: Pending) -> None:
        """Forget ``p`` (sent, expired or refused)."""
        cls = command_class(p.cmd.kind)
        if cls == "discrete":
            self.fifo.remove(p)
        elif self.slots.get(cls) is p:
            del self.slots[cls]

    def clear(self) -> list[Pending]:
        """Remove and return everything."""
        out = [*self.fifo, *self.slots.values()]
        self.fifo.clear()
        self.slots.clear()
        return out

    def __len__(self) -> int:
        return len(self.fifo) + len(self.slots)
