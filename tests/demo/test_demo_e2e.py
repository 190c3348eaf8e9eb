"""The scripted conversation end to end through real processes (what ``make run`` does).

Every line gets its turn: the greeting wakes the assistant, the question is answered by the LLM,
the command moves the car (two commands, one after the other, acknowledged by the RT app), the
device question is answered from telemetry, and the barge-in line cuts the story short.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)
def test_scripted_conversation_through_the_whole_pipeline(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "demo", "--out", str(tmp_path), "--timeout-s", "800"],
        cwd=ROOT, capture_output=True, text=True, timeout=880,
    )  # fmt: skip
    print(res.stdout[-6000:])
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    turns = json.loads((tmp_path / "turns.json").read_text())
    outcomes = [t["metrics"].get("outcome") for t in turns if t["metrics"]]
    assert "command" in outcomes and "answered" in outcomes
    command = next(t for t in turns if t["commands"])
    assert [c.split()[1] for c in command["commands"]] == ["drive", "turn"]
    assert any("done" in a for a in command["acks"])
    assert any(t["barged_in"] for t in turns)  # the story was cut (aborted if still generating)
    assert "Car at the end: idle" in res.stdout or "Car at the end: stopped" in res.stdout
    assert list((tmp_path / "replies").glob("*.wav"))
