"""A readable transcript of the conversation, built from what crosses the bus.

:class:`Transcript` is fed every message the demo sees and returns the lines to print: what the
user said, what the assistant answered (sentence by sentence), barge-ins, the car's commands and
acks (and the commands the LLM asked for, or why its tool call was refused), its telemetry when
its state changes, and per turn the latency breakdown (end of speech ->
segment closed -> transcript -> first token -> first audio). :meth:`Transcript.summary` gives
the figures of every turn for ``out/demo/turns.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bus import Envelope
from schemas.asr import AsrText
from schemas.dialog import TurnMetrics
from schemas.llm import LlmAbort, LlmReply
from schemas.rtos import CarIntent, RtosAck, RtosCommand, RtosLink, RtosTelemetry
from schemas.speaker import SpeakerReport, SpeakerStop
from schemas.system import LifecycleEvent
from schemas.tts import TtsRequest

__all__ = ["Transcript", "TurnRecord", "format_metrics", "format_telemetry"]


@dataclass
class TurnRecord:
    """Everything seen of one turn."""

    turn_id: str
    user_text: str = ""
    asr_ms: float = 0.0
    asr_backend: str = ""
    replies: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    wav: str = ""
    barged_in: bool = False
    line: int = -1
    """Index of the scripted line whose speech opened this turn (-1: not known)."""


def format_metrics(m: TurnMetrics) -> str:
    """One line of latency breakdown: the stages of the turn, and its STOP when it sent one."""

    def ms(v: float) -> str:
        return f"{v:.0f} ms" if v > 0 else "-"

    heard = (f" (pause heard at {ms(m.asr_partial_ms)})" if m.asr_partial_ms > 0 else "") + (
        " speculative" if m.speculative else ""
    )
    stop = f", STOP in the ring {ms(m.stop_ms)}" if m.stop_ms > 0 else ""
    return (
        f"end of speech -> closed {ms(m.vad_close_ms)}{heard} -> transcript {ms(m.asr_ms)}"
        f" -> first token {ms(m.llm_ttft_ms)} -> first clause {ms(m.first_clause_ms)}"
        f" -> first audio {ms(m.first_audio_ms)} (tts {ms(m.tts_ms)})"
        f" | end to end {ms(m.end_to_end_ms)}{stop}, bus {m.bus_ms:.2f} ms in {m.bus_hops} hops"
    )


def format_telemetry(t: RtosTelemetry) -> str:
    """The car's state in one line."""
    return (
        f"{t.state}: x {t.x_m:.2f} m, y {t.y_m:.2f} m, heading {t.heading_deg:.0f} deg, "
        f"speed {t.linear_mps:.2f} m/s, battery {t.battery_pct:.0f} %"
    )


def _what(cmd: CarIntent) -> str:
    fields = {
        "drive": f"{cmd.distance_m:g} m at {cmd.linear_mps:g} m/s"
        if cmd.distance_m
        else f"{cmd.linear_mps:g} m/s for {cmd.duration_ms} ms",
        "turn": f"{cmd.angle_deg:g} deg",
        "led": f"#{cmd.led_rgb:06x}",
        "buzzer": f"{cmd.buzzer_hz} Hz {cmd.duration_ms} ms",
    }
    return f"{cmd.kind} {fields.get(cmd.kind, '')}".rstrip()


def _describe(cmd: RtosCommand) -> str:
    return f"#{cmd.cmd_id} {_what(cmd)}"


class Transcript:
    """Turns the bus traffic into lines for people."""

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        self.turns: dict[str, TurnRecord] = {}
        self.telemetry: RtosTelemetry | None = None
        self.lifecycle: list[str] = []
        self._last_state = ""

    def turn(self, turn_id: str) -> TurnRecord:
        """The record of ``turn_id`` (created on first use)."""
        return self.turns.setdefault(turn_id, TurnRecord(turn_id))

    def feed(self, msg: Envelope, now_ns: int) -> list[str]:
        """Lines to print for one message."""
        p = msg.payload
        at = f"[{(now_ns - self.start_ns) / 1e9:6.1f}s]"
        if isinstance(p, AsrText) and p.text.strip():
            r = self.turn(p.segment_id)
            r.user_text, r.asr_ms, r.asr_backend = p.text.strip(), p.infer_ms, p.backend
            return [f"{at} user   > {r.user_text}"]
        if isinstance(p, TtsRequest) and p.text:
            self.turn(p.turn_id).replies.append(p.text)
            return [f"{at} robot  < {p.text}"]
        if isinstance(p, TurnMetrics):
            r = self.turn(p.turn_id)
            r.metrics = p.model_dump()
            if p.outcome == "ignored":
                return [f"{at}          (not for me: no wake phrase) {p.user_text!r}"]
            return [f"{at} turn {p.turn_id[:8]} {p.outcome}: {format_metrics(p)}"]
        if isinstance(p, (SpeakerStop, LlmAbort)) and msg.topic in ("speaker.stop", "llm.abort"):
            if msg.trace:
                self.turn(msg.trace).barged_in = True
            what = "playback stopped" if msg.topic == "speaker.stop" else "generation aborted"
            return [f"{at}        ! barge-in: {what} ({p.reason})"]
        if isinstance(p, LlmReply) and p.intent_error:
            return [f"{at} llm    ? tool call refused: {p.intent_error}"]
        if isinstance(p, LlmReply) and p.intents:
            return [f"{at} llm    asks the car: {'; '.join(_what(i) for i in p.intents)}"]
        if isinstance(p, RtosCommand):
            self.turn(msg.trace).commands.append(_describe(p))
            return [f"{at} car    <- command {_describe(p)}"]
        if isinstance(p, RtosAck):
            if msg.trace:
                self.turn(msg.trace).acks.append(f"#{p.cmd_id} {p.status}")
            why = f" ({p.reason})" if p.reason else ""
            return [f"{at} car    -> #{p.cmd_id} {p.status} by {p.by}{why}"]
        if isinstance(p, RtosTelemetry):
            self.telemetry = p
            if p.state != self._last_state:
                self._last_state = p.state
                return [f"{at} car    ~ {format_telemetry(p)}"]
            return []
        if isinstance(p, RtosLink):
            return [f"{at} car    link {p.state} {p.detail}".rstrip()]
        if isinstance(p, SpeakerReport) and p.path and p.event != "started":
            self.turn(p.turn_id).wav = p.path
            return []
        if isinstance(p, LifecycleEvent) and p.event in ("exited", "hung", "restarting", "gave_up"):
            line = f"{p.worker} {p.event} {p.detail}".rstrip()
            self.lifecycle.append(line)
            return [f"{at} supervisor: {line}"]
        return []

    def summary(self) -> list[dict[str, Any]]:
        """Every turn that was heard, in order."""
        return [asdict(r) for r in self.turns.values() if r.user_text or r.replies]
