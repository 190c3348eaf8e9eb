"""The dialog worker among real processes: a worker killed mid-turn gives an apology, not a hang."""

from __future__ import annotations

import os
import signal
import time

import pytest

from bus.node import Node
from schemas.asr import AsrText
from schemas.llm import LlmRequest
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
