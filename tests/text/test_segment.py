"""The sentence segmenter used for TTS: Chinese and English, numbers kept whole, streaming."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from text.segment import SentenceSegmenter, sentence_key, split_sentences, without_echoes


def stream(text: str, step: int = 1, **kw: int) -> list[str]:
    seg = SentenceSegmenter(**kw)
    out: list[str] = []
    for i in range(0, len(text), step):
        out += seg.feed(text[i : i + step])
    return out + seg.flush()


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Pi is 3.14. Yes!", ["Pi is 3.14.", "Yes!"]),
        ("你好。今天天气很好！你呢？", ["你好。", "今天天气很好！", "你呢？"]),
        ("Version 1.2.3 is out; upgrade now", ["Version 1.2.3 is out;", "upgrade now"]),
        ("Really?! Wow...", ["Really?!", "Wow..."]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("Mr. Smith met Dr. Li. Fine.", ["Mr. Smith met Dr. Li.", "Fine."]),
        ("See example.com now. Done", ["See example.com now.", "Done"]),
        ("温度是36.5度。OK.", ["温度是36.5度。", "OK."]),
        ("第一行\n第二行", ["第一行", "第二行"]),
        ("我说：“好。”然后走了。", ["我说：“好。”", "然后走了。"]),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_streaming_in_any_piece_size_gives_the_same_sentences(step: int) -> None:
    text = "Pi is 3.14159 today. 你好。It costs $2.50, right? Yes."
    assert stream(text, step) == split_sentences(text)


def test_a_sentence_is_released_as_soon_as_the_next_one_starts() -> None:
    seg = SentenceSegmenter()
    assert seg.feed("Hello there.") == []  # could still be "there.5" or "there..."
    assert seg.feed(" Next") == ["Hello there."]
    assert seg.feed("句子。") == []
    assert seg.feed("下") == ["Next句子。"]


def test_max_chars_cuts_a_long_sentence_at_a_comma() -> None:
    out = stream("one two three, four five six, seven", max_chars=20)
    assert out[0].endswith(",") and "".join(out).replace(" ", "") == "onetwothree,fourfivesix,seven"


def test_negative_max_chars_is_refused_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        SentenceSegmenter(max_chars=-1)


@given(
    st.text(alphabet='ab 3.14,!?。！你好\n"”', max_size=60),
    st.lists(st.integers(min_value=0, max_value=60), max_size=6),
)
def test_any_chunking_gives_the_same_sentences_and_loses_no_text(
    text: str, cuts: list[int]
) -> None:
    points = sorted({c for c in cuts if c <= len(text)})
    seg = SentenceSegmenter()
    out: list[str] = []
    for a, b in zip([0, *points], [*points, len(text)], strict=True):
        out += seg.feed(text[a:b])
    out += seg.flush()
    assert out == split_sentences(text)
    assert "".join(out).replace(" ", "").replace("\n", "") == "".join(text.split())


def test_repeat_guard_lets_each_sentence_through_once_whatever_its_case_or_punctuation():
    from text.segment import RepeatGuard

    guard = RepeatGuard()
    said = ["I'm going to stop the car.", "I'm going to stop the car!", "i'm going to STOP the car",
            "It is sunny.", "I'm going to stop.", "It is sunny?"]  # fmt: skip
    assert [s for s in said if guard.keep(s)] == [said[0], "It is sunny.", "I'm going to stop."]
    assert guard.dropped == [said[1], said[2], "It is sunny?"]
    assert RepeatGuard().keep("") and sentence_key("Hello,  World!") == "hello world"


def test_a_first_piece_without_a_clause_mark_is_cut_at_a_word_boundary() -> None:
    from text.segment import SentenceSegmenter

    seg = SentenceSegmenter()
    seg.feed("The story of a legendary creature with the bo")
    assert seg.take_clause(8) is None  # no mark yet: waits
    assert seg.take_clause(8, 40) == "The story of a legendary creature with"
    assert seg.feed("dy of a lion. ") == ["the body of a lion."]
    seg = SentenceSegmenter()
    seg.feed("Paris is the capital of France, and it")
    assert seg.take_clause(8, 20) == "Paris is the capital of France,"  # a mark wins
    seg.feed("是一个很长很长的中文句子没有空格可以切开的地方吧")
    assert seg.take_clause(8, 10) is None  # no word boundary: whole clauses only


@pytest.mark.parametrize(
    ("heard", "read"),
    [
        ("Hey, back up two meters. Hey, back up two meters.", "Hey, back up two meters."),
        ("Stop. Stop! Stop.", "Stop."),
        ("往前走两米。往前走两米。", "往前走两米。"),
        ("reverse 1 meter, reverse, reverse,", "reverse 1 meter,"),  # a loop's tail
        ("stop, stop, stop", "stop"),
        ("Go forward 1.5 meters, go forward.", "Go forward 1.5 meters."),
    ],
)
def test_a_sentence_the_recogniser_wrote_twice_in_a_row_is_read_once(heard, read):
    assert without_echoes(heard) == read


@pytest.mark.parametrize(
    "heard",
    [
        "Turn left. Go forward. Turn left.",
        "Go forward 1.5 meters.",
        "I think, I think it is right.",  # the clause before is the start of this one
        "turn left, then turn left again",
    ],
)
def test_a_transcript_without_a_sentence_repeated_in_a_row_is_left_as_it_is(heard):
    assert without_echoes(heard) == heard
