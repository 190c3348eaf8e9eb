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
- a **self-correction** redoes the clause before it (:mod:`text.correction`): a clause that
  starts with a correcting lead ("I mean", "actually", "sorry", "make that", "no" before a verb;
  我是说, 应该是) or comes right after a retraction takes the place of the last command clause,
  and when it names only what changed it takes the rest from that clause ("turn left, sorry, I
  mean right" -> "turn right", "drive two meters, no, three" -> "drive three meters");
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
from text.correction import complete_en, complete_zh, lead_en, lead_zh
from text.grammar_en import GERUNDS, LIGHT_NOUNS, tokens
from text.language import language_of
from text.numbers import is_number_char, is_number_word_en
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
                             "oh", "please", "actually", "oops", "i", "mean", "meant", "rather",
                             "or", "correction"})  # fmt: skip
"""The words a retraction clause is made of ("no, wait, don't", "never mind", "cancel that")."""
_RETRACTING_EN = frozenset({"no", "nope", "cancel", "forget", "scratch", "don't", "dont", "not",
                            "never", "actually", "oops", "sorry", "rather",
                            "correction"})  # fmt: skip
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
    t = tokens(_SENTENCE_END.sub(" , ", text))
    for i, w in enumerate(t):
        if w in _CLAUSE_WORDS_EN:
            if out[-1]:
                out.append([])
        elif w == "no" and i + 1 < len(t) and t[i + 1] in lx.MOTION_VERBS_EN and out[-1]:
            out.append([w])  # "turn left no turn right": the comma the recogniser left out
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


@dataclass(frozen=True)
class _Rules:
    """How one language's clauses are read."""

    retracts: Callable[[str], bool]
    negates: Callable[[str], bool]
    lead: Callable[[str], tuple[str, bool]]
    """The clause without its correcting lead, and whether the lead corrects (text.correction)."""
    content: Callable[[str], bool]
    """The clause names a motion or an amount."""
    complete: Callable[[str, str], str]
    sep: str


def _fold(text: str, clauses: list[str], rules: _Rules) -> Negation:
    """The clauses kept, the ones taken out, and whether those held a stop word."""
    kept: list[str] = []
    negated: list[str] = []
    pending: str | None = None  # the clause a retraction took back, that the next one may redo
    for clause in clauses:
        if rules.retracts(clause):  # "turn left, no, turn right": the clauses before go
            pending = next((c for c in reversed(kept) if rules.content(c)), pending)
            negated += kept
            kept = []
            continue
        rest, correcting = rules.lead(clause)
        earlier = next((c for c in reversed(kept) if rules.content(c)), pending)
        if correcting and earlier and rules.content(rest) and not rules.negates(rest):
            negated += kept  # "turn left, I mean right": a correction redoes the clause before
            kept, pending = [rules.complete(earlier, rest)], None
        elif rules.negates(clause):
            negated.append(clause)
        elif pending is not None and rules.content(rest):  # "two meters, no, three"
            kept, pending = [*kept, rules.complete(pending, rest)], None
        else:
            kept.append(rest if correcting and rules.content(rest) else clause)
    if not negated:
        return Negation(text)
    return Negation(rules.sep.join(kept), tuple(negated), any(has_stop_word(c) for c in negated))


def _lead_en(clause: str) -> tuple[str, bool]:
    words = clause.split()
    n = lead_en(words)
    return " ".join(words[n:]), n > 0


def _content_en(clause: str) -> bool:
    return any(w in _MOTION_EN or is_number_word_en(w) for w in clause.split())


def _lead_zh(clause: str) -> tuple[str, bool]:
    n = lead_zh(clause)
    return clause[n:] if n else clause.removeprefix("是"), n > 0


def _content_zh(clause: str) -> bool:
    return _first(clause, (*_MOTION_ZH, "左", "右")) >= 0 or any(is_number_char(c) for c in clause)


_EN = _Rules(_retracts_en, _negates_en, _lead_en, _content_en, complete_en, ", ")
_ZH = _Rules(lambda c: bool(_RETRACTION_ZH.match(c)), _negates_zh, _lead_zh, _content_zh,
             complete_zh, "，")  # fmt: skip


def split_negated(text: str) -> Negation:
    """``text`` with its negated and retracted clauses taken out (see the module's rules)."""
    if language_of(text) == "zh":
        clauses = [c.strip() for c in _CLAUSES_ZH.split(text) if c.strip()]
        return _fold(text, clauses, _ZH)
    return _fold(text, [" ".join(c) for c in _clauses_en(text)], _EN)
