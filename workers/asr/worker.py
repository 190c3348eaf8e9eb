"""The ``asr`` worker: consumes ``vad.segment``; publishes ``asr.text`` and ``sys.metric``.

Each segment is recognised by the configured backend (split into pieces when longer than the
model's window) and answered with one ``asr.text`` carrying the segment's trace id. A segment
with no speech (SenseVoice tag-only output, or Whisper silence) is still answered, with empty
``text``, so the turn that the segment opened is always closed downstream. Per utterance it
publishes ``asr_rtf`` (processing time / audio time), ``asr_infer_ms`` (processing time) and
``asr_latency_ms`` (end of speech to text published, when the segment knows its speech end).
"""

from __future__ import annotations

import logging
import sys
import time

import numpy as np

from bus import MemoryNode, Node
from schemas.asr import AsrText
from schemas.vad import VadSegment
from workers.asr.backends import open_recognizer
from workers.asr.errors import AudioFormatError
from workers.asr.longform import transcribe_long
from workers.asr.settings import AsrSettings
from workers.asr.transcript import Recognizer
from workers.runner import run_worker

__all__ = ["main", "recognise", "segment_samples", "serve"]

log = logging.getLogger("workers.asr")

SAMPLE_RATE_HZ = 16000


def segment_samples(segment: VadSegment) -> np.ndarray:
    """The segment's int16 PCM as float32 in [-1, 1]; refuses any rate but 16 kHz."""
    if segment.sample_rate_hz != SAMPLE_RATE_HZ:
        raise AudioFormatError(
            f"Segment {segment.segment_id} is {segment.sample_rate_hz} Hz; the ASR models need "
            f"{SAMPLE_RATE_HZ} Hz mono int16, so configure the capture/VAD for 16 kHz."
        )
    if len(segment.pcm) % 2:
        raise AudioFormatError(
            f"Segment {segment.segment_id} has an odd number of PCM bytes ({len(segment.pcm)}); "
            "it must be whole int16 samples."
        )
    return np.frombuffer(segment.pcm, dtype="<i2").astype(np.float32) / 32768.0


def recognise(recognizer: Recognizer, segment: VadSegment, overlap_ms: int = 300) -> AsrText:
    """Recognise one segment and build its ``asr.text`` (timings included)."""
    samples = segment_samples(segment)
    started = time.perf_counter()
    transcript, pieces = transcribe_long(recognizer, samples, SAMPLE_RATE_HZ * overlap_ms // 1000)
    infer_s = time.perf_counter() - started
    audio_s = len(samples) / SAMPLE_RATE_HZ
    log.debug("recognised segment=%s pieces=%d infer_s=%.3f", segment.segment_id, pieces, infer_s)
    return AsrText(
        text=transcript.text,
        segment_id=segment.segment_id,
        language=transcript.language,
        emotion=transcript.emotion,
        event=transcript.event,
        itn=transcript.itn,
        audio_s=audio_s,
        infer_ms=1000.0 * infer_s,
        rtf=infer_s / audio_s if audio_s > 0 else 0.0,
        speech_end_ns=segment.speech_end_ns,
        backend=recognizer.name,
    )


def serve(node: Node | MemoryNode, recognizer: Recognizer, settings: AsrSettings) -> None:
    """The loop: one ``asr.text`` (and its metrics) per ``vad.segment``."""
    for msg in node:
        if not isinstance(msg.payload, VadSegment):
            continue
        try:
            result = recognise(recognizer, msg.payload, settings.overlap_ms)
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


def main() -> int:
    """Run the worker until SIGTERM."""
    return run_worker(_work)


def _work(node: Node) -> int | None:
    """The worker's recipe (``run_worker`` joins the bus and handles its end)."""
    settings = node.settings_as(AsrSettings)
    recognizer = open_recognizer(settings)
    started = time.perf_counter()
    # the first inference is slower (allocations, caches): pay it before the first turn
    recognizer.transcribe(np.zeros(SAMPLE_RATE_HZ, dtype=np.float32))
    log.info("asr_ready backend=%s warmup_s=%.2f", recognizer.name, time.perf_counter() - started)
    node.subscribe("vad.segment")
    node.ready()
    try:
        serve(node, recognizer, settings)
    finally:
        recognizer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
