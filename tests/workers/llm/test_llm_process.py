"""``python -m workers.llm`` as a real process under the supervisor, over ZeroMQ.

The backend is rkllm on the compiled stand-in library, so the run needs no model and is quick.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bus import Node
from schemas.llm import ChatMessage, LlmAbort, LlmDelta, LlmReply, LlmRequest
from tests.supervision.harness import SupervisorProc, worker
from tests.workers.llm.conftest import HERE, FakeRkllm, compile_c

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fake13(tmp_path_factory: pytest.TempPathFactory) -> FakeRkllm:
    """The 1.3 stand-in (one ABI is enough here; both are driven in test_llm_rkllm_backend)."""
    out = tmp_path_factory.mktemp("rkllm-proc") / "librkllmrt.so"
    return FakeRkllm(compile_c(HERE / "fake_rkllm.c", out, "1.3"), "1.3")


def config(fake: FakeRkllm, model: Path, **env: str) -> dict[str, object]:
    rkllm = {"library_path": str(fake.path), "model_path": str(model), "abi": fake.abi}
    settings = {"backend": "rkllm", "rkllm": rkllm}
    return {"workers": {"llm": worker("workers.llm", restart="never", settings=settings, env=env)}}


def collect(probe: Node, until: type, timeout_s: float = 20.0) -> list[object]:
    """What the probe receives until a message of type ``until`` (or the timeout)."""
    got: list[object] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not any(isinstance(g, until) for g in got):
        msg = probe.poll(0.1)
        if msg is not None:
            got.append(msg.payload)
    return got


def test_request_and_reply_over_the_real_bus(fake13: FakeRkllm, rkllm_model: Path) -> None:
    # The worker process loads its own copy of the library, which streams its default tokens.
    with SupervisorProc(config(fake13, rkllm_model)) as sup:
        sup.wait_state("llm", "ready")
        probe = sup.node("dialog")
        probe.subscribe("llm.delta", "llm.reply")
        time.sleep(0.2)  # let the subscription reach the proxy
        msgs = (ChatMessage(role="user", content="hi"),)
        probe.publish("llm.request", LlmRequest(request_id="r1", messages=msgs), trace="t1")
        got = collect(probe, LlmReply)
        reply = next(g for g in got if isinstance(g, LlmReply))
        assert reply.finish_reason == "stop" and reply.text == "Hello world"
        assert reply.backend == "rkllm"
        assert any(isinstance(g, LlmDelta) for g in got)
        assert sup.row("llm")["state"] == "ready"


def test_barge_in_abort_stops_a_long_reply_over_the_real_bus(
    fake13: FakeRkllm, rkllm_model: Path
) -> None:
    plant = "|".join(f"w{i} " for i in range(3000))
    with SupervisorProc(
        config(fake13, rkllm_model, FAKE_RKLLM_PLANT=plant, FAKE_RKLLM_DELAY_US="2000")
    ) as sup:
        sup.wait_state("llm", "ready")
        probe = sup.node("dialog")
        probe.subscribe("llm.delta", "llm.reply")
        time.sleep(0.2)
        msgs = (ChatMessage(role="user", content="talk"),)
        probe.publish("llm.request", LlmRequest(request_id="r1", messages=msgs, max_tokens=4000))
        first = collect(probe, LlmDelta)
        assert any(isinstance(g, LlmDelta) for g in first)
        probe.publish("llm.abort", LlmAbort(request_id="r1"))
        got = collect(probe, LlmReply)
        reply = next(g for g in got if isinstance(g, LlmReply))
        assert reply.finish_reason == "abort"
        # Stopped after a few hundred tokens at most (3000 planted, 2 ms each = 6 s).
        assert reply.completion_tokens < 1000


def test_a_missing_model_stops_the_worker_with_the_file_named(
    fake13: FakeRkllm, tmp_path: Path
) -> None:
    missing = tmp_path / "DeepSeek-R1-Distill-Qwen-1.5B_W8A8_RK3588.rkllm"
    with SupervisorProc(config(fake13, missing), exit_code=1) as sup:  # llm: cannot run
        sup.wait(lambda: "does not exist" in sup.log(), "the worker's error in the log", 30)
        assert str(missing) in sup.log()
        assert "rkllm-toolkit" in sup.log()
        row = sup.wait_state("llm", "failed")  # exit 2: not restarted, its reason in status
        assert row["last_exit"] == 2 and str(missing) in row["reason"]
