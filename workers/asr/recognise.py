"""One speech segment -> its ``asr.text``: the PCM checked, recognised (long ones in pieces), timed.

Pure of the bus: :func:`recognise` takes a :class:`~workers.asr.transcript.Recognizer` and a
``vad.segment`` payload and returns the ``asr.text`` payload with its timings.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from schemas.asr import AsrText
from schemas.vad import VadSegment
from workers.asr.errors import AudioFormatError
from workers.asr.longform import transcribe_long
from workers.asr.transcript import Recognizer

__all__ = ["SAMPLE_RATE_HZ", "recognise", "segment_samples"]

log = logging.getLogger(__name__)

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
