"""The stop check of a pause, in a thread of its own, so that no transcript waits for it.

The worker publishes the main recogniser's transcript of a pause at once, then hands the audio
to :class:`BackgroundCheck`; the check (:meth:`workers.asr.stopcheck.StopChecked.recheck`, a
second Whisper model: CTranslate2 runs without the GIL) runs while the loop goes on, so the
segment that closes a moment later is answered from its partial's transcript at once (it used
to wait in the queue behind the check: 93 ms at the median, 287 ms at p90 in
``bench/results/e2e_1730.json``). When the check is done it sets a :class:`bus.Wakeup` and the
loop, the only thread that touches the bus, publishes what it heard. The check's threads run
at a lower priority (``stop_check.nice``, :mod:`workers.asr.priority`): on two cores the check
of one pause gives way to the decode of the next.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from bus import Wakeup
from schemas.asr import AsrPartial
from schemas.vad import VadPartial
from workers.asr.priority import nice_this_thread
from workers.asr.stopcheck import StopChecked
from workers.asr.transcript import Transcript

__all__ = ["BackgroundCheck", "Checked"]


@dataclass(frozen=True)
class Checked:
    """A finished check of one pause."""

    partial: VadPartial | None
    """The pause checked; None for a segment recognised whole."""
    heard: AsrPartial
    """The main recogniser's transcript of it (already published)."""
    trace: str
    stop: Transcript | None
    """The check's transcript when it heard a stop word, else None."""
    check_ms: float
    """How long the check took, ms."""
    backend: str
    """Who heard the stop (:attr:`Transcript.checked_by`), else the check recogniser's name."""


class BackgroundCheck:
    """One check at a time in a worker thread, in the order they were started."""

    def __init__(self, recognizer: StopChecked) -> None:
        self.recognizer = recognizer
        self.wake = Wakeup()
        self._pool = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="asr-stop-check",
            initializer=nice_this_thread,  # the check gives way to the transcripts
            initargs=(recognizer.nice,),
        )
        self._jobs: deque[tuple[Future[tuple[Transcript | None, float]], Checked]] = deque()
        self._name = recognizer.check.name

    def start(
        self, partial: VadPartial | None, samples: np.ndarray, heard: AsrPartial, trace: str
    ) -> None:
        """Check ``samples`` (the pause's audio, a copy the thread may keep) whose main
        transcript ``heard`` is out; :meth:`finished` gives the result once ``wake`` is set."""
        # the main model's encoding of this audio, taken here (the loop decodes on) for its
        # other hypotheses
        encoding = self.recognizer.encoding(samples)
        future = self._pool.submit(self._run, samples, heard.text, encoding)
        future.add_done_callback(lambda _: self.wake.set())
        self._jobs.append((future, Checked(partial, heard, trace, None, 0.0, self._name)))

    def _run(
        self, samples: np.ndarray, first: str, encoding: Any
    ) -> tuple[Transcript | None, float]:
        started = time.perf_counter()
        stop = self.recognizer.recheck(samples, first, partial=True, encoding=encoding)
        return stop, 1000.0 * (time.perf_counter() - started)

    def finished(self, *, wait: bool = False) -> list[Checked]:
        """The checks done (all of them, waiting, with ``wait``), oldest first; an exception of
        the check is raised here, in the loop."""
        out: list[Checked] = []
        while self._jobs and (wait or self._jobs[0][0].done()):
            future, job = self._jobs.popleft()
            stop, ms = future.result()
            backend = stop.checked_by if stop is not None else job.backend
            out.append(Checked(job.partial, job.heard, job.trace, stop, ms, backend))
        return out

    def close(self) -> None:
        """Wait for a check still running, then release the thread and the descriptor."""
        self._pool.shutdown(wait=True)
        self.wake.close()
