"""``python -m workers.vad``: audio frames in; speech start/end and closed segments out.

``vad.state`` goes out the moment speech starts or ends (it drives barge-in); ``vad.segment``
carries the closed segment's PCM with the segment id as the trace id of the turn; ``vad.partial``
(with ``partial_after_ms``) the open segment at each pause, for a transcript before the close.
``asr.partial``, that transcript, may end the turn sooner or later (``end_of_turn``). Frames
lost before the VAD (index gaps) are counted in the ``vad.frames_lost`` metric.
"""

from __future__ import annotations

import sys

from bus import BusNode, payload_as
from schemas.asr import AsrPartial
from schemas.audio import AudioFrame
from workers.runner import run_worker
from workers.vad.manifest import MANIFEST
from workers.vad.pipeline import VadPipeline
from workers.vad.settings import VadSettings


def main() -> int:
    """Run the worker until SIGTERM (exit 2 for invalid settings)."""
    return run_worker(MANIFEST, run)


def run(node: BusNode) -> None:
    """Each frame through the pipeline; what it decides, published."""
    pipeline = VadPipeline(node.settings_as(VadSettings))
    node.ready()
    reported_lost = 0
    for msg in node.events():
        if isinstance(msg.payload, AsrPartial):  # the transcript of a pause (end_of_turn)
            node.publish_many(pipeline.on_transcript(msg.payload))
            continue
        node.publish_many(pipeline.feed(payload_as(msg, AudioFrame), msg.bus_ms))
        if pipeline.frames_lost != reported_lost:
            reported_lost = pipeline.frames_lost
            node.metric("vad.frames_lost", reported_lost, kind="counter")


if __name__ == "__main__":
    sys.exit(main())
