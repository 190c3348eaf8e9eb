"""What the words of an utterance can support: the evidence an intent of the LLM is checked on.

When the grammar does not parse a command-like utterance, the dialog asks the LLM for its
intent (:mod:`~workers.dialog.understanding`). A model may pick the wrong kind, side or
direction, or make up an amount; so each intent it returns must be *supported by the words*
(:func:`unsupported`): a drive needs a direction word of its sign and an amount that was said
(with its unit) or, when no number was said at all, the default or small step; a turn needs its
side (or no side word, for the default left) and an angle that was said or that the words name
(around, a quarter, a full circle ...); a stop a stop word, lights a colour word, the horn a horn
word. So the LLM can only choose among readings of what was said, and **never a number that was
not said**. The same evidence tells whether an utterance is command-like (:func:`command_like`:
only command words, starting like a command) and whether an amount was lost in recognition
(:func:`missing_amount`: "go back at the meter": a unit, no number).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.rtos import CarIntent
from workers.dialog import grammar_en, grammar_zh
from workers.dialog import lexicon as lx
from workers.dialog.numbers import is_number_char, is_number_word_en, read_en
from workers.dialog.replies import language_of

__all__ = [
    "Evidence",
    "command_like",
    "describe_evidence",
    "evidence",
    "missing_amount",
    "unsupported",
]

_ARTICLES = ("a", "an")
_STARTS_EN = (lx.DRIVE_VERBS_EN | lx.BACKWARD_VERBS_EN | lx.FORWARD_VERBS_EN | lx.TURN_VERBS_EN
              | lx.FORWARD_EN | lx.BACKWARD_EN | lx.STOP_EN | lx.HORN_EN | frozenset(lx.SIDES_EN)
              | {"make", "take", "do", "hang", "switch", "set", "change", "lights", "emergency",
                 "don't"})  # fmt: skip
_ZH_COMMAND_WORDS = ("前进", "后退", "倒车", "倒退", "退后", "往前", "向前", "朝前", "往后",
                     "向后", "朝后", "左转", "右转", "左拐", "右拐", "转", "拐", "掉头", "调头",
                     "停", "别动", "不要动", "站住", "刹车", "灯", "喇叭", "鸣笛")  # fmt: skip


@dataclass
class Evidence:
    """What an utterance says, word by word (not how it is put together)."""

    lang: str
    forward: bool = False
    backward: bool = False
    left: bool = False
    right: bool = False
    turns: set[float] = field(default_factory=set)
    """Angles the words name without a number (around 180, quarter 90, full circle 360)."""
    lengths: set[float] = field(default_factory=set)
    """Distances said with a unit, metres."""
    times: set[float] = field(default_factory=set)
    """Durations said with a unit, ms."""
    angles: set[float] = field(default_factory=set)
    """Angles said (with 'degrees', or a bare number), degrees."""
    number: bool = False
    """A number was said (articles apart)."""
    unit: bool = False
    """A unit of length, time or angle was said."""
    small: bool = False
    """'a little', 'a bit', 一点."""
    stop: bool = False
    estop: bool = False
    colours: set[int] = field(default_factory=set)
    horn: bool = False
    known: bool = True
    """Every word is a word of command phrasings (or a number)."""
    starts_like_command: bool = False
    """The first word after the polite opening is a command word."""
    turn_word: bool = False
    """A word of turning was said (turn, left, right, around, degrees, 转, 拐, 左, 右 ...)."""


def _en(text: str) -> Evidence:
    t = grammar_en.tokens(text)
    ev = Evidence("en")
    words = [w for w in t if w != ","]
    ev.known = all(lx.known_en(w) for w in words)
    start = grammar_en.opening(list(t), 0)
    ev.starts_like_command = start < len(t) and t[start] in _STARTS_EN
    for i, w in enumerate(t):
        nxt = t[i + 1] if i + 1 < len(t) else ""
        ev.forward |= w in lx.FORWARD_EN or w in lx.FORWARD_VERBS_EN
        ev.backward |= w in lx.BACKWARD_EN or w in lx.BACKWARD_VERBS_EN
        ev.backward |= w == "in" and nxt == "reverse"
        ev.left |= w == "left"
        ev.right |= w == "right"
        ev.stop |= w in lx.STOP_EN or (w in ("don't", "dont", "not") and nxt == "move")
        ev.estop |= w in lx.ESTOP_EN or (w == "e" and nxt == "stop")
        ev.horn |= w in lx.HORN_EN
        if w in lx.COLOURS_EN:
            ev.colours.add(lx.COLOURS_EN[w])
        if w in ("around", "round") or (w == "u" and nxt == "turn") or w == "half":
            ev.turns.add(180.0)
        if w == "quarter":
            ev.turns.add(90.0)
        if w in ("spin", "circle", "full", "complete", "whole"):
            ev.turns.add(360.0)
        ev.number |= is_number_word_en(w) and w not in _ARTICLES
        ev.unit |= w in lx.LENGTH_UNITS_EN or w in lx.TIME_UNITS_EN or w in lx.ANGLE_UNITS_EN
        ev.turn_word |= w in lx.TURN_VERBS_EN or w in lx.SIDES_EN or w in lx.ANGLE_UNITS_EN
    ev.turn_word |= bool(ev.turns)
    i = 0
    while i < len(t):  # the amounts, each read once ("one and a half meters" is not 0.5 m)
        q = grammar_en.quantity(t, i)
        got = read_en(t, i) if q is None else None
        if q is not None:
            _add(ev, q[0], q[1])
            i = q[2]
        elif got is not None:
            if got[0] >= 1 and ev.turn_word:
                ev.angles.add(got[0])  # "turn left 45"
            i = got[1]
        else:
            i += 1
    joined = f" {' '.join(t)} "
    ev.small |= any(f" {p} " in joined for p in lx.SMALL_EN)
    return ev


def _zh(text: str) -> Evidence:
    t = grammar_zh.squeeze(text)
    for joint in ("然后", "之后", "以后", "随后"):
        t = t.replace(joint, "，")  # the 后 of 然后 is no direction
    ev = Evidence("zh")
    ev.known = all(ch in grammar_zh.KNOWN_CHARS or ch == "，" or ch.isdigit() for ch in t)
    ev.starts_like_command = any(w in t for w in _ZH_COMMAND_WORDS)
    ev.forward = "前" in t
    ev.backward = any(ch in t for ch in "后退倒")
    ev.left, ev.right = "左" in t, "右" in t
    ev.stop = any(w in t for w in lx.STOP_ZH)
    ev.estop = any(w in t for w in lx.ESTOP_ZH)
    ev.horn = "喇叭" in t or "鸣笛" in t
    ev.colours = {rgb for ch, rgb in lx.COLOURS_ZH.items() if ch in t}
    if any(w in t for w in ("掉头", "调头", "转身", "半圈", "向后转")):
        ev.turns.add(180.0)
    if "圈" in t and "半圈" not in t:
        ev.turns.add(360.0)
    ev.turn_word = bool(ev.turns) or any(ch in t for ch in "转拐左右度")
    ev.number = any(is_number_char(ch) for ch in t.replace("一点", "").replace("一下", ""))
    ev.unit = any(u in t for u in (*lx.LENGTH_UNITS_ZH, *lx.TIME_UNITS_ZH, "度"))
    i = 0
    while i < len(t):  # each amount read once (五十厘米 is not also 十厘米)
        q = grammar_zh.quantity(t, i)
        if q is not None:
            _add(ev, q[0], q[1])
        i = q[2] if q is not None else i + 1
    return ev


def _add(ev: Evidence, kind: str, value: float) -> None:
    if kind == "length":
        ev.lengths.add(value)
    elif kind == "time":
        ev.times.add(value)
    elif kind == "angle":
        ev.angles.add(value)
    else:
        ev.small = True


def evidence(text: str) -> Evidence:
    """What the words of ``text`` say."""
    return _zh(text) if language_of(text) == "zh" else _en(text)


def command_like(ev: Evidence) -> bool:
    """Only words of command phrasings, starting like a command: a command the grammar missed."""
    return ev.known and ev.starts_like_command


def missing_amount(ev: Evidence) -> bool:
    """A command with a unit but no amount: the number was lost ("go back at the meter")."""
    amounts = ev.lengths or ev.times or ev.angles
    return ev.starts_like_command and ev.unit and not ev.number and not amounts


def _close(value: float, options: set[float]) -> bool:
    return any(abs(abs(value) - o) < 1e-6 for o in options)


def unsupported(intent: CarIntent, ev: Evidence, *, speed_mps: float) -> str:
    """Why the words do not support ``intent`` (a sentence for the log), or '' when they do."""
    kind = intent.kind
    if kind == "drive":
        return _drive(intent, ev, speed_mps)
    if kind == "turn":
        return _turn(intent, ev)
    if kind == "stop":
        return "" if ev.stop or ev.estop else "no stop word was said"
    if kind == "estop":
        return "" if ev.estop else "no emergency was said"
    if kind == "led":
        return "" if intent.led_rgb in ev.colours else "that colour was not said"
    if kind == "buzzer":
        ok = ev.horn and intent.buzzer_hz == 880 and intent.duration_ms == 300
        return "" if ok else "no horn was asked for"
    return f"a {kind} is not a spoken command"


def _drive(intent: CarIntent, ev: Evidence, speed_mps: float) -> str:
    moving = intent.distance_m or intent.linear_mps
    if intent.angular_dps or intent.angle_deg:
        return "a drive does not turn"
    if (moving > 0 and not ev.forward) or (moving < 0 and not ev.backward):
        return "no word says that direction"
    if intent.duration_ms:
        if intent.distance_m or not _close(intent.duration_ms, ev.times):
            return "that duration was not said"
        return "" if _close(intent.linear_mps, {speed_mps}) else "a timed drive at another speed"
    if intent.linear_mps and not _close(intent.linear_mps, {speed_mps}):
        return "a speed that was not said"
    if _close(intent.distance_m, ev.lengths):
        return ""
    if ev.small and not ev.number and _close(intent.distance_m, {lx.SMALL_STEP_M}):
        return ""
    if not ev.number and not ev.unit and not ev.small:
        ok = _close(intent.distance_m, {lx.DEFAULT_STEP_M})
        return "" if ok else "a distance that was not said"
    return "that distance was not said"


def _turn(intent: CarIntent, ev: Evidence) -> str:
    angle = intent.angle_deg
    if not (ev.left or ev.right or ev.turns or ev.angles):
        return "no side, angle or kind of turn was said"
    if (angle > 0 and ev.right and not ev.left) or (angle < 0 and not ev.right):
        return "no word says that side"
    if intent.distance_m or intent.linear_mps or intent.duration_ms:
        return "a turn does not drive"
    if _close(angle, ev.angles) or _close(angle, ev.turns):
        return ""
    if not ev.number and not ev.turns and _close(angle, {lx.DEFAULT_ANGLE_DEG}):
        return ""
    return "that angle was not said"


def describe_evidence(ev: Evidence) -> dict[str, Any]:
    """The evidence as plain data (for the log)."""
    return {k: sorted(v) if isinstance(v, set) else v for k, v in ev.__dict__.items()}
