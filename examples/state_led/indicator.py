"""What the assistant is doing, derived from bus events: the state machine of the LED example.

Pure: no bus, no clock. Feed it ``(topic, payload, now_s)`` and ``tick(now_s)``; each returns the
new state when it changed, else ``None``.

=================  ========================================================================
event              state shown
=================  ========================================================================
vad.state          speech started -> listening; speech ended -> thinking (ASR, LLM next)
dialog.state       its own state (acting is shown as thinking); authoritative when present
llm.delta          thinking, unless audio is already playing for the turn
tts.audio          speaking
speaker.report     started -> speaking; finished or cut -> idle
(nothing)          idle once no event arrived for ``idle_after_s`` (a lost report)
=================  ========================================================================
"""

from __future__ import annotations

from typing import Any, Literal

State = Literal["idle", "listening", "thinking", "speaking", "error"]

_DIALOG: dict[str, State] = {
    "idle": "idle",
    "listening": "listening",
    "thinking": "thinking",
    "acting": "thinking",
    "speaking": "speaking",
    "error": "error",
}


class Indicator:
    """The assistant's state as an indicator shows it."""

    def __init__(self, idle_after_s: float = 15.0) -> None:
        self.state: State = "idle"
        self.idle_after_s = idle_after_s
        self._last_event_s: float | None = None

    def on_event(self, topic: str, payload: Any, now_s: float) -> State | None:
        """Take one bus event; the new state if it changed."""
        self._last_event_s = now_s
        return self._set(self._next(topic, payload))

    def tick(self, now_s: float) -> State | None:
        """Fall back to idle after ``idle_after_s`` without events; the new state if changed."""
        if (
            self.state not in ("idle", "error")
            and self._last_event_s is not None
            and now_s - self._last_event_s >= self.idle_after_s
        ):
            return self._set("idle")
        return None

    def _next(self, topic: str, p: Any) -> State | None:
        if topic == "vad.state":
            return "listening" if p.speaking else "thinking"
        if topic == "dialog.state":
            return _DIALOG.get(p.state)
        if topic == "llm.delta":
            return None if self.state == "speaking" else "thinking"
        if topic == "tts.audio":
            return "speaking"
        if topic == "speaker.report":
            return "speaking" if p.event == "started" else "idle"
        return None

    def _set(self, state: State | None) -> State | None:
        if state is None or state == self.state:
            return None
        self.state = state
        return state
