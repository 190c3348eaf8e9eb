"""Negated and retracted clauses are taken out before an utterance is read for commands."""

import pytest

from text.negation import split_negated


@pytest.mark.parametrize(
    "said",
    [
        "don't turn left",
        "Do not drive forward two meters.",
        "dont go back",
        "never turn right",
        "You can't turn around here.",
        "I don't want you to back up",
        "please don't reverse",
        "no need to turn left",
        "no turning left",
        "don't honk the horn",
        "don't turn the lights on",
        "不要前进",
        "别左转",
        "不要往前走两米",
        "不用后退",
        "先别走",
        "不准掉头",
        "别开灯",
        "你能不能别转了",
        "可不可以不要前进",
    ],
)
def test_a_negated_command_leaves_nothing(said):
    got = split_negated(said)
    assert got.kept == "" and got.negated and not got.stop


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("Don't turn left, turn right.", "turn right"),
        ("not forward, backward one meter", "backward one meter"),
        ("Turn left, no, turn right.", "turn right"),
        ("Turn left. No, turn right.", "turn right"),  # Whisper's full stop ends a clause too
        ("Go forward 1.5 meters. Never mind.", ""),
        ("turn left, no wait, don't", ""),
        ("drive forward two meters, never mind", ""),
        ("go back one meter, cancel that, go forward", "go forward"),
        ("turn right but don't drive forward", "turn right"),
        ("左转，不对，右转", "右转"),
        ("往前走两米，算了", ""),
        ("别左转，然后右转", "然后右转"),
    ],
)
def test_what_was_taken_back_goes_and_what_was_said_after_stays(said, kept):
    assert split_negated(said).kept == kept


@pytest.mark.parametrize(
    ("said", "meant"),
    [
        ("Turn left, sorry, I mean right.", "turn right"),
        ("turn left, no, right", "turn right"),
        ("turn left, oops, right", "turn right"),
        ("turn left no turn right", "turn right"),  # the comma the recogniser left out
        ("Go forward, actually no, go back.", "go back"),
        ("go forward, I mean backward", "go backward"),
        ("drive forward two meters, no, three", "drive forward three meters"),
        ("go two meters, sorry, three feet", "go three feet"),
        ("go forward, no, two meters", "go forward two meters"),
        ("turn left 45 degrees, no, 30", "turn left 30 degrees"),
        ("go forward, no, turn right", "turn right"),  # a verb of its own: as said
        ("左转，不对，是右转", "右转"),
        ("左转，我是说右", "右转"),
        ("往前走两米，不对，三米", "往前走三米"),
        ("往前走两米，我是说三米", "往前走三米"),
    ],
)
def test_a_self_correction_redoes_the_clause_before_with_what_changed(said, meant):
    got = split_negated(said)
    assert got.kept == meant and got.negated


@pytest.mark.parametrize(
    "said",
    [
        "wait, turn right",  # "wait" corrects nothing
        "go forward no more than two meters",
        "Go forward. I mean it!",  # emphasis, not a correction
    ],
)
def test_words_that_only_sound_like_a_correction_take_nothing_back(said):
    assert split_negated(said).negated == ()


def test_a_correction_that_fits_nothing_before_it_stays_as_said_and_guesses_nothing():
    # "three" has no amount to replace in "turn left": read alone, it is no command
    assert split_negated("turn left, no, three").kept == "three"
    assert split_negated("go forward, no, left").kept == "left"


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("Don't move forward yet.", ""),
        ("please do not move forward", ""),
        ("别动", ""),
        ("不要动", ""),
        ("stop, don't turn left", "stop"),
        ("停下来，别往前走了", "停下来"),
    ],
)
def test_a_stop_word_in_a_negated_clause_stands(said, kept):
    got = split_negated(said)
    assert got.kept == kept
    assert got.stop == (kept == "")  # the stop word was in what was taken out


@pytest.mark.parametrize(
    "said",
    [
        "Drive forward two meters.",
        "Why don't you turn left?",
        "why not go forward a bit",
        "No, turn right.",  # a "no" before anything was said takes nothing back
        "Don't stop believing is my favorite song.",
        "I don't know what the weather is like",
        "don't worry about it",
        "wait, stop",
        "ok, turn left",
        "能不能往左转一下",  # "can you": a polite question, not a negation
        "可不可以向前走两米",
        "要不要后退",
        "别人往前走了",  # 别人: others, not "don't"
        "特别往前的地方",
        "向右转",
        "",
    ],
)
def test_an_utterance_without_a_negated_command_comes_back_as_it_was(said):
    got = split_negated(said)
    assert (got.kept, got.negated, got.stop) == (said, (), False)
