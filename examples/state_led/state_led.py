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

from indicator import Indicator
from led_outputs import Led, SysfsLed, TerminalLed
from state_led_manifest import MANIFEST, LedShown, Settings

from bus import BusNode, Envelope, Tick
from workers.runner import run_worker

__all__ = ["LedShown", "Settings", "handle", "main", "make_led", "run"]

log = logging.getLogger("state_led")

#: How often a quiet moment is checked for the fall back to idle, s.
TICK_S = 0.2


def make_led(settings: Settings) -> Led:
    """The output named by the settings."""
    if settings.output == "sysfs":
        return SysfsLed({str(c): p for c, p in settings.sysfs.items()}, settings.max_value)
    return TerminalLed(sys.stdout)


def handle(
    node: BusNode, indicator: Indicator, led: Led, msg: Envelope | None, now_s: float
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


def run(node: BusNode) -> None:
    """The loop: each event to the indicator, and a tick for the fall back to idle."""
    settings = node.settings_as(Settings)
    led = make_led(settings)
    try:
        indicator = Indicator(settings.idle_after_s)
        node.ready()
        led.show(indicator.state)
        for event in node.events(tick_s=TICK_S):
            if isinstance(event, Tick):
                handle(node, indicator, led, None, event.now_ns / 1e9)
            else:
                handle(node, indicator, led, event, event.recv_ns / 1e9)
    finally:
        led.close()


def main() -> int:
    """Join the bus as the manifest says and show the state until SIGTERM."""
    return run_worker(MANIFEST, run)


if __name__ == "__main__":
    sys.exit(main())
