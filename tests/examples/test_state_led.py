"""The state LED example: its state machine, its outputs and its loop on the in-memory bus."""

from __future__ import annotations

import io
from pathlib import Path

import led_outputs
import pytest
import state_led
from indicator import Indicator
from pydantic import ValidationError
from state_led_manifest import MANIFEST

from bus import MemoryBus, payload_as
from schemas import DialogState, LlmDelta, SpeakerReport, TtsAudio, VadState
from tests.fakeclock import FakeClock
from tests.workers.cannot_run import cannot_run


def _feed(ind: Indicator, events: list[tuple[str, object]]) -> list[str | None]:
    return [ind.on_event(topic, payload, float(i)) for i, (topic, payload) in enumerate(events)]


def test_a_turn_goes_listening_thinking_speaking_idle() -> None:
    ind = Indicator()
    changes = _feed(
        ind,
        [
            ("vad.state", VadState(speaking=True, segment_id="t", at_ns=1)),
            ("vad.state", VadState(speaking=False, segment_id="t", at_ns=2)),
            ("llm.delta", object()),
            ("tts.audio", object()),
            ("llm.delta", object()),
            ("speaker.report", SpeakerReport(turn_id="t", event="started")),
            ("speaker.report", SpeakerReport(turn_id="t", event="finished")),
        ],
    )
    assert changes == ["listening", "thinking", None, "speaking", None, None, "idle"]


def test_dialog_state_is_followed_and_acting_shows_as_thinking() -> None:
    ind = Indicator()
    assert ind.on_event("dialog.state", DialogState(state="acting"), 0.0) == "thinking"
    assert ind.on_event("dialog.state", DialogState(state="error"), 1.0) == "error"


def test_a_cut_playback_goes_idle() -> None:
    ind = Indicator()
    ind.on_event("tts.audio", object(), 0.0)
    assert ind.on_event("speaker.report", SpeakerReport(turn_id="t", event="cut"), 1.0) == "idle"


def test_no_event_for_idle_after_s_falls_back_to_idle() -> None:
    ind = Indicator(idle_after_s=5.0)
    ind.on_event("llm.delta", object(), 10.0)
    assert ind.tick(14.9) is None
    assert ind.tick(15.0) == "idle"
    assert ind.tick(30.0) is None


def test_terminal_led_prints_one_line_per_state() -> None:
    out = io.StringIO()
    led = led_outputs.TerminalLed(out)
    led.show("listening")
    led.show("idle")
    assert out.getvalue() == "led: ● listening\nled: ○ idle\n"


def test_sysfs_led_writes_the_colours_of_the_state(tmp_path: Path) -> None:
    paths = {c: tmp_path / c for c in ("red", "green", "blue")}
    for p in paths.values():
        p.write_text("0\n")
    led = led_outputs.SysfsLed(paths, max_value=255)
    led.show("thinking")
    assert {c: p.read_text() for c, p in paths.items()} == {
        "red": "255\n",
        "green": "255\n",
        "blue": "0\n",
    }
    led.close()
    assert {p.read_text() for p in paths.values()} == {"0\n"}


def test_sysfs_led_names_a_missing_file_and_how_to_export_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Export the GPIO"):
        led_outputs.SysfsLed({"red": tmp_path / "nope"})


def test_sysfs_output_without_paths_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs a 'sysfs' map"):
        state_led.Settings(output="sysfs")


def test_handle_shows_and_publishes_each_change() -> None:
    bus = MemoryBus()
    pipeline, probe, node = bus.node("pipeline"), bus.node("probe"), bus.node("led")
    node.subscribe("vad.state", "dialog.state", "llm.delta", "tts.audio", "speaker.report")
    probe.subscribe("ext.state_led.shown")
    pipeline.publish("vad.state", VadState(speaking=True, segment_id="t", at_ns=1), trace="t")
    pipeline.publish("llm.delta", LlmDelta(request_id="t", index=0, text="Hi"), trace="t")
    pipeline.publish("tts.audio", TtsAudio(pcm=b"\0\0", sample_rate_hz=16000, turn_id="t", index=0))
    out = io.StringIO()
    led, ind = led_outputs.TerminalLed(out), Indicator()
    while (msg := node.poll()) is not None:
        state_led.handle(node, ind, led, msg, 0.0)
    shown = [(m.trace, payload_as(m, state_led.LedShown)) for m in probe]
    assert [(tr, s.state, s.cause) for tr, s in shown] == [
        ("t", "listening", "vad.state"),
        ("t", "thinking", "llm.delta"),
        ("", "speaking", "tts.audio"),
    ]
    assert out.getvalue().splitlines() == ["led: ● listening", "led: ● thinking", "led: ● speaking"]


def test_the_loop_shows_the_activity_and_falls_back_to_idle_on_its_tick(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = FakeClock()
    bus = MemoryBus(clock=clock, sleep=clock.sleep)
    node = bus.node("led", {"idle_after_s": 2.0}, manifest=MANIFEST)
    pipeline, probe = bus.node("pipeline"), bus.node("probe")
    probe.subscribe("ext.state_led.shown")
    pipeline.publish("vad.state", VadState(speaking=True, segment_id="t", at_ns=1), trace="t")
    start = clock.now_ns
    clock.run_for(5.0)  # nothing more happens
    state_led.run(node)
    shown = [(payload_as(m, state_led.LedShown), m.ts_ns) for m in probe]
    assert [(s.state, s.cause) for s, _ in shown] == [
        ("listening", "vad.state"),
        ("idle", "timeout"),
    ]
    # the fall back comes on the first tick after idle_after_s
    assert 2.0 <= (shown[1][1] - start) / 1e9 <= 2.0 + state_led.TICK_S
    assert capsys.readouterr().out.splitlines()[-1] == "led: ○ idle"


@pytest.mark.slow
def test_the_led_with_sysfs_output_and_no_files_cannot_run_and_says_why(tmp_path: Path) -> None:
    folder = Path(state_led.__file__).parent
    reason = cannot_run("state_led", {"output": "sysfs"}, tmp_path, cwd=folder)
    assert "output 'sysfs' needs a 'sysfs' map of colour to value file" in reason
