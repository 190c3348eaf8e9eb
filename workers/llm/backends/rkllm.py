"""rkllm in process: ``librkllmrt.so`` through ctypes (the RK3588 board's NPU runtime).

``rkllm_run`` is synchronous and delivers tokens through a C callback, so it runs in a thread of
its own; the callback puts text into a queue that :meth:`RkllmBackend.stream` yields from. An
abort (barge-in) calls ``rkllm_abort`` from the worker's own thread, never from the callback (no
upstream code does that, and whether the runtime tolerates it is unknown); the stream then waits
for ``rkllm_run`` to return so that the next request never overlaps a dying one. The length cap
is the runtime's own ``max_new_tokens`` on 1.3 and, on 1.2 (no per-run cap in its struct), the
callback returning 1 (the documented "pause"). WAITING callbacks (the runtime holding back an
incomplete UTF-8 character) carry no text.

The runtime applies the chat template to one prompt; the template is set once with
``rkllm_set_chat_template`` (presets below), the tool with ``rkllm_set_function_tools``. The
system prompt goes where the template has a ``{system}`` slot; otherwise (``deepseek``,
``builtin``) it is written at the head of the prompt, and the tools get an empty one, so that it
reaches the model exactly once. Without ``keep_history`` the earlier turns are written into the
prompt as plain ``User:``/``Assistant:`` lines (:mod:`workers.llm.backends.fold`).

(About 350 lines: one backend's life around one ctypes handle: load, version gate, the run
thread, the callback, abort; the ABI structs, the version gate and the prompt folding are apart.)
"""

from __future__ import annotations

import codecs
import ctypes
import json
import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

from workers.llm.backends import rkllm_abi as abi_mod
from workers.llm.backends.base import Backend, Chunk, Prompt
from workers.llm.backends.fold import fold_turns, split_system
from workers.llm.backends.rkllm_version import check_version, library_version
from workers.llm.errors import BackendUnavailable, LlmError, ModelNotFound
from workers.llm.metrics import Perf
from workers.llm.settings import RkllmSettings

__all__ = ["TEMPLATES", "RkllmBackend"]

log = logging.getLogger(__name__)

#: (system, prefix, postfix); ``{system}`` in the first is replaced by the system prompt.
TEMPLATES: dict[str, tuple[str, str, str]] = {
    # As rknn-llm's own demos since 1.2.0 (llm_demo.cpp: rkllm_set_chat_template(h, "",
    # "<｜User｜>", "<｜Assistant｜>")): an empty system part. The runtime tokenizes with the
    # model's begin-of-sentence token itself; writing it here too (the pre-1.2.0 demo's
    # hand-built PROMPT_TEXT_PREFIX) may double it. No {system} slot: the system prompt goes at
    # the head of the user's text, as DeepSeek-R1 models are meant to be prompted.
    "deepseek": ("", "<｜User｜>", "<｜Assistant｜>"),
    # rknn-llm's Qwen demos (ChatML).
    "qwen": (
        "<|im_start|>system\n{system}<|im_end|>\n",
        "<|im_start|>user\n",
        "<|im_end|>\n<|im_start|>assistant\n",
    ),
}

_DONE = object()
_TOOL_RESPONSE = "tool_response"


class _Run:
    """State shared between one ``rkllm_run`` call's callback and the consumer."""

    def __init__(self, max_tokens: int) -> None:
        self.queue: queue.Queue[Any] = queue.Queue()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.max_tokens = max_tokens
        self.tokens = 0
        self.perf: Perf | None = None
        self.error = False
        self.stop_reason: str | None = None
        self.paused = False


class RkllmBackend(Backend):
    """The rkllm runtime in this process."""

    name = "rkllm"
    #: The tools go to ``rkllm_set_function_tools``, which writes them into the prompt itself:
    #: the worker must not describe them in the system prompt as well.
    native_tools = True

    def __init__(self, settings: RkllmSettings) -> None:
        self.settings = settings
        self.abi = abi_mod.ABIS[settings.abi]
        if not settings.model_path.is_file():
            raise ModelNotFound(
                f"The rkllm model file {settings.model_path} does not exist. Convert the model "
                "with rkllm-toolkit (or copy the converted .rkllm file to the board) and set "
                "llm.rkllm.model_path to it; see docs/llm.md."
            )
        if not settings.library_path.is_file():
            raise ModelNotFound(
                f"The rkllm runtime library {settings.library_path} does not exist. Copy "
                "librkllmrt.so of the matching release from airockchip/rknn-llm "
                "(rkllm-runtime/Linux/librkllm_api/aarch64/) there, or set "
                "llm.rkllm.library_path; see docs/llm.md."
            )
        self._check_version()
        try:
            self._lib = ctypes.CDLL(str(settings.library_path))
            self.abi.bind(self._lib)
        except (OSError, AttributeError) as exc:
            raise BackendUnavailable(
                f"Could not load {settings.library_path} as an rkllm {settings.abi} runtime "
                f"({exc}). Check that it is the aarch64 librkllmrt.so and that libomp.so is "
                "beside it or on LD_LIBRARY_PATH."
            ) from exc
        self._run: _Run | None = None
        self._lock = threading.Lock()
        self._cb = abi_mod.ResultCallback(self._callback)
        self._cb_struct = abi_mod.RKLLMCallback()
        self._cb_struct.result_callback = self._cb
        self._handle = ctypes.c_void_p()
        self._param = self._make_param()
        cb_arg: Any = ctypes.byref(self._cb_struct) if self.abi.callback_struct else self._cb
        ret = self._lib.rkllm_init(ctypes.byref(self._handle), ctypes.byref(self._param), cb_arg)
        if ret != 0:
            raise BackendUnavailable(
                f"rkllm_init failed with code {ret} for {settings.model_path}. Check that the "
                "model was converted for this platform and runtime version (RKLLM_LOG_LEVEL=1 "
                "shows the runtime's own log)."
            )
        self._system: str | None = None
        self._tools: str | None = None
        self._persona_in_context: str | None = None

    # -- set-up ---------------------------------------------------------------------------

    def _check_version(self) -> None:
        s = self.settings
        found = library_version(s.library_path)
        warning = check_version(found, s.abi, s.accept_version, s.library_path)
        if warning:
            log.warning("rkllm_version_override %s", warning)
        else:
            log.info("rkllm_version version=%s abi=%s", found, s.abi)

    def _make_param(self) -> ctypes.Structure:
        s = self.settings
        param = self._lib.rkllm_createDefaultParam()
        self._model_path_c = str(s.model_path).encode()
        param.model_path = self._model_path_c
        param.max_context_len = s.max_context_len
        param.max_new_tokens = s.max_new_tokens
        param.top_k = s.top_k
        param.n_keep = s.n_keep
        param.top_p = s.top_p
        param.temperature = s.temperature
        param.repeat_penalty = s.repeat_penalty
        param.frequency_penalty = 0.0
        param.presence_penalty = 0.0
        param.mirostat = 0
        param.mirostat_tau = 5.0
        param.mirostat_eta = 0.1
        param.skip_special_token = s.skip_special_token
        param.is_async = False
        ext = param.extend_param
        ext.base_domain_id = 0
        ext.embed_flash = s.embed_flash
        ext.enabled_cpus_mask = s.enabled_cpus_mask
        ext.enabled_cpus_num = bin(s.enabled_cpus_mask).count("1")
        ext.n_batch = 1
        ext.use_cross_attn = 0
        return param

    def _template(self) -> tuple[str, str, str] | None:
        """(system, prefix, postfix) to set, or None for the model's built-in template."""
        s = self.settings
        if s.chat_template == "builtin":
            return None
        if s.chat_template == "custom":
            return s.template_system, s.template_prefix, s.template_postfix
        return TEMPLATES[s.chat_template]

    def _system_slot(self) -> bool:
        """True when the chat template carries the system prompt (a ``{system}`` slot)."""
        template = self._template()
        return template is not None and "{system}" in template[0]

    def _configure(self, system: str, tools: tuple[dict[str, Any], ...]) -> None:
        """Set the chat template and the tools when they changed since the last run."""
        template = self._template()
        slot = self._system_slot()
        if template is not None and (system if slot else "") != self._system:
            sys_t, prefix, postfix = template
            ret = self._lib.rkllm_set_chat_template(
                self._handle,
                sys_t.replace("{system}", system).encode(),
                prefix.encode(),
                postfix.encode(),
            )
            if ret != 0:
                raise LlmError(f"rkllm_set_chat_template failed with code {ret}.")
        self._system = system if slot else ""
        tools_json = json.dumps(list(tools), ensure_ascii=False) if tools else ""
        if tools_json != (self._tools or ""):
            # Without a slot the system prompt is already in the prompt text: not twice.
            ret = self._lib.rkllm_set_function_tools(
                self._handle,
                (system if slot else "").encode(),
                tools_json.encode(),
                _TOOL_RESPONSE.encode(),
            )
            if ret != 0:
                raise LlmError(f"rkllm_set_function_tools failed with code {ret}.")
            self._tools = tools_json

    # -- running --------------------------------------------------------------------------

    def _callback(self, result: Any, userdata: Any, state: int) -> int:
        """The runtime's result callback. Never calls back into the runtime: its return value
        is the only way it stops a run (1 = pause, the documented in-callback stop)."""
        run = self._run
        if run is None:
            return 0
        try:
            res = result.contents if result else None
            if state == abi_mod.RUN_NORMAL and res is not None:
                if run.paused:
                    return 1
                text = run.decoder.decode(res.text or b"")
                run.tokens += 1
                if text:
                    run.queue.put(text)
                if run.tokens >= run.max_tokens and run.stop_reason is None:
                    run.stop_reason = "length"
                    if not self.abi.run_max_new_tokens:
                        run.paused = True  # 1.2 has no per-run cap: pause at ours
                        return 1
            elif state == abi_mod.RUN_FINISH:
                if res is not None:
                    p = res.perf
                    run.perf = Perf(
                        p.prefill_time_ms,
                        p.prefill_tokens,
                        p.generate_time_ms,
                        p.generate_tokens,
                        p.memory_usage_mb,
                    )
            elif state == abi_mod.RUN_ERROR:
                run.error = True
        except Exception:  # an exception must not unwind into C
            log.exception("rkllm_callback_failed")
        return 0

    def _prompt_text(self, prompt: Prompt) -> tuple[str, str, str]:
        """(system prompt, role, prompt text) for one run."""
        system, turns = split_system(prompt.messages)
        if not turns:
            raise LlmError("The request has no user message to answer.")
        last = turns[-1]
        persona = "" if self._system_slot() else system
        if self.settings.keep_history:
            # The runtime keeps the context: the persona once after a start or a clear.
            if persona == self._persona_in_context:
                persona = ""
            return system, last.role, fold_turns(persona, (), last)
        return system, last.role, fold_turns(persona, turns[:-1], last)

    def stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
        with self._lock:
            yield from self._stream(prompt, abort)

    def _stream(self, prompt: Prompt, abort: threading.Event) -> Iterator[Chunk]:
        system, role, text = self._prompt_text(prompt)
        self._configure(system, prompt.tools)
        if self.settings.keep_history and not self._system_slot():
            self._persona_in_context = system
        inp = self.abi.input()
        role_c, text_c = role.encode(), text.encode()
        inp.role = role_c
        inp.enable_thinking = prompt.enable_thinking
        inp.input_type = abi_mod.INPUT_PROMPT
        inp.prompt_input = text_c
        infer = self.abi.infer_param()
        infer.mode = abi_mod.INFER_GENERATE
        infer.keep_history = 1 if self.settings.keep_history else 0
        sampling = None
        if self.abi.run_max_new_tokens:
            s = self.settings
            sampling = abi_mod.RKLLMSamplingParam(
                s.top_k, s.top_p, prompt.temperature, s.repeat_penalty, 0.0, 0.0, 0, 5.0, 0.1
            )
            infer.sampling_params = ctypes.pointer(sampling)
            infer.max_new_tokens = min(prompt.max_tokens, s.max_new_tokens)
        run = _Run(min(prompt.max_tokens, self.settings.max_new_tokens))
        self._run = run
        rc: list[int] = []

        def target() -> None:
            try:
                rc.append(
                    self._lib.rkllm_run(self._handle, ctypes.byref(inp), ctypes.byref(infer), None)
                )
            finally:
                run.queue.put(_DONE)

        thread = threading.Thread(target=target, name="rkllm_run", daemon=True)
        thread.start()
        aborted = False
        try:
            while True:
                try:
                    item = run.queue.get(timeout=0.005)
                except queue.Empty:
                    item = None
                if abort.is_set() and not aborted:
                    aborted = True
                    self._lib.rkllm_abort(self._handle)
                if item is _DONE:
                    break
                if item is not None and not aborted:
                    yield Chunk(text=item, tokens=1)
        finally:
            if not aborted and thread.is_alive():  # consumer went away: stop the runtime
                self._lib.rkllm_abort(self._handle)
            thread.join()
            self._run = None
        if aborted and self.settings.keep_history:
            self.clear_history()  # the cut-off reply must not stay in the runtime's context
        tail = run.decoder.decode(b"", final=True)
        if tail and not aborted:
            yield Chunk(text=tail)
        if run.error or (rc and rc[0] != 0 and not aborted):
            raise LlmError(
                f"The rkllm runtime reported an error (rkllm_run returned {rc[0] if rc else '?'})."
                " Run with RKLLM_LOG_LEVEL=1 to see the runtime's log."
            )
        reason = "abort" if aborted else (run.stop_reason or "stop")
        yield Chunk(perf=run.perf, finish_reason=reason)

    def clear_history(self) -> None:
        """Drop the runtime's KV cache (after an abort with ``keep_history``).

        NULL start and end are the documented "clear all" (``keep_system_prompt`` 1 keeps the
        template's system part); a range is only valid after a pause, which an abort is not.
        """
        ret = self._lib.rkllm_clear_kv_cache(self._handle, 1, None, None)
        if ret != 0:
            log.warning("rkllm_clear_kv_cache_failed code=%d", ret)
        self._persona_in_context = None

    def close(self) -> None:
        if self._handle:
            self._lib.rkllm_destroy(self._handle)
            self._handle = ctypes.c_void_p()
