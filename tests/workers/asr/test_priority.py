"""The stop check runs at a lower CPU priority: its model's threads and the thread that asks it."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from schemas.asr import AsrPartial
from tests.workers.asr.test_stopcheck import Scripted
from workers.asr.background import BackgroundCheck
from workers.asr.priority import build_niced, nice_this_thread
from workers.asr.stopcheck import StopChecked

RATE = 16000


def nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def here() -> int:
    return nice_of(threading.get_native_id())


def tasks() -> set[int]:
    return {int(t) for t in os.listdir("/proc/self/task")}


def test_a_model_built_niced_runs_its_own_threads_niced_and_leaves_the_caller_as_it_was():
    base = here()
    seen: list[int] = []

    def build() -> int:
        t = threading.Thread(target=lambda: seen.append(here()))  # a thread the model makes
        t.start()
        t.join()
        return here()

    assert build_niced(5, build) == base + 5
    assert seen == [base + 5] and here() == base
    assert build_niced(0, here) == base  # 0: built here, as it is


def test_a_failed_build_raises_its_own_error_here():
    def build() -> None:
        raise FileNotFoundError("model.bin is missing")

    with pytest.raises(FileNotFoundError, match="model.bin"):
        build_niced(3, build)


def test_the_nice_value_stops_at_19():
    seen: list[int] = []

    def run() -> None:
        nice_this_thread(50)
        seen.append(here())

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert seen == [19]


class Niced(Scripted):
    """A check recogniser that records the nice value of the thread that asks it."""

    nices: list[int]

    def transcribe(self, samples: np.ndarray, *, partial: bool = False):
        self.nices.append(here())
        return super().transcribe(samples, partial=partial)


def test_the_background_check_asks_its_model_from_a_niced_thread():
    check = Niced(["Halt."], "whisper-base")
    check.nices = []
    rec = StopChecked(Scripted([], "whisper-tiny.en"), check, max_audio_s=2.5, nice=7)
    checks = BackgroundCheck(rec)
    try:
        heard = AsrPartial(text="up, please", segment_id="s1", revision=0)
        checks.start(None, np.zeros(RATE, dtype=np.float32), heard, "s1")
        (done,) = checks.finished(wait=True)
    finally:
        checks.close()
    assert done.stop is not None and done.stop.text == "Halt."
    assert check.nices == [min(19, here() + 7)]


@pytest.mark.slow
def test_the_packaged_whisper_model_built_niced_decodes_only_in_niced_threads():
    """CTranslate2 makes its worker threads when the model is built and their OpenMP teams on
    the first decode: every thread the model added has the raised value."""
    from workers.asr.whisper import WhisperRecognizer

    base, before = here(), tasks()
    rec = build_niced(10, lambda: WhisperRecognizer("tiny.en", language="en", window_s=8.0))
    try:
        nices: list[int] = []

        def decode() -> None:
            nice_this_thread(10)
            rec.transcribe(np.zeros(RATE, dtype=np.float32))
            nices.extend(nice_of(t) for t in tasks() - before)

        t = threading.Thread(target=decode)
        t.start()
        t.join()
        assert nices and all(n == min(19, base + 10) for n in nices), nices
        assert here() == base
    finally:
        rec.close()
