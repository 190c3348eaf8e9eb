"""``python -m workers.llm``: ``llm.request`` and ``llm.abort`` in; ``llm.delta`` (thinking
flagged), ``llm.reply`` (with metrics and any validated ``intents``), ``llm.wait`` (once per
request that waits long for a busy server) and ``sys.metric`` (TTFT, tokens/s, prefill and
generate times per request; the server wait and its busy rule) out.

The backend (llama.cpp in process by default, rkllm, the rkllm server, any OpenAI-compatible
server) and every parameter come from the settings (:class:`workers.llm.settings.LlmSettings`).
The generation runs in a thread that sets a :class:`bus.Wakeup` after each token, so the loop
wakes for tokens and for bus messages alike: a barge-in ``llm.abort`` stops the reply at the next
token, and nothing polls. A missing model or library: exit 2, naming it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from bus import BusNode, Envelope, Message, Wakeup
from workers.llm.backends import make_backend
from workers.llm.errors import LlmError
from workers.llm.manifest import MANIFEST
from workers.llm.service import LlmService
from workers.llm.settings import LlmSettings
from workers.runner import run_worker


def main() -> int:
    """Run the worker until SIGTERM."""
    return run_worker(MANIFEST, run, cannot_run=(LlmError,))


def run(node: BusNode) -> None:
    """Load the backend, then serve requests until stopped."""
    settings = node.settings_as(LlmSettings)
    service = LlmService(settings, make_backend(settings), worker=node.name)
    try:
        if settings.warm_up and settings.backend in ("llamacpp", "rkllm"):
            service.warm_up()  # the model's slow first run, before the pipeline is ready
        node.ready()
        serve(node, service)
    finally:
        service.close()


def serve(node: BusNode, service: LlmService, *, until: Callable[[], bool] | None = None) -> None:
    """The loop: messages to the service; its output published when its thread wakes us.

    ``until`` (tests, benchmarks) ends the loop when it returns true, checked after each event.
    """
    wake = Wakeup()
    service.notify = wake.set
    try:
        for event in node.events(watch=[wake]):
            if isinstance(event, Envelope):
                if isinstance(event.payload, Message):
                    node.publish_many(
                        service.handle(event.topic, event.payload, event.trace, event.bus_ms)
                    )
            else:
                wake.clear()  # first, so that output queued from now on wakes us again
            node.publish_many(service.pump(0.0))
            if until is not None and until():
                return
    finally:
        service.notify = lambda: None
        wake.close()


if __name__ == "__main__":
    sys.exit(main())
