"""Turn a streamed reply into ``tts.request`` messages, sentence by sentence.

Only the answer is spoken: pieces flagged as thinking are dropped, and a ``<think>`` or
``<tool_call>`` block that reaches the dialog inside answer text is split out again with the LLM
worker's own :class:`~text.think.TagSplitter`. Each sentence goes out the moment the
:class:`~text.segment.SentenceSegmenter` sees it complete; :meth:`ReplySpeech.finish`
marks the last one ``final`` (an empty final request when everything was already sent). A
sentence of the answer identical to one already spoken in this reply is dropped
(:class:`~text.segment.RepeatGuard`): a looping model is heard once.

With ``first_clause_chars`` the reply's first piece goes out at its first clause ("Paris is
the capital of France," ...) instead of its first sentence: the TTS can start on it while the
LLM writes the rest; a first sentence with no clause mark in its first
``FIRST_PIECE_MAX_CHARS`` characters goes out at the last word boundary before them (the
135M model's "The story of a legendary creature with the body of a lion ..." took 600-900 ms
to its first comma in ``bench.e2e``). The piece passes the same guard as a sentence.
"""

from __future__ import annotations

from schemas.tts import TtsRequest
from text.segment import RepeatGuard, SentenceSegmenter, split_sentences
from text.think import TagSplitter

__all__ = ["FIRST_PIECE_MAX_CHARS", "ReplySpeech"]

FIRST_PIECE_MAX_CHARS = 48
"""The first piece of a reply is cut at a word boundary by this many characters when no clause
mark came (about eight words: a few hundred ms of the host model's writing), characters."""


class ReplySpeech:
    """The spoken side of one turn: numbering, sentence cutting, the final mark."""

    def __init__(
        self, turn_id: str, language: str = "", *, max_chars: int = 0, first_clause_chars: int = 0
    ) -> None:
        self.turn_id = turn_id
        self.language = language
        self._max_chars = max_chars
        self._first_clause = first_clause_chars
        self._tags = TagSplitter()
        self._seg = SentenceSegmenter(max_chars=max_chars)
        self._next = 0
        self._guard = RepeatGuard()
        self.spoken: list[str] = []
        """Sentences sent so far."""
        self.answer: list[str] = []
        """The sentences of the LLM's answer sent so far (repeats dropped, no fixed replies)."""

    @classmethod
    def resumed(
        cls,
        turn_id: str,
        language: str,
        *,
        max_chars: int,
        sent: int,
        spoken: list[str],
        first_clause_chars: int = 0,
    ) -> ReplySpeech:
        """The speech of a turn taken over by a restarted dialog: numbering goes on from
        ``sent``, ``spoken`` is what was already sent (:mod:`workers.dialog.memory`)."""
        speech = cls(turn_id, language, max_chars=max_chars, first_clause_chars=first_clause_chars)
        speech._next = sent
        speech.spoken = list(spoken)
        return speech

    @property
    def sent(self) -> int:
        """Requests sent so far."""
        return self._next

    def feed(self, text: str, *, thinking: bool = False) -> list[TtsRequest]:
        """A piece of the LLM's stream; the sentences it completes."""
        if thinking:
            return []
        out: list[TtsRequest] = []
        for piece in self._tags.feed(text):
            if piece.channel == "answer":
                out += [self._request(s) for s in self._answer(self._seg.feed(piece.text))]
        if self._first_clause and not out and not self.spoken:
            clause = self._seg.take_clause(self._first_clause, FIRST_PIECE_MAX_CHARS)
            if clause:
                out += [self._request(s) for s in self._answer([clause])]
        return out

    def _answer(self, sentences: list[str]) -> list[str]:
        """The answer's sentences that are not repeats of one already spoken."""
        kept = [s for s in sentences if self._guard.keep(s)]
        self.answer += kept
        return kept

    @property
    def dropped(self) -> list[str]:
        """Repeated sentences of the answer that were not spoken."""
        return self._guard.dropped

    def answer_text(self) -> str:
        """The answer as spoken (repeats dropped)."""
        return " ".join(self.answer)

    def finish(self, *extra: str) -> list[TtsRequest]:
        """End of the stream, plus ``extra`` sentences to say after it; the last is final."""
        texts: list[str] = []
        for piece in self._tags.finish():
            if piece.channel == "answer":
                texts += self._seg.feed(piece.text)
        texts = self._answer(texts + self._seg.flush())
        for e in extra:
            texts += split_sentences(e, max_chars=self._max_chars)
        return self.say_texts(texts)

    def say(self, text: str) -> list[TtsRequest]:
        """Speak a whole text now (split into sentences), ending with a final request."""
        return self.say_texts(split_sentences(text, max_chars=self._max_chars))

    def aside(self, text: str) -> TtsRequest:
        """Speak ``text`` now, before the answer: not final, not part of what was answered."""
        req = self._request("")
        return req.model_copy(update={"text": text})

    def say_texts(self, texts: list[str]) -> list[TtsRequest]:
        """Speak these sentences, the last one final (an empty final request if none)."""
        out = [self._request(t) for t in texts]
        if out:
            out[-1] = out[-1].model_copy(update={"final": True})
        else:
            out.append(self._request("", final=True))
        return out

    def _request(self, text: str, *, final: bool = False) -> TtsRequest:
        req = TtsRequest(
            turn_id=self.turn_id, index=self._next, text=text, language=self.language, final=final
        )
        self._next += 1
        if text:
            self.spoken.append(text)
        return req
