"""``python -m workers.rtgw``: ``rtos.command`` in; ``rtos.ack``, ``rtos.telemetry``, ``rtos.link``
and ring counters (``sys.metric``) out.

Maps its region (``settings.region``), plays IVMR endpoint 0 and calls the gateway logic on each
command, on every tick, and, with a doorbell (``settings.doorbell``), as soon as the RT side rings
it: the loop then waits on the doorbell's descriptor beside the bus instead of polling the ring
every ``poll_ms``. The RT application (``rtos/build/rtapp`` on a host) plays endpoint 1. A missing
``libivmr.so`` or a region that cannot be opened: exit 2, naming it.
"""

from __future__ import annotations

import logging
import sys
import time

from bus import BusNode, Readable, Tick, payload_as
from schemas.rtos import RtosCommand
from workers.rtgw import layout
from workers.rtgw.doorbell import open_doorbell
from workers.rtgw.errors import LibraryError, RegionError
from workers.rtgw.gateway import Gateway
from workers.rtgw.manifest import MANIFEST
from workers.rtgw.region import open_region
from workers.rtgw.ring import Endpoint
from workers.rtgw.settings import GatewaySettings
from workers.runner import run_worker

log = logging.getLogger("workers.rtgw")


def main() -> int:
    """Run the worker until SIGTERM."""
    return run_worker(MANIFEST, run, cannot_run=(LibraryError, RegionError))


def run(node: BusNode) -> None:
    """Map the region, attach endpoint 0, then serve."""
    settings = node.settings_as(GatewaySettings)
    rt_capacity = settings.rt_capacity or settings.capacity
    region = open_region(settings.region, layout.layout_size(settings.capacity, rt_capacity))
    try:
        ep = Endpoint(
            region.buffer,
            0,
            capacity=settings.capacity,
            max_msg=settings.max_msg,
            hb_period_ms=settings.heartbeat_ms,
        )
        try:
            gw = Gateway(ep, settings, open_doorbell(settings.doorbell))
            try:
                node.ready()
                log.info("started region=%s epoch=%016x", settings.region, ep.epoch)
                serve(node, gw, settings)
            finally:
                gw.close()
        finally:
            ep.close()
    finally:
        region.close()


def serve(node: BusNode, gw: Gateway, settings: GatewaySettings) -> None:
    """The loop: each command submitted at once; the rings stepped on every tick, and drained
    whenever the doorbell rings (the ring is armed before each wait, spec section 4)."""
    every_ns = int(settings.metrics_every_s * 1e9)
    next_metrics_ns = 0
    fd = gw.wake_fd
    # With a doorbell the tick only keeps the session (heartbeats, deadlines) going.
    tick_s = settings.poll_ms / 1000 if fd is None else settings.heartbeat_ms / 2000
    loop = node.events(tick_s=tick_s, watch=[] if fd is None else [fd])
    for event in loop:
        if isinstance(event, Tick):
            now_s = event.now_ns / 1e9
            node.publish_many(gw.step(now_s))
            if event.now_ns >= next_metrics_ns:
                next_metrics_ns = event.now_ns + every_ns
                for name, value in gw.metrics().items():
                    node.metric(name, value, kind="gauge")
        elif isinstance(event, Readable):
            node.publish_many(gw.on_wake(time.monotonic()))
        else:
            now_s = event.recv_ns / 1e9
            node.publish_many(gw.submit(payload_as(event, RtosCommand), event.trace, now_s))
            node.publish_many(gw.step(now_s))
        if fd is not None:
            while not gw.prepare_wait():  # records arrived before we armed: take them now
                node.publish_many(gw.on_wake(time.monotonic()))


if __name__ == "__main__":
    sys.exit(main())
