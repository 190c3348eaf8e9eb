"""``python -m workers.llm`` as a real process under the supervisor, over ZeroMQ.

The backend is rkllm on the compiled stand-in library, or ``rkllm-server`` on the stand-ins of
Rockchip's Flask demo (1.2.3 and 1.3.0) served from this process, so the run needs no model.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bus import Node
from schemas.llm import ChatMessage, LlmAbort, LlmDelta, LlmReply, LlmRequest, LlmWait
from tests.supervision.harness import SupervisorProc, worker
from tests.workers.llm.conftest import HERE, FakeRkllm, compile_c
from tests.workers.llm.rkllm_flask import FakeRuntime, FlaskDemo, FlaskDemo123, FlaskDemo130

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


def reply_to(probe: Node, request_id: str, seen: list[object], timeout_s: float = 30.0) -> LlmReply:
    """The reply to ``request_id`` (everything received on the way is added to ``seen``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = probe.poll(0.1)
        if msg is None:
            continue
        seen.append(msg.payload)
        if isinstance(msg.payload, LlmReply) and msg.payload.request_id == request_id:
            return msg.payload
    raise AssertionError(f"no reply to {request_id} within {timeout_s} s")


@pytest.mark.parametrize("release", ["1.2.3", "1.3.0"])
def test_rkllm_server_answers_with_history_and_after_a_barge_in_over_the_real_bus(
    release: str,
) -> None:
    cls: type[FlaskDemo] = FlaskDemo123 if release == "1.2.3" else FlaskDemo130
    api = "rkllm_chat" if release == "1.2.3" else "openai"
    persona = "You are Robo, the voice of a small car."
    history = (
        ChatMessage(role="system", content=persona),
        ChatMessage(role="user", content="my name is Ann"),
        ChatMessage(role="assistant", content="Hello Ann."),
        ChatMessage(role="user", content="what is my name"),
    )
    with cls(FakeRuntime(token_s=0.003)) as srv:
        server = {
            "url": srv.url,
            "api": api,
            "assumed_tokens_per_s": 50,
            "server_max_new_tokens": 400,
            "notice_after_s": 0.1,
        }
        settings = {"backend": "rkllm-server", "tools": True, "rkllm_server": server}
        cfg = {"workers": {"llm": worker("workers.llm", restart="never", settings=settings)}}
        srv.runtime.answer("Your name is Ann.", " ".join(f"w{i}" for i in range(300)), "Here.")
        with SupervisorProc(cfg) as sup:
            sup.wait_state("llm", "ready")
            probe = sup.node("dialog")
            probe.subscribe("llm.delta", "llm.reply", "llm.wait")
            time.sleep(0.2)
            seen: list[object] = []
            probe.publish("llm.request", LlmRequest(request_id="r1", messages=history))
            first = reply_to(probe, "r1", seen)
            assert first.finish_reason == "stop", first.error
            assert first.text == "Your name is Ann." and first.backend == "rkllm-server"
            prompt = srv.runtime.runs[0].prompt
            assert prompt.count(persona) == 1 and "Hello Ann." in prompt
            assert prompt.endswith("what is my name")
            # A long reply, cut off by a barge-in after its first piece ...
            talk = (ChatMessage(role="user", content="tell me everything"),)
            probe.publish("llm.request", LlmRequest(request_id="r2", messages=talk))
            deadline = time.monotonic() + 20
            while not any(isinstance(g, LlmDelta) and g.request_id == "r2" for g in seen):
                assert time.monotonic() < deadline, "no delta of r2"
                msg = probe.poll(0.1)
                if msg is not None:
                    seen.append(msg.payload)
            probe.publish("llm.abort", LlmAbort(request_id="r2"))
            assert reply_to(probe, "r2", seen).finish_reason == "abort"
            # ... and the next turn is answered once the server is free, announced first.
            probe.publish("llm.request", LlmRequest(request_id="r3", messages=history))
            third = reply_to(probe, "r3", seen)
            assert third.finish_reason == "stop", third.error
            assert third.text == "Here."
            waits = [g for g in seen if isinstance(g, LlmWait) and g.request_id == "r3"]
            assert len(waits) == 1 and waits[0].reason == "orphan"
            # The server ran the cut-off reply out: to its end (1.2.x reads no max_tokens) or
            # to the request's 256 tokens that the backend sent (1.3.0).
            assert srv.runtime.runs[1].tokens == (300 if release == "1.2.3" else 256)
            assert srv.runtime.max_active == 1
