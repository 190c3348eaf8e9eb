"""How an answer ends and what it holds: stop sequences, intents-only requests, repeat penalty."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from schemas.llm import ChatMessage, LlmDelta, LlmReply, LlmRequest
from text.intent_answer import answer_schema
from text.intents import TOOL_NAME
from workers.llm.backends.base import Backend, Chunk, Prompt
from workers.llm.backends.llamacpp import LlamaCppBackend
from workers.llm.engine import Generation, build_prompt
from workers.llm.settings import LlamaCppSettings, LlmSettings
from workers.llm.stops import StopScanner


class Scripted(Backend):
    """Yields the given pieces; records the prompt and whether the stream was closed early."""

    name = "scripted"

    def __init__(self, pieces: list[str], *, constrained: bool = False) -> None:
        self.pieces = pieces
        self.constrained = constrained
        self.prompts: list[Prompt] = []
        self.sent = 0
        self.closed_early = False

    def stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
        self.prompts.append(prompt)
        try:
            for piece in self.pieces:
                self.sent += 1
                yield Chunk(text=piece, tokens=1)
            yield Chunk(finish_reason="stop")
        except GeneratorExit:
            self.closed_early = True
            raise


def _run(backend: Backend, req: LlmRequest, settings: LlmSettings | None = None) -> list[Any]:
    s = settings or LlmSettings()
    prompt = build_prompt(req, s, backend)
    return list(Generation(backend, req, prompt, tools=bool(prompt.tools)).run())


def _ask(text: str = "hi", **kw: Any) -> LlmRequest:
    return LlmRequest(
        request_id="r1", messages=(ChatMessage(role="user", content=text),), tools=False, **kw
    )


def test_a_stop_sequence_cut_across_pieces_ends_the_answer_and_the_generation():
    backend = Scripted(["Hello there.", "\n", "\nUser: and", " now a second turn", " more"])
    items = _run(backend, _ask())
    reply = items[-1]
    assert isinstance(reply, LlmReply) and reply.finish_reason == "stop"
    assert reply.text == "Hello there."
    assert "".join(d.text for d in items if isinstance(d, LlmDelta)) == "Hello there."
    assert backend.closed_early and backend.sent < len(backend.pieces)


def test_leading_white_space_is_never_a_stop_and_held_text_that_is_no_stop_comes_out():
    scan = StopScanner(["\n\n", "\nUser:"])
    assert scan.feed("\n\n") == "\n\n"  # before the answer starts (after </think>)
    assert scan.feed("Fine") == "Fine"
    assert scan.feed(".\nUs") == "."  # could be the start of "\nUser:"
    assert scan.feed("ually yes") == "\nUsually yes"
    assert scan.feed(" ok\n") == " ok"
    assert scan.flush() == "\n" and not scan.stopped
    assert scan.feed("x\n\ny") == "x" and scan.stopped
    assert scan.feed("more") == "" and scan.flush() == ""  # nothing after a stop


def test_the_stop_sequences_are_a_setting():
    backend = Scripted(["One. ", "STOPHERE two."])
    reply = _run(backend, _ask(), LlmSettings(stop=("STOPHERE",)))[-1]
    assert reply.text == "One."
    assert _run(Scripted(["a\n\nb"]), _ask(), LlmSettings(stop=()))[-1].text == "a\n\nb"


def _intents_request(schema: dict[str, Any] | None = None) -> LlmRequest:
    text = json.dumps(schema or answer_schema())
    return LlmRequest(
        request_id="r1",
        messages=(
            ChatMessage(role="system", content="Commands as JSON."),
            ChatMessage(role="user", content="forward two meters"),
        ),
        tools=False,
        temperature=0.0,
        intent_schema=text,
    )


def test_an_intents_request_holds_a_constrained_backend_to_the_schema():
    backend = Scripted(['[{"kind":"drive",', '"distance_m":2.0}]'], constrained=True)
    req = _intents_request()
    reply = _run(backend, req)[-1]
    (prompt,) = backend.prompts
    assert prompt.json_schema == req.intent_schema and prompt.tools == () and prompt.stop == ()
    assert [m.content for m in prompt.messages] == ["Commands as JSON.", "forward two meters"]
    assert [(i.kind, i.distance_m) for i in reply.intents] == [("drive", 2.0)]
    assert not reply.intent_error


def test_an_intents_request_offers_the_tool_where_the_output_cannot_be_constrained():
    call = '<tool_call>{"name": "rtos_command", "arguments": {"kind": "stop"}}</tool_call>'
    backend = Scripted([call])
    reply = _run(backend, _intents_request())[-1]
    (prompt,) = backend.prompts
    assert prompt.json_schema == "" and prompt.tools[0]["function"]["name"] == TOOL_NAME
    assert [i.kind for i in reply.intents] == ["stop"]


def test_null_is_no_intent_and_garbage_is_an_intent_error_never_a_guess():
    assert _run(Scripted(["null"], constrained=True), _intents_request())[-1].intents == ()
    assert not _run(Scripted(["null"], constrained=True), _intents_request())[-1].intent_error
    bad = _run(Scripted(['[{"kind":"drive","distnce_m":2}]'], constrained=True), _intents_request())
    assert bad[-1].intents == () and "distnce_m" in bad[-1].intent_error
    words = _run(Scripted(["Sure, I will drive."]), _intents_request())[-1]
    assert words.intents == () and words.intent_error


def test_an_intents_request_ignores_the_worker_s_history_and_persona():
    backend = Scripted(["null"], constrained=True)
    earlier = (ChatMessage(role="user", content="old"), ChatMessage(role="assistant", content="x"))
    build = build_prompt(_intents_request(), LlmSettings(system_prompt="PERSONA"), backend, earlier)
    assert [m.content for m in build.messages] == ["Commands as JSON.", "forward two meters"]


class _FakeLlama:
    def __init__(self) -> None:
        self.kwargs: list[dict[str, Any]] = []

    def create_chat_completion(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.kwargs.append(kwargs)
        yield {"choices": [{"delta": {"content": "ok"}, "finish_reason": "stop"}]}


def _llama(penalty: float) -> tuple[LlamaCppBackend, _FakeLlama]:
    backend = LlamaCppBackend.__new__(LlamaCppBackend)  # no model: the sampling arguments only
    backend.settings = LlamaCppSettings(repeat_penalty=penalty)
    backend._llm = fake = _FakeLlama()
    backend._lock = threading.Lock()
    return backend, fake


def test_llama_cpp_answers_with_the_repeat_penalty_and_intents_with_a_grammar_instead():
    backend, fake = _llama(1.3)
    list(
        backend.stream(
            Prompt(messages=(ChatMessage(role="user", content="hi"),)), threading.Event()
        )
    )
    assert fake.kwargs[-1]["repeat_penalty"] == 1.3 and "grammar" not in fake.kwargs[-1]
    schema = json.dumps(answer_schema({"stop": {}}))
    prompt = Prompt(messages=(ChatMessage(role="user", content="stop"),), json_schema=schema)
    list(backend.stream(prompt, threading.Event()))
    assert fake.kwargs[-1]["repeat_penalty"] == 1.0 and fake.kwargs[-1]["grammar"] is not None
