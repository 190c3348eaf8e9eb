"""One speech segment -> its ``asr.text``: the PCM checked, recognised (long ones in pieces), timed.

Pure of the bus: :func:`recognise` takes a :class:`~workers.asr.transcript.Recognizer` and a
``vad.segment`` payload and returns the ``asr.text`` payload with its timings;
:func:`recognise_partial` does the same for the open segment of a ``vad.partial``.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from schemas.asr import AsrPartial, AsrText
from schemas.vad import VadPartial, VadSegment
from workers.asr.errors import AudioFormatError
from workers.asr.longform import transcribe_long
from workers.asr.transcript import Recognizer, Transcript

__all__ = ["SAMPLE_RATE_HZ", "recognise", "recognise_partial", "segment_samples"]

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000


def segment_samples(segment: VadSegment | VadPartial) -> np.ndarray:
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


def _run(
    recognizer: Recognizer, segment: VadSegment | VadPartial, overlap_ms: int, careful: bool = False
) -> tuple[Transcript, float, float]:
    """(transcript, processing seconds, audio seconds) of a segment's PCM."""
    samples = segment_samples(segment)
    started = time.perf_counter()
    transcript, pieces = transcribe_long(
        recognizer,
        samples,
        SAMPLE_RATE_HZ * overlap_ms // 1000,
        partial=isinstance(segment, VadPartial) and not careful,
    )
    infer_s = time.perf_counter() - started
    log.debug("recognised segment=%s pieces=%d infer_s=%.3f", segment.segment_id, pieces, infer_s)
    return transcript, infer_s, len(samples) / SAMPLE_RATE_HZ


def _backend(recognizer: Recognizer, transcript: Transcript) -> str:
    """The name of the recogniser whose text this is: the stop check's when it answered."""
    return transcript.checked_by or recognizer.name


def recognise(
    recognizer: Recognizer, segment: VadSegment, overlap_ms: int = 300, *, bus_ms: float = 0.0
) -> AsrText:
    """Recognise one segment and build its ``asr.text`` (timings included)."""
    transcript, infer_s, audio_s = _run(recognizer, segment, overlap_ms)
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
        backend=_backend(recognizer, transcript),
        bus_ms=bus_ms,
    )


def recognise_partial(
    recognizer: Recognizer,
    partial: VadPartial,
    overlap_ms: int = 300,
    *,
    bus_ms: float = 0.0,
    careful: bool = False,
) -> tuple[AsrPartial, bool]:
    """Recognise the open segment of a ``vad.partial`` into its ``asr.partial``, and whether
    its text is a looping decode's first turn (quick, for a stop word; not to be reused for the
    segment). ``careful``: recognised as a segment is (a loop decoded again)."""
    transcript, infer_s, audio_s = _run(recognizer, partial, overlap_ms, careful)
    heard = AsrPartial(
        text=transcript.text,
        segment_id=partial.segment_id,
        revision=partial.revision,
        part=partial.part,
        language=transcript.language,
        emotion=transcript.emotion,
        event=transcript.event,
        itn=transcript.itn,
        paused=partial.paused,
        speech_end_ns=partial.speech_end_ns,
        audio_s=audio_s,
        infer_ms=1000.0 * infer_s,
        backend=_backend(recognizer, transcript),
        bus_ms=bus_ms,
    )
    return heard, transcript.loop_cut
