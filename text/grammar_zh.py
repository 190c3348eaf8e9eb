"""The Chinese command grammar: an utterance made only of car commands -> their intents.

Read character by character with the spaces dropped, clause after clause: polite openings
(请, 麻烦你, 能不能, 帮我, 小车, 先, 快 ...), one command, closing particles (吧, 啊, 一下,
好吗 ...), then a joint (， 然后 接着 再 之后; optional) or the end. A command is

- a drive: 前进, 后退, 倒车, 退后, (向|往|朝)(前|后)(开|走|进|退|移动|挪 ...), with an amount after
  it: 两米, 1.5米, 一米五 (1.5 m), 两米半, 半米, 五十厘米, 三秒(钟) (a timed drive), 一点/一些 (the
  small step), nothing (the default step);
- a turn: (向|往|朝)(左|右)(转|拐)(弯), 左转, 右拐 [N度]; 掉头, 调头, 向后转, 转半圈 (180); 转一圈,
  原地转一圈 (360); 转N度 (to the left);
- a stop: 停, 停车, 停下(来), 停住, 停止, 停一下, 别动, 不要动, 站住, 刹车; 急停, 急刹车, 紧急停车
  (emergency): the forms of the STOP matcher (:mod:`text.stopwords`, through the lexicon);
- lights (把灯变成红色, 开灯, 关灯, 把灯关掉, 绿灯) and the horn (鸣笛, 按喇叭).

Anything else returns ``None``. Intents are field maps, checked by the dialog.
"""

from __future__ import annotations

import re
from typing import Any

from text import lexicon as lx
from text.numbers import ZH_DIGITS, is_number_char, read_zh

__all__ = ["KNOWN_CHARS", "KNOWN_PHRASES", "parse", "quantity", "squeeze"]

Intent = dict[str, Any]

_JOINTS = ("，", "然后", "接着", "之后", "随后", "并且", "以后", "完了", "再")
_OPENINGS = ("麻烦你", "麻烦", "你能不能", "能不能", "能否", "可不可以", "你可以", "可以",
             "你能", "请你", "请", "帮我", "给我", "小车", "车子", "你", "先", "再", "然后",
             "现在", "马上", "立刻", "立即", "赶紧", "快点", "快", "好的", "好", "嗯", "那个",
             "就", "把车", "让车", "慢慢地", "慢慢", "稍微", "往回")  # fmt: skip
_CLOSINGS = ("一下子", "一下", "好不好", "好吗", "可以吗", "行吗", "谢谢你", "谢谢", "吧", "啊",
             "呀", "哦", "哈", "嘛", "呢", "了", "去", "来")  # fmt: skip
_MODIFIERS = ("大约", "大概", "差不多", "约", "左右")
_SMALL = ("一点点", "一点儿", "一点", "一些", "一小段", "一小步", "一步")
_FORWARD = ("前进", "直走", "往前", "向前", "朝前", "前")
_BACKWARD = ("后退", "倒车", "倒退", "退后", "往后", "向后", "朝后", "后")
_MOTION = ("移动", "行驶", "开", "走", "进", "退", "移", "挪", "跑", "倒", "冲")
_SIDE = {"左": 1.0, "右": -1.0}
_LIGHT_VERBS = ("变成", "换成", "调成", "改成", "打成", "设成", "开成", "变为",
                "变", "换", "调", "成")  # fmt: skip
_BUZZER = {"kind": "buzzer", "buzzer_hz": 880, "duration_ms": 300}
_SWITCHES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("打开", "开开", "开"), 0xFFFFFF),
    (("关掉", "关闭", "关上", "关"), 0),
)
"""What comes after 把灯: on (white) or off."""


KNOWN_PHRASES = (*_JOINTS, *_OPENINGS, *_CLOSINGS, *_MODIFIERS, *_SMALL, *_FORWARD, *_BACKWARD,
                 *_MOTION, *_LIGHT_VERBS, *lx.LENGTH_UNITS_ZH, *lx.TIME_UNITS_ZH, *lx.STOP_ZH,
                 *lx.ESTOP_ZH, *lx.COLOURS_ZH, "度", "左", "右", "转", "拐", "弯", "掉头", "调头",
                 "原地", "圈", "整", "个", "身", "向", "往", "朝", "面", "边", "旋", "到", "把",
                 "灯", "车灯", "灯光", "色", "的", "打开", "关掉", "关闭", "关", "喇叭", "按",
                 "鸣笛", "鸣", "响", "嘀", "下来", "住", "下", "止")  # fmt: skip
"""Every word the Chinese grammar knows."""
KNOWN_CHARS = frozenset("".join(KNOWN_PHRASES)) | frozenset("零一二两兩三四五六七八九十百千半点")
"""Every character of those words, and the numerals: an utterance of these characters only,
that the grammar does not parse, is *command-like*."""


def squeeze(text: str) -> str:
    """Spaces dropped, clause punctuation as '，', other punctuation dropped."""
    t = re.sub(r"\s+", "", text)
    t = re.sub(r"[,，、;；:：]", "，", t)
    return re.sub(r"[。.!！?？\"“”'‘’()（）]", "", t)


def _take(t: str, i: int, options: tuple[str, ...]) -> int:
    """The end of the first (longest) option at ``i``, or ``i``."""
    for opt in sorted(options, key=len, reverse=True):
        if t.startswith(opt, i):
            return i + len(opt)
    return i


def _skip_all(t: str, i: int, options: tuple[str, ...]) -> int:
    while True:
        j = _take(t, i, options)
        if j == i:
            return i
        i = j


def quantity(t: str, i: int) -> tuple[str, float, int] | None:
    """``(length|time|angle|small, value in m / ms / degrees, end)``."""
    k = _skip_all(t, i, _MODIFIERS)
    got = read_zh(t, k)
    if got is not None:
        value, j = got
        for unit, factor in sorted(lx.LENGTH_UNITS_ZH.items(), key=lambda kv: -len(kv[0])):
            if t.startswith(unit, j):
                j += len(unit)
                if unit == "米" and j < len(t) and t[j] == "半":
                    value, j = value + 0.5, j + 1  # 两米半
                elif (
                    unit == "米"
                    and j < len(t)
                    and t[j] in ZH_DIGITS
                    and (j + 1 >= len(t) or not is_number_char(t[j + 1]))
                ):
                    value, j = value + ZH_DIGITS[t[j]] / 10, j + 1  # 一米五
                return "length", round(value * factor, 6), _skip_all(t, j, _MODIFIERS)
        for unit, ms in sorted(lx.TIME_UNITS_ZH.items(), key=lambda kv: -len(kv[0])):
            if t.startswith(unit, j):
                return "time", value * ms, _skip_all(t, j + len(unit), _MODIFIERS)
        if t.startswith("度", j):
            return "angle", value, _skip_all(t, j + 1, _MODIFIERS)
    j = _take(t, k, _SMALL)
    if j > k:
        return "small", lx.SMALL_STEP_M, j
    return None


def _drive(t: str, i: int, speed: float) -> tuple[list[Intent], int] | None:
    sign = None
    for options, s in ((_BACKWARD, -1.0), (_FORWARD, 1.0)):
        j = _take(t, i, options)
        if j > i:
            sign, k = s, j
            break
    if sign is None:
        return None
    bare = t[i:k] in ("前", "后", "往前", "向前", "朝前", "往后", "向后", "朝后")
    k = _take(t, k, ("面", "边"))
    m = _take(t, k, _MOTION)
    if bare and m == k:
        return None  # 前 / 往后 alone is not a drive (前面有什么)
    k = _skip_all(t, m, ("一下",)) if m > k else k
    q = quantity(t, k)
    if q is None:
        return [{"kind": "drive", "distance_m": sign * lx.DEFAULT_STEP_M}], k
    kind, value, k = q
    if kind == "angle":
        return None
    if kind == "time":
        return [{"kind": "drive", "linear_mps": sign * speed, "duration_ms": int(value)}], k
    return [{"kind": "drive", "distance_m": sign * value}], k


def _turn(t: str, i: int) -> tuple[list[Intent], int] | None:
    for form, deg in (("掉个头", 180.0), ("调个头", 180.0), ("掉头", 180.0), ("调头", 180.0),
                      ("向后转", 180.0), ("转个身", 180.0), ("转身", 180.0)):  # fmt: skip
        if t.startswith(form, i):
            return [{"kind": "turn", "angle_deg": deg}], i + len(form)
    k = _take(t, i, ("原地",))
    k = _take(t, k, ("向", "往", "朝"))
    sign = None
    if k < len(t) and t[k] in _SIDE:
        sign, k = _SIDE[t[k]], k + 1
        k = _take(t, k, ("边", "面"))
        j = _take(t, k, ("转弯", "转", "拐弯", "拐"))
        if j == k:
            return None
        k = _take(t, j, ("个弯", "弯"))
    else:
        j = _take(t, k, ("转", "旋转"))
        if j == k:
            return None
        k = j
        for form, deg in (("一整圈", 360.0), ("一圈", 360.0), ("个圈", 360.0), ("圈", 360.0),
                          ("半圈", 180.0)):  # fmt: skip
            if t.startswith(form, k):
                return [{"kind": "turn", "angle_deg": deg}], k + len(form)
        j = _take(t, k, ("向", "到"))
        if j < len(t) and t[j] in _SIDE:
            sign, k = _SIDE[t[j]], _take(t, j + 1, ("边", "面"))
    k = _skip_all(t, k, ("一下",))
    q = quantity(t, k)
    if q is not None and q[0] == "angle":
        return [{"kind": "turn", "angle_deg": (sign or 1.0) * q[1]}], q[2]
    if q is not None or sign is None:
        return None
    return [{"kind": "turn", "angle_deg": sign * lx.DEFAULT_ANGLE_DEG}], k


def _stop(t: str, i: int) -> tuple[list[Intent], int] | None:
    for forms, kind in ((lx.ESTOP_ZH, "estop"), (lx.STOP_ZH, "stop")):
        j = _take(t, i, forms)
        if j > i:
            return [{"kind": kind}], _take(t, j, ("下来", "下", "住", "止"))
    return None


def _lights(t: str, i: int) -> tuple[list[Intent], int] | None:
    for verbs, rgb in ((("打开", "开"), 0xFFFFFF), (("关掉", "关闭", "关"), 0)):
        j = _take(t, i, verbs)
        if j > i:
            k = _take(t, j, ("车灯", "灯光", "灯"))
            return ([{"kind": "led", "led_rgb": rgb}], k) if k > j else None
    k = _take(t, i, ("把",))
    j = _take(t, k, ("车灯", "灯光", "灯"))
    if j > k:
        for switch, rgb in _SWITCHES:
            m = _take(t, j, switch)  # 把灯关掉, 把灯打开
            if m > j:
                return [{"kind": "led", "led_rgb": rgb}], m
        j = _take(t, j, _LIGHT_VERBS)
        j = _take(t, j, ("成",))
        if j < len(t) and t[j] in lx.COLOURS_ZH:
            return [{"kind": "led", "led_rgb": lx.COLOURS_ZH[t[j]]}], _take(t, j + 1, ("色",))
        return None
    if i < len(t) and t[i] in lx.COLOURS_ZH:
        j = _take(t, _take(t, i + 1, ("色",)), ("的灯", "灯"))
        if j > i + 1 and t[j - 1] == "灯":
            return [{"kind": "led", "led_rgb": lx.COLOURS_ZH[t[i]]}], j
    return None


def _horn(t: str, i: int) -> tuple[list[Intent], int] | None:
    forms = ("按一下喇叭", "按下喇叭", "按喇叭", "鸣喇叭", "响喇叭", "鸣笛", "嘀嘀", "喇叭")
    j = _take(t, i, forms)
    return ([dict(_BUZZER)], j) if j > i else None


def parse(text: str, speed_mps: float) -> list[Intent] | None:
    """The intents of an utterance made only of commands, or None."""
    t = squeeze(text)
    out: list[Intent] = []
    i = _skip_all(t, 0, (*_OPENINGS, "，"))
    while i < len(t):
        got = None
        for rule in (_stop, _lights, _horn, _turn):
            got = rule(t, i)
            if got is not None:
                break
        if got is None:
            got = _drive(t, i, speed_mps)
        if got is None:
            return None
        out += got[0]
        i = _skip_all(t, got[1], _CLOSINGS)
        i = _skip_all(t, i, (*_JOINTS, *_OPENINGS))  # 前进一米左转: a joint is optional
    return out or None
