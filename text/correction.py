"""Self-corrections: a clause that says the one before it again, differently.

People correct themselves mid-sentence: "turn left, sorry, I mean right", "drive two meters,
no, three", "go forward, actually, go back", 左转，不对，我是说右转, 往前走两米，不对，三米.
:mod:`text.negation` reads clause by clause; this module says which clauses are corrections and
what they mean in full:

- :func:`lead_en` / :func:`lead_zh`: how much of a clause is a correcting lead ("I mean", "I
  meant", "or rather", "make that", "actually", "sorry", "oops"; 我是说, 我的意思是, 应该是, 我说的
  是); a lead of only "wait" / "well" / "oh" corrects nothing;
- :func:`complete_en` / :func:`complete_zh`: a correction that names only what changed (a side,
  a direction, an amount: "I mean right", "no, three", 不对，三米) takes the rest from the clause
  it corrects ("turn left" -> "turn right", "drive two meters" -> "drive three meters", 往前走两
  米 -> 往前走三米); one with a verb of its own stands as said. A correction that fits no slot of
  the clause before stays as said, so the grammar reads it alone (and nothing is guessed).
"""

from __future__ import annotations

import re

from text import lexicon as lx
from text.numbers import is_number_char, is_number_word_en

__all__ = ["complete_en", "complete_zh", "lead_en", "lead_zh"]

_LEADS_EN = (("i", "mean", "to", "say"), ("i", "meant", "to", "say"), ("i", "mean"),
             ("i", "meant"), ("or", "rather"), ("make", "that"), ("scratch", "that"),
             ("rather",), ("actually",), ("sorry",), ("oops",), ("correction",), ("no",),
             ("nope",), ("wait",), ("well",), ("oh",), ("um",), ("uh",))  # fmt: skip
"""Words a correction starts with, longest first."""
_SOFT_EN = frozenset({"wait", "well", "oh", "um", "uh"})
"""Leads that correct nothing on their own ("wait, turn right" is not a correction)."""
_VERBS_EN = lx.MOTION_VERBS_EN | {"back", "reverse", "do", "make", "take", "hang", "beep", "honk"}
_DIRECTIONS_EN = lx.FORWARD_EN | lx.BACKWARD_EN
_GLUE_EN = frozenset({"the", "to", "side", "please", "by"})


def lead_en(words: list[str]) -> int:
    """How many of ``words`` (one clause) are a correcting lead; 0 when they are none, or only
    soft ones ("wait")."""
    k, correcting = 0, False
    while k < len(words):
        lead = next((p for p in _LEADS_EN if tuple(words[k : k + len(p)]) == p), None)
        if lead is None:
            break
        correcting = correcting or lead[0] not in _SOFT_EN
        k += len(lead)
    return k if correcting else 0


def _number_span(words: list[str]) -> tuple[int, int] | None:
    """The first run of number words in ``words``, with the unit after it: (start, end)."""
    start = next((i for i, w in enumerate(words) if is_number_word_en(w)), None)
    if start is None:
        return None
    end = start
    while end < len(words) and (is_number_word_en(words[end]) or words[end] == "and"):
        end += 1
    while end > start and words[end - 1] == "and":
        end -= 1
    if end < len(words) and words[end] in lx.UNITS_EN:
        end += 1
    return start, end


def complete_en(before: str, rest: str) -> str:
    """The correction ``rest`` in full, with what it leaves out taken from ``before``."""
    words = rest.split()
    prev = before.split()
    if not words or any(w in _VERBS_EN for w in words) or not prev:
        return rest
    slot = [w for w in words if w not in _GLUE_EN]
    if slot and all(w in lx.SIDES_EN for w in slot):
        sides = [i for i, w in enumerate(prev) if w in lx.SIDES_EN]
        if len(sides) == 1:
            return " ".join(prev[: sides[0]] + slot[:1] + prev[sides[0] + 1 :])
        return rest
    if slot and all(w in _DIRECTIONS_EN for w in slot):
        dirs = [i for i, w in enumerate(prev) if w in _DIRECTIONS_EN]
        if len(dirs) == 1 and prev[0] in lx.DRIVE_VERBS_EN:
            return " ".join(prev[: dirs[0]] + slot[:1] + prev[dirs[0] + 1 :])
        return rest
    amount = _number_span(words)
    if amount is None or amount != (0, len(words)):
        return rest
    has_unit = words[-1] in lx.UNITS_EN
    span = _number_span(prev)
    if span is None:  # "go forward, no, two meters": the amount it lacked
        return " ".join(prev + words) if has_unit else rest
    start, end = span
    if not has_unit and end > start and prev[end - 1] in lx.UNITS_EN:
        end -= 1  # "two meters, no, three": the number only
    return " ".join(prev[:start] + words + prev[end:])


# --- Chinese --------------------------------------------------------------------------------

_LEAD_ZH = re.compile(r"^(我是说|我的意思是|我说的是|应该是|说错了|不对|不是|是)+")
_VERBS_ZH = re.compile(r"[走开转退进拐倒掉调动]")
_SIDES_ZH = "左右"
_NUMBER_ZH = re.compile(
    "[0-9零一二两兩三四五六七八九十百千半点.]+(" + "|".join(
        sorted((*lx.LENGTH_UNITS_ZH, *lx.TIME_UNITS_ZH, "度"), key=len, reverse=True)) + ")?"
)  # fmt: skip


def lead_zh(clause: str) -> int:
    """How many characters of ``clause`` are a correcting lead (我是说, 不对, 应该是 ...)."""
    m = _LEAD_ZH.match(clause)
    return m.end() if m and m.group() != "是" else 0


def complete_zh(before: str, rest: str) -> str:
    """As :func:`complete_en`: 左转 + 右 -> 右转, 往前走两米 + 三米 -> 往前走三米."""
    if not rest or _VERBS_ZH.search(rest) or not before:
        return rest
    core = rest.rstrip("吧啊呀了")
    if len(core) == 1 and core in _SIDES_ZH:
        sides = [i for i, ch in enumerate(before) if ch in _SIDES_ZH]
        return before[: sides[0]] + core + before[sides[0] + 1 :] if len(sides) == 1 else rest
    m = _NUMBER_ZH.fullmatch(core)
    if m is None or not all(is_number_char(c) for c in core[: m.start(1) if m.group(1) else None]):
        return rest
    prev = _NUMBER_ZH.search(before)
    if prev is None:
        return before + core if m.group(1) else rest
    if m.group(1) is None and prev.group(1):  # 两米，不对，三: the number only
        return before[: prev.start()] + core + before[prev.start(1) :]
    return before[: prev.start()] + core + before[prev.end() :]
