"""Errors of the ASR worker, one small hierarchy.

::

    AsrError
    ├── ModelDirError        a model directory lacks a file (the message names it)
    ├── RuntimeUnavailable   a runtime cannot be loaded on this machine (rknnlite off aarch64)
    ├── InferenceError       a runtime call returned a failure code or no output
    └── AudioFormatError     a segment is not 16 kHz mono int16 PCM
"""

from __future__ import annotations

__all__ = [
    "AsrError",
    "AudioFormatError",
    "InferenceError",
    "ModelDirError",
    "RuntimeUnavailable",
]


class AsrError(Exception):
    """Base class of every error raised by ``workers.asr``."""


class ModelDirError(AsrError):
    """A model directory is missing or lacks a required file."""


class RuntimeUnavailable(AsrError):
    """The selected runtime cannot be used on this machine."""


class InferenceError(AsrError):
    """The runtime reported a failure (a -1 return code or no output)."""


class AudioFormatError(AsrError):
    """The audio handed to the recogniser is not in the expected format."""
