"""Test worker: a bus worker that ignores SIGTERM (the supervisor must SIGKILL it after grace)."""

from __future__ import annotations

import signal
import sys

from bus import Node


def main() -> int:
    node = Node.from_env()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    node.ready()
    while True:
        node.poll(0.1)


if __name__ == "__main__":
    sys.exit(main())
