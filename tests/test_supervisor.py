"""The supervisor with real processes: restarts, liveness, give-up, dependencies, late joiners.

Each test starts ``python supervisor.py CONFIG`` with a private runtime directory and stops it
with SIGINT, checking that no process and no socket file is left (see ``harness.py``).
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import psutil
import pytest

from bus.node import Node
from schemas.asr import AsrText
from schemas.system import LifecycleEvent, Metric
from tests.supervision.harness import PROBE, SupervisorProc, worker

RELAY = "tests.supervision.workers.relay"
CRASH = "tests.supervision.workers.crash"
NOMODEL = "tests.supervision.workers.nomodel"

pytestmark = pytest.mark.slow


def lifecycle(probe: Node, timeout_s: float = 0.0) -> list[tuple[int, LifecycleEvent]]:
    """``(ts_ns, event)`` of the lifecycle events waiting at ``probe``."""
    out = []
    while (msg := probe.poll(timeout_s)) is not None:
        if isinstance(msg.payload, LifecycleEvent):
            out.append((msg.ts_ns, msg.payload))
    return out


@pytest.mark.parametrize("standby", [False, True], ids=["fresh-process", "standby"])
def test_kill_9_worker_is_restarted_and_ready_again_while_others_never_notice(
    standby: bool,
) -> None:
    config = {
        "heartbeat_ms": 200,
        "workers": {
            "victim": worker("workers.echo", restart="always", standby=standby),
            "bystander": worker(RELAY),
        },
        "external": PROBE,
    }
    with SupervisorProc(config) as sup:
        old = sup.wait_state("victim", "ready")
        by_before = sup.wait_state("bystander", "ready")
        probe = sup.node("probe")
        probe.subscribe("sys.lifecycle", "sys.metric")
        sent: list[int] = []
        relayed: set[int] = set()
        events: list[tuple[int, LifecycleEvent]] = []

        def pump(n: int) -> None:
            """Publish asr.text n times, 20 ms apart, collecting what comes back."""
            for _ in range(n):
                sent.append(len(sent))
                probe.publish("asr.text", AsrText(text="x", segment_id=str(sent[-1])))
                end = time.monotonic() + 0.02
                while (msg := probe.poll(max(0.0, end - time.monotonic()))) is not None:
                    if isinstance(msg.payload, Metric) and msg.payload.name == "relayed":
                        relayed.add(int(msg.payload.value))
                    elif isinstance(msg.payload, LifecycleEvent):
                        events.append((msg.ts_ns, msg.payload))

        if standby:
            old = sup.wait(lambda: (r := sup.row("victim"))["standby_pid"] and r, "a standby")
        pump(10)
        kill_ns = time.monotonic_ns()
        os.kill(old["pid"], signal.SIGKILL)
        new = sup.wait(
            lambda: (r := sup.row("victim"))["state"] == "ready" and r["pid"] != old["pid"] and r,
            "the victim to be ready again",
        )
        pump(25)  # also lets the bystander's answers to the last messages arrive
        ready_ns = next(ts for ts, e in events if e.worker == "victim" and e.event == "ready")
        mode = "standby" if standby else "fresh process"
        print(f"\nkill -9 -> ready again ({mode}): {(ready_ns - kill_ns) / 1e6:.0f} ms")
        if standby:
            assert new["pid"] == old["standby_pid"]  # the spare took over

        assert new["restarts"] == 1
        assert new["last_exit"] == -9
        assert new["last_exit_text"] == "killed by SIGKILL"
        kinds = [e.event for _, e in events if e.worker == "victim"]
        assert kinds[:4] == ["exited", "restarting", "spawned", "ready"]
        by_after = sup.row("bystander")
        assert (by_after["pid"], by_after["restarts"]) == (by_before["pid"], 0)
        assert not [e for _, e in events if e.worker == "bystander"]
        assert relayed >= set(sent[:-3]), f"bystander lost {sorted(set(sent) - relayed)}"


def test_sigstop_after_ready_is_detected_within_heartbeat_timeout_and_replaced() -> None:
    timeout_s = 1.0
    config = {
        "heartbeat_ms": 100,
        "workers": {"frozen": worker("workers.echo", heartbeat_timeout_s=timeout_s)},
    }
    with SupervisorProc(config) as sup:
        old = sup.wait_state("frozen", "ready")
        probe = sup.node("probe")
        probe.subscribe("sys.lifecycle")
        time.sleep(0.3)  # a few beats after ready
        stop_ns = time.monotonic_ns()
        os.kill(old["pid"], signal.SIGSTOP)
        new = sup.wait(
            lambda: (r := sup.row("frozen"))["state"] == "ready" and r["pid"] != old["pid"] and r,
            "a replacement of the stopped worker",
        )
        events = lifecycle(probe, 0.2)
        hung_ns = next(ts for ts, e in events if e.event == "hung")
        detect_s = (hung_ns - stop_ns) / 1e9
        print(f"\nSIGSTOP -> detected hung after {detect_s:.2f} s (timeout {timeout_s} s)")
        assert detect_s <= timeout_s + 1.0  # the timeout, plus the loop's turn on a busy machine
        assert new["last_exit"] == -9 and new["restarts"] == 1
        assert not psutil.pid_exists(old["pid"]) or (
            psutil.Process(old["pid"]).status() == psutil.STATUS_ZOMBIE
        )
        assert [e.event for _, e in events][:3] == ["hung", "exited", "restarting"]


def test_worker_crashing_at_start_backs_off_then_is_given_up_while_the_rest_runs() -> None:
    restart = {"policy": "on-failure", "backoff_initial_s": 0.05, "max_restarts": 3}
    config = {
        "workers": {
            "steady": worker("workers.echo"),
            "crashy": worker(CRASH, restart={**restart, "window_s": 30}, autostart=False),
        }
    }
    with SupervisorProc(config, exit_code=1) as sup:  # a worker gave up: the supervisor says so
        steady = sup.wait_state("steady", "ready")
        probe = sup.node("probe")
        probe.subscribe("sys.lifecycle")
        sup.client.call("start", name="crashy")
        row = sup.wait_state("crashy", "failed")
        events = [e for _, e in lifecycle(probe, 0.2) if e.worker == "crashy"]
        delays = [e.delay_s for e in events if e.event == "restarting"]
        assert delays == [0.05, 0.1, 0.2]  # doubling
        assert [e.event for e in events].count("spawned") == 4
        assert events[-1].event == "gave_up"
        assert row["restarts"] == 3 and row["last_exit"] == 3
        assert "gave up after 3 restarts in 30 s" in row["detail"]
        assert row["reason"] == "crash: failing at start on purpose (exit 3)"
        table = sup.cli("status").stdout
        assert "crashy: failed: gave up after 3 restarts in 30 s" in table
        assert "'python supervisor.py start crashy'" in table
        assert sup.row("steady")["pid"] == steady["pid"]
        assert sup.row("steady")["state"] == "ready"


def test_a_worker_that_cannot_run_fails_at_once_with_its_reason_and_the_supervisor_exits_1() -> (
    None
):
    config = {
        "workers": {
            "steady": worker("workers.echo"),
            "llm": worker(NOMODEL, restart={"policy": "always", "backoff_initial_s": 0.05}),
        }
    }
    why = "No model at /nonexistent/model.gguf; put the file there or set settings.model_path."
    with SupervisorProc(config, exit_code=1) as sup:
        row = sup.wait_state("llm", "failed")
        assert (row["last_exit"], row["restarts"], row["reason"]) == (2, 0, why)
        time.sleep(0.5)  # well past the backoff: still not restarted
        assert sup.row("llm")["restarts"] == 0 and sup.row("llm")["state"] == "failed"
        table = sup.cli("status").stdout
        assert f"llm: failed: cannot run as configured: {why}" in table
        assert sup.row("steady")["state"] == "ready"
    # leaving the block checked the supervisor's exit status: 1, since llm is failed


def test_depends_on_starts_after_ready_and_stops_in_reverse_order() -> None:
    config = {
        "workers": {
            "c": worker(RELAY, depends_on=["b"]),
            "b": worker(RELAY, depends_on=["a"], settings={"ready_after_s": 0.3}),
            "a": worker(RELAY, depends_on=["sleeper"], settings={"ready_after_s": 0.3}),
            # a program that does not speak the bus: ready once started
            "sleeper": {"command": "sleep", "args": ["600"], "manifest": {"kind": "source"}},
        },
        "external": PROBE,
    }
    sup = SupervisorProc(config).start()
    try:
        sup.wait_state("c", "ready")
        assert [r["name"] for r in sup.status()] == ["sleeper", "a", "b", "c"]
    finally:
        assert sup.stop() == 0
    seq = [
        (event, line.split(" name=", 1)[1].split()[0])
        for line in sup.log().splitlines()
        for event in ("spawned", "ready", "stopped")
        if f" worker_{event} " in line
    ]
    assert seq.index(("spawned", "b")) > seq.index(("ready", "a"))
    assert seq.index(("spawned", "c")) > seq.index(("ready", "b"))
    assert [name for event, name in seq if event == "stopped"] == ["c", "b", "a", "sleeper"]


def test_late_joiner_added_at_run_time_receives_everything_published_after_its_ready() -> None:
    with SupervisorProc({"workers": {"first": worker("workers.echo")}}) as sup:
        sup.wait_state("first", "ready")
        probe = sup.node("probe")
        probe.subscribe("sys.lifecycle", "sys.metric")
        done = sup.cli("add", json.dumps({"late": worker(RELAY)}))
        assert done.returncode == 0, done.stderr
        n = 0
        first_after_ready: int | None = None
        relayed: set[int] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            probe.publish("asr.text", AsrText(text="x", segment_id=str(n)))
            n += 1
            while (msg := probe.poll(0.01)) is not None:
                p: Any = msg.payload
                if isinstance(p, LifecycleEvent) and (p.worker, p.event) == ("late", "ready"):
                    first_after_ready = n
                elif isinstance(p, Metric) and p.name == "relayed":
                    relayed.add(int(p.value))
            if first_after_ready is not None and n > first_after_ready + 50:
                break
        assert first_after_ready is not None, sup.log()
        end = time.monotonic() + 2
        while time.monotonic() < end and not set(range(first_after_ready, n)) <= relayed:
            msg = probe.poll(0.05)
            p = msg.payload if msg is not None else None
            if isinstance(p, Metric) and p.name == "relayed":
                relayed.add(int(p.value))
        missing = sorted(set(range(first_after_ready, n)) - relayed)
        assert not missing, f"published after ready but not received: {missing}"
        row = sup.row("late")
        assert row["state"] == "ready" and row["program"] == RELAY


def test_cli_status_stop_start_restart_and_add() -> None:
    config = {"workers": {"echo": worker("workers.echo", cpus=[0])}}
    with SupervisorProc(config) as sup:
        sup.wait_state("echo", "ready")
        table = sup.cli("status").stdout.splitlines()
        header = ["NAME", "STATE", "PID", "CPUS", "RESTARTS", "UPTIME", "LAST", "EXIT"]
        assert table[0].split() == header
        assert table[1].split()[:2] == ["echo", "ready"]
        rows = json.loads(sup.cli("status", "--json").stdout)
        assert {"name", "state", "pid", "restarts", "cpus"} <= set(rows[0])
        assert rows[0]["cpus"] == [0]
        allowed = psutil.Process(rows[0]["pid"]).cpu_affinity()
        assert allowed == [0]

        out = sup.cli("stop", "echo")
        assert out.returncode == 0 and "echo: stopped (exit 0)" in out.stdout, out.stderr
        out = sup.cli("start", "echo")
        assert out.returncode == 0 and "echo: ready" in out.stdout, out.stderr
        pid = sup.row("echo")["pid"]
        out = sup.cli("restart", "echo")
        assert out.returncode == 0, out.stderr
        assert sup.row("echo")["pid"] != pid and sup.row("echo")["restarts"] == 0

        snippet = sup.tmp / "more.yaml"
        snippet.write_text("echo2:\n  module: workers.echo\n  depends_on: [echo]\n")
        assert sup.cli("add", str(snippet)).returncode == 0
        assert sup.cli("add", "echo3: {module: workers.echo, cpus: little}").returncode == 0
        sup.wait_state("echo2", "ready")
        sup.wait_state("echo3", "ready")

        bad = sup.cli("add", "echo4: {module: workers.echo, cpu: [0]}")
        assert bad.returncode == 2
        assert "workers.echo4.cpu: unknown key" in bad.stderr
        dup = sup.cli("add", "workers.echo")
        assert dup.returncode == 2 and "already exists" in dup.stderr
        unknown = sup.cli("stop", "nobody")
        assert unknown.returncode == 2 and "No worker named 'nobody'" in unknown.stderr


def test_stop_escalates_to_sigkill_after_grace_and_sigterm_stops_everything() -> None:
    stubborn = worker("tests.supervision.workers.stubborn", stop_grace_s=0.5)
    config = {"workers": {"stubborn": stubborn}}
    sup = SupervisorProc(config).start()
    try:
        sup.wait_state("stubborn", "ready")
        out = sup.cli("stop", "stubborn")
        assert out.returncode == 0, out.stderr
        assert sup.row("stubborn")["last_exit"] == -9
        sup.client.call("start", name="stubborn")
        sup.wait_state("stubborn", "ready")
    finally:
        assert sup.stop(signal.SIGTERM) == 0
    assert "stop_grace_expired" in sup.log()


def test_no_supervisor_gives_a_clear_error() -> None:
    sup = SupervisorProc({"workers": {}})
    out = sup.cli("status")
    assert out.returncode == 2
    assert "No supervisor is running with runtime directory" in out.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_tcp_bus_with_curve_keys_carries_workers_and_hands_them_client_keys() -> None:
    from bus import curve
    from tests.supervision.harness import short_tmp

    tmp = short_tmp()
    keys = tmp / "keys"
    curve.generate(keys, "bus")
    curve.generate(keys / "clients", "local")
    config = {
        "bus": {
            "mode": "tcp",
            "pub_port": _free_port(),
            "sub_port": _free_port(),
            "curve": {
                "server_secret": str(keys / "bus.key_secret"),
                "server_public": str(keys / "bus.key"),
                "clients_dir": str(keys / "clients"),
                "client_secret": str(keys / "clients" / "local.key_secret"),
            },
        },
        "workers": {"relay": worker(RELAY)},
        "external": PROBE,
    }
    with SupervisorProc(config, tmp) as sup:
        sup.wait_state("relay", "ready")
        bus_file = json.loads((sup.run_dir / "bus.json").read_text())
        assert bus_file["pub_endpoint"].startswith("tcp://127.0.0.1:")
        assert bus_file["curve"]["client_secret"].endswith("local.key_secret")
        probe = sup.node("probe")  # a CURVE client with the local key, from bus.json
        probe.subscribe("sys.metric")
        for i in range(50):
            probe.publish("asr.text", AsrText(text="x", segment_id=str(i)))
            msg = probe.poll(0.1)
            if msg is not None and isinstance(msg.payload, Metric):
                break
        else:
            pytest.fail(f"no answer over tcp\n{sup.log()}")


def test_second_supervisor_on_the_same_runtime_dir_is_refused_and_kill_9_leaves_no_workers() -> (
    None
):
    sup = SupervisorProc({"workers": {"echo": worker("workers.echo")}}).start()
    try:
        pid = sup.wait_state("echo", "ready")["pid"]
        second = sup.cli(str(sup.config_path))
        assert second.returncode == 2
        assert "A supervisor is already running with runtime directory" in second.stderr
        assert sup.row("echo")["pid"] == pid
        workers = sup.descendants()
        assert sup.proc is not None
        sup.proc.kill()  # no chance to clean up: the children must still go
        sup.proc.wait(10)
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"workers outlived a killed supervisor: {alive}"
    finally:
        sup.kill_all()


def _bus(sup: SupervisorProc) -> dict[str, Any]:
    """The proxy's row of ``status``: its pid, its spare's."""
    row: dict[str, Any] = sup.client.call("status")["bus"]
    return row


def test_proxy_killed_is_restarted_announced_and_workers_carry_on_without_restarts() -> None:
    config = {"heartbeat_ms": 200, "workers": {"relay": worker(RELAY)}, "external": PROBE}
    with SupervisorProc(config) as sup:
        before = sup.wait_state("relay", "ready")
        watcher = sup.node("watcher")  # reconnects to the new proxy by itself
        watcher.subscribe("sys.lifecycle")
        bus = sup.wait(lambda: (b := _bus(sup))["standby_pid"] and b, "a spare proxy")
        procs = [p for p in sup.descendants() if "bus.proxy" in " ".join(p.cmdline())]
        assert sorted(p.pid for p in procs) == sorted([bus["pid"], bus["standby_pid"]])
        os.kill(bus["pid"], signal.SIGKILL)
        sup.wait(lambda: " proxy_spawned " in sup.log().split("proxy_exited", 1)[-1], "a new proxy")
        events: list[LifecycleEvent] = []

        def announced() -> bool:
            events.extend(e for _, e in lifecycle(watcher, 0.1) if e.worker == "proxy")
            return len(events) >= 2

        sup.wait(announced, "the proxy's restart announced")
        exited, ready = events[:2]
        assert (exited.event, exited.exit_code, ready.event) == ("exited", -9, "ready")
        assert 0 < exited.silent_s < 5 and ready.pid == bus["standby_pid"]  # the spare took over
        probe = sup.node("probe")  # joins the new proxy
        probe.subscribe("sys.metric")
        for i in range(100):
            probe.publish("asr.text", AsrText(text="x", segment_id=str(i)))
            msg = probe.poll(0.1)
            if msg is not None and isinstance(msg.payload, Metric):
                break
        else:
            pytest.fail(f"the relay did not answer through the new proxy\n{sup.log()}")
        time.sleep(1.0)
        after = sup.row("relay")
        assert (after["pid"], after["restarts"], after["state"]) == (before["pid"], 0, "ready")
        assert _bus(sup)["restarts"] == 1 and not _bus(sup)["down"]
        sup.wait(lambda: _bus(sup)["standby_pid"] not in (None, bus["standby_pid"]), "a new spare")


def test_a_bus_that_stops_answering_excuses_every_worker_instead_of_killing_them() -> None:
    # A stopped proxy is what a pulled cable looks like to a supervisor whose bus is on another
    # board: nothing comes back, not even its own heartbeat.
    config = {
        "heartbeat_ms": 200,
        "workers": {
            "a": worker(RELAY, heartbeat_timeout_s=1.0),
            "b": worker(RELAY, heartbeat_timeout_s=1.0),
        },
        "external": PROBE,
    }
    with SupervisorProc(config) as sup:
        pids = {n: sup.wait_state(n, "ready")["pid"] for n in ("a", "b")}
        proxy = psutil.Process(_bus(sup)["pid"])
        proxy.suspend()
        try:
            time.sleep(4.0)  # four heartbeat timeouts
        finally:
            proxy.resume()
        time.sleep(2.0)
        for name in ("a", "b"):
            row = sup.row(name)
            assert (row["state"], row["pid"], row["restarts"]) == ("ready", pids[name], 0), (
                sup.log()
            )
        assert " bus_down " in sup.log() and " worker_hung " not in sup.log()
