"""HTTP streaming shared by the server backends: POST with busy retries, lines, SSE events.

Plain ``http.client`` (no extra dependency). An abort closes the socket from a watcher thread,
so a stream stuck waiting for the server (its headers or its next line) is cut at once rather
than at the read timeout; with ``cut_on_abort=False`` the request instead ends after the next
line (rkllm's 1.2.x demo, see :mod:`workers.llm.backends.rkllm_server`). :meth:`StreamingPost.open`
yields after every busy answer, so that a caller can tell its user that it waits.
"""

from __future__ import annotations

import http.client
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from workers.llm.backends.base import Chunk
from workers.llm.errors import BackendBusy, BackendProtocolError, BackendUnavailable, LlmError

__all__ = ["BusyWait", "Retry", "StreamingPost", "sse_data", "until_abort"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retry:
    """How to retry a busy server: ``retries`` times, delay doubling from ``backoff_s``."""

    retries: int
    backoff_s: float
    backoff_max_s: float
    statuses: frozenset[int] = frozenset({503})
    until: float | None = None
    """Monotonic deadline, s: when set, busy answers are retried until then (not ``retries``)."""

    def left_s(self, attempt: int, delay_s: float, now: float) -> float:
        """Most the retries after ``attempt`` may still wait, s (the next delay ``delay_s``)."""
        if self.until is not None:
            return max(0.0, self.until - now)
        left, d = 0.0, delay_s
        for _ in range(attempt, self.retries):
            left += d
            d = min(d * 2, self.backoff_max_s)
        return left

    def again(self, attempt: int, now: float) -> bool:
        """Whether a busy answer to ``attempt`` (from 0) is retried."""
        return now < self.until if self.until is not None else attempt < self.retries


@dataclass(frozen=True)
class BusyWait:
    """One busy answer: how long the request has waited and may still wait."""

    waited_s: float
    """Since the first attempt, s."""
    left_s: float
    """Most the retries may still wait, s."""


class StreamingPost:
    """One streamed POST; iterate :meth:`lines` for the body, line by line, until it ends.

    ``abort`` set at any time ends the iteration promptly: the socket is shut down, or, with
    ``cut_on_abort=False``, the request goes on until the response's next line, then closes.
    """

    def __init__(
        self,
        url: str,
        body: dict[str, Any],
        *,
        headers: dict[str, str],
        connect_timeout_s: float,
        read_timeout_s: float,
        retry: Retry,
        abort: threading.Event,
        cut_on_abort: bool = True,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LlmError(f"The server URL {url!r} is not an http(s) URL; fix it in the settings.")
        self._url = url
        self._parts = parts
        self._payload = json.dumps(body, ensure_ascii=False).encode()
        self._headers = {"Content-Type": "application/json", **headers}
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._retry = retry
        self._abort = abort
        self._cut_on_abort = cut_on_abort
        self._conn: http.client.HTTPConnection | None = None
        self._resp: http.client.HTTPResponse | None = None
        self._done = threading.Event()
        self._watcher: threading.Thread | None = None
        self.aborted = False
        """True when the abort came before the server took the request."""
        self.sent_at = 0.0
        """When the attempt the server took was sent (monotonic s; 0 = not yet)."""
        self.answered_at = 0.0
        """When its response headers came (monotonic s; 0 = not yet)."""

    def _connect(self) -> http.client.HTTPConnection:
        cls = (
            http.client.HTTPSConnection
            if self._parts.scheme == "https"
            else http.client.HTTPConnection
        )
        conn = cls(self._parts.hostname or "", self._parts.port, timeout=self._connect_timeout_s)
        conn.connect()
        if conn.sock is not None:
            conn.sock.settimeout(self._read_timeout_s)
        return conn

    def open(self) -> Iterator[BusyWait]:
        """Send the request, retrying busy answers; yields after each one (before its delay).

        When it ends the response is open, or :attr:`aborted` is set. Raises
        :class:`BackendUnavailable`, :class:`BackendBusy` or :class:`BackendProtocolError`.
        """
        if self._cut_on_abort and self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="llm_http_abort", daemon=True)
            self._watcher.start()
        try:
            yield from self._open()
        except BaseException:
            self._finish()
            raise
        if self.aborted:
            self._finish()

    def _open(self) -> Iterator[BusyWait]:
        path = self._parts.path or "/"
        delay = self._retry.backoff_s
        first = time.monotonic()
        for attempt in itertools.count():
            try:
                conn = self._connect()
            except (OSError, http.client.HTTPException) as exc:
                raise BackendUnavailable(
                    f"Could not reach the LLM server at {self._url} ({exc}). Start it, or fix "
                    "the URL in the settings."
                ) from exc
            try:
                self._conn = conn
                if self._abort.is_set():  # not sent yet: nothing to wait for
                    raise _Aborted
                sent = time.monotonic()
                conn.request("POST", path, body=self._payload, headers=self._headers)
                resp = conn.getresponse()
            except _Aborted:
                self.aborted = True
                return
            except TimeoutError as exc:
                if self._abort.is_set():
                    self.aborted = True
                    return
                raise BackendUnavailable(
                    f"The LLM server at {self._url} did not answer within "
                    f"{self._read_timeout_s:g} s ({exc}). It may be serving another request "
                    "(rkllm's 1.3.0 demo serves one at a time and holds the others back); try "
                    "again later or raise read_timeout_s."
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                if self._abort.is_set() and self._cut_on_abort:
                    self.aborted = True
                    return
                raise BackendUnavailable(
                    f"The LLM server at {self._url} dropped the request ({exc}). Check that it "
                    "is running and the URL in the settings."
                ) from exc
            if resp.status == 200:
                self._resp = resp
                self.sent_at, self.answered_at = sent, time.monotonic()
                return
            detail = _error_detail(resp.read(65536))
            conn.close()
            now = time.monotonic()
            if resp.status in self._retry.statuses and self._retry.again(attempt, now):
                log.info("llm_server_busy status=%d retry_in_s=%.2f", resp.status, delay)
                yield BusyWait(now - first, self._retry.left_s(attempt, delay, now))
                if self._abort.wait(delay):
                    self.aborted = True
                    return
                delay = min(delay * 2, self._retry.backoff_max_s)
                continue
            if resp.status in self._retry.statuses:
                advice = (
                    "the wait allowed for that ran out (it is set by wait_margin_s and "
                    "assumed_tokens_per_s)"
                    if self._retry.until is not None
                    else "try again later or raise busy_retries"
                )
                raise BackendBusy(
                    f"The LLM server at {self._url} stayed busy (HTTP {resp.status}) through "
                    f"{attempt} retries ({now - first:.1f} s): {detail}. Another client "
                    f"(or a reply cut off earlier, which the server does not stop) is using it; "
                    f"{advice}."
                )
            raise BackendProtocolError(
                f"The LLM server at {self._url} answered HTTP {resp.status}: {detail}."
            )

    def _watch(self) -> None:
        while not self._done.is_set():
            if self._abort.wait(0.02):
                self.shutdown()
                return

    def shutdown(self) -> None:
        """Cut the connection now (from any thread): a pending read fails at once."""
        conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _finish(self) -> None:
        self._done.set()
        if self._conn is not None:
            self._conn.close()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join()

    def lines(self) -> Iterator[str]:
        """The body's lines, decoded, without line ends; ends quietly on abort.

        Opens the request first if :meth:`open` was not run. Raises
        :class:`BackendProtocolError` when the connection breaks mid-body.
        """
        if self._resp is None and not self.aborted:
            for _ in self.open():
                pass
        resp = self._resp
        if resp is None:
            return
        try:
            while True:
                try:
                    raw = resp.readline()
                except (OSError, http.client.HTTPException) as exc:
                    if self._abort.is_set():
                        return
                    raise BackendProtocolError(
                        f"The connection to {self._url} broke in the middle of the reply ({exc!r})."
                    ) from exc
                if not raw:
                    return
                yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if self._abort.is_set():
                    return
        finally:
            self._finish()


class _Aborted(Exception):
    """Internal: the request was aborted while waiting to retry."""


def _error_detail(body: bytes) -> str:
    """The message of an error body (OpenAI ``error.message``, rkllm ``message``) or its text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text[:200] or "no details"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if data.get("message"):
            return str(data["message"])
    return text[:200]


def sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The ``data`` payloads of a server-sent event stream (multi-line data joined by newlines)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def until_abort(chunks: Iterator[Chunk], abort: threading.Event) -> Iterator[Chunk]:
    """Pass chunks on; after an abort, close the stream and end with an ``abort`` chunk."""
    try:
        for chunk in chunks:
            if abort.is_set():
                break
            yield chunk
    except BackendProtocolError:
        if not abort.is_set():
            raise
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    if abort.is_set():
        yield Chunk(finish_reason="abort")
