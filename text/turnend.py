"""How a request the car's grammar understands ends the turn, whatever its punctuation.

The recogniser's punctuation at a pause is a weak sign: Whisper writes a comma after about one
complete request in six ("kindly turn left,", "hey robot, stop,", "rotate ninety degrees to the
right, please,"), and a full stop after a hesitation ("drive forward. | two meters"). The
grammar knows better for the lines it understands (:func:`command_reading`):

- a request that ends with a stop is **complete**: STOP has already gone out from the pause's
  transcript, and what may follow ("stop, | and turn left") is a turn of its own;
- a drive with no amount ("drive forward", 往前走) is **trailing**: an amount often follows
  ("drive forward | two meters"), and the default step is only a guess;
- any other command (a turn, a drive with its amount, the horn, the lights) is **complete**,
  unless its last word is a joint ("turn left and", 然后) or it is one command said to come
  "first" (先右转): then it is **trailing**;
- anything the grammar does not parse has no reading here (``None``): the words' own rule
  (:func:`text.endofturn.classify`) decides.

A command cut short by a closing turn cannot move the car wrongly: the only commands read as
complete either carry their amount or need none (a turn without one is the 90 degrees a
hesitating "turn right | ninety degrees" also asks for). ``bench/eot.py`` measures the rule.
"""

from __future__ import annotations

from text import grammar_en, grammar_zh
from text.commands import parse_command
from text.endofturn import Reading
from text.language import language_of

__all__ = ["command_reading", "has_amount"]

_JOINTS_EN = frozenset(["and", "then", "or", "but", "so", "also", "next", "after", "followed"])
_JOINTS_ZH = ("然后", "再", "还有", "和", "或者", "接着", "之后", "先")
_HALTS = frozenset(["stop", "estop"])
_FIRST_EN = ("first", "firstly", "to start", "start by", "begin by")
_FIRST_ZH = ("先", "首先")


def has_amount(text: str) -> bool:
    """True when the words name an amount anywhere (a length, a time, an angle, a little)."""
    if language_of(text) == "zh":
        return any(grammar_zh.quantity(text, i) is not None for i in range(len(text)))
    t = grammar_en.tokens(text)
    return any(grammar_en.quantity(t, i) is not None for i in range(len(t)))


def _ends_with_joint(text: str) -> bool:
    if language_of(text) == "zh":
        return text.rstrip("，,。.！!？?、 ").endswith(_JOINTS_ZH)
    words = [w for w in grammar_en.tokens(text) if w != ","]
    return bool(words) and words[-1] in _JOINTS_EN


def _first_of_more(text: str, intents: list[dict[str, object]]) -> bool:
    """One command announced as the first of several ("first turn left", 先右转)."""
    if len(intents) != 1:
        return False
    if language_of(text) == "zh":
        return text.lstrip("，,。 ").startswith(_FIRST_ZH)
    words = " ".join(w for w in grammar_en.tokens(text) if w != ",")
    return any(f" {f} " in f" {words} " for f in _FIRST_EN)


def command_reading(text: str, lang: str = "") -> Reading | None:
    """``complete`` or ``trailing`` for an utterance of car commands, ``None`` for others."""
    del lang  # the grammar tells the language from the characters
    intents = parse_command(text)
    if not intents:
        return None
    if _ends_with_joint(text) or _first_of_more(text, intents):
        return "trailing"
    if intents[-1]["kind"] in _HALTS:
        return "complete"
    bare_drive = any(i["kind"] == "drive" and "distance_m" in i for i in intents)
    if bare_drive and not has_amount(text):
        return "trailing"
    return "complete"
