"""The command grammar: natural phrasings give exactly their command, anything else none."""

from typing import Any

import pytest

from text import lexicon as lx
from text.commands import parse_command
from text.stopwords import EMERGENCY_FORMS, STOP_FORMS, STOP_SPELLINGS, has_stop_word, stop_kind
from workers.dialog.actions import Bounds, check_intent

DRIVE_2 = {"kind": "drive", "distance_m": 2.0}

# The issue's phrasings and their Chinese counterparts: exactly this command, nothing more.
Case = tuple[str, list[dict[str, Any]] | None]

ISSUE: list[Case] = [
    ("please drive forward two meters", [DRIVE_2]),
    ("Please drive forward two meters.", [DRIVE_2]),
    ("go back half a meter", [{"kind": "drive", "distance_m": -0.5}]),
    ("turn to the right", [{"kind": "turn", "angle_deg": -90.0}]),
    ("back up a little", [{"kind": "drive", "distance_m": -0.2}]),
    ("spin around", [{"kind": "turn", "angle_deg": 360.0}]),
    ("stop the car", [{"kind": "stop"}]),
    ("Stop the car!", [{"kind": "stop"}]),
    ("请向前开两米", [DRIVE_2]),
    ("后退半米", [{"kind": "drive", "distance_m": -0.5}]),
    ("向右转", [{"kind": "turn", "angle_deg": -90.0}]),
    ("往后退一点", [{"kind": "drive", "distance_m": -0.2}]),
    ("原地转一圈", [{"kind": "turn", "angle_deg": 360.0}]),
    ("停车", [{"kind": "stop"}]),
]

# More forms the grammar knows (our own phrasings, not the corpus' held-back lines).
FORMS: list[Case] = [
    ("Move forward one meter, then turn left.",
     [{"kind": "drive", "distance_m": 1.0}, {"kind": "turn", "angle_deg": 90.0}]),
    ("go back 50 centimeters", [{"kind": "drive", "distance_m": -0.5}]),
    ("Go back two and a half meters.", [{"kind": "drive", "distance_m": -2.5}]),
    ("drive a meter and a half forward", [{"kind": "drive", "distance_m": 1.5}]),
    ("roll ahead 1.5 m", [{"kind": "drive", "distance_m": 1.5}]),
    ("reverse by one point two meters", [{"kind": "drive", "distance_m": -1.2}]),
    ("go forward six feet", [{"kind": "drive", "distance_m": 1.8288}]),
    ("turn right 45 degrees and beep",
     [{"kind": "turn", "angle_deg": -45.0}, {"kind": "buzzer", "buzzer_hz": 880,
                                             "duration_ms": 300}]),
    ("turn sixty degrees to the left", [{"kind": "turn", "angle_deg": 60.0}]),
    ("rotate right by a hundred and twenty degrees", [{"kind": "turn", "angle_deg": -120.0}]),
    ("rotate right by one hundred and twenty degrees", [{"kind": "turn", "angle_deg": -120.0}]),
    ("hang a right", [{"kind": "turn", "angle_deg": -90.0}]),
    ("take a right", [{"kind": "turn", "angle_deg": -90.0}]),
    ("turn the light's red", [{"kind": "led", "led_rgb": 0xFF0000}]),  # Whisper's apostrophe
    ("make a left at the next corner", None),  # a place the car cannot see: not a command
    ("make a left", [{"kind": "turn", "angle_deg": 90.0}]),
    ("make a u-turn", [{"kind": "turn", "angle_deg": 180.0}]),
    ("turn around", [{"kind": "turn", "angle_deg": 180.0}]),
    ("could you do a half turn to the right please", [{"kind": "turn", "angle_deg": -180.0}]),
    ("drive forward for 2 seconds", [{"kind": "drive", "linear_mps": 0.3, "duration_ms": 2000}]),
    ("would you mind driving backwards a bit",
     [{"kind": "drive", "distance_m": -0.2}]),
    ("Stop.", [{"kind": "stop"}]),
    ("whoa whoa, stop right now", [{"kind": "stop"}]),
    ("stop, stop, stop", [{"kind": "stop"}]),
    ("emergency stop", [{"kind": "estop"}]),
    ("don't move", [{"kind": "stop"}]),
    ("stop and turn left", [{"kind": "stop"}, {"kind": "turn", "angle_deg": 90.0}]),
    ("lights red", [{"kind": "led", "led_rgb": 0xFF0000}]),
    ("turn the lights off", [{"kind": "led", "led_rgb": 0}]),
    ("switch on the lights", [{"kind": "led", "led_rgb": 0xFFFFFF}]),
    ("honk the horn", [{"kind": "buzzer", "buzzer_hz": 880, "duration_ms": 300}]),
    ("前进一米然后左转",
     [{"kind": "drive", "distance_m": 1.0}, {"kind": "turn", "angle_deg": 90.0}]),
    ("右转三十度", [{"kind": "turn", "angle_deg": -30.0}]),
    ("往前走两米半", [{"kind": "drive", "distance_m": 2.5}]),
    ("麻烦你倒车一米二", [{"kind": "drive", "distance_m": -1.2}]),
    ("向左转一百八十度", [{"kind": "turn", "angle_deg": 180.0}]),
    ("掉个头吧", [{"kind": "turn", "angle_deg": 180.0}]),
    ("往后开两秒钟", [{"kind": "drive", "linear_mps": -0.3, "duration_ms": 2000}]),
    ("快停下来", [{"kind": "stop"}]),
    ("紧急停车", [{"kind": "estop"}]),
    ("别动", [{"kind": "stop"}]),
    ("把灯换成绿色", [{"kind": "led", "led_rgb": 0x00FF00}]),
    ("关灯", [{"kind": "led", "led_rgb": 0}]),
    ("把灯关掉", [{"kind": "led", "led_rgb": 0}]),
    ("把车灯打开", [{"kind": "led", "led_rgb": 0xFFFFFF}]),
    ("按一下喇叭", [{"kind": "buzzer", "buzzer_hz": 880, "duration_ms": 300}]),
]  # fmt: skip

# Questions, chit-chat, and sentences that mention moving or stopping without asking for it.
NOT_COMMANDS = [
    "",
    "What is the capital of France?",
    "Stop the story.",
    "move forward and dance",
    "How far can you drive forward?",
    "I stopped at the bakery this morning.",
    "Please stop talking about the weather.",
    "We should go forward with the merger.",
    "Can you turn left at the next junction in Paris?",
    "My dad drives three hours a day.",
    "What does turning right mean?",
    "The train went back to the depot.",
    "Go two meters",  # no direction: not guessed
    "go forward two",  # no unit: not guessed
    "drive forward ten",
    "Turn up the volume.",
    "How many centimeters are in a meter?",
    "Back in my day we walked.",
    "前进是什么意思",
    "他往左转就到学校了",
    "退一步海阔天空",
    "停车场在哪里",
    "昨天停电了",
    "前面有什么",
    "一米有多少厘米",
]


@pytest.mark.parametrize(("text", "want"), ISSUE + FORMS)
def test_each_phrasing_gives_exactly_its_command(text, want):
    assert parse_command(text) == want


@pytest.mark.parametrize("text", NOT_COMMANDS)
def test_anything_else_gives_no_command(text):
    assert parse_command(text) is None


def test_a_timed_drive_runs_at_the_speed_given():
    assert parse_command("drive backwards for three seconds", speed_mps=0.25) == [
        {"kind": "drive", "linear_mps": -0.25, "duration_ms": 3000}
    ]


def test_every_intent_the_grammar_gives_passes_the_strict_check():
    for text, want in ISSUE + FORMS:
        for intent in want or []:
            checked = check_intent(intent, Bounds())
            assert checked.intent is not None, (text, checked.refusal, checked.detail)


def test_a_misspelt_key_is_refused_not_defaulted():
    checked = check_intent({"kind": "drive", "distance_m": 1.0, "linear_mp": 0.9}, Bounds())
    assert checked.intent is None and "linear_mp" in checked.detail
    assert check_intent({"kind": "turn", "angle": 90}, Bounds()).intent is None
    assert check_intent({"kind": "drive", "distance_m": "1"}, Bounds()).intent is None


# --- one stop matcher: the grammar's stop words are text.stopwords' -------------------------

STOP_TEXTS = [
    *(f for lang in ("en", "zh") for f in (*STOP_FORMS[lang], *STOP_SPELLINGS[lang])),
    *(f for f in EMERGENCY_FORMS["zh"] if has_stop_word(f)),
    "emergency stop", "Emergency brake!", "e-stop", "E stop", "estop", "Hit the brakes!",
    "Stop the car!", "halt right now", "停下来", "停住", "停止", "停一下", "紧急停车", "紧急刹车",
    "紧急停止", "快停下",
]  # fmt: skip


@pytest.mark.parametrize("text", STOP_TEXTS)
def test_every_stop_form_and_spelling_of_the_matcher_is_a_stop_of_the_same_kind(text):
    assert parse_command(text) == [{"kind": stop_kind(text)}]


def test_the_lexicon_reads_its_stop_words_from_the_matcher():
    assert {"stop", "halt", "freeze", "brake", "brakes"} == lx.STOP_EN
    assert ("don't", "move") in lx.STOP_PHRASES_EN and ("do", "not", "move") in lx.STOP_PHRASES_EN
    assert set(STOP_FORMS["zh"]) - set(EMERGENCY_FORMS["zh"]) <= set(lx.STOP_ZH)
    assert all(has_stop_word(f) and stop_kind(f) == "stop" for f in lx.STOP_ZH)
    assert all(stop_kind(f) == "estop" for f in lx.ESTOP_ZH)
    assert set(lx.ESTOP_EN) == set(EMERGENCY_FORMS["en"])
