"""The ``rkllm-server`` backend against stand-ins of Rockchip's Flask demo, 1.2.3 and 1.3.0.

The stand-ins (:mod:`tests.workers.llm.rkllm_flask`) reproduce what each release does with the
messages, its stream form, its busy rule and threading, and that it never aborts a run.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import pytest

from schemas.llm import ChatMessage, LlmReply, LlmRequest, LlmWait
from schemas.system import Metric
from tests.workers.llm.rkllm_flask import FakeRuntime, FlaskDemo, FlaskDemo123, FlaskDemo130
from workers.llm.backends.base import Prompt
from workers.llm.backends.rkllm_server import RkllmServerBackend
from workers.llm.engine import Generation, build_prompt
from workers.llm.service import LlmService
from workers.llm.settings import LlmSettings, RkllmServerSettings

PERSONA = "You are Robo, the voice of a small car."
HISTORY = (
    ChatMessage(role="system", content=PERSONA),
    ChatMessage(role="user", content="my name is Ann"),
    ChatMessage(role="assistant", content="Hello Ann."),
    ChatMessage(role="user", content="what is my name"),
)
RELEASES: dict[str, type[FlaskDemo]] = {"1.2.3": FlaskDemo123, "1.3.0": FlaskDemo130}
LONG = " ".join(f"w{i}" for i in range(200))


@pytest.fixture(params=sorted(RELEASES))
def release(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(release: str) -> Iterator[FlaskDemo]:
    cls = RELEASES[release]
    with cls(FakeRuntime(token_s=0.004)) as srv:
        yield srv


def backend(srv: FlaskDemo, **kw: Any) -> RkllmServerBackend:
    kw.setdefault("busy_backoff_s", 0.02)
    kw.setdefault("busy_backoff_max_s", 0.05)
    api: Literal["rkllm_chat", "openai"] = (
        "rkllm_chat" if isinstance(srv, FlaskDemo123) else "openai"
    )
    return RkllmServerBackend(RkllmServerSettings(url=srv.url, api=api, **kw))


def turn(
    b: RkllmServerBackend, messages: tuple[ChatMessage, ...], *, tools: bool = False, **kw: Any
) -> LlmReply:
    req = LlmRequest(request_id="r", messages=messages, tools=tools, **kw)
    llm = LlmSettings(backend="rkllm-server", tools=tools)
    items = list(Generation(b, req, build_prompt(req, llm, b), tools=tools).run())
    assert isinstance(items[-1], LlmReply)
    return items[-1]


def what_reached_the_model(srv: FlaskDemo) -> str:
    """Everything of the last request the model saw: its prompt and the tools' system prompt."""
    systems = [system for system, _, _ in srv.runtime.function_tools]
    return "\n".join([*systems, srv.runtime.runs[-1].prompt])


def barge_in(b: RkllmServerBackend, after: int = 3, **kw: Any) -> None:
    """A long reply aborted after ``after`` pieces, as a barge-in does."""
    abort = threading.Event()
    prompt = Prompt(messages=(ChatMessage(role="user", content="tell me everything"),), **kw)
    pieces = 0
    for chunk in b.stream(prompt, abort):
        pieces += bool(chunk.text)
        if pieces == after:
            abort.set()
    assert chunk.finish_reason == "abort"


# -- what reaches the model -------------------------------------------------------------------


@pytest.mark.parametrize("tools", [False, True], ids=["no-tools", "tools"])
def test_a_turn_with_persona_and_history_is_answered_and_both_reach_the_model(
    server: FlaskDemo, tools: bool
) -> None:
    server.runtime.answer("Your name is Ann.")
    reply = turn(backend(server), HISTORY, tools=tools)
    assert reply.finish_reason == "stop", reply.error
    assert reply.text == "Your name is Ann."
    seen = what_reached_the_model(server)
    assert seen.count(PERSONA) == 1  # once: not also through set_function_tools
    assert "my name is Ann" in seen and "Hello Ann." in seen
    assert server.runtime.runs[-1].prompt.endswith("what is my name")
    if tools:
        [(system, tool_json, _)] = server.runtime.function_tools
        assert system == "" and "rtos_command" in tool_json


def test_the_same_question_twice_is_answered_twice(server: FlaskDemo) -> None:
    # 1.2.3 keeps every message it saw when tools are sent and skips seen ones from index 1 on.
    b = backend(server)
    q = (ChatMessage(role="system", content=PERSONA), ChatMessage(role="user", content="stop"))
    for _ in range(2):
        server.runtime.answer("Stopping.")
        assert turn(b, q, tools=True).text == "Stopping."
    assert len(server.runtime.runs) == 2


def test_thinking_is_kept_apart_on_both_releases(server: FlaskDemo) -> None:
    server.runtime.answer("<think>she said Ann</think>Ann. 你好！")
    reply = turn(backend(server), HISTORY)
    assert (reply.thinking, reply.text) == ("she said Ann", "Ann. 你好！")


# -- busy: the rule of each release -----------------------------------------------------------


def another_client(srv: FlaskDemo) -> threading.Thread:
    """A client of its own reading a long reply to its end (started, and let in, on return)."""
    srv.runtime.answer(" ".join(f"x{i}" for i in range(100)))
    started = threading.Event()

    def talk() -> None:
        host, port = srv.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        path = "/rkllm_chat" if isinstance(srv, FlaskDemo123) else "/v1/chat/completions"
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}
        conn.request("POST", path, body=json.dumps(body))
        resp = conn.getresponse()
        started.set()
        resp.read()
        conn.close()

    thread = threading.Thread(target=talk, daemon=True)
    thread.start()
    assert started.wait(10)
    return thread


def test_a_request_while_another_client_generates_follows_the_release_rule(
    server: FlaskDemo,
) -> None:
    b = backend(server, busy_retries=40, busy_backoff_max_s=0.05)
    other = another_client(server)
    server.runtime.answer("Mine.")
    reply = turn(b, HISTORY)
    other.join(10)
    assert reply.text == "Mine." and reply.wait_ms > 0
    assert server.runtime.max_active == 1
    if isinstance(server, FlaskDemo123):  # threaded: answered 503 at once, retried
        assert b.busy_rule == "503" and 503 in server.statuses
    else:  # single-threaded: held in the listen backlog, never answered 503
        assert b.busy_rule == "backlog" and 503 not in server.statuses


def test_the_service_reports_the_wait_with_the_busy_rule(
    server: FlaskDemo,
) -> None:
    b = backend(server)
    service = LlmService(LlmSettings(backend="rkllm-server", tools=False), b)
    out = run_service(service, LlmRequest(request_id="r", messages=HISTORY))
    [wait] = [p for t, p in out if isinstance(p, Metric) and p.name == "llm.server_wait_ms"]
    assert wait.labels["busy_rule"] == ("503" if isinstance(server, FlaskDemo123) else "backlog")
    assert wait.labels["backend"] == "rkllm-server" and wait.kind == "sample"


def run_service(service: LlmService, req: LlmRequest) -> list[tuple[str, Any]]:
    """Everything the service publishes for one request, until its reply."""
    out = [(t, p) for t, p, _ in service.handle("llm.request", req, "t")]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(isinstance(p, LlmReply) for _, p in out):
        out += [(t, p) for t, p, _ in service.pump(0.05)]
    out += [(t, p) for t, p, _ in service.pump(0.0)]
    return out


# -- barge-in: the server goes on with the cut-off reply --------------------------------------


def test_the_turn_after_a_barge_in_is_answered(server: FlaskDemo) -> None:
    # Two quick retries would give up long before the cut-off reply (200 tokens) ends.
    b = backend(server, busy_retries=2, assumed_tokens_per_s=50, server_max_new_tokens=400)
    server.runtime.answer(LONG, "Here I am.")
    barge_in(b)
    reply = turn(b, HISTORY)
    assert reply.finish_reason == "stop", reply.error
    assert reply.text == "Here I am."
    assert server.runtime.runs[0].tokens == 200  # the server never stopped the first run
    assert server.runtime.max_active == 1  # and never ran two at once
    assert 503 in server.statuses


def test_the_cut_off_run_is_bounded_by_the_max_tokens_sent() -> None:
    with FlaskDemo130(FakeRuntime(token_s=0.004)) as srv:
        b = backend(srv, max_tokens=40, assumed_tokens_per_s=50)
        srv.runtime.answer(LONG, "Done.")
        barge_in(b, max_tokens=4096)
        assert srv.requests[0]["max_tokens"] == 40
        assert turn(b, HISTORY).text == "Done."
        assert srv.runtime.runs[0].tokens == 40  # the 1.3.0 demo stopped the orphan there


def test_the_wait_budget_follows_the_bound_of_each_release() -> None:
    b12 = RkllmServerBackend(RkllmServerSettings(api="rkllm_chat"))
    b13 = RkllmServerBackend(RkllmServerSettings(api="openai", max_tokens=96))
    body12: dict[str, Any] = {"messages": []}
    body13: dict[str, Any] = {"max_tokens": 96}
    # 1.2.x ignores max_tokens: its own 4096; 1.3.0 stops at what was sent. 10 tokens/s + 5 s.
    assert b12.wait_budget_s(b12._bound(body12)) == pytest.approx(4096 / 10 + 5)
    assert b13.wait_budget_s(b13._bound(body13)) == pytest.approx(96 / 10 + 5)


def test_a_long_wait_is_announced_once_and_counted(server: FlaskDemo) -> None:
    b = backend(server, notice_after_s=0.1, assumed_tokens_per_s=50, server_max_new_tokens=400)
    service = LlmService(LlmSettings(backend="rkllm-server", tools=False), b)
    server.runtime.answer(LONG, "Now.")
    barge_in(b)
    out = run_service(service, LlmRequest(request_id="r2", messages=HISTORY))
    waits = [p for t, p in out if t == "llm.wait"]
    assert len(waits) == 1 and isinstance(waits[0], LlmWait)
    assert waits[0].request_id == "r2" and waits[0].reason == "orphan"
    assert waits[0].waited_ms >= 100 and waits[0].budget_ms > 0
    [count] = [p for _, p in out if isinstance(p, Metric) and p.name == "llm.wait_notices"]
    assert count.kind == "counter" and count.value == 1 and count.labels["reason"] == "orphan"
    [reply] = [p for _, p in out if isinstance(p, LlmReply)]
    assert reply.text == "Now." and reply.wait_ms >= 100
    topics = [t for t, _ in out]
    assert topics.index("llm.wait") < topics.index("llm.delta")  # said before the answer


def test_a_wait_past_its_budget_fails_with_a_sentence(server: FlaskDemo) -> None:
    b = backend(server, assumed_tokens_per_s=1e6, wait_margin_s=0.1, server_max_new_tokens=400)
    server.runtime.answer(LONG)
    barge_in(b)
    reply = turn(b, HISTORY)
    assert reply.finish_reason == "error"
    assert "stayed busy (HTTP 503)" in reply.error and "cut off earlier" in reply.error


def test_an_abort_during_prefill_never_lets_a_second_run_in() -> None:
    # 1.2.3 reads "busy" from the last token's state: during a prefill it lets a request in.
    with FlaskDemo123(FakeRuntime(token_s=0.004, prefill_s=0.3)) as srv:
        b = backend(srv, assumed_tokens_per_s=50)
        srv.runtime.answer(" ".join(f"w{i}" for i in range(50)), "Second.")
        abort = threading.Event()
        threading.Timer(0.05, abort.set).start()
        chunks = list(b.stream(Prompt(messages=(ChatMessage(role="user", content="a"),)), abort))
        assert chunks[-1].finish_reason == "abort" and not any(c.text for c in chunks)
        assert turn(b, HISTORY).text == "Second."
        assert srv.runtime.max_active == 1


# -- the stand-ins are the releases (the quirks the backend is built around) ------------------


def raw_post(srv: FlaskDemo, body: dict[str, Any]) -> tuple[int, bytes]:
    host, port = srv.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    path = "/rkllm_chat" if isinstance(srv, FlaskDemo123) else "/v1/chat/completions"
    conn.request("POST", path, body=json.dumps(body))
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def test_stand_in_123_fails_a_system_message_first_and_answers_the_oldest_turn() -> None:
    with FlaskDemo123() as srv:
        msgs = [{"role": m.role, "content": m.content} for m in HISTORY]
        status, _ = raw_post(srv, {"messages": msgs, "stream": True})
        assert status == 500  # S1: nothing left to answer, generate() never defined
        status, _ = raw_post(srv, {"messages": msgs[1:], "stream": True})
        assert status == 200 and srv.runtime.runs[-1].prompt == "my name is Ann"


def test_stand_in_130_drops_the_system_prompt_and_history_without_tools() -> None:
    with FlaskDemo130() as srv:
        msgs = [{"role": m.role, "content": m.content} for m in HISTORY]
        status, data = raw_post(srv, {"messages": msgs, "stream": True})
        assert status == 200 and data.rstrip().endswith(b"data: [DONE]")
        assert srv.runtime.runs[-1].prompt == "what is my name"
        assert srv.runtime.runs[-1].max_new_tokens == 4096 and not srv.runtime.function_tools
