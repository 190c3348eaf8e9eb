"""run_worker: the exit code tells the supervisor how the worker ended, with a one-line reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from bus import BusNode, Manifest, MemoryBus, NodeConfig
from schemas import AsrText, VadSegment
from workers import runner


class NoDevice(Exception):
    """An expected failure."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    overlap_ms: int = Field(default=300, ge=0)


MANIFEST = Manifest(
    kind="stage",
    summary="A test worker.",
    consumes={"vad.segment": VadSegment},
    produces={"asr.text": AsrText},
    settings=Settings,
)


class World:
    """``VOICEBUS_NODE`` as the supervisor hands it, and memory nodes instead of sockets."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
        self.bus = MemoryBus()
        self.reason_file = tmp / "w.exit"
        self.monkeypatch = monkeypatch
        self.set_settings({})

        def node(config: NodeConfig, **kw: Any) -> BusNode:
            return self.bus.node(config.name, config.settings, manifest=kw["manifest"])

        monkeypatch.setattr(runner, "Node", node)

    def set_settings(self, settings: dict[str, Any]) -> None:
        node = {
            "name": "w",
            "pub_endpoint": "ipc:///nowhere/pub",
            "sub_endpoint": "ipc:///nowhere/sub",
            "settings": settings,
            "exit_reason_file": str(self.reason_file),
        }
        self.monkeypatch.setenv("VOICEBUS_NODE", json.dumps(node))

    def reason(self) -> str:
        return self.reason_file.read_text()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> World:
    return World(monkeypatch, tmp_path)


def test_the_body_s_code_or_zero_is_the_exit_code_and_the_node_is_closed(world: World) -> None:
    assert runner.run_worker(MANIFEST, lambda node: None) == 0
    assert runner.run_worker(MANIFEST, lambda node: 3) == 3
    assert world.bus.nodes == [] and not world.reason_file.exists()


def test_the_node_is_subscribed_by_the_manifest_before_the_body_runs(world: World) -> None:
    def work(node: BusNode) -> None:
        assert node.manifest is MANIFEST
        node.publish("asr.text", AsrText(text="x", segment_id="s"))  # declared

    assert runner.run_worker(MANIFEST, work) == 0


def test_a_cannot_run_error_exits_2_with_its_sentence_on_one_line(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    def work(node: BusNode) -> None:
        raise NoDevice("No input device matches 'usb'.\nThe input devices are:\n  0 null")

    assert runner.run_worker(MANIFEST, work, cannot_run=(NoDevice,)) == 2
    reason = "No input device matches 'usb'. The input devices are: 0 null"
    assert world.reason() == reason + "\n"
    assert f"worker_cannot_run reason={reason}" in caplog.text
    assert "Traceback" not in caplog.text and world.bus.nodes == []


def test_invalid_settings_exit_2_naming_the_key_before_the_body_runs(world: World) -> None:
    world.set_settings({"overlap_ms": -5})
    ran = []
    assert runner.run_worker(MANIFEST, lambda node: ran.append(1)) == 2
    assert ran == []
    assert "settings.overlap_ms: Input should be greater than or equal to 0" in world.reason()


def test_a_config_error_raised_by_the_body_exits_2(world: World) -> None:
    def work(node: BusNode) -> None:
        node.publish("llm.delta", AsrText(text="x", segment_id="s"))  # not declared: ManifestError

    assert runner.run_worker(MANIFEST, work) == 2
    assert "publishes 'llm.delta', which its manifest does not declare" in world.reason()


def test_an_unreadable_node_config_exits_2(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("VOICEBUS_NODE", "{not json")
    assert runner.run_worker(MANIFEST, lambda node: None) == 2
    assert "worker_cannot_run reason=VOICEBUS_NODE is not valid JSON" in caplog.text


def test_an_unexpected_error_logs_the_traceback_and_exits_1(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    def work(node: BusNode) -> None:
        raise KeyError("boom")

    assert runner.run_worker(MANIFEST, work, cannot_run=(NoDevice,)) == 1
    assert "worker_failed" in caplog.text and "Traceback" in caplog.text
    assert world.reason() == "KeyError: 'boom'\n" and world.bus.nodes == []
