"""Where a worker keeps what it must remember across its own restarts.

The supervisor names one file per worker in ``$VOICEBUS_STATE_FILE``:
``<runtime dir>/state/<name>`` plus ``.json``, inside the private 0700 runtime directory (a
tmpfs on the board, ``$XDG_RUNTIME_DIR``). The worker writes it (atomically: a temporary file
renamed over it) and reads it when it starts again; the supervisor never reads it. The folder is
removed when the supervisor stops cleanly: a restarted worker resumes, a clean stop forgets.
A crash of the supervisor leaves it, and a worker must judge a state left from long ago itself
(``workers.dialog.memory`` keeps the boot id and the time, and discards an old state).

This module imports nothing of the bus: workers import it too.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

__all__ = ["ENV_STATE_FILE", "STATE_DIR", "clear_states", "state_file"]

#: Environment variable naming the worker's state file.
ENV_STATE_FILE = "VOICEBUS_STATE_FILE"
#: Folder of the runtime directory holding the state files.
STATE_DIR = "state"


def state_file(runtime_dir: Path, name: str) -> Path:
    """The state file of worker ``name``."""
    return runtime_dir / STATE_DIR / f"{name}.json"


def clear_states(runtime_dir: Path) -> None:
    """Remove every state file and the folder (a clean stop of the supervisor)."""
    folder = runtime_dir / STATE_DIR
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            path.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()
