"""The command vocabulary of the dialog: verbs, directions, units, stop forms, colours, fillers.

One list for everything that needs to know which words make a car command: the grammars
(:mod:`~text.grammar_en`, :mod:`~text.grammar_zh`), the near-miss repair
(:mod:`~workers.dialog.repair`: a misheard word is repaired *to* one of these), the test of
whether an unparsed utterance is command-like (:func:`known_en`), and the words the recogniser is
biased towards (:data:`HOTWORDS_EN`, the ``whisper.hotwords`` setting of ``configs/host.yaml``;
a test keeps the two the same).

The stop words are the STOP matcher's (:mod:`text.stopwords`, which the dialog's listening path
runs on every transcript before the wake phrase, the grammar or the LLM): :data:`STOP_EN`,
:data:`STOP_PHRASES_EN`, :data:`ESTOP_EN`, :data:`STOP_ZH` and :data:`ESTOP_ZH` are read from
it, so what the grammar parses as a stop is a stop word there, of the same kind (a test checks
both ways).
"""

from __future__ import annotations

from collections.abc import Iterable

from text.numbers import is_number_word_en
from text.stopwords import EMERGENCY_FORMS, STOP_FORMS, STOP_SPELLINGS, has_stop_word

__all__ = [
    "CLOSING_EN",
    "COLOURS_EN",
    "COLOURS_ZH",
    "DEFAULT_ANGLE_DEG",
    "DEFAULT_STEP_M",
    "DRIVE_VERBS_EN",
    "ESTOP_EN",
    "ESTOP_ZH",
    "FILLERS_EN",
    "FOOT_M",
    "HOTWORDS_EN",
    "LENGTH_UNITS_EN",
    "LENGTH_UNITS_ZH",
    "MOTION_VERBS_EN",
    "SMALL_STEP_M",
    "STOP_EN",
    "STOP_PHRASES_EN",
    "STOP_ZH",
    "TIME_UNITS_EN",
    "TIME_UNITS_ZH",
    "TURN_VERBS_EN",
    "UNITS_EN",
    "VOCABULARY_EN",
    "known_en",
]

FOOT_M = 0.3048
"""One foot in metres (the international foot, exact)."""
INCH_M = FOOT_M / 12
DEFAULT_STEP_M = 0.5
"""A drive with no amount ("go forward"): the default step, metres."""
SMALL_STEP_M = 0.2
"""'a little', 'a bit', 一点: the small step, metres."""
DEFAULT_ANGLE_DEG = 90.0
"""A turn with no angle ("turn left"), degrees."""

# --- English --------------------------------------------------------------------------------

DRIVE_VERBS_EN = frozenset(
    {"move", "go", "drive", "roll", "head", "travel", "proceed", "come", "ride", "get", "scoot",
     "inch", "creep", "step", "run", "pull", "continue", "keep"}
)  # fmt: skip
"""Verbs of a drive that need a direction (``go forward``, ``roll back``)."""
BACKWARD_VERBS_EN = frozenset({"reverse", "retreat"})
"""Verbs that drive backwards by themselves (``reverse twenty centimeters``)."""
FORWARD_VERBS_EN = frozenset({"advance"})
"""Verbs that drive forwards by themselves."""
FORWARD_EN = frozenset({"forward", "forwards", "ahead", "onward", "onwards", "straight"})
BACKWARD_EN = frozenset({"back", "backward", "backwards", "rearward"})
TURN_VERBS_EN = frozenset({"turn", "rotate", "swing", "veer", "pivot", "steer", "spin"})
SIDES_EN = {"left": 1.0, "right": -1.0}
"""Sign of a turn to each side (positive = left)."""
LENGTH_UNITS_EN = {
    "m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
    "cm": 0.01, "centimeter": 0.01, "centimeters": 0.01, "centimetre": 0.01, "centimetres": 0.01,
    "mm": 0.001, "millimeter": 0.001, "millimeters": 0.001, "millimetre": 0.001,
    "millimetres": 0.001,
    "ft": FOOT_M, "foot": FOOT_M, "feet": FOOT_M,
    "inch": INCH_M, "inches": INCH_M,
    "yard": 3 * FOOT_M, "yards": 3 * FOOT_M,
}  # fmt: skip
"""Length units: metres per unit."""
TIME_UNITS_EN = {"s": 1000, "sec": 1000, "secs": 1000, "second": 1000, "seconds": 1000,
                 "minute": 60_000, "minutes": 60_000}  # fmt: skip
"""Time units: milliseconds per unit."""
ANGLE_UNITS_EN = frozenset({"degree", "degrees", "deg"})
UNITS_EN = frozenset(LENGTH_UNITS_EN) | frozenset(TIME_UNITS_EN) | ANGLE_UNITS_EN
"""Every unit word (length, time, angle)."""
MOTION_VERBS_EN = DRIVE_VERBS_EN | BACKWARD_VERBS_EN | FORWARD_VERBS_EN | TURN_VERBS_EN
"""Every verb of a drive or a turn."""
COLOURS_EN = {"red": 0xFF0000, "green": 0x00FF00, "blue": 0x0000FF, "white": 0xFFFFFF,
              "yellow": 0xFFFF00, "off": 0, "on": 0xFFFFFF}  # fmt: skip
"""Light colours as 0xRRGGBB ('on' = white, 'off' = dark)."""
HORN_EN = frozenset({"beep", "honk", "toot", "horn"})
STOP_EN = frozenset(f for f in STOP_FORMS["en"] if " " not in f)
"""Single stop words (the matcher's English forms of one word)."""
STOP_PHRASES_EN = tuple(
    tuple(f.split()) for f in (*STOP_FORMS["en"], *STOP_SPELLINGS["en"]) if " " in f
)
"""Stop forms of several words, as tokens ("don't move", "do not move", "dont move")."""
ESTOP_EN = frozenset(EMERGENCY_FORMS["en"])
"""A stop word after one of these is an emergency stop (latched)."""
SMALL_EN = ("a tiny bit", "a little bit", "a little", "a bit", "a touch", "slightly", "a tad")
"""Vague small amounts: the small step."""
FILLERS_EN = frozenset(
    {"ok", "okay", "alright", "so", "now", "please", "hey", "well", "just", "oh", "um", "uh",
     "robot", "car", "kindly", "first", "also", "next", "finally", "quickly", "again", "then",
     "and", "yes", "yeah", "whoa", "wait", "no"}
)  # fmt: skip
"""Words that carry no command of their own around a command."""
CLOSING_EN = ("that's far enough", "that is far enough", "that's enough", "far enough",
              "enough", "thanks", "thank you", "good", "great", "ok")  # fmt: skip
"""Remarks that may follow a command in the same utterance and are dropped."""
FUNCTION_EN = frozenset(
    {"the", "a", "an", "to", "by", "for", "about", "around", "round", "of", "me", "you", "it",
     "up", "your", "my", "there", "here", "can", "could", "would", "will", "mind", "i", "need",
     "want", "like", "let's", "lets", "let", "us", "do", "make", "take", "full", "quarter",
     "half", "circle", "u", "all", "way", "and", "then", "little", "bit", "tiny", "some",
     "another", "more", "further", "roughly", "approximately", "exactly", "moving", "motion",
     "lights", "light", "lamp", "lamps", "color", "colour", "switch", "set", "change", "sound",
     "immediately", "once", "spin", "again", "in", "reverse", "don't", "not"}
)  # fmt: skip
"""Other words of command phrasings (articles, prepositions, politeness, lights)."""


def _vocabulary_en() -> frozenset[str]:
    words: set[str] = set()
    for group in (DRIVE_VERBS_EN, BACKWARD_VERBS_EN, FORWARD_VERBS_EN, FORWARD_EN, BACKWARD_EN,
                  TURN_VERBS_EN, SIDES_EN, LENGTH_UNITS_EN, TIME_UNITS_EN, ANGLE_UNITS_EN,
                  COLOURS_EN, HORN_EN, STOP_EN, ESTOP_EN, FILLERS_EN, FUNCTION_EN):  # fmt: skip
        words.update(group)
    for phrase in (*SMALL_EN, *CLOSING_EN):
        words.update(phrase.split())
    return frozenset(words)


VOCABULARY_EN = _vocabulary_en()
"""Every word the English grammar knows (numbers apart)."""

REPAIR_TARGETS_EN = frozenset(
    DRIVE_VERBS_EN
    | BACKWARD_VERBS_EN
    | FORWARD_VERBS_EN
    | FORWARD_EN
    | BACKWARD_EN
    | TURN_VERBS_EN
    | frozenset(SIDES_EN)
    | frozenset(LENGTH_UNITS_EN)
    | frozenset(TIME_UNITS_EN)
    | ANGLE_UNITS_EN
)
"""Words a misheard word may be repaired to: no number word, article or filler, and no stop word
(STOP has its own path that fires on the word itself; a word repaired into "stop" would be a
false command on "I stopped by the shop")."""

HOTWORDS_EN = (
    "drive forward, go back, back up, reverse, turn left, turn right, spin around, "
    "stop, halt, brake, meters, centimeters, degrees, seconds"
)
"""What the English recogniser is biased towards (faster-whisper ``hotwords``). Chosen on the
tuning split's English audio (piper at length scale 1.2 and espeak-ng, clean and babble at
10 dB): with it the dialog got 111 of 152 command lines right instead of 93, no false command
either way; with "freeze" in the list Whisper wrote "freeze, freeze ..." over "three feet"."""


def known_en(token: str) -> bool:
    """True for a word of command phrasings (or a number): an utterance of such words only,
    that the grammar does not parse, is *command-like*."""
    return token in VOCABULARY_EN or is_number_word_en(token)


# --- Chinese --------------------------------------------------------------------------------

LENGTH_UNITS_ZH = {"米": 1.0, "公尺": 1.0, "厘米": 0.01, "公分": 0.01, "毫米": 0.001}
"""Length units: metres per unit (longest first when matching)."""
TIME_UNITS_ZH = {"秒钟": 1000, "秒": 1000, "分钟": 60_000}
"""Time units: milliseconds per unit."""
COLOURS_ZH = {"红": 0xFF0000, "绿": 0x00FF00, "蓝": 0x0000FF, "白": 0xFFFFFF, "黄": 0xFFFF00}


def _longest_first(forms: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(dict.fromkeys(forms), key=len, reverse=True))


_EMERGENCY_ZH = EMERGENCY_FORMS["zh"]
STOP_ZH = _longest_first(
    f for f in (*STOP_FORMS["zh"], *STOP_SPELLINGS["zh"]) if f not in _EMERGENCY_ZH
)
"""Stop forms, longest first (停下来, 停住, 停止 are 停下 / 停 and the grammar's tails)."""
ESTOP_ZH = _longest_first(
    [f for f in _EMERGENCY_ZH if has_stop_word(f)]  # 急停, 急刹车
    + [e + s for e in _EMERGENCY_ZH if not has_stop_word(e) for s in STOP_ZH]  # 紧急停车
)
"""Emergency stop forms, longest first (紧急停止 is 紧急停 and a tail)."""
