"""The LLM worker's logic without the transport: requests queue, one runs, aborts stop it.

The worker's recipe (``__main__``) hands every message to :meth:`LlmService.handle` and calls
:meth:`LlmService.pump` when the generation thread has output (it calls :attr:`notify` after
each item it queues: the recipe's wake-up); both return ``(topic, payload, trace)`` to publish.
The running generation lives in a thread and hands its output over through a queue, so the
recipe keeps reading the bus while tokens come and an ``llm.abort`` takes effect at the next
token.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bus import Out
from schemas.base import Message
from schemas.llm import ChatMessage, LlmAbort, LlmDelta, LlmReply, LlmRequest, LlmWait
from schemas.system import Metric
from text.history import History
from workers.llm.backends.base import Backend
from workers.llm.engine import Generation, build_prompt, start_in_think
from workers.llm.settings import LlmSettings

__all__ = ["LlmService"]

log = logging.getLogger(__name__)


@dataclass
class _Job:
    generation: Generation
    trace: str
    thread: threading.Thread
    events: queue.Queue[LlmDelta | LlmWait | LlmReply | None]
    age_ms: float = 0.0
    """The request's time on the bus (its receive age here), stamped on every delta."""


class LlmService:
    """Queue of requests, one generation at a time, aborts, history and metrics."""

    def __init__(self, settings: LlmSettings, backend: Backend, *, worker: str = "llm") -> None:
        self.settings = settings
        self.backend = backend
        self.worker = worker
        self._waiting: deque[tuple[LlmRequest, str, float]] = deque()
        self._job: _Job | None = None
        self._notices: dict[str, int] = {}
        self.notify: Callable[[], None] = lambda: None
        """Called by the generation thread after each item it queues (wakes the worker's loop)."""
        h = settings.history
        self.history: History | None = (
            History(max_chars=None if h.max_tokens else h.max_chars, max_tokens=h.max_tokens)
            if h.remember
            else None
        )

    def warm_up(self) -> float | None:
        """Run, in this thread, the request the dialog warms up with (its system prompt, "Hello.",
        one token); the seconds it took, or None when it failed (logged; the worker serves
        anyway).

        A model's first run is the slow one (the packaged SmolLM2 on the 2-core host: 2.5 s to
        its first token, 0.04 s for the next request). The dialog sends the same request when
        it starts, but it starts with the pipeline, and a user who speaks at once waited behind
        it: the first turn of ``bench.e2e`` took 1.0-2.6 s while the others took 0.4-0.7 s.
        Run before :meth:`BusNode.ready`, the cost is paid while the supervisor waits, and a
        request that starts with the system prompt prefills only what follows it."""
        req = LlmRequest.warm_up(self.settings.system_prompt, self.settings.tools)
        started = time.monotonic()
        prompt = build_prompt(req, self.settings, self.backend)
        gen = Generation(
            self.backend, req, prompt, start_in_think=start_in_think(self.settings),
            tools=bool(prompt.tools),
        )  # fmt: skip
        reply = None
        for item in gen.run():
            reply = item
        took = time.monotonic() - started
        if not isinstance(reply, LlmReply) or reply.finish_reason == "error":
            log.warning("llm_warm_up_failed s=%.2f error=%r", took, getattr(reply, "error", ""))
            return None
        log.info("llm_warm_up s=%.2f backend=%s", took, self.backend.name)
        return took

    @property
    def busy(self) -> bool:
        """True while a generation runs."""
        return self._job is not None

    @property
    def poll_timeout_s(self) -> float:
        """How long the recipe may block on the bus before calling :meth:`pump`."""
        return 0.0 if self._job else 0.1

    # -- input ----------------------------------------------------------------------------

    def handle(self, topic: str, payload: Message, trace: str, age_ms: float = 0.0) -> list[Out]:
        """Take one bus message (``age_ms``: its time on the bus); return what to publish now."""
        if isinstance(payload, LlmRequest):
            return self._request(payload, trace, age_ms)
        if isinstance(payload, LlmAbort):
            return self._abort(payload, trace)
        return []

    def _request(self, req: LlmRequest, trace: str, age_ms: float = 0.0) -> list[Out]:
        if self._job is None:
            self._start(req, trace, age_ms)
            return []
        if len(self._waiting) >= self.settings.max_queue:
            return [
                Out(
                    "llm.reply",
                    self._error_reply(
                        req,
                        f"The LLM worker is busy with {len(self._waiting) + 1} requests; this one "
                        "was refused. Abort the running request first or raise llm.max_queue.",
                    ),
                    trace,
                )
            ]
        self._waiting.append((req, trace, age_ms))
        return []

    def _abort(self, ab: LlmAbort, trace: str) -> list[Out]:
        out: list[Out] = []
        for item in list(self._waiting):
            req, tr, _ = item
            if not ab.request_id or req.request_id == ab.request_id:
                self._waiting.remove(item)
                out.append(Out("llm.reply", self._aborted(req), tr))
        job = self._job
        if job and (not ab.request_id or job.generation.request.request_id == ab.request_id):
            log.info(
                "llm_abort request_id=%s reason=%s", job.generation.request.request_id, ab.reason
            )
            job.generation.abort.set()
        return out

    # -- output ---------------------------------------------------------------------------

    def pump(self, wait_s: float | None = None) -> list[Out]:
        """Hand over what the running generation produced (waiting up to ``wait_s`` for it)."""
        job = self._job
        if job is None:
            return []
        wait = self.settings.poll_interval_ms / 1000 if wait_s is None else wait_s
        out: list[Out] = []
        try:
            item = job.events.get(timeout=wait)
            while True:
                if item is None:  # the thread ended without a reply (it was killed)
                    reply = self._error_reply(job.generation.request, "The generation stopped.")
                    out.append(Out("llm.reply", reply, job.trace))
                    self._finish(job)
                    break
                if isinstance(item, LlmDelta):
                    stamped = item.model_copy(update={"bus_ms": max(0.0, job.age_ms)})
                    out.append(Out("llm.delta", stamped, job.trace))
                elif isinstance(item, LlmWait):
                    out.append(Out("llm.wait", item, job.trace))
                    out.append(self._notice_metric(item, job.trace))
                else:  # the reply is always last: the job is over, start the next one
                    out.append(Out("llm.reply", item, job.trace))
                    out.extend(self._metrics(item, job.trace))
                    self._remember(job.generation.request, item)
                    self._finish(job)
                    break
                item = job.events.get_nowait()
        except queue.Empty:
            pass
        return out

    def _finish(self, job: _Job) -> None:
        job.thread.join()
        self._job = None
        if self._waiting:
            self._start(*self._waiting.popleft())

    def _start(self, req: LlmRequest, trace: str, age_ms: float = 0.0) -> None:
        earlier = self.history.messages if self.history else ()
        prompt = build_prompt(req, self.settings, self.backend, earlier)
        gen = Generation(
            self.backend,
            req,
            prompt,
            start_in_think=start_in_think(self.settings),
            tools=bool(prompt.tools),
        )
        events: queue.Queue[LlmDelta | LlmWait | LlmReply | None] = queue.Queue()

        def put(item: LlmDelta | LlmWait | LlmReply | None) -> None:
            events.put(item)
            self.notify()

        def target() -> None:
            try:
                for item in gen.run():
                    put(item)
            except Exception:  # a bug, not a backend error: report it and keep serving
                log.exception("llm_generation_failed request_id=%s", req.request_id)
                put(self._error_reply(req, "The LLM worker failed unexpectedly; see its log."))
            finally:
                put(None)

        thread = threading.Thread(target=target, name=f"llm-{req.request_id}", daemon=True)
        self._job = _Job(gen, trace, thread, events, age_ms)
        thread.start()

    def _remember(self, req: LlmRequest, reply: LlmReply) -> None:
        if self.history is None or reply.finish_reason not in ("stop", "length"):
            return
        if req.intent_schema:
            return  # an intents answer is no part of the conversation
        new = [m for m in req.messages if m.role != "system"]
        self.history.add(*new, ChatMessage(role="assistant", content=reply.text))

    def _error_reply(self, req: LlmRequest, error: str) -> LlmReply:
        return LlmReply(
            request_id=req.request_id,
            text="",
            finish_reason="error",
            error=error,
            backend=self.backend.name,
        )

    def _aborted(self, req: LlmRequest) -> LlmReply:
        return LlmReply(
            request_id=req.request_id, text="", finish_reason="abort", backend=self.backend.name
        )

    def _metrics(self, reply: LlmReply, trace: str) -> list[Out]:
        labels = {"backend": reply.backend, "finish": reply.finish_reason}
        values = {
            "llm.ttft_ms": reply.ttft_ms,
            "llm.tokens_per_s": reply.tokens_per_s,
            "llm.prefill_ms": reply.prefill_ms,
            "llm.generate_ms": reply.generate_ms,
            "llm.completion_tokens": float(reply.completion_tokens),
        }
        if reply.memory_mb:
            values["llm.memory_mb"] = reply.memory_mb
        out: list[Out] = [
            Out(
                "sys.metric",
                Metric(name=k, value=v, kind="sample", worker=self.worker, labels=labels),
                trace,
            )
            for k, v in values.items()
        ]
        if self.backend.busy_rule:
            # How long the server kept the request waiting, labelled with its busy rule
            # (503: answered busy and retried; backlog: held until the running one ended).
            wait = Metric(
                name="llm.server_wait_ms",
                value=reply.wait_ms,
                kind="sample",
                worker=self.worker,
                labels={**labels, "busy_rule": self.backend.busy_rule},
            )
            out.append(Out("sys.metric", wait, trace))
        return out

    def _notice_metric(self, wait: LlmWait, trace: str) -> Out:
        """The running count of "one moment" notices, by reason."""
        self._notices[wait.reason] = self._notices.get(wait.reason, 0) + 1
        labels = {"backend": self.backend.name, "reason": wait.reason}
        metric = Metric(
            name="llm.wait_notices",
            value=float(self._notices[wait.reason]),
            kind="counter",
            worker=self.worker,
            labels=labels,
        )
        return Out("sys.metric", metric, trace)

    def close(self) -> None:
        """Abort any generation, wait for it, and free the backend."""
        job = self._job
        if job is not None:
            job.generation.abort.set()
            job.thread.join(timeout=10)
            self._job = None
        self.backend.close()
