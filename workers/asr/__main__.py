"""``python -m workers.asr``: each ``vad.segment`` recognised into one ``asr.text``; each
``vad.partial`` (the open segment at a pause) into one ``asr.partial``.

With ``speculative`` (the default) a segment that closes with the speech of its last partial is
answered with that partial's transcript at once (``asr.text.speculative``), so recognition runs
while the VAD still waits out the hangover (:mod:`workers.asr.speculative`). Messages that queued
up while the model ran are taken together, and a partial already superseded is skipped.

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

from bus import BusNode, Envelope, payload_as
from schemas.asr import AsrPartial
from schemas.vad import VadPartial, VadSegment
from workers.asr.backends import open_recognizer
from workers.asr.errors import AudioFormatError, ModelDirError, RuntimeUnavailable
from workers.asr.manifest import MANIFEST
from workers.asr.recognise import (
    SAMPLE_RATE_HZ,
    recognise,
    recognise_partial,
    segment_samples,
)
from workers.asr.settings import AsrSettings
from workers.asr.speculative import Speculation
from workers.asr.stopcheck import StopChecked
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


def serve(
    node: BusNode,
    recognizer: Recognizer,
    settings: AsrSettings,
    spec: Speculation | None = None,
) -> None:
    """The loop: one ``asr.text`` (and its metrics) per ``vad.segment``, one ``asr.partial``
    per ``vad.partial`` still current (``spec`` holds them between the two)."""
    spec = spec or Speculation()
    # audio that comes through shared memory is read where the VAD wrote it (one copy fewer):
    # only len() and np.frombuffer() read it, and a kept partial only keeps its slot from reuse
    node.read_in_place("vad.partial", "vad.segment")
    for msg in node.events():
        batch = [msg]
        while node.pending():
            more = node.poll(0)
            if more is None:
                break
            batch.append(more)
        for m in spec.worklist(batch):
            try:
                handle(node, recognizer, settings, spec, m)
            except AudioFormatError as exc:
                log.error("segment_refused reason=%s", exc)


def handle(
    node: BusNode, recognizer: Recognizer, settings: AsrSettings, spec: Speculation, msg: Envelope
) -> None:
    """Recognise one partial or segment (or reuse its partial's transcript); publish it."""
    bus_ms = max(0.0, msg.age_ms)
    if msg.topic == "vad.partial":
        partial = payload_as(msg, VadPartial)
        # with a stop check, the main recogniser's transcript goes out first, the check's after
        main = recognizer.main if isinstance(recognizer, StopChecked) else recognizer
        heard, loop_cut = recognise_partial(
            main, partial, settings.overlap_ms, bus_ms=partial.bus_ms + bus_ms
        )
        node.publish("asr.partial", heard, trace=msg.trace)
        if loop_cut:  # out at once for its stop word; then the careful one, to answer with
            heard, _ = recognise_partial(
                main, partial, settings.overlap_ms, bus_ms=heard.bus_ms, careful=True
            )
            node.publish("asr.partial", heard, trace=msg.trace)
        if isinstance(recognizer, StopChecked):  # after the main transcript is out
            heard = _second_opinion(recognizer, partial, heard, node, msg)
        spec.keep(partial, heard)
        return
    segment = payload_as(msg, VadSegment)
    result = spec.take(segment, bus_ms=segment.bus_ms + bus_ms) if settings.speculative else None
    if result is None:
        result = recognise(recognizer, segment, settings.overlap_ms, bus_ms=segment.bus_ms + bus_ms)
    node.publish("asr.text", result, trace=msg.trace)
    labels = {"backend": result.backend}
    node.metric("asr_rtf", result.rtf, "sample", trace=msg.trace, **labels)
    node.metric("asr_infer_ms", result.infer_ms, "sample", trace=msg.trace, **labels)
    if result.speech_end_ns:
        latency_ms = (time.monotonic_ns() - result.speech_end_ns) / 1e6
        node.metric(
            "asr_latency_ms",
            latency_ms,
            "sample",
            trace=msg.trace,
            speculative=str(result.speculative).lower(),
            **labels,
        )


def _second_opinion(
    recognizer: StopChecked, partial: VadPartial, heard: AsrPartial, node: BusNode, msg: Envelope
) -> AsrPartial:
    """Ask the stop check about a partial whose main transcript ``heard`` is already out; when
    it hears a stop word, publish its transcript as the same revision again (the dialog sends
    STOP) and return it (the segment is then answered with it)."""
    if not recognizer.due(segment_samples(partial), heard.text):
        return heard
    started = time.perf_counter()
    second = recognizer.recheck(segment_samples(partial), heard.text, partial=True)
    if second is None:
        return heard
    checked = heard.model_copy(
        update={
            "text": second.text,
            "language": second.language,
            "emotion": second.emotion,
            "event": second.event,
            "itn": second.itn,
            "infer_ms": heard.infer_ms + 1000.0 * (time.perf_counter() - started),
            "backend": recognizer.check.name,
        }
    )
    node.publish("asr.partial", checked, trace=msg.trace)
    return checked


if __name__ == "__main__":
    sys.exit(main())
