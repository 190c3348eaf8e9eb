"""``python -m workers.echo``: count the messages of the configured topics; report as metrics."""

from __future__ import annotations

import sys

from bus import BusNode, Tick
from workers.echo.counter import TopicCounter
from workers.echo.manifest import MANIFEST
from workers.echo.settings import EchoSettings
from workers.runner import run_worker


def main() -> int:
    """Count until SIGTERM (exit 2 for invalid settings)."""
    return run_worker(MANIFEST, run)


def run(node: BusNode) -> None:
    """Count every message but our own; every ``report_every_s``, report the changed counts."""
    settings = node.settings_as(EchoSettings)
    counter = TopicCounter()
    node.ready()
    for event in node.events(tick_s=settings.report_every_s, skip_own=True):
        if isinstance(event, Tick):
            for topic, total in counter.changed():
                node.metric("topic_messages", total, "counter", topic=topic)
        else:
            counter.add(event.topic)


if __name__ == "__main__":
    sys.exit(main())
