"""Topic globs: what a subscriber asks for, and the ZeroMQ prefixes that carry it.

ZeroMQ filters by byte prefix; a glob such as ``vad.*`` or ``rtos.[at]*`` (``fnmatch`` syntax:
``*``, ``?`` and ``[...]``; no braces) is not a prefix, so a node subscribes to the glob's literal
prefix and checks the full glob itself.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable

__all__ = ["is_glob", "literal_prefix", "matcher"]

_SPECIAL = re.compile(r"[*?\[]")


def is_glob(pattern: str) -> bool:
    """True for a topic pattern (``vad.*``) rather than one exact topic."""
    return _SPECIAL.search(pattern) is not None


def literal_prefix(pattern: str) -> str:
    """The part of ``pattern`` before its first glob character."""
    m = _SPECIAL.search(pattern)
    return pattern if m is None else pattern[: m.start()]


def matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """A predicate true for topics matching any of ``patterns`` (``fnmatch`` globs).

    A pattern without glob characters matches that exact topic only.
    """
    exact: set[str] = set()
    globs: list[str] = []
    for p in patterns:
        if _SPECIAL.search(p):
            globs.append(p)
        else:
            exact.add(p)
    if not globs:
        return exact.__contains__
    regex = re.compile("|".join(fnmatch.translate(g) for g in globs))

    def match(topic: str) -> bool:
        return topic in exact or regex.match(topic) is not None

    return match
