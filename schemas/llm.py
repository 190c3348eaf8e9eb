"""LLM requests and the streamed reply, with the model's thinking kept apart from the answer."""

from __future__ import annotations

from typing import ClassVar, Literal

from schemas.base import Message
from schemas.registry import registry
from schemas.rtos import CarIntent

__all__ = ["ChatMessage", "LlmAbort", "LlmDelta", "LlmReply", "LlmRequest", "LlmWait"]


class ChatMessage(Message):
    """One message of a conversation."""

    role: Literal["system", "user", "assistant", "tool"]
    """Who said it."""
    content: str
    """What was said."""


class LlmRequest(Message):
    """Ask the LLM for a reply (topic ``llm.request``).

    Schema 1.1: ``intent_schema`` (an intents-only answer) added; see ``schemas/CHANGELOG.md``.
    """

    schema_version: ClassVar[tuple[int, int]] = (1, 1)

    request_id: str
    """Id of this request; every delta and the reply carry it."""
    messages: tuple[ChatMessage, ...]
    """The conversation, oldest first, ending with the user's message."""
    max_tokens: int = 256
    """Upper bound on generated tokens."""
    temperature: float = 0.7
    """Sampling temperature (0 = greedy)."""
    tools: bool = True
    """Offer the RT-Thread command tools (structured intents) to the model."""
    enable_thinking: bool = False
    """Ask a thinking-capable model to think first (its thinking is never spoken)."""
    intent_schema: str = ""
    """Non-empty: answer with car intents only, as JSON following this JSON schema (given as
    JSON text; ``null`` or a list of ``rtos_command`` arguments, see ``text.intent_answer``).
    The worker constrains the generation to it where the backend can (llama.cpp grammar, an
    OpenAI server's ``response_format``), otherwise offers the tool, and returns the validated
    intents in ``LlmReply.intents`` (nothing of such a reply is meant to be spoken). Schema 1.1."""

    @classmethod
    def warm_up(cls, system_prompt: str, tools: bool) -> LlmRequest:
        """The request a model is warmed up with: the system prompt, "Hello.", one token (the
        llm worker runs it before it is ready, the dialog sends it when it starts)."""
        return cls(
            request_id="warm-up",
            messages=(
                ChatMessage(role="system", content=system_prompt),
                ChatMessage(role="user", content="Hello."),
            ),
            max_tokens=1,
            tools=tools,
        )


class LlmDelta(Message):
    """A piece of the streamed reply (topic ``llm.delta``)."""

    schema_version: ClassVar[tuple[int, int]] = (1, 1)

    request_id: str
    """Request this piece belongs to."""
    index: int
    """Position of this piece in the stream, from 0."""
    text: str
    """The new text."""
    thinking: bool = False
    """True for text inside ``<think>...</think>`` (never spoken)."""
    bus_ms: float = 0.0
    """Time on the bus of the ``llm.request`` this answers (``Envelope.bus_ms`` at the LLM), ms."""


class LlmAbort(Message):
    """Stop a generation (topic ``llm.abort``), e.g. on barge-in."""

    request_id: str = ""
    """Request to abort; empty aborts whatever is running."""
    reason: str = "barge-in"
    """Why it is aborted."""


class LlmWait(Message):
    """The LLM waits for its server to free before it can start (topic ``llm.wait``).

    Published at most once per request, once the wait has lasted the backend's
    ``notice_after_s``, so that the dialog can say a short "one moment" instead of leaving the
    user in silence; the request goes on and is answered (or fails) as usual. Rockchip's rkllm
    servers do not stop a generation when its client hangs up, so after a barge-in the next
    request waits for the cut-off one to end on the server (``reason`` ``orphan``).
    """

    request_id: str
    """Request that waits."""
    reason: Literal["orphan", "busy"] = "busy"
    """``orphan``: a reply this worker aborted is still being generated on the server;
    ``busy``: the server is busy with another request."""
    waited_ms: float = 0.0
    """How long the request has waited so far, ms."""
    budget_ms: float = 0.0
    """Longest it may still wait before it fails, ms (a caller's own deadline should allow it)."""


class LlmReply(Message):
    """The finished reply (topic ``llm.reply``).

    Schema 2.0: the validated tool calls are typed (``intents``) instead of a JSON string
    (``intent_json`` of 1.0); see ``schemas/CHANGELOG.md``.
    """

    schema_version: ClassVar[tuple[int, int]] = (2, 0)

    request_id: str
    """Request this answers."""
    text: str
    """The answer, thinking removed."""
    thinking: str = ""
    """The model's thinking, kept for logs; never spoken."""
    finish_reason: Literal["stop", "length", "abort", "error"] = "stop"
    """Why generation ended."""
    error: str = ""
    """Error message when ``finish_reason`` is ``error``."""
    intents: tuple[CarIntent, ...] = ()
    """The car commands the model asked for with its tool calls, validated, in order; empty
    when it asked for none or when they were refused (see ``intent_error``)."""
    intent_error: str = ""
    """Why a tool call the model attempted was refused, as a sentence (never guessed into a
    command); empty when there was none or it was valid."""
    refused_call: str = ""
    """The refused tool call(s) as the model wrote them (blocks in ``<tool_call>`` tags, or the
    bare JSON answer), kept for the logs; empty otherwise."""
    ttft_ms: float = 0.0
    """Time from request to first token, ms."""
    prompt_tokens: int = 0
    """Tokens in the prompt (prefill)."""
    completion_tokens: int = 0
    """Tokens generated."""
    tokens_per_s: float = 0.0
    """Generation speed, tokens per second."""
    prefill_ms: float = 0.0
    """Prefill time reported by the runtime, ms (0 when not reported)."""
    generate_ms: float = 0.0
    """Generation time, ms."""
    memory_mb: float = 0.0
    """Peak memory the runtime reported for the run, MB (0 when not reported)."""
    backend: str = ""
    """Which LLM backend answered."""
    wait_ms: float = 0.0
    """Time the request waited for a busy LLM server before it was taken, ms (0 in process)."""


registry.register("llm.request", LlmRequest, core=True)
registry.register("llm.delta", LlmDelta, core=True)
registry.register("llm.abort", LlmAbort, core=True)
registry.register("llm.reply", LlmReply, core=True)
registry.register("llm.wait", LlmWait, core=True)
