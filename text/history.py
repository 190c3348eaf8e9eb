"""Keep a conversation inside a budget of characters or tokens.

The oldest turns go first; system messages and the newest message are always kept (a newest
message over the whole budget is kept anyway: dropping the user's question would answer nothing).

    fitted = fit_messages(messages, max_chars=4000)
    history = History(max_tokens=1024, count_tokens=backend.count_tokens)
    history.add(ChatMessage(role="user", content=...))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from schemas.llm import ChatMessage

__all__ = ["COPY_RUN_WORDS", "History", "copies_earlier", "estimate_tokens", "fit_messages"]

TokenCounter = Callable[[str], int]

#: Per-message overhead of a chat template (role markers), in tokens.
_TEMPLATE_TOKENS = 4


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token estimate: one per CJK character, one per 4 other characters."""
    cjk = sum(1 for ch in text if "\u3000" <= ch <= "\u9fff" or "\uf900" <= ch <= "\uffef")
    return cjk + -(-(len(text) - cjk) // 4)


def _cost(msg: ChatMessage, max_tokens: int | None, count: TokenCounter) -> int:
    if max_tokens is not None:
        return count(msg.content) + _TEMPLATE_TOKENS
    return len(msg.content)


def fit_messages(
    messages: Sequence[ChatMessage],
    *,
    max_chars: int | None = None,
    max_tokens: int | None = None,
    count_tokens: TokenCounter = estimate_tokens,
) -> tuple[ChatMessage, ...]:
    """Drop the oldest non-system messages until the rest fit the budget (None = unbounded).

    With ``max_tokens`` the budget is in tokens (``count_tokens`` per message plus a small
    template overhead), otherwise in characters of content.
    """
    if max_chars is not None and max_tokens is not None:
        raise ValueError("Give a history budget in characters or in tokens, not both.")
    budget = max_tokens if max_tokens is not None else max_chars
    if budget is None or not messages:
        return tuple(messages)
    system = [m for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    used = sum(_cost(m, max_tokens, count_tokens) for m in system)
    kept: list[ChatMessage] = []
    for i, msg in enumerate(reversed(rest)):
        cost = _cost(msg, max_tokens, count_tokens)
        if i > 0 and used + cost > budget:
            break
        kept.append(msg)
        used += cost
    kept.reverse()
    # Never start the kept turns with an assistant reply whose question was dropped.
    while len(kept) > 1 and kept[0].role == "assistant":
        kept.pop(0)
    return (*system, *kept)


class History:
    """A bounded conversation kept by the worker (for callers that send only the new message)."""

    def __init__(
        self,
        *,
        max_chars: int | None = None,
        max_tokens: int | None = None,
        count_tokens: TokenCounter = estimate_tokens,
    ) -> None:
        self._max_chars = max_chars
        self._max_tokens = max_tokens
        self._count = count_tokens
        self._messages: tuple[ChatMessage, ...] = ()

    @property
    def messages(self) -> tuple[ChatMessage, ...]:
        """The kept conversation, oldest first."""
        return self._messages

    def add(self, *messages: ChatMessage) -> None:
        """Append messages and drop the oldest turns that no longer fit."""
        self._messages = self.with_new(messages)

    def with_new(self, messages: Iterable[ChatMessage]) -> tuple[ChatMessage, ...]:
        """The kept conversation followed by ``messages``, fitted to the budget (not stored)."""
        return fit_messages(
            (*self._messages, *messages),
            max_chars=self._max_chars,
            max_tokens=self._max_tokens,
            count_tokens=self._count,
        )

    def clear(self) -> None:
        """Forget the conversation."""
        self._messages = ()


#: Words in a row an answer may share with an earlier one before it counts as a copy.
COPY_RUN_WORDS = 8

_WORD = re.compile(r"\w+")


def copies_earlier(answer: str, earlier: Sequence[str], run: int = COPY_RUN_WORDS) -> bool:
    """True when ``answer`` repeats ``run`` words in a row of one of the ``earlier`` answers
    (case and punctuation ignored): a small model that copies its history ("The horn is a
    legendary creature with the body of a lion ..." after the dragon's story) would, with that
    answer in the history, copy it again every turn after."""
    words = _WORD.findall(answer.lower())
    if len(words) < run:
        return False
    grams = {tuple(words[i : i + run]) for i in range(len(words) - run + 1)}
    for old in earlier:
        w = _WORD.findall(old.lower())
        if any(tuple(w[i : i + run]) in grams for i in range(len(w) - run + 1)):
            return True
    return False
