"""The ``llm`` worker: consumes ``llm.request`` and ``llm.abort``; publishes ``llm.delta``
(thinking flagged), ``llm.reply`` (with metrics and any validated ``intents``),
``llm.wait`` (once per request that waits long for a busy server) and ``sys.metric`` (TTFT,
tokens/s, prefill and generate times per request; the server wait and its busy rule).

The backend (llama.cpp in process by default, rkllm, the rkllm server, any OpenAI-compatible
server) and every parameter come from the settings (:class:`workers.llm.settings.LlmSettings`).
While a reply streams the bus is read every ``poll_interval_ms``, so a barge-in abort stops it
at the next token.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from bus import MemoryNode, Message, Node
from workers.llm.backends import make_backend
from workers.llm.errors import LlmError
from workers.llm.service import LlmService
from workers.llm.settings import LlmSettings
from workers.runner import run_worker


def serve(
    node: Node | MemoryNode, service: LlmService, *, until: Callable[[], bool] | None = None
) -> None:
    """The loop: read the bus, hand messages to the service, publish what it returns."""
    while node.running and not (until and until()):
        msg = node.poll(service.poll_timeout_s)
        if msg is not None and isinstance(msg.payload, Message):
            for topic, payload, trace in service.handle(msg.topic, msg.payload, msg.trace):
                node.publish(topic, payload, trace=trace)
        for topic, payload, trace in service.pump():
            node.publish(topic, payload, trace=trace)


def main() -> int:
    """Run the worker until SIGTERM."""
    return run_worker(_work, unavailable=(LlmError,))


def _work(node: Node) -> int | None:
    """The worker's recipe (``run_worker`` joins the bus and handles its end)."""
    settings = node.settings_as(LlmSettings)
    service = LlmService(settings, make_backend(settings), worker=node.name)
    try:
        node.subscribe("llm.request", "llm.abort")
        node.ready()
        serve(node, service)
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
