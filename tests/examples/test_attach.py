"""Both examples attached at run time to a live supervisor with ``python supervisor.py add``.

One supervisor (empty config, ipc bus in a temporary runtime directory) serves the module. Each
example is added from its ``worker.yaml``, must publish what it promises, is killed with
SIGKILL and must come back (restart policy) on its pinned cores. A worker that registers a core
topic name is refused at start with a clear error.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import spotter
import state_led

from bus import Envelope, Node, NodeConfig, payload_as
from bus.nodeconfig import BUS_FILE
from schemas import AsrText, VadState

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (ROOT / "supervisor.py").exists(), reason="no supervisor.py yet"),
]


@dataclass
class Supervisor:
    """A running ``python supervisor.py CONFIG`` and its runtime directory."""

    proc: subprocess.Popen[bytes]
    run_dir: Path
    log: Path
    env: dict[str, str]

    def cli(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "supervisor.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if ok:
            assert done.returncode == 0, f"{args}: {done.stderr}\n{self.tail()}"
        return done

    def status(self, name: str) -> dict[str, Any]:
        rows = json.loads(self.cli("status", "--json").stdout)
        (row,) = [r for r in rows if r["name"] == name]
        return dict(row)

    def wait_for(self, name: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = self.status(name)
            if done(row):
                return row
            time.sleep(0.2)
        pytest.fail(f"{name} never reached the expected state: {row}\n{self.tail()}")

    def probe(self) -> Node:
        data = json.loads((self.run_dir / BUS_FILE).read_text())
        name = f"probe-{uuid.uuid4().hex[:6]}"
        return Node(NodeConfig.parse({**data, "name": name}), signals=False)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def supervisor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    tmp = tmp_path_factory.mktemp("attach")
    config = tmp / "empty.yaml"
    config.write_text("workers: {}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBUS_")}
    env["VOICEBUS_RUNTIME_DIR"] = str(tmp / "run")
    log = tmp / "supervisor.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "supervisor.py", str(config)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    sup = Supervisor(proc, tmp / "run", log, env)
    try:
        deadline = time.monotonic() + 60
        while not (sup.run_dir / BUS_FILE).is_file() or not (sup.run_dir / "control").exists():
            assert proc.poll() is None, f"the supervisor ended\n{sup.tail()}"
            assert time.monotonic() < deadline, f"the supervisor did not come up\n{sup.tail()}"
            time.sleep(0.1)
        yield sup
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, sup.tail()


def exchange(
    probe: Node, send: Callable[[int], None], want: Callable[[Envelope], bool]
) -> Envelope:
    """Call ``send(i)`` every half second until a message satisfying ``want`` arrives."""
    deadline = time.monotonic() + 60
    i = 0
    while time.monotonic() < deadline:
        send(i)
        i += 1
        end = time.monotonic() + 0.5
        while (msg := probe.poll(max(0.0, end - time.monotonic()))) is not None:
            if want(msg):
                return msg
    pytest.fail("the worker did not answer")


def _spots(probe: Node) -> spotter.KeywordSpotted:
    turn = uuid.uuid4().hex[:8]

    def send(_: int) -> None:
        heard = AsrText(text="Please turn the LIGHTS on.", segment_id=turn)
        probe.publish("asr.text", heard, trace=turn)

    msg = exchange(probe, send, lambda m: m.source == "spotter" and m.trace == turn)
    spotted = payload_as(msg, spotter.KeywordSpotted)
    assert (spotted.keyword, spotted.segment_id) == ("lights on", turn)
    return spotted


def _kill_and_see_restarted(sup: Supervisor, name: str) -> dict[str, Any]:
    before = sup.wait_for(name, lambda r: r["state"] == "ready")
    assert os.sched_getaffinity(before["pid"]) == set(before["cpus"])  # pinned as configured
    os.kill(before["pid"], signal.SIGKILL)
    after = sup.wait_for(
        name, lambda r: r["state"] == "ready" and r["restarts"] == before["restarts"] + 1
    )
    assert after["pid"] != before["pid"]
    assert after["last_exit"] == -signal.SIGKILL
    assert os.sched_getaffinity(after["pid"]) == set(after["cpus"])  # and pinned again
    return after


def test_keyword_spotter_is_added_publishes_and_is_restarted(supervisor: Supervisor) -> None:
    out = supervisor.cli("add", "examples/keyword_spotter/worker.yaml").stdout
    assert "added: spotter" in out
    with supervisor.probe() as probe:
        probe.subscribe("ext.spotter.keyword")
        _spots(probe)
        _kill_and_see_restarted(supervisor, "spotter")
        _spots(probe)


def _shows_listening(probe: Node) -> None:
    def send(i: int) -> None:
        # Alternate start and end of speech so every round changes the indicator.
        vad = VadState(speaking=i % 2 == 0, segment_id="t", at_ns=time.monotonic_ns())
        probe.publish("vad.state", vad, trace="t")

    def want(m: Envelope) -> bool:
        return m.source == "state_led" and payload_as(m, state_led.LedShown).state == "listening"

    msg = exchange(probe, send, want)
    assert payload_as(msg, state_led.LedShown).cause == "vad.state"


def test_state_led_is_added_shows_the_state_and_is_restarted(supervisor: Supervisor) -> None:
    out = supervisor.cli("add", "examples/state_led/worker.yaml").stdout
    assert "added: state_led" in out
    with supervisor.probe() as probe:
        probe.subscribe("ext.state_led.shown")
        _shows_listening(probe)
        _kill_and_see_restarted(supervisor, "state_led")
        _shows_listening(probe)
    assert "led: ● listening" in supervisor.log.read_text()  # what the terminal shows


def test_a_worker_registering_a_core_topic_is_refused_with_a_clear_error(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    (tmp_path / "clash.py").write_text(
        "from bus import Message, register_topic\n\n\n"
        "class Fake(Message):\n    text: str\n\n\n"
        'register_topic("asr.text", Fake)\n'
    )
    spec = {"module": "clash", "cwd": str(tmp_path), "restart": "never"}
    snippet = json.dumps({"clash": {**spec, "manifest": {"kind": "source"}}})
    supervisor.cli("add", snippet)
    row = supervisor.wait_for("clash", lambda r: r["state"] in ("exited", "failed"))
    assert row["last_exit"] == 1
    assert (
        "RegistryError: Topic 'asr.text' is a core voicebus topic; topics registered outside "
        "voicebus must be named 'ext.<yourname>.<event>'." in supervisor.log.read_text()
    )
