"""One streamed POST in a thread of its own, handed over as events, cancelled on its own terms.

The rkllm server backend must return at once on a barge-in, yet must not always hang up at
once (rkllm's 1.2.x demo, see :mod:`workers.llm.backends.rkllm_server`): so the request runs
here, and the consumer reads :class:`Event` s and may leave whenever it likes. A cancelled
exchange finishes in the background by the rule it was built with.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from workers.llm.backends.http import BusyWait, Retry, StreamingPost
from workers.llm.errors import LlmError

__all__ = ["Event", "Exchange"]


@dataclass(frozen=True)
class Event:
    """What the request did: ``busy`` (a busy answer), ``open`` (the server took it), ``line``
    (one line of the body), ``error`` (it failed), ``end`` (the body ended)."""

    kind: Literal["busy", "open", "line", "error", "end"]
    busy: BusyWait | None = None
    line: str = ""
    error: LlmError | None = None
    sent_at: float = 0.0
    """``open``: when the attempt the server took was sent (monotonic s)."""
    answered_at: float = 0.0
    """``open``: when its response headers came (monotonic s)."""


class Exchange:
    """Run one :class:`StreamingPost`; :meth:`events` / :meth:`lines` read it, :meth:`cancel`
    stops it: at once with ``cut_at_once``, else after the response's first line (the request
    then still waits for the server's headers and its first line, and closes)."""

    def __init__(
        self,
        url: str,
        body: dict[str, Any],
        *,
        headers: dict[str, str],
        connect_timeout_s: float,
        read_timeout_s: float,
        retry: Retry,
        cut_at_once: bool,
    ) -> None:
        self._cancel = threading.Event()
        self.post = StreamingPost(
            url,
            body,
            headers=headers,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            retry=retry,
            abort=self._cancel,
            cut_on_abort=cut_at_once,
        )
        self._events: queue.Queue[Event] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="llm_exchange", daemon=True)
        self.started_at = 0.0

    def start(self) -> Exchange:
        """Send the request (in the background)."""
        self.started_at = time.monotonic()
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop it by its rule; returns at once."""
        self._cancel.set()

    @property
    def done(self) -> bool:
        """True when the request is over (also after a cancel)."""
        return not self._thread.is_alive()

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for the background request to be over."""
        self._thread.join(timeout_s)

    def next(self, timeout_s: float) -> Event | None:
        """The next event, or None after ``timeout_s``."""
        try:
            return self._events.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def lines(self, abort: threading.Event) -> Iterator[str]:
        """The body's lines until it ends; returns soon after ``abort`` is set, and cancels the
        exchange whenever it is left. Raises the request's error."""
        try:
            while not abort.is_set():
                ev = self.next(0.01)
                if ev is None:
                    continue
                if ev.kind == "line":
                    yield ev.line
                elif ev.kind == "error" and ev.error is not None:
                    raise ev.error
                elif ev.kind == "end":
                    return
        finally:
            self.cancel()

    def _run(self) -> None:
        post = self.post
        try:
            for wait in post.open():
                self._events.put(Event("busy", busy=wait))
            if post.aborted:
                self._events.put(Event("end"))
                return
            self._events.put(Event("open", sent_at=post.sent_at, answered_at=post.answered_at))
            for line in post.lines():
                if not self._cancel.is_set():
                    self._events.put(Event("line", line=line))
            self._events.put(Event("end"))
        except LlmError as exc:
            self._events.put(Event("error", error=exc))
