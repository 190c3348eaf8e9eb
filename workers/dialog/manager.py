"""The turn manager: what the dialog does with each message, as a pure state machine.

:class:`TurnManager` takes a decoded message and the time it was received, and returns the
messages to publish (``list[bus.Out]``); :meth:`TurnManager.tick` handles the deadlines. It never
touches the bus or the clock itself, so every behaviour is testable with plain calls. It holds
the dialog's state and the steps every stage shares (speak, close, show the state); the stages
live beside it:

- :mod:`~workers.dialog.stopping`, safety first: a stop word in any transcript (the pause's
  ``asr.partial`` or the segment's ``asr.text``) sends STOP to the car at once, awake or not;
- :mod:`~workers.dialog.early`: the transcript of a pause may ask the LLM before the segment
  closes; the reply is held until the segment's transcript says the words were the same;
- :mod:`~workers.dialog.listening`, the user: ``vad.state`` speaking -> barge-in when the
  assistant is talking (``speaker.stop`` + ``llm.abort``, the turn reported as aborted), not
  speaking -> wait for the transcript; ``asr.text`` -> wake phrase / awake window -> a device
  question answered from telemetry, a car command understood locally, or an ``llm.request``;
  ``sys.lifecycle`` of the ASR worker dying, or a transcript that never comes -> an apology;
- :mod:`~workers.dialog.answering`, the reply: ``llm.delta`` -> ``tts.request`` per complete
  sentence (never the thinking); ``llm.reply`` -> last sentences, the intent -> ``rtos.command``
  one at a time or a spoken refusal; ``rtos.ack`` -> the outcome spoken; ``tts.audio`` -> first
  audio time, the final one closes the turn (``dialog.turn``); ``speaker.report`` -> playing;
  the LLM worker dying or stalling -> an apology; ``llm.wait`` -> a short spoken "one moment"
  (:mod:`~workers.dialog.waiting`);
- :mod:`~workers.dialog.recovery`, the faults: the VAD, the TTS, the speaker, the car's gateway
  or the bus proxy lost -> what the user did not hear is said again, a lost utterance
  apologised for, a reply lost on the bus asked for again; :mod:`~workers.dialog.delivery` keeps
  what became of each sentence sent;
- :mod:`~workers.dialog.memory`, the state across a restart of the dialog itself: saved before
  each change is published, restored by :meth:`TurnManager.start`.

Every message of a turn carries the turn id (the VAD segment id) as its trace.
"""

from __future__ import annotations

import logging

from bus import Envelope, Out
from schemas.asr import AsrPartial, AsrText
from schemas.dialog import DialogState
from schemas.llm import ChatMessage, LlmAbort, LlmDelta, LlmReply, LlmRequest, LlmWait
from schemas.rtos import RtosAck, RtosTelemetry
from schemas.speaker import SpeakerReport
from schemas.system import LifecycleEvent
from schemas.tts import TtsAudio, TtsRequest
from schemas.vad import VadResumed, VadState
from text.endofturn import without_trailing_mark
from text.history import History, copies_earlier
from workers.dialog import answering, early, listening
from workers.dialog.car import CarDesk
from workers.dialog.delivery import Delivery
from workers.dialog.early import Early
from workers.dialog.memory import Memory
from workers.dialog.recovery import Recovery
from workers.dialog.settings import DialogSettings
from workers.dialog.stopping import Stopped, on_stop_ack
from workers.dialog.turn import Partial, Timeline, Turn
from workers.dialog.waiting import wait_notice
from workers.dialog.wake import AwakeWindow, WakeMatcher

__all__ = ["TurnManager"]

log = logging.getLogger(__name__)


class TurnManager:
    """The dialog's state and its reaction to each message."""

    def __init__(
        self, settings: DialogSettings, *, name: str = "dialog", memory: Memory | None = None
    ) -> None:
        self.s = settings
        self.name = name
        self.matcher = WakeMatcher(settings.wake_phrases) if settings.wake == "phrase" else None
        self.window = AwakeWindow(settings.awake_window_s, always_awake=self.matcher is None)
        # bounded when a request is built (answering.stable_history), not at every add: cutting
        # the oldest turn at each exchange would change the prompt's prefix at every turn
        self.history = History()
        self.telemetry: RtosTelemetry | None = None
        self.turn: Turn | None = None
        """The turn being answered (or the last one)."""
        self.turns: dict[str, Turn] = {}
        """The last few turns by id (late audio and parts of a long segment find theirs)."""
        self.pending: dict[str, tuple[Timeline, int]] = {}
        """Segments whose transcript is awaited: their timeline and deadline (ns)."""
        self.playing: set[str] = set()
        """Turns the speaker is playing now."""
        self.car = CarDesk(settings.bounds, source=name, speak_done=settings.speak_done)
        self.delivery = Delivery()
        """What became of each sentence sent (synthesized, played)."""
        self.recovery = Recovery()
        """Lost workers and the checks due after a loss (:mod:`~workers.dialog.recovery`)."""
        self.memory = memory
        """Where the state is kept across a restart (:mod:`~workers.dialog.memory`)."""
        self.stopped: dict[str, Stopped] = {}
        """Utterances (segment ids) that stopped the car, with their STOP."""
        self.partials: dict[str, Partial] = {}
        """Segment id -> its latest speculative transcript (``asr.partial``)."""
        self.early: Early | None = None
        """A request asked with the transcript of a pause, before its segment closed."""
        self.resumed: dict[str, int] = {}
        """Segment id -> the latest pause its speech went on after (``vad.resumed``): a pause's
        transcript that comes after that is never asked early."""
        self._shown: tuple[str, bool, str] = ("", True, "")

    # --- entry points --------------------------------------------------------------------

    def start(self, now_ns: int = 0) -> list[Out]:
        """What to publish once at start: what the state of a dialog that died before needs to
        go on (:mod:`~workers.dialog.memory`), else a warm-up request (its reply is ignored)."""
        if self.memory is not None:
            resumed = self.memory.restore(self, now_ns)
            if resumed is not None:
                return resumed  # the LLM was warm already
        out: list[Out] = []
        self.restore_state(out)  # say what the dialog is (a restarted one: no longer speaking)
        if not self.s.warm_up:
            return out
        req = LlmRequest.warm_up(self.s.system_prompt, self.s.tools)
        return [*out, Out("llm.request", req, "warm-up")]

    def handle(self, msg: Envelope, now_ns: int) -> list[Out]:
        """React to one message received at ``now_ns`` (monotonic)."""
        p = msg.payload
        out: list[Out] = []
        if isinstance(p, TtsAudio):
            self.delivery.synthesized(p)
        elif isinstance(p, VadState):
            self.recovery.on_vad(p)
        elif isinstance(p, SpeakerReport):
            self.delivery.reported(p, now_ns)
        if isinstance(p, VadState):
            listening.on_vad(self, p, msg, now_ns, out)
            self.recovery.on_closed(self, p, now_ns, out)
        elif isinstance(p, AsrPartial):
            listening.on_partial(self, p, msg, now_ns, out)
        elif isinstance(p, VadResumed):
            early.resumed(self, p, out)
        elif isinstance(p, AsrText):
            listening.on_asr(self, p, msg, now_ns, out)
        elif isinstance(p, LlmDelta | LlmReply) and early.hold(self, p, msg):
            pass  # an early request's output waits for its segment's transcript
        elif isinstance(p, LlmDelta):
            answering.on_delta(self, p, msg, now_ns, out)
        elif isinstance(p, LlmReply):
            answering.on_reply(self, p, now_ns, out)
        elif isinstance(p, LlmWait):  # a short "one moment" while the LLM's server is busy
            notice = wait_notice(self.turn, p, now_ns, self.s.llm_first_token_timeout_s)
            out += [Out("tts.request", r, r.turn_id) for r in notice]
        elif isinstance(p, TtsAudio):
            answering.on_audio(self, p, msg, now_ns, out)
        elif isinstance(p, SpeakerReport):
            answering.on_speaker(self, p, now_ns, out)
        elif isinstance(p, RtosAck):
            on_stop_ack(self, p)
            answering.on_ack(self, p, now_ns, out)
        elif isinstance(p, RtosTelemetry):
            self.telemetry = p
            answering.on_telemetry(self, p, now_ns, out)
        elif isinstance(p, LifecycleEvent):
            listening.on_lifecycle(self, p, now_ns, out)
            answering.on_lifecycle(self, p, now_ns, out)
            self.recovery.on_lifecycle(self, p, now_ns, out)
        return self._done(out, now_ns)

    def tick(self, now_ns: int) -> list[Out]:
        """Deadlines: lost transcripts, stalled replies, missing audio, the awake window."""
        out: list[Out] = []
        self.recovery.tick(self, now_ns, out)
        for seg_id, (_, deadline) in list(self.pending.items()):
            if now_ns >= deadline:
                self.recovery.fail_lost(self, seg_id, now_ns, out, why="timeout")
        t = self.turn
        if t is not None and t.deadline_ns and now_ns >= t.deadline_ns:
            if t.stage == "llm":
                log.warning("llm_timeout turn=%s", t.turn_id)
                abort = LlmAbort(request_id=t.request_id, reason="timeout")
                out.append(Out("llm.abort", abort, t.turn_id))
                answering.apologise(self, t, "llm_failed", now_ns, out)
            elif t.stage == "speaking":
                log.warning("tts_timeout turn=%s", t.turn_id)
                self.close(t, now_ns, out)
        if self.assistant_talking() or self.pending:
            self.window.touch(now_ns / 1e9)  # a turn in progress keeps the window open
        elif self.window.expire(now_ns / 1e9):
            log.info("awake_window_closed")
            self.set_state("idle", "", "", out)
        return self._done(out, now_ns)

    def _done(self, out: list[Out], now_ns: int) -> list[Out]:
        """Account for the sentences sent and stopped; keep the state before it is published."""
        for o in out:
            if o.topic == "tts.request":
                self.delivery.sent(o.payload)  # type: ignore[arg-type]
            elif o.topic == "speaker.stop":
                self.delivery.stopped(o.payload.turn_id)  # type: ignore[attr-defined]
        if self.memory is not None:
            self.memory.keep(self, now_ns)
        return out

    # --- what every stage shares ---------------------------------------------------------

    def assistant_talking(self) -> bool:
        """True while a reply is being generated, spoken or played."""
        t = self.turn
        return bool(self.playing) or (t is not None and t.stage in ("llm", "speaking"))

    def speak(
        self,
        t: Turn,
        reqs: list[TtsRequest],
        now_ns: int,
        out: list[Out],
        *,
        stage: str = "speaking",
        follow_up: bool = False,
    ) -> None:
        """Send sentences to the TTS; ``stage`` speaking starts the TTS deadline."""
        out += [Out("tts.request", r, t.turn_id) for r in reqs]
        if not t.timeline.first_request_ns and any(r.text for r in reqs):
            t.timeline.first_request_ns = now_ns
        if follow_up:
            return
        if stage == "speaking":
            t.stage = "speaking"
            t.deadline_ns = now_ns + int(self.s.tts_timeout_s * 1e9)
        if reqs and reqs[0].text and self._shown[0] != "speaking":
            self.set_state("speaking", t.turn_id, reqs[0].text, out)

    def close(self, t: Turn, now_ns: int, out: list[Out]) -> None:
        """The turn is over: report it once (``dialog.turn``)."""
        t.stage = "done"
        t.deadline_ns = 0
        if not t.reported:
            t.reported = True
            out.append(Out("dialog.turn", t.metrics(), t.turn_id))
        self.window.touch(now_ns / 1e9)
        if not self.playing:
            self.restore_state(out)

    def remember(self, t: Turn, answer: str = "") -> None:
        """Keep the exchange in the history the next request carries."""
        answer = answer or " ".join(t.speech.spoken)
        earlier = [x.content for x in self.history.messages if x.role == "assistant"]
        if t.request_id and t.user_text and answer and copies_earlier(answer, earlier):
            # a copy of an earlier answer would be copied again every turn after: not kept
            log.info("history_skip turn=%s reason=copies_an_earlier_answer", t.turn_id)
        elif t.request_id and t.user_text:
            user = without_trailing_mark(t.user_text)  # as the request carried it
            self.history.add(ChatMessage(role="user", content=user))
            if answer:
                self.history.add(ChatMessage(role="assistant", content=answer))
        t.reply_text = answer

    def restore_state(self, out: list[Out]) -> None:
        """Show idle (the awake flag tells listening from asleep)."""
        self.set_state("idle", "", "", out)

    def set_state(self, state: str, turn_id: str, text: str, out: list[Out]) -> None:
        """Publish ``dialog.state`` when what it shows changes."""
        key = (state, self.window.awake, turn_id)
        if key == self._shown:
            return
        self._shown = key
        msg = DialogState(state=state, turn_id=turn_id, awake=self.window.awake, text=text)  # type: ignore[arg-type]
        out.append(Out("dialog.state", msg, turn_id))
