"""Errors of the LLM worker and its backends.

    LlmError
     ├── ModelNotFound          the model file (or runtime library) is not where config says
     ├── BackendUnavailable     the backend cannot be reached or loaded
     │    └── BackendBusy       the server kept answering 503 busy through every retry
     ├── BackendProtocolError   the backend answered something that is not its wire form
     └── AbiMismatch            the rkllm library does not match the configured ABI

Each message is a full sentence that says what to do; the worker puts it in ``llm.reply.error``.
"""

from __future__ import annotations

__all__ = [
    "AbiMismatch",
    "BackendBusy",
    "BackendProtocolError",
    "BackendUnavailable",
    "LlmError",
    "ModelNotFound",
]


class LlmError(Exception):
    """Base of every LLM worker error."""


class ModelNotFound(LlmError):
    """A model file or runtime library named in the settings does not exist."""


class BackendUnavailable(LlmError):
    """The backend cannot be reached or loaded."""


class BackendBusy(BackendUnavailable):
    """The server stayed busy (HTTP 503) through every retry."""


class BackendProtocolError(LlmError):
    """The backend answered something that is not its wire form."""


class AbiMismatch(LlmError):
    """The rkllm runtime library is not of the ABI the settings select."""
