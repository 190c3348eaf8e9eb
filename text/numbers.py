"""Numbers as people say them, in English words and in Chinese characters.

    read_en(["one", "and", "a", "half", "meters"], 0)   # (1.5, 4)
    read_zh("一米五", 0)                                  # (1.0, 1): the 五 is the unit's tail
    read_zh("一百八十度", 0)                               # (180.0, 5)

Both readers start at a position and return ``(value, end)`` or ``None``; they never guess: a
word that is not a number is not read. English: digits (``2``, ``1.5``), zero to nineteen, the
tens, ``hundred``, ``point`` (``one point five``), ``and a half``, ``half``, ``a quarter``; the
articles ``a``/``an`` are *not* read as one here (the grammar decides where "a meter" means one).
Chinese: Arabic digits, 零一二两三四五六七八九十百千, 点 only before a digit (一点 alone is "a
little"), 半. :func:`number_words_en` / :func:`is_number_char` say which tokens carry a number, so
that a repair can prove it never touches one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "EN_ONES",
    "EN_TENS",
    "ZH_DIGITS",
    "is_number_char",
    "is_number_word_en",
    "number_words_en",
    "read_en",
    "read_zh",
]

EN_ONES = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
EN_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
           "eighty": 80, "ninety": 90}  # fmt: skip
_EN_FRACTIONS = {"half": 0.5, "quarter": 0.25}
_DIGITS = re.compile(r"^\d+(?:\.\d+)?$")

ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5,
             "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_NUMBER_CHARS = frozenset(ZH_DIGITS) | frozenset(_ZH_UNITS) | {"半", "点", "."}


def is_number_word_en(token: str) -> bool:
    """True for a token that carries a number (digits, number words, half, quarter, a, an)."""
    return (
        bool(_DIGITS.match(token))
        or token in EN_ONES
        or token in EN_TENS
        or token in _EN_FRACTIONS
        or token in ("hundred", "thousand", "point", "a", "an")
    )


def number_words_en(tokens: Sequence[str]) -> list[str]:
    """The tokens that carry a number, in order (what a repair must leave exactly as it was)."""
    return [t for t in tokens if is_number_word_en(t)]


def is_number_char(ch: str) -> bool:
    """True for a character that carries a number (digits, 零 ... 九, 两, 十, 百, 千, 半, 点)."""
    return ch.isdigit() or ch in _ZH_NUMBER_CHARS


def _en_integer(tokens: Sequence[str], i: int) -> tuple[int, int] | None:
    """An integer in words from ``i`` (``seven hundred and twenty``, ``forty five``)."""
    total, n, seen = 0, len(tokens), False
    j = i
    if (
        j + 1 < n
        and tokens[j + 1] == "hundred"
        and (tokens[j] in EN_ONES or tokens[j] in ("a", "an"))
    ):
        total = EN_ONES.get(tokens[j], 1) * 100  # "a hundred" is one hundred
        j, seen = j + 2, True
        if j + 1 < n and tokens[j] == "and" and _small(tokens[j + 1]):
            j += 1  # "seven hundred and twenty"
        elif not (j < n and _small(tokens[j])):
            return total, j
    if j < n and tokens[j] in EN_TENS:
        total += EN_TENS[tokens[j]]
        j, seen = j + 1, True
        if j < n and tokens[j] in EN_ONES and 0 < EN_ONES[tokens[j]] < 10:
            total += EN_ONES[tokens[j]]
            j += 1
    elif j < n and tokens[j] in EN_ONES and tokens[j] != "oh":
        total += EN_ONES[tokens[j]]
        j, seen = j + 1, True
    return (total, j) if seen else None


def _small(token: str) -> bool:
    return (token in EN_ONES and token != "oh") or token in EN_TENS


def read_en(tokens: Sequence[str], i: int) -> tuple[float, int] | None:
    """A number said in English from ``tokens[i]``: ``(value, index after it)`` or ``None``.

    ``2``, ``1.5``, ``forty five``, ``seven hundred and twenty``, ``one point five``,
    ``one and a half``, ``two and a quarter``, ``half``, ``a half``, ``a quarter``.
    """
    n = len(tokens)
    if i >= n:
        return None
    tok = tokens[i]
    if _DIGITS.match(tok):
        value, j = float(tok), i + 1
        if value % 100 == 0 and value and j + 1 < n and tokens[j] == "and":
            rest = read_en(tokens, j + 1)  # "700 and 20": how "seven hundred and twenty" is written
            if rest is not None and 0 < rest[0] < 100 and rest[0] == int(rest[0]):
                return value + rest[0], rest[1]
    elif tok in _EN_FRACTIONS:
        return _EN_FRACTIONS[tok], i + 1
    elif tok in ("a", "an") and i + 1 < n and tokens[i + 1] in _EN_FRACTIONS:
        return _EN_FRACTIONS[tokens[i + 1]], i + 2
    else:
        got = _en_integer(tokens, i)
        if got is None:
            return None
        whole, j = got
        value = float(whole)
        if j + 1 < n and tokens[j] == "point" and tokens[j + 1] in EN_ONES:
            digits = []
            k = j + 1
            while k < n and tokens[k] in EN_ONES and EN_ONES[tokens[k]] < 10:
                digits.append(str(EN_ONES[tokens[k]]))
                k += 1
            value, j = float(f"{whole}.{''.join(digits)}"), k
    # "one and a half", "two and a quarter"
    if j + 2 < n and tokens[j] == "and" and tokens[j + 1] in ("a", "an"):
        frac = _EN_FRACTIONS.get(tokens[j + 2])
        if frac is not None:
            return value + frac, j + 3
    return value, j


def _zh_integer(text: str, i: int) -> tuple[int, int] | None:
    """An integer in characters from ``i`` (一百八十, 两, 十五, 三十)."""
    total, current, j, seen = 0, 0, i, False
    while j < len(text):
        ch = text[j]
        if ch in ZH_DIGITS:
            current = ZH_DIGITS[ch]
        elif ch in _ZH_UNITS:
            total += (current or 1) * _ZH_UNITS[ch]
            current = 0
        else:
            break
        j, seen = j + 1, True
    return (total + current, j) if seen else None


def read_zh(text: str, i: int) -> tuple[float, int] | None:
    """A number written in Chinese or Arabic digits from ``text[i]``: ``(value, end)`` or None.

    ``2``, ``1.5``, 两, 三十, 一百八十, 一点五 (1.5), 半 (0.5). 一点 without a digit after it is
    not a number (it means "a little").
    """
    m = re.match(r"\d+(?:\.\d+)?", text[i:])
    if m:
        return float(m.group(0)), i + m.end()
    if i < len(text) and text[i] == "半":
        return 0.5, i + 1
    got = _zh_integer(text, i)
    if got is None:
        return None
    whole, j = got
    if j + 1 < len(text) and text[j] == "点" and text[j + 1] in ZH_DIGITS:
        k = j + 1
        digits = []
        while k < len(text) and text[k] in ZH_DIGITS:
            digits.append(str(ZH_DIGITS[text[k]]))
            k += 1
        return float(f"{whole}.{''.join(digits)}"), k
    return float(whole), j
