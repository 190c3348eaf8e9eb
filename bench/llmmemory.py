"""Where the llm worker's memory goes over many requests (the soak's growth, issue 15).

    python -m bench.llmmemory                  # 80 requests, bench/results/llmmemory.json
    python -m bench.llmmemory --requests 20    # a short look
    python -m bench.llmmemory --mix --upstream-cache   # the soak's mix; llama-cpp-python's cache

The llm worker's own service (:class:`workers.llm.service.LlmService`, llama.cpp with the
packaged SmolLM2, one thread, as in ``configs/host.yaml``) answers the conversation the soak
has: the dialog's questions, each with the dialog's bounded history (``history_max_chars``), so
the prompt grows for a few turns and then stays at the budget. After each block of requests it
records the process's RSS, the longest context processed so far (tokens in llama.cpp's KV
cache), the Python heap as ``tracemalloc`` sees it, and the memory mappings whose resident size
grew the most (``/proc/self/smaps``): what grows, native or Python, and whether it follows the
context or the number of requests. ``--malloc-trim`` calls ``malloc_trim(0)`` before each
reading (freed memory glibc keeps).

``--mix`` sends what the soak's conversation sends, in turn: a question with the history, an
intents request held to the dialog's JSON schema (``workers.dialog.understanding``), and a
question aborted after its first tokens (a barge-in). ``--upstream-cache`` runs the prompt cache
as llama-cpp-python ships it (its ``save_state`` and ``load_state``, which copy the logits rows,
and its capacity, which counts only the KV state) instead of ours
(:mod:`workers.llm.backends.llamacache`), for the comparison in the same session. Each reading
also gives the prompt cache's states and their bytes, and the median time of a request since
the last reading.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
QUESTIONS = (
    "Hey robot, hello, what is your name?",
    "What is the capital of France?",
    "Tell me a long story about a dragon.",
    "How are you today?",
)
INTENT_LINES = (
    "please drive forward two meters and then turn left",
    "go back a bit and beep",
    "turn right then go forward one meter",
    "drive ahead for three seconds",
)


def _regions() -> dict[tuple[str, str], float]:
    """Resident MiB of each mapping (address range, name)."""
    out: dict[tuple[str, str], float] = {}
    key: tuple[str, str] | None = None
    with open(f"/proc/{os.getpid()}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and ":" not in parts[0]:
                key = (parts[0], parts[5] if len(parts) > 5 else "[anon]")
            elif parts and parts[0] == "Rss:" and key is not None:
                out[key] = int(parts[1]) / 1024
    return out


def _rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _upstream_cache(llm: Any) -> None:
    """The prompt cache as llama-cpp-python ships it: its save_state and its capacity count."""
    from llama_cpp import LlamaRAMCache

    del llm.save_state, llm.load_state  # the class's own again
    ours = type(llm.cache)

    class Upstream(ours):  # type: ignore[misc, valid-type]
        cache_size = LlamaRAMCache.cache_size

    llm.cache.__class__ = Upstream


def _request(i: int, mix: bool, messages: tuple[Any, ...]) -> tuple[Any, bool]:
    """Request ``i``: a question, or with ``mix`` every third an intents request and every
    third an aborted question; and whether to abort it."""
    from schemas.llm import LlmRequest
    from workers.dialog.settings import DialogSettings
    from workers.dialog.understanding import Understanding, intent_request

    kind = i % 3 if mix else 0
    if kind == 1:
        words = INTENT_LINES[(i // 3) % len(INTENT_LINES)]
        return intent_request(
            Understanding("ask", words, heard=words), DialogSettings(), f"r{i}"
        ), False
    return LlmRequest(request_id=f"r{i}", messages=messages, max_tokens=64), kind == 2


def run(
    requests: int, history_chars: int, every: int, trim: bool, *, mix: bool = False,
    upstream: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """The loop; its readings."""
    from schemas.llm import ChatMessage, LlmAbort
    from text.history import History
    from workers.llm.backends import make_backend
    from workers.llm.backends.llamacache import state_bytes
    from workers.llm.service import LlmService
    from workers.llm.settings import LlmSettings

    settings = LlmSettings.model_validate({"backend": "llamacpp", "llamacpp": {"n_threads": 1}})
    backend = make_backend(settings)
    if upstream:
        _upstream_cache(backend._llm)  # type: ignore[attr-defined]
    service = LlmService(settings, backend)
    history = History(max_chars=history_chars)
    libc = ctypes.CDLL(None)
    system = ChatMessage(role="system", content="You are a small voice assistant on a robot car.")
    tracemalloc.start()
    readings: list[dict[str, Any]] = []
    base_regions: dict[tuple[str, str], float] = {}
    longest = 0
    t0 = time.monotonic()
    times: list[float] = []
    for i in range(requests):
        user = ChatMessage(role="user", content=QUESTIONS[i % len(QUESTIONS)])
        req, abort = _request(i, mix, (system, *history.with_new([user])))
        t_req = time.monotonic()
        service.handle("llm.request", req, req.request_id)
        text, deltas = "", 0
        while service.busy:
            for o in service.pump(0.05):
                if o.topic == "llm.delta":
                    deltas += 1
                    if abort and deltas == 2:
                        service.handle("llm.abort", LlmAbort(request_id=req.request_id), "t")
                if o.topic == "llm.reply":
                    text = o.payload.text  # type: ignore[attr-defined]
        times.append(time.monotonic() - t_req)
        if req.intent_schema == "" and not abort:
            history.add(user, ChatMessage(role="assistant", content=text or "Yes."))
        llama: Any = backend._llm  # type: ignore[attr-defined]  # the KV cache's fill
        longest = max(longest, int(llama.n_tokens))
        if (i + 1) % every and i + 1 != requests:
            continue
        gc.collect()
        if trim:
            libc.malloc_trim(0)
        regions = _regions()
        if not base_regions:
            base_regions = regions
        grew = sorted(
            ((regions.get(k, 0.0) - base_regions.get(k, 0.0), k) for k in regions),
            reverse=True,
        )[:3]
        python_mib = tracemalloc.get_traced_memory()[0] / 2**20
        grown_most = [
            {"mapping": name, "size_mib": _size_mib(rng), "grew": round(g, 1)}
            for g, (rng, name) in grew
        ]
        cache = backend._llm.cache  # type: ignore[attr-defined]
        states = list(cache.cache_state.values()) if cache is not None else []
        row = {
            "requests": i + 1,
            "cache_states": len(states),
            "cache_state_mib": round(sum(state_bytes(s) for s in states) / 2**20, 1),
            "request_ms_median": round(1000 * sorted(times)[len(times) // 2], 1),
            "rss_mib": round(_rss_mib(), 1),
            "longest_context_tokens": longest,
            "python_heap_mib": round(python_mib, 2),
            "grew_most_mib": grown_most,
            "elapsed_s": round(time.monotonic() - t0, 1),
        }
        times = []
        readings.append(row)
        grown = ", ".join(
            f"{g['mapping']} ({g['size_mib']} MiB) {g['grew']:+.1f}" for g in grown_most
        )
        print(
            f"{row['requests']:4d} requests  RSS {row['rss_mib']:7.1f} MiB  context "
            f"{longest:5d} tokens  Python heap {python_mib:5.2f} MiB  cache {len(states)} "
            f"states {row['cache_state_mib']} MiB  request {row['request_ms_median']} ms  "
            f"grew: {grown}",
            flush=True,
        )
    service.close()
    return {"requests": requests, "history_max_chars": history_chars, "malloc_trim": trim,
            "mix": mix, "prompt_cache": "llama-cpp-python's" if upstream else "voicebus",
            "readings": readings}  # fmt: skip


def _size_mib(rng: str) -> int:
    lo, hi = (int(x, 16) for x in rng.split("-"))
    return (hi - lo) >> 20


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.llmmemory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=80)
    parser.add_argument("--history-chars", type=int, default=1500, help="the dialog's budget")
    parser.add_argument("--every", type=int, default=5, help="requests between readings")
    parser.add_argument("--malloc-trim", action="store_true")
    parser.add_argument("--mix", action="store_true", help="questions, intents, aborts in turn")
    parser.add_argument("--upstream-cache", action="store_true", help="llama-cpp-python's cache")
    parser.add_argument("--out", type=Path, default=RESULTS / "llmmemory.json")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    result = run(args.requests, args.history_chars, args.every, args.malloc_trim, mix=args.mix,
                 upstream=args.upstream_cache)  # fmt: skip
    result["loadavg_start"], result["loadavg_end"] = list(load), list(os.getloadavg())
    out = args.out
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
