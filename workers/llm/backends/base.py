"""The one small interface every LLM backend implements.

A backend turns a :class:`Prompt` into a stream of :class:`Chunk` and stops promptly once the
``abort`` event is set (between tokens at the latest). It raises only :mod:`workers.llm.errors`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from schemas.llm import ChatMessage
from workers.llm.metrics import Perf

__all__ = ["Backend", "BusyNotice", "Chunk", "Prompt"]


@dataclass(frozen=True)
class Prompt:
    """What to generate from."""

    messages: tuple[ChatMessage, ...]
    """The conversation, system prompt first, ending with the user's message."""
    max_tokens: int = 256
    """Upper bound on generated tokens."""
    temperature: float = 0.7
    """Sampling temperature (0 = greedy)."""
    enable_thinking: bool = False
    """Ask a thinking-capable model to think first."""
    tools: tuple[dict[str, Any], ...] = field(default=())
    """Tools offered (OpenAI function form); empty when none."""
    json_schema: str = ""
    """A JSON schema (as JSON text) the answer must follow, for a backend that can constrain
    its output (``Backend.constrained``); empty = free text."""
    stop: tuple[str, ...] = ()
    """Stop sequences: the answer ends where one starts (applied by the engine)."""


@dataclass(frozen=True)
class BusyNotice:
    """The backend has waited long for a busy server (the worker publishes ``llm.wait``)."""

    reason: str
    """``orphan`` (a reply aborted earlier still runs there) or ``busy`` (another request)."""
    waited_s: float
    """Waited so far, s."""
    left_s: float
    """Most it may still wait, s."""


@dataclass(frozen=True)
class Chunk:
    """A piece of the stream."""

    text: str = ""
    """New text (may be empty, e.g. on the final chunk)."""
    tokens: int = 0
    """Tokens in this piece (0 = unknown)."""
    perf: Perf | None = None
    """Runtime figures, usually on the last chunk."""
    finish_reason: str | None = None
    """Set on the last chunk: stop, length or abort."""
    notice: BusyNotice | None = None
    """Set (on a chunk without text, at most once) when the wait for a busy server is long."""
    server_wait_ms: float | None = None
    """Set once the server took the request: how long it waited for it to be free, ms."""


class Backend(ABC):
    """An LLM backend."""

    #: Name reported in ``llm.reply.backend``.
    name: str = ""
    #: True when the backend hands ``Prompt.tools`` to the model itself; otherwise the worker
    #: describes the tool in the system prompt.
    native_tools: bool = False
    #: How the server treats a request while it is busy: ``503`` (answered busy at once, the
    #: backend retries) or ``backlog`` (held in the listen queue until the running one ends);
    #: empty for in-process backends. Label of the ``llm.server_wait_ms`` metric.
    busy_rule: str = ""
    #: True when the backend constrains its output to ``Prompt.json_schema`` (a grammar);
    #: otherwise an intents request is offered the tool and validated afterwards.
    constrained: bool = False

    @abstractmethod
    def stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
        """Generate, yielding chunks as they come; stop soon after ``abort`` is set."""

    def count_tokens(self, text: str) -> int | None:
        """Tokens in ``text`` by the model's tokenizer, or None when the backend cannot tell."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model and any connection."""
