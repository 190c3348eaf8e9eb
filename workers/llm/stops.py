"""Stop sequences, for every backend alike: the answer ends where one of them starts.

A small model rambles past the end of its answer: it writes a blank line and a second answer,
or the next turn of the conversation ("\\nUser: ..."). :class:`StopScanner` watches the answer as
it streams; text that could be the start of a stop sequence is held back until the next piece
tells (so a stop cut across two pieces is still found), and once a stop sequence appears the
text before it is the end of the answer. Leading white space of the answer is never matched, so
a reply that opens with a blank line (after ``</think>``) is not cut off at its start.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopScanner"]


class StopScanner:
    """Find the first stop sequence in a stream of text."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._held = ""
        self._started = False
        self.stopped = False
        """A stop sequence was found: nothing more is let through."""

    def feed(self, text: str) -> str:
        """The text that can be let through now (the answer before any stop sequence)."""
        if self.stopped or not text:
            return ""
        buf = self._held + text
        self._held = ""
        lead = ""
        if not self._started:
            stripped = buf.lstrip()
            lead, buf = buf[: len(buf) - len(stripped)], stripped
            if not buf:
                return lead
            self._started = True
        hits = [i for i in (buf.find(s) for s in self._stops) if i >= 0]
        if hits:
            self.stopped = True
            return lead + buf[: min(hits)]
        keep = self._partial(buf)
        self._held = buf[len(buf) - keep :] if keep else ""
        return lead + (buf[: len(buf) - keep] if keep else buf)

    def flush(self) -> str:
        """End of the stream: what was held back (it was no stop sequence)."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _partial(self, buf: str) -> int:
        """Length of the longest end of ``buf`` that begins a stop sequence."""
        best = 0
        for s in self._stops:
            for n in range(min(len(s) - 1, len(buf)), best, -1):
                if buf.endswith(s[:n]):
                    best = n
                    break
        return best
