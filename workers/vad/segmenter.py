"""Turn a stream of classified frames into speech events and closed segments (pure logic).

Feed :meth:`Segmenter.push` one frame at a time with its capture time and whether it is voiced;
it returns the events that frame decided, in order:

- :class:`SpeechStarted` once ``start_voiced`` of the last ``start_window`` frames are voiced; the
  speech start is the first voiced frame of that window,
- :class:`SpeechEnded` once ``hangover_ms`` passed without a voiced frame that had at least
  ``continue_voiced`` voiced frames among the last ``start_window`` (so an isolated noise hit does
  not prolong speech); the speech end is the end of the last such voiced frame (``dropped``
  when the speech was shorter than ``min_speech_ms``: no segment follows),
- :class:`SegmentClosed` with the PCM from ``pre_roll_ms`` before the speech start to
  ``post_roll_ms`` after its end; a segment reaching ``max_segment_ms`` is split at the quietest
  frame of its last ``split_search_ms`` and continues as the next ``part`` of the same segment id;
- :class:`PartialReady`, the open segment so far, once the speech has paused for
  ``partial_after_ms`` (at most one per pause, and only after ``min_speech_ms`` of speech) and,
  with ``partial_every_ms``, after every so many ms of speech; each has the next ``revision``,
- :class:`SpeechResumed` when the speech goes on after a pause whose partial was taken (that
  partial no longer holds all of the segment; the dialog drops what it asked early about it).

The silence that ends speech is ``hangover_ms`` unless :meth:`Segmenter.set_wait` shortens it for
the current pause (the transcript of its partial reads as a complete request): the wait applies
only while no voiced frame came since that partial, and a wait already over closes at once.

Times are monotonic ns of the audio samples, never of the processing; the caller stamps decision
times. Frames must be contiguous and of one length.
"""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from workers.vad.events import (
    Event,
    PartialReady,
    SegmentClosed,
    SpeechEnded,
    SpeechResumed,
    SpeechStarted,
)
from workers.vad.settings import SegmenterParams

__all__ = [
    "Event",
    "PartialReady",
    "SegmentClosed",
    "Segmenter",
    "SegmenterParams",
    "SpeechEnded",
    "SpeechResumed",
    "SpeechStarted",
    "frame_level_db",
]


@dataclass(frozen=True)
class _Frame:
    pcm: bytes
    start_ns: int
    end_ns: int
    voiced: bool
    level_db: float


def frame_level_db(pcm: bytes) -> float:
    """Mean power of int16 PCM in dB relative to full scale (digital silence = -100)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    if len(x) == 0:
        return -100.0
    power = float(np.dot(x, x)) / len(x) / (32768.0 * 32768.0)
    return max(-100.0, 10.0 * math.log10(power + 1e-10))


def _new_id() -> str:
    return uuid.uuid4().hex


class Segmenter:
    """Frame-level speech segmenter (state machine: idle <-> speaking)."""

    def __init__(
        self, params: SegmenterParams | None = None, new_id: Callable[[], str] = _new_id
    ) -> None:
        self.p = params or SegmenterParams()
        self._new_id = new_id
        p = self.p
        self._pre_frames = p.frames(p.pre_roll_ms)
        self._hang_frames = p.frames(p.hangover_ms)
        self._post_frames = p.frames(p.post_roll_ms)
        self._max_frames = p.max_segment_ms // p.frame_ms
        self._search_frames = p.frames(p.split_search_ms)
        # Idle: recent frames, enough for the trigger window plus the pre-roll before it.
        self._recent: deque[_Frame] = deque(maxlen=p.start_window + self._pre_frames)
        self._frames: list[_Frame] = []  # speaking: the current part, pre-roll included
        self._segment_id = ""
        self._part = 0
        self._speech_start_ns = 0
        self._part_speech_start_ns = 0
        self._last_voiced_end_ns = 0
        self._unvoiced_run = 0
        self._partial_frames = p.frames(p.partial_after_ms) if p.partial_after_ms else 0
        self._every_frames = p.frames(p.partial_every_ms) if p.partial_every_ms else 0
        self._wait_frames = self._hang_frames
        self._revision = -1  # last partial of this segment
        self._pause_revision = -1  # the partial of the current pause, if taken
        self._since_partial = 0  # frames since the last partial (or the part's start)

    @property
    def speaking(self) -> bool:
        """True between a speech start and its end."""
        return bool(self._segment_id)

    def push(
        self, pcm: bytes, capture_ns: int, voiced: bool, level_db: float | None = None
    ) -> list[Event]:
        """Process one frame captured at ``capture_ns``; return the events it decided."""
        end_ns = capture_ns + self.p.frame_ms * 1_000_000
        level = frame_level_db(pcm) if level_db is None else level_db
        frame = _Frame(pcm, capture_ns, end_ns, voiced, level)
        if self.speaking:
            return self._push_speaking(frame)
        return self._push_idle(frame)

    def flush(self) -> list[Event]:
        """End of input: close an open segment with what was captured."""
        if not self.speaking:
            self._recent.clear()
            return []
        last = self._frames[-1]
        events: list[Event] = [self._ended(last.end_ns, dropped=False)]
        events.append(self._close(len(self._frames), "flush", last.end_ns))
        self._reset()
        return events

    def _push_idle(self, frame: _Frame) -> list[Event]:
        self._recent.append(frame)
        window = list(self._recent)[-self.p.start_window :]
        if sum(f.voiced for f in window) < self.p.start_voiced:
            return []
        first_voiced = next(f for f in window if f.voiced)
        recent = list(self._recent)
        i = recent.index(first_voiced)
        self._frames = recent[max(0, i - self._pre_frames) :]
        self._recent.clear()
        self._segment_id = self._new_id()
        self._part = 0
        self._speech_start_ns = self._part_speech_start_ns = first_voiced.start_ns
        self._last_voiced_end_ns = max(f.end_ns for f in window if f.voiced)
        self._unvoiced_run = 0 if frame.voiced else 1
        events: list[Event] = [SpeechStarted(self._segment_id, first_voiced.start_ns, frame.end_ns)]
        events.extend(self._check_max_length(frame))
        return events

    def set_wait(self, segment_id: str, revision: int, wait_ms: int) -> list[Event]:
        """End the current pause after ``wait_ms`` of silence (at most the hangover) instead of
        the hangover, if the pause partial ``revision`` of ``segment_id`` is still the current
        one (no speech since); a wait already over ends the speech now."""
        if (
            not self.speaking
            or segment_id != self._segment_id
            or revision < 0
            or revision != self._pause_revision
        ):
            return []  # another segment, or the speech went on: the transcript is out of date
        self._wait_frames = max(1, min(self._hang_frames, self.p.frames(wait_ms)))
        if self._unvoiced_run >= self._wait_frames:
            return self._end_by_silence(self._frames[-1])
        return []

    def _push_speaking(self, frame: _Frame) -> list[Event]:
        self._frames.append(frame)
        self._since_partial += 1
        window = self._frames[-self.p.start_window :]
        events: list[Event] = []
        if frame.voiced and sum(f.voiced for f in window) >= self.p.continue_voiced:
            if self._pause_revision >= 0:  # the pause's partial is out: it is not all of it now
                events.append(
                    SpeechResumed(
                        self._segment_id, self._pause_revision, self._part, frame.start_ns,
                        frame.end_ns,
                    )
                )  # fmt: skip
            self._last_voiced_end_ns = frame.end_ns
            self._unvoiced_run = 0
            self._wait_frames = self._hang_frames  # a new pause waits the hangover until told
            self._pause_revision = -1
        else:
            self._unvoiced_run += 1
        if self._unvoiced_run >= self._wait_frames:
            return self._end_by_silence(frame)
        speech_ms = (self._last_voiced_end_ns - self._part_speech_start_ns) / 1e6
        if (
            self._partial_frames
            and self._unvoiced_run == self._partial_frames
            and speech_ms >= self.p.min_speech_ms
        ):
            events.append(self._partial(frame, paused=True))
        elif (
            self._every_frames
            and self._unvoiced_run == 0
            and self._since_partial >= self._every_frames
            and speech_ms >= self.p.min_speech_ms
        ):
            events.append(self._partial(frame, paused=False))
        return events + self._check_max_length(frame)

    def _partial(self, frame: _Frame, *, paused: bool) -> PartialReady:
        self._revision += 1
        self._since_partial = 0
        if paused:
            self._pause_revision = self._revision
        return PartialReady(
            segment_id=self._segment_id,
            revision=self._revision,
            part=self._part,
            pcm=b"".join(f.pcm for f in self._frames),
            start_ns=self._frames[0].start_ns,
            end_ns=frame.end_ns,
            speech_start_ns=self._part_speech_start_ns,
            speech_end_ns=self._last_voiced_end_ns,
            paused=paused,
            decided_at_ns=frame.end_ns,
        )

    def _end_by_silence(self, frame: _Frame) -> list[Event]:
        speech_ms = (self._last_voiced_end_ns - self._speech_start_ns) / 1e6
        dropped = self._part == 0 and speech_ms < self.p.min_speech_ms
        events: list[Event] = [self._ended(frame.end_ns, dropped=dropped)]
        # Keep the post-roll; the rest of the hangover goes back to the idle history.
        n_keep = len(self._frames) - self._unvoiced_run + self._post_frames
        if not dropped:
            closed = self._close(n_keep, "silence", frame.end_ns)
            events.append(
                replace(
                    closed,
                    eot_wait_ms=self._unvoiced_run * self.p.frame_ms,
                    partial_revision=self._pause_revision,
                )
            )
        tail = self._frames[max(n_keep, len(self._frames) - self._unvoiced_run) :]
        self._reset()
        self._recent.extend(tail)
        return events

    def _check_max_length(self, frame: _Frame) -> list[Event]:
        if len(self._frames) < self._max_frames:
            return []
        lo = max(1, len(self._frames) - self._search_frames)
        # Quietest frame of the search window: unvoiced first, then lowest level, latest on ties.
        cut = min(
            range(lo, len(self._frames)),
            key=lambda j: (self._frames[j].voiced, self._frames[j].level_db, -j),
        )
        closed = self._close(cut + 1, "max_length", frame.end_ns)
        self._frames = self._frames[cut + 1 :]
        self._part += 1
        self._pause_revision = -1  # a partial of the old part holds none of the new one
        self._since_partial = len(self._frames)
        nxt = next((f for f in self._frames if f.voiced), None)
        self._part_speech_start_ns = nxt.start_ns if nxt else frame.end_ns
        return [closed]

    def _ended(self, decided_at_ns: int, dropped: bool) -> SpeechEnded:
        speech_ms = (self._last_voiced_end_ns - self._speech_start_ns) / 1e6
        return SpeechEnded(
            self._segment_id, self._last_voiced_end_ns, decided_at_ns, speech_ms, dropped
        )

    def _close(
        self, n_frames: int, closed_by: Literal["silence", "max_length", "flush"], decided: int
    ) -> SegmentClosed:
        frames = self._frames[:n_frames]
        speech_end = self._last_voiced_end_ns if closed_by != "max_length" else frames[-1].end_ns
        return SegmentClosed(
            segment_id=self._segment_id,
            pcm=b"".join(f.pcm for f in frames),
            start_ns=frames[0].start_ns,
            end_ns=frames[-1].end_ns,
            speech_start_ns=self._part_speech_start_ns,
            speech_end_ns=min(speech_end, frames[-1].end_ns),
            closed_by=closed_by,
            part=self._part,
            decided_at_ns=decided,
        )

    def _reset(self) -> None:
        self._frames = []
        self._segment_id = ""
        self._part = 0
        self._unvoiced_run = 0
        self._wait_frames = self._hang_frames
        self._revision = -1
        self._pause_revision = -1
        self._since_partial = 0
