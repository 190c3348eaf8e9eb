"""Encoder runtimes behind one small interface: RKNNLite on the RK3588 NPU, onnxruntime on CPU.

Both take the SenseVoice encoder input ``[1, 171, 560]`` float32 and return its first output
(the CTC logits) unchanged; the layout of that output is detected by the decoder.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from workers.asr.errors import InferenceError, RuntimeUnavailable
from workers.asr.settings import CoreMask

__all__ = ["CORE_MASKS", "CoreMask", "EncoderRuntime", "OnnxRuntime", "RknnLiteRuntime"]

log = logging.getLogger(__name__)

#: Config name -> ``RKNNLite.NPU_CORE_*`` constant name and its value in rknn_api.h.
CORE_MASKS: dict[str, tuple[str, int]] = {
    "auto": ("NPU_CORE_AUTO", 0),
    "0": ("NPU_CORE_0", 1),
    "1": ("NPU_CORE_1", 2),
    "2": ("NPU_CORE_2", 4),
    "0_1": ("NPU_CORE_0_1", 3),
    "0_1_2": ("NPU_CORE_0_1_2", 7),
    "all": ("NPU_CORE_ALL", 0xFFFF),
}


class EncoderRuntime(Protocol):
    """Runs the encoder once: one float32 input tensor in, the first output tensor out."""

    name: str

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """Run the encoder on ``inputs`` and return output 0."""
        ...

    def close(self) -> None:
        """Free the runtime (idempotent)."""
        ...


def _import_rknnlite() -> Any:
    try:
        from rknnlite.api import RKNNLite
    except ImportError as exc:
        raise RuntimeUnavailable(
            "The rknnlite runtime (package rknn-toolkit-lite2) cannot be imported on this "
            f"{platform.machine()} machine: it exists only for aarch64 Linux. On the RK3588 board "
            "run `pip install rknn-toolkit-lite2` and put librknnrt.so in /usr/lib; elsewhere "
            "choose the backend sensevoice-onnx or whisper."
        ) from exc
    return RKNNLite


class RknnLiteRuntime:
    """The encoder on the RK3588 NPU through ``rknnlite.api.RKNNLite``.

    Every return code is checked: ``load_rknn`` and ``init_runtime`` must return 0 and
    ``inference`` must return a non-empty list, otherwise a clear error is raised.
    """

    name = "rknnlite"

    def __init__(self, model_path: Path, core_mask: CoreMask = "0") -> None:
        rknnlite_cls = _import_rknnlite()
        constant, fallback = CORE_MASKS[core_mask]
        mask = getattr(rknnlite_cls, constant, fallback)
        self._rknn: Any = rknnlite_cls(verbose=False)
        try:
            ret = self._rknn.load_rknn(str(model_path))
            if ret != 0:
                raise RuntimeUnavailable(
                    f"RKNNLite.load_rknn({model_path}) returned {ret}: the file is not a readable "
                    ".rknn model; copy sense-voice-encoder.rknn from SenseVoiceSmall-RKNN2 again."
                )
            ret = self._rknn.init_runtime(core_mask=mask)
            if ret != 0:
                raise RuntimeUnavailable(
                    f"RKNNLite.init_runtime(core_mask={constant}) returned {ret}: check that "
                    "/usr/lib/librknnrt.so matches rknn-toolkit-lite2, that the RKNPU driver is "
                    "loaded, and that the model was converted for rk3588."
                )
        except BaseException:
            self.close()
            raise
        log.info("rknn_ready model=%s core_mask=%s", model_path, constant)

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """One NPU inference; raises :class:`InferenceError` when rknnlite returns no output."""
        if self._rknn is None:
            raise InferenceError("The RKNN runtime was already released; create a new one.")
        outputs = self._rknn.inference(inputs=[np.ascontiguousarray(inputs, dtype=np.float32)])
        if outputs is None or len(outputs) == 0 or outputs[0] is None:
            raise InferenceError(
                "RKNNLite.inference returned no output (it logs the cause above); check the "
                f"input shape {tuple(inputs.shape)} against the model's input."
            )
        return np.asarray(outputs[0])

    def close(self) -> None:
        """Release the NPU context."""
        if getattr(self, "_rknn", None) is not None:
            self._rknn.release()
            self._rknn = None


class OnnxRuntime:
    """The SenseVoice encoder exported to ONNX, on CPU through onnxruntime."""

    name = "onnxruntime"

    def __init__(self, model_path: Path, threads: int = 2) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._session: Any = ort.InferenceSession(
                str(model_path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise RuntimeUnavailable(
                f"onnxruntime could not load {model_path}: {exc}. Export the SenseVoice encoder "
                "to ONNX with one input [1, 171, 560] float32."
            ) from exc
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise RuntimeUnavailable(
                f"{model_path} has {len(inputs)} inputs; the SenseVoice encoder export must have "
                "exactly one ([1, 171, 560] float32)."
            )
        self._input = inputs[0].name

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """One CPU inference."""
        if self._session is None:
            raise InferenceError("The onnxruntime session was already closed; create a new one.")
        outputs = self._session.run(None, {self._input: inputs.astype(np.float32, copy=False)})
        return np.asarray(outputs[0])

    def close(self) -> None:
        """Drop the session."""
        self._session = None
