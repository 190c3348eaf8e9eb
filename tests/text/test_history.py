"""Bounded conversation history, by characters or tokens."""

from __future__ import annotations

import pytest

from schemas.llm import ChatMessage
from text.history import History, estimate_tokens, fit_messages


def msg(role: str, text: str) -> ChatMessage:
    return ChatMessage(role=role, content=text)  # type: ignore[arg-type]


CONV = (
    msg("system", "Be brief."),
    msg("user", "a" * 100),
    msg("assistant", "b" * 100),
    msg("user", "c" * 100),
    msg("assistant", "d" * 100),
    msg("user", "last question"),
)


def test_oldest_turns_go_first_and_the_system_prompt_stays() -> None:
    fitted = fit_messages(CONV, max_chars=250)
    assert fitted[0].role == "system"
    assert fitted[-1].content == "last question"
    assert [m.content[0] for m in fitted[1:-1]] == ["c", "d"]
    assert sum(len(m.content) for m in fitted) <= 250


def test_kept_history_never_starts_with_an_orphaned_answer() -> None:
    fitted = fit_messages(CONV, max_chars=130)
    assert [m.role for m in fitted] == ["system", "user"]


def test_the_newest_message_is_kept_even_over_budget() -> None:
    fitted = fit_messages((msg("user", "x" * 1000),), max_chars=10)
    assert len(fitted) == 1


def test_token_budget_uses_the_given_counter() -> None:
    # Each message costs 1 token plus 4 of template overhead: 30 for all six.
    assert len(fit_messages(CONV, max_tokens=30, count_tokens=lambda s: 1)) == 6
    fitted = fit_messages(CONV, max_tokens=20, count_tokens=lambda s: 1)
    assert [m.content[0] for m in fitted] == ["B", "c", "d", "l"]


def test_both_budgets_at_once_is_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        fit_messages(CONV, max_chars=10, max_tokens=10)


def test_estimate_counts_cjk_characters_one_each() -> None:
    assert estimate_tokens("你好") == 2
    assert estimate_tokens("abcdefgh") == 2


def test_history_accumulates_and_stays_bounded() -> None:
    h = History(max_chars=50)
    for i in range(10):
        h.add(msg("user", f"question {i}"), msg("assistant", f"answer {i} " * 2))
    assert sum(len(m.content) for m in h.messages) <= 50
    assert h.messages[-1].content.startswith("answer 9")
    h.clear()
    assert h.messages == ()


def test_an_answer_that_copies_eight_words_in_a_row_of_an_earlier_one_is_a_copy() -> None:
    from text.history import copies_earlier

    dragon = "The dragon is a legendary creature with the body of a lion and the head of an eagle."
    horn = "The horn is a legendary creature with the body of a lion and the head of an eagle."
    assert copies_earlier(horn, [dragon])
    assert not copies_earlier("The horn is a loud thing on the front of the car.", [dragon])
    assert not copies_earlier("I am Robo.", ["I am Robo."])  # under eight words: never a copy
    assert not copies_earlier(horn, [])
