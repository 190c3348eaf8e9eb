"""The ``echo`` worker: counts messages per topic and reports the counts as ``sys.metric``.

Consumes: every topic matching ``settings.topics`` (globs, default ``*``), except its own output.
Produces: ``sys.metric`` ``topic_messages`` (kind ``counter``, label ``topic``) for each topic seen,
every ``report_every_s``. It is the smallest real consumer: demos, smoke tests, supervisor tests.
"""

from __future__ import annotations

import time

from bus import Node
from workers.echo.settings import EchoSettings
from workers.runner import run_worker

__all__ = ["EchoSettings", "TopicCounter", "main"]


class TopicCounter:
    """Running count of messages per topic; reports only topics that changed."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._reported: dict[str, int] = {}

    def add(self, topic: str) -> None:
        """Count one message on ``topic``."""
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def changed(self) -> list[tuple[str, int]]:
        """``(topic, total)`` for each topic counted since the last call."""
        out = [(t, n) for t, n in sorted(self.counts.items()) if self._reported.get(t) != n]
        self._reported.update(out)
        return out


def main() -> int:
    """Count until SIGTERM."""
    return run_worker(_work)


def _work(node: Node) -> int | None:
    """The worker's recipe (``run_worker`` joins the bus and handles its end)."""
    settings = node.settings_as(EchoSettings)
    node.subscribe(*settings.topics)
    counter = TopicCounter()
    node.ready()
    next_report = time.monotonic() + settings.report_every_s
    while node.running:
        msg = node.poll(0.1)
        if msg is not None and msg.source != node.name:
            counter.add(msg.topic)
        if time.monotonic() >= next_report:
            next_report += settings.report_every_s
            for topic, total in counter.changed():
                node.metric("topic_messages", total, "counter", topic=topic)
    return 0
