"""The words' end-of-turn rule: readings, the mark-only wait and a reader's precedence."""

from __future__ import annotations

import pytest

from text.endofturn import EndOfTurn, by_mark_only, classify


@pytest.mark.parametrize(
    ("text", "mark_only"),
    [
        ("what's your name,", True),
        ("never mind,", True),
        ("好的，", True),
        ("tell me about the,", False),  # "the" trails off by itself
        ("and then,", False),
        ("what's your name?", False),  # not trailing at all
        ("what's your name", False),
        (",", False),
        ("", False),
    ],
)
def test_a_transcript_trails_off_by_its_mark_only_when_its_words_do_not(
    text: str, mark_only: bool
) -> None:
    assert by_mark_only(text) is mark_only


def test_the_mark_wait_applies_only_where_the_words_do_not_trail_and_no_reader_decides() -> None:
    rule = EndOfTurn(400, 450, 1000, mark_ms=700)
    assert rule.wait_ms("what's your name,") == 700
    assert rule.wait_ms("tell me about the,") == 1000
    assert rule.wait_ms("what's your name?") == 400 and rule.wait_ms("what's your name") == 450
    assert EndOfTurn(400, 450, 1000).wait_ms("what's your name,") == 1000  # no mark_ms

    def reader(text: str, lang: str) -> str | None:
        return "trailing" if text.startswith("drive") else None

    ruled = EndOfTurn(400, 450, 1000, reader=reader, mark_ms=700)  # type: ignore[arg-type]
    assert ruled.wait_ms("drive forward,") == 1000  # the reader's trailing is a word's
    assert ruled.wait_ms("what's your name,") == 700
    assert classify("what's your name,") == "trailing"


def test_the_trailing_marks_are_taken_off_and_nothing_else() -> None:
    from text.endofturn import without_trailing_mark

    assert without_trailing_mark("what's your name, ") == "what's your name"
    assert without_trailing_mark("好的，") == "好的" and without_trailing_mark("so...") == "so"
    assert without_trailing_mark("Stop.") == "Stop." and without_trailing_mark(",") == ","


def test_a_clause_that_asks_for_its_complement_trails_off_whatever_its_punctuation() -> None:
    # the recogniser writes "Can you tell me?" and "I think." at a hesitation before the rest
    for said in ("Can you tell me?", "I think.", "I guess", "Hmm, I want.", "I'd like.",
                 "I was wondering.", "How about.", "Let me.", "我觉得。", "请问"):  # fmt: skip
        assert classify(said) == "trailing", said
    for done in ("I think so.", "What do you think?", "Tell me a joke.", "Let me see.",
                 "Show me the way.", "I want to go home.", "Turn right."):  # fmt: skip
        assert classify(done) == "complete", done
    assert EndOfTurn(400, 400, 1000).wait_ms("Can you tell me?") == 1000
