"""voicebus supervisor: runs the bus and the workers of a config, restarts them, answers a CLI.

    python supervisor.py configs/host.yaml     # foreground; Ctrl-C stops everything
    python supervisor.py status [--json]       # talk to the running one
    python supervisor.py --help

The implementation is the package :mod:`supervision`; the reference is ``docs/supervisor.md``.
"""

import sys

from supervision.cli import main

if __name__ == "__main__":
    sys.exit(main())
