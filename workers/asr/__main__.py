"""``python -m workers.asr``: each ``vad.segment`` recognised into one ``asr.text``.

A segment with no speech (SenseVoice tag-only output, or Whisper silence) is still answered,
with empty ``text``, so the turn the segment opened is always closed downstream. Per utterance
it publishes ``asr_rtf`` (processing time / audio time), ``asr_infer_ms`` and ``asr_latency_ms``
(end of speech to text published, when the segment knows its speech end). A missing model
directory or file, or a runtime this machine cannot load: exit 2, naming what is missing.
"""

from __future__ import annotations

import logging
import sys
import time

import numpy as np

from bus import BusNode, payload_as
from schemas.vad import VadSegment
from workers.asr.backends import open_recognizer
from workers.asr.errors import AudioFormatError, ModelDirError, RuntimeUnavailable
from workers.asr.manifest import MANIFEST
from workers.asr.recognise import SAMPLE_RATE_HZ, recognise
from workers.asr.settings import AsrSettings
from workers.asr.transcript import Recognizer
from workers.runner import run_worker

log = logging.getLogger("workers.asr")


def main() -> int:
    """Run the worker until SIGTERM."""
    return run_worker(MANIFEST, run, cannot_run=(ModelDirError, RuntimeUnavailable))


def run(node: BusNode) -> None:
    """Load the model, pay the first (slow) inference before ready, then serve."""
    settings = node.settings_as(AsrSettings)
    recognizer = open_recognizer(settings)
    try:
        started = time.perf_counter()
        recognizer.transcribe(np.zeros(SAMPLE_RATE_HZ, dtype=np.float32))
        log.info(
            "asr_ready backend=%s warmup_s=%.2f", recognizer.name, time.perf_counter() - started
        )
        node.ready()
        serve(node, recognizer, settings)
    finally:
        recognizer.close()


def serve(node: BusNode, recognizer: Recognizer, settings: AsrSettings) -> None:
    """The loop: one ``asr.text`` (and its metrics) per ``vad.segment``."""
    for msg in node.events():
        try:
            result = recognise(recognizer, payload_as(msg, VadSegment), settings.overlap_ms)
        except AudioFormatError as exc:
            log.error("segment_refused reason=%s", exc)
            continue
        node.publish("asr.text", result, trace=msg.trace)
        labels = {"backend": result.backend}
        node.metric("asr_rtf", result.rtf, "sample", trace=msg.trace, **labels)
        node.metric("asr_infer_ms", result.infer_ms, "sample", trace=msg.trace, **labels)
        if result.speech_end_ns:
            latency_ms = (time.monotonic_ns() - result.speech_end_ns) / 1e6
            node.metric("asr_latency_ms", latency_ms, "sample", trace=msg.trace, **labels)


if __name__ == "__main__":
    sys.exit(main())
