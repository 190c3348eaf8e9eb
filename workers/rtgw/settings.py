"""Settings of the ``rtgw`` worker (the ``settings:`` of its entry in the supervisor config).

A light module (pydantic and the pure envelope), so that the manifest and ``supervisor.py
check`` can validate them without loading the C ring core. The region itself is not opened
here: a board config (``uio:/dev/uio0``) can be checked on a host.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from workers.rtgw.envelope import EnvelopeSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(BaseModel):
    """Settings of the ``rtgw`` worker."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    region: str = "shmfile:/dev/shm/voicebus-ivmr"
    """The shared region: 'shmfile:/dev/shm/NAME' (host), 'uio:/dev/uioN', 'devmem:0xADDR'."""
    capacity: int = 16384
    """Bytes of our ring (a power of two); the RT side must use it as its Linux capacity."""
    rt_capacity: int | None = None
    """Bytes of the RT side's ring, to size the region (default: capacity)."""
    max_msg: int = 1024
    """Largest payload, bytes; capacity >= 4 * (16 + max_msg)."""
    heartbeat_ms: int = Field(default=100, ge=1)
    """Our heartbeat period, ms; the peer is dead after 5 of its own periods."""
    poll_ms: float = Field(default=2.0, gt=0)
    """Ring poll period, ms (the wait on the bus between ring polls)."""
    doorbell: str = "poll"
    """'poll', 'fifo:IN,OUT' (host), 'eventfd:IN_FD,OUT_FD' or
    'uio:/dev/uioN[,map=M,offset=0xOFF,value=V]'."""
    metrics_every_s: float = Field(default=5.0, gt=0)
    """How often the ring counters are published as sys.metric."""
    ping_every_s: float = Field(default=1.0, gt=0)
    """How often a PING checks end-to-end processing on the RT side (RTT in the metrics)."""
    attach_timeout_s: float = Field(default=10.0, gt=0)
    """Warn on rtos.link when no RT side has linked this long after the start."""
    ack_grace_s: float = Field(default=1.0, gt=0)
    """How long past a command's time to live and run its final ack may take, s (then the
    gateway ends it ``failed``: the ack was lost)."""
    envelope: EnvelopeSettings = EnvelopeSettings()
    """The safety envelope."""
