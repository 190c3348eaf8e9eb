"""The rkllm ctypes backend driving the compiled stand-in library end to end, for both ABIs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.llm import ChatMessage, LlmDelta, LlmReply, LlmRequest
from tests.workers.llm.conftest import FakeRkllm
from workers.llm.backends.base import Prompt
from workers.llm.backends.rkllm import RkllmBackend
from workers.llm.engine import Generation, build_prompt
from workers.llm.errors import AbiMismatch, ModelNotFound
from workers.llm.settings import LlmSettings, RkllmSettings

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


def run(backend: RkllmBackend, req: LlmRequest, **kw: object) -> tuple[list[LlmDelta], LlmReply]:
    llm = LlmSettings(backend="rkllm", tools=False)
    gen = Generation(backend, req, build_prompt(req, llm, backend), tools=False, **kw)  # type: ignore[arg-type]
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
    assert rec["template_system"].startswith("<｜begin▁of▁sentence｜>You are the voice assistant")
    assert rec["role"] == "user" and rec["prompt"] == "what time is it"
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


def test_max_tokens_ends_with_length(fake_rkllm: FakeRkllm, backend: RkllmBackend) -> None:
    fake_rkllm.plant([f"w{i} " for i in range(50)])
    _deltas, reply = run(backend, request(max_tokens=5))
    assert reply.finish_reason == "length"
    assert int(fake_rkllm.record()["sent"]) <= 6


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
    assert fake_rkllm.record()["prompt"] == "User: my name is Ann"  # record keeps lines apart
    assert "what is my name" in fake_rkllm.lib.fake_record().decode()


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
