"""Split a streamed reply into what may be spoken and what may not.

DeepSeek-R1 style models write their reasoning between ``<think>`` and ``</think>`` before the
answer; Qwen style tool calls arrive between ``<tool_call>`` and ``</tool_call>``. Neither may
reach the speaker. The stream arrives in arbitrary pieces (the rkllm server sends one character
at a time), so a tag can be split across pieces: the splitter holds back any tail that could be
the start of a tag until the next piece decides it.

    splitter = TagSplitter()
    for chunk in stream:
        for piece in splitter.feed(chunk):
            publish(piece.text, thinking=piece.channel == "think")
    for piece in splitter.finish():
        ...

A ``<think>`` that is never closed keeps everything after it in the think channel (it is never
spoken). A ``</think>`` with no opening tag (templates that open the think block in the prompt)
is dropped; set ``start_in_think`` for such models so that the text before it is not spoken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Channel", "Piece", "TagSplitter"]

Channel = Literal["answer", "think", "tool"]

#: Opening tag -> (channel inside it, closing tag).
_TAGS: dict[str, tuple[Channel, str]] = {
    "<think>": ("think", "</think>"),
    "<tool_call>": ("tool", "</tool_call>"),
}
_CLOSERS = {close: channel for channel, close in _TAGS.values()}
_ALL_TAGS = tuple(_TAGS) + tuple(_CLOSERS)


@dataclass(frozen=True)
class Piece:
    """A run of text in one channel."""

    text: str
    channel: Channel
    block: int = 0
    """Number of the block of this channel the text belongs to (0 = first), so that two tool
    calls in a row stay apart."""


class TagSplitter:
    """Incremental splitter of ``<think>`` and ``<tool_call>`` blocks out of a text stream."""

    def __init__(self, *, start_in_think: bool = False) -> None:
        self._channel: Channel = "think" if start_in_think else "answer"
        self._closer = "</think>" if start_in_think else ""
        self._pending = ""
        self._opened: dict[Channel, int] = {"answer": 0, "think": 0, "tool": 0}

    @property
    def channel(self) -> Channel:
        """The channel the next text will go to."""
        return self._channel

    def feed(self, text: str) -> list[Piece]:
        """Add a piece of the stream; return the text now known to belong to each channel."""
        buf = self._pending + text
        self._pending = ""
        out: list[Piece] = []
        while buf:
            lt = buf.find("<")
            if lt < 0:
                self._emit(out, buf)
                break
            self._emit(out, buf[:lt])
            buf = buf[lt:]
            tag = next((t for t in _ALL_TAGS if buf.startswith(t)), None)
            if tag is None:
                if any(t.startswith(buf) for t in _ALL_TAGS):
                    self._pending = buf  # could still become a tag: wait for more
                    break
                self._emit(out, "<")
                buf = buf[1:]
                continue
            self._switch(tag)
            buf = buf[len(tag) :]
        return out

    def finish(self) -> list[Piece]:
        """End of stream: flush held-back text (an unfinished tag is plain text)."""
        out: list[Piece] = []
        self._emit(out, self._pending)
        self._pending = ""
        return out

    def _switch(self, tag: str) -> None:
        if tag in _TAGS and self._channel == "answer":
            self._channel, self._closer = _TAGS[tag]
            self._opened[self._channel] += 1
        elif tag == self._closer:
            self._channel, self._closer = "answer", ""
        # Any other tag (nested opener, stray closer) is dropped: never spoken, never a switch.

    def _emit(self, out: list[Piece], text: str) -> None:
        if not text:
            return
        block = max(self._opened[self._channel] - 1, 0)
        if out and out[-1].channel == self._channel and out[-1].block == block:
            out[-1] = Piece(out[-1].text + text, self._channel, block)
        else:
            out.append(Piece(text, self._channel, block))
