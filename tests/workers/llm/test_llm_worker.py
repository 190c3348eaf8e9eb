"""The worker's loop on an in-memory bus: requests, streamed deltas, replies, aborts, queueing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bus import ConfigError, MemoryBus, MemoryNode
from bus.memory import wait_realtime
from schemas.llm import ChatMessage, LlmAbort, LlmDelta, LlmReply, LlmRequest
from schemas.rtos import CarIntent
from schemas.system import Metric
from tests.bus.conftest import ProxyProc
from tests.workers.cannot_run import cannot_run
from tests.workers.llm.conftest import FakeRkllm
from workers.llm.__main__ import serve
from workers.llm.backends import make_backend
from workers.llm.backends.base import Backend, Chunk, Prompt
from workers.llm.errors import ModelNotFound
from workers.llm.manifest import MANIFEST
from workers.llm.service import LlmService
from workers.llm.settings import LlmSettings


class ScriptedBackend(Backend):
    """A backend that streams given pieces (one token each), honouring abort between them."""

    name = "scripted"

    def __init__(self, pieces: list[str], delay_s: float = 0.0) -> None:
        self.pieces = pieces
        self.delay_s = delay_s
        self.prompts: list[Prompt] = []
        self.sent = 0

    def stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
        self.prompts.append(prompt)
        self.sent = 0
        for piece in self.pieces:
            if abort.is_set():
                yield Chunk(finish_reason="abort")
                return
            time.sleep(self.delay_s)
            self.sent += 1
            yield Chunk(text=piece, tokens=1)
        yield Chunk(finish_reason="stop")


def request(rid: str, text: str = "hi", **kw: object) -> LlmRequest:
    return LlmRequest(request_id=rid, messages=(ChatMessage(role="user", content=text),), **kw)  # type: ignore[arg-type]


class Rig:
    """The worker's node and a dialog-side probe on one memory bus."""

    def __init__(self, backend: Backend, **settings: object) -> None:
        self.bus = MemoryBus(sleep=wait_realtime)  # the generation thread wakes the loop
        self.node = self.bus.node("llm", manifest=MANIFEST)
        self.probe: MemoryNode = self.bus.node("dialog")
        self.probe.subscribe("llm.delta", "llm.reply", "sys.metric")
        self.service = LlmService(LlmSettings(**settings), backend, worker="llm")  # type: ignore[arg-type]
        self.got: list[tuple[str, object, str]] = []

    def send(self, topic: str, payload: LlmRequest | LlmAbort, trace: str = "t1") -> None:
        self.probe.publish(topic, payload, trace=trace)

    def run(self, replies: int = 1, on_delta: object = None) -> None:
        def until() -> bool:
            while (msg := self.probe.poll(0)) is not None:
                self.got.append((msg.topic, msg.payload, msg.trace))
                if msg.topic == "llm.delta" and callable(on_delta):
                    on_delta(msg.payload)
            return len(self.of(LlmReply)) >= replies

        serve(self.node, self.service, until=until)

    def of(self, cls: type) -> list[Any]:
        return [p for _, p, _ in self.got if isinstance(p, cls)]


def test_request_streams_deltas_then_reply_and_metrics() -> None:
    rig = Rig(ScriptedBackend(list("<think>plan</think>Hello. Bye.")), tools=False)
    rig.send("llm.request", request("r1"), trace="turn-7")
    rig.run()
    deltas, (reply,) = rig.of(LlmDelta), rig.of(LlmReply)
    assert reply.text == "Hello. Bye." and reply.thinking == "plan"
    assert reply.backend == "scripted" and reply.completion_tokens > 10
    assert all(tr == "turn-7" for _, _, tr in rig.got)
    assert "".join(d.text for d in deltas if d.thinking) == "plan"
    names = {m.name for m in rig.of(Metric)}
    assert {"llm.ttft_ms", "llm.tokens_per_s", "llm.prefill_ms", "llm.generate_ms"} <= names
    assert all(m.labels["backend"] == "scripted" for m in rig.of(Metric))


def test_abort_on_barge_in_stops_the_stream() -> None:
    backend = ScriptedBackend([f"w{i} " for i in range(500)], delay_s=0.002)
    rig = Rig(backend)
    rig.send("llm.request", request("r1"))
    aborted: list[int] = []

    def barge_in(delta: LlmDelta) -> None:
        if not aborted:
            aborted.append(delta.index)
            rig.send("llm.abort", LlmAbort(request_id="r1"))

    rig.run(on_delta=barge_in)
    (reply,) = rig.of(LlmReply)
    assert reply.finish_reason == "abort"
    assert backend.sent < 100
    assert not rig.service.busy


def test_requests_queue_and_run_in_order() -> None:
    rig = Rig(ScriptedBackend(list("ok")))
    rig.send("llm.request", request("a"))
    rig.send("llm.request", request("b"))
    rig.run(replies=2)
    assert [r.request_id for r in rig.of(LlmReply)] == ["a", "b"]
    assert all(r.finish_reason == "stop" for r in rig.of(LlmReply))


def test_a_full_queue_refuses_with_a_sentence() -> None:
    rig = Rig(ScriptedBackend(list("slow reply"), delay_s=0.01), max_queue=0)
    rig.send("llm.request", request("a"))
    rig.send("llm.request", request("b"))
    rig.run(replies=2)
    refused = next(r for r in rig.of(LlmReply) if r.request_id == "b")
    assert refused.finish_reason == "error" and "raise llm.max_queue" in refused.error


def test_aborting_a_queued_request_answers_it_as_aborted() -> None:
    rig = Rig(ScriptedBackend(list("some words"), delay_s=0.005))
    rig.send("llm.request", request("a"))
    rig.send("llm.request", request("b"))
    rig.send("llm.abort", LlmAbort(request_id="b"))
    rig.run(replies=2)
    by_id = {r.request_id: r for r in rig.of(LlmReply)}
    assert by_id["b"].finish_reason == "abort" and by_id["a"].finish_reason == "stop"


def test_a_valid_tool_call_becomes_a_typed_intent_and_is_not_spoken() -> None:
    call = '<tool_call>{"name": "rtos_command", "arguments": {"kind": "stop"}}</tool_call>'
    rig = Rig(ScriptedBackend(["Stopping.", *call]))
    rig.send("llm.request", request("r1", "stop the car"))
    rig.run()
    (reply,) = rig.of(LlmReply)
    assert reply.intents == (CarIntent(kind="stop"),) and not reply.intent_error
    assert "tool_call" not in "".join(d.text for d in rig.of(LlmDelta))
    # The tool was offered in the system prompt (this backend has no native tools).
    assert "rtos_command" in rig.service.backend.prompts[0].messages[0].content  # type: ignore[attr-defined]


def test_two_tool_calls_become_a_list_of_intents() -> None:
    one = '<tool_call>{"name": "rtos_command", "arguments": {"kind": "turn", "angle_deg": 90}}'
    two = '<tool_call>{"name": "rtos_command", "arguments": {"kind": "stop"}}</tool_call>'
    rig = Rig(ScriptedBackend(["OK.", one, "</tool_call>\n", two]))
    rig.send("llm.request", request("r1", "turn left then stop"))
    rig.run()
    (reply,) = rig.of(LlmReply)
    assert reply.intents == (CarIntent(kind="turn", angle_deg=90.0), CarIntent(kind="stop"))


def test_a_garbled_tool_call_is_reported_never_guessed() -> None:
    call = '<tool_call>{"name": "rtos_command", "arguments": {"kind": "spin", "speed": 9}}'
    rig = Rig(ScriptedBackend(list(call)))
    rig.send("llm.request", request("r1", "spin"))
    rig.run()
    (reply,) = rig.of(LlmReply)
    assert reply.intents == ()
    assert "refused by the schema" in reply.intent_error and "kind" in reply.intent_error
    # The refused block is kept (the reply crossed a real encoding on the in-memory bus).
    assert reply.refused_call == call + "</tool_call>"


def test_remembered_history_goes_into_the_next_prompt() -> None:
    backend = ScriptedBackend(list("Nice to meet you."))
    rig = Rig(backend, history={"remember": True, "max_chars": 1000}, tools=False)
    rig.send("llm.request", request("a", "I am Ann"))
    rig.run()
    rig.send("llm.request", request("b", "who am I"))
    rig.run(replies=2)
    contents = [m.content for m in backend.prompts[1].messages]
    assert contents[1:] == ["I am Ann", "Nice to meet you.", "who am I"]


def test_worker_settings_from_the_node_drive_the_rkllm_backend(
    fake_rkllm: FakeRkllm, rkllm_model: Path
) -> None:
    bus = MemoryBus(sleep=wait_realtime)
    cfg = {
        "backend": "rkllm",
        "rkllm": {
            "library_path": str(fake_rkllm.path),
            "model_path": str(rkllm_model),
            "abi": fake_rkllm.abi,
        },
    }
    node = bus.node("llm", settings=cfg, manifest=MANIFEST)
    settings = node.settings_as(LlmSettings)
    fake_rkllm.reset()
    fake_rkllm.plant(["<think>", "x", "</think>", "Done."])
    service = LlmService(settings, make_backend(settings), worker="llm")
    probe = bus.node("dialog")
    probe.subscribe("llm.reply")
    probe.publish("llm.request", request("r1"))
    replies: list[LlmReply] = []

    def until() -> bool:
        while (msg := probe.poll(0)) is not None:
            replies.append(msg.payload)  # type: ignore[arg-type]
        return bool(replies)

    serve(node, service, until=until)
    service.close()
    assert replies[0].text == "Done." and replies[0].backend == "rkllm"
    assert fake_rkllm.record()["destroyed"] == "1"


def test_an_unknown_settings_key_fails_with_its_path() -> None:
    node = MemoryBus().node("llm", settings={"rkllm": {"cpu_mask": 240}})
    with pytest.raises(ConfigError, match=r"rkllm\.cpu_mask"):
        node.settings_as(LlmSettings)


def test_a_missing_gguf_file_names_the_file(tmp_path: Path) -> None:
    settings = LlmSettings(llamacpp={"model_path": tmp_path / "nope.gguf"})  # type: ignore[arg-type]
    with pytest.raises(ModelNotFound, match=r"nope\.gguf does not exist"):
        make_backend(settings)


@pytest.mark.slow
def test_the_worker_with_a_missing_model_cannot_run_and_names_the_file(
    tmp_path: Path, proxy: ProxyProc
) -> None:
    missing = tmp_path / "nope.gguf"
    settings = {"llamacpp": {"model_path": str(missing)}}
    reason = cannot_run("workers.llm", settings, tmp_path, proxy=proxy)
    assert str(missing) in reason and "does not exist" in reason


def test_every_delta_carries_its_request_s_time_on_the_bus() -> None:
    rig = Rig(ScriptedBackend(list("Hello.")), tools=False)
    rig.send("llm.request", request("r1"))
    rig.run()
    deltas = rig.of(LlmDelta)
    assert deltas and all(d.bus_ms > 0 for d in deltas)
    assert len({d.bus_ms for d in deltas}) == 1  # the one request's receive age


class _Ready(Exception):
    pass


def test_the_worker_runs_its_model_once_before_it_says_it_is_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import workers.llm.__main__ as llm_main

    backend = ScriptedBackend(["Hi"])
    monkeypatch.setattr(llm_main, "make_backend", lambda settings: backend)
    runs_before_ready: list[int] = []

    class Node:
        name = "llm"

        def settings_as(self, cls: type) -> LlmSettings:
            return LlmSettings(system_prompt="You are Robo.")

        def ready(self) -> None:
            runs_before_ready.append(len(backend.prompts))
            raise _Ready

    with pytest.raises(_Ready):
        llm_main.run(Node())  # type: ignore[arg-type]
    assert runs_before_ready == [1]
    warm = backend.prompts[0]
    assert warm.max_tokens == 1
    assert warm.messages[0].role == "system"
    assert warm.messages[0].content.startswith("You are Robo.")  # the tool offer follows it


def test_a_failed_warm_up_is_logged_and_the_worker_serves_anyway(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Failing(ScriptedBackend):
        def stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
            yield from ()
            raise ModelNotFound("the model went away")

    service = LlmService(LlmSettings(), Failing([]))
    assert service.warm_up() is None
    assert "llm_warm_up_failed" in caplog.text
