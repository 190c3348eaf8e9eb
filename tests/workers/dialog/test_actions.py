import json

from workers.dialog.actions import Bounds, check_intent, describe, intents_from_json, to_commands

B = Bounds()


def test_a_valid_llm_intent_is_kept_and_a_list_gives_several():
    intents, err = intents_from_json('{"kind": "turn", "angle_deg": 90}')
    assert err == "" and intents == [{"kind": "turn", "angle_deg": 90}]
    many, err = intents_from_json(
        json.dumps([{"kind": "stop"}, {"name": "rtos_command", "arguments": {"kind": "estop"}}])
    )
    assert err == "" and [i["kind"] for i in many] == ["stop", "estop"]


def test_garbled_intents_give_an_error_and_nothing_else():
    for bad in (
        '{"kind": "fly"}',
        "{not json",
        '{"kind": "drive", "speed": 3}',
        '[{"kind": "stop"}, 3]',
    ):
        intents, err = intents_from_json(bad)
        assert intents == [] and err


def test_bounds_refuse_with_a_reason_and_fill_the_drive_speed():
    assert check_intent({"kind": "drive", "distance_m": 50.0}, B).refusal.startswith("50 metres")
    assert check_intent({"kind": "drive", "linear_mps": 2.0, "duration_ms": 500}, B).intent is None
    assert check_intent({"kind": "turn", "angle_deg": 720.0}, B).intent is None
    assert check_intent({"kind": "drive"}, B).intent is None
    ok = check_intent({"kind": "drive", "distance_m": -1.0}, B).intent
    assert ok == {"kind": "drive", "distance_m": -1.0, "linear_mps": -0.3}


def test_commands_are_numbered_and_carry_the_source():
    cmds = to_commands(
        [
            {"kind": "drive", "distance_m": 0.6, "linear_mps": 0.3},
            {"kind": "turn", "angle_deg": 90.0},
        ],
        B,
        first_id=7,
        source="dialog:t1",
    )
    assert [c.cmd_id for c in cmds] == [7, 8]
    assert {c.ttl_ms for c in cmds} == {500} and cmds[1].source == "dialog:t1"


def test_descriptions_in_both_languages():
    assert describe({"kind": "drive", "distance_m": 1.0}) == "moving forward 1 metre"
    assert describe({"kind": "turn", "angle_deg": 90.0}) == "turning left"
    assert describe({"kind": "turn", "angle_deg": -30.0}, "zh") == "右转30度"
