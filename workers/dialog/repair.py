"""Near-miss repair: a misheard command word put back, never a number guessed.

The recogniser sometimes writes a command word as a word that sounds like it ("Dry forward two
meters." for "drive forward", "turn write" for "turn right", 钱进两米 for 前进两米). SenseVoice
on the board takes no vocabulary bias, so the dialog repairs such words against its command
vocabulary (:mod:`~text.lexicon`) before giving up on the grammar:

- English: a word the grammar does not know (not a command word, a filler, a function word or a
  number) is replaced by the command word that sounds closest (:func:`sound_key`: a rough
  spelling-to-sound key, compared by edit distance, one edit for keys of three to five sounds,
  two from six), when exactly one word is that close; two words, one of them unknown, that
  sound like one command word together ("for word") become that word, unless one of them is
  a command word already ("I mean right" keeps its "right"); a unit word is only repaired to
  right after a number ("two meeters");
- Chinese: two characters whose toneless pinyin is that of a command word (钱进 = qianjin =
  前进) become that word; the traditional forms of command characters (後退, 轉) become the
  simplified ones.

**Numbers are never touched**: a token that carries a number (digits, number words, ``a``/``an``,
``half``, Chinese numerals) is never replaced, never joined, and no word is ever repaired *into*
one ("to meters" stays "to meters": the number was lost, and the dialog asks again instead of
guessing it). A repair is only used when the grammar then parses the whole utterance
(:func:`workers.dialog.understanding.interpret`); :class:`Repair` lists what was changed, for the
log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from text import lexicon as lx
from text.grammar_en import tokens as en_tokens
from text.numbers import is_number_char, is_number_word_en
from workers.dialog.replies import language_of

__all__ = ["Repair", "repair", "sound_key"]


@dataclass(frozen=True)
class Repair:
    """A repaired utterance."""

    text: str
    """The utterance with the repaired words (English: lower-case words, as the grammar reads
    them); the original text when nothing was repaired."""
    changes: tuple[tuple[str, str], ...] = ()
    """(heard, repaired) pairs, in order; empty when nothing was repaired."""


_SOUNDS = (("tch", "ch"), ("ph", "f"), ("ck", "k"), ("gh", ""), ("wr", "r"), ("kn", "n"),
           ("wh", "w"), ("igh", "i"), ("ie", "i"), ("ee", "i"), ("ea", "i"), ("ey", "i"),
           ("oo", "u"), ("ou", "au"), ("qu", "kw"), ("x", "ks"), ("c", "k"), ("z", "s"),
           ("y", "i"))  # fmt: skip


@lru_cache(maxsize=2048)
def sound_key(word: str) -> str:
    """A rough key of how an English word sounds (dry -> dri, drive -> driv, write -> rit)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if len(w) > 3 and w.endswith("e") and w[-2] not in "aeiou":
        w = w[:-1]  # a silent final e
    for spelling, sound in _SOUNDS:
        w = w.replace(spelling, sound)
    return re.sub(r"(.)\1+", r"\1", w)  # doubled letters sound once


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _allowed(key: str) -> int:
    """Edits allowed for a key of this length (short keys: none)."""
    return 0 if len(key) < 3 else (1 if len(key) < 6 else 2)


_TARGET_KEYS: dict[str, tuple[str, ...]] = {}
for _word in sorted(lx.REPAIR_TARGETS_EN):
    _TARGET_KEYS.setdefault(sound_key(_word), ())
    _TARGET_KEYS[sound_key(_word)] += (_word,)


@lru_cache(maxsize=4096)
def _closest(key: str) -> str | None:
    """The one command word within the allowed edits of ``key`` (the nearest), else None.

    Cached (the vocabulary is fixed; a word met once is met again), and a target whose length
    differs by more than the allowed edits is not measured (it cannot be within them): every
    word of every transcript comes here, and measuring all of them cost about 10 ms a
    transcript, on the turn's path."""
    limit = _allowed(key)
    if limit == 0:
        return None
    best, found = limit + 1, set()
    for target_key, words in _TARGET_KEYS.items():
        if abs(len(target_key) - len(key)) > limit:
            continue  # at least that many edits: farther than allowed, never the answer
        d = _distance(key, target_key)
        if d < best:
            best, found = d, set(words)
        elif d == best:
            found |= set(words)
    if best > limit or len(found) != 1:
        return None  # nothing close, or two equally close: not guessed
    return next(iter(found))


def _free(token: str) -> bool:
    """A token that may be repaired: unknown to the grammar and carrying no number."""
    return not lx.known_en(token) and not is_number_word_en(token) and token.isalpha()


def _fits(target: str | None, out: list[str]) -> bool:
    """A repair target that fits where it would go: a unit only after its number ("two
    meeters"; "I mean right" is not "I minute", which would read as an amount lost)."""
    if target is None:
        return False
    return target not in lx.UNITS_EN or (bool(out) and is_number_word_en(out[-1]))


def _repair_en(text: str) -> Repair:
    words = en_tokens(text)
    out: list[str] = []
    changes: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if (
            nxt
            and (_free(w) or _free(nxt))
            and not (is_number_word_en(w) or is_number_word_en(nxt))
            and not ({w, nxt} & lx.REPAIR_TARGETS_EN)  # a command word heard stays as it is
        ):
            joined = _closest(sound_key(w + nxt))  # "for word" -> "forward"
            if _fits(joined, out):
                assert joined is not None
                out.append(joined)
                changes.append((f"{w} {nxt}", joined))
                i += 2
                continue
        if _free(w):
            fixed = _closest(sound_key(w))
            if _fits(fixed, out):
                assert fixed is not None
                out.append(fixed)
                changes.append((w, fixed))
                i += 1
                continue
        out.append(w)
        i += 1
    if not changes:
        return Repair(text)
    return Repair(" ".join(out), tuple(changes))


# Chinese: command words by their toneless pinyin; traditional command characters.
_ZH_WORDS = ("前进", "后退", "倒车", "倒退", "退后", "左转", "右转", "左拐", "右拐", "掉头",
             "调头", "停车", "停下", "刹车", "急停", "别动", "站住", "往前", "往后", "向前",
             "向后", "向左", "向右", "厘米", "喇叭", "鸣笛")  # fmt: skip
_TRADITIONAL = str.maketrans("後轉車進開燈調頭動點鐘釐緊別綠紅藍關變換聲鳴邊個",
                             "后转车进开灯调头动点钟厘紧别绿红蓝关变换声鸣边个")  # fmt: skip


@lru_cache(maxsize=4096)
def _py(ch: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(ch, style=Style.NORMAL)[0].lower()


_ZH_BY_SOUND = {"".join(_py(c) for c in w): w for w in _ZH_WORDS}


def _repair_zh(text: str) -> Repair:
    changes: list[tuple[str, str]] = []
    simplified = text.translate(_TRADITIONAL)
    if simplified != text:
        changes += [(a, b) for a, b in zip(text, simplified, strict=True) if a != b]
    chars = list(simplified)
    i = 0
    while i + 1 < len(chars):
        pair = chars[i] + chars[i + 1]
        if pair not in _ZH_WORDS and not any(is_number_char(c) for c in pair):
            word = _ZH_BY_SOUND.get(_py(chars[i]) + _py(chars[i + 1]))
            if word is not None:
                chars[i : i + 2] = list(word)
                changes.append((pair, word))
                i += 2
                continue
        i += 1
    if not changes:
        return Repair(text)
    return Repair("".join(chars), tuple(changes))


def repair(text: str) -> Repair:
    """The utterance with misheard command words repaired (numbers untouched)."""
    return _repair_zh(text) if language_of(text) == "zh" else _repair_en(text)
