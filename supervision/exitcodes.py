"""The exit-code contract between a worker and the supervisor, and how a worker says why.

====  ========================  ==============================================================
code  meaning                   what the supervisor does
====  ========================  ==============================================================
0     done                      ``exited`` (started again only under ``restart: always``)
1     crashed                   restarted per its restart policy, then ``failed`` (gave up)
2     cannot run as configured  ``failed`` at once, never restarted (a missing model, device
                                or library: restarting will not help until someone acts)
126   cannot run as configured  (set by the supervisor) cpus, nice or sched_fifo could not be
                                applied; as 2
127   cannot run as configured  (set by the supervisor) the program could not be started (not
                                found, not executable); as 2
< 0   killed by a signal        restarted per its restart policy, as 1
====  ========================  ==============================================================

The reason: before it exits non-zero a worker writes one line (a sentence saying what to do) to
the file named by ``$VOICEBUS_REASON_FILE``, which the supervisor sets for every worker (a file in
its private runtime directory). ``workers.runner.run_worker`` does it for every Python worker;
any other executable may (``echo "no /dev/uio0: ..." > "$VOICEBUS_REASON_FILE"; exit 2``). The
supervisor reads it when the process ended and shows it in ``status`` (``reason``, and in the
detail line of a failed worker). This module imports nothing of the bus: workers import it too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = [
    "ENV_REASON_FILE",
    "EXIT_CANNOT_RUN",
    "EXIT_CRASHED",
    "EXIT_DONE",
    "EXIT_NOT_STARTED",
    "EXIT_SETUP_FAILED",
    "cannot_run",
    "read_reason",
    "write_reason",
]

EXIT_DONE = 0
EXIT_CRASHED = 1
EXIT_CANNOT_RUN = 2
#: The child's CPU/priority settings could not be applied (like a shell's "cannot execute").
EXIT_SETUP_FAILED = 126
#: The program could not be started at all (like a shell's "not found").
EXIT_NOT_STARTED = 127
#: Environment variable naming the file a worker writes its one-line reason to.
ENV_REASON_FILE = "VOICEBUS_REASON_FILE"
#: Longest reason kept, characters (one line of ``status``, not a traceback).
REASON_MAX_CHARS = 300


def cannot_run(code: int | None) -> bool:
    """True for an exit that restarting will not fix (2, 126, 127)."""
    return code in (EXIT_CANNOT_RUN, EXIT_SETUP_FAILED, EXIT_NOT_STARTED)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= REASON_MAX_CHARS else line[: REASON_MAX_CHARS - 3] + "..."


def write_reason(text: str) -> None:
    """Leave ``text`` (made one line) where the supervisor looks for it; never raises."""
    path = os.environ.get(ENV_REASON_FILE)
    if not path:
        return
    with contextlib.suppress(OSError):
        Path(path).write_text(_one_line(text) + "\n")


def read_reason(path: Path) -> str:
    """The reason a process left in ``path`` (removing it), or ``""``."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    with contextlib.suppress(OSError):
        path.unlink()
    return _one_line(text)
