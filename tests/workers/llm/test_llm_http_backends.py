"""The server backends against a real HTTP server on 127.0.0.1 speaking each wire form, with
faults on demand (the rkllm servers' own behaviour is in test_llm_rkllm_server.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from schemas.llm import ChatMessage, LlmDelta, LlmReply, LlmRequest
from schemas.rtos import CarIntent
from tests.workers.llm.fake_servers import FakeLlmServer
from workers.llm.backends.base import Backend, Prompt
from workers.llm.backends.openai import OpenAIBackend
from workers.llm.backends.rkllm_server import RkllmServerBackend
from workers.llm.engine import Generation, build_prompt
from workers.llm.settings import LlmSettings, OpenAISettings, RkllmServerSettings

THINK = list("<think>hmm</think>Hi there. 你好！")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLlmServer]:
    with FakeLlmServer() as srv:
        yield srv


def rkllm_chat(srv: FakeLlmServer, **kw: object) -> RkllmServerBackend:
    s = RkllmServerSettings(url=srv.url, api="rkllm_chat", busy_backoff_s=0.01, **kw)  # type: ignore[arg-type]
    return RkllmServerBackend(s)


def rkllm_openai(srv: FakeLlmServer, **kw: object) -> RkllmServerBackend:
    s = RkllmServerSettings(url=srv.url, api="openai", busy_backoff_s=0.01, **kw)  # type: ignore[arg-type]
    return RkllmServerBackend(s)


def openai(srv: FakeLlmServer, **kw: object) -> OpenAIBackend:
    s = OpenAISettings(url=srv.url + "/v1", busy_backoff_s=0.01, **kw)  # type: ignore[arg-type]
    return OpenAIBackend(s)


FORMS = {"rkllm_chat": rkllm_chat, "rkllm_openai": rkllm_openai, "openai": openai}


def ask(
    backend: Backend, text: str = "hi", *, tools: bool = False
) -> tuple[list[LlmDelta], LlmReply]:
    req = LlmRequest(
        request_id="q", messages=(ChatMessage(role="user", content=text),), tools=tools
    )
    llm = LlmSettings(tools=tools)
    gen = Generation(backend, req, build_prompt(req, llm, backend), tools=tools)
    items = list(gen.run())
    assert isinstance(items[-1], LlmReply)
    return [i for i in items if isinstance(i, LlmDelta)], items[-1]


@pytest.mark.parametrize("form", sorted(FORMS))
def test_streamed_reply_with_thinking_apart(server: FakeLlmServer, form: str) -> None:
    server.set(pieces=THINK)
    deltas, reply = ask(FORMS[form](server), "say hi")
    assert reply.finish_reason == "stop", reply.error
    assert reply.thinking == "hmm"
    assert reply.text == "Hi there. 你好！"
    assert "".join(d.text for d in deltas if not d.thinking) == "Hi there. 你好！"
    assert len(deltas) > 5  # really streamed, not one block


def test_rkllm_chat_request_is_the_demo_form(server: FakeLlmServer) -> None:
    server.set()
    ask(rkllm_chat(server), "what is 2+2")
    req = server.requests[-1]
    assert req["path"] == "/rkllm_chat"
    assert req["headers"]["Authorization"] == "not_required"
    assert req["body"]["stream"] is True and req["body"]["enable_thinking"] is False
    # One user message: the only one the 1.2.x demo reads (the persona is written into it).
    [message] = req["body"]["messages"]
    assert message["role"] == "user" and message["content"].endswith("\n\nwhat is 2+2")


def test_openai_request_carries_sampling_and_limits(server: FakeLlmServer) -> None:
    server.set()
    ask(openai(server, api_key="k", model="smol"), "x")
    req = server.requests[-1]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer k"
    body = req["body"]
    assert body["model"] == "smol" and body["stream"] is True
    assert body["max_tokens"] == 256 and body["temperature"] == 0.7
    assert body["messages"][0]["role"] == "system"


@pytest.mark.parametrize("form", sorted(FORMS))
def test_busy_503_is_retried_then_served(server: FakeLlmServer, form: str) -> None:
    server.set(busy_times=2)
    before = len(server.requests)
    _, reply = ask(FORMS[form](server))
    assert reply.finish_reason == "stop", reply.error
    assert reply.text == "Hello."
    assert len(server.requests) - before == 3


@pytest.mark.parametrize("form", sorted(FORMS))
def test_busy_through_every_retry_is_a_clear_failure(server: FakeLlmServer, form: str) -> None:
    server.set(busy_times=100)
    before = len(server.requests)
    _, reply = ask(FORMS[form](server, busy_retries=2))
    assert reply.finish_reason == "error"
    assert "stayed busy (HTTP 503) through 2 retries" in reply.error
    assert "RKLLM_Server is busy" in reply.error
    assert len(server.requests) - before == 3


@pytest.mark.parametrize("form", sorted(FORMS))
def test_connection_dropped_mid_stream_is_an_error_keeping_the_text(
    server: FakeLlmServer, form: str
) -> None:
    server.set(pieces=list("Hello world, how"), drop_after=5)
    _, reply = ask(FORMS[form](server))
    assert reply.finish_reason == "error"
    assert "broke in the middle" in reply.error or "ended before" in reply.error
    assert reply.text == "Hello"


@pytest.mark.parametrize("form", sorted(FORMS))
def test_malformed_chunks_are_skipped(server: FakeLlmServer, form: str) -> None:
    server.set(pieces=list("abcdef"), malformed_every=2)
    _, reply = ask(FORMS[form](server))
    assert reply.finish_reason == "stop", reply.error
    assert reply.text == "abcdef"


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_stream_of_nothing_but_garbage_is_an_error(server: FakeLlmServer, form: str) -> None:
    server.set(pieces=list("abc"), all_malformed=True)
    _, reply = ask(FORMS[form](server))
    assert reply.finish_reason == "error"
    assert "none was" in reply.error


@pytest.mark.parametrize("form", sorted(FORMS))
def test_abort_closes_the_stream_promptly(server: FakeLlmServer, form: str) -> None:
    server.set(pieces=[f"w{i} " for i in range(400)], delay_s=0.01)
    backend = FORMS[form](server)
    abort = threading.Event()
    prompt = Prompt(messages=(ChatMessage(role="user", content="go"),))
    chunks = []
    for chunk in backend.stream(prompt, abort):
        chunks.append(chunk)
        if len(chunks) == 3:
            abort.set()
    assert chunks[-1].finish_reason == "abort"
    assert len(chunks) <= 5


def test_server_error_status_reports_its_message(server: FakeLlmServer) -> None:
    server.set(error_status=400)
    _, reply = ask(openai(server))
    assert reply.finish_reason == "error"
    assert "HTTP 400: messages is required" in reply.error


def test_unreachable_server_says_to_start_it() -> None:
    backend = OpenAIBackend(OpenAISettings(url="http://127.0.0.1:9/v1"))
    _, reply = ask(backend)
    assert reply.finish_reason == "error"
    assert "Could not reach the LLM server" in reply.error and "Start it" in reply.error


def test_openai_reasoning_content_and_timings(server: FakeLlmServer) -> None:
    server.set(pieces=["Four."], reasoning=["2+2", " is 4"], timings=True)
    _deltas, reply = ask(openai(server))
    assert reply.thinking == "2+2 is 4" and reply.text == "Four."
    assert reply.prefill_ms == 30.0 and reply.prompt_tokens == 11
    assert reply.completion_tokens == 5 and reply.tokens_per_s == pytest.approx(100.0)


def test_openai_native_tool_call_becomes_a_validated_intent(server: FakeLlmServer) -> None:
    call = {"name": "rtos_command", "arguments": {"kind": "turn", "angle_deg": 90}}
    server.set(pieces=["Turning."], tool_call=call)
    _, reply = ask(openai(server, native_tools=True), "turn left", tools=True)
    assert reply.intents == (CarIntent(kind="turn", angle_deg=90.0),)
    assert reply.text == "Turning."
    assert server.requests[-1]["body"]["tools"][0]["function"]["name"] == "rtos_command"
