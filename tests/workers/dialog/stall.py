"""Test worker: subscribes to ``settings.topics`` and never answers (an ASR or LLM that hangs)."""

from __future__ import annotations

import sys

from bus import Node


def main() -> int:
    node = Node.from_env()
    try:
        node.subscribe(*node.settings.get("topics", []))
        node.ready()
        for _ in node:
            pass
        return 0
    finally:
        node.close()


if __name__ == "__main__":
    sys.exit(main())
