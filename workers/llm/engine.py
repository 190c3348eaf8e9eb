"""One request, start to finish: prompt in, ``llm.delta`` pieces and one ``llm.reply`` out.

No bus here: :func:`build_prompt` turns a request into a backend :class:`Prompt` (system prompt,
tool offer, history budget, stop sequences) and :class:`Generation` runs it, splitting thinking
and tool calls out of the stream, ending the answer at a stop sequence, timing it, and checking
any tool call against the intent schema.

A request with ``intent_schema`` asks for car intents only (``text.intent_answer``): no persona,
no history, no stop sequences; a backend that can (``Backend.constrained``) is held to the
schema, any other is offered the tool; the answer (``null``, a JSON list, or tool blocks) is
validated like a tool call and returned as ``intents``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from schemas.llm import ChatMessage, LlmDelta, LlmReply, LlmRequest, LlmWait
from text.history import estimate_tokens, fit_messages
from text.intent_answer import parse_answer
from text.intents import IntentResult, parse_intents, tool_definition, tool_prompt
from text.think import Piece, TagSplitter
from workers.llm.backends.base import Backend, Prompt
from workers.llm.errors import LlmError
from workers.llm.metrics import RequestMetrics
from workers.llm.settings import LlmSettings
from workers.llm.stops import StopScanner

__all__ = ["Generation", "build_prompt", "start_in_think"]


def start_in_think(settings: LlmSettings) -> bool:
    """Whether replies of the configured backend open inside a think block."""
    if settings.backend == "rkllm":
        return settings.rkllm.start_in_think
    if settings.backend == "rkllm-server":
        return settings.rkllm_server.start_in_think
    if settings.backend == "openai":
        return settings.openai.start_in_think
    return settings.llamacpp.start_in_think


def build_prompt(
    request: LlmRequest,
    settings: LlmSettings,
    backend: Backend,
    earlier: tuple[ChatMessage, ...] = (),
) -> Prompt:
    """The backend prompt for a request: system prompt, tool offer, bounded history."""
    intents_only = bool(request.intent_schema)
    messages = [*([] if intents_only else earlier), *request.messages]
    tools = settings.tools and request.tools
    if intents_only:
        tools = not backend.constrained  # the tool, where the output cannot be held to the schema
    elif not any(m.role == "system" for m in messages) and settings.system_prompt:
        messages.insert(0, ChatMessage(role="system", content=settings.system_prompt))
    if tools and not backend.native_tools:
        i = next((k for k, m in enumerate(messages) if m.role == "system"), None)
        if i is None:
            messages.insert(0, ChatMessage(role="system", content=tool_prompt()))
        else:
            messages[i] = ChatMessage(
                role="system", content=f"{messages[i].content}\n\n{tool_prompt()}"
            )
    hist = settings.history

    def count(text: str) -> int:
        n = backend.count_tokens(text)
        return estimate_tokens(text) if n is None else n

    fitted = fit_messages(
        messages,
        max_chars=None if hist.max_tokens is not None else hist.max_chars,
        max_tokens=hist.max_tokens,
        count_tokens=count,
    )
    return Prompt(
        messages=fitted,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        enable_thinking=request.enable_thinking,
        tools=(tool_definition(),) if tools else (),
        json_schema=request.intent_schema if backend.constrained else "",
        stop=() if intents_only else tuple(settings.stop),
    )


class Generation:
    """Run one request on a backend; iterate :meth:`run` for deltas, then the reply."""

    def __init__(
        self,
        backend: Backend,
        request: LlmRequest,
        prompt: Prompt,
        *,
        start_in_think: bool = False,
        tools: bool = True,
    ) -> None:
        self.backend = backend
        self.request = request
        self.prompt = prompt
        self.abort = threading.Event()
        self.metrics = RequestMetrics()
        self._splitter = TagSplitter(start_in_think=start_in_think)
        self._scanner = StopScanner(prompt.stop)
        self._intents_only = bool(request.intent_schema)
        self._tools = tools
        self._answer: list[str] = []
        self._thinking: list[str] = []
        self._tool: dict[int, str] = {}
        self._index = 0

    def run(self) -> Iterator[LlmDelta | LlmWait | LlmReply]:
        """Stream the reply; the last item is always the :class:`LlmReply` (call once).

        An :class:`LlmWait` comes first when the backend waited long for a busy server.
        """
        finish = "stop"
        error = ""
        self.metrics = metrics = RequestMetrics(start_ns=time.monotonic_ns())
        stream = self.backend.stream(self.prompt, self.abort)
        try:
            for chunk in stream:
                if chunk.notice is not None:
                    yield LlmWait(
                        request_id=self.request.request_id,
                        reason="orphan" if chunk.notice.reason == "orphan" else "busy",
                        waited_ms=chunk.notice.waited_s * 1e3,
                        budget_ms=chunk.notice.left_s * 1e3,
                    )
                if chunk.server_wait_ms is not None:
                    metrics.server_wait_ms = chunk.server_wait_ms
                if chunk.text:
                    metrics.token(chunk.tokens)
                    yield from self._route(self._splitter.feed(chunk.text))
                if chunk.perf is not None:
                    metrics.perf = chunk.perf
                if chunk.finish_reason:
                    finish = chunk.finish_reason
                if self._scanner.stopped:
                    finish = "stop"  # a stop sequence: the backend is told to stop below
                    break
        except LlmError as exc:
            finish, error = "error", str(exc)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # after a stop sequence: the backend stops generating
        yield from self._route(self._splitter.finish())
        yield from self._answer_delta(self._scanner.flush())
        yield self._reply(finish, error)

    def _route(self, pieces: list[Piece]) -> Iterator[LlmDelta]:
        for piece in pieces:
            if piece.channel == "tool":
                self._tool[piece.block] = self._tool.get(piece.block, "") + piece.text
            elif piece.channel == "think":
                self._thinking.append(piece.text)
                yield self._delta(piece.text, thinking=True)
            else:
                yield from self._answer_delta(self._scanner.feed(piece.text))

    def _answer_delta(self, text: str) -> Iterator[LlmDelta]:
        if text:
            self._answer.append(text)
            yield self._delta(text, thinking=False)

    def _delta(self, text: str, *, thinking: bool) -> LlmDelta:
        delta = LlmDelta(
            request_id=self.request.request_id, index=self._index, text=text, thinking=thinking
        )
        self._index += 1
        return delta

    def _reply(self, finish: str, error: str) -> LlmReply:
        if self._splitter.channel == "tool" and not self._tool:
            self._tool[0] = ""  # an opened, empty tool block is still an attempt
        if self.abort.is_set():
            finish = "abort"
        text = "".join(self._answer).strip()
        intent = IntentResult()
        blocks = [self._tool[k] for k in sorted(self._tool)]
        if self._intents_only and finish in ("stop", "length"):
            intent = parse_answer(text, blocks)
        elif self._tools and finish in ("stop", "length"):
            intent = parse_intents(blocks, text)
        metrics = self.metrics
        return LlmReply(
            request_id=self.request.request_id,
            text=text,
            thinking="".join(self._thinking).strip(),
            finish_reason=finish,  # type: ignore[arg-type]
            error=error,
            intents=intent.intents,
            intent_error=intent.error,
            refused_call=intent.refused,
            ttft_ms=metrics.ttft_ms,
            prompt_tokens=metrics.prompt_tokens,
            completion_tokens=metrics.completion_tokens,
            tokens_per_s=metrics.tokens_per_s,
            prefill_ms=metrics.prefill_ms,
            generate_ms=metrics.generate_ms,
            memory_mb=metrics.perf.memory_mb if metrics.perf else 0.0,
            backend=self.backend.name,
            wait_ms=metrics.server_wait_ms,
        )
