"""Rockchip's Flask server demo (``examples/rkllm_server_demo``) over HTTP, both of its releases.

What each release of ``flask_server.py`` does, read from its source (airockchip/rknn-llm v1.2.3
``f7df8e5``, v1.3.0 ``878f936``), is in :data:`RELEASES`; the backend follows it:

- **What reaches the model.** Both hand the runtime one message per request, with
  ``keep_history = 0``: 1.2.x processes the first message only unless tools are sent (a system
  message first means no generation at all, HTTP 500), 1.3.0 the newest user message only,
  and neither passes a system prompt unless tools are sent (then to ``rkllm_set_function_tools``,
  and only when the tools change). So the backend sends exactly one user message, the system
  prompt and the recent history written into it (:mod:`~workers.llm.backends.fold`), and no
  system message: the persona reaches the model once, the same way on both, with and without
  tools (``set_function_tools`` then gets an empty system prompt).
- **Stream form.** 1.2.x (``api: rkllm_chat``): ``POST /rkllm_chat``, ``text/plain``, chunked
  (its werkzeug runs threaded, so HTTP/1.1), one JSON object per character, each the *whole*
  response so far: the new text is ``choices[-1].delta.content``; no end marker. 1.3.0
  (``api: openai``): ``POST /v1/chat/completions``, OpenAI server-sent events over HTTP/1.0.
- **Busy.** 1.2.x runs threaded and answers 503 while a generation is running (it checks that
  from the callback's last state, so a request sent during another one's prefill is *let in*).
  1.3.0 runs single-threaded: a request sent while another is served waits in the listen
  backlog, unanswered, until that one ends (:attr:`RkllmServerBackend.busy_rule` ``backlog``);
  it answers 503 only while a generation whose client has gone is still running.
- **No abort.** Neither stops a generation when its client hangs up (1.3.0 wraps
  ``rkllm_abort`` but never calls it): the cut-off reply runs on until it ends (1.3.0: the
  ``max_tokens`` sent; 1.2.x: its own 4096) while the server answers 503. After a barge-in the
  backend therefore waits for the server to free, for at most ``bound / speed + margin``, tells
  its caller once the wait is long (``llm.wait``), and answers the turn. On 1.2.x it hangs up only
  after the first line of the reply (headers come with the first token), so that the next
  request is never let in during the orphan's prefill, where the server would start a second
  generation on the same runtime handle.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from text.history import estimate_tokens
from workers.llm.backends.base import Backend, BusyNotice, Chunk, Prompt
from workers.llm.backends.exchange import Event, Exchange
from workers.llm.backends.fold import fold_turns, split_system
from workers.llm.backends.http import Retry, sse_data, until_abort
from workers.llm.backends.openai import openai_chunks
from workers.llm.errors import BackendProtocolError, LlmError
from workers.llm.settings import RkllmServerSettings

__all__ = ["RELEASES", "RkllmServerBackend", "ServerRelease", "request_body", "rkllm_chat_chunks"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerRelease:
    """How one release of Rockchip's flask_server.py behaves (read from its source)."""

    release: str
    """Which rknn-llm release."""
    path: str
    """The route the backend posts to."""
    busy_rule: Literal["503", "backlog"]
    """``503``: threaded, a request while another generates is answered 503 at once;
    ``backlog``: single-threaded, it waits unanswered until the running one is over."""
    reads_max_tokens: bool
    """Whether the request's ``max_tokens`` caps the run (else the server's own cap does)."""
    hang_up_at_once: bool
    """Whether an aborted request may be cut before the reply's first line (1.2.x: no, a
    request sent during the cut-off run's prefill would be let in beside it)."""


RELEASES: dict[str, ServerRelease] = {
    "rkllm_chat": ServerRelease("1.2.x", "/rkllm_chat", "503", False, False),
    "openai": ServerRelease("1.3.0", "/v1/chat/completions", "backlog", True, True),
}


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


def request_body(prompt: Prompt, api: str, max_tokens: int) -> dict[str, Any]:
    """The request for ``api``: one user message carrying the system prompt and the history."""
    system, turns = split_system(prompt.messages)
    if not turns:
        raise LlmError("The request has no user message to answer.")
    last = turns[-1]
    message = {"role": last.role, "content": fold_turns(system, turns[:-1], last)}
    if api == "rkllm_chat":
        return {
            "model": "rkllm",
            "messages": [message],
            "stream": True,
            "enable_thinking": prompt.enable_thinking,
            "tools": list(prompt.tools) or None,
        }
    body: dict[str, Any] = {
        "model": "rkllm",
        "messages": [message],
        "stream": True,
        "max_tokens": min(prompt.max_tokens, max_tokens),
        "temperature": prompt.temperature,
        "enable_thinking": prompt.enable_thinking,
    }
    if prompt.tools:
        body["tools"] = list(prompt.tools)
    return body


class RkllmServerBackend(Backend):
    """The rkllm Flask server demo."""

    name = "rkllm-server"
    native_tools = True

    def __init__(self, settings: RkllmServerSettings) -> None:
        self.settings = settings
        self.release = RELEASES[settings.api]
        self.busy_rule = self.release.busy_rule
        self._url = settings.url.rstrip("/") + self.release.path
        self._orphan_until = 0.0
        self._measured_tps: float | None = None
        self._cancelled: Exchange | None = None
        self._last_bound = 0
        log.info(
            "rkllm_server url=%s release=%s busy_rule=%s",
            self._url,
            self.release.release,
            self.busy_rule,
        )

    # -- waiting for the server -------------------------------------------------------------

    def _bound(self, body: dict[str, Any]) -> int:
        """Most tokens a run of this request can last on the server."""
        if self.release.reads_max_tokens:
            return int(body["max_tokens"])
        return self.settings.server_max_new_tokens

    def wait_budget_s(self, bound_tokens: int) -> float:
        """How long a cut-off run of ``bound_tokens`` may keep the server busy, s."""
        s = self.settings
        rate = min(s.assumed_tokens_per_s, self._measured_tps or s.assumed_tokens_per_s)
        return bound_tokens / rate + s.wait_margin_s

    def _retry(self) -> tuple[Retry, str]:
        s = self.settings
        if time.monotonic() < self._orphan_until:
            poll = min(s.busy_backoff_max_s, s.wait_poll_s)
            return Retry(0, min(s.busy_backoff_s, poll), poll, until=self._orphan_until), "orphan"
        return Retry(s.busy_retries, s.busy_backoff_s, s.busy_backoff_max_s), "busy"

    def _orphaned(self, bound_tokens: int, ex: Exchange) -> None:
        self._cancelled = ex
        self._last_bound = bound_tokens
        budget = self.wait_budget_s(bound_tokens)
        self._orphan_until = time.monotonic() + budget
        log.info("llm_server_orphan bound_tokens=%d wait_budget_s=%.1f", bound_tokens, budget)

    def _settle(self, abort: threading.Event) -> Iterator[Chunk]:
        """Wait for the last cancelled request to be over before sending the next one.

        On 1.2.x it is over after the first line of its reply, i.e. once its run has produced a
        token: from then on the server answers 503 until that run ends, whereas a request sent
        during its prefill would be let in and run beside it on the same runtime handle.
        """
        ex = self._cancelled
        if ex is None:
            return
        start = time.monotonic()
        noticed = False
        while not ex.done and not abort.is_set():
            waited = time.monotonic() - start
            if waited > self.settings.read_timeout_s:
                break
            if not noticed and waited >= self.settings.notice_after_s:
                noticed = True
                left = self.wait_budget_s(self._last_bound)
                yield Chunk(notice=BusyNotice("orphan", waited, left))
            ex.join(0.01)
        self._cancelled = None

    def _measure(self, text: str, first: float, last: float) -> None:
        tokens = estimate_tokens(text)
        if tokens >= 16 and last - first > 0.2:
            self._measured_tps = tokens / (last - first)

    # -- one request --------------------------------------------------------------------------

    def _send(self, body: dict[str, Any], retry: Retry) -> Exchange:
        s = self.settings
        return Exchange(
            self._url,
            body,
            headers={"Authorization": "not_required"} if s.api == "rkllm_chat" else {},
            connect_timeout_s=s.connect_timeout_s,
            read_timeout_s=s.read_timeout_s,
            retry=retry,
            cut_at_once=self.release.hang_up_at_once,
        ).start()

    def _until_taken(
        self, ex: Exchange, abort: threading.Event, bound: int, reason: str, notice: bool
    ) -> Generator[Chunk, None, Event | None]:
        """Wait for the server to take the request (returns its ``open`` event), passing one
        notice on when ``notice`` and the busy wait grows long; None after an abort."""
        while True:
            if abort.is_set():
                ex.cancel()
                if not ex.done:  # it may have been let in: a run we cannot stop
                    self._orphaned(bound, ex)
                return None
            ev = ex.next(0.01)
            if ev is None:
                continue
            if ev.kind == "busy" and ev.busy is not None:
                if notice and ev.busy.waited_s >= self.settings.notice_after_s:
                    notice = False
                    log.info("llm_server_wait reason=%s waited_s=%.1f", reason, ev.busy.waited_s)
                    yield Chunk(notice=BusyNotice(reason, ev.busy.waited_s, ev.busy.left_s))
            elif ev.kind == "error" and ev.error is not None:
                raise ev.error
            elif ev.kind == "end":
                return None
            elif ev.kind == "open":
                return ev

    def stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
        s = self.settings
        start = time.monotonic()
        body = request_body(prompt, s.api, s.max_tokens)
        bound = self._bound(body)
        noticed = False
        for notice in self._settle(abort):  # at most one
            noticed = True
            yield notice
        retry, reason = self._retry()
        ex = None if abort.is_set() else self._send(body, retry)
        opened = None
        if ex is not None:
            opened = yield from self._until_taken(ex, abort, bound, reason, not noticed)
        if ex is None or opened is None:
            yield Chunk(finish_reason="abort")
            return
        self._orphan_until = 0.0
        # 503 rule: taken when the admitted attempt was sent (1.2.x sends its headers only with
        # the first token); backlog: when the server answered (1.3.0 answers before it runs).
        taken = opened.sent_at if self.busy_rule == "503" else opened.answered_at
        yield Chunk(server_wait_ms=max(0.0, taken - start) * 1e3)
        lines = ex.lines(abort)
        if s.api == "rkllm_chat":
            chunks = rkllm_chat_chunks(lines, source=self._url)
        else:
            chunks = openai_chunks(sse_data(lines), source=self._url)
        text: list[str] = []
        first = last = 0.0
        for chunk in until_abort(chunks, abort):
            if chunk.text:
                last = time.monotonic()
                first = first or last
                text.append(chunk.text)
            yield chunk
        if abort.is_set():
            self._orphaned(bound, ex)
        else:
            self._measure("".join(text), first, last)
