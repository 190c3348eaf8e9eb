"""Cut a streamed reply into sentences for text-to-speech, as soon as each one is complete.

    seg = SentenceSegmenter()
    for delta in stream:
        for sentence in seg.feed(delta):
            speak(sentence)
    for sentence in seg.flush():
        speak(sentence)

Rules, for Chinese and English mixed text:

- Chinese sentence ends (``。！？；…``) end a sentence at once.
- ``.`` ``!`` ``?`` ``;`` end a sentence only when followed by white space or the end of the
  text (so ``3.14``, ``v1.2`` and ``example.com`` stay whole); ``.`` after a known abbreviation
  (``Mr.``, ``e.g.``) or a single capital letter (``J. Smith``) does not.
- A run of ends (``?!``, ``...``) and closing quotes or brackets after it stay with the sentence.
- A line break ends a sentence.
- ``max_chars`` (0 = off) cuts an over-long sentence at its last comma, so that speech can start.
- :meth:`SentenceSegmenter.take_clause` hands out the first clause of the sentence in progress
  (up to a comma, colon or semicolon followed by a space, or a Chinese ``，、：``) once it has
  ``min_chars``: a reply's first words can be spoken before its first sentence is complete.

:func:`split_sentences` applies the same rules to a whole text. :class:`RepeatGuard` drops a
sentence identical (:func:`sentence_key`: case, punctuation and spacing aside) to one already
let through, so a small model that loops ("I'm going to stop the car." over and over) is heard
once. :func:`without_echoes` drops a sentence of a transcript that repeats the one before it,
and a clause that repeats the clause before it or its first words (Whisper sometimes writes an
utterance twice, "Hey, back up two meters. Hey, back up two meters.", or ends a loop with
"reverse 1 meter, reverse, reverse,": the car would back up 4 m, or 2 m).
"""

from __future__ import annotations

import re

__all__ = [
    "RepeatGuard",
    "SentenceSegmenter",
    "sentence_key",
    "split_sentences",
    "without_echoes",
]

_CJK_ENDS = frozenset("。！？；…")
_ASCII_ENDS = frozenset(".!?;")
_CLOSERS = frozenset("\"'”’)）」』】》")
_COMMAS = frozenset(",，、:：")
_CJK_CLAUSE_MARKS = frozenset("，、：")
_CLAUSE_MARKS = frozenset(",:;") | _CJK_CLAUSE_MARKS
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no", "fig"}
)


class SentenceSegmenter:
    """Incremental sentence segmenter; feed text pieces, get complete sentences back."""

    def __init__(self, *, max_chars: int = 0) -> None:
        if max_chars < 0:
            raise ValueError(f"max_chars must be 0 (off) or positive, not {max_chars}.")
        self._max_chars = max_chars
        self._buf = ""

    def feed(self, text: str) -> list[str]:
        """Add text; return the sentences completed by it (stripped, never empty)."""
        self._buf += text
        out: list[str] = []
        start = 0
        i = 0
        n = len(self._buf)
        while i < n:
            end = self._sentence_end(i)
            if end is None:  # undecidable until more text arrives
                break
            if end > 0:
                self._take(out, self._buf[start:end])
                start = i = end
                continue
            i += 1
        self._buf = self._buf[start:]
        if self._max_chars and len(self._buf) > self._max_chars:
            cut = max((k for k, c in enumerate(self._buf) if c in _COMMAS), default=-1)
            if cut > 0:
                self._take(out, self._buf[: cut + 1])
                self._buf = self._buf[cut + 1 :]
        return out

    def take_clause(self, min_chars: int, max_chars: int = 0) -> str | None:
        """The buffered text up to its first clause mark, once that much holds ``min_chars``
        characters (and is taken out of the buffer); with ``max_chars``, the words before the
        last space within that many characters when no mark has come by then; None while
        there is no such piece."""
        buf = self._buf
        for i, c in enumerate(buf):
            if c not in _CLAUSE_MARKS:
                continue
            if c in _CJK_CLAUSE_MARKS or (i + 1 < len(buf) and buf[i + 1].isspace()):
                end = i + 1
            else:
                continue  # 1,000 and 3:30 stay whole (a mark at the very end waits)
            clause = buf[:end].strip()
            if len(clause) >= min_chars:
                self._buf = buf[end:]
                return clause
        if max_chars and len(buf) > max_chars:
            cut = buf.rfind(" ", 0, max_chars + 1)
            if cut >= min_chars and buf[:cut].strip():
                self._buf = buf[cut + 1 :]
                return buf[:cut].strip()
        return None

    def flush(self) -> list[str]:
        """End of stream: return what is left as a last sentence (if any)."""
        out: list[str] = []
        self._take(out, self._buf)
        self._buf = ""
        return out

    def _sentence_end(self, i: int) -> int | None:
        """Index just past the sentence ending at ``i``; 0 if none ends here; None to wait."""
        buf = self._buf
        c = buf[i]
        if c == "\n":
            return i + 1
        if c not in _CJK_ENDS and c not in _ASCII_ENDS:
            return 0
        j = i + 1
        while j < len(buf) and (buf[j] in _CJK_ENDS or buf[j] in _ASCII_ENDS or buf[j] in _CLOSERS):
            j += 1
        if j == len(buf):
            return None  # more ends or closers may follow
        if c in _CJK_ENDS or any(ch in _CJK_ENDS for ch in buf[i:j]):
            return j
        if not buf[j].isspace():
            return 0  # 3.14, v1.2, example.com, "?!" inside a word
        if c == "." and j == i + 1 and _is_abbreviation(buf[:i]):
            return 0
        return j

    @staticmethod
    def _take(out: list[str], text: str) -> None:
        text = text.strip()
        if text:
            out.append(text)


def _is_abbreviation(before: str) -> bool:
    match = re.search(r"[A-Za-z.]+$", before)
    word = match.group(0) if match else ""
    if len(word) == 1 and word.isupper():
        return True
    return word.lower() in _ABBREVIATIONS


def split_sentences(text: str, *, max_chars: int = 0) -> list[str]:
    """Split a whole text into sentences with the rules of :class:`SentenceSegmenter`."""
    seg = SentenceSegmenter(max_chars=max_chars)
    return seg.feed(text) + seg.flush()


def sentence_key(sentence: str) -> str:
    """What two sentences must share to be the same: lower-case words and characters, punctuation
    and spacing dropped ("I'm going to stop the car!" = "i'm going to stop the car.")."""
    words = re.findall(r"[\w']+", sentence.casefold().replace("\u2019", "'"))
    return " ".join(words)


class RepeatGuard:
    """Lets each sentence of one reply through once: ``keep(s)`` is False for a repeat."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self.dropped: list[str] = []
        """The repeats dropped, in order (for the log)."""

    def keep(self, sentence: str) -> bool:
        """True the first time a sentence is seen (an empty key is always kept)."""
        key = sentence_key(sentence)
        if key and key in self._seen:
            self.dropped.append(sentence)
            return False
        self._seen.add(key)
        return True


def without_echoes(text: str) -> str:
    """``text`` without what the recogniser wrote again right after it: a sentence that repeats
    the one before it (:func:`sentence_key`), and a clause that repeats the clause before it or
    only its first words ("reverse 1 meter, reverse, reverse,": a loop's tail that would back
    the car up twice more); ``text`` itself when there is none. "Turn left. Go forward. Turn
    left." stays whole."""
    sentences = split_sentences(text)
    kept: list[str] = []
    before = None
    for sentence in sentences:
        key = sentence_key(sentence)
        if not key or key != before:
            kept.append(_without_clause_echoes(sentence))
        before = key
    if kept == sentences:
        return text
    return " ".join(kept) if any(c.isascii() and c.isalpha() for c in text) else "".join(kept)


_CLAUSE_CUT = re.compile(r"(\s*[,，]\s*)")


def _without_clause_echoes(sentence: str) -> str:
    parts = _CLAUSE_CUT.split(sentence)  # clause, separator, clause, ...
    out: list[str] = []
    before: list[str] = []
    for i in range(0, len(parts), 2):
        words = sentence_key(parts[i]).split()
        echo = bool(words) and words == before[: len(words)]
        if not echo:
            out += [parts[i - 1]] if out and i else []
            out.append(parts[i])
            before = words
    if len(out) == len(parts):
        return sentence
    end = re.search(r"[^\w\s]*$", sentence)
    mark = end.group() if end else ""  # the sentence's closing mark ("!", "?", ",")
    return "".join(out).rstrip(",， ") + mark
