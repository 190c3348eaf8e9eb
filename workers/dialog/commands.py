"""A small spoken-command grammar for the car, tried before asking the LLM.

A 135M-parameter stand-in model cannot be trusted with tool calls, and a driving command should
not wait for a model anyway: an utterance made only of car commands is understood here, in any of
these forms (clauses joined by "then", "and", commas, 然后, 再):

- ``move|go|drive forward|ahead|backward|back [N metres|centimetres|seconds]``
- ``turn left|right [N degrees]``, ``turn around``
- ``stop``, ``emergency stop``, ``beep``, ``lights red|green|blue|white|off``
- 前进/后退 [N 米|厘米|秒], 左转/右转 [N 度], 掉头, 停车/停, 急停

Numbers may be digits or words (one ... twenty, half, 一 ... 十, 半). :func:`parse_command`
returns ``None`` for anything else (a question, chit-chat, or a command mixed with other words):
that goes to the LLM.
"""

from __future__ import annotations

import re

from schemas.rtos import CarIntent

__all__ = ["parse_command"]

_EN_NUM = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90,
    "hundred": 100, "half": 0.5, "a half": 0.5,
}  # fmt: skip
_ZH_DIGIT = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_COLOURS = {"red": 0xFF0000, "green": 0x00FF00, "blue": 0x0000FF, "white": 0xFFFFFF, "off": 0,
            "红": 0xFF0000, "绿": 0x00FF00, "蓝": 0x0000FF, "白": 0xFFFFFF, "关": 0}  # fmt: skip

_SPLIT = re.compile(r"\s*(?:,|;|，|；|、|\band then\b|\bthen\b|\band\b(?! a half)|然后|接着|再)\s*")
_NUM = r"(\d+(?:\.\d+)?|[a-z-]+(?: and a half)?)"
_EN_DRIVE = re.compile(
    r"^(?:please )?(?:move|go|drive|roll)\s+"
    r"(forward|forwards|ahead|straight|backward|backwards|back)"
    rf"(?:\s+(?:by|for)?\s*{_NUM}\s*(meters?|metres?|m|centimeters?|centimetres?|cm|seconds?|s))?$"
)
_EN_TURN = re.compile(rf"^(?:please )?turn\s+(left|right)(?:\s+(?:by\s+)?{_NUM}\s*degrees?)?$")
_ZH_NUM = r"([\d.]+|[零一二两三四五六七八九十百半]+)"
_ZH_DRIVE = re.compile(
    rf"^(?:请)?(?:向)?(前进|往前走|向前走|后退|往后退)(?:{_ZH_NUM}(米|厘米|秒))?$"
)
_ZH_TURN = re.compile(rf"^(?:请)?(?:向)?(左转|右转|左拐|右拐)(?:{_ZH_NUM}度)?$")


def _en_number(word: str) -> float | None:
    try:
        return float(word)
    except ValueError:
        pass
    if word.endswith(" and a half"):
        base = _EN_NUM.get(word[: -len(" and a half")])
        return None if base is None else base + 0.5
    val = _EN_NUM.get(word)
    return None if val is None else float(val)


def _zh_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        pass
    if text == "半":
        return 0.5
    total, current = 0.0, 0.0
    for ch in text:
        if ch in _ZH_DIGIT:
            current = _ZH_DIGIT[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "半":
            current += 0.5
        else:
            return None
    return total + current


def _drive(forward: bool, amount: float | None, unit: str) -> CarIntent | None:
    sign = 1.0 if forward else -1.0
    if amount is None:
        return CarIntent(kind="drive", distance_m=sign * 0.5)
    if unit.startswith(("c", "厘")):
        return CarIntent(kind="drive", distance_m=sign * amount / 100)
    if unit.startswith(("s", "秒")):
        return CarIntent(kind="drive", linear_mps=sign * 0.3, duration_ms=int(amount * 1000))
    return CarIntent(kind="drive", distance_m=sign * amount)


def _clause(text: str) -> CarIntent | None:
    t = text.strip(" .!?。！？").lower()
    t = re.sub(r"^(?:(?:ok|okay|now|and|please|can you|could you)\s+)+", "", t)
    if t in ("stop", "halt", "stop now", "停", "停车", "停下", "停下来"):
        return CarIntent(kind="stop")
    if t in ("emergency stop", "急停", "紧急停车"):
        return CarIntent(kind="estop")
    if t in ("beep", "honk", "鸣笛", "按喇叭"):
        return CarIntent(kind="buzzer", buzzer_hz=880, duration_ms=300)
    if t in ("turn around", "掉头"):
        return CarIntent(kind="turn", angle_deg=180.0)
    m = re.fullmatch(
        r"(?:turn (?:the )?)?lights? (?:to )?(red|green|blue|white|off)|(红|绿|蓝|白|关)灯", t
    )
    if m:
        return CarIntent(kind="led", led_rgb=_COLOURS[m.group(1) or m.group(2)])
    if m := _EN_DRIVE.match(t):
        amount = _en_number(m.group(2)) if m.group(2) else None
        if m.group(2) and amount is None:
            return None
        return _drive(not m.group(1).startswith("back"), amount, m.group(3) or "m")
    if m := _EN_TURN.match(t):
        amount = _en_number(m.group(2)) if m.group(2) else 90.0
        if amount is None:
            return None
        return CarIntent(kind="turn", angle_deg=amount if m.group(1) == "left" else -amount)
    zt = t.replace(" ", "")
    if m := _ZH_DRIVE.match(zt):
        amount = _zh_number(m.group(2)) if m.group(2) else None
        return _drive(m.group(1) in ("前进", "往前走", "向前走"), amount, m.group(3) or "米")
    if m := _ZH_TURN.match(zt):
        amount = _zh_number(m.group(2)) if m.group(2) else 90.0
        if amount is None:
            return None
        return CarIntent(kind="turn", angle_deg=amount if m.group(1).startswith("左") else -amount)
    return None


def parse_command(text: str) -> list[CarIntent] | None:
    """The intents of an utterance made only of car commands, or ``None``."""
    clauses = [c for c in _SPLIT.split(text.strip()) if c and c.strip(" .!?。！？")]
    if not clauses:
        return None
    out: list[CarIntent] = []
    for clause in clauses:
        intent = _clause(clause)
        if intent is None:
            return None
        out.append(intent)
    return out
