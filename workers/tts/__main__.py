"""``python -m workers.tts``: ``tts.request`` sentences in, ``tts.audio`` out; ``speaker.stop``
cancels.

One ``tts.audio`` per request (the turn id as trace, the request's time on the bus in
``bus_ms``) and a ``tts_synth_ms`` metric sample per sentence. A sentence is spoken only when no
message is waiting, so a barge-in that arrived meanwhile cancels the sentences queued behind it
first. No speech engine: exit 2, saying what to install.
"""

from __future__ import annotations

import logging
import sys

from bus import BusNode, Envelope
from schemas.speaker import SpeakerStop
from schemas.tts import TtsRequest
from workers.runner import run_worker
from workers.tts.backends import TtsError
from workers.tts.manifest import MANIFEST
from workers.tts.queue import SpeechQueue
from workers.tts.settings import TtsSettings
from workers.tts.synth import Synthesizer

log = logging.getLogger("workers.tts")

#: Receive ages kept for sentences not yet spoken.
_REMEMBER = 256


def main() -> int:
    """Run the worker until SIGTERM."""
    return run_worker(MANIFEST, run, cannot_run=(TtsError,))


def run(node: BusNode) -> None:
    """Load the engines, then serve."""
    synth = Synthesizer(node.settings_as(TtsSettings))
    node.ready()
    serve(node, synth)


def serve(node: BusNode, synth: Synthesizer) -> None:
    """The loop: queue each request, apply each stop, speak while nothing else waits."""
    queue = SpeechQueue()
    ages: dict[tuple[str, int], float] = {}
    for msg in node.events():
        _take(queue, msg)
        if isinstance(msg.payload, TtsRequest):
            ages[(msg.payload.turn_id, msg.payload.index)] = msg.bus_ms
            while len(ages) > _REMEMBER:  # those of cancelled sentences are never popped
                ages.pop(next(iter(ages)))
        while len(queue) and not node.pending():
            req = queue.pop()
            if req is None:
                break
            audio = synth.speak(req)
            bus_ms = ages.pop((req.turn_id, req.index), 0.0)
            if bus_ms:
                audio = audio.model_copy(update={"bus_ms": bus_ms})
            node.publish("tts.audio", audio, trace=req.turn_id)
            if audio.pcm:
                node.metric("tts_synth_ms", audio.synth_ms, "sample", trace=req.turn_id,
                            backend=audio.backend)  # fmt: skip


def _take(queue: SpeechQueue, msg: Envelope) -> None:
    if isinstance(msg.payload, TtsRequest):
        queue.push(msg.payload)
    elif isinstance(msg.payload, SpeakerStop):
        n = queue.stop(msg.payload)
        if n:
            log.info("sentences_cancelled count=%d turn=%s", n, msg.payload.turn_id)


if __name__ == "__main__":
    sys.exit(main())
