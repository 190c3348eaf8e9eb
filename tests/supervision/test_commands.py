"""The control API without sockets: dispatch against a stand-in arbiter."""

from __future__ import annotations

import json
from typing import Any

from supervision.commands import COMMANDS, dispatch
from supervision.config import WorkerSpec, parse_config


class FakeWorker:
    def __init__(self) -> None:
        self.state = "ready"
        self.spec = WorkerSpec(module="workers.echo")
        self.calls: list[str] = []

    def request_start(self) -> None:
        self.calls.append("start")

    def request_stop(self, now: float) -> None:
        self.calls.append("stop")
        self.state = "stopping"

    def request_restart(self, now: float) -> None:
        self.calls.append("restart")


class FakeArbiter:
    def __init__(self) -> None:
        self.config = parse_config({})
        self.workers: dict[str, Any] = {"echo": FakeWorker()}
        self.added: dict[str, Any] = {}
        self.quit = False

    def clock(self) -> float:
        return 0.0

    def status(self) -> list[dict[str, Any]]:
        return [{"name": "echo", "state": "ready"}]

    def bus_status(self) -> dict[str, Any]:
        return {"pid": 1, "standby_pid": None, "restarts": 0, "down": False}

    def add_workers(self, specs: dict[str, Any]) -> None:
        self.added.update(specs)

    def request_shutdown(self) -> None:
        self.quit = True


def call(arbiter: FakeArbiter, request: object) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(dispatch(arbiter, json.dumps(request).encode()))  # type: ignore[arg-type]
    return reply


def test_every_command_documents_its_wire_format() -> None:
    for name, command in COMMANDS.items():
        doc = type(command).__doc__ or ""
        assert f'"command": "{name}"' in doc and "CLI" in doc, name


def test_commands_reach_the_worker() -> None:
    arb = FakeArbiter()
    status = {"ok": True, "workers": arb.status(), "bus": arb.bus_status()}
    assert call(arb, {"command": "status"}) == status
    assert call(arb, {"command": "stop", "name": "echo"}) == {"ok": True, "state": "stopping"}
    call(arb, {"command": "start", "name": "echo"})
    call(arb, {"command": "restart", "name": "echo"})
    assert arb.workers["echo"].calls == ["stop", "start", "restart"]
    assert call(arb, {"command": "quit"}) == {"ok": True} and arb.quit


def test_add_validates_like_the_config() -> None:
    arb = FakeArbiter()
    ok = call(arb, {"command": "add", "yaml": "late: {module: workers.echo, depends_on: [echo]}"})
    assert ok == {"ok": True, "added": ["late"], "warnings": []}
    bad = call(arb, {"command": "add", "yaml": "x: {module: m, restart: {policy: sometimes}}"})
    assert not bad["ok"] and "workers.x.restart.policy" in bad["error"]


def test_add_checks_the_manifests_and_refuses_bad_settings_with_their_path() -> None:
    arb = FakeArbiter()
    bad = call(
        arb, {"command": "add", "yaml": "v: {module: workers.vad, settings: {hangover_ms: -5}}"}
    )
    assert not bad["ok"] and "workers.v.settings.hangover_ms" in bad["error"]
    assert "v" not in arb.added
    none = call(arb, {"command": "add", "yaml": "n: {module: tests.supervision.workers.relay}"})
    assert (
        not none["ok"]
        and "workers.n.manifest: module tests.supervision.workers.relay has no" in none["error"]
    )


def test_add_only_warns_about_a_topic_nothing_produces_yet() -> None:
    arb = FakeArbiter()
    reply = call(arb, {"command": "add", "yaml": "asr: {module: workers.asr}"})
    assert reply["ok"] and reply["added"] == ["asr"]
    assert any(
        "consumes vad.segment, which nothing on this bus produces" in w for w in reply["warnings"]
    )


def test_bad_requests_get_sentences_not_tracebacks() -> None:
    arb = FakeArbiter()
    assert "No worker named 'nope'" in call(arb, {"command": "stop", "name": "nope"})["error"]
    assert "Unknown command 'dance'" in call(arb, {"command": "dance"})["error"]
    assert "JSON object" in call(arb, [1, 2])["error"]
    raw = json.loads(dispatch(arb, b"{not json"))  # type: ignore[arg-type]
    assert not raw["ok"] and "not valid JSON" in raw["error"]
