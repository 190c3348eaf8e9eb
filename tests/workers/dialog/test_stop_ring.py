"""STOP, always, through the real processes: dialog -> rtgw -> the ring -> the RT car app.

Every stop form of the understanding corpus, heard asleep (no wake phrase), in the middle of a
turn and while the assistant speaks, reaches the ring (the gateway's ``accepted`` ack, stamped
with the moment it wrote it) and is carried out by the car app (its ``done``); a dialog killed
and restarted by the supervisor still honours it; near-miss lines without a stop word never
send one. No timings are asserted: the absence of a STOP is shown by a sentinel STOP that the
dialog handles after the lines before it.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from typing import Any

import pytest

from bench.understanding_corpus import load_corpus
from bus.node import Node
from schemas.asr import AsrPartial, AsrText
from schemas.rtos import RtosAck, RtosCommand
from schemas.speaker import SpeakerReport
from tests.supervision.harness import SupervisorProc, short_tmp

pytestmark = pytest.mark.slow

CORPUS = load_corpus()


class Car:
    """The test's view of the bus: what the dialog commands and what the gateway answers."""

    def __init__(self, probe: Node) -> None:
        self.probe = probe
        self.commands: dict[int, RtosCommand] = {}
        self.acks: dict[int, list[RtosAck]] = {}
        self.n = 0

    def pump(self, until: Any, timeout_s: float = 20.0) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            msg = self.probe.poll(0.05)
            if msg is not None:
                p = msg.payload
                if isinstance(p, RtosCommand):
                    self.commands[p.cmd_id] = p
                elif isinstance(p, RtosAck):
                    self.acks.setdefault(p.cmd_id, []).append(p)
            if until():
                return True
        return False

    def say(self, text: str, *, partial: bool) -> str:
        """One utterance: its pause's transcript (if ``partial``), then the segment's."""
        self.n += 1
        seg = f"u{self.n}"
        if partial:
            self.probe.publish(
                "asr.partial", AsrPartial(text=text, segment_id=seg, revision=0), trace=seg
            )
        self.probe.publish("asr.text", AsrText(text=text, segment_id=seg), trace=seg)
        return seg

    def stops_of(self, seg: str) -> list[RtosCommand]:
        return [
            c
            for c in self.commands.values()
            if c.kind in ("stop", "estop") and c.source.endswith(f":{seg}")
        ]

    def stopped(self, seg: str, kind: str) -> bool:
        """The utterance's STOP was written to the ring and carried out by the car."""
        stops = self.stops_of(seg)
        if not stops:
            return False
        acks = self.acks.get(stops[0].cmd_id, [])
        accepted = [a for a in acks if a.status == "accepted" and a.by == "gateway"]
        done = [a for a in acks if a.status == "done" and a.by == "rtos"]
        return stops[0].kind == kind and bool(accepted) and accepted[0].at_ns > 0 and bool(done)


def config(region: Any) -> dict[str, Any]:
    return {
        "heartbeat_ms": 200,
        "workers": {
            "rtapp": {
                "command": "rtos/build/rtapp",
                "args": ["--region", str(region), "--heartbeat-ms", "50"],
                "restart": "always",
                "manifest": {"kind": "stage", "link": "rtgw"},
            },
            "rtgw": {
                "module": "workers.rtgw",
                "depends_on": ["rtapp"],
                "restart": "always",
                "settings": {"region": f"shmfile:{region}", "heartbeat_ms": 50},
            },
            "dialog": {
                "module": "workers.dialog",
                "depends_on": ["rtgw"],
                "restart": "always",
                # asleep: the wake phrase is needed for everything but a STOP; no LLM, TTS or
                # speaker runs, so a turn that asks them stays in progress (mid-turn)
                "settings": {
                    "wake": "phrase",
                    "warm_up": False,
                    "llm_first_token_timeout_s": 600,
                    "tts_timeout_s": 600,
                },
            },
        },
    }


def test_every_stop_form_reaches_the_ring_asleep_mid_turn_during_playback_and_after_a_restart():
    tmp = short_tmp()
    try:
        with SupervisorProc(config(tmp / "region"), tmp) as sup:
            sup.wait_state("dialog", "ready")
            probe = sup.node("probe")
            probe.subscribe("rtos.command", "rtos.ack")
            probe.ready()
            car = Car(probe)
            # the gateway may still be handshaking with the car app: until a STOP gets through
            for _ in range(20):
                seg = car.say("Stop.", partial=False)
                if car.pump(lambda s=seg: car.stopped(s, "stop"), timeout_s=1.0):
                    break
            else:
                raise AssertionError(f"no STOP got through\n{sup.log()}")

            stop_lines = [x for x in CORPUS.lines if x.category == "stop"]
            for i, line in enumerate(stop_lines):  # asleep; half from the pause's transcript
                seg = car.say(line.reference, partial=i % 2 == 0)
                kind = line.intents[0]["kind"]
                assert car.pump(lambda s=seg, k=kind: car.stopped(s, k)), (line.id, car.acks)

            # awake and mid-turn: the question waits for an LLM that never answers
            car.say("Hey robot, tell me a long story.", partial=False)
            seg = car.say("Halt!", partial=True)
            assert car.pump(lambda: car.stopped(seg, "stop"))
            # while the assistant speaks: the speaker reports a turn playing
            probe.publish("speaker.report", SpeakerReport(turn_id="t-play", event="started"))
            seg = car.say("别动", partial=True)
            assert car.pump(lambda: car.stopped(seg, "stop"))

            # near-miss lines never stop the car; a sentinel STOP comes after them, in order
            quiet = [x for x in CORPUS.lines if x.category == "near_miss" and not x.stop_word]
            said = [car.say(x.reference, partial=True) for x in quiet]
            sentinel = car.say("Freeze!", partial=True)
            assert car.pump(lambda: car.stopped(sentinel, "stop"))
            assert [s for s in said if car.stops_of(s)] == []

            # a killed dialog is restarted and still honours STOP (asleep again or not)
            os.kill(sup.row("dialog")["pid"], signal.SIGKILL)
            sup.wait(lambda: sup.row("dialog")["restarts"] >= 1, "the dialog to restart")
            sup.wait_state("dialog", "ready")
            seg = car.say("Stop the car!", partial=True)
            assert car.pump(lambda: car.stopped(seg, "stop")), sup.log()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
