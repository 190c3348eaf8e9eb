from workers.dialog.commands import parse_command


def test_move_forward_one_meter_then_turn_left_is_two_intents():
    assert parse_command("Move forward one meter, then turn left.") == [
        {"kind": "drive", "distance_m": 1.0},
        {"kind": "turn", "angle_deg": 90.0},
    ]


def test_units_numbers_and_directions():
    assert parse_command("go back 50 centimeters") == [{"kind": "drive", "distance_m": -0.5}]
    assert parse_command("Go back two and a half meters.") == [
        {"kind": "drive", "distance_m": -2.5}
    ]
    assert parse_command("turn right 45 degrees and beep") == [
        {"kind": "turn", "angle_deg": -45.0},
        {"kind": "buzzer", "buzzer_hz": 880, "duration_ms": 300},
    ]
    assert parse_command("drive forward for 2 seconds") == [
        {"kind": "drive", "linear_mps": 0.3, "duration_ms": 2000}
    ]
    assert parse_command("Stop.") == [{"kind": "stop"}]
    assert parse_command("lights red") == [{"kind": "led", "led_rgb": 0xFF0000}]


def test_chinese_commands():
    assert parse_command("前进一米然后左转") == [
        {"kind": "drive", "distance_m": 1.0},
        {"kind": "turn", "angle_deg": 90.0},
    ]
    assert parse_command("右转三十度") == [{"kind": "turn", "angle_deg": -30.0}]
    assert parse_command("停车") == [{"kind": "stop"}]


def test_anything_else_goes_to_the_llm():
    for text in ("What is the capital of France?", "Stop the story.", "move forward and dance", ""):
        assert parse_command(text) is None
