"""LLM backends behind one interface (:class:`~workers.llm.backends.base.Backend`).

==============  ===================================================================
``llamacpp``    llama.cpp in process (embedded default, SmolLM2 from a wheel)
``rkllm``       librkllmrt.so in process through ctypes (the RK3588 board)
``rkllm-server`` Rockchip's Flask server demo (``/rkllm_chat`` or ``/v1/chat/completions``)
``openai``      any OpenAI-compatible server, SSE streaming
==============  ===================================================================
"""

from __future__ import annotations

from workers.llm.backends.base import Backend, Chunk, Prompt
from workers.llm.settings import LlmSettings

__all__ = ["Backend", "Chunk", "Prompt", "make_backend"]


def make_backend(settings: LlmSettings) -> Backend:
    """Build the backend the settings name (imports only that backend's dependencies)."""
    if settings.backend == "llamacpp":
        from workers.llm.backends.llamacpp import LlamaCppBackend

        return LlamaCppBackend(settings.llamacpp)
    if settings.backend == "rkllm":
        from workers.llm.backends.rkllm import RkllmBackend

        return RkllmBackend(settings.rkllm)
    if settings.backend == "rkllm-server":
        from workers.llm.backends.rkllm_server import RkllmServerBackend

        return RkllmServerBackend(settings.rkllm_server)
    from workers.llm.backends.openai import OpenAIBackend

    return OpenAIBackend(settings.openai)
