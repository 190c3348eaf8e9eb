"""The question every system of ``bench.llm`` is asked, and the LLM worker measured in process.

:func:`run_direct` asks llama-cpp-python itself; :class:`WorkerRig` puts the same loaded model
behind the worker's service and loop on the in-memory bus (every frame encoded and decoded) and
times it from publishing ``llm.request`` to receiving ``llm.delta``; :class:`TimedBackend` notes
where the time goes inside; :func:`worker_cost` uses :class:`ReplayBackend`, a model that costs
nothing, to isolate the worker's own cost.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator

from bus import MemoryBus
from bus.memory import wait_realtime
from schemas.llm import ChatMessage, LlmDelta, LlmReply, LlmRequest
from workers.llm.__main__ import serve
from workers.llm.backends.base import Backend, Chunk, Prompt
from workers.llm.backends.llamacpp import LlamaCppBackend
from workers.llm.manifest import MANIFEST
from workers.llm.service import LlmService
from workers.llm.settings import LlmSettings

__all__ = [
    "MAX_TOKENS",
    "QUESTION",
    "ReplayBackend",
    "TimedBackend",
    "WorkerRig",
    "figures",
    "messages",
    "run_direct",
    "worker_cost",
]

SYSTEM = "You are a helpful assistant. Answer in two or three sentences."
QUESTION = "Why is the sky blue?"
MAX_TOKENS = 64


def messages() -> list[ChatMessage]:
    """The system prompt and the question, as every system gets them."""
    return [ChatMessage(role="system", content=SYSTEM), ChatMessage(role="user", content=QUESTION)]


def figures(start: float, stamps: list[float]) -> dict[str, float]:
    """TTFT (request to first token) and tokens/s without the first token, from token times."""
    n = len(stamps)
    tps = (n - 1) / (stamps[-1] - stamps[0]) if n > 1 and stamps[-1] > stamps[0] else 0.0
    return {
        "ttft_ms": (stamps[0] - start) * 1e3 if stamps else 0.0,
        "tokens_per_s": tps,
        "tokens": n,
    }


def run_direct(backend: LlamaCppBackend, pieces: list[str] | None = None) -> dict[str, float]:
    """The model called directly through llama-cpp-python (``pieces`` collects the tokens)."""
    llm = backend._llm
    msgs = [{"role": m.role, "content": m.content} for m in messages()]
    stamps: list[float] = []
    start = time.perf_counter()
    for part in llm.create_chat_completion(
        messages=msgs, stream=True, max_tokens=MAX_TOKENS, temperature=0.0, seed=0
    ):
        text = part["choices"][0]["delta"].get("content")
        if text:
            stamps.append(time.perf_counter())
            if pieces is not None:
                pieces.append(text)
    return figures(start, stamps)


class TimedBackend(Backend):
    """A backend wrapper that notes when the worker called it and when each token came out."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.called = 0.0
        self.done = 0.0
        self.yields: list[float] = []
        self.suspended_s = 0.0

    def stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
        """Pass the chunks on, adding up the time the worker holds the model up between them."""
        self.called = time.perf_counter()
        self.yields = []
        self.suspended_s = 0.0
        for chunk in self.inner.stream(prompt, abort):
            now = time.perf_counter()
            if chunk.text:
                self.yields.append(now)
            yield chunk
            self.suspended_s += time.perf_counter() - now
        self.done = time.perf_counter()


class ReplayBackend(Backend):
    """A model that costs nothing: replays recorded tokens at once (isolates the worker's cost)."""

    name = "replay"

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces

    def stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
        for piece in self.pieces:
            yield Chunk(text=piece, tokens=1)
        yield Chunk(finish_reason="stop")


class WorkerRig:
    """The worker's service and loop around a backend, on the memory bus."""

    def __init__(self, backend: Backend) -> None:
        self.bus = MemoryBus(sleep=wait_realtime)  # the generation thread wakes the loop
        self.node = self.bus.node("llm", manifest=MANIFEST)
        self.probe = self.bus.node("dialog")
        self.probe.subscribe("llm.delta", "llm.reply")
        self.backend = TimedBackend(backend)
        settings = LlmSettings(tools=False, history={"max_chars": None})  # type: ignore[arg-type]
        self.service = LlmService(settings, self.backend)
        self.n = 0

    def run(self) -> dict[str, float]:
        self.n += 1
        req = LlmRequest(
            request_id=f"b{self.n}",
            messages=tuple(messages()),
            max_tokens=MAX_TOKENS,
            temperature=0.0,
            tools=False,
        )
        stamps: list[float] = []
        reply: list[LlmReply] = []

        def until() -> bool:
            while (msg := self.probe.poll(0)) is not None:
                if isinstance(msg.payload, LlmDelta) and msg.payload.text:
                    stamps.append(time.perf_counter())
                elif isinstance(msg.payload, LlmReply):
                    reply.append(msg.payload)
            return bool(reply)

        cpu0 = time.thread_time()
        start = time.perf_counter()
        self.probe.publish("llm.request", req)
        serve(self.node, self.service, until=until)
        end = time.perf_counter()
        out = figures(start, stamps)
        produced = self.backend.yields
        delays = [(s - y) * 1e3 for s, y in zip(stamps, produced, strict=False)]
        out["start_ms"] = (self.backend.called - start) * 1e3
        out["first_delivery_ms"] = delays[0] if delays else 0.0
        out["delivery_p50_ms"] = statistics.median(delays) if delays else 0.0
        out["delivery_max_ms"] = max(delays) if delays else 0.0
        out["loop_cpu_ms"] = (time.thread_time() - cpu0) * 1e3
        span = self.backend.done - self.backend.called
        out["held_pct"] = 100 * self.backend.suspended_s / span if span > 0 else 0.0
        out["wall_ms"] = (end - start) * 1e3
        return out


def worker_cost(pieces: list[str], reps: int) -> dict[str, float]:
    """The worker's own cost per request and per token, with a model that costs nothing."""
    rig = WorkerRig(ReplayBackend(pieces))
    rig.run()
    runs = [rig.run() for _ in range(reps)]
    med = {k: statistics.median(r[k] for r in runs) for k in ("ttft_ms", "wall_ms", "loop_cpu_ms")}
    n = len(pieces)
    return {
        "tokens": n,
        "ttft_ms": round(med["ttft_ms"], 3),
        "wall_ms_per_request": round(med["wall_ms"], 3),
        "wall_us_per_token": round(1e3 * med["wall_ms"] / n, 1),
        "loop_cpu_ms_per_request": round(med["loop_cpu_ms"], 3),
    }
