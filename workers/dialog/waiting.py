"""What the dialog does when the LLM waits for a busy server (``llm.wait``).

The LLM worker publishes ``llm.wait`` once a request has waited long for its server (Rockchip's
rkllm servers keep generating a reply cut off by a barge-in, and take the next request only
when it ends). The user then hears one short "one moment", and the turn's first-token deadline
moves past the wait the worker announced, so the turn is answered rather than apologised for.
"""

from __future__ import annotations

from schemas.llm import LlmWait
from schemas.tts import TtsRequest
from workers.dialog.replies import say
from workers.dialog.turn import Turn

__all__ = ["wait_notice"]


def wait_notice(
    turn: Turn | None, wait: LlmWait, now_ns: int, first_token_timeout_s: float
) -> list[TtsRequest]:
    """The spoken notice for ``wait`` (none if the turn is not waiting for that request or
    already speaks), the turn's deadline extended by the wait's budget."""
    if turn is None or turn.stage != "llm" or wait.request_id != turn.request_id:
        return []
    extra_ns = int((wait.budget_ms / 1e3 + first_token_timeout_s) * 1e9)
    turn.deadline_ns = max(turn.deadline_ns, now_ns + extra_ns)
    if turn.speech.sent:
        return []
    return [turn.speech.aside(say("one_moment", turn.language))]
