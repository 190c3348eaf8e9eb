"""Test worker: reports ``ready`` after ``settings.ready_after_s``, then answers every ``asr.text``
with a ``sys.metric`` ``relayed`` whose value is the text's ``segment_id`` (an integer)."""

from __future__ import annotations

import sys
import time

from bus import Node
from schemas.asr import AsrText


def main() -> int:
    node = Node.from_env()
    try:
        node.subscribe("asr.text")
        wait_s = float(node.settings.get("ready_after_s", 0.0))
        end = time.monotonic() + wait_s
        while node.running and time.monotonic() < end:
            time.sleep(0.01)
        node.ready()
        for msg in node:
            if isinstance(msg.payload, AsrText):
                node.metric("relayed", float(msg.payload.segment_id), "sample")
        return 0
    finally:
        node.close()


if __name__ == "__main__":
    sys.exit(main())
