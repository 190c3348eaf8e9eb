"""The ``rtgw`` worker's manifest: ``rtos.command`` in; acks, telemetry and link state out.

The far side is not on the bus: commands go into, and telemetry and acks come out of, the IVMR v1
shared-memory rings (``settings.region``) that the RT-Thread application maps too.
"""

from bus import Manifest
from schemas.rtos import RtosAck, RtosCommand, RtosLink, RtosTelemetry
from workers.rtgw.settings import GatewaySettings

MANIFEST = Manifest(
    kind="gateway",
    summary="Bridges car commands through the safety envelope to the RT-Thread side and back.",
    consumes={"rtos.command": RtosCommand},
    produces={"rtos.ack": RtosAck, "rtos.telemetry": RtosTelemetry, "rtos.link": RtosLink},
    settings=GatewaySettings,
    bridge="IVMR shared memory",
)
