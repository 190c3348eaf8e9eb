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
from schemas.asr import AsrPartial, AsrText
from schemas.vad import VadPartial, VadSegment
from workers.asr.backends import open_recognizer
from workers.asr.background import BackgroundCheck, Checked
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
    per ``vad.partial`` still current (``spec`` holds them between the two); with a stop check,
    a second ``asr.partial`` when the check of a pause hears a stop word (the check runs in a
    thread: :mod:`workers.asr.background`)."""
    spec = spec or Speculation()
    checks = BackgroundCheck(recognizer) if isinstance(recognizer, StopChecked) else None
    # audio that comes through shared memory is read where the VAD wrote it (one copy fewer):
    # only len() and np.frombuffer() read it, and a kept partial only keeps its slot from reuse
    node.read_in_place("vad.partial", "vad.segment")
    try:
        for event in node.events(watch=[checks.wake] if checks is not None else []):
            if not isinstance(event, Envelope):  # a check is done
                assert checks is not None
                checks.wake.clear()  # first: a check that ends from now on wakes us again
                _publish_checks(node, spec, checks.finished())
                continue
            batch = [event]
            while node.pending():
                more = node.poll(0)
                if more is None:
                    break
                batch.append(more)
            for m in spec.worklist(batch):
                try:
                    handle(node, recognizer, settings, spec, m, checks)
                except AudioFormatError as exc:
                    log.error("segment_refused reason=%s", exc)
            if checks is not None:
                _publish_checks(node, spec, checks.finished())
    finally:
        if checks is not None:
            try:
                _publish_checks(node, spec, checks.finished(wait=True))
            finally:
                checks.close()


def handle(
    node: BusNode,
    recognizer: Recognizer,
    settings: AsrSettings,
    spec: Speculation,
    msg: Envelope,
    checks: BackgroundCheck | None = None,
) -> None:
    """Recognise one partial or segment (or reuse its partial's transcript); publish it."""
    bus_ms = msg.bus_ms
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
        spec.keep(partial, heard)
        if checks is not None and checks.recognizer.due(len(partial.pcm) // 2, heard.text):
            # after the main transcript is out, in its thread (the samples: a copy it may keep)
            checks.start(partial, segment_samples(partial), heard, msg.trace)
        return
    segment = payload_as(msg, VadSegment)
    result = spec.take(segment, bus_ms=segment.bus_ms + bus_ms) if settings.speculative else None
    if result is None:
        main = recognizer.main if isinstance(recognizer, StopChecked) else recognizer
        result = recognise(main, segment, settings.overlap_ms, bus_ms=segment.bus_ms + bus_ms)
        if checks is not None and checks.recognizer.due(len(segment.pcm) // 2, result.text):
            # the check model is only ever used by the check's thread
            checks.start(None, segment_samples(segment), _as_partial(segment, result), msg.trace)
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


def _as_partial(segment: VadSegment, text: AsrText) -> AsrPartial:
    """A segment's transcript as the ``asr.partial`` its check's stop would be published as."""
    return AsrPartial(
        text=text.text,
        segment_id=segment.segment_id,
        revision=max(0, segment.partial_revision),
        part=segment.part,
        language=text.language,
        speech_end_ns=segment.speech_end_ns,
        audio_s=text.audio_s,
        backend=text.backend,
    )


def _publish_checks(node: BusNode, spec: Speculation, done: list[Checked]) -> None:
    """For each finished check, its time; for one that heard a stop word, its transcript
    published as the same revision again (the dialog sends STOP) and, if it was a pause's and its
    segment is still open, kept to answer the segment with."""
    for c in done:
        heard = "true" if c.stop is not None else "false"
        node.metric(
            "asr_stop_check_ms", c.check_ms, "sample", trace=c.trace, backend=c.backend, stop=heard
        )
        if c.stop is None:
            continue
        checked = c.heard.model_copy(
            update={
                "text": c.stop.text,
                "language": c.stop.language,
                "emotion": c.stop.emotion,
                "event": c.stop.event,
                "itn": c.stop.itn,
                "infer_ms": c.check_ms,
                "backend": c.backend,
            }
        )
        node.publish("asr.partial", checked, trace=c.trace)
        if c.partial is not None:
            spec.amend(c.partial, checked)


if __name__ == "__main__":
    sys.exit(main())
