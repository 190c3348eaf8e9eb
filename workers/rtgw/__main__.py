"""``python -m workers.rtgw``: ``rtos.command`` in; ``rtos.ack``, ``rtos.telemetry``, ``rtos.link``
and ring counters (``sys.metric``) out.

Maps its region (``settings.region``), plays IVMR endpoint 0 and calls the gateway logic on each
command and every ``poll_ms`` (the loop's tick); the RT application (``rtos/build/rtapp`` on a
host) plays endpoint 1. A missing ``libivmr.so`` or a region that cannot be opened: exit 2,
naming it.
"""

from __future__ import annotations

import logging
import sys

from bus import BusNode, Tick, payload_as
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
    region = open_region(settings.region, layout.region_size(settings.capacity))
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
    """The loop: each command submitted at once; the rings stepped on every tick."""
    every_ns = int(settings.metrics_every_s * 1e9)
    next_metrics_ns = 0
    for event in node.events(tick_s=settings.poll_ms / 1000):
        if isinstance(event, Tick):
            now_s = event.now_ns / 1e9
            node.publish_many(gw.step(now_s))
            if event.now_ns >= next_metrics_ns:
                next_metrics_ns = event.now_ns + every_ns
                for name, value in gw.metrics().items():
                    node.metric(name, value, kind="gauge")
        else:
            now_s = event.recv_ns / 1e9
            node.publish_many(gw.submit(payload_as(event, RtosCommand), event.trace, now_s))
            node.publish_many(gw.step(now_s))


if __name__ == "__main__":
    sys.exit(main())
