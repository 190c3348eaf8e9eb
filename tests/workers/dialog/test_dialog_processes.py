"""The dialog worker among real processes: a worker killed mid-turn gives an apology, not a hang."""

from __future__ import annotations

import os
import signal
import time

import pytest

from bus.node import Node
from schemas.asr import AsrText
from schemas.llm import LlmDelta, LlmReply, LlmRequest
from schemas.tts import TtsRequest
from schemas.vad import VadState
from tests.supervision.harness import SupervisorProc, worker

pytestmark = pytest.mark.slow

STALL = "tests.workers.dialog.stall"


def wait_for(probe: Node, kind: type, timeout_s: float = 20.0) -> list:
    """Every message of type ``kind`` until one arrives (then a short while longer)."""
    got: list = []
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        msg = probe.poll(0.1)
        if msg is not None and isinstance(msg.payload, kind):
            got.append(msg.payload)
            end = min(end, time.monotonic() + 0.3)
    return got


def test_killing_the_llm_or_the_asr_mid_turn_gives_a_spoken_apology() -> None:
    config = {
        "heartbeat_ms": 200,
        "workers": {
            "llm": worker(STALL, restart="never", settings={"topics": ["llm.request"]}),
            "asr": worker(STALL, restart="never", settings={"topics": ["vad.segment"]}),
            "dialog": worker(
                "workers.dialog",
                depends_on=["llm", "asr"],
                # deadlines far away: only the death of the worker can end these turns
                settings={"wake": "always", "asr_timeout_s": 120, "llm_first_token_timeout_s": 120},
            ),
        },
    }
    with SupervisorProc(config) as sup:
        sup.wait_state("dialog", "ready")
        llm, asr = sup.row("llm"), sup.row("asr")
        probe = sup.node("probe")
        probe.subscribe("tts.request", "llm.request")

        probe.publish("asr.text", AsrText(text="tell me a joke", segment_id="t1"), trace="t1")
        assert [r.request_id for r in wait_for(probe, LlmRequest)] == ["t1"]
        os.kill(llm["pid"], signal.SIGKILL)
        said = wait_for(probe, TtsRequest)
        assert (
            said and said[0].text == "Sorry, I can't think right now." and said[0].turn_id == "t1"
        )

        now = time.monotonic_ns()
        probe.publish("vad.state", VadState(speaking=True, segment_id="t2", at_ns=now), trace="t2")
        probe.publish("vad.state", VadState(speaking=False, segment_id="t2", at_ns=now), trace="t2")
        time.sleep(0.3)
        os.kill(asr["pid"], signal.SIGKILL)
        said = wait_for(probe, TtsRequest)
        assert said and said[0].text == "Sorry, I did not catch that." and said[0].turn_id == "t2"


def test_a_killed_dialog_comes_back_awake_and_asks_again_for_the_reply_in_flight() -> None:
    config = {
        "heartbeat_ms": 200,
        "workers": {
            "dialog": worker(
                "workers.dialog",
                restart="always",
                settings={"awake_window_s": 60, "warm_up": False, "tools": False},
            ),
        },
    }
    with SupervisorProc(config) as sup:
        sup.wait_state("dialog", "ready")
        probe = sup.node("probe")
        probe.subscribe("tts.request", "llm.request", "llm.abort", "dialog.turn")

        def say(seg: str, text: str) -> None:
            probe.publish("asr.text", AsrText(text=text, segment_id=seg), trace=seg)

        say("t1", "Hey robot, what is your name?")
        assert [r.request_id for r in wait_for(probe, LlmRequest)] == ["t1"]
        # the test plays the LLM
        delta = LlmDelta(request_id="t1", index=0, text="I am Robo.")
        probe.publish("llm.delta", delta, trace="t1")
        reply = LlmReply(request_id="t1", text="I am Robo.", finish_reason="stop")
        probe.publish("llm.reply", reply, trace="t1")
        assert [r.text for r in wait_for(probe, TtsRequest)] == ["I am Robo."]
        os.kill(sup.row("dialog")["pid"], signal.SIGKILL)
        sup.wait(lambda: sup.row("dialog")["restarts"] == 1, "the dialog restarted")
        sup.wait_state("dialog", "ready")
        say("t2", "Where are you?")  # no wake phrase: the restarted dialog is still awake
        said = wait_for(probe, TtsRequest)
        assert said and said[0].turn_id == "t2", said

        say("t3", "Tell me a joke.")
        assert [r.request_id for r in wait_for(probe, LlmRequest)] == ["t3"]
        time.sleep(0.3)  # the state is written before the request goes out; be sure it is out
        os.kill(sup.row("dialog")["pid"], signal.SIGKILL)
        asked = wait_for(probe, LlmRequest, timeout_s=30)
        assert [r.request_id for r in asked] == ["t3+"], asked
        assert asked[0].messages[-1].content == "Tell me a joke."
        history = [m.content for m in asked[0].messages]
        assert "what is your name" in history and "I am Robo." in history
