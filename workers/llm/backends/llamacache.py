"""llama.cpp's prompt cache for the embedded backend: recent KV states, kept lean and counted whole.

llama-cpp-python's RAM cache (``LlamaRAMCache``) keeps a :class:`llama_cpp.LlamaState` per
recent prompt and restores the one sharing the longest prefix with a new prompt. Two things of
that cache are changed here; what it restores is not:

- **A state holds no logits.** ``Llama.save_state`` (0.3.x) copies ``scores`` for every token of
  the context, up to ``n_batch`` rows of ``n_vocab`` floats: 50.8 MiB for a prompt of 271 tokens
  with SmolLM2 (49152-token vocabulary), against 6.0 MiB for the KV state itself. With
  ``logits_all`` off (our setting) llama-cpp-python never writes those rows (sampling reads the
  context's own logits), so the copy is of zeros. :func:`lean_state` saves the same KV state with
  a single zero row of ``scores``, and :func:`lean_restore` restores it without writing
  ``scores`` at all (``load_state`` writes zeros over every row the state covers, which makes
  the model's own ``n_batch`` x ``n_vocab`` array resident, 96 MiB for SmolLM2, and builds a
  mask of the other rows each time).
  Measured on 2026-12-02 (``python -m bench.llmmemory --mix``): see ``docs/llm.md``.
- **The capacity counts every byte of a state** (``cache_size``): the upstream cache counts only
  the KV state's bytes, so with ``prompt_cache_mb`` = 32 its two states of about 1000 tokens
  held 153 MiB in all.

A state is restored only when it spares at least ``min_tokens`` of prefill; see
:mod:`workers.llm.backends.llamacpp`. :func:`install_prompt_cache` puts all of it on a model.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from typing import Any

import numpy as np

__all__ = ["install_prompt_cache", "lean_restore", "lean_state", "state_bytes"]

log = logging.getLogger(__name__)

_WARNED: list[str] = []
"""The error that made :func:`lean_state` fall back, once logged (not again per request)."""


def state_bytes(state: Any) -> int:
    """Every byte a cached state holds: the KV state, its logits (``scores``) and its tokens."""
    return int(state.llama_state_size) + int(state.scores.nbytes) + int(state.input_ids.nbytes)


def lean_state(llm: Any) -> Any:
    """``llm.save_state()`` without the copy of ``scores`` (see the module's docstring).

    :func:`install_prompt_cache` installs it as ``llm.save_state``, the method
    llama-cpp-python's completion calls to fill the cache. Falls back to the library's own
    ``save_state`` (the class's) when the model computes logits for every token
    (``logits_all``: then ``scores`` holds real values) or when this version of the library
    lacks what it uses.
    """
    import llama_cpp

    try:
        if llm._logits_all:
            return type(llm).save_state(llm)
        ctx = llm._ctx.ctx
        size = int(llama_cpp.llama_state_get_size(ctx))
        buf = (ctypes.c_uint8 * size)()
        n = int(llama_cpp.llama_state_get_data(ctx, buf, size))
        if n > size:
            raise RuntimeError(f"llama.cpp wrote {n} bytes of state into a buffer of {size}")
        return llama_cpp.LlamaState(
            input_ids=llm.input_ids.copy(),
            scores=np.zeros((1, llm.n_vocab()), dtype=np.single),
            n_tokens=llm.n_tokens,
            llama_state=bytes(memoryview(buf)[:n]),
            llama_state_size=n,
            seed=llm._seed,
        )
    except (AttributeError, TypeError) as exc:  # another version of the library's private API
        if not _WARNED:
            _WARNED.append(repr(exc))
            log.warning("llm_cache_lean_state_unavailable error=%r: saving the library's way", exc)
        return type(llm).save_state(llm)


def lean_restore(llm: Any, state: Any) -> None:
    """``llm.load_state(state)`` for a state of :func:`lean_state`, without writing ``scores``
    (they hold no values with ``logits_all`` off) or copying the KV state first; any other
    state goes to the library's own ``load_state``."""
    import llama_cpp

    if state.scores.shape[0] != 1 or getattr(llm, "_logits_all", True):
        type(llm).load_state(llm, state)
        return
    llm.input_ids = state.input_ids.copy()
    llm.n_tokens = state.n_tokens
    llm._requires_eval = True  # the logits of the restored context are not live: decode again
    llm._seed = state.seed
    data = ctypes.cast(ctypes.c_char_p(state.llama_state), ctypes.POINTER(ctypes.c_uint8))
    if llama_cpp.llama_state_set_data(llm._ctx.ctx, data, state.llama_state_size) != (
        state.llama_state_size
    ):
        raise RuntimeError("llama.cpp refused the prompt cache's state")


def install_prompt_cache(llm: Any, capacity_mb: int, min_tokens: int) -> None:
    """Give ``llm`` (a ``llama_cpp.Llama``) the prompt cache: lean states saved and restored
    through the two methods its completion calls, in a cache counted whole that hands out a
    state only when it spares ``min_tokens`` of prefill."""
    llm.save_state = functools.partial(lean_state, llm)
    llm.load_state = functools.partial(lean_restore, llm)
    llm.set_cache(_worthwhile_cache(llm, capacity_mb, min_tokens))


def _worthwhile_cache(llm: Any, capacity_mb: int, min_tokens: int) -> Any:
    """llama.cpp's RAM prompt cache, counted whole, that hands out a state only when it spares
    ``min_tokens`` of prefill (``llm``'s own context may already hold that prefix)."""
    from llama_cpp import Llama, LlamaRAMCache

    class WorthwhileCache(LlamaRAMCache):
        @property
        def cache_size(self) -> int:
            return sum(state_bytes(s) for s in self.cache_state.values())

        def __getitem__(self, key: Any) -> Any:
            state = super().__getitem__(key)
            tokens = list(key)
            gain = Llama.longest_token_prefix(
                state.input_ids.tolist(), tokens
            ) - Llama.longest_token_prefix(llm.input_ids.tolist(), tokens)
            if gain < min_tokens:
                raise KeyError("no cached state spares enough of the prefill")
            return state

    return WorthwhileCache(capacity_bytes=capacity_mb << 20)
