"""A dialog on a MemoryBus with a fake clock, and probes standing in for the other workers."""

from __future__ import annotations

from typing import Any

from bus import MemoryBus
from schemas.asr import AsrText
from schemas.base import Message
from schemas.llm import LlmDelta, LlmReply
from schemas.rtos import CarIntent
from schemas.tts import TtsAudio
from schemas.vad import VadState
from workers.dialog.__main__ import publish
from workers.dialog.manager import TurnManager
from workers.dialog.manifest import MANIFEST
from workers.dialog.settings import DialogSettings


class Harness:
    """Drive a TurnManager through real frames; collect what it publishes by topic."""

    def __init__(self, **settings: Any) -> None:
        self.now_ns = 1_000_000_000_000
        self.bus = MemoryBus(clock=lambda: self.now_ns)  # messages stamped on the test's clock
        self.dialog = self.bus.node("dialog", manifest=MANIFEST)
        self.peer = self.bus.node("peer")
        self.probe = self.bus.node("probe")
        self.probe.subscribe("*")
        self.mgr = TurnManager(DialogSettings(**settings))
        self.seen: list[tuple[str, Message, str]] = []
        self.out_peer_audio: list[TtsAudio] = []
        self.travel_s = 0.0
        """How long each message the peer sends takes to reach the dialog."""

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * 1e9)
        publish(self.dialog, self.mgr.tick(self.now_ns))
        self._drain()

    def send(self, topic: str, payload: Message, trace: str = "") -> None:
        self.peer.publish(topic, payload, trace=trace)
        self.now_ns += int(self.travel_s * 1e9)  # time on the bus
        for msg in self.dialog:
            publish(self.dialog, self.mgr.handle(msg, msg.recv_ns))
        self._drain()

    def _drain(self) -> None:
        for msg in self.probe:
            if msg.source == "dialog":
                assert isinstance(msg.payload, Message)
                self.seen.append((msg.topic, msg.payload, msg.trace))

    def out(self, topic: str) -> list[Any]:
        return [p for t, p, _ in self.seen if t == topic]

    def traces(self) -> set[str]:
        return {tr for t, _, tr in self.seen if t not in ("dialog.state", "sys.metric")}

    def clear(self) -> None:
        self.seen.clear()

    # --- the other workers, played by hand ---------------------------------------------

    def utterance(self, seg: str, text: str, language: str = "en") -> None:
        """The user says ``text``: VAD start and end, then the transcript."""
        self.send("vad.state", VadState(speaking=True, segment_id=seg, at_ns=self.now_ns), seg)
        self.now_ns += 1_000_000_000
        end = self.now_ns
        self.now_ns += 300_000_000
        self.send(
            "vad.state",
            VadState(speaking=False, segment_id=seg, at_ns=end, decided_ns=self.now_ns),
            seg,
        )
        self.now_ns += 200_000_000
        self.send("asr.text", AsrText(text=text, segment_id=seg, language=language), seg)

    def llm_says(
        self,
        request_id: str,
        *pieces: str,
        intents: tuple[CarIntent, ...] = (),
        finish: str = "stop",
    ):
        for i, piece in enumerate(pieces):
            self.now_ns += 50_000_000
            self.send("llm.delta", LlmDelta(request_id=request_id, index=i, text=piece), request_id)
        self.send(
            "llm.reply",
            LlmReply(
                request_id=request_id,
                text="".join(pieces),
                intents=intents,
                finish_reason=finish,  # type: ignore[arg-type]
            ),
            request_id,
        )

    def tts_plays(self) -> None:
        """The TTS answers every request seen so far that has no audio yet."""
        done = {(a.turn_id, a.index) for a in self.out_peer_audio}
        for req in self.out("tts.request"):
            if (req.turn_id, req.index) in done:
                continue
            self.now_ns += 20_000_000
            pcm = b"\x00\x01" * 160 if req.text else b""
            audio = TtsAudio(
                pcm=pcm, sample_rate_hz=16000, turn_id=req.turn_id, index=req.index, final=req.final
            )
            self.out_peer_audio.append(audio)
            self.send("tts.audio", audio, req.turn_id)


def make(**settings: Any) -> Harness:
    """A harness with these dialog settings."""
    return Harness(**settings)
