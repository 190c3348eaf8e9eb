"""A looping transcript is cut to its first turn; text without a repeated phrase is left alone."""

from __future__ import annotations

import pytest

from workers.asr.deloop import first_cycle


@pytest.mark.parametrize(
    ("looped", "kept"),
    [
        ("start, start, start, start,", "start,"),
        ("Alt Alt Alt Alt", "Alt"),
        ("turn to the right turn to the right turn to the right", "turn to the right"),
        ("Stop, how much charge is left, left, left, left", "Stop, how much charge is left,"),
        ("I'm bored, I'm bored, I'm bored, I'm bored,", "I'm bored,"),
        ("turn right, then drive forward 50 centimeters turn right, then drive forward 50 "
         "centimeters turn right,", "turn right, then drive forward 50 centimeters"),
        ("no straight head to meters, no, no, no, no, no", "no straight head to meters, no,"),
        ("Switch the lights to green, switch the lights to green.", "Switch the lights to green,"),
    ],
)  # fmt: skip
def test_a_loop_is_cut_after_the_first_turn_of_its_earliest_repeated_phrase(
    looped: str, kept: str
) -> None:
    assert first_cycle(looped) == kept


@pytest.mark.parametrize("text", ["", "hello there", "a1 a2 a3 a4 a5 a6", "stop. , ."])
def test_text_with_no_phrase_twice_in_a_row_has_no_loop(text: str) -> None:
    assert first_cycle(text) is None
