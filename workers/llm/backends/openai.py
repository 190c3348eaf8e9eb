"""Any OpenAI-compatible server (llama.cpp's llama-server, Ollama, vLLM, rkllm 1.3.0's demo).

``POST {url}/chat/completions`` with ``stream: true``; the reply is server-sent events of
``chat.completion.chunk`` objects ending with ``data: [DONE]``. Text comes in
``choices[0].delta.content``; a separate ``reasoning_content`` (llama-server's DeepSeek reasoning
format) is wrapped in ``<think>`` tags so that it is handled like inline thinking; native tool
calls (``delta.tool_calls``) are gathered and handed on as one ``<tool_call>`` block. A stream
that ends without ``[DONE]`` or a finish reason was cut: that is an error, the text so far is kept.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from workers.llm.backends.base import Backend, Chunk, Prompt
from workers.llm.backends.http import Retry, StreamingPost, sse_data, until_abort
from workers.llm.errors import BackendProtocolError
from workers.llm.metrics import Perf
from workers.llm.settings import OpenAISettings

__all__ = ["OpenAIBackend", "openai_chunks"]

log = logging.getLogger(__name__)


def _perf(obj: dict[str, Any]) -> Perf | None:
    timings = obj.get("timings")
    if isinstance(timings, dict):  # llama-server
        return Perf(
            prefill_ms=float(timings.get("prompt_ms") or 0.0),
            prefill_tokens=int(timings.get("prompt_n") or 0),
            generate_ms=float(timings.get("predicted_ms") or 0.0),
            generate_tokens=int(timings.get("predicted_n") or 0),
        )
    usage = obj.get("usage")
    if isinstance(usage, dict):
        return Perf(
            prefill_tokens=int(usage.get("prompt_tokens") or 0),
            generate_tokens=int(usage.get("completion_tokens") or 0),
        )
    return None


def openai_chunks(events: Iterator[str], *, source: str) -> Iterator[Chunk]:
    """Turn the SSE data payloads of a chat completion stream into chunks."""
    in_reasoning = False
    finish: str | None = None
    perf: Perf | None = None
    tool_calls: dict[int, dict[str, str]] = {}
    bad = texts = 0
    done = False
    for data in events:
        if data.strip() == "[DONE]":
            done = True
            break
        try:
            obj = json.loads(data)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError:
            bad += 1
            log.warning("llm_bad_chunk source=%s data=%r", source, data[:120])
            continue
        if "error" in obj:
            err = obj["error"]
            msg = err.get("message") if isinstance(err, dict) else err
            raise BackendProtocolError(f"The LLM server at {source} reported an error: {msg}.")
        perf = _perf(obj) or perf
        choices = obj.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            continue
        choice = choices[0]
        delta = choice.get("delta") or {}
        text = ""
        reasoning = delta.get("reasoning_content")
        if reasoning:
            text += ("" if in_reasoning else "<think>") + reasoning
            in_reasoning = True
        content = delta.get("content")
        if content:
            text += ("</think>" if in_reasoning else "") + content
            in_reasoning = False
        for call in delta.get("tool_calls") or []:
            slot = tool_calls.setdefault(int(call.get("index", 0)), {"name": "", "arguments": ""})
            fn = call.get("function") or {}
            slot["name"] += fn.get("name") or ""
            slot["arguments"] += fn.get("arguments") or ""
        if text:
            texts += 1
            yield Chunk(text=text, tokens=1)
        if choice.get("finish_reason"):
            finish = choice["finish_reason"]
    if in_reasoning:
        yield Chunk(text="</think>")
    for call in tool_calls.values():
        block = json.dumps({"name": call["name"], "arguments": call["arguments"]})
        yield Chunk(text=f"<tool_call>{block}</tool_call>")
    if bad and not texts:
        raise BackendProtocolError(
            f"The LLM server at {source} sent {bad} malformed chunks and none was usable text; "
            "is the URL that of an OpenAI-compatible server?"
        )
    if not done and finish is None:
        raise BackendProtocolError(
            f"The stream from {source} ended before the reply was finished (no [DONE])."
        )
    yield Chunk(perf=perf, finish_reason="length" if finish == "length" else "stop")


def chat_body(prompt: Prompt, model: str, *, tools: bool) -> dict[str, Any]:
    """The request body of an OpenAI chat completion."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
        "stream": True,
        "max_tokens": prompt.max_tokens,
        "temperature": prompt.temperature,
    }
    if tools and prompt.tools:
        body["tools"] = list(prompt.tools)
    if prompt.json_schema:  # an intents answer, held to its schema (llama-server, vLLM, Ollama)
        schema = {"name": "intents", "schema": json.loads(prompt.json_schema)}
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    return body


class OpenAIBackend(Backend):
    """An OpenAI-compatible chat completions server."""

    name = "openai"
    constrained = True  # response_format json_schema

    def __init__(self, settings: OpenAISettings) -> None:
        self.settings = settings
        self._url = settings.url.rstrip("/") + "/chat/completions"
        self.native_tools = settings.native_tools
        self._retry = Retry(
            settings.busy_retries,
            settings.busy_backoff_s,
            settings.busy_backoff_max_s,
            frozenset({429, 503}),
        )

    def stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
        s = self.settings
        body = chat_body(prompt, s.model, tools=s.native_tools)
        body["stream_options"] = {"include_usage": True}
        headers = {"Authorization": f"Bearer {s.api_key}"} if s.api_key else {}
        post = StreamingPost(
            self._url,
            body,
            headers=headers,
            connect_timeout_s=s.connect_timeout_s,
            read_timeout_s=s.read_timeout_s,
            retry=self._retry,
            abort=abort,
        )
        chunks = openai_chunks(sse_data(post.lines()), source=self._url)
        yield from until_abort(chunks, abort)
