"""Commands to, and telemetry from, the RT-Thread side (through the gateway ``rtgw``).

The byte layouts of these messages inside the IVMR shared-memory rings are in ``docs/rtos.md``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from schemas.base import Message
from schemas.registry import registry

__all__ = ["CarIntent", "RtosAck", "RtosCommand", "RtosLink", "RtosTelemetry"]

CommandKind = Literal["drive", "turn", "stop", "estop", "reset", "led", "buzzer"]


class CarIntent(Message):
    """What the car is asked to do, before anyone addresses it as a command.

    The arguments of the LLM's ``rtos_command`` tool (in ``llm.reply``) and what the dialog's own
    command grammar understands; :class:`RtosCommand` adds the sender's id, time to live and
    audit source. Not a topic of its own.
    """

    kind: CommandKind
    """drive (velocity for a duration or distance), turn (by an angle), stop, estop (latched
    emergency stop), reset (clears the estop latch), led, buzzer."""
    linear_mps: float = 0.0
    """drive: forward speed in m/s (negative = backwards)."""
    angular_dps: float = 0.0
    """drive/turn: yaw rate in degrees per second (positive = left)."""
    duration_ms: int = 0
    """drive: how long to apply the velocity, ms (0 = hold it until the TTL runs out);
    buzzer: tone length, ms."""
    angle_deg: float = 0.0
    """turn: angle to turn in degrees (positive = left)."""
    distance_m: float = 0.0
    """drive: distance to travel in metres instead of a duration (0 = use duration)."""
    led_rgb: int = 0
    """led: colour as 0xRRGGBB."""
    buzzer_hz: int = 0
    """buzzer: tone frequency in Hz."""


class RtosCommand(CarIntent):
    """A command for the car controller (topic ``rtos.command``); checked by the safety envelope."""

    cmd_id: int
    """Id chosen by the sender (u32); the ack carries it back."""
    ttl_ms: int = 500
    """Time to live, ms, counted from when the gateway accepts the command: it expires (ack
    ``expired``) if it has not started by then; a drive with duration 0 stops when it ends."""
    source: str = ""
    """Who asked (e.g. 'dialog' with the turn id) for the audit log."""


class RtosAck(Message):
    """The outcome of a command (topic ``rtos.ack``), from the gateway or the RT side."""

    schema_version: ClassVar[tuple[int, int]] = (1, 1)

    cmd_id: int
    """Id of the command acknowledged."""
    status: Literal["accepted", "started", "done", "rejected", "expired", "failed"]
    """accepted = written to the ring (gateway); started = the RT side began executing it;
    done = finished; rejected = refused (see reason); expired = its TTL ran out before it
    started; failed = stopped before the end (preempted, STOP, heartbeat lost)."""
    reason: str = ""
    """Why it was rejected or failed, as a sentence."""
    by: Literal["gateway", "rtos"] = "gateway"
    """Which side decided."""
    at_ns: int = 0
    """Monotonic time (ns, the gateway's clock) of the outcome: for ``accepted`` the moment the
    command was written to the ring; for the RT side's acks when the gateway read them from the
    ring; 0 when not stamped."""


class RtosTelemetry(Message):
    """The car's state (topic ``rtos.telemetry``), sent periodically by the RT side."""

    state: Literal["idle", "moving", "turning", "stopped", "estop", "fault", "offline"]
    """Controller state."""
    x_m: float = 0.0
    """Odometry x position, metres from the start point."""
    y_m: float = 0.0
    """Odometry y position, metres from the start point."""
    heading_deg: float = 0.0
    """Heading, degrees, counter-clockwise from the start heading."""
    linear_mps: float = 0.0
    """Current forward speed, m/s."""
    angular_dps: float = 0.0
    """Current yaw rate, degrees per second."""
    battery_pct: float = 100.0
    """Battery charge, percent."""
    battery_v: float = 0.0
    """Battery voltage, volts."""
    faults: int = 0
    """Fault bit mask (see docs/rtos.md)."""
    rt_time_ms: int = 0
    """RT-Thread tick time of the sample, ms (the RT side's own clock)."""
    active_cmd_id: int = 0
    """Id of the motion command being executed (0 = none)."""


class RtosLink(Message):
    """State of the inter-VM link (topic ``rtos.link``)."""

    state: Literal["up", "down", "restarted", "fault"]
    """up = handshake done; down = peer heartbeat lost; restarted = new peer epoch; fault."""
    peer_epoch: int = 0
    """Epoch of the RT side's endpoint."""
    detail: str = ""
    """What happened, as a sentence."""


registry.register("rtos.command", RtosCommand, core=True)
registry.register("rtos.ack", RtosAck, core=True)
registry.register("rtos.telemetry", RtosTelemetry, core=True)
registry.register("rtos.link", RtosLink, core=True)
