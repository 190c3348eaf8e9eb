from schemas.rtos import CarIntent
from workers.dialog.commands import parse_command


def test_move_forward_one_meter_then_turn_left_is_two_intents():
    assert parse_command("Move forward one meter, then turn left.") == [
        CarIntent(kind="drive", distance_m=1.0),
        CarIntent(kind="turn", angle_deg=90.0),
    ]


def test_units_numbers_and_directions():
    assert parse_command("go back 50 centimeters") == [CarIntent(kind="drive", distance_m=-0.5)]
    assert parse_command("Go back two and a half meters.") == [
        CarIntent(kind="drive", distance_m=-2.5)
    ]
    assert parse_command("turn right 45 degrees and beep") == [
        CarIntent(kind="turn", angle_deg=-45.0),
        CarIntent(kind="buzzer", buzzer_hz=880, duration_ms=300),
    ]
    assert parse_command("drive forward for 2 seconds") == [
        CarIntent(kind="drive", linear_mps=0.3, duration_ms=2000)
    ]
    assert parse_command("Stop.") == [CarIntent(kind="stop")]
    assert parse_command("lights red") == [CarIntent(kind="led", led_rgb=0xFF0000)]


def test_chinese_commands():
    assert parse_command("前进一米然后左转") == [
        CarIntent(kind="drive", distance_m=1.0),
        CarIntent(kind="turn", angle_deg=90.0),
    ]
    assert parse_command("右转三十度") == [CarIntent(kind="turn", angle_deg=-30.0)]
    assert parse_command("停车") == [CarIntent(kind="stop")]


def test_anything_else_goes_to_the_llm():
    for text in ("What is the capital of France?", "Stop the story.", "move forward and dance", ""):
        assert parse_command(text) is None
