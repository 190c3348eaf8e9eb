"""``python -m workers.dialog``: transcripts in; LLM requests, spoken replies and car commands out.

Every message goes to the :class:`~workers.dialog.manager.TurnManager` with its receive time; a
tick every ``tick_s`` checks its deadlines. Its state is kept in ``$VOICEBUS_STATE_FILE`` and
restored when the supervisor restarts it (:mod:`workers.dialog.memory`). Each finished turn is
also published as ``sys.metric`` samples of its latency breakdown (``turn_end_to_end_ms``,
``turn_asr_ms``, ...) for ``top`` and the Prometheus exporter. Invalid settings: exit 2, naming
the key.
"""

from __future__ import annotations

import logging
import sys
import time

from bus import BusNode, Out, Tick
from schemas.dialog import TurnMetrics
from workers.dialog.manager import TurnManager
from workers.dialog.manifest import MANIFEST
from workers.dialog.memory import Memory
from workers.dialog.settings import DialogSettings
from workers.runner import run_worker

log = logging.getLogger("workers.dialog")

_METRIC_FIELDS = (
    "vad_close_ms",
    "asr_partial_ms",
    "asr_ms",
    "llm_ttft_ms",
    "first_clause_ms",
    "tts_ms",
    "first_audio_ms",
    "end_to_end_ms",
    "stop_ms",
    "bus_ms",
)


def main() -> int:
    """Run the worker until SIGTERM."""
    return run_worker(MANIFEST, run)


def run(node: BusNode) -> None:
    """The loop: every message to the manager, and a tick every ``tick_s``."""
    settings = node.settings_as(DialogSettings)
    memory = Memory.from_env(settings.memory_max_age_s)
    mgr = TurnManager(settings, name=node.name, memory=memory)
    node.ready()
    publish(node, mgr.start(time.monotonic_ns()))
    for event in node.events(tick_s=settings.tick_s):
        if isinstance(event, Tick):
            publish(node, mgr.tick(event.now_ns))
        else:
            publish(node, mgr.handle(event, event.recv_ns))


def publish(node: BusNode, outs: list[Out]) -> None:
    """Publish the manager's messages, and the latency of each finished turn as metrics."""
    node.publish_many(outs)
    for o in outs:
        if isinstance(o.payload, TurnMetrics) and o.payload.outcome != "ignored":
            m = o.payload
            log.info(
                "turn_done turn=%s outcome=%s end_to_end_ms=%.0f",
                m.turn_id,
                m.outcome,
                m.end_to_end_ms,
            )
            for name in _METRIC_FIELDS:
                value = getattr(m, name)
                if value > 0 or name in ("end_to_end_ms", "bus_ms"):  # 0 = not measured
                    node.metric(f"turn_{name}", value, "sample", trace=o.trace)


if __name__ == "__main__":
    sys.exit(main())
