"""The think/tool splitter: tags split anywhere in the stream, unclosed blocks, stray closers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from text.think import Piece, TagSplitter


def run(chunks: list[str], **kw: bool) -> list[Piece]:
    splitter = TagSplitter(**kw)
    out: list[Piece] = []
    for c in chunks:
        out += splitter.feed(c)
    out += splitter.finish()
    merged: list[Piece] = []
    for p in out:
        if merged and merged[-1].channel == p.channel and merged[-1].block == p.block:
            merged[-1] = Piece(merged[-1].text + p.text, p.channel, p.block)
        else:
            merged.append(p)
    return merged


TEXT = "<think>Let me see.</think>The answer is 4."


def test_think_block_is_separated_from_the_answer() -> None:
    assert run([TEXT]) == [Piece("Let me see.", "think"), Piece("The answer is 4.", "answer")]


@pytest.mark.parametrize("cut", range(1, len(TEXT)))
def test_a_tag_split_at_any_point_gives_the_same_result(cut: int) -> None:
    assert run([TEXT[:cut], TEXT[cut:]]) == run([TEXT])


def test_one_character_per_chunk_as_the_rkllm_server_sends() -> None:
    assert run(list(TEXT)) == run([TEXT])


def test_a_think_block_never_closed_is_never_answer() -> None:
    assert run(["<think>still thinking", " and more"]) == [
        Piece("still thinking and more", "think")
    ]


def test_an_unfinished_tag_at_the_end_is_plain_text() -> None:
    assert run(["a <thi"]) == [Piece("a <thi", "answer")]


def test_angle_brackets_that_are_not_tags_pass_through() -> None:
    assert run(["1 <", " 2 and <b>bold</b>"]) == [Piece("1 < 2 and <b>bold</b>", "answer")]


def test_start_in_think_treats_text_before_the_closer_as_thinking() -> None:
    assert run(["hmm</think>Hi"], start_in_think=True) == [
        Piece("hmm", "think"),
        Piece("Hi", "answer"),
    ]


def test_a_stray_closer_is_dropped_not_spoken() -> None:
    assert run(["Hi</think> there"]) == [Piece("Hi there", "answer")]


def test_tool_call_block_goes_to_the_tool_channel() -> None:
    out = run(["OK.<tool_", 'call>{"kind":"stop"}</tool_call>'])
    assert out == [Piece("OK.", "answer"), Piece('{"kind":"stop"}', "tool")]


@given(st.lists(st.integers(min_value=0, max_value=len(TEXT)), max_size=8))
def test_any_chunking_gives_the_same_channels(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [TEXT[a:b] for a, b in zip([0, *points], [*points, len(TEXT)], strict=True)]
    assert run(chunks) == run([TEXT])


def test_consecutive_tool_blocks_stay_apart() -> None:
    out = run(["<tool_call>{1}</tool_call>", "<tool_call>{2}</tool_call>"])
    assert out == [Piece("{1}", "tool", 0), Piece("{2}", "tool", 1)]
