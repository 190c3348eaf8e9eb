"""A stop command the recogniser wrote with a sound-alike of its stop word is read as the stop."""

import pytest

from text.stopsounds import SOUND_ALIKES, restore_stop
from text.stopwords import find_stop


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("start moving,", "stop moving"),  # tiny.en on piper's and espeak's "Stop moving."
        ("start right there,", "stop right there"),
        ("top,", "stop"),
        ("Of the car immediately.", "halt the car immediately"),
        ("and off the car immediately", "and halt the car immediately"),
        ("Okay, start!", "okay stop"),
        ("hey robot, start now", "hey robot stop now"),
        ("break now", "brake now"),
        ("Breeze!", "freeze"),
        ("well, start, start", "well stop stop"),  # "Whoa, stop, stop." (blind tuning split)
        ("start, start, start, start", "stop stop stop stop"),  # a short window's loop
    ],
)
def test_an_utterance_that_is_only_a_sound_alike_of_a_stop_command_is_that_stop(heard, meant):
    assert restore_stop(heard) == meant
    assert find_stop(meant) is not None


@pytest.mark.parametrize(
    "heard",
    [
        "start the story",
        "let's start",
        "turn the lights off",
        "take a break",
        "top of the morning",
        "I'm off to work",
        "hold on a second",
        "one of the cars",
        "start moving forward",  # a direction: not the words of a stop
        "what is the top speed",
        "stop moving",  # a stop word already: nothing to put back
    ],
)
def test_a_sound_alike_in_any_other_utterance_is_left_as_heard(heard):
    assert restore_stop(heard) is None


def test_every_sound_alike_stands_for_a_stop_word():
    for alike, stop in SOUND_ALIKES.items():
        assert find_stop(stop) is not None and find_stop(alike) is None
