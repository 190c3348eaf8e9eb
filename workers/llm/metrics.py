"""Per-request timing of a generation: time to first token, speed, prefill and generate times.

Times come from ``time.monotonic_ns()`` around the backend's stream; where the runtime reports
its own figures (rkllm's perf struct, llama.cpp's context timings) those replace the estimates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Perf", "RequestMetrics"]


@dataclass(frozen=True)
class Perf:
    """Figures a runtime reports about one run (rkllm ``RKLLMPerfStat`` and the like)."""

    prefill_ms: float = 0.0
    """Prefill (prompt processing) time, ms."""
    prefill_tokens: int = 0
    """Tokens processed in prefill."""
    generate_ms: float = 0.0
    """Generation time, ms."""
    generate_tokens: int = 0
    """Tokens generated."""
    memory_mb: float = 0.0
    """Peak resident memory during the run, MB (0 when not reported)."""


@dataclass
class RequestMetrics:
    """Clock of one request; call :meth:`token` per chunk, :meth:`result` at the end."""

    start_ns: int = field(default_factory=time.monotonic_ns)
    first_ns: int = 0
    last_ns: int = 0
    tokens: int = 0
    chunks: int = 0
    perf: Perf | None = None
    server_wait_ms: float = 0.0
    """Time spent waiting for a busy server before it took the request, ms."""

    def token(self, count: int, now_ns: int | None = None) -> None:
        """Record a chunk of output holding ``count`` tokens (0 = unknown: counts as one)."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        if not self.first_ns:
            self.first_ns = now
        self.last_ns = now
        self.chunks += 1
        self.tokens += count if count > 0 else 1

    @property
    def ttft_ms(self) -> float:
        """Time from the request to the first output, ms (0 if nothing came)."""
        return (self.first_ns - self.start_ns) / 1e6 if self.first_ns else 0.0

    @property
    def completion_tokens(self) -> int:
        """Generated tokens: the runtime's count where reported, else counted chunks."""
        if self.perf and self.perf.generate_tokens:
            return self.perf.generate_tokens
        return self.tokens

    @property
    def generate_ms(self) -> float:
        """Generation time, ms: the runtime's figure, else first to last output."""
        if self.perf and self.perf.generate_ms:
            return self.perf.generate_ms
        return (self.last_ns - self.first_ns) / 1e6 if self.first_ns else 0.0

    @property
    def prefill_ms(self) -> float:
        """Prefill time, ms: the runtime's figure, else the time to first output."""
        if self.perf and self.perf.prefill_ms:
            return self.perf.prefill_ms
        return self.ttft_ms

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens where the runtime reports them, else 0."""
        return self.perf.prefill_tokens if self.perf else 0

    @property
    def tokens_per_s(self) -> float:
        """Generation speed; the first token is excluded (it belongs to prefill)."""
        if self.perf and self.perf.generate_ms and self.perf.generate_tokens:
            return self.perf.generate_tokens / (self.perf.generate_ms / 1e3)
        span_ms = self.generate_ms
        steps = self.tokens - 1
        return steps / (span_ms / 1e3) if span_ms > 0 and steps > 0 else 0.0
