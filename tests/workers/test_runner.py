"""run_worker: the exit code tells the supervisor how the worker ended; the node is closed."""

from __future__ import annotations

import pytest

from bus import MemoryBus, Node
from workers import runner


class NoDevice(Exception):
    """An expected failure."""


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> MemoryBus:
    bus = MemoryBus()
    monkeypatch.setattr(runner.Node, "from_env", staticmethod(lambda: bus.node("w")))
    return bus


def test_the_body_s_code_or_zero_is_the_exit_code_and_the_node_is_closed(bus: MemoryBus) -> None:
    assert runner.run_worker(lambda node: None) == 0
    assert runner.run_worker(lambda node: 3) == 3
    assert bus.nodes == []


def test_an_expected_failure_is_one_line_and_exit_2(
    bus: MemoryBus, caplog: pytest.LogCaptureFixture
) -> None:
    def work(node: Node) -> None:
        raise NoDevice("no input device 'usb'; devices: 0 null")

    assert runner.run_worker(work, unavailable=(NoDevice,)) == 2
    assert "worker_unavailable error=no input device 'usb'" in caplog.text
    assert "Traceback" not in caplog.text and bus.nodes == []


def test_an_unexpected_error_logs_the_traceback_and_exits_1(
    bus: MemoryBus, caplog: pytest.LogCaptureFixture
) -> None:
    def work(node: Node) -> None:
        raise KeyError("boom")

    assert runner.run_worker(work, unavailable=(NoDevice,)) == 1
    assert "worker_failed" in caplog.text and "KeyError" in caplog.text
    assert bus.nodes == []
