"""Which librkllmrt.so releases the ctypes ABIs mirror, and the gate that refuses any other.

The structs of :mod:`workers.llm.backends.rkllm_abi` follow the ``rkllm.h`` of exactly these
airockchip/rknn-llm releases (compared offset by offset with a compiler):

=========  ==========================================================================
ABI "1.2"  1.2.1 (``d546a0f``), 1.2.2 (``04b51a3``), 1.2.3 (``f7df8e5``)
ABI "1.3"  1.3.0 (``878f936``)
=========  ==========================================================================

1.2.0 (``cb5b341``) and 1.2.1b1 (``d8a9f6a``) share the "1.2." prefix but not the layout: no
``role``/``enable_thinking`` in ``RKLLMInput`` (the prompt pointer would be read as the input
type), no ``perf`` in ``RKLLMResult``, a ``void`` callback, a two-argument
``rkllm_clear_kv_cache``. A later release (1.4.0, ...) is unknown. So the gate accepts exact
versions only; ``accept_version`` lets a user who has checked a header load another one.
"""

from __future__ import annotations

import re
from pathlib import Path

from workers.llm.errors import AbiMismatch

__all__ = ["SUPPORTED", "UNKNOWN", "check_version", "library_version"]

#: Runtime versions whose header each ABI mirrors.
SUPPORTED: dict[str, tuple[str, ...]] = {"1.2": ("1.2.1", "1.2.2", "1.2.3"), "1.3": ("1.3.0",)}
#: What the gate calls a library without a readable version string.
UNKNOWN = "unknown"

#: The runtime logs ``rkllm-runtime version: 1.2.1, rknpu driver version: ...`` at init; the
#: version is taken with any suffix (``1.2.1b1``), so a beta is not mistaken for its release.
_VERSION = re.compile(rb"(?:rkllm|RKLLM)[-_ a-zA-Z]*version[: ]*v?(\d+\.\d+\.\d+[0-9A-Za-z]*)")

_OLD_LAYOUT = ("1.2.0", "1.2.1b1")


def library_version(path: Path) -> str | None:
    """The runtime version written in the library's own strings, or None if none is found."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    match = _VERSION.search(data)
    return match.group(1).decode() if match else None


def _supported_text() -> str:
    return "; ".join(f"ABI {abi}: {', '.join(vs)}" for abi, vs in SUPPORTED.items())


def check_version(found: str | None, abi: str, accept: str, path: Path) -> str:
    """Gate one library: "" when it is a supported version of ``abi``, a warning to log when
    ``accept`` (the ``accept_version`` setting) names exactly what was found; otherwise raise
    :class:`AbiMismatch` with a sentence naming the version found and the supported ones."""
    label = found or UNKNOWN
    if accept and accept == label:
        return (
            f"rkllm runtime {label} at {path} is not one whose header ABI {abi} mirrors "
            f"({_supported_text()}); loading it anyway because llm.rkllm.accept_version says so"
        )
    if found in SUPPORTED.get(abi, ()):
        return ""
    other = next((a for a, vs in SUPPORTED.items() if found in vs), None)
    if other is not None:
        raise AbiMismatch(
            f"{path} is rkllm runtime {found}, but the settings select ABI {abi}. Set "
            f"llm.rkllm.abi to {other}, or install a runtime of ABI {abi}."
        )
    if found is None:
        raise AbiMismatch(
            f"No rkllm runtime version string was found in {path}, so it cannot be checked "
            f"against ABI {abi} (supported: {_supported_text()}). Check it with "
            f"`strings -a {path} | grep -i 'rkllm.*version'` (docs/board-checklist.md); if it "
            "is one of those, set llm.rkllm.accept_version to unknown."
        )
    why = (
        " (1.2.0 and 1.2.1b1 have another RKLLMInput and RKLLMResult, a void callback and a "
        "two-argument rkllm_clear_kv_cache: loading them as 1.2 would crash)"
        if found in _OLD_LAYOUT
        else ""
    )
    raise AbiMismatch(
        f"{path} is rkllm runtime {found}, which this worker does not support{why}. Supported "
        f"runtimes: {_supported_text()}. Install one of those, or, if you have checked that the "
        f"rkllm.h of {found} matches ABI {abi}, set llm.rkllm.accept_version to {found}."
    )
