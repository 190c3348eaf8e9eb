"""The one path from a transcript to commands: grammar, repair, a lost amount, the LLM's intent."""

import itertools
import json
import typing

import pytest

from schemas.llm import LlmReply
from schemas.rtos import CarIntent
from text.intent_answer import KIND_FIELDS
from workers.dialog.actions import strict_intent
from workers.dialog.evidence import evidence, support
from workers.dialog.settings import DialogSettings
from workers.dialog.understanding import conclude, intent_request, interpret

S = DialogSettings()

# Sentences that mention moving or stopping without asking for it (our own, not the corpus').
NEAR_MISSES = [
    "I stopped by the shop on my way home.",
    "We should go forward with the merger.",
    "Can you turn left at the next junction in Paris?",
    "My dad drives three hours a day.",
    "How do you say turn right in German?",
    "The bus went back to the depot.",
    "What does go back two meters mean?",
    "I turned left at the school.",
    "Turn up the music.",
    "He backed up the files yesterday.",
    "Is it far to drive two miles?",
    "Back in my day we walked ten miles.",
    "Spinning classes are fun.",
    "前进是什么意思",
    "他往左转就到学校了",
    "退一步海阔天空",
    "我昨天往前走了两公里",
    "right back,",  # "I'll be right back" with its start lost: "right" is "just", not a side
    "right now",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_a_near_miss_is_a_question_for_the_llm_never_a_command_or_an_intent_request(text):
    assert interpret(text, S).kind == "chat"


def test_a_misheard_command_is_repaired_and_understood():
    u = interpret("Dry forward two meters.", S)
    assert u.kind == "commands" and u.source == "repair"
    assert u.intents == ({"kind": "drive", "distance_m": 2.0},) and u.heard != u.text


def test_a_lost_amount_is_refused_never_guessed():
    for heard in ("Go back at the meter.", "drive forward the meters", "turn left the degrees"):
        u = interpret(heard, S)
        assert (u.kind, u.refusal, u.intents) == ("refuse", "no_amount", ())


def test_an_unparsed_command_like_utterance_asks_the_llm_under_a_narrowed_schema():
    u = interpret("forward drive two meters and back one meter", S)
    assert u.kind == "ask"
    req = intent_request(u, S, "t1")
    assert req.temperature == 0 and not req.tools and req.messages[-1].content == u.text
    schema = json.loads(req.intent_schema)
    (items,) = [a for a in schema["anyOf"] if a.get("type") == "array"]
    (drive,) = items["items"]["anyOf"]
    assert drive["properties"]["distance_m"] == {"enum": [-1.0, 2.0]}  # nearest direction signs
    assert items["maxItems"] == 2


def _reply(*intents: CarIntent, error: str = "") -> LlmReply:
    return LlmReply(request_id="t1", text="", intents=intents, intent_error=error)


def test_the_llm_intent_is_acted_on_only_when_the_words_support_it():
    u = interpret("forward drive two meters and back one meter", S)
    good = (CarIntent(kind="drive", distance_m=2.0), CarIntent(kind="drive", distance_m=-1.0))
    assert conclude(u, _reply(*good), S).kind == "commands"
    wrong_sign = (CarIntent(kind="drive", distance_m=2.0), CarIntent(kind="drive", distance_m=1.0))
    twice = (CarIntent(kind="drive", distance_m=2.0), CarIntent(kind="drive", distance_m=2.0))
    swapped = tuple(reversed(good))
    made_up = (CarIntent(kind="drive", distance_m=0.5),)
    turn = (CarIntent(kind="turn", angle_deg=90.0),)
    for bad in (wrong_sign, twice, swapped, made_up, turn):
        v = conclude(u, _reply(*bad), S)
        assert (v.kind, v.refusal, v.intents) == ("refuse", "garbled", ()), bad
    for none in (_reply(), _reply(error="not JSON")):
        assert conclude(u, none, S).refusal == "garbled"
    failed = LlmReply(request_id="t1", text="", finish_reason="error", error="boom")
    assert conclude(u, failed, S).refusal == "llm_failed"


_ASKS = [
    "forward drive two meters and back one meter",
    "left ninety degrees turn",
    "back a little back",
    "往前 往后 两米",
    "forward one meter and left",
]


@pytest.mark.parametrize(
    "text", ["and forward.", "go to move forward yet", "forward.", "move forward yet, okay"]
)
def test_a_fragment_or_a_garbled_line_naming_no_amount_never_moves_the_car(text):
    # Heard in the understanding bench: "I'm bored." (espeak, babble) as "and forward.", and
    # "Don't move forward yet." as "go to move forward yet"; both drove the default step.
    u = interpret(text, S)
    assert u.kind != "commands"
    if u.kind == "ask":
        for answer in _adversarial_answers():
            v = conclude(u, _reply(*answer), S)
            assert not any(strict_intent(i).kind == "drive" for i in v.intents), answer


def _adversarial_answers():
    """Every small answer a model could give: each kind with a few amounts, alone and in pairs."""
    singles = [CarIntent(kind="stop"), CarIntent(kind="estop")]
    singles += [
        CarIntent(kind="drive", distance_m=d) for d in (2.0, -2.0, 1.0, -1.0, 0.5, -0.5, 3.0)
    ]
    singles += [CarIntent(kind="turn", angle_deg=a) for a in (90.0, -90.0, 180.0, 45.0, 360.0)]
    singles += [CarIntent(kind="led", led_rgb=0xFF0000), CarIntent(kind="buzzer", buzzer_hz=880,
                                                                   duration_ms=300)]  # fmt: skip
    return [(x,) for x in singles] + list(itertools.permutations(singles, 2))


@pytest.mark.parametrize("text", _ASKS)
def test_whatever_the_llm_answers_the_car_only_gets_commands_whose_numbers_were_said(text):
    u = interpret(text, S)
    assert u.kind == "ask"
    said = {(s["kind"], tuple(sorted(s.items()))) for s in support(evidence(u.text), 0.3).slots}
    for answer in _adversarial_answers():
        v = conclude(u, _reply(*answer), S)
        if v.kind == "commands":
            for i in v.intents:
                plain = strict_intent(i).model_dump(exclude_defaults=True)
                assert (plain["kind"], tuple(sorted(plain.items()))) in said


def test_the_schema_of_the_answer_is_derived_from_car_intent():
    for kind, alternatives in KIND_FIELDS.items():
        assert kind in typing.get_args(CarIntent.model_fields["kind"].annotation)
        for fields in alternatives:
            assert set(fields) <= set(CarIntent.model_fields)
    assert "reset" not in KIND_FIELDS  # a misheard word never releases an emergency stop


def test_the_intent_path_can_be_turned_off():
    s = DialogSettings(intent_llm=False)
    assert interpret("forward drive two meters and back one meter", s).kind == "chat"
    assert interpret("Dry forward two meters.", DialogSettings(repair=False)).kind != "commands"


def test_the_host_config_biases_the_recogniser_with_the_dialog_s_command_words():
    from pathlib import Path

    from supervision.config import load_config
    from text.lexicon import HOTWORDS_EN, VOCABULARY_EN
    from workers.asr.settings import AsrSettings

    host = Path(__file__).resolve().parents[3] / "configs" / "host.yaml"
    asr = AsrSettings.model_validate(load_config(host).workers["asr"].settings)
    assert asr.whisper.hotwords == {"en": HOTWORDS_EN}
    assert set(HOTWORDS_EN.replace(",", " ").split()) <= VOCABULARY_EN
