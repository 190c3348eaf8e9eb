"""The turn manager: what the dialog does with each message, as a pure state machine.

:class:`TurnManager` takes a decoded message and the time it was handled, and returns the
messages to publish (:class:`Out`); :meth:`TurnManager.tick` handles the deadlines. It never
touches the bus or the clock itself, so every behaviour is testable with plain calls:

- ``vad.state`` speaking -> barge-in when the assistant is talking (``speaker.stop`` +
  ``llm.abort``, the turn reported as aborted); not speaking -> wait for the transcript;
- ``asr.text`` -> wake phrase / awake window -> a device question answered from telemetry, a car
  command understood locally, or an ``llm.request`` with a bounded history;
- ``llm.delta`` -> ``tts.request`` per complete sentence (never the thinking);
- ``llm.reply`` -> last sentences, the intent -> one ``rtos.command`` each or a spoken refusal;
- ``llm.wait`` -> a short spoken "one moment" (:mod:`workers.dialog.waiting`);
- ``tts.audio`` -> first audio time; the final one closes the turn (``dialog.turn``);
- ``rtos.ack`` / ``rtos.telemetry`` -> the outcome spoken, the car's state kept;
- ``sys.lifecycle`` of the ASR or LLM worker dying, or a deadline passing -> a spoken apology.

Every message of a turn carries the turn id (the VAD segment id) as its trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bus.framing import Envelope
from schemas.asr import AsrText
from schemas.base import Message
from schemas.dialog import DialogState
from schemas.llm import ChatMessage, LlmAbort, LlmDelta, LlmReply, LlmRequest, LlmWait
from schemas.rtos import CarIntent, RtosAck, RtosTelemetry
from schemas.speaker import SpeakerReport, SpeakerStop
from schemas.system import LifecycleEvent
from schemas.tts import TtsAudio, TtsRequest
from schemas.vad import VadState
from text.history import History
from workers.dialog.car import CarDesk
from workers.dialog.commands import parse_command
from workers.dialog.device import answer_device_question
from workers.dialog.replies import language_of, say
from workers.dialog.settings import DialogSettings
from workers.dialog.speech import ReplySpeech
from workers.dialog.turn import Timeline, Turn
from workers.dialog.waiting import wait_notice
from workers.dialog.wake import AwakeWindow, WakeMatcher

__all__ = ["Out", "TurnManager"]

log = logging.getLogger(__name__)

_DEAD_EVENTS = frozenset({"exited", "hung", "restarting", "gave_up"})
_KEEP_TURNS = 8


@dataclass(frozen=True)
class Out:
    """A message to publish."""

    topic: str
    payload: Message
    trace: str = ""


class TurnManager:
    """The dialog's state and its reaction to each message."""

    def __init__(self, settings: DialogSettings, *, name: str = "dialog") -> None:
        self.s = settings
        self.name = name
        self.matcher = WakeMatcher(settings.wake_phrases) if settings.wake == "phrase" else None
        self.window = AwakeWindow(settings.awake_window_s, always_awake=self.matcher is None)
        self.history = History(max_chars=settings.history_max_chars)
        self.telemetry: RtosTelemetry | None = None
        self.turn: Turn | None = None
        self.turns: dict[str, Turn] = {}
        self._pending: dict[str, tuple[Timeline, int]] = {}
        self._playing: set[str] = set()
        self.car = CarDesk(settings.bounds, source=name, speak_done=settings.speak_done)
        self._state: tuple[str, bool, str] = ("", True, "")

    # --- entry points --------------------------------------------------------------------

    def start(self) -> list[Out]:
        """What to publish once at start: a warm-up request (its reply is ignored)."""
        if not self.s.warm_up:
            return []
        req = LlmRequest(
            request_id="warm-up",
            messages=(
                ChatMessage(role="system", content=self.s.system_prompt),
                ChatMessage(role="user", content="Hello."),
            ),
            max_tokens=1,
            tools=self.s.tools,
        )
        return [Out("llm.request", req, "warm-up")]

    def handle(self, msg: Envelope, now_ns: int) -> list[Out]:
        """React to one message handled at ``now_ns`` (monotonic)."""
        p = msg.payload
        out: list[Out] = []
        if isinstance(p, VadState):
            self._on_vad(p, msg, now_ns, out)
        elif isinstance(p, AsrText):
            self._on_asr(p, msg, now_ns, out)
        elif isinstance(p, LlmDelta):
            self._on_delta(p, msg, now_ns, out)
        elif isinstance(p, LlmReply):
            self._on_reply(p, now_ns, out)
        elif isinstance(p, LlmWait):  # a short "one moment" while the LLM's server is busy
            notice = wait_notice(self.turn, p, now_ns, self.s.llm_first_token_timeout_s)
            out += [Out("tts.request", r, r.turn_id) for r in notice]
        elif isinstance(p, TtsAudio):
            self._on_audio(p, msg, now_ns, out)
        elif isinstance(p, SpeakerReport):
            self._on_speaker(p, now_ns, out)
        elif isinstance(p, RtosAck):
            self._on_ack(p, now_ns, out)
        elif isinstance(p, RtosTelemetry):
            self.telemetry = p
        elif isinstance(p, LifecycleEvent):
            self._on_lifecycle(p, now_ns, out)
        return out

    def tick(self, now_ns: int) -> list[Out]:
        """Deadlines: lost transcripts, stalled replies, missing audio, the awake window."""
        out: list[Out] = []
        for seg_id, (_, deadline) in list(self._pending.items()):
            if now_ns >= deadline:
                self._fail_asr(seg_id, now_ns, out, why="timeout")
        t = self.turn
        if t is not None and t.deadline_ns and now_ns >= t.deadline_ns:
            if t.stage == "llm":
                log.warning("llm_timeout turn=%s", t.turn_id)
                out.append(
                    Out("llm.abort", LlmAbort(request_id=t.request_id, reason="timeout"), t.turn_id)
                )
                self._apologise(t, "llm_failed", now_ns, out)
            elif t.stage == "speaking":
                log.warning("tts_timeout turn=%s", t.turn_id)
                self._close(t, now_ns, out)
        if self._assistant_talking() or self._pending:
            self.window.touch(now_ns / 1e9)  # a turn in progress keeps the window open
        elif self.window.expire(now_ns / 1e9):
            log.info("awake_window_closed")
            self._set_state("idle", "", "", out)
        return out

    # --- the user ------------------------------------------------------------------------

    def _on_vad(self, p: VadState, msg: Envelope, now_ns: int, out: list[Out]) -> None:
        self.window.touch(now_ns / 1e9)
        if p.speaking:
            if self.s.barge_in and self._assistant_talking():
                self._barge_in(now_ns, out)
            if self.window.awake:
                self._set_state("listening", p.segment_id, "", out)
            return
        if p.dropped:  # too short to be speech: no segment, no transcript follows
            if not self._assistant_talking():
                self._restore_state(out)
            return
        tl = Timeline(speech_end_ns=p.at_ns, closed_ns=p.decided_ns or now_ns)
        tl.bus_ns += max(0, now_ns - msg.ts_ns)
        self._pending[p.segment_id] = (tl, now_ns + int(self.s.asr_timeout_s * 1e9))
        if self.window.awake and not self._assistant_talking():
            self._set_state("thinking", p.segment_id, "", out)

    def _assistant_talking(self) -> bool:
        t = self.turn
        return bool(self._playing) or (t is not None and t.stage in ("llm", "speaking"))

    def _barge_in(self, now_ns: int, out: list[Out]) -> None:
        t = self.turn
        log.info("barge_in turn=%s", t.turn_id if t else "")
        # Name each turn: the speaker then also refuses its audio still on the way.
        turns = set(self._playing) | ({t.turn_id} if t is not None and t.stage != "done" else set())
        for turn_id in sorted(turns) or [""]:
            out.append(
                Out("speaker.stop", SpeakerStop(reason="barge-in", turn_id=turn_id), turn_id)
            )
        self._playing.clear()
        if t is not None and t.stage in ("llm", "speaking"):
            if t.stage == "llm":
                out.append(Out("llm.abort", LlmAbort(request_id=t.request_id), t.turn_id))
            t.outcome = "aborted"
            self._remember(t)
            self._close(t, now_ns, out)

    def _on_asr(self, p: AsrText, msg: Envelope, now_ns: int, out: list[Out]) -> None:
        if p.segment_id in self.turns:
            self._more_of_turn(self.turns[p.segment_id], p.text.strip(), now_ns, out)
            return
        tl, _ = self._pending.pop(p.segment_id, (Timeline(speech_end_ns=p.speech_end_ns), 0))
        tl.transcript_ns = now_ns
        tl.bus_ns += max(0, now_ns - msg.ts_ns)
        trace = p.segment_id
        text = p.text.strip()
        if not text:
            self._restore_state(out)
            return
        hit = self.matcher.match(text) if self.matcher is not None else None
        if not self.window.awake and hit is None:
            log.info("not_awake text=%r", text)
            out.append(
                Out("dialog.turn", tl.metrics(trace, user_text=text, outcome="ignored"), trace)
            )
            self._restore_state(out)
            return
        if hit is not None:
            self.window.open(now_ns / 1e9)
            text = hit.rest
        self.window.touch(now_ns / 1e9)
        lang = (
            language_of(text or p.text)
            if not p.language or p.language not in ("en", "zh")
            else p.language
        )
        if self.turn is not None and self.turn.stage in ("llm", "speaking"):
            self._barge_in(now_ns, out)  # a new utterance supersedes the one being answered
        t = Turn(
            trace, lang, text, tl, ReplySpeech(trace, lang, max_chars=self.s.sentence_max_chars)
        )
        self.turn = t
        self.turns[trace] = t
        while len(self.turns) > _KEEP_TURNS:
            self.turns.pop(next(iter(self.turns)))
        if not text:
            self._speak(t, t.speech.say(say("wake", lang)), now_ns, out)
            return
        answer = answer_device_question(text, self.telemetry) if self.s.device_questions else None
        if answer is not None:
            self._remember(t, answer)
            self._speak(t, t.speech.say(answer), now_ns, out)
            return
        intents = parse_command(text) if self.s.local_commands else None
        if intents is not None:
            t.outcome = "command"
            self._speak(t, t.speech.say_texts(self._act(t, intents, out)), now_ns, out)
            return
        self._ask_llm(t, now_ns, out)

    def _more_of_turn(self, t: Turn, text: str, now_ns: int, out: list[Out]) -> None:
        """A later part of a long segment (the VAD splits monologues): ask again with all of it."""
        if not text or t.stage != "llm":
            log.info("late_part_ignored turn=%s stage=%s", t.turn_id, t.stage)
            return
        out.append(Out("llm.abort", LlmAbort(request_id=t.request_id, reason="more"), t.turn_id))
        t.user_text = f"{t.user_text} {text}".strip()
        t.speech = ReplySpeech(t.turn_id, t.language, max_chars=self.s.sentence_max_chars)
        self._ask_llm(t, now_ns, out, part=t.request_id.count("+") + 1)

    # --- the LLM -------------------------------------------------------------------------

    def _ask_llm(self, t: Turn, now_ns: int, out: list[Out], *, part: int = 0) -> None:
        user = ChatMessage(role="user", content=t.user_text)
        system = ChatMessage(role="system", content=self.s.system_prompt)
        t.request_id = t.turn_id + "+" * part
        req = LlmRequest(
            request_id=t.request_id,
            messages=(system, *self.history.with_new([user])),
            max_tokens=self.s.max_tokens,
            temperature=self.s.temperature,
            tools=self.s.tools,
            enable_thinking=self.s.enable_thinking,
        )
        t.stage = "llm"
        t.deadline_ns = now_ns + int(self.s.llm_first_token_timeout_s * 1e9)
        out.append(Out("llm.request", req, t.turn_id))
        self._set_state("thinking", t.turn_id, t.user_text, out)

    def _on_delta(self, p: LlmDelta, msg: Envelope, now_ns: int, out: list[Out]) -> None:
        t = self.turn
        if t is None or t.stage != "llm" or p.request_id != t.request_id:
            return
        if not t.timeline.first_token_ns:
            t.timeline.first_token_ns = now_ns
            t.timeline.bus_ns += max(0, now_ns - msg.ts_ns)
        t.deadline_ns = now_ns + int(self.s.llm_stall_timeout_s * 1e9)
        reqs = t.speech.feed(p.text, thinking=p.thinking)
        if reqs:
            self._speak(t, reqs, now_ns, out, stage="llm")

    def _on_reply(self, p: LlmReply, now_ns: int, out: list[Out]) -> None:
        t = self.turn
        if t is None or t.stage != "llm" or p.request_id != t.request_id:
            return
        if p.finish_reason == "error" or p.finish_reason == "abort":
            log.warning(
                "llm_failed turn=%s reason=%s error=%s", t.turn_id, p.finish_reason, p.error
            )
            self._apologise(t, "llm_failed", now_ns, out)
            return
        extra: list[str] = []
        if p.intent_error:
            log.warning(
                "intent_refused turn=%s error=%s call=%r", t.turn_id, p.intent_error, p.refused_call
            )
            extra.append(say("garbled", t.language))
        elif p.intents:
            t.outcome = "command"
            extra += self._act(t, list(p.intents), out)
        if not p.text.strip() and not t.speech.spoken and not extra:
            extra.append(say("no_answer", t.language))
        reqs = t.speech.finish(*extra)
        self._remember(t, p.text.strip())
        self._speak(t, reqs, now_ns, out)

    def _remember(self, t: Turn, answer: str = "") -> None:
        answer = answer or " ".join(t.speech.spoken)
        if t.request_id and t.user_text:
            self.history.add(ChatMessage(role="user", content=t.user_text))
            if answer:
                self.history.add(ChatMessage(role="assistant", content=answer))
        t.reply_text = answer

    # --- the car -------------------------------------------------------------------------

    def _act(self, t: Turn, intents: list[CarIntent], out: list[Out]) -> list[str]:
        """Commands for valid intents (all or none, see :class:`CarDesk`); what to say."""
        cmds, sentences, what = self.car.act(t, intents)
        out += [Out("rtos.command", c, t.turn_id) for c in cmds]
        if what:
            self._set_state("acting", t.turn_id, what, out)
        return sentences

    def _on_ack(self, p: RtosAck, now_ns: int, out: list[Out]) -> None:
        t, cmds, text = self.car.on_ack(p)
        if t is None:
            return
        out += [Out("rtos.command", c, t.turn_id) for c in cmds]
        if text:
            self._speak(t, t.speech.say(text), now_ns, out, follow_up=True)

    # --- speaking ------------------------------------------------------------------------

    def _speak(
        self,
        t: Turn,
        reqs: list[TtsRequest],
        now_ns: int,
        out: list[Out],
        *,
        stage: str = "speaking",
        follow_up: bool = False,
    ) -> None:
        out += [Out("tts.request", r, t.turn_id) for r in reqs]
        if follow_up:
            return
        if stage == "speaking":
            t.stage = "speaking"
            t.deadline_ns = now_ns + int(self.s.tts_timeout_s * 1e9)
        if reqs and reqs[0].text and self._state[0] != "speaking":
            self._set_state("speaking", t.turn_id, reqs[0].text, out)

    def _on_audio(self, p: TtsAudio, msg: Envelope, now_ns: int, out: list[Out]) -> None:
        t = self.turns.get(p.turn_id)
        if t is None:
            return
        if not t.timeline.first_audio_ns and p.pcm:
            t.timeline.first_audio_ns = now_ns
            t.timeline.bus_ns += max(0, now_ns - msg.ts_ns)
        if p.final and t.stage == "speaking" and p.index == t.speech.sent - 1:
            self._close(t, now_ns, out)

    def _on_speaker(self, p: SpeakerReport, now_ns: int, out: list[Out]) -> None:
        if p.event == "started":
            self._playing.add(p.turn_id)
        else:
            self._playing.discard(p.turn_id)
            self.window.touch(now_ns / 1e9)
            if not self._playing and (self.turn is None or self.turn.stage == "done"):
                self._restore_state(out)

    def _close(self, t: Turn, now_ns: int, out: list[Out]) -> None:
        t.stage = "done"
        t.deadline_ns = 0
        if not t.reported:
            t.reported = True
            out.append(Out("dialog.turn", t.metrics(), t.turn_id))
        self.window.touch(now_ns / 1e9)
        if not self._playing:
            self._restore_state(out)

    # --- failures ------------------------------------------------------------------------

    def _on_lifecycle(self, p: LifecycleEvent, now_ns: int, out: list[Out]) -> None:
        if p.event not in _DEAD_EVENTS:
            return
        if p.worker == self.s.asr_worker:
            for seg_id in list(self._pending):
                self._fail_asr(seg_id, now_ns, out, why=p.event)
        t = self.turn
        if p.worker == self.s.llm_worker and t is not None and t.stage == "llm":
            log.warning("llm_worker_lost turn=%s event=%s", t.turn_id, p.event)
            self._apologise(t, "llm_failed", now_ns, out)

    def _fail_asr(self, seg_id: str, now_ns: int, out: list[Out], *, why: str) -> None:
        tl, _ = self._pending.pop(seg_id)
        if not self.window.awake:
            return  # it may not have been meant for us: stay quiet
        log.warning("asr_failed segment=%s why=%s", seg_id, why)
        lang = self.turn.language if self.turn is not None else "en"
        t = Turn(seg_id, lang, "", tl, ReplySpeech(seg_id, lang), outcome="error")
        self.turn = self.turns[seg_id] = t
        self._speak(t, t.speech.say(say("asr_failed", lang)), now_ns, out)

    def _apologise(self, t: Turn, key: str, now_ns: int, out: list[Out]) -> None:
        t.outcome = "error"
        t.speech.finish()  # drop a half sentence
        self._speak(t, t.speech.say(say(key, t.language)), now_ns, out)

    # --- state ---------------------------------------------------------------------------

    def _restore_state(self, out: list[Out]) -> None:
        self._set_state("idle", "", "", out)

    def _set_state(self, state: str, turn_id: str, text: str, out: list[Out]) -> None:
        key = (state, self.window.awake, turn_id)
        if key == self._state:
            return
        self._state = key
        msg = DialogState(state=state, turn_id=turn_id, awake=self.window.awake, text=text)  # type: ignore[arg-type]
        out.append(Out("dialog.state", msg, turn_id))
