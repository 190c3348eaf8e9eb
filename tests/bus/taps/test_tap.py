"""bus.taps.tap: readable and JSON lines, malformed frames shown, every tap explains itself."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bus.framing import decode
from bus.node import Node
from bus.taps.tap import format_json, format_line
from bus.taps.tapnode import Received
from schemas import AsrText, AudioFrame, CarIntent, LlmReply
from tests.bus.conftest import ProxyProc
from tests.bus.taps.tapsupport import received, start

TAP_COMMANDS = [
    "bus.taps.tap",
    "bus.taps.top",
    "bus.taps.record",
    "bus.taps.replay",
    "bus.taps.metrics",
]


def test_a_line_shows_topic_source_seq_age_trace_and_fields_with_bytes_as_length() -> None:
    item = received(
        "audio.frame",
        AudioFrame(pcm=bytes(640), index=3, capture_ns=1),
        source="mic",
        seq=4,
        trace="turn-1",
        age_ns=2_500_000,
    )
    line = format_line(item, decode(item.frames), lost_before=2)
    assert "audio.frame mic#4 age=2.50ms trace=turn-1 [lost 2 before]" in line
    assert "pcm=<640 B>" in line and "index=3" in line


def test_a_reply_shows_its_typed_intents_with_only_the_fields_that_were_set() -> None:
    intents = (CarIntent(kind="turn", angle_deg=90.0), CarIntent(kind="stop"))
    item = received("llm.reply", LlmReply(request_id="r", text="OK.", intents=intents))
    line = format_line(item, decode(item.frames))
    assert "intents=[{'kind': 'turn', 'angle_deg': 90.0}, {'kind': 'stop'}]" in line
    obj = json.loads(format_json(item, decode(item.frames)))
    assert obj["payload"]["intents"][0] == {"kind": "turn", "angle_deg": 90.0}
    assert obj["payload"]["ttft_ms"] == 0.0  # the payload's own fields are all there


def test_a_json_line_has_the_envelope_and_the_payload() -> None:
    item = received("asr.text", AsrText(text="你好", segment_id="s"), source="asr", seq=9)
    obj = json.loads(format_json(item, decode(item.frames)))
    assert obj["topic"] == "asr.text" and obj["source"] == "asr" and obj["seq"] == 9
    assert obj["payload"]["text"] == "你好"
    assert obj["age_us"] > 0


def test_a_malformed_frame_is_shown_not_fatal() -> None:
    item = Received(time.monotonic_ns(), [b"asr.text", b"\xc1"])
    err = ValueError("envelope is not valid msgpack")
    assert "!! malformed 'asr.text'" in format_line(item, err)
    assert json.loads(format_json(item, err))["error"] == "envelope is not valid msgpack"


@pytest.mark.slow
def test_the_tap_command_echoes_matching_messages_and_malformed_frames(proxy: ProxyProc) -> None:
    tap = start(["bus.taps.tap", "--json", "-n", "3", "asr.*"], proxy)
    with Node(proxy.config("asr"), signals=False) as node:
        node.publish("asr.text", AsrText(text="one", segment_id="s"))
        node.metric("ignored", 1.0)
        node._pub.send_multipart([b"asr.text", b"\x93garbage"])
        node.publish("asr.text", AsrText(text="two", segment_id="s"))
        out, err = tap.communicate(timeout=20)
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x.get("payload", {}).get("text") for x in lines] == ["one", None, "two"]
    assert "msgpack" in lines[1]["error"]
    assert "malformed=1" in err
    assert tap.returncode == 0


@pytest.mark.parametrize("module", TAP_COMMANDS)
def test_every_tap_command_has_a_help_that_explains_it(
    module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        importlib.import_module(module).main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: python -m " + module in out
    assert "runtime directory" in out  # how it finds the bus


def test_without_a_bus_a_tap_says_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "VOICEBUS_NODE"}
    env["VOICEBUS_RUNTIME_DIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "bus.taps.tap"], capture_output=True, text=True, timeout=30, env=env
    )
    assert out.returncode == 2
    assert "start the supervisor first" in out.stderr
