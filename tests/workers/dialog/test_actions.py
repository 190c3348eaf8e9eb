from schemas.rtos import CarIntent
from workers.dialog.actions import Bounds, check_intent, describe, to_commands

B = Bounds()


def test_bounds_refuse_with_a_reason_and_fill_the_drive_speed():
    assert check_intent(CarIntent(kind="drive", distance_m=50.0), B).refusal.startswith("50 metres")
    assert check_intent(CarIntent(kind="drive", linear_mps=2.0, duration_ms=500), B).intent is None
    assert check_intent(CarIntent(kind="turn", angle_deg=720.0), B).intent is None
    assert check_intent(CarIntent(kind="drive"), B).intent is None
    ok = check_intent(CarIntent(kind="drive", distance_m=-1.0), B).intent
    assert ok == CarIntent(kind="drive", distance_m=-1.0, linear_mps=-0.3)


def test_a_checked_intent_in_bounds_is_kept_as_it_is():
    turn = CarIntent(kind="turn", angle_deg=90.0)
    assert check_intent(turn, B).intent is turn


def test_commands_are_numbered_and_carry_the_source():
    cmds = to_commands(
        [
            CarIntent(kind="drive", distance_m=0.6, linear_mps=0.3),
            CarIntent(kind="turn", angle_deg=90.0),
        ],
        B,
        first_id=7,
        source="dialog:t1",
    )
    assert [c.cmd_id for c in cmds] == [7, 8]
    assert {c.ttl_ms for c in cmds} == {500} and cmds[1].source == "dialog:t1"
    assert (cmds[0].kind, cmds[0].distance_m, cmds[1].angle_deg) == ("drive", 0.6, 90.0)


def test_descriptions_in_both_languages():
    assert describe(CarIntent(kind="drive", distance_m=1.0)) == "moving forward 1 metre"
    assert describe(CarIntent(kind="turn", angle_deg=90.0)) == "turning left"
    assert describe(CarIntent(kind="turn", angle_deg=-30.0), "zh") == "右转30度"
