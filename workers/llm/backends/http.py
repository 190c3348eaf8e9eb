"""HTTP streaming shared by the server backends: POST with busy retries, lines, SSE events.

Plain ``http.client`` (no extra dependency). An abort closes the socket from a watcher thread,
so a stream stuck waiting for the server is cut at once rather than at the read timeout.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from workers.llm.backends.base import Chunk
from workers.llm.errors import BackendBusy, BackendProtocolError, BackendUnavailable, LlmError

__all__ = ["Retry", "StreamingPost", "sse_data", "until_abort"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retry:
    """How to retry a busy server: ``retries`` times, delay doubling from ``backoff_s``."""

    retries: int
    backoff_s: float
    backoff_max_s: float
    statuses: frozenset[int] = frozenset({503})


class StreamingPost:
    """One streamed POST; iterate :meth:`lines` for the body, line by line, until it ends.

    ``abort`` set at any time ends the iteration promptly (the socket is shut down).
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
        self._conn: http.client.HTTPConnection | None = None
        self._done = threading.Event()

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

    def _open(self) -> http.client.HTTPResponse:
        path = self._parts.path or "/"
        delay = self._retry.backoff_s
        for attempt in range(self._retry.retries + 1):
            try:
                conn = self._connect()
                conn.request("POST", path, body=self._payload, headers=self._headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise BackendUnavailable(
                    f"Could not reach the LLM server at {self._url} ({exc}). Start it, or fix "
                    "the URL in the settings."
                ) from exc
            if resp.status == 200:
                self._conn = conn
                return resp
            detail = _error_detail(resp.read(65536))
            conn.close()
            if resp.status in self._retry.statuses and attempt < self._retry.retries:
                log.info("llm_server_busy status=%d retry_in_s=%.2f", resp.status, delay)
                if self._abort.wait(delay):
                    raise _Aborted
                delay = min(delay * 2, self._retry.backoff_max_s)
                continue
            if resp.status in self._retry.statuses:
                raise BackendBusy(
                    f"The LLM server at {self._url} stayed busy (HTTP {resp.status}) through "
                    f"{self._retry.retries} retries: {detail}. Another client is using it; "
                    "try again later or raise busy_retries."
                )
            raise BackendProtocolError(
                f"The LLM server at {self._url} answered HTTP {resp.status}: {detail}."
            )
        raise AssertionError("unreachable")

    def _watch(self) -> None:
        while not self._done.is_set():
            if self._abort.wait(0.02):
                conn = self._conn
                if conn is not None and conn.sock is not None:
                    try:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return

    def lines(self) -> Iterator[str]:
        """The body's lines, decoded, without line ends; ends quietly on abort.

        Raises :class:`BackendProtocolError` when the connection breaks mid-body.
        """
        try:
            resp = self._open()
        except _Aborted:
            return
        watcher = threading.Thread(target=self._watch, name="llm_http_abort", daemon=True)
        watcher.start()
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
            self._done.set()
            if self._conn is not None:
                self._conn.close()
            watcher.join()


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
