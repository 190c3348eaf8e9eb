"""The grammar's reading of a pause: whole commands end the turn, bare drives may go on."""

from __future__ import annotations

import pytest

from text.turnend import command_reading, has_amount


@pytest.mark.parametrize(
    "text",
    [
        "kindly turn left,",
        "hey robot, turn around,",
        "rotate ninety degrees to the right, please,",
        "move forward one meter,",
        "go back half a meter.",
        "back up a little,",
        "please drive forward two meters",
        "hey robot, stop,",
        "no no no, stop,",
        "I said stop,",
        "honk the horn,",
        "go backwards for thirty seconds,",  # refused later by the bounds, but whole
        "往前走两米，",
        "向右转。",
        "停车，",
    ],
)
def test_a_whole_command_is_complete_whatever_its_punctuation(text: str) -> None:
    assert command_reading(text) == "complete"


@pytest.mark.parametrize(
    "text",
    [
        "drive forward.",  # "drive forward | two meters"
        "go back,",
        "move forward",
        "往前走。",  # 往前走 | 两米
        "turn left and",
        "turn left, then",
        "move forward one meter and",
        "first turn left.",  # the first of several
        "先右转，",  # 先右转 | 然后后退一米
        "右转，然后",
    ],
)
def test_a_bare_drive_a_joint_or_a_first_step_trails_off(text: str) -> None:
    assert command_reading(text) == "trailing"


@pytest.mark.parametrize(
    "text",
    ["what is your name,", "can you tell me", "I think", "she turned left at the bakery,", ""],
)
def test_lines_that_are_not_commands_are_left_to_the_words_rule(text: str) -> None:
    assert command_reading(text) is None


def test_an_amount_is_found_in_either_language() -> None:
    assert has_amount("go forward two meters") and has_amount("back up a little")
    assert has_amount("往后退一米") and has_amount("turn ninety degrees")
    assert not has_amount("go forward") and not has_amount("往前走")
