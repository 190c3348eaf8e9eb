"""Where the LED example shows a state: the terminal on a host, sysfs files on the board.

The seam is :class:`Led` (``show(state)``, ``close()``). Two implementations ship:

- :class:`TerminalLed` prints one line per change (a host has no LED).
- :class:`SysfsLed` drives an RGB LED (or three GPIO lines) through sysfs value files, e.g.
  ``/sys/class/leds/<name>/brightness`` (LED class driver) or ``/sys/class/gpio/gpioN/value``
  (a GPIO exported as an output). Any writable file works, which is how the tests drive it.

For libgpiod, write a class with the same two methods (see ``README.md`` in this folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, TextIO

#: Which colours are lit in each state (an RGB LED: yellow is red + green).
COLOURS: dict[str, frozenset[str]] = {
    "idle": frozenset(),
    "listening": frozenset({"blue"}),
    "thinking": frozenset({"red", "green"}),
    "speaking": frozenset({"green"}),
    "error": frozenset({"red"}),
}

_ANSI = {"idle": "2", "listening": "34", "thinking": "33", "speaking": "32", "error": "31"}


class Led(Protocol):
    """Something that shows the assistant's state."""

    def show(self, state: str) -> None:
        """Display ``state`` (idle, listening, thinking, speaking, error)."""

    def close(self) -> None:
        """Switch off and release the device."""


class TerminalLed:
    """Prints ``led: ● listening`` lines; coloured when the stream is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def show(self, state: str) -> None:
        """Print the state."""
        dot = "○" if state == "idle" else "●"
        if self.stream.isatty():
            dot = f"\x1b[{_ANSI.get(state, '0')}m{dot}\x1b[0m"
        self.stream.write(f"led: {dot} {state}\n")
        self.stream.flush()

    def close(self) -> None:
        """Nothing to release."""


class SysfsLed:
    """Writes ``max_value`` or ``0`` to one sysfs file per colour."""

    def __init__(self, paths: dict[str, Path], max_value: int = 1) -> None:
        unknown = set(paths) - {"red", "green", "blue"}
        if unknown:
            raise ValueError(
                f"Unknown LED colour(s) {sorted(unknown)}; name the files red, green and blue."
            )
        for colour, path in paths.items():
            if not path.exists():
                raise FileNotFoundError(
                    f"LED file for {colour} does not exist: {path}. Export the GPIO "
                    f"(echo N > /sys/class/gpio/export; echo out > .../direction) or give the "
                    f"brightness file of an LED class device."
                )
        self.paths = paths
        self.max_value = max_value

    def show(self, state: str) -> None:
        """Light the colours of ``state``, switch the others off."""
        lit = COLOURS.get(state, frozenset())
        for colour, path in self.paths.items():
            path.write_text(f"{self.max_value if colour in lit else 0}\n")

    def close(self) -> None:
        """Switch everything off."""
        self.show("idle")
