"""The ``rtgw`` worker: consumes ``rtos.command``; publishes ``rtos.ack``, ``rtos.telemetry``,
``rtos.link`` and ring counters as ``sys.metric``.

Maps its region (``settings.region``), plays IVMR endpoint 0 and calls the gateway logic every
``poll_ms``; the RT application (``rtos/build/rtapp`` on a host) plays endpoint 1.
"""

from __future__ import annotations

import logging
import sys
import time

from bus import Node
from schemas.rtos import RtosCommand
from workers.rtgw import layout
from workers.rtgw.doorbell import open_doorbell
from workers.rtgw.gateway import Gateway
from workers.rtgw.region import open_region
from workers.rtgw.ring import Endpoint
from workers.rtgw.settings import GatewaySettings
from workers.runner import run_worker

log = logging.getLogger("workers.rtgw")


def main() -> int:
    """Run the worker until SIGTERM."""
    return run_worker(_work)


def _work(node: Node) -> int | None:
    """The worker's recipe (``run_worker`` joins the bus and handles its end)."""
    settings = node.settings_as(GatewaySettings)
    region = open_region(settings.region, layout.region_size(settings.capacity))
    ep = Endpoint(
        region.buffer,
        0,
        capacity=settings.capacity,
        max_msg=settings.max_msg,
        hb_period_ms=settings.heartbeat_ms,
    )
    gw = Gateway(ep, settings, open_doorbell(settings.doorbell))
    node.subscribe("rtos.command")
    node.ready()
    log.info("started region=%s epoch=%016x", settings.region, ep.epoch)
    poll_s = settings.poll_ms / 1000
    next_metrics = time.monotonic() + settings.metrics_every_s
    try:
        while node.running:
            msg = node.poll(poll_s)
            now = time.monotonic()
            out = []
            if msg is not None and isinstance(msg.payload, RtosCommand):
                out += gw.submit(msg.payload, msg.trace, now)
            out += gw.step(now)
            for topic, payload, trace in out:
                node.publish(topic, payload, trace=trace)
            if now >= next_metrics:
                next_metrics = now + settings.metrics_every_s
                for name, value in gw.metrics().items():
                    node.metric(name, value, kind="gauge")
    finally:
        gw.close()
        ep.close()
        region.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
