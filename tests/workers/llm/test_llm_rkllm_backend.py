"""The rkllm ctypes backend driving the compiled stand-in library end to end, for both ABIs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.llm import ChatMessage, LlmDelta, LlmReply, LlmRequest
from tests.workers.llm.conftest import HERE, FakeRkllm, compile_c
from text.intents import tool_prompt
from workers.llm.backends.base import Prompt
from workers.llm.backends.rkllm import RkllmBackend
from workers.llm.engine import Generation, build_prompt
from workers.llm.errors import AbiMismatch, ModelNotFound
from workers.llm.settings import DEFAULT_SYSTEM_PROMPT, LlmSettings, RkllmSettings

PLANTED = ["<th", "ink>", "I should", " greet.", "</thi", "nk>", "~WAIT", "你", "好", "。", " Hi!"]


def settings(fake: FakeRkllm, model: Path, **kw: object) -> RkllmSettings:
    return RkllmSettings(library_path=fake.path, model_path=model, abi=fake.abi, **kw)  # type: ignore[arg-type]


def request(text: str = "hello", **kw: object) -> LlmRequest:
    return LlmRequest(
        request_id="r1",
        messages=(ChatMessage(role="user", content=text),),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def backend(fake_rkllm: FakeRkllm, rkllm_model: Path) -> Iterator[RkllmBackend]:
    fake_rkllm.reset()
    b = RkllmBackend(settings(fake_rkllm, rkllm_model))
    yield b
    b.close()


def run(
    backend: RkllmBackend, req: LlmRequest, *, tools: bool = False, **kw: object
) -> tuple[list[LlmDelta], LlmReply]:
    llm = LlmSettings(backend="rkllm", tools=tools)
    gen = Generation(backend, req, build_prompt(req, llm, backend), tools=tools, **kw)  # type: ignore[arg-type]
    items = list(gen.run())
    assert isinstance(items[-1], LlmReply)
    return [i for i in items if isinstance(i, LlmDelta)], items[-1]


def test_planted_stream_arrives_with_thinking_apart(
    fake_rkllm: FakeRkllm, backend: RkllmBackend
) -> None:
    fake_rkllm.plant(PLANTED)
    deltas, reply = run(backend, request())
    assert reply.finish_reason == "stop", reply.error
    assert reply.thinking == "I should greet."
    assert reply.text == "你好。 Hi!"
    assert "".join(d.text for d in deltas if d.thinking) == "I should greet."
    assert "".join(d.text for d in deltas if not d.thinking) == "你好。 Hi!"
    assert [d.index for d in deltas] == list(range(len(deltas)))
    # The runtime's perf struct fills the metrics; the WAITING callback carried no text.
    assert reply.prefill_ms == pytest.approx(12.5)
    assert reply.prompt_tokens == 7
    assert reply.completion_tokens == len(PLANTED) - 1
    assert reply.memory_mb == pytest.approx(321.0)
    assert reply.tokens_per_s == pytest.approx((len(PLANTED) - 1) / 0.040, rel=1e-3)
    assert reply.backend == "rkllm"


def test_params_reach_the_library_as_configured(
    fake_rkllm: FakeRkllm, backend: RkllmBackend
) -> None:
    fake_rkllm.plant(["ok"])
    run(backend, request("what time is it", temperature=0.3, max_tokens=99))
    rec = fake_rkllm.record()
    assert rec["init_abi"] == fake_rkllm.abi.replace(".", "")
    assert rec["enabled_cpus_mask"] == "0xf0" and rec["enabled_cpus_num"] == "4"
    assert rec["max_context_len"] == "4096" and rec["top_k"] == "1"
    assert rec["embed_flash"] == "1" and rec["skip_special_token"] == "1"
    assert rec["template_prefix"] == "<｜User｜>" and rec["template_postfix"] == "<｜Assistant｜>"
    assert rec["role"] == "user" and rec["prompt"].endswith("\n\nwhat time is it")
    assert rec["keep_history"] == "0" and rec["input_type"] == "0"
    if fake_rkllm.abi == "1.3":
        assert rec["run_max_new_tokens"] == "99"
        assert rec["run_temperature"] == "0.300"
    else:
        assert "run_max_new_tokens" not in rec  # no such field in the 1.2 struct


def test_abort_stops_generation_promptly(fake_rkllm: FakeRkllm, backend: RkllmBackend) -> None:
    fake_rkllm.plant([f"t{i} " for i in range(2000)], delay_us=2000)
    abort = threading.Event()
    prompt = Prompt(messages=(ChatMessage(role="user", content="go"),), max_tokens=5000)
    chunks = []
    for chunk in backend.stream(prompt, abort):
        chunks.append(chunk)
        if len(chunks) == 3:
            abort.set()
    assert chunks[-1].finish_reason == "abort"
    assert fake_rkllm.abort_calls >= 1
    rec = fake_rkllm.record()
    assert rec["aborted"] == "1"
    assert int(rec["sent"]) < 100  # far fewer than planted: the library really stopped
    # The backend is usable again right after.
    fake_rkllm.plant(["again"])
    assert "".join(c.text for c in backend.stream(prompt, threading.Event())) == "again"


def test_abort_with_keep_history_clears_the_kv_cache(
    fake_rkllm: FakeRkllm, rkllm_model: Path
) -> None:
    fake_rkllm.reset()
    b = RkllmBackend(settings(fake_rkllm, rkllm_model, keep_history=True))
    fake_rkllm.plant([f"t{i} " for i in range(500)], delay_us=2000)
    abort = threading.Event()
    prompt = Prompt(messages=(ChatMessage(role="user", content="go"),), max_tokens=5000)
    for n, _chunk in enumerate(b.stream(prompt, abort)):
        if n == 1:
            abort.set()
    b.close()
    rec = fake_rkllm.record()
    assert rec["keep_history"] == "1" and rec["clear_kv_cache"] == "1"
    # rkllm.h: NULL start and end are "clear all"; a range is only valid after a pause.
    assert rec["clear_range"] == "null"


def test_max_tokens_ends_with_length(fake_rkllm: FakeRkllm, backend: RkllmBackend) -> None:
    fake_rkllm.plant([f"w{i} " for i in range(50)])
    _deltas, reply = run(backend, request(max_tokens=5))
    assert reply.finish_reason == "length"
    assert reply.text == "w0 w1 w2 w3 w4"
    assert int(fake_rkllm.record()["sent"]) == 5


def test_the_length_cap_never_calls_abort_from_inside_the_callback(
    fake_rkllm: FakeRkllm, backend: RkllmBackend
) -> None:
    # No upstream code calls rkllm_abort from the result callback; the documented stops are
    # the callback's return value (1 = pause) and, on 1.3, the run's own max_new_tokens.
    fake_rkllm.plant([f"w{i} " for i in range(50)])
    _deltas, reply = run(backend, request(max_tokens=5))
    assert reply.finish_reason == "length"
    assert fake_rkllm.abort_in_callback == 0
    assert fake_rkllm.abort_calls == 0
    rec = fake_rkllm.record()
    if fake_rkllm.abi == "1.3":
        assert rec["run_max_new_tokens"] == "5" and "paused" not in rec
    else:
        assert rec["paused"] == "1"  # the callback returned 1 at the fifth token
    # The next run starts afresh.
    fake_rkllm.plant(["again"])
    assert run(backend, request())[1].text == "again"


def test_deepseek_template_is_upstreams_with_an_empty_system_part(
    fake_rkllm: FakeRkllm, backend: RkllmBackend
) -> None:
    fake_rkllm.plant(["ok"])
    run(backend, request("what time is it"), tools=True)
    rec = fake_rkllm.record()
    # rknn-llm's demos: rkllm_set_chat_template(h, "", "<｜User｜>", "<｜Assistant｜>")
    assert rec["template_system"] == ""
    assert "begin▁of▁sentence" not in fake_rkllm.lib.fake_record().decode()
    # The persona reaches the model exactly once: at the head of the prompt, not in the tools.
    assert rec["prompt"].startswith(DEFAULT_SYSTEM_PROMPT)
    assert rec["prompt"].endswith("\n\nwhat time is it")
    assert rec["prompt"].count(DEFAULT_SYSTEM_PROMPT) == 1
    assert rec["tools_system"] == "" and "rtos_command" in rec["tools"]
    # The tool reaches the model once too: through rkllm_set_function_tools, not the prompt.
    assert tool_prompt() not in rec["prompt"] and "rtos_command" not in rec["prompt"]


def test_a_template_with_a_system_slot_carries_the_persona_there_only(
    fake_rkllm: FakeRkllm, rkllm_model: Path
) -> None:
    fake_rkllm.reset()
    b = RkllmBackend(settings(fake_rkllm, rkllm_model, chat_template="qwen"))
    fake_rkllm.plant(["ok"])
    run(b, request("hi"), tools=True)
    b.close()
    rec = fake_rkllm.record()
    assert rec["template_system"].startswith(f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}")
    assert rec["prompt"] == "hi"
    assert rec["tools_system"].startswith(DEFAULT_SYSTEM_PROMPT)
    assert "rtos_command" not in rec["template_system"] and "rtos_command" in rec["tools"]


def test_keep_history_sends_the_persona_once_then_only_the_new_message(
    fake_rkllm: FakeRkllm, rkllm_model: Path
) -> None:
    fake_rkllm.reset()
    b = RkllmBackend(settings(fake_rkllm, rkllm_model, keep_history=True))
    fake_rkllm.plant(["ok"])
    run(b, request("first"))
    assert fake_rkllm.record()["prompt"] == f"{DEFAULT_SYSTEM_PROMPT}\n\nfirst"
    run(b, request("second"))
    assert fake_rkllm.record()["prompt"] == "second"
    b.clear_history()  # a cleared context needs the persona again
    run(b, request("third"))
    assert fake_rkllm.record()["prompt"] == f"{DEFAULT_SYSTEM_PROMPT}\n\nthird"
    b.close()


def test_earlier_turns_go_into_the_prompt_without_keep_history(
    fake_rkllm: FakeRkllm, backend: RkllmBackend
) -> None:
    fake_rkllm.plant(["ok"])
    req = LlmRequest(
        request_id="r2",
        messages=(
            ChatMessage(role="user", content="my name is Ann"),
            ChatMessage(role="assistant", content="hi Ann"),
            ChatMessage(role="user", content="what is my name"),
        ),
    )
    run(backend, req)
    assert fake_rkllm.record()["prompt"] == (
        f"{DEFAULT_SYSTEM_PROMPT}\n\nUser: my name is Ann\nAssistant: hi Ann\nUser: what is my name"
    )


def test_a_runtime_error_fails_the_request_keeping_the_text(
    fake_rkllm: FakeRkllm, backend: RkllmBackend
) -> None:
    fake_rkllm.plant(["Hel", "lo", "~ERROR", "never"])
    _, reply = run(backend, request())
    assert reply.finish_reason == "error"
    assert "rkllm runtime reported an error" in reply.error and "RKLLM_LOG_LEVEL=1" in reply.error
    assert reply.text == "Hello"


def test_close_destroys_the_handle(fake_rkllm: FakeRkllm, rkllm_model: Path) -> None:
    fake_rkllm.reset()
    RkllmBackend(settings(fake_rkllm, rkllm_model)).close()
    assert fake_rkllm.record()["destroyed"] == "1"


def test_missing_model_file_names_the_file(fake_rkllm: FakeRkllm, tmp_path: Path) -> None:
    missing = tmp_path / "DeepSeek.rkllm"
    with pytest.raises(ModelNotFound, match=r"DeepSeek\.rkllm does not exist.*rkllm-toolkit"):
        RkllmBackend(settings(fake_rkllm, missing))


def test_missing_library_says_where_to_get_it(rkllm_model: Path, tmp_path: Path) -> None:
    s = RkllmSettings(library_path=tmp_path / "librkllmrt.so", model_path=rkllm_model)
    with pytest.raises(ModelNotFound, match="librkllmrt.so does not exist.*airockchip/rknn-llm"):
        RkllmBackend(s)


def test_a_library_of_the_other_abi_is_refused(fake_rkllm: FakeRkllm, rkllm_model: Path) -> None:
    other = "1.2" if fake_rkllm.abi == "1.3" else "1.3"
    s = RkllmSettings(library_path=fake_rkllm.path, model_path=rkllm_model, abi=other)  # type: ignore[arg-type]
    with pytest.raises(AbiMismatch, match=f"Set llm.rkllm.abi to {fake_rkllm.abi}"):
        RkllmBackend(s)


# -- the version gate: exact versions only ----------------------------------------------------

_BUILT: dict[tuple[str, str], FakeRkllm] = {}


def built(tmp_path_factory: pytest.TempPathFactory, abi: str, version: str) -> FakeRkllm:
    """A stand-in library of ``abi`` that reports ``version`` ("" = no version string)."""
    key = (abi, version)
    if key not in _BUILT:
        out = tmp_path_factory.mktemp(f"rkllm-v{version or 'none'}") / "librkllmrt.so"
        _BUILT[key] = FakeRkllm(compile_c(HERE / "fake_rkllm.c", out, abi, version=version), abi)
    return _BUILT[key]


@pytest.mark.parametrize(
    "abi,version", [("1.2", "1.2.1"), ("1.2", "1.2.2"), ("1.2", "1.2.3"), ("1.3", "1.3.0")]
)
def test_each_supported_version_loads(
    tmp_path_factory: pytest.TempPathFactory, rkllm_model: Path, abi: str, version: str
) -> None:
    fake = built(tmp_path_factory, abi, version)
    b = RkllmBackend(settings(fake, rkllm_model))
    fake.plant(["ok"])
    assert run(b, request())[1].text == "ok"
    b.close()


@pytest.mark.parametrize(
    "abi,version",
    [("1.2", "1.2.0"), ("1.2", "1.2.1b1"), ("1.3", "1.4.0"), ("1.2", "1.4.0"), ("1.3", "1.3.1")],
)
def test_an_unsupported_version_is_refused_with_the_version_named(
    tmp_path_factory: pytest.TempPathFactory, rkllm_model: Path, abi: str, version: str
) -> None:
    fake = built(tmp_path_factory, abi, version)
    with pytest.raises(AbiMismatch) as err:
        RkllmBackend(settings(fake, rkllm_model))
    msg = str(err.value)
    assert f"is rkllm runtime {version}, which this worker does not support" in msg
    assert "ABI 1.2: 1.2.1, 1.2.2, 1.2.3; ABI 1.3: 1.3.0" in msg
    assert f"set llm.rkllm.accept_version to {version}" in msg
    if version in ("1.2.0", "1.2.1b1"):
        assert "would crash" in msg


def test_a_library_without_a_version_string_is_refused(
    tmp_path_factory: pytest.TempPathFactory, rkllm_model: Path
) -> None:
    fake = built(tmp_path_factory, "1.3", "")
    with pytest.raises(AbiMismatch, match="No rkllm runtime version string was found.*unknown"):
        RkllmBackend(settings(fake, rkllm_model))


def test_accept_version_loads_exactly_the_version_it_names(
    tmp_path_factory: pytest.TempPathFactory, rkllm_model: Path
) -> None:
    # A user who checked that their 1.2.1b1 has the 1.2.1 header (this stand-in has it).
    fake = built(tmp_path_factory, "1.2", "1.2.1b1")
    b = RkllmBackend(settings(fake, rkllm_model, accept_version="1.2.1b1"))
    fake.plant(["ok"])
    assert run(b, request())[1].text == "ok"
    b.close()
    # The override names one version: another one is still refused.
    other = built(tmp_path_factory, "1.2", "1.2.0")
    with pytest.raises(AbiMismatch, match="1.2.0"):
        RkllmBackend(settings(other, rkllm_model, accept_version="1.2.1b1"))
    # And a library without a version string needs "unknown".
    bare = built(tmp_path_factory, "1.3", "")
    RkllmBackend(settings(bare, rkllm_model, accept_version="unknown")).close()
