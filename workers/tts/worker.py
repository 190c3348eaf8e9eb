"""TTS worker: speaks ``tts.request`` sentences as ``tts.audio``, obeying ``speaker.stop``.

Consumes ``tts.request`` and ``speaker.stop``; produces ``tts.audio`` (one per request, the
turn id as trace) and a ``tts_synth_ms`` metric sample per sentence. Before each sentence it
takes every message already waiting, so a barge-in cancels the sentences queued behind it.
"""

from __future__ import annotations

import logging

from bus import Node
from bus.framing import Envelope
from bus.nodecore import NodeCore
from schemas.speaker import SpeakerStop
from schemas.tts import TtsRequest
from workers.runner import run_worker
from workers.tts.queue import SpeechQueue
from workers.tts.settings import TtsSettings
from workers.tts.synth import Synthesizer

__all__ = ["main", "run"]

log = logging.getLogger("workers.tts")


def _take(queue: SpeechQueue, msg: Envelope) -> None:
    if isinstance(msg.payload, TtsRequest):
        queue.push(msg.payload)
    elif isinstance(msg.payload, SpeakerStop):
        n = queue.stop(msg.payload)
        if n:
            log.info("sentences_cancelled count=%d turn=%s", n, msg.payload.turn_id)


def run(node: NodeCore, synth: Synthesizer, *, once: bool = False) -> None:
    """Serve until stopped (``once``: until nothing is waiting, for tests)."""
    queue = SpeechQueue()
    node.subscribe("tts.request", "speaker.stop")
    node.ready()
    while node.running:
        msg = node.poll(0.0 if len(queue) or once else 0.1)
        while msg is not None:
            _take(queue, msg)
            msg = node.poll(0.0)
        req = queue.pop()
        if req is None:
            if once:
                return
            continue
        audio = synth.speak(req)
        node.publish("tts.audio", audio, trace=req.turn_id)
        if audio.pcm:
            node.metric("tts_synth_ms", audio.synth_ms, "sample", trace=req.turn_id,
                        backend=audio.backend)  # fmt: skip


def main() -> int:
    """Entry point of ``python -m workers.tts``."""
    return run_worker(_work)


def _work(node: Node) -> int | None:
    """The worker's recipe (``run_worker`` joins the bus and handles its end)."""
    run(node, Synthesizer(node.settings_as(TtsSettings)))
    return 0
