"""ctypes mirrors of ``rkllm.h`` for the two runtime ABIs we support.

- ``"1.3"``: librkllmrt 1.3.0 (``rkllm_init`` takes an ``RKLLMCallback*`` struct; ``RKLLMParam``
  has ``ignore_eos_token``; ``RKLLMInferParam`` has ``sampling_params`` and ``max_new_tokens``;
  multimodal input in nested ``image``/``video`` structs).
- ``"1.2"``: librkllmrt 1.2.1 to 1.2.3 (``rkllm_init`` takes the result callback itself;
  ``RKLLMParam`` has ``img_start``/``img_end``/``img_content``; flat multimodal input).

Field order and types follow the official header of each release field by field; the layout test
(``tests/workers/llm/test_llm_rkllm_layout.py``) compares every offset and size with a C compiler.
1.2.0 and 1.2.1b1 differ again (no ``role``/``perf``): :mod:`~workers.llm.backends.rkllm_version`
accepts exactly the releases these structs mirror.

(About 360 lines: both ABIs' structs field by field in one file, so that each reads against
its release's header and the layout test in one place.)
"""

from __future__ import annotations

import ctypes
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    Union,
    c_bool,
    c_char_p,
    c_float,
    c_int,
    c_int8,
    c_int32,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ABIS", "Abi", "AbiName"]

AbiName = Literal["1.2", "1.3"]

# LLMCallState
RUN_NORMAL, RUN_WAITING, RUN_FINISH, RUN_ERROR = 0, 1, 2, 3
INPUT_PROMPT = 0
INFER_GENERATE = 0


class RKLLMExtendParam(Structure):
    _fields_ = (
        ("base_domain_id", c_int32),
        ("embed_flash", c_int8),
        ("enabled_cpus_num", c_int8),
        ("enabled_cpus_mask", c_uint32),
        ("n_batch", c_uint8),
        ("use_cross_attn", c_int8),
        ("reserved", c_uint8 * 104),
    )


_PARAM_HEAD: tuple[tuple[str, Any], ...] = (
    ("model_path", c_char_p),
    ("max_context_len", c_int32),
    ("max_new_tokens", c_int32),
    ("top_k", c_int32),
    ("n_keep", c_int32),
    ("top_p", c_float),
    ("temperature", c_float),
    ("repeat_penalty", c_float),
    ("frequency_penalty", c_float),
    ("presence_penalty", c_float),
    ("mirostat", c_int32),
    ("mirostat_tau", c_float),
    ("mirostat_eta", c_float),
    ("skip_special_token", c_bool),
)


class RKLLMParam13(Structure):
    _fields_ = (
        *_PARAM_HEAD,
        ("ignore_eos_token", c_bool),
        ("is_async", c_bool),
        ("extend_param", RKLLMExtendParam),
    )


class RKLLMParam12(Structure):
    _fields_ = (
        *_PARAM_HEAD,
        ("is_async", c_bool),
        ("img_start", c_char_p),
        ("img_end", c_char_p),
        ("img_content", c_char_p),
        ("extend_param", RKLLMExtendParam),
    )


class RKLLMEmbedInput(Structure):
    _fields_ = (("embed", POINTER(c_float)), ("n_tokens", c_size_t))


class RKLLMTokenInput(Structure):
    _fields_ = (("input_ids", POINTER(c_int32)), ("n_tokens", c_size_t))


class RKLLMImage13(Structure):
    _fields_ = (
        ("image_embed", POINTER(c_float)),
        ("n_image_tokens", c_size_t),
        ("n_image", c_size_t),
        ("image_start", c_char_p),
        ("image_end", c_char_p),
        ("image_content", c_char_p),
        ("image_width", c_size_t),
        ("image_height", c_size_t),
    )


class RKLLMVideo13(Structure):
    _fields_ = (
        ("video_embed", POINTER(c_float)),
        ("n_frame_tokens", c_size_t),
        ("n_frame_per_video", c_size_t),
        ("n_video", c_size_t),
        ("video_start", c_char_p),
        ("video_end", c_char_p),
        ("video_content", c_char_p),
        ("frame_width", c_size_t),
        ("frame_height", c_size_t),
    )


class RKLLMMultiModalInput13(Structure):
    _fields_ = (("prompt", c_char_p), ("image", RKLLMImage13), ("video", RKLLMVideo13))


class RKLLMMultiModalInput12(Structure):
    _fields_ = (
        ("prompt", c_char_p),
        ("image_embed", POINTER(c_float)),
        ("n_image_tokens", c_size_t),
        ("n_image", c_size_t),
        ("image_width", c_size_t),
        ("image_height", c_size_t),
    )


class _InputUnion13(Union):
    _fields_ = (
        ("prompt_input", c_char_p),
        ("embed_input", RKLLMEmbedInput),
        ("token_input", RKLLMTokenInput),
        ("multimodal_input", RKLLMMultiModalInput13),
    )


class _InputUnion12(Union):
    _fields_ = (
        ("prompt_input", c_char_p),
        ("embed_input", RKLLMEmbedInput),
        ("token_input", RKLLMTokenInput),
        ("multimodal_input", RKLLMMultiModalInput12),
    )


class RKLLMInput13(Structure):
    _anonymous_ = ("u",)
    _fields_ = (
        ("role", c_char_p),
        ("enable_thinking", c_bool),
        ("input_type", c_int),
        ("u", _InputUnion13),
    )


class RKLLMInput12(Structure):
    _anonymous_ = ("u",)
    _fields_ = (
        ("role", c_char_p),
        ("enable_thinking", c_bool),
        ("input_type", c_int),
        ("u", _InputUnion12),
    )


class RKLLMLoraParam(Structure):
    _fields_ = (("lora_adapter_name", c_char_p),)


class RKLLMPromptCacheParam(Structure):
    _fields_ = (("save_prompt_cache", c_int), ("prompt_cache_path", c_char_p))


class RKLLMSamplingParam(Structure):
    _fields_ = (
        ("top_k", c_int32),
        ("top_p", c_float),
        ("temperature", c_float),
        ("repeat_penalty", c_float),
        ("frequency_penalty", c_float),
        ("presence_penalty", c_float),
        ("mirostat", c_int32),
        ("mirostat_tau", c_float),
        ("mirostat_eta", c_float),
    )


class RKLLMInferParam13(Structure):
    _fields_ = (
        ("mode", c_int),
        ("lora_params", POINTER(RKLLMLoraParam)),
        ("prompt_cache_params", POINTER(RKLLMPromptCacheParam)),
        ("sampling_params", POINTER(RKLLMSamplingParam)),
        ("keep_history", c_int),
        ("max_new_tokens", c_int32),
    )


class RKLLMInferParam12(Structure):
    _fields_ = (
        ("mode", c_int),
        ("lora_params", POINTER(RKLLMLoraParam)),
        ("prompt_cache_params", POINTER(RKLLMPromptCacheParam)),
        ("keep_history", c_int),
    )


class RKLLMResultLastHiddenLayer(Structure):
    _fields_ = (("hidden_states", POINTER(c_float)), ("embd_size", c_int), ("num_tokens", c_int))


class RKLLMResultLogits(Structure):
    _fields_ = (("logits", POINTER(c_float)), ("vocab_size", c_int), ("num_tokens", c_int))


class RKLLMPerfStat(Structure):
    _fields_ = (
        ("prefill_time_ms", c_float),
        ("prefill_tokens", c_int),
        ("generate_time_ms", c_float),
        ("generate_tokens", c_int),
        ("memory_usage_mb", c_float),
    )


class RKLLMResult(Structure):
    _fields_ = (
        ("text", c_char_p),
        ("token_id", c_int32),
        ("last_hidden_layer", RKLLMResultLastHiddenLayer),
        ("logits", RKLLMResultLogits),
        ("perf", RKLLMPerfStat),
    )


ResultCallback = CFUNCTYPE(c_int, POINTER(RKLLMResult), c_void_p, c_int)
TokenizerCallback = CFUNCTYPE(c_int, c_void_p, c_char_p, c_int32, POINTER(c_int32), c_int32)
EmbedCallback = CFUNCTYPE(c_int, c_void_p, POINTER(c_int32), c_uint64, c_void_p, c_uint64)


class RKLLMCallback(Structure):
    _fields_ = (
        ("result_callback", ResultCallback),
        ("result_userdata", c_void_p),
        ("tokenizer_callback", TokenizerCallback),
        ("tokenizer_userdata", c_void_p),
        ("embed_callback", EmbedCallback),
        ("embed_userdata", c_void_p),
    )


@dataclass(frozen=True)
class Abi:
    """The struct types of one runtime ABI, keyed by their C names where a test needs them."""

    name: AbiName
    param: type[Structure]
    input: type[Structure]
    infer_param: type[Structure]
    structs: dict[str, type[Structure] | type[Union]]

    @property
    def callback_struct(self) -> bool:
        """True when ``rkllm_init`` takes an ``RKLLMCallback*`` (1.3) instead of a function."""
        return self.name == "1.3"

    @property
    def run_max_new_tokens(self) -> bool:
        """True when ``RKLLMInferParam`` carries a per-run ``max_new_tokens`` (1.3)."""
        return self.name == "1.3"

    def bind(self, lib: ctypes.CDLL) -> None:
        """Declare the argument and result types of the functions we call."""
        handle_p = POINTER(c_void_p)
        lib.rkllm_createDefaultParam.restype = self.param
        lib.rkllm_createDefaultParam.argtypes = []
        lib.rkllm_init.restype = c_int
        lib.rkllm_init.argtypes = [
            handle_p,
            POINTER(self.param),
            POINTER(RKLLMCallback) if self.callback_struct else ResultCallback,
        ]
        lib.rkllm_run.restype = c_int
        lib.rkllm_run.argtypes = [
            c_void_p,
            POINTER(self.input),
            POINTER(self.infer_param),
            c_void_p,
        ]
        for fn in ("rkllm_abort", "rkllm_is_running", "rkllm_destroy"):
            getattr(lib, fn).restype = c_int
            getattr(lib, fn).argtypes = [c_void_p]
        lib.rkllm_set_chat_template.restype = c_int
        lib.rkllm_set_chat_template.argtypes = [c_void_p, c_char_p, c_char_p, c_char_p]
        lib.rkllm_set_function_tools.restype = c_int
        lib.rkllm_set_function_tools.argtypes = [c_void_p, c_char_p, c_char_p, c_char_p]
        lib.rkllm_clear_kv_cache.restype = c_int
        lib.rkllm_clear_kv_cache.argtypes = [c_void_p, c_int, POINTER(c_int), POINTER(c_int)]


_COMMON: dict[str, type[Structure] | type[Union]] = {
    "RKLLMExtendParam": RKLLMExtendParam,
    "RKLLMEmbedInput": RKLLMEmbedInput,
    "RKLLMTokenInput": RKLLMTokenInput,
    "RKLLMLoraParam": RKLLMLoraParam,
    "RKLLMPromptCacheParam": RKLLMPromptCacheParam,
    "RKLLMResultLastHiddenLayer": RKLLMResultLastHiddenLayer,
    "RKLLMResultLogits": RKLLMResultLogits,
    "RKLLMPerfStat": RKLLMPerfStat,
    "RKLLMResult": RKLLMResult,
}

ABIS: dict[str, Abi] = {
    "1.3": Abi(
        "1.3",
        RKLLMParam13,
        RKLLMInput13,
        RKLLMInferParam13,
        {
            **_COMMON,
            "RKLLMParam": RKLLMParam13,
            "RKLLMMultiModalInput": RKLLMMultiModalInput13,
            "RKLLMInput": RKLLMInput13,
            "RKLLMSamplingParam": RKLLMSamplingParam,
            "RKLLMInferParam": RKLLMInferParam13,
            "RKLLMCallback": RKLLMCallback,
        },
    ),
    "1.2": Abi(
        "1.2",
        RKLLMParam12,
        RKLLMInput12,
        RKLLMInferParam12,
        {
            **_COMMON,
            "RKLLMParam": RKLLMParam12,
            "RKLLMMultiModalInput": RKLLMMultiModalInput12,
            "RKLLMInput": RKLLMInput12,
            "RKLLMInferParam": RKLLMInferParam12,
        },
    ),
}
