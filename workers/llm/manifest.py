"""The ``llm`` worker's manifest: requests and aborts in; streamed deltas and replies out."""

from bus import Manifest
from schemas.llm import LlmAbort, LlmDelta, LlmReply, LlmRequest, LlmWait
from workers.llm.settings import LlmSettings

MANIFEST = Manifest(
    kind="stage",
    summary="Generates replies with the configured LLM backend, streamed token by token.",
    consumes={"llm.request": LlmRequest, "llm.abort": LlmAbort},
    produces={"llm.delta": LlmDelta, "llm.reply": LlmReply, "llm.wait": LlmWait},
    settings=LlmSettings,
)
