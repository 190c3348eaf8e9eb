"""The speaker's logic with the output abstracted: queue, resample, record, report (pure).

Audio of each turn is resampled to the output rate and queued; the output pulls one buffer
(``buffer_ms``) at a time, so a ``speaker.stop`` (barge-in) silences it within one buffer. With
``backend: wav`` each turn's played audio is written to ``out_dir/<turn_id>.wav``. Reports say
when a turn started, finished, or was cut and how much of it was played and discarded.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from audio.playback import PlaybackEvent, PlaybackQueue
from audio.resample import resample
from audio.wavio import to_int16, write_wav
from schemas.speaker import SpeakerReport, SpeakerStop
from schemas.tts import TtsAudio
from workers.speaker.settings import SpeakerSettings

__all__ = ["Speaker"]

log = logging.getLogger("workers.speaker")


class Speaker:
    """The speaker's logic with the output abstracted: queue, resample, record, report."""

    def __init__(self, settings: SpeakerSettings) -> None:
        self.s = settings
        self.queue = PlaybackQueue(settings.sample_rate_hz)
        self.buffer = settings.sample_rate_hz * settings.buffer_ms // 1000
        self._recorded: dict[str, list[np.ndarray]] = {}

    def on_audio(self, audio: TtsAudio) -> list[SpeakerReport]:
        """Queue one sentence of synthesized audio.

        Audio of a turn that was stopped is not played; it is reported at once as ``cut`` (all
        of it discarded), so that whoever waits for that turn's playback to end (the dialog, the
        demo's conductor) is not left waiting for a report that would never come.
        """
        x = np.frombuffer(audio.pcm, dtype="<i2")
        if audio.sample_rate_hz != self.s.sample_rate_hz:
            x = to_int16(resample(x, audio.sample_rate_hz, self.s.sample_rate_hz) / 32768.0)
        if self.queue.enqueue(audio.turn_id, x, audio.final):
            return []
        log.info("audio_ignored turn=%s reason=turn_was_stopped", audio.turn_id)
        cut_ms = 1000.0 * len(x) / self.s.sample_rate_hz
        return [
            SpeakerReport(
                turn_id=audio.turn_id, event="cut", cut_ms=cut_ms, at_ns=time.monotonic_ns()
            )
        ]

    def on_stop(self, stop: SpeakerStop) -> list[SpeakerReport]:
        """Stop now; report what was cut."""
        return self.reports(self.queue.stop(stop.turn_id))

    def pull(self) -> tuple[bytes, list[PlaybackEvent]]:
        """One output buffer (and the events it caused); records spans for the WAV backend."""
        p = self.queue.pull(self.buffer)
        if self.s.backend == "wav":
            for turn_id, span in p.spans:
                self._recorded.setdefault(turn_id, []).append(span)
        return p.samples.astype("<i2").tobytes(), p.events

    def reports(self, events: list[PlaybackEvent]) -> list[SpeakerReport]:
        """Turn playback events into reports (writing the turn's WAV file when it is over)."""
        out = []
        for e in events:
            path = ""
            if self.s.backend == "wav" and e.event != "started":
                spans = self._recorded.pop(e.turn_id, [])
                self.s.out_dir.mkdir(parents=True, exist_ok=True)
                pcm = np.concatenate(spans) if spans else np.zeros(0, np.int16)
                path = str(
                    write_wav(
                        self.s.out_dir / f"{e.turn_id or 'turn'}.wav", pcm, self.s.sample_rate_hz
                    )
                )
            out.append(
                SpeakerReport(
                    turn_id=e.turn_id,
                    event=e.event,
                    played_ms=e.played_ms,
                    cut_ms=e.cut_ms,
                    at_ns=time.monotonic_ns(),
                    path=path,
                )
            )
        return out
