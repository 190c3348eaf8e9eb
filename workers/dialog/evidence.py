"""What the words of an utterance can support: the commands an intent of the LLM is checked on.

When the grammar does not parse a command-like utterance, the dialog asks the LLM for its intent
(:mod:`~workers.dialog.understanding`). A model may pick the wrong kind, side or direction, or make
up an amount; so every intent it returns must be one the words support (:func:`support`,
:func:`unsupported`), and the LLM is only offered those (the answer schema is narrowed to them). A
drive's distance is an amount said with a unit, signed by the direction word nearest to it ("forward
two meters and back one meter": +2 and -1, never +1), or the small step after "a little"; a timed
drive needs its duration said. The default step is never offered here: an utterance the grammar
could not parse that names no amount ("go to move forward yet", a garbled "don't move forward yet")
must not move the car by an amount nobody said; the dialog says it did not understand instead. A
turn's angle is one said (degrees, or a bare number with a turn word), signed by the nearest side
word (left when none is said; "right" before "back", "now", "there" ... means "just" and is no side:
"I'll be right back" heard as "right back,"), or one the words name (around 180, a quarter 90, a
full circle 360), or the default 90 after a side word; a stop needs a stop word, lights a colour
word, the horn a horn word. So the LLM can only choose among readings of what was said, and **never
a number that was not said**. The same words tell whether an utterance is command-like
(:func:`command_like`: only command words, starting like a command) and whether an amount was lost
in recognition (:func:`missing_amount`: "go back at the meter": a unit, no number).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.rtos import CarIntent
from text import grammar_en, grammar_zh
from text import lexicon as lx
from text.intent_answer import MAX_INTENTS
from text.numbers import is_number_char, is_number_word_en, read_en
from text.stopwords import stop_kind
from workers.dialog.replies import language_of

__all__ = [
    "BUZZER_HZ",
    "BUZZER_MS",
    "Evidence",
    "Slot",
    "Support",
    "command_like",
    "evidence",
    "missing_amount",
    "support",
    "unsupported",
]

BUZZER_HZ, BUZZER_MS = 880, 300
"""The horn: its tone and length."""
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
    """What an utterance says, word by word, with where (token or character positions)."""

    lang: str
    directions: list[tuple[int, float]] = field(default_factory=list)
    """Direction words: (position, +1 forward / -1 backward)."""
    sides: list[tuple[int, float]] = field(default_factory=list)
    """Side words: (position, +1 left / -1 right)."""
    amounts: list[tuple[int, str, float]] = field(default_factory=list)
    """Amounts said: (position, length|time|angle, metres / ms / degrees)."""
    named_turns: list[tuple[int, float]] = field(default_factory=list)
    """Turns the words name without a number: (position, degrees): around 180, a quarter 90,
    a full circle 360."""
    number: bool = False
    """A number was said (articles apart)."""
    unit: bool = False
    """A unit of length, time or angle was said."""
    small: bool = False
    """'a little', 'a bit', 一点."""
    turn_word: bool = False
    """A word of turning was said (turn, rotate, degrees, 转, 拐, 度 ...)."""
    stop: bool = False
    """A stop word was said (:func:`text.stopwords.stop_kind`, as on the STOP path)."""
    estop: bool = False
    """... and it asks for the emergency stop."""
    colours: set[int] = field(default_factory=set)
    horn: bool = False
    known: bool = True
    """Every word is a word of command phrasings (or a number)."""
    starts_like_command: bool = False
    """The first word after the polite opening is a command word."""


_INTENSIFIED = frozenset({"back", "now", "there", "here", "away", "after", "before", "behind",
                          "over", "into", "up", "down", "out", "off", "on", "at", "in", "next",
                          "then", "ahead"})  # fmt: skip
"""What "right" means "just" or "immediately" before ("right back", "right now", "right there"):
no side then, so "I'll be right back" heard as "right back," is no turn."""


def _just(t: Sequence[str], i: int) -> bool:
    """``t[i]`` is "right" meaning "just" ("right back", "right now"): not a side."""
    return t[i] == "right" and i + 1 < len(t) and t[i + 1] in _INTENSIFIED


def _en(text: str) -> Evidence:
    t = grammar_en.tokens(text)
    ev = Evidence("en")
    ev.known = all(lx.known_en(w) for w in t if w != ",")
    start = grammar_en.opening(list(t), 0)
    ev.starts_like_command = start < len(t) and t[start] in _STARTS_EN and not _just(t, start)
    for i, w in enumerate(t):
        nxt = t[i + 1] if i + 1 < len(t) else ""
        if w in lx.FORWARD_EN or w in lx.FORWARD_VERBS_EN:
            ev.directions.append((i, 1.0))
        if w in lx.BACKWARD_EN or w in lx.BACKWARD_VERBS_EN or (w == "in" and nxt == "reverse"):
            ev.directions.append((i, -1.0))
        if w in lx.SIDES_EN and not _just(t, i):
            ev.sides.append((i, lx.SIDES_EN[w]))
        ev.horn |= w in lx.HORN_EN
        if w in lx.COLOURS_EN:
            ev.colours.add(lx.COLOURS_EN[w])
        if w in ("around", "round") or (w == "u" and nxt == "turn") or w == "half":
            ev.named_turns.append((i, 180.0))
        elif w == "quarter":
            ev.named_turns.append((i, 90.0))
        elif w in ("spin", "circle", "full", "complete", "whole"):
            ev.named_turns.append((i, 360.0))
        ev.number |= is_number_word_en(w) and w not in _ARTICLES
        ev.unit |= w in lx.LENGTH_UNITS_EN or w in lx.TIME_UNITS_EN or w in lx.ANGLE_UNITS_EN
        ev.turn_word |= w in lx.TURN_VERBS_EN or w in lx.ANGLE_UNITS_EN
    i = 0
    while i < len(t):  # the amounts, each read once ("one and a half meters" is not 0.5 m)
        q = grammar_en.quantity(t, i)
        got = read_en(t, i) if q is None else None
        if q is not None:
            if q[0] == "small":
                ev.small = True
            else:
                ev.amounts.append((i, q[0], q[1]))
            i = q[2]
        elif got is not None:
            if got[0] >= 1 and (ev.turn_word or ev.sides):
                ev.amounts.append((i, "angle", got[0]))  # "turn left 45"
            i = got[1]
        else:
            i += 1
    return ev


def _zh(text: str) -> Evidence:
    t = grammar_zh.squeeze(text)
    for joint in ("然后", "之后", "以后", "随后"):
        t = t.replace(joint, "，" * len(joint))  # the 后 of 然后 is no direction
    ev = Evidence("zh")
    ev.known = all(ch in grammar_zh.KNOWN_CHARS or ch == "，" or ch.isdigit() for ch in t)
    ev.starts_like_command = any(w in t for w in _ZH_COMMAND_WORDS)
    turning = ("掉头", "调头", "转身", "向后转")
    for i, ch in enumerate(t):
        if ch == "前":
            ev.directions.append((i, 1.0))
        elif ch in "后退倒" and not any(t.startswith(w, i - 1) for w in turning):
            ev.directions.append((i, -1.0))
        elif ch in "左右":
            ev.sides.append((i, 1.0 if ch == "左" else -1.0))
    ev.horn = "喇叭" in t or "鸣笛" in t
    ev.colours = {rgb for ch, rgb in lx.COLOURS_ZH.items() if ch in t}
    for i, ch in enumerate(t):
        if any(t.startswith(w, i) for w in (*turning, "半圈")):
            ev.named_turns.append((i, 180.0))
        elif ch == "圈" and not t.startswith("半", i - 1):
            ev.named_turns.append((i, 360.0))
    ev.turn_word = any(ch in t for ch in "转拐度")
    ev.number = any(is_number_char(ch) for ch in t.replace("一点", "").replace("一下", ""))
    ev.unit = any(u in t for u in (*lx.LENGTH_UNITS_ZH, *lx.TIME_UNITS_ZH, "度"))
    i = 0
    while i < len(t):  # each amount read once (五十厘米 is not also 十厘米)
        q = grammar_zh.quantity(t, i)
        if q is not None and q[0] == "small":
            ev.small = True
        elif q is not None:
            ev.amounts.append((i, q[0], q[1]))
        i = q[2] if q is not None else i + 1
    return ev


def evidence(text: str) -> Evidence:
    """What the words of ``text`` say."""
    ev = _zh(text) if language_of(text) == "zh" else _en(text)
    kind = stop_kind(text)  # the STOP path's own matcher: the same words, the same kind
    ev.stop, ev.estop = kind is not None, kind == "estop"
    return ev


def command_like(ev: Evidence) -> bool:
    """Only words of command phrasings, starting like a command: a command the grammar missed."""
    return ev.known and ev.starts_like_command


def missing_amount(ev: Evidence) -> bool:
    """A command with a unit but no amount: the number was lost ("go back at the meter")."""
    return ev.starts_like_command and ev.unit and not ev.number and not ev.amounts


Slot = dict[str, float | str]


@dataclass(frozen=True)
class Support:
    """The commands the words support, each as often as it was said."""

    slots: tuple[Slot, ...]
    """The commands (kind and fields, defaults left out), one per thing said: an amount with
    its nearest direction or side, a direction or side alone, a stop word, a colour, the horn."""
    at: tuple[int, ...] = ()
    """Where each slot was said (token or character position): the order of the commands."""

    @property
    def values(self) -> dict[str, dict[str, frozenset[float]]]:
        """kind -> field -> the values it may take (what the answer schema allows)."""
        out: dict[str, dict[str, set[float]]] = {}
        for slot in self.slots:
            fields = out.setdefault(str(slot["kind"]), {})
            for name, value in slot.items():
                if name != "kind":
                    fields.setdefault(name, set()).add(float(value))
        return {k: {f: frozenset(v) for f, v in fs.items()} for k, fs in out.items()}

    @property
    def max_items(self) -> int:
        """Most commands the words can hold."""
        return max(1, min(MAX_INTENTS, len(self.slots)))


def _nearest(pos: int, marks: list[tuple[int, float]]) -> float | None:
    """The sign of the mark nearest to ``pos`` (the earlier one on a tie)."""
    if not marks:
        return None
    return min(marks, key=lambda m: (abs(m[0] - pos), m[0] > pos))[1]


def support(ev: Evidence, speed_mps: float) -> Support:
    """Every command the words of ``ev`` support, in the order said."""
    slots: list[tuple[int, Slot]] = []
    for pos, kind, value in ev.amounts:
        sign = _nearest(pos, ev.directions)
        if kind == "length" and sign is not None:
            slots.append((pos, {"kind": "drive", "distance_m": round(sign * value, 6)}))
        elif kind == "time" and sign is not None:
            timed: Slot = {"kind": "drive", "linear_mps": sign * speed_mps, "duration_ms": value}
            slots.append((pos, timed))
        elif kind == "angle":
            angle = (_nearest(pos, ev.sides) or 1.0) * value
            slots.append((pos, {"kind": "turn", "angle_deg": angle}))
    if not ev.number and not ev.unit and ev.small:
        small = lx.SMALL_STEP_M
        slots += [(p, {"kind": "drive", "distance_m": s * small}) for p, s in ev.directions]
    for pos, deg in ev.named_turns:
        slots.append((pos, {"kind": "turn", "angle_deg": (_nearest(pos, ev.sides) or 1.0) * deg}))
    if not ev.number and not ev.named_turns:
        slots += [(p, {"kind": "turn", "angle_deg": s * lx.DEFAULT_ANGLE_DEG}) for p, s in ev.sides]
    if ev.stop or ev.estop:
        slots.append((-1, {"kind": "estop" if ev.estop else "stop"}))  # a stop comes first
    slots += [(10**6, {"kind": "led", "led_rgb": c}) for c in sorted(ev.colours)]
    if ev.horn:
        slots.append((10**6, {"kind": "buzzer", "buzzer_hz": BUZZER_HZ, "duration_ms": BUZZER_MS}))
    slots.sort(key=lambda ps: ps[0])
    return Support(tuple(s for _, s in slots), tuple(p for p, _ in slots))


def _same(intent: dict[str, object], slot: Slot) -> bool:
    if intent.keys() != slot.keys():
        return False
    return all(
        intent[k] == v if isinstance(v, str) else abs(float(intent[k]) - v) < 1e-6  # type: ignore[arg-type]
        for k, v in slot.items()
    )


def unsupported(intents: Sequence[CarIntent], sup: Support) -> str:
    """Why the words do not support ``intents`` (a phrase for the log), or '' when they do:
    each intent must be one of the commands said, each used once, in the order said."""
    i = 0
    for intent in intents:
        plain = intent.model_dump(exclude_defaults=True)
        while i < len(sup.slots) and not _same(plain, sup.slots[i]):
            i += 1
        if i == len(sup.slots):
            said = "; ".join(str(s) for s in sup.slots) or "nothing the car can do"
            return f"{plain} is not the next of the commands said ({said})"
        i += 1
    return ""
