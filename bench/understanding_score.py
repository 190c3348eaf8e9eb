"""Scoring what a text -> commands function makes of the corpus lines: the library of the bench.

    from bench.understanding_corpus import load_corpus
    from bench.understanding_score import score, summarise

    def mine(text: str, language: str) -> list[dict] | None: ...   # intents, or None for none
    outcomes = score(mine, load_corpus().split("tune"))             # transcript = reference text
    print(summarise(outcomes))

``understand(text, language)`` returns the intents it would act on (RtosCommand field maps or
:class:`schemas.rtos.RtosCommand` objects), in order, or None / [] for no command. Each intent is
validated like the LLM's (``text.intents.ToolArguments``: no unknown key, no coercion; a malformed
one is an error and nothing is sent), then the sequence passes the dialog's bounds check, all or
none, exactly as ``workers.dialog.car.CarDesk.act`` does: the result is what the car receives.

How a line is judged (``Outcome``):

- repeated STOPs in a row count as one; on a line with a stop word, a STOP in front of the
  expected commands is *tolerated* (the issue's rule sends one on the word), and not compared;
- ``exact``: the commands are exactly the expected ones, in order (never when malformed);
- ``false_command``: the line wants no command, yet the car receives one (beyond a tolerated
  STOP); target 0;
- ``stop_hit``: on a stop line, the first command is STOP or emergency stop; target 100 %.

Word error rates compare lower-case words with punctuation dropped and digits spelled out
(English) and characters with Arabic numbers written in Chinese, 两 as 二 (Chinese).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bench.asrcandidates import char_error_rate, word_error_rate
from bench.understanding_corpus import Line, canonical, car_commands, expected_commands
from schemas.rtos import CarIntent
from text.intents import ToolArguments
from workers.dialog.actions import Bounds

__all__ = ["Outcome", "Understand", "judge", "normalise_en", "normalise_zh", "score", "summarise"]

Produced = Sequence[Mapping[str, Any] | CarIntent] | None
Understand = Callable[[str, str], Produced]
_STOP = {"kind": "stop"}
_HALTS = ("stop", "estop")


@dataclass(frozen=True)
class Outcome:
    """How one transcript of one line was understood."""

    line_id: str
    split: str
    lang: str
    category: str
    condition: str
    """``text`` (transcript = reference) or the audio condition, e.g. ``piper-ls0.85/pink10``."""
    reference: str
    transcript: str
    got: list[dict[str, Any]]
    """What the car receives (canonical commands), repeated STOPs collapsed."""
    expected: list[dict[str, Any]]
    exact: bool
    false_command: bool
    stop_hit: bool | None
    """None on lines that are not stop lines."""
    tolerated_stop: bool
    """A STOP was sent on a stop-word line that did not ask for one (not an error)."""
    refusal: str = ""
    """The bounds check's refusal, when the understood intents were refused."""
    error: str = ""
    """Why the produced intents were malformed (nothing is sent then)."""


def _as_intent(item: Mapping[str, Any] | CarIntent) -> dict[str, Any]:
    if isinstance(item, CarIntent):
        return canonical(item)
    ToolArguments.model_validate(dict(item))  # raises ValidationError on an unknown key or type
    return dict(item)


def _collapse_stops(cmds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in cmds:
        if not (out and c == out[-1] and c.get("kind") in _HALTS):
            out.append(c)
    return out


def judge(
    line: Line,
    transcript: str,
    produced: Produced,
    bounds: Bounds,
    *,
    condition: str = "text",
) -> Outcome:
    """Judge what ``produced`` (the understood intents) does to the car for ``line``."""
    error = ""
    try:
        intents = [_as_intent(x) for x in produced or ()]
    except ValidationError as exc:
        first = exc.errors()[0]
        error = f"malformed intent ({'.'.join(str(p) for p in first['loc'])}: {first['msg']})"
        intents = []
    got, refusal = car_commands(intents, bounds)
    got = _collapse_stops(got)
    expected = expected_commands(line, bounds)
    compared, tolerated = got, False
    if line.stop_word and got and got[0] == _STOP and (not expected or expected[0] != _STOP):
        compared, tolerated = got[1:], True
    return Outcome(
        line_id=line.id,
        split=line.split,
        lang=line.lang,
        category=line.category,
        condition=condition,
        reference=line.reference,
        transcript=transcript,
        got=got,
        expected=expected,
        exact=not error and compared == expected,
        false_command=not expected and bool(compared),
        stop_hit=(bool(got) and got[0]["kind"] in _HALTS) if line.wants_stop else None,
        tolerated_stop=tolerated,
        refusal=refusal,
        error=error,
    )


def score(
    understand: Understand,
    lines: Iterable[Line],
    *,
    transcripts: Mapping[str, str] | None = None,
    bounds: Bounds | None = None,
    condition: str = "text",
) -> list[Outcome]:
    """Run ``understand`` on each line's transcript (its reference text by default) and judge it.

    ``transcripts`` maps line ids to recognised text, to score a grammar on saved ASR output.
    """
    b = bounds or Bounds()
    out = []
    for line in lines:
        text = line.reference if transcripts is None else transcripts[line.id]
        out.append(judge(line, text, understand(text, line.lang), b, condition=condition))
    return out


_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
         "nineteen"]  # fmt: skip
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _int_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + _int_words(rest))
    return str(n)


def _number_words(m: re.Match[str]) -> str:
    whole, _, frac = m.group(0).partition(".")
    words = _int_words(int(whole))
    return words + (" point " + " ".join(_ONES[int(d)] for d in frac) if frac else "")


def normalise_en(text: str) -> str:
    """Lower-case words, digits spelled out, punctuation and hyphens dropped."""
    t = text.lower().replace("\u2019", "'").replace("%", " percent")
    t = re.sub(r"\d+(?:\.\d+)?", lambda m: f" {_number_words(m)} ", t)
    t = re.sub(r"[^\w\s']|(?<!\w)'|'(?!\w)", " ", t.replace("-", " "))
    return " ".join(t.replace("okay", "ok").split())


_ZH_DIGITS = "零一二三四五六七八九"


def _zh_int(n: int) -> str:
    if n < 10:
        return _ZH_DIGITS[n]
    if n < 100:
        tens = "" if n // 10 == 1 else _ZH_DIGITS[n // 10]
        return tens + "十" + ("" if n % 10 == 0 else _ZH_DIGITS[n % 10])
    return "".join(_ZH_DIGITS[int(d)] for d in str(n))


def normalise_zh(text: str) -> str:
    """Characters only: punctuation and spaces dropped, numbers in Chinese, 两 as 二."""
    t = re.sub(r"\d+", lambda m: _zh_int(int(m.group(0))), text).replace("两", "二")
    return re.sub(r"[^\w]", "", t)


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Counts and rates of a group of outcomes (rates are None when nothing was counted)."""
    cmd = [o for o in outcomes if o.expected]
    none = [o for o in outcomes if not o.expected]
    stops = [o for o in outcomes if o.stop_hit is not None]
    refusals = [o for o in outcomes if o.category == "refusal"]
    en = [o for o in outcomes if o.lang == "en"]
    zh = [o for o in outcomes if o.lang == "zh"]
    return {
        "lines": len(outcomes),
        "exact": _rate(sum(o.exact for o in outcomes), len(outcomes)),
        "command_lines": len(cmd),
        "command_accuracy": _rate(sum(o.exact for o in cmd), len(cmd)),
        "no_command_lines": len(none),
        "false_commands": sum(o.false_command for o in none),
        "false_command_rate": _rate(sum(o.false_command for o in none), len(none)),
        "stop_lines": len(stops),
        "stop_recall": _rate(sum(bool(o.stop_hit) for o in stops), len(stops)),
        "stops_missed": sum(not o.stop_hit for o in stops),
        "tolerated_stops": sum(o.tolerated_stop for o in outcomes),
        "refusal_lines": len(refusals),
        "refused_right": sum(bool(o.refusal) and not o.got for o in refusals),
        "malformed": sum(bool(o.error) for o in outcomes),
        "wer_en": round(
            word_error_rate([normalise_en(o.reference) for o in en],
                            [normalise_en(o.transcript) for o in en]), 4,
        ) if en else None,
        "cer_zh": round(
            char_error_rate([normalise_zh(o.reference) for o in zh],
                            [normalise_zh(o.transcript) for o in zh]), 4,
        ) if zh else None,
    }  # fmt: skip
