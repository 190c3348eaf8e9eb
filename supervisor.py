"""voicebus supervisor: checks a config against the workers' manifests, runs the bus and the
workers, restarts them, answers a CLI.

    python supervisor.py configs/host.yaml     # check, then run in the foreground; Ctrl-C stops
    python supervisor.py check configs/*.yaml  # every problem of each config; nothing runs
    python supervisor.py graph configs/host.yaml   # the dataflow, and out/graph/host.{mmd,svg}
    python supervisor.py status [--json]       # talk to the running one
    python supervisor.py --help

The implementation is the package :mod:`supervision`; the reference is ``docs/supervisor.md``.
"""

import sys

from supervision.cli import main

if __name__ == "__main__":
    sys.exit(main())
