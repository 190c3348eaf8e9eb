"""Wake phrase matching on transcripts, and the awake window that follows a match.

The reference loop matches the wake phrase on the ASR text (no keyword-spotting model): Chinese
characters become toneless pinyin (``pypinyin``, ``Style.NORMAL``) and the phrase is searched in
it; once matched it stays awake for the life of the process. Here:

- a phrase is given in characters (``你好小车``), in pinyin (``ni hao xiao che``) or in English
  (``hey robot``); several phrases may be configured;
- a transcript is cut into tokens (one pinyin syllable per Chinese character, one lower-case word
  per run of Latin letters or digits, punctuation dropped) and a phrase matches when its tokens
  appear in a row, so ``"Hey, Robot!"`` matches ``hey robot`` and ``你好，小车`` matches
  ``ni hao xiao che``;
- a **near miss** of an English phrase is taken only where a user calls the assistant: at the
  very start of the utterance, followed by a pause mark (``,`` ``.`` ``!`` ``?`` ``;`` ``:``) or
  the end of the text. There the unstressed call word (the phrase's first word) may be heard as
  one of its :data:`SOUND_ALIKES` (Whisper tiny.en heard the demo's "Hey robot, hello, ..." as
  "a robot, hello, ..." in 6 of 150 renderings); every other word of the phrase, the name, must
  be heard exactly. So ``"A robot, what time is it?"`` wakes ``hey robot``, but ``"I saw a
  robot yesterday"``, ``"A robot can't do that"`` (no pause after the name), ``"Hey Robert,
  ..."`` (another name) and ``"Robot, ..."`` (no call word) do not;
- :class:`AwakeWindow` closes after ``window_s`` without speech and re-arms the matcher; with
  ``always_awake`` there is no wake phrase at all.

    matcher = WakeMatcher(["hey robot", "你好小车"])
    hit = matcher.match("Hey robot, what time is it?")
    hit.rest  # "what time is it?"
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

# At the top, not in _pinyin: a standby spare of the dialog then has it imported (0.35-0.7 s).
from pypinyin import Style, lazy_pinyin

__all__ = ["SOUND_ALIKES", "AwakeWindow", "Token", "WakeHit", "WakeMatcher", "tokenize"]

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]|[A-Za-z0-9']+")
_TRIM = " \t\n,.;:!?，。；：！？、…'\"“”"
#: What may follow a near miss: a pause mark, as a recogniser writes one where the user paused.
_PAUSE = ",.;:!?，。；：！？、…"

#: A call word (the first word of a phrase) and what a recogniser hears for it at the start of
#: an utterance, where it is unstressed and its onset is easily lost: "hey" loses its "h" ("a",
#: "eh", "ay"), is spelt "hay"/"hei", or said "hi"; "ok" is written "okay" and the other way.
SOUND_ALIKES: dict[str, frozenset[str]] = {
    "hey": frozenset({"a", "ay", "aye", "eh", "hay", "hei", "hi"}),
    "hi": frozenset({"hey", "hay", "high"}),
    "ok": frozenset({"okay"}),
    "okay": frozenset({"ok"}),
}


@dataclass(frozen=True)
class Token:
    """One comparable unit of a text, with where it came from."""

    key: str
    """Lower-case word, or toneless pinyin of a Chinese character."""
    start: int
    """Offset of the first character in the text."""
    end: int
    """Offset just past the last character in the text."""


@lru_cache(maxsize=4096)
def _pinyin(char: str) -> str:
    return lazy_pinyin(char, style=Style.NORMAL)[0].lower()


def tokenize(text: str) -> list[Token]:
    """Cut ``text`` into tokens: pinyin per Chinese character, lower-case Latin words."""
    out: list[Token] = []
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        key = _pinyin(word) if len(word) == 1 and ord(word) > 0x3000 else word.lower()
        out.append(Token(key.replace("'", ""), m.start(), m.end()))
    return out


@dataclass(frozen=True)
class WakeHit:
    """A wake phrase found in a transcript."""

    phrase: str
    """The configured phrase that matched."""
    rest: str
    """The transcript without the phrase (what the user asked), trimmed; may be empty."""
    heard: str = ""
    """The words of the transcript taken for the phrase, as written there."""
    exact: bool = True
    """False for a near miss at the start (a sound-alike of the call word)."""


class WakeMatcher:
    """Finds any of several wake phrases in a transcript."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self._phrases: list[tuple[str, tuple[str, ...]]] = []
        for phrase in phrases:
            keys = tuple(t.key for t in tokenize(phrase))
            if not keys:
                raise ValueError(
                    f"Wake phrase {phrase!r} has no words; give it in characters, pinyin or "
                    "English words, e.g. 'hey robot' or '你好小车'."
                )
            self._phrases.append((phrase, keys))

    @property
    def phrases(self) -> list[str]:
        """The configured phrases."""
        return [p for p, _ in self._phrases]

    def match(self, text: str) -> WakeHit | None:
        """The first phrase found in ``text`` (earliest position), else a near miss of one at
        the very start (see the module's docstring), or ``None``."""
        tokens = tokenize(text)
        best: tuple[int, str, int, int] | None = None
        for phrase, keys in self._phrases:
            pos = _find(tokens, keys)
            if pos is not None and (best is None or pos < best[0]):
                best = (pos, phrase, tokens[pos].start, tokens[pos + len(keys) - 1].end)
        if best is not None:
            _, phrase, start, end = best
            return _hit(text, phrase, start, end, exact=True)
        for phrase, keys in self._phrases:
            if _near_miss_at_start(text, tokens, keys):
                hit = _hit(text, phrase, tokens[0].start, tokens[len(keys) - 1].end, exact=False)
                log.info("wake_near_miss heard=%r phrase=%r", hit.heard, phrase)
                return hit
        return None


def _hit(text: str, phrase: str, start: int, end: int, *, exact: bool) -> WakeHit:
    rest = (text[:start].strip(_TRIM) + " " + text[end:].strip(_TRIM)).strip()
    return WakeHit(phrase=phrase, rest=rest, heard=text[start:end], exact=exact)


def _find(tokens: Sequence[Token], keys: tuple[str, ...]) -> int | None:
    n = len(keys)
    for i in range(len(tokens) - n + 1):
        if all(tokens[i + k].key == keys[k] for k in range(n)):
            return i
    return None


def _near_miss_at_start(text: str, tokens: Sequence[Token], keys: tuple[str, ...]) -> bool:
    """``text`` opens with ``keys`` but for a sound-alike of the call word, then a pause."""
    n = len(keys)
    if n < 2 or len(tokens) < n or keys[0] not in SOUND_ALIKES:
        return False
    if tokens[0].key not in SOUND_ALIKES[keys[0]]:  # the first word said, nothing before it
        return False
    if any(tokens[k].key != keys[k] for k in range(1, n)):  # the name itself, exactly
        return False
    after = text[tokens[n - 1].end :].lstrip(" \t\n'\"”")
    return not after or after[0] in _PAUSE


class AwakeWindow:
    """Whether the assistant listens without a wake phrase, and for how much longer.

    Opened by a wake phrase, kept open by activity (the user speaking, the assistant answering),
    closed by ``window_s`` of silence. ``window_s = 0`` never closes once opened (the reference's
    latched wake); ``always_awake`` needs no phrase at all.
    """

    def __init__(self, window_s: float, *, always_awake: bool = False) -> None:
        if window_s < 0:
            raise ValueError(
                f"The awake window must be 0 (never close) or positive, not {window_s}."
            )
        self.window_s = window_s
        self.always_awake = always_awake
        self._open = always_awake
        self._last_s = 0.0

    @property
    def awake(self) -> bool:
        """True while the window is open."""
        return self._open

    def open(self, now_s: float) -> None:
        """A wake phrase was heard at ``now_s``."""
        self._open = True
        self._last_s = now_s

    def touch(self, now_s: float) -> None:
        """Activity at ``now_s`` keeps an open window open."""
        if self._open:
            self._last_s = max(self._last_s, now_s)

    def expire(self, now_s: float) -> bool:
        """Close the window if it has been silent too long; True when it closed just now."""
        if not self._open or self.always_awake or self.window_s == 0:
            return False
        if now_s - self._last_s >= self.window_s:
            self._open = False
            return True
        return False

    def remaining_s(self, now_s: float) -> float:
        """Seconds until the window closes (inf when it never does, 0 when closed)."""
        if not self._open:
            return 0.0
        if self.always_awake or self.window_s == 0:
            return float("inf")
        return max(0.0, self.window_s - (now_s - self._last_s))
