"""A lower CPU priority for the stop check's threads, so that it gives way to the transcripts.

On Linux the nice value belongs to each thread, and a thread starts with the value of the one
that created it. A model built in a thread whose nice value was raised therefore computes in
threads that have it too: CTranslate2's worker threads are made when the model is built, and
their OpenMP teams by those workers on the first decode. :func:`build_niced` builds the model
that way; :func:`nice_this_thread` raises the value of the thread that calls the model (its
feature extraction runs there).

Why: on two cores the check of a pause (a second Whisper model) ran beside the
decode of the next pause, in which the user may have just said "stop"; at equal priority they
shared the cores and the STOP waited (``bench/results/e2e_1906.json``). At nice 10 a thread
weighs about a tenth of one at 0 (the kernel's weights 110 and 1024), so the check takes what
the transcripts leave and runs at full speed when nothing else does.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["build_niced", "nice_this_thread"]

T = TypeVar("T")


def nice_this_thread(nice: int) -> None:
    """Raise the calling thread's nice value by ``nice`` (0: leave it); raising needs no
    privilege. Where threads have no nice value of their own (not Linux), nothing happens."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))


def build_niced(nice: int, build: Callable[[], T]) -> T:
    """``build()`` run in a thread of its own whose nice value is raised by ``nice``; its result
    (or its exception) is returned (raised) here. With ``nice`` 0 it is called here."""
    if nice <= 0:
        return build()
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            nice_this_thread(nice)
            result.append(build())
        except BaseException as exc:  # handed back to the caller
            error.append(exc)

    thread = threading.Thread(target=run, name="asr-niced-build")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]
