"""The exit-code contract: which codes are final, and how a worker's reason reaches status."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus import MemoryBus, Node
from supervision.exitcodes import ENV_REASON_FILE, cannot_run, read_reason, write_reason
from workers import runner


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


class NoModel(Exception):
    """The expected failure of the worker under test."""


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [
        (NoModel("No model at /m.gguf; put it there."), 2, "No model at /m.gguf; put it there."),
        (KeyError("boom"), 1, "KeyError: 'boom'"),
    ],
)
def test_run_worker_leaves_the_reason_of_its_exit_for_the_supervisor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, code: int, reason: str
) -> None:
    bus = MemoryBus()
    monkeypatch.setattr(runner.Node, "from_env", staticmethod(lambda: bus.node("w")))
    monkeypatch.setenv(ENV_REASON_FILE, str(tmp_path / "w"))

    def work(node: Node) -> None:
        raise error

    assert runner.run_worker(work, unavailable=(NoModel,)) == code
    assert read_reason(tmp_path / "w") == reason
