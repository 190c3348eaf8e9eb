"""The embedded default (llama.cpp in process, SmolLM2 from its wheel) answers for real."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from schemas.llm import ChatMessage, LlmDelta, LlmReply, LlmRequest
from text.segment import split_sentences
from workers.llm.backends.base import Prompt
from workers.llm.backends.llamacache import state_bytes
from workers.llm.backends.llamacpp import LlamaCppBackend, default_model_path
from workers.llm.engine import Generation, build_prompt
from workers.llm.settings import LlamaCppSettings, LlmSettings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    b = LlamaCppBackend(LlamaCppSettings(n_threads=1))  # robust on a busy 2-core machine
    yield b
    b.close()


def test_the_model_ships_in_a_wheel() -> None:
    path = default_model_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


def test_answers_a_real_question_end_to_end(backend: LlamaCppBackend) -> None:
    req = LlmRequest(
        request_id="q1",
        messages=(ChatMessage(role="user", content="What is the capital of France?"),),
        max_tokens=48,
        temperature=0.0,
        tools=False,
    )
    gen = Generation(
        backend, req, build_prompt(req, LlmSettings(tools=False), backend), tools=False
    )
    items = list(gen.run())
    reply = items[-1]
    assert isinstance(reply, LlmReply)
    assert reply.finish_reason in ("stop", "length"), reply.error
    assert "paris" in reply.text.lower()
    deltas = [i for i in items if isinstance(i, LlmDelta)]
    assert len(deltas) > 3 and "".join(d.text for d in deltas).strip() == reply.text
    assert reply.ttft_ms > 0 and reply.tokens_per_s > 0
    # llama.cpp's own timings: prompt tokens processed, tokens generated (>= text pieces).
    assert reply.prompt_tokens > 5 and reply.prefill_ms > 0
    assert reply.completion_tokens >= len(deltas) - 1
    assert split_sentences(reply.text)


def test_abort_stops_between_tokens(backend: LlamaCppBackend) -> None:
    abort = threading.Event()
    prompt = Prompt(
        messages=(ChatMessage(role="user", content="Tell me a long story about a robot."),),
        max_tokens=200,
        temperature=0.0,
    )
    chunks = []
    for chunk in backend.stream(prompt, abort):
        chunks.append(chunk)
        if len(chunks) == 2:
            abort.set()
    assert chunks[-1].finish_reason == "abort" and len(chunks) <= 4


def test_counts_tokens_with_the_model_tokenizer(backend: LlamaCppBackend) -> None:
    n = backend.count_tokens("Hello there, how are you?")
    assert n is not None and 3 <= n <= 12


def _prefilled(backend: LlamaCppBackend, *messages: tuple[str, str]) -> tuple[int, str]:
    """(tokens prefilled by this run, the reply) for a conversation of (role, text)."""
    prompt = Prompt(
        messages=tuple(ChatMessage(role=r, content=c) for r, c in messages),  # type: ignore[arg-type]
        max_tokens=8,
        temperature=0.0,
    )
    chunks = list(backend.stream(prompt, threading.Event()))
    perf = chunks[-1].perf
    assert perf is not None
    return perf.prefill_tokens, "".join(c.text for c in chunks)


@pytest.mark.parametrize("cache_mb", [32, 0])
def test_a_turn_prefills_only_its_new_words_even_after_a_prompt_with_another_system(
    cache_mb: int,
) -> None:
    b = LlamaCppBackend(LlamaCppSettings(n_threads=1, prompt_cache_mb=cache_mb))
    try:
        system = ("system", "You are a small voice assistant on a robot car named Robo. " * 4)
        first, a1 = _prefilled(b, system, ("user", "What is the capital of France?"))
        second, a2 = _prefilled(
            b, system, ("user", "What is the capital of France?"), ("assistant", a1),
            ("user", "And of Italy?"),
        )  # fmt: skip
        assert second < first / 2  # the system prompt and the first exchange were kept
        _prefilled(b, ("system", "Answer with one JSON object."), ("user", "drive forward"))
        third, _ = _prefilled(
            b, system, ("user", "What is the capital of France?"), ("assistant", a1),
            ("user", "And of Italy?"), ("assistant", a2), ("user", "And of Spain?"),
        )  # fmt: skip
        if cache_mb:
            assert third < first / 2  # restored from the prompt cache
        else:
            assert third > first  # the other system prompt cost the whole prefix again
    finally:
        b.close()


def test_the_prompt_cache_keeps_no_copy_of_the_logits_and_counts_every_byte_it_holds() -> None:
    b = LlamaCppBackend(LlamaCppSettings(n_threads=1, prompt_cache_mb=16))
    try:
        for k in range(3):  # three prompts with different system prompts: three states
            system = ("system", f"You are voice assistant number {k} on a robot car. " * 6)
            _prefilled(b, system, ("user", "What is the capital of France?"))
        cache = b._llm.cache
        states = list(cache.cache_state.values())
        assert states and all(s.n_tokens > 40 for s in states)
        # llama-cpp-python's own save_state copied n_tokens rows of 49152 floats (about 19 MiB
        # for these prompts of about 100 tokens) and its cache counted only the KV state's bytes
        assert all(s.scores.shape[0] == 1 and not s.scores.any() for s in states)
        assert cache.cache_size == sum(state_bytes(s) for s in states) <= 16 << 20
        # a restore (the first system prompt again, after the others) leaves scores unwritten
        b._llm.scores[:] = 7.0
        system = ("system", "You are voice assistant number 0 on a robot car. " * 6)
        prefill, _ = _prefilled(b, system, ("user", "What is the capital of France? Say it."))
        assert prefill < 20  # restored from the cache: only the new words were prefilled
        assert (b._llm.scores == 7.0).all()
    finally:
        b.close()


# --- the dialog's constrained intent path and the answer settings, on the packaged model -------


def _generate(backend: LlamaCppBackend, req: LlmRequest, settings: LlmSettings) -> LlmReply:
    prompt = build_prompt(req, settings, backend)
    reply = list(Generation(backend, req, prompt, tools=bool(prompt.tools)).run())[-1]
    assert isinstance(reply, LlmReply)
    return reply


def _allowed(schema: dict, intent: dict) -> bool:
    """Whether one intent is an item the schema allows (kind, fields and their enums)."""
    array = next(a for a in schema["anyOf"] if a.get("type") == "array")
    for item in array["items"]["anyOf"]:
        props = item["properties"]
        if props["kind"]["const"] != intent["kind"] or set(intent) - set(props):
            continue
        if all(v in props[k].get("enum", [v]) for k, v in intent.items() if k != "kind"):
            return True
    return False


def test_the_constrained_intent_path_always_answers_within_its_schema(
    backend: LlamaCppBackend,
) -> None:
    import json

    from workers.dialog.settings import DialogSettings
    from workers.dialog.understanding import conclude, intent_request, interpret

    dialog = DialogSettings()
    for text in (
        "forward drive two meters and back one meter",
        "left ninety degrees turn",
        "back a little back",
        "往前 往后 两米",
        "forward one meter and left",
    ):
        u = interpret(text, dialog)
        assert u.kind == "ask", text
        req = intent_request(u, dialog, "i1")
        reply = _generate(backend, req, LlmSettings())
        assert reply.finish_reason == "stop" and not reply.intent_error, (text, reply.text)
        schema = json.loads(req.intent_schema)
        for intent in reply.intents:
            assert _allowed(schema, intent.model_dump(exclude_defaults=True)), (text, reply.text)
        v = conclude(u, reply, dialog)
        assert v.kind in ("commands", "refuse") and (v.kind == "commands") == bool(v.intents)


def test_with_the_host_settings_the_stand_in_neither_loops_nor_invents_a_name(
    backend: LlamaCppBackend,
) -> None:
    from text.segment import sentence_key
    from workers.dialog.settings import DEFAULT_SYSTEM_PROMPT

    def ask(q: str) -> str:
        req = LlmRequest(
            request_id="q",
            messages=(
                ChatMessage(role="system", content=DEFAULT_SYSTEM_PROMPT),
                ChatMessage(role="user", content=q),
            ),
            max_tokens=64,
            temperature=0.3,
            tools=False,
        )
        return _generate(backend, req, LlmSettings(tools=False)).text

    for q in ("Tell me a joke about robots.", "Why is the sky blue?", "Who are you?"):
        keys = [sentence_key(s) for s in split_sentences(ask(q))]
        assert len(keys) == len(set(keys)), (q, keys)
    assert "robo" in ask("What is your name?").lower()


def test_the_worker_warms_up_so_the_first_turn_prefills_only_its_own_words() -> None:
    # The model's first run is its slow one (2.5 s to the first token here); the worker runs it
    # before it is ready, and the first turn then starts from the warm-up's system prompt.
    from workers.llm.service import LlmService

    settings = LlmSettings(llamacpp=LlamaCppSettings(n_threads=1))
    service = LlmService(settings, LlamaCppBackend(settings.llamacpp))
    try:
        assert service.warm_up() is not None
        system = ChatMessage(role="system", content=settings.system_prompt)
        req = LlmRequest(
            request_id="t1",
            messages=(system, ChatMessage(role="user", content="What is the capital of France?")),
            max_tokens=4,
            temperature=0.0,
        )
        gen = Generation(service.backend, req, build_prompt(req, settings, service.backend))
        list(gen.run())
        question = service.backend.count_tokens("What is the capital of France?")
        assert question is not None
        assert 0 < gen.metrics.prompt_tokens <= question + 12  # its own words and the turn marks
    finally:
        service.close()
