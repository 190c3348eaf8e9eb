"""The state LED's manifest: the assistant's activity in, ``ext.state_led.shown`` out.

Named by ``manifest: state_led_manifest`` in ``worker.yaml``; the supervisor imports it from the
worker's ``cwd`` before anything starts (see ``docs/writing-a-worker.md``). It holds the worker's
message model and settings class (the recipe ``state_led.py`` imports them from here, so that
``python -m state_led`` does not define them twice).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bus import Manifest, Message, register_topic
from schemas import DialogState, LlmDelta, SpeakerReport, TtsAudio, VadState


class LedShown(Message):
    """The indicator changed (topic ``ext.state_led.shown``)."""

    state: Literal["idle", "listening", "thinking", "speaking", "error"]
    """What the indicator shows now."""
    cause: str
    """Topic of the event that changed it, or ``timeout`` for the fall back to idle."""


register_topic("ext.state_led.shown", LedShown)


class Settings(BaseModel):
    """The LED worker's ``settings``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    output: Literal["terminal", "sysfs"] = "terminal"
    """Where to show the state."""
    sysfs: dict[Literal["red", "green", "blue"], Path] = {}
    """Value file per colour, for ``output: sysfs``."""
    max_value: int = Field(default=1, ge=1)
    """Value written to switch a colour on."""
    idle_after_s: float = Field(default=15.0, gt=0)
    """Seconds without events after which the indicator falls back to idle."""

    @model_validator(mode="after")
    def _sysfs_needs_paths(self) -> Settings:
        if self.output == "sysfs" and not self.sysfs:
            raise ValueError("output 'sysfs' needs a 'sysfs' map of colour to value file")
        return self


MANIFEST = Manifest(
    kind="sink",
    summary="Shows listening / thinking / speaking on an LED or the terminal.",
    consumes={
        "vad.state": VadState,
        "dialog.state": DialogState,
        "llm.delta": LlmDelta,
        "tts.audio": TtsAudio,
        "speaker.report": SpeakerReport,
    },
    produces={"ext.state_led.shown": LedShown},
    settings=Settings,
)
