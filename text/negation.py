"""Commands the user said not to do: a negated or retracted clause never moves the car.

"don't turn left", "do not drive forward two meters", "never go back", "you can't turn here",
"no need to back up", 别左转, 不要往前走两米, 不用后退 name a command only to forbid it; "turn
left, no, turn right", "go forward two meters, never mind", 左转，不对，右转 take one back. The
grammar parses none of these, but the words are command words, so without this module the
LLM's intent path would be asked, and its answer is checked only against the words said: "turn
left" is among them. So the dialog reads the utterance here first (:func:`split_negated`):

- the utterance is cut into clauses at punctuation (Whisper's commas and full stops) and at
  the words that start another clause ("but", "instead", "then"; 然后, 但是, 而是); not at
  "and": "don't turn left and go forward" forbids both, the safe reading;
- a clause is **negated** when a negation (``n't``, "not", "never", "no need to", "no" before a
  motion word; 不要, 别, 不用, 不准, 不许, 不能, 不必, 甭, 勿) comes before its first motion word
  (a drive, a turn, a direction or side, the horn, the lights; 走, 开, 转, 前, 后 ...). "why
  don't you turn left" / "why not turn left" is a suggestion, not a negation: left as said, and
  so are the polite questions 能不能, 可不可以, 要不要 ("can you");
- a clause made only of a retraction ("no", "no, don't", "never mind", "cancel that", "forget
  it"; 不对, 不是, 算了, 取消, 不要了) takes back the clauses before it;
- a stop word is honoured wherever it is ("don't move forward yet", 别动, "do not move": the
  stop forms hold a negation themselves): a negated clause that holds one leaves its STOP.

What is left (:attr:`Negation.kept`) is read as before; the STOP path has stopped the car
already when a stop word was said (:mod:`text.stopwords`). An utterance with no negation comes
back exactly as it was (``negated`` empty).

    split_negated("Don't turn left, turn right.")  # kept "turn right"
    split_negated("别往前走")                        # kept "", negated ("别往前走",)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from text import lexicon as lx
from text.grammar_en import GERUNDS, LIGHT_NOUNS, tokens
from text.language import language_of
from text.stopwords import has_stop_word

__all__ = ["Negation", "split_negated"]


@dataclass(frozen=True)
class Negation:
    """An utterance with its negated and retracted clauses taken out."""

    kept: str
    """The clauses left, joined by commas (the utterance itself when nothing was taken out)."""
    negated: tuple[str, ...] = ()
    """The clauses taken out (negated, or taken back by a later retraction)."""
    stop: bool = False
    """A clause taken out held a stop word: its STOP stands."""


# --- English --------------------------------------------------------------------------------

_CLAUSE_WORDS_EN = frozenset({",", "but", "instead", "then"})
_MOTION_EN = (
    lx.DRIVE_VERBS_EN | lx.BACKWARD_VERBS_EN | lx.FORWARD_VERBS_EN | lx.FORWARD_EN
    | lx.BACKWARD_EN | lx.TURN_VERBS_EN | frozenset(lx.SIDES_EN) | lx.HORN_EN | LIGHT_NOUNS
    | {g for g, verb in GERUNDS.items() if verb not in lx.STOP_EN} | {"u"}
)  # fmt: skip
"""Words that name something the car would do (a stop word is not one: it is always kept)."""
_NEGATIONS_EN = frozenset({"not", "never", "dont", "cant", "wont", "shouldnt", "mustnt"})
_RETRACTIONS_EN = frozenset({"no", "nope", "never", "mind", "cancel", "that", "forget", "it",
                             "scratch", "don't", "dont", "do", "not", "sorry", "wait", "ok",
                             "oh", "please"})  # fmt: skip
"""The words a retraction clause is made of ("no, wait, don't", "never mind", "cancel that")."""
_RETRACTING_EN = frozenset({"no", "nope", "cancel", "forget", "scratch", "don't", "dont", "not",
                            "never"})  # fmt: skip
"""A retraction clause holds one of these (so "wait" or "ok" alone takes nothing back)."""


def _negation_at_en(t: list[str], i: int) -> bool:
    w = t[i]
    if w.endswith("n't") or w in _NEGATIONS_EN:
        return not (i > 0 and t[i - 1] == "why")  # "why don't you", "why not": a suggestion
    if w == "no":
        nxt = t[i + 1] if i + 1 < len(t) else ""
        return nxt in _MOTION_EN or t[i + 1 : i + 3] == ["need", "to"]
    return False


_SENTENCE_END = re.compile(r"(?<!\d)[.!?]+|[.!?]+(?!\d)")
"""A full stop, question or exclamation mark (not the point of 1.5): a clause ends there too."""


def _clauses_en(text: str) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for w in tokens(_SENTENCE_END.sub(" , ", text)):
        if w in _CLAUSE_WORDS_EN:
            if out[-1]:
                out.append([])
        else:
            out[-1].append(w)
    return [c for c in out if c]


def _retracts_en(clause: str) -> bool:
    words = set(clause.split())
    return not words & _MOTION_EN and words <= _RETRACTIONS_EN and bool(words & _RETRACTING_EN)


def _negates_en(clause: str) -> bool:
    t = clause.split()
    motion = [i for i, w in enumerate(t) if w in _MOTION_EN]
    return bool(motion) and any(_negation_at_en(t, i) for i in range(motion[0]))


# --- Chinese --------------------------------------------------------------------------------

_CLAUSES_ZH = re.compile(r"[，,。.；;！!？?、]+|(?=然后|但是|而是)")
_NEGATIONS_ZH = ("不要", "不用", "不准", "不许", "不能", "不必", "不可以", "不应该", "别", "甭",
                 "勿")  # fmt: skip
_MOTION_ZH = ("前", "后", "退", "倒", "走", "开", "转", "拐", "弯", "掉头", "调头", "动", "灯",
              "喇叭", "鸣笛", "按")  # fmt: skip
_RETRACTION_ZH = re.compile(r"^(不对|不是|算了|取消|不要了|别了|不行)+[了吧啊呀]*$")
_WHY_ZH = ("为什么不", "何不")
_NOT_NEGATION_ZH = re.compile(r"([能可要用准许])不\1|别[人的处]|[特区分告级类性识]别")
"""Negation characters that do not say 'do not': a polite question (能不能, 可不可以, 要不要:
"can you"), 别 in 别人 (others), 别的, 特别, 区别 ..."""


def _first(clause: str, forms: tuple[str, ...], start: int = 0) -> int:
    found = [k for k in (clause.find(f, start) for f in forms) if k >= 0]
    return min(found) if found else -1


def _negation_zh(clause: str) -> int:
    """Where the first negation of ``clause`` is, or -1."""
    masked = _NOT_NEGATION_ZH.sub(lambda m: "\0" * len(m.group()), clause)
    return -1 if _first(clause, _WHY_ZH) >= 0 else _first(masked, _NEGATIONS_ZH)


def _negates_zh(clause: str) -> bool:
    cue = _negation_zh(clause)
    return cue >= 0 and _first(clause, _MOTION_ZH, cue + 1) >= 0


def _fold(
    text: str,
    clauses: list[str],
    retracts: Callable[[str], bool],
    negates: Callable[[str], bool],
    sep: str,
) -> Negation:
    """The clauses kept, the ones taken out, and whether those held a stop word."""
    kept: list[str] = []
    negated: list[str] = []
    for clause in clauses:
        if retracts(clause):  # "turn left, no, turn right": the clauses before are taken back
            negated += kept
            kept = []
        elif negates(clause):
            negated.append(clause)
        else:
            kept.append(clause)
    if not negated:
        return Negation(text)
    return Negation(sep.join(kept), tuple(negated), any(has_stop_word(c) for c in negated))


def split_negated(text: str) -> Negation:
    """``text`` with its negated and retracted clauses taken out (see the module's rules)."""
    if language_of(text) == "zh":
        clauses = [c.strip() for c in _CLAUSES_ZH.split(text) if c.strip()]
        return _fold(text, clauses, lambda c: bool(_RETRACTION_ZH.match(c)), _negates_zh, "，")
    clauses = [" ".join(c) for c in _clauses_en(text)]
    return _fold(text, clauses, _retracts_en, _negates_en, ", ")
