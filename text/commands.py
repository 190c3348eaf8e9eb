"""The spoken-command grammar of the car, tried before asking the LLM.

A 135M-parameter stand-in model cannot be trusted with tool calls, and a driving command should
not wait for a model anyway: an utterance made only of car commands, in natural phrasing, is
understood here. The grammars live beside this module: English words in
:mod:`~text.grammar_en` ("please drive forward two meters", "go back half a meter",
"turn to the right", "back up a little", "spin around", "stop the car", "drive forward three
meters, turn left, and then go back one meter"), Chinese characters in
:mod:`~text.grammar_zh` (请向前开两米, 后退半米, 向右转, 往后退一点, 原地转一圈, 停车,
先左转，然后往前走两米); numbers in both languages in :mod:`~text.numbers`, the
vocabulary in :mod:`~text.lexicon`.

:func:`parse_command` returns the intents as field maps (``{"kind": "drive", "distance_m":
2.0}``), checked strictly by :func:`workers.dialog.actions.check_intent` (an unknown key is
refused there, never defaulted), or ``None`` for anything else (a question, chit-chat, a
command mixed with other words): the dialog then tries a near-miss repair, the LLM's
constrained intent, or an answer (:mod:`~workers.dialog.understanding`).
"""

from __future__ import annotations

from typing import Any

from text import grammar_en, grammar_zh
from text.language import language_of

__all__ = ["DEFAULT_SPEED_MPS", "parse_command"]

DEFAULT_SPEED_MPS = 0.3
"""Speed of a timed drive when the caller gives none (``Bounds.default_speed_mps``), m/s."""
_HALTS = ("stop", "estop")


def _collapse_halts(intents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """'stop, stop, stop' is one STOP."""
    out: list[dict[str, Any]] = []
    for x in intents:
        if not (out and x["kind"] in _HALTS and out[-1] == x):
            out.append(x)
    return out


def parse_command(
    text: str, *, speed_mps: float = DEFAULT_SPEED_MPS
) -> list[dict[str, Any]] | None:
    """The intents of an utterance made only of car commands, or ``None``.

    ``speed_mps`` is the speed of a timed drive ("drive forward for three seconds")."""
    if not text.strip():
        return None
    if language_of(text) == "zh":
        got = grammar_zh.parse(text, speed_mps)
    else:
        got = grammar_en.parse(grammar_en.tokens(text), speed_mps)
    return _collapse_halts(got) if got else None
