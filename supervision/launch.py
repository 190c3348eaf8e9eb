"""Launcher of a Python module worker that asked for ``mlockall: true``.

    python -m supervision.launch --mlockall -m workers.asr ARGS...

Memory locks do not survive ``exec``, so the supervisor cannot lock a worker from outside: this
launcher locks its own memory (current and future pages), then runs the module as
``__main__`` in the same process.
"""

from __future__ import annotations

import ctypes
import os
import runpy
import sys

_MCL_CURRENT = 1
_MCL_FUTURE = 2


def main(argv: list[str]) -> None:
    """Parse ``[--mlockall] -m MODULE ARGS...`` and run the module."""
    lock = False
    while argv and argv[0] == "--mlockall":
        lock, argv = True, argv[1:]
    if len(argv) < 2 or argv[0] != "-m":
        sys.exit("usage: python -m supervision.launch [--mlockall] -m MODULE [ARGS...]")
    module, args = argv[1], argv[2:]
    if lock:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) != 0:
            err = ctypes.get_errno()
            sys.stderr.write(
                f"voicebus launcher: mlockall failed for {module}: {os.strerror(err)}. Raise "
                "'ulimit -l' or run as root, or set mlockall: false.\n"
            )
            sys.exit(126)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
