"""The ``vad`` worker: consumes ``audio.frame``; publishes ``vad.state`` and ``vad.segment``.

``vad.state`` goes out the moment speech starts or ends (it drives barge-in); ``vad.segment``
carries the closed segment's PCM with the segment id as the trace id of the turn.
"""

from __future__ import annotations

import sys

from bus import Node
from schemas.audio import AudioFrame
from workers.runner import run_worker
from workers.vad.pipeline import VadPipeline
from workers.vad.settings import VadSettings


def main() -> int:
    """Run the worker until SIGTERM."""
    return run_worker(_work)


def _work(node: Node) -> int | None:
    """The worker's recipe (``run_worker`` joins the bus and handles its end)."""
    pipeline = VadPipeline(node.settings_as(VadSettings))
    node.subscribe("audio.frame")
    node.ready()
    reported_lost = 0
    for msg in node:
        if not isinstance(msg.payload, AudioFrame):
            continue
        for topic, payload, trace in pipeline.feed(msg.payload):
            node.publish(topic, payload, trace=trace)
        if pipeline.frames_lost != reported_lost:
            reported_lost = pipeline.frames_lost
            node.metric("vad.frames_lost", reported_lost, kind="counter")
    return 0


if __name__ == "__main__":
    sys.exit(main())
