"""The exit-code contract: which codes are final, and how a worker's reason reaches status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bus import NodeConfig
from supervision.buslayout import BusLayout
from supervision.config import WorkerSpec
from supervision.exitcodes import ENV_REASON_FILE, cannot_run, read_reason, write_reason
from supervision.program import launch_for


def test_only_cannot_run_codes_are_final() -> None:
    assert [c for c in (-9, 0, 1, 2, 3, 126, 127) if cannot_run(c)] == [2, 126, 127]


def test_a_reason_is_one_short_line_and_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "reason"
    write_reason("not set: nothing happens")
    assert not path.exists()
    monkeypatch.setenv(ENV_REASON_FILE, str(path))
    write_reason("No device 'usb'.\n  Devices:\n 0 null" + " x" * 400)
    reason = read_reason(path)
    assert reason.startswith("No device 'usb'. Devices: 0 null x x")
    assert len(reason) == 300 and reason.endswith("...")
    assert read_reason(path) == ""  # removed once read


def test_the_worker_is_told_where_to_write_its_reason(tmp_path: Path) -> None:
    layout = BusLayout(tmp_path, "ipc://x/pub", "ipc://x/sub", "ipc://x/pub", "ipc://x/sub")
    launch = launch_for("asr", WorkerSpec(command="true"), None, layout, 500, 0)
    assert launch.env[ENV_REASON_FILE] == str(tmp_path / "reasons" / "asr")
    if "exit_reason_file" not in NodeConfig.model_fields:
        pytest.skip("this bus has no NodeConfig.exit_reason_file yet (the worker API adds it)")
    node = json.loads(launch.env["VOICEBUS_NODE"])
    assert node["exit_reason_file"] == str(tmp_path / "reasons" / "asr")
