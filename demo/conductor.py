"""When the demo says its next line: after the previous turn is over, or during a reply.

:class:`Conductor` watches the bus (:meth:`feed`) and answers :meth:`due` with the index of the
line to say now, or ``None``. A turn is over when a ``dialog.turn`` arrived since the line was
said (for speech that started after it), no speech is waiting or playing, no car command is
unfinished, the dialog is idle and nothing happened for ``settle_s``. The barge-in line is said
``barge_after_s`` after the assistant started speaking its answer to the line before it, or
plainly once that turn is over when it got no reply to interrupt. A line whose turn never ends
is given up after ``line_timeout_s`` (and counted), and what was pending is forgotten.

A ``speaker.stop`` cancels speech as the TTS does (``workers/tts/queue.py``): the turn it names,
or every turn seen so far, and any sentence asked later for a cancelled turn (the car's "Done."
of a command turn the user barged in on): it will never be played, so it is not waited for.

Told of deaths (``sys.lifecycle``), it does not wait for what a dead worker will never finish:
the audio a dead speaker or TTS held (what the dialog sends again is waited for anew), the acks a
dead gateway or RT app owed. ``modules`` maps worker names to their modules (a name is taken as
its own module otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bus import Envelope
from demo.script import Line
from schemas.dialog import DialogState, TurnMetrics
from schemas.rtos import RtosAck, RtosCommand
from schemas.speaker import SpeakerReport, SpeakerStop
from schemas.system import Heartbeat, LifecycleEvent
from schemas.tts import TtsRequest
from schemas.vad import VadState

__all__ = ["Conductor"]

_ACTIVITY = {"asr.text", "tts.request", "speaker.report", "rtos.command", "rtos.ack"}
_DEATHS = frozenset({"exited", "hung"})


@dataclass
class Conductor:
    """The demo's cue sheet."""

    script: tuple[Line, ...]
    expected: set[str]
    """Workers that must be ready before the first line."""
    settle_s: float = 1.5
    barge_after_s: float = 1.5
    line_timeout_s: float = 90.0
    rounds: int = 1
    """How many times the script is said (more for a soak)."""
    round: int = 0
    ready: set[str] = field(default_factory=set)
    next_line: int = 0
    said_at: float = -1.0
    """When the current line was said (-1: none yet)."""
    turns_since: int = 0
    segments: set[str] = field(default_factory=set)
    """Speech segments that started since the current line was said."""
    playing: set[str] = field(default_factory=set)
    """Turns with speech requested or playing: from ``tts.request`` to the speaker's end."""
    spoken: set[str] = field(default_factory=set)
    """Turns that asked for speech (what a stop naming no turn cancels)."""
    cancelled: set[str] = field(default_factory=set)
    """Turns a ``speaker.stop`` cancelled: their later sentences are never played."""
    commands: set[int] = field(default_factory=set)
    """Car commands sent and not finished."""
    reply_started_at: float = -1.0
    state: str = "idle"
    last_activity: float = 0.0
    timed_out: list[int] = field(default_factory=list)
    modules: dict[str, str] = field(default_factory=dict)
    """Worker name -> module (``workers.speaker``...), to know what a death means."""

    def feed(self, msg: Envelope, now: float) -> None:
        """Take note of one message seen at ``now`` (monotonic s)."""
        p = msg.payload
        if msg.topic in _ACTIVITY:
            self.last_activity = now
        if (isinstance(p, Heartbeat) and p.state == "ready") or (
            isinstance(p, LifecycleEvent) and p.event == "ready"
        ):
            self.ready.add(p.worker)
        elif isinstance(p, LifecycleEvent) and p.event in _DEATHS:
            self._forget(self.modules.get(p.worker, p.worker))
        elif isinstance(p, TtsRequest) and p.text:
            self.spoken.add(p.turn_id)
            if p.turn_id not in self.cancelled:
                self.playing.add(p.turn_id)
        elif isinstance(p, SpeakerStop):
            stopped = {p.turn_id} if p.turn_id else set(self.spoken)
            self.cancelled |= stopped
            self.playing -= stopped
        elif isinstance(p, SpeakerReport):
            if p.event == "started":
                if self.said_at >= 0 and self.reply_started_at < 0:
                    self.reply_started_at = now
            else:
                self.playing.discard(p.turn_id)
        elif isinstance(p, RtosCommand):
            self.commands.add(p.cmd_id)
        elif isinstance(p, RtosAck) and p.status not in ("accepted", "started"):
            self.commands.discard(p.cmd_id)
        elif isinstance(p, DialogState):
            self.state = p.state
        elif isinstance(p, VadState) and p.speaking and self.said_at >= 0:
            self.segments.add(p.segment_id)
        elif isinstance(p, TurnMetrics) and p.turn_id in self.segments:
            self.turns_since += 1

    @property
    def finished(self) -> bool:
        """Every line said and its turn over."""
        return self.next_line >= len(self.script) and self.said_at < 0

    def _forget(self, module: str) -> None:
        if module in ("workers.speaker", "workers.tts"):
            self.playing.clear()
        elif module in ("workers.rtgw", "rtapp"):
            self.commands.clear()

    def due(self, now: float, mic_busy: bool) -> int | None:
        """The line to say now, if any."""
        if not self.expected <= self.ready or mic_busy:
            return None
        if self.said_at >= 0:
            upcoming = self.script[self.next_line] if self.next_line < len(self.script) else None
            late = now - self.said_at >= self.line_timeout_s
            if upcoming is not None and upcoming.kind == "barge-in" and self.reply_started_at >= 0:
                if now - self.reply_started_at >= self.barge_after_s:
                    return self._say(now)
                if not late:
                    return None
            elif not self._turn_over(now):
                if not late:
                    return None
                self.timed_out.append(self.next_line - 1)
                self.playing.clear()  # the user gives up waiting for whatever is pending
                self.commands.clear()
                self.state = "idle"
            # (a barge-in line whose line before got no reply to interrupt: said plainly)
            self.said_at = -1.0
            if self.next_line >= len(self.script):
                if self.round + 1 >= self.rounds:
                    return None
                self.round += 1
                self.next_line = 0
            self.last_activity = now  # a short pause between turns
            return None
        if self.next_line >= len(self.script) or now - self.last_activity < 1.0:
            return None
        return self._say(now)

    def _turn_over(self, now: float) -> bool:
        return (
            self.turns_since > 0
            and not self.playing
            and not self.commands
            and self.state in ("idle", "listening")
            and now - self.last_activity >= self.settle_s
        )

    def _say(self, now: float) -> int:
        i = self.next_line
        self.next_line += 1
        self.said_at = now
        self.turns_since = 0
        self.segments = set()
        self.reply_started_at = -1.0
        self.last_activity = now
        return i
