"""Stand-ins of Rockchip's rkllm Flask server demo, releases 1.2.3 and 1.3.0, on 127.0.0.1.

Written from reading airockchip/rknn-llm ``examples/rkllm_server_demo/rkllm_server/
flask_server.py`` at v1.2.3 (``f7df8e5``) and v1.3.0 (``878f936``), and werkzeug's development
server that ``app.run`` starts: their behaviour, not their code. The model is
:class:`FakeRuntime`: one ``rkllm_run`` per request in a thread of its own, a scripted reply one
token per decode step, its callback writing the server's globals as ``callback_impl`` does.

Kept on purpose, because the backend must live with them:

- globals: ``global_text`` is a list of characters (``+=`` of a str on a list extends it by
  characters), ``global_state`` (-1 on a new request, 0 after each token, 2 finished, 3 error),
  ``is_blocking``; busy means ``is_blocking or global_state == 0``, checked first: HTTP 503;
- a streamed response runs after the route has returned, so ``is_blocking`` is already false
  while it streams: busy is only ``global_state == 0``, which is -1 during a prefill: a request
  sent then is let in and starts a second run beside the first (counted in
  ``FakeRuntime.max_active``);
- a client that hangs up ends the response at its next write; the model thread runs on (no
  route ever calls ``rkllm_abort``);
- the stream loop drains ``global_text``, then joins the model thread for 5 ms and stops when
  it has ended: text that arrives during that last join is never sent (the runtime's final
  end-of-sequence step, ``eos_s``, makes it rare; a run stopped at its token cap has none);
- ``set_function_tools`` is called only when the tools' JSON differs from the previous call;
- werkzeug: headers go out with the first piece of the body, always ``Connection: close``,
  chunked on HTTP/1.1 (threaded server) and until-close on HTTP/1.0 (single-threaded).

1.2.3 (threaded): ``POST /rkllm_chat``; each message is skipped from index 1 on unless tools are
sent and the message is new to the server (a list it keeps for its life); a system message sets
the server's system prompt, an assistant message is skipped; when nothing is left to answer
the route fails with HTTP 500; the streamed body is the whole response object so far, one new
``choices`` entry per character, ``\\n\\n`` after each, no end marker; the run's cap is the
server's ``max_new_tokens`` (4096), whatever the request says. Only ``stream: true`` is modelled.

1.3.0 (single-threaded): ``GET /v1/models``, ``POST /v1/chat/completions``; the system prompt is
used only with tools (passed to ``set_function_tools``); the input is the newest user/tool
message among those new since the previous request (by count), else the last user/tool
message; ``max_tokens`` (4096 by default) caps the run; SSE: a role chunk, one chunk per
character, an empty ``stop`` chunk, ``data: [DONE]``.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any, Self

NORMAL, FINISH, ERROR = 0, 2, 3
BUSY = "RKLLM_Server is busy! Maybe you can try again later."
Body = bytes | Iterator[bytes]
Reply = tuple[int, dict[str, str], Body]


@dataclass
class Run:
    """One ``rkllm_run`` the server made."""

    role: str
    prompt: str
    enable_thinking: bool
    max_new_tokens: int
    temperature: float | None
    tokens: int = 0
    finished: bool = False


class FakeRuntime:
    """The server's ``RKLLM`` object: what reached the model, and a scripted reply."""

    def __init__(
        self, *, token_s: float = 0.002, prefill_s: float = 0.0, eos_s: float = 0.06
    ) -> None:
        self.token_s = token_s
        self.prefill_s = prefill_s
        self.eos_s = eos_s
        """The final end-of-sequence step: a whole decode step on the NPU (about 60 ms for a
        1.5B W8A8 model on RK3588), longer than the servers' 5 ms join, so the last text is
        sent; a run stopped at its cap has no such step."""
        self.max_new_tokens = 4096  # both demos: rkllm_param.max_new_tokens = 4096
        self.replies: deque[list[str]] = deque()
        self.runs: list[Run] = []
        self.function_tools: list[tuple[str, str, str]] = []
        self.active = 0
        self.max_active = 0
        self._tools: str | None = None
        self._lock = threading.Lock()

    def answer(self, *texts: str) -> None:
        """The next runs' replies, in order (then "OK.")."""
        self.replies.extend(re.findall(r"\S+\s*|\s+", t) for t in texts)

    def set_function_tools(self, system_prompt: str, tools: str, tool_response: str) -> None:
        if self._tools is None or self._tools != tools:
            self._tools = tools
            self.function_tools.append((system_prompt, tools, tool_response))

    def run(
        self,
        role: str,
        enable_thinking: bool,
        prompt: str,
        callback: Callable[[int, str], None],
        max_new_tokens: int | None = None,
        temperature: float | None = None,
    ) -> None:
        cap = max_new_tokens if max_new_tokens and max_new_tokens > 0 else self.max_new_tokens
        run = Run(role, prompt, bool(enable_thinking), cap, temperature)
        tokens = self.replies.popleft() if self.replies else ["OK."]
        with self._lock:
            self.runs.append(run)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.prefill_s)
            for i, token in enumerate(tokens):
                if i >= cap:
                    break
                time.sleep(self.token_s)
                callback(NORMAL, token)
                run.tokens += 1
            else:
                time.sleep(self.eos_s)
            callback(FINISH, "")
        finally:
            with self._lock:
                self.active -= 1
            run.finished = True

    def idle(self, timeout_s: float = 30.0) -> None:
        """Wait until no run is going on."""
        deadline = time.monotonic() + timeout_s
        while self.active and time.monotonic() < deadline:
            time.sleep(0.01)


class _Handler(BaseHTTPRequestHandler):
    """werkzeug's request handling as far as these routes see it."""

    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, body = self.server.demo.app(method, self.path, raw)
        self.close_connection = True
        items = iter([body]) if isinstance(body, bytes) else body
        chunked = self.protocol_version >= "HTTP/1.1" and "Content-Length" not in headers
        sent = False
        try:
            for data in items:
                if not sent:
                    sent = self._head(status, headers, chunked)
                if data:
                    self.wfile.write(
                        f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data
                    )
                self.wfile.flush()
            if not sent:
                self._head(status, headers, chunked)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.server.demo.disconnects += 1
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def _head(self, status: int, headers: dict[str, str], chunked: bool) -> bool:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        return True


class _Server(HTTPServer):
    request_queue_size = 128  # werkzeug's listen backlog
    demo: FlaskDemo


class _ThreadingServer(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
    demo: FlaskDemo


def _json(status: int, obj: Any) -> Reply:
    data = json.dumps(obj).encode()
    return status, {"Content-Type": "application/json", "Content-Length": str(len(data))}, data


def _html(status: int, title: str) -> Reply:
    data = f"<!doctype html>\n<title>{status} {title}</title>\n<h1>{title}</h1>\n".encode()
    return (
        status,
        {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(data))},
        data,
    )


class FlaskDemo:
    """The globals and the serving thread shared by both releases (the path is ``route``'s)."""

    threaded = True

    def __init__(self, runtime: FakeRuntime | None = None) -> None:
        self.runtime = runtime or FakeRuntime()
        self.lock = threading.Lock()
        self.is_blocking = False
        self.global_text: list[str] = []
        self.global_state = -1
        self.system_prompt = ""
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.disconnects = 0
        server_cls = _ThreadingServer if self.threaded else _Server
        handler = type(
            "Handler",
            (_Handler,),
            {"protocol_version": "HTTP/1.1" if self.threaded else "HTTP/1.0"},
        )
        self._httpd = server_cls(("127.0.0.1", 0), handler)
        self._httpd.demo = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self.runtime.idle()

    def callback(self, state: int, text: str) -> None:
        """``callback_impl``: the runtime's callback writing the globals."""
        if state in (FINISH, ERROR):
            self.global_state = state
        elif state == NORMAL:
            self.global_state = state
            self.global_text += text  # a str onto a list: one element per character

    def app(self, method: str, path: str, raw: bytes) -> Reply:
        reply = self.route(method, path, raw)
        self.statuses.append(reply[0])
        return reply

    def route(self, method: str, path: str, raw: bytes) -> Reply:
        raise NotImplementedError

    def _body(self, raw: bytes) -> Any:
        data = json.loads(raw)
        self.requests.append(data)
        return data

    def _drain(self, thread: threading.Thread) -> Iterator[str]:
        """The stream loop of both releases: drain the characters, then join for 5 ms."""
        while True:
            while len(self.global_text) > 0:
                yield self.global_text.pop(0)
            thread.join(timeout=0.005)
            if not thread.is_alive():
                return


class FlaskDemo123(FlaskDemo):
    """rknn-llm 1.2.3 ``flask_server.py`` (``app.run(threaded=True)``)."""

    threaded = True

    def __init__(self, runtime: FakeRuntime | None = None) -> None:
        super().__init__(runtime)
        self.received: list[dict[str, Any]] = []

    def route(self, method: str, path: str, raw: bytes) -> Reply:
        if method != "POST" or path != "/rkllm_chat":
            return _html(404, "Not Found")
        if self.is_blocking or self.global_state == 0:
            return _json(503, {"status": "error", "message": BUSY})
        with self.lock:
            try:
                self.is_blocking = True
                try:
                    data = self._body(raw)
                except ValueError:
                    return _html(400, "Bad Request")
                if not (data and "messages" in data):
                    return _json(400, {"status": "error", "message": "Invalid JSON data!"})
                self.global_text = []
                self.global_state = -1
                if not data.get("stream"):
                    return _json(501, {"message": "the stand-in models stream: true only"})
                return self._stream(data)
            finally:
                self.is_blocking = False

    def _stream(self, data: dict[str, Any]) -> Reply:
        messages = data["messages"]
        thinking = data.get("enable_thinking")
        tools = data.get("tools")
        chosen: tuple[str, Any] | None = None
        index = 0
        prompt: Any = []
        for index, message in enumerate(messages):
            if message not in self.received and tools is not None:
                self.received.append(message)
            elif index >= 1:
                continue
            role = message["role"]
            if role == "system":
                self.system_prompt = message["content"]
                continue
            if role == "assistant":
                continue
            if role == "tool":
                if not isinstance(prompt, list):
                    prompt = []
                prompt.append(message["content"])
                if index < len(messages) - 1:
                    continue
            if role == "user":
                prompt = message["content"]
            elif role == "tool":
                prompt = json.dumps(prompt)
                self.received.clear()
            if tools is not None:
                self.runtime.set_function_tools(
                    self.system_prompt, json.dumps(tools), "tool_response"
                )
            chosen = (role, prompt)  # the generator is defined here; the last one wins
        if chosen is None:  # generate() was never defined: UnboundLocalError in the route
            return _html(500, "Internal Server Error")
        return (
            200,
            {"Content-Type": "text/plain; charset=utf-8"},
            self._generate(*chosen, index, thinking),
        )

    def _generate(self, role: str, prompt: str, index: int, thinking: Any) -> Iterator[bytes]:
        response: dict[str, Any] = {
            "id": "rkllm_chat",
            "object": "rkllm_chat",
            "created": None,
            "choices": [],
            "usage": {"prompt_tokens": None, "completion_tokens": None, "total_tokens": None},
        }
        thread = threading.Thread(
            target=self.runtime.run, args=(role, thinking, prompt, self.callback), daemon=True
        )
        thread.start()
        for char in self._drain(thread):
            response["choices"].append(
                {
                    "index": index,
                    "delta": {"role": "assistant", "content": char[-1]},
                    "logprobs": None,
                    "finish_reason": "stop" if self.global_state == 1 else None,
                }
            )
            yield f"{json.dumps(response)}\n\n".encode()


class FlaskDemo130(FlaskDemo):
    """rknn-llm 1.3.0 ``flask_server.py`` (``app.run(threaded=False)``)."""

    threaded = False

    def __init__(self, runtime: FakeRuntime | None = None) -> None:
        super().__init__(runtime)
        self.last_messages: list[dict[str, Any]] = []

    def route(self, method: str, path: str, raw: bytes) -> Reply:
        if method == "GET" and path == "/v1/models":
            model = {
                "id": "model",
                "object": "model",
                "created": int(time.time()),
                "owned_by": "rkllm",
            }
            return _json(200, {"object": "list", "data": [model]})
        if method != "POST" or path != "/v1/chat/completions":
            return _html(404, "Not Found")
        if self.is_blocking or self.global_state == 0:
            return self._error(BUSY, "server_error", 503)
        with self.lock:
            try:
                self.is_blocking = True
                try:
                    data = self._body(raw)
                except ValueError:
                    return _html(400, "Bad Request")
                if not data or "messages" not in data:
                    return self._error("Missing 'messages' in request body.")
                return self._complete(data)
            finally:
                self.is_blocking = False

    @staticmethod
    def _error(message: str, kind: str = "invalid_request_error", status: int = 400) -> Reply:
        return _json(
            status, {"error": {"message": message, "type": kind, "param": None, "code": None}}
        )

    def _complete(self, data: dict[str, Any]) -> Reply:
        messages = data["messages"]
        model = data.get("model", "model")
        temperature = float(data.get("temperature", 0.8))
        max_tokens = data.get("max_tokens", 4096)
        thinking = data.get("enable_thinking", False)
        tools = data.get("tools")
        system = ""
        for msg in messages:
            if msg.get("role") == "system":
                system = msg.get("content", "")
        if tools:
            self.runtime.set_function_tools(system, json.dumps(tools), "tool_response")
        role, prompt = self._last_input(messages)
        run = (role, thinking, prompt, self.callback, max_tokens, temperature)
        if not data.get("stream", False):
            output = "".join(self._generate_stream(run))
            message = {"role": "assistant", "content": output}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
            return _json(200, {"object": "chat.completion", "model": model, "choices": [choice]})
        headers = {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "Connection": "keep-alive",  # the route's own; werkzeug adds "close" after it
            "X-Accel-Buffering": "no",
        }
        return 200, headers, self._sse(model, run)

    def _last_input(self, messages: list[dict[str, Any]]) -> tuple[str, str]:
        """``get_last_input``: the newest input among the messages new since last time."""
        prev = len(self.last_messages)
        new = messages[prev:] if prev < len(messages) else []
        self.last_messages = list(messages)
        inputs = [m for m in new if m.get("role", "") in ("user", "tool")]
        if not inputs:
            for msg in reversed(messages):
                if msg.get("role", "") in ("user", "tool"):
                    return msg["role"], self._text(msg)
            return "user", ""
        if all(m.get("role") == "tool" for m in inputs):
            contents: list[Any] = []
            for m in inputs:
                try:
                    contents.append(json.loads(m.get("content", "")))
                except (ValueError, TypeError):
                    contents.append(m.get("content", ""))
            return "tool", json.dumps(contents, ensure_ascii=False)
        return inputs[-1].get("role", "user"), self._text(inputs[-1])

    @staticmethod
    def _text(msg: dict[str, Any]) -> str:
        content = msg.get("content", "")
        if isinstance(content, list):
            return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
        return content or ""

    def _generate_stream(self, run: tuple[Any, ...]) -> Iterator[str]:
        self.global_text = []
        self.global_state = -1
        thread = threading.Thread(target=self.runtime.run, args=run, daemon=True)
        thread.start()
        yield from self._drain(thread)

    def _sse(self, model: str, run: tuple[Any, ...]) -> Iterator[bytes]:
        def chunk(content: str | None, finish: str | None = None) -> bytes:
            obj = {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant"} if content is None else {"content": content},
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                ],
            }
            return f"data: {json.dumps(obj)}\n\n".encode()

        yield chunk(None)
        for char in self._generate_stream(run):
            yield chunk(char)
        yield chunk("", "stop")
        yield b"data: [DONE]\n\n"
