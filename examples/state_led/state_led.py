"""State LED: an out-of-tree worker showing listening / thinking / speaking on an indicator.

Consumes ``vad.state``, ``dialog.state``, ``llm.delta``, ``tts.audio`` and ``speaker.report``;
produces ``ext.state_led.shown`` each time the indicator changes (so a tap or a test can see what
the LED shows). On a host it prints to the terminal; on the board it drives an RGB LED or three
GPIO lines through sysfs (``led_outputs.py`` is the seam).

Settings (``settings:`` of its worker entry)::

    output: terminal            # or sysfs
    sysfs: {red: /sys/class/leds/red/brightness, green: ..., blue: ...}
    max_value: 1                # value written for "on" (255 for some LED class devices)
    idle_after_s: 15.0          # back to idle when no event came for this long

Run it with ``python supervisor.py add examples/state_led/worker.yaml`` or by hand with
``VOICEBUS_NAME=led python state_led.py``; see ``docs/writing-a-worker.md``.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Literal

from indicator import TOPICS, Indicator
from led_outputs import Led, SysfsLed, TerminalLed
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bus import Envelope, MemoryNode, Message, Node, register_topic

log = logging.getLogger("state_led")


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


def make_led(settings: Settings) -> Led:
    """The output named by the settings."""
    if settings.output == "sysfs":
        return SysfsLed({str(c): p for c, p in settings.sysfs.items()}, settings.max_value)
    return TerminalLed(sys.stdout)


def handle(
    node: Node | MemoryNode, indicator: Indicator, led: Led, msg: Envelope | None, now_s: float
) -> str | None:
    """Feed one message (or ``None`` for a quiet moment) to the indicator; show what changed."""
    if msg is None:
        state, cause, trace = indicator.tick(now_s), "timeout", ""
    else:
        state, cause, trace = (
            indicator.on_event(msg.topic, msg.payload, now_s),
            msg.topic,
            msg.trace,
        )
    if state is not None:
        led.show(state)
        node.publish("ext.state_led.shown", LedShown(state=state, cause=cause), trace=trace)
    return state


def main() -> int:
    """Join the bus and show the state until SIGTERM; exit non-zero on an unexpected error."""
    node = Node.from_env()
    led: Led | None = None
    try:
        settings = node.settings_as(Settings)
        led = make_led(settings)
        indicator = Indicator(settings.idle_after_s)
        node.subscribe(*TOPICS)
        node.ready()
        led.show(indicator.state)
        while node.running:
            handle(node, indicator, led, node.poll(0.2), time.monotonic())
    except Exception:
        log.exception("state_led_failed")
        return 1
    finally:
        if led is not None:
            led.close()
        node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
