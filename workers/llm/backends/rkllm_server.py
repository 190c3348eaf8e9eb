"""Rockchip's Flask server demo (``examples/rkllm_server_demo``) over HTTP, both of its forms.

- ``api: rkllm_chat`` (rknn-llm 1.2.x): ``POST /rkllm_chat``; the streamed body is plain text,
  one JSON object per line (blank lines between), each the *whole* response so far with one new
  ``choices`` entry per character: the new text is ``choices[-1].delta.content``. No ``data:``
  prefix and no end marker: the reply ends when the server closes the connection.
- ``api: openai`` (rknn-llm 1.3.0): ``POST /v1/chat/completions``, OpenAI server-sent events.

Both answer HTTP 503 while another request runs (the demo serves one at a time): retried with a
doubling backoff, then reported as :class:`~workers.llm.errors.BackendBusy`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from workers.llm.backends.base import Backend, Chunk, Prompt
from workers.llm.backends.http import Retry, StreamingPost, sse_data, until_abort
from workers.llm.backends.openai import chat_body, openai_chunks
from workers.llm.errors import BackendProtocolError
from workers.llm.settings import RkllmServerSettings

__all__ = ["RkllmServerBackend", "rkllm_chat_chunks"]

log = logging.getLogger(__name__)


def rkllm_chat_chunks(lines: Iterator[str], *, source: str) -> Iterator[Chunk]:
    """Turn the lines of a ``/rkllm_chat`` stream into chunks."""
    bad = good = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            piece: Any = obj["choices"][-1]["delta"].get("content") or ""
            if not isinstance(piece, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            bad += 1
            log.warning("llm_bad_chunk source=%s line=%r", source, line[:120])
            continue
        good += 1
        if piece:
            yield Chunk(text=piece, tokens=0)
    if good == 0 and bad:
        raise BackendProtocolError(
            f"The server at {source} sent {bad} lines and none was an rkllm_chat object; is "
            "api set right (rkllm_chat for the 1.2.x demo, openai for 1.3.0)?"
        )
    yield Chunk(finish_reason="stop")


class RkllmServerBackend(Backend):
    """The rkllm Flask server demo."""

    name = "rkllm-server"
    native_tools = True

    def __init__(self, settings: RkllmServerSettings) -> None:
        self.settings = settings
        base = settings.url.rstrip("/")
        self._url = base + (
            "/rkllm_chat" if settings.api == "rkllm_chat" else "/v1/chat/completions"
        )
        self._retry = Retry(
            settings.busy_retries, settings.busy_backoff_s, settings.busy_backoff_max_s
        )

    def stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
        s = self.settings
        body = chat_body(prompt, "rkllm", tools=True)
        body["enable_thinking"] = prompt.enable_thinking
        headers: dict[str, str] = {}
        if s.api == "rkllm_chat":
            body = {
                "model": "rkllm",
                "messages": body["messages"],
                "stream": True,
                "enable_thinking": prompt.enable_thinking,
                "tools": list(prompt.tools) or None,
            }
            headers["Authorization"] = "not_required"
        post = StreamingPost(
            self._url,
            body,
            headers=headers,
            connect_timeout_s=s.connect_timeout_s,
            read_timeout_s=s.read_timeout_s,
            retry=self._retry,
            abort=abort,
        )
        if s.api == "rkllm_chat":
            chunks = rkllm_chat_chunks(post.lines(), source=self._url)
        else:
            chunks = openai_chunks(sse_data(post.lines()), source=self._url)
        yield from until_abort(chunks, abort)
