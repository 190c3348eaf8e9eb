"""Dialog worker: transcripts in, spoken replies and car commands out.

Consumes ``vad.state``, ``asr.text``, ``llm.delta``, ``llm.reply``, ``llm.wait``, ``tts.audio``,
``speaker.report``, ``rtos.ack``, ``rtos.telemetry``, ``sys.lifecycle``.
Produces ``llm.request``, ``llm.abort``, ``tts.request``, ``speaker.stop``, ``rtos.command``,
``dialog.state``, ``dialog.turn`` and, per finished turn, ``sys.metric`` samples of its latency
breakdown (``turn_end_to_end_ms``, ``turn_asr_ms``, ...) for ``top`` and the Prometheus exporter.
All the logic is in :class:`workers.dialog.manager.TurnManager`.
"""

from __future__ import annotations

import logging
import time

from bus import Node
from bus.nodecore import NodeCore
from schemas.dialog import TurnMetrics
from workers.dialog.manager import Out, TurnManager
from workers.dialog.settings import DialogSettings
from workers.runner import run_worker

__all__ = ["TOPICS", "main", "run"]

log = logging.getLogger("workers.dialog")

TOPICS = (
    "vad.state",
    "asr.text",
    "llm.delta",
    "llm.reply",
    "llm.wait",
    "tts.audio",
    "speaker.report",
    "rtos.ack",
    "rtos.telemetry",
    "sys.lifecycle",
)
_METRIC_FIELDS = (
    "vad_close_ms",
    "asr_ms",
    "llm_ttft_ms",
    "first_audio_ms",
    "end_to_end_ms",
    "bus_ms",
)


def publish(node: NodeCore, outs: list[Out]) -> None:
    """Publish the manager's messages, and the latency of each finished turn as metrics."""
    for o in outs:
        node.publish(o.topic, o.payload, trace=o.trace)
        if isinstance(o.payload, TurnMetrics) and o.payload.outcome != "ignored":
            m = o.payload
            log.info(
                "turn_done turn=%s outcome=%s end_to_end_ms=%.0f",
                m.turn_id,
                m.outcome,
                m.end_to_end_ms,
            )
            for name in _METRIC_FIELDS:
                node.metric(f"turn_{name}", getattr(m, name), "sample", trace=o.trace)


def run(node: NodeCore, settings: DialogSettings) -> None:
    """The worker loop: every message to the manager, and a tick every ``tick_s``."""
    mgr = TurnManager(settings, name=node.name)
    node.subscribe(*TOPICS)
    node.ready()
    publish(node, mgr.start())
    next_tick = time.monotonic() + settings.tick_s
    while node.running:
        msg = node.poll(settings.tick_s)
        if msg is not None and msg.source != node.name:
            publish(node, mgr.handle(msg, time.monotonic_ns()))
        if time.monotonic() >= next_tick:
            publish(node, mgr.tick(time.monotonic_ns()))
            next_tick = time.monotonic() + settings.tick_s


def main() -> int:
    """Entry point of ``python -m workers.dialog``."""
    return run_worker(_work)


def _work(node: Node) -> int | None:
    """The worker's recipe (``run_worker`` joins the bus and handles its end)."""
    run(node, node.settings_as(DialogSettings))
    return 0
