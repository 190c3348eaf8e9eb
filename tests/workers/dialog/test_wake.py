import pytest

from workers.dialog.wake import AwakeWindow, WakeMatcher, tokenize


def test_tokenize_gives_pinyin_for_chinese_and_lower_words_for_latin():
    assert [t.key for t in tokenize("你好，小车! Hey Robot")] == [
        "ni", "hao", "xiao", "che", "hey", "robot",
    ]  # fmt: skip


def test_english_phrase_matches_whatever_the_punctuation_and_case():
    hit = WakeMatcher(["hey robot"]).match("Hey, Robot! What time is it?")
    assert hit is not None and hit.phrase == "hey robot"
    assert hit.rest == "What time is it"


def test_chinese_phrase_given_in_characters_matches_by_pinyin_even_with_other_characters():
    # 晓 and 小 are both "xiao": the reference matches on pinyin, so homophones wake it too.
    hit = WakeMatcher(["你好小车"]).match("你好晓车，现在几点？")
    assert hit is not None and hit.rest == "现在几点"


def test_chinese_phrase_given_in_pinyin_matches_characters():
    assert WakeMatcher(["shuo hua xiao qian"]).match("说话小千") is not None


def test_several_phrases_and_the_earliest_wins():
    m = WakeMatcher(["ok robot", "hey robot"])
    assert m.match("hey robot ok robot").phrase == "hey robot"  # type: ignore[union-attr]
    assert m.match("nothing here") is None


def test_phrase_must_be_contiguous_words_not_a_substring():
    m = WakeMatcher(["hey robot"])
    assert m.match("they robotics") is None
    assert m.match("hey there robot") is None


# --- a near miss of the call word, only where a user calls the assistant ------------------


@pytest.mark.parametrize(
    ("text", "rest"),
    [
        ("a robot, hello, what is your name?", "hello, what is your name"),  # Whisper tiny.en
        ("A robot. What time is it?", "What time is it"),
        ("A robot!", ""),
        ("a robot", ""),  # the phrase alone, at the end of the text
        ("Hay robot, stop.", "stop"),
        ("Hi, robot: turn left", "turn left"),
        ("Eh robot? Where are you?", "Where are you"),
    ],
)
def test_a_sound_alike_of_the_call_word_at_the_very_start_before_a_pause_wakes(text, rest):
    hit = WakeMatcher(["hey robot"]).match(text)
    assert hit is not None and hit.phrase == "hey robot" and not hit.exact
    assert hit.rest == rest and hit.heard.lower().split()[-1] == "robot"


@pytest.mark.parametrize(
    "text",
    [
        "I saw a robot yesterday",  # not at the start
        "I saw a robot, yesterday.",  # not at the start, even before a pause
        "So, a robot, like you?",  # something said before it
        "A robot can't do that",  # no pause after the name: a sentence about robots
        "A robot vacuum, please",
        "Hey Robert, pass the salt",  # the name itself must be heard exactly
        "Hey robo, hello",
        "A Robert, hello",
        "Robot, hello",  # no call word at all
        "The robot, hello",  # not a sound-alike of the call word
        "a, hello, robot",
    ],
)
def test_a_near_miss_anywhere_else_or_of_the_name_does_not_wake(text):
    assert WakeMatcher(["hey robot"]).match(text) is None


def test_the_exact_phrase_still_matches_anywhere_and_wins_over_a_near_miss():
    m = WakeMatcher(["hey robot"])
    hit = m.match("a robot, hey robot, what is two plus two")
    assert hit is not None and hit.exact and hit.heard == "hey robot"
    mid = m.match("well hey robot what is two plus two")
    assert mid is not None and mid.exact and mid.rest == "well what is two plus two"


def test_near_misses_follow_the_configured_phrase_and_never_a_one_word_or_chinese_one():
    ok = WakeMatcher(["ok robot"]).match("Okay robot, go back")
    assert ok is not None and not ok.exact and ok.rest == "go back"
    assert WakeMatcher(["hey"]).match("A, hello") is None  # a call word alone: exact only
    assert WakeMatcher(["jarvis"]).match("Jarvis, hello") is not None  # exact only
    assert WakeMatcher(["你好小车"]).match("你好小，现在几点") is None
    assert WakeMatcher(["hey robot"]).match("hey robots, hello") is None


def test_empty_phrase_is_refused_with_a_sentence():
    with pytest.raises(ValueError, match="no words"):
        WakeMatcher(["!!"])


def test_awake_window_expires_after_silence_and_activity_keeps_it_open():
    w = AwakeWindow(10.0)
    assert not w.awake
    w.open(100.0)
    w.touch(105.0)
    assert not w.expire(114.0) and w.awake
    assert w.remaining_s(114.0) == pytest.approx(1.0)
    assert w.expire(115.0) and not w.awake
    assert not w.expire(200.0)  # closing is reported once
    w.touch(300.0)  # activity does not open a closed window
    assert not w.awake


def test_always_awake_and_latched_windows_never_close():
    assert AwakeWindow(5.0, always_awake=True).awake
    w = AwakeWindow(5.0, always_awake=True)
    assert not w.expire(1e9) and w.awake
    latched = AwakeWindow(0.0)
    latched.open(0.0)
    assert not latched.expire(1e9) and latched.awake
