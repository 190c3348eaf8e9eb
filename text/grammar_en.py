"""The English command grammar: an utterance made only of car commands -> their intents.

A small parser over the words (:func:`tokens`), clause after clause: polite openings and
fillers ("okay, could you please", "I need you to", "let's"), one command, closing words ("for
me", "please", "now"), then a joint ("," "and" "then" "after that") or the end. A command is

- a drive: ``go|drive|move|roll|head ... forward|ahead|straight|back|backward``, ``back up``,
  ``reverse``, ``advance``, a bare direction with its amount ("forward two meters"; a bare
  "forward." alone is a fragment, not a command), with an amount before or after it: ``two
  meters``, ``1.5 m``, ``one and a half meters``, ``a meter and a half``, ``half a meter``,
  ``twenty centimeters``, ``three feet``, ``for three seconds`` (a timed drive), ``a
  little``/``a bit`` (the small step), nothing after a verb (the default step);
- a turn: ``turn|rotate|swing|veer [to the] left|right [N degrees]``, ``turn N degrees [to the]
  left``, ``make a left turn``, ``take a quarter turn to the left``, ``hang|take|make a right``,
  ``go left``, ``left turn``, ``turn around`` / ``do a u-turn`` / ``half a turn`` (180), ``spin
  around`` / ``do a full circle`` (360);
- a stop: ``stop|halt|freeze|brake [the car|moving|now|right there|immediately]``, ``don't
  move``, ``hit the brakes``; ``emergency stop`` is the latched emergency stop (the stop words
  are the STOP matcher's, :mod:`text.stopwords`, through the lexicon);
- lights (``turn the lights green``, ``lights off``) and the horn (``beep``, ``honk the horn``).

A closing remark after a command ("that's far enough", "thanks") is dropped. Anything else
(a question, a command mixed with other words) is not parsed: :func:`parse` returns ``None``.
Intents are field maps (``{"kind": "drive", "distance_m": 2.0}``), checked by the dialog.

(About 450 lines, over the house's 300: one parser whose rules share the clause helpers and call
each other; cut in two, each half would import the other.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from text import lexicon as lx
from text.numbers import read_en

__all__ = ["GERUNDS", "LIGHT_NOUNS", "opening", "parse", "quantity", "tokens"]

Intent = dict[str, Any]

_SEPARATORS = (("and", "then"), ("after", "that"), ("and", "after", "that"), (",",), (";",),
               ("and",), ("then",), ("afterwards",), ("followed", "by"), ("next",),
               (",", "then"), (",", "and"))  # fmt: skip
_PREFIXES = tuple(
    tuple(p.split())
    for p in (
        "can you please", "could you please", "would you please", "will you please",
        "can you", "could you", "would you", "will you", "would you mind", "do you mind",
        "i need you to", "i want you to", "i'd like you to", "i would like you to",
        "you need to", "you should", "you can", "i said", "go ahead and", "try to",
        "let's", "lets", "let us", "now", "please", "and then", "then", "and", "so",
    )
)  # fmt: skip
_SUFFIXES = tuple(
    tuple(p.split())
    for p in ("for me", "please", "right now", "now", "if you can", "if you could",
              "if you don't mind", "thanks", "thank you", "ok", "quickly", "again", "too")
)  # fmt: skip
GERUNDS = {"driving": "drive", "moving": "move", "going": "go", "rolling": "roll",
            "turning": "turn", "backing": "back", "reversing": "reverse", "heading": "head",
            "spinning": "spin", "rotating": "rotate", "honking": "honk", "beeping": "beep",
            "switching": "switch", "stopping": "stop", "halting": "halt"}  # fmt: skip
_MODIFIERS = frozenset({"by", "for", "about", "around", "roughly", "approximately", "exactly",
                        "just", "some", "another", "like", "maybe", "only"})  # fmt: skip
_STOP_TAILS = tuple(
    tuple(p.split())
    for p in ("the car", "the robot", "it", "right now", "right there", "right here",
              "right away", "at once", "now", "there", "here", "moving", "driving", "turning",
              "immediately", "please", "everything", "completely", "all motion", "the motors")
)  # fmt: skip
LIGHT_NOUNS = frozenset({"light", "lights", "light's", "lamp", "lamps", "led", "leds"})
"""The car's lights ("light's": Whisper writes "turn the light's red")."""
_LIGHT_VERBS = frozenset({"turn", "switch", "set", "change", "make", "put"})
_BUZZER = {"kind": "buzzer", "buzzer_hz": 880, "duration_ms": 300}


def tokens(text: str) -> list[str]:
    """Lower-case words and joints ("," stands for any clause punctuation)."""
    t = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("°", " degrees ")
    t = t.replace("okay", "ok")
    t = re.sub(r"(?<=[a-z])-(?=[a-z0-9])", " ", t)  # forty-five, u-turn, e-stop
    t = re.sub(r"(\d)([a-z])", r"\1 \2", t)  # 2m, 90deg
    t = re.sub(r"[,;:]|\s-\s|\u2014|\u2013", " , ", t)
    t = re.sub(r"(?<!\d)\.|\.(?!\d)|[!?\"()\[\]]", " ", t)
    t = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", t)
    return t.split()


def _at(t: Sequence[str], i: int, phrase: Sequence[str]) -> bool:
    return tuple(t[i : i + len(phrase)]) == tuple(phrase)


def _skip(t: Sequence[str], i: int, phrases: Sequence[Sequence[str]]) -> int:
    """Skip any number of the phrases (longest first) from ``i``."""
    ordered = sorted(phrases, key=len, reverse=True)
    while True:
        for p in ordered:
            if _at(t, i, p):
                i += len(p)
                break
        else:
            return i


def opening(t: list[str], i: int) -> int:
    """Skip fillers and polite openings; map a gerund after 'would you mind' to its verb."""
    while True:
        j = _skip(t, i, _PREFIXES)
        while j < len(t) and (t[j] in lx.FILLERS_EN or t[j] == ","):
            j += 1
        if j < len(t) and j >= 2 and t[j - 1] == "mind" and t[j] in GERUNDS:
            t[j] = GERUNDS[t[j]]
        if j == i:
            return i
        i = j


def quantity(t: Sequence[str], i: int) -> tuple[str, float, int] | None:
    """``(length|time|angle|small, value in m / ms / degrees, end)`` of an amount at ``i``."""
    k = i
    while k < len(t) and t[k] in _MODIFIERS:
        k += 1
    for phrase in lx.SMALL_EN:
        if _at(t, k, phrase.split()):
            k += len(phrase.split())
            if k < len(t) and t[k] in ("more", "further", "farther"):
                k += 1
            return "small", lx.SMALL_STEP_M, k
    got = read_en(t, k)
    if got is None and k + 1 < len(t) and t[k] in ("a", "an"):
        got = (1.0, k + 1)  # "a meter"
    if got is None:
        return None
    value, k = got
    if k + 1 < len(t) and t[k] == "of" and t[k + 1] in ("a", "an"):
        k += 1  # "a quarter of a meter"
    if value < 1 and k < len(t) and t[k] in ("a", "an", "the"):
        k += 1  # "half a meter" (recognised as "half the meter" too)
    if k >= len(t):
        return None
    unit = t[k]
    k += 1
    if _at(t, k, ("and", "a", "half")):
        value, k = value + 0.5, k + 3  # "a meter and a half"
    if unit in lx.LENGTH_UNITS_EN:
        return "length", round(value * lx.LENGTH_UNITS_EN[unit], 6), k
    if unit in lx.TIME_UNITS_EN:
        return "time", value * lx.TIME_UNITS_EN[unit], k
    if unit in lx.ANGLE_UNITS_EN:
        return "angle", value, k
    return None


def _direction(t: Sequence[str], i: int) -> tuple[float, int] | None:
    """``(+1 forward / -1 backward, end)``."""
    k = i
    if _at(t, k, ("in", "reverse")):
        return -1.0, k + 2
    if k < len(t) and t[k] == "straight":
        k += 1
        if k < len(t) and t[k] in ("ahead", "forward", "forwards", "on"):
            k += 1
        return 1.0, k
    if k < len(t) and t[k] in lx.FORWARD_EN:
        return 1.0, k + 1
    if k < len(t) and t[k] in lx.BACKWARD_EN:
        return -1.0, k + 1
    return None


def _drive(t: Sequence[str], i: int, speed: float) -> tuple[list[Intent], int] | None:
    sign: float | None = None
    k = i
    verb = True
    if _at(t, k, ("back", "up")) or _at(t, k, ("back", "off")):
        sign, k = -1.0, k + 2
    elif k < len(t) and t[k] in lx.BACKWARD_VERBS_EN:
        sign, k = -1.0, k + 1
    elif k < len(t) and t[k] in lx.FORWARD_VERBS_EN:
        sign, k = 1.0, k + 1
    elif k < len(t) and t[k] in lx.DRIVE_VERBS_EN:
        k += 1
        k = _skip(t, k, (("it",), ("the", "car"), ("yourself",)))
    else:
        verb = False
    amount = quantity(t, k)
    if amount is not None:
        k = amount[2]
    d = _direction(t, k)
    if d is not None:
        if sign is None or d[0] == sign:
            sign, k = d[0], d[1]
        else:
            return None  # "reverse forward"
    if sign is None:
        return None
    if amount is None:
        amount = quantity(t, k) or _after_comma(t, k, ("length", "time", "small"))
        if amount is not None:
            k = amount[2]
    if amount is not None and amount[0] == "angle":
        return None
    if amount is None:
        if not verb:
            return None  # a bare "forward." is a fragment (or a mishearing), not a command
        return [{"kind": "drive", "distance_m": sign * lx.DEFAULT_STEP_M}], k
    kind, value, _ = amount
    if kind == "time":
        return [{"kind": "drive", "linear_mps": sign * speed, "duration_ms": int(value)}], k
    return [{"kind": "drive", "distance_m": sign * value}], k


def _after_comma(t: Sequence[str], k: int, kinds: tuple[str, ...]) -> tuple[str, float, int] | None:
    """An amount after a comma ("drive forward, two meters": how the recogniser writes a
    pause), when it is the end of the clause; None otherwise."""
    if k >= len(t) or t[k] != ",":
        return None
    q = quantity(t, k + 1)
    if q is None or q[0] not in kinds:
        return None
    end = _skip(t, q[2], _SUFFIXES)
    return q if end == len(t) or _joint(t, end) is not None else None


def _side(t: Sequence[str], i: int) -> tuple[float, int] | None:
    """``(+1 left / -1 right, end)`` of ``[to|towards] [the|your] left|right [side]``."""
    k = _skip(t, i, (("to",), ("towards",), ("toward",)))
    k = _skip(t, k, (("the",), ("your",), ("my",)))
    if k < len(t) and t[k] in lx.SIDES_EN:
        end = k + 1 + (1 if k + 1 < len(t) and t[k + 1] == "side" else 0)
        return lx.SIDES_EN[t[k]], end
    return None


def _angle(t: Sequence[str], i: int) -> tuple[float, int] | None:
    """An angle: ``N degrees`` or a bare number after a turn verb."""
    q = quantity(t, i)
    if q is not None:
        return (q[1], q[2]) if q[0] == "angle" else None
    k = i
    while k < len(t) and t[k] in _MODIFIERS:
        k += 1
    got = read_en(t, k)
    if got is None or got[0] < 1:
        return None
    return got


_TURN_SIZES = {("quarter",): 90.0, ("half",): 180.0, ("half", "a"): 180.0, ("full",): 360.0,
               ("complete",): 360.0, ("whole",): 360.0, ("u",): 180.0, ("ninety", "degree"): 90.0,
               ("sharp",): 90.0, ("hard",): 90.0, ("three", "sixty"): 360.0,
               ("one", "eighty"): 180.0}  # fmt: skip


def _turn(t: Sequence[str], i: int) -> tuple[list[Intent], int] | None:
    n = len(t)
    k = i
    # spin [around|round|in a circle|in place] [to the side]
    if k < n and t[k] in ("spin", "spinning"):
        k = _skip(t, k + 1, (("around",), ("round",), ("in", "a", "circle"), ("in", "place")))
        side = _side(t, k)
        spin, k = side if side is not None else (1.0, k)
        return [{"kind": "turn", "angle_deg": spin * 360.0}], k
    # do|make|take|hang a [size] [side] turn|circle [to the side]
    if (
        k + 1 < n
        and t[k] in ("do", "make", "take", "hang", "have", "pull")
        and t[k + 1]
        in (
            "a",
            "an",
        )
    ):
        k += 2
        size, side_sign = None, None
        for words, deg in sorted(_TURN_SIZES.items(), key=lambda kv: -len(kv[0])):
            if _at(t, k, words):
                size, k = deg, k + len(words)
                break
        if k < n and t[k] in lx.SIDES_EN:
            side_sign, k = lx.SIDES_EN[t[k]], k + 1
            if t[i] in ("hang", "take", "make") and (k >= n or t[k] not in ("turn",)):
                return [{"kind": "turn", "angle_deg": side_sign * (size or 90.0)}], k
        if k < n and t[k] in ("360", "180"):
            size, k = float(t[k]), k + 1
            if k >= n or t[k] not in ("turn", "circle"):
                return [{"kind": "turn", "angle_deg": size}], k
        if k < n and t[k] in ("turn", "circle", "spin", "rotation"):
            if t[k] == "circle" and size is None:
                size = 360.0
            k += 1
        else:
            return None
        side = _side(t, k)
        if side is not None:
            if side_sign is not None and side[0] != side_sign:
                return None
            side_sign, k = side
        return [{"kind": "turn", "angle_deg": (side_sign or 1.0) * (size or 90.0)}], k
    # "left turn", "u turn"
    if k + 1 < n and t[k] in lx.SIDES_EN and t[k + 1] == "turn":
        sign, k = lx.SIDES_EN[t[k]], k + 2
        ang = _angle(t, k)
        return [{"kind": "turn", "angle_deg": sign * (ang[0] if ang else 90.0)}], (
            ang[1] if ang else k
        )
    if _at(t, k, ("u", "turn")):
        return [{"kind": "turn", "angle_deg": 180.0}], k + 2
    # go|head|veer|bear left
    if k < n and t[k] in ("go", "head", "veer", "bear", "steer", "swing", "hang"):
        side = _side(t, k + 1)
        if side is None:
            return None
        sign, k = side
        ang = _angle(t, k)
        return [{"kind": "turn", "angle_deg": sign * (ang[0] if ang else 90.0)}], (
            ang[1] if ang else k
        )
    return _turn_verb(t, k)


def _turn_verb(t: Sequence[str], k: int) -> tuple[list[Intent], int] | None:
    """``turn|rotate|swing [to the] left|right [N degrees]``, ``turn N degrees [left]``,
    ``turn around``."""
    n = len(t)
    if k >= n or t[k] not in lx.TURN_VERBS_EN:
        return None
    k = _skip(t, k + 1, (("it",), ("the", "car"), ("yourself",)))
    if _at(t, k, ("all", "the", "way", "around")) or _at(t, k, ("all", "the", "way", "round")):
        return [{"kind": "turn", "angle_deg": 360.0}], k + 4
    if k < n and t[k] in ("around", "round"):
        return [{"kind": "turn", "angle_deg": 180.0}], k + 1
    sign: float | None = None
    side = _side(t, k)
    if side is not None:
        sign, k = side
    ang = _angle(t, k)
    if ang is not None:
        k = ang[1]
        if sign is None:
            side = _side(t, k)
            if side is not None:
                sign, k = side
    if sign is None and ang is None:
        return None
    if ang is None and (q := _after_comma(t, k, ("angle",))) is not None:
        ang, k = (q[1], q[2]), q[2]  # "turn right, 90 degrees"
    return [{"kind": "turn", "angle_deg": (sign or 1.0) * (ang[0] if ang else 90.0)}], k


def _stop(t: Sequence[str], i: int) -> tuple[list[Intent], int] | None:
    n = len(t)
    k = i
    kind = "stop"
    if k < n and t[k] in lx.ESTOP_EN:
        kind, k = "estop", k + 1
    elif _at(t, k, ("e", "stop")) or _at(t, k, ("estop",)):
        return [{"kind": "estop"}], _skip(t, k + (2 if t[k] == "e" else 1), _STOP_TAILS)
    phrase = next((p for p in lx.STOP_PHRASES_EN if _at(t, k, p)), None)
    if k < n and t[k] in lx.STOP_EN:
        k += 1
    elif kind == "stop" and phrase is not None:
        k += len(phrase)
    elif kind == "stop" and k + 2 < n and t[k] in ("hit", "slam", "use") and t[k + 1] == "the":
        if t[k + 2] not in ("brake", "brakes"):
            return None
        k += 3
    else:
        return None
    k = _skip(t, k, _STOP_TAILS)
    return [{"kind": kind}], k


def _lights(t: Sequence[str], i: int) -> tuple[list[Intent], int] | None:
    n = len(t)
    k = i
    verb = k < n and t[k] in _LIGHT_VERBS
    if verb:
        k += 1
    state = None
    if verb and k < n and t[k] in ("on", "off"):
        state, k = t[k], k + 1
    k = _skip(t, k, (("the",), ("your",)))
    if k < n and t[k] in lx.COLOURS_EN and k + 1 < n and t[k + 1] in LIGHT_NOUNS:
        colour, k = t[k], k + 2  # "green lights"
        return [{"kind": "led", "led_rgb": lx.COLOURS_EN[colour]}], k
    if k >= n or t[k] not in LIGHT_NOUNS:
        return None
    k += 1
    k = _skip(t, k, (("color",), ("colour",)))
    if state is None:
        k = _skip(t, k, (("to",), ("into",), ("in",)))
        if k < n and t[k] in lx.COLOURS_EN:
            state, k = t[k], k + 1
    if state is None:
        return None
    return [{"kind": "led", "led_rgb": lx.COLOURS_EN[state]}], k


def _horn(t: Sequence[str], i: int) -> tuple[list[Intent], int] | None:
    n = len(t)
    k = i
    if k < n and t[k] in ("beep", "honk", "toot"):
        k += 1
        if _at(t, k, ("the", "horn")):
            k += 2
        while k < n and t[k] in ("beep", "honk"):
            k += 1
        return [dict(_BUZZER)], k
    if k + 2 < n and t[k] in ("sound", "use", "press") and _at(t, k + 1, ("the", "horn")):
        return [dict(_BUZZER)], k + 3
    return None


def _command(t: Sequence[str], i: int, speed: float) -> tuple[list[Intent], int] | None:
    for rule in (_stop, _lights, _horn, _turn):
        got = rule(t, i)
        if got is not None:
            return got
    return _drive(t, i, speed)


def _closing(t: Sequence[str], i: int) -> int | None:
    for phrase in sorted(lx.CLOSING_EN, key=len, reverse=True):
        words = phrase.split()
        if _at(t, i, words):
            return i + len(words)
    return None


def _joint(t: Sequence[str], i: int) -> int | None:
    """The end of a joint between two commands at ``i`` (or ``i`` at the end), else None."""
    if i >= len(t):
        return i
    j = _skip(t, i, _SEPARATORS)
    return j if j > i else None


def parse(words: list[str], speed_mps: float) -> list[Intent] | None:
    """The intents of an utterance made only of commands (``tokens`` of it), or None.

    ``speed_mps`` is the speed of a timed drive ("for three seconds")."""
    t = list(words)
    out: list[Intent] = []
    i = opening(t, 0)
    while i < len(t):
        got = _command(t, i, speed_mps)
        if got is None:
            end = _closing(t, i) if out else None
            if end is None:
                return None
            i = end
        else:
            out += got[0]
            i = _skip(t, got[1], _SUFFIXES)
        j = _joint(t, i)
        if j is None:
            return None
        i = opening(t, j)
    return out or None
