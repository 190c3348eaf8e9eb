"""A real HTTP server on 127.0.0.1 speaking the LLM wire forms, scripted by the tests.

This is the *wire form* with faults on demand, for the parsers and the HTTP layer; the rkllm
servers' own behaviour (what reaches the model, busy rule, threading, no abort) is stood in by
:mod:`tests.workers.llm.rkllm_flask`.

- ``POST /rkllm_chat``: the rknn-llm 1.2.x demo's form: ``text/plain``, one *whole* response
  object per line with one more ``choices`` entry per character, blank line between, no end
  marker; chunked HTTP/1.1 with ``Connection: close``, as its threaded werkzeug sends it.
- ``POST /v1/chat/completions``: any OpenAI server (llama-server): SSE, chunked transfer
  (HTTP/1.1), role chunk first, one chunk per piece, a final ``finish_reason`` chunk,
  ``data: [DONE]``.

``Script`` chooses the behaviour: pieces to send, 503 busy replies before serving, a dropped
connection mid-stream, malformed chunks, a delay per piece, an error status.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    pieces: list[str] = field(default_factory=lambda: list("Hello."))
    busy_times: int = 0
    drop_after: int | None = None
    malformed_every: int = 0
    all_malformed: bool = False
    delay_s: float = 0.0
    error_status: int | None = None
    reasoning: list[str] = field(default_factory=list)
    tool_call: dict[str, Any] | None = None
    timings: bool = False


class FakeLlmServer:
    """A scripted LLM server: ``with FakeLlmServer() as srv:``, ``srv.set()``, ``srv.requests``.

    The handler threads write straight to the socket, so a test can cut a reply anywhere.
    """

    def __init__(self) -> None:
        self.script = Script()
        self.requests: list[dict[str, Any]] = []
        self.disconnects = 0
        self._busy_left = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                outer._serve(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeLlmServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def set(self, **kw: Any) -> None:
        self.script = Script(**kw)
        self._busy_left = self.script.busy_times

    # -- serving --------------------------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        body = json.loads(h.rfile.read(int(h.headers["Content-Length"])))
        with self._lock:
            self.requests.append({"path": h.path, "headers": dict(h.headers), "body": body})
            busy = self._busy_left > 0
            if busy:
                self._busy_left -= 1
        s = self.script
        if busy:
            msg = "RKLLM_Server is busy! Maybe you can try again later."
            if h.path == "/rkllm_chat":
                self._json(h, 503, {"status": "error", "message": msg})
            else:
                self._json(h, 503, {"error": {"message": msg, "type": "server_error"}})
            return
        if s.error_status:
            self._json(h, s.error_status, {"error": {"message": "messages is required"}})
            return
        try:
            if h.path == "/rkllm_chat":
                self._rkllm_chat(h, s)
            elif h.path == "/v1/chat/completions":
                self._sse(h, s)
            else:
                self._json(h, 404, {"error": {"message": f"no route {h.path}"}})
        except (BrokenPipeError, ConnectionResetError):
            self.disconnects += 1

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _rkllm_chat(self, h: BaseHTTPRequestHandler, s: Script) -> None:
        h.protocol_version = "HTTP/1.1"
        h.send_response(200)
        h.send_header("Content-Type", "text/plain; charset=utf-8")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Connection", "close")
        h.end_headers()

        def send(raw: bytes) -> None:
            h.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")

        rkllm_res: dict[str, Any] = {
            "id": "rkllm_chat",
            "object": "rkllm_chat",
            "created": None,
            "choices": [],
            "usage": {"prompt_tokens": None, "completion_tokens": None, "total_tokens": None},
        }
        for i, piece in enumerate(s.pieces):
            if s.drop_after is not None and i == s.drop_after:
                h.wfile.write(b'40\r\n{"choi')  # a chunk cut short, then the socket closes
                h.wfile.flush()
                h.connection.close()
                return
            time.sleep(s.delay_s)
            if s.all_malformed or (s.malformed_every and i % s.malformed_every == 1):
                send(b"{this is not json\n\n")
            rkllm_res["choices"].append(
                {
                    "index": i,
                    "delta": {"role": "assistant", "content": piece},
                    "logprobs": None,
                    "finish_reason": None,
                }
            )
            if not s.all_malformed:
                send(json.dumps(rkllm_res).encode() + b"\n\n")
            h.wfile.flush()
        send(b"")

    def _sse(self, h: BaseHTTPRequestHandler, s: Script) -> None:
        h.protocol_version = "HTTP/1.1"
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Connection", "close")
        h.end_headers()

        def send(raw: bytes) -> None:
            h.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            h.wfile.flush()

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            obj = {
                "id": "chatcmpl-0123456789abcdef01234567",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
                **extra,
            }
            send(f"data: {json.dumps(obj)}\n\n".encode())

        chunk({"role": "assistant"})
        for piece in s.reasoning:
            chunk({"reasoning_content": piece})
        for i, piece in enumerate(s.pieces):
            if s.drop_after is not None and i == s.drop_after:
                h.wfile.write(b'40\r\ndata: {"choi')  # a chunk cut short, then the socket closes
                h.wfile.flush()
                h.connection.close()
                return
            time.sleep(s.delay_s)
            if s.all_malformed or (s.malformed_every and i % s.malformed_every == 1):
                send(b'data: {"choices": [oops\n\n')
            if not s.all_malformed:
                chunk({"content": piece})
        if s.tool_call is not None:
            args = json.dumps(s.tool_call["arguments"])
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "function": {"name": s.tool_call["name"], "arguments": args[:5]},
                        }
                    ]
                }
            )
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[5:]}}]})
        extra: dict[str, Any] = {}
        if s.timings:
            extra["timings"] = {
                "prompt_n": 11,
                "prompt_ms": 30.0,
                "predicted_n": 5,
                "predicted_ms": 50.0,
            }
        if not s.all_malformed:
            chunk({"content": ""}, "stop", **extra)
        send(b"data: [DONE]\n\n")
        send(b"")
