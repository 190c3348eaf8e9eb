"""A worker's state machine, driven with small real programs and a hand-moved clock."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from schemas.system import Heartbeat
from supervision.buslayout import BusLayout
from supervision.config import WorkerSpec
from supervision.worker import EXIT_NOT_STARTED, Worker


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, worker: Worker, **fields: Any) -> None:
        self.events.append((event, fields))

    def names(self) -> list[str]:
        return [e for e, _ in self.events]


def make(tmp_path: Path, **spec: Any) -> tuple[Worker, Recorder]:
    layout = BusLayout(tmp_path, "ipc://x/pub", "ipc://x/sub", "ipc://x/pub", "ipc://x/sub")
    rec = Recorder()
    return Worker("w", WorkerSpec.model_validate(spec), None, layout, 500, rec), rec


def run_until(worker: Worker, state: str, now: float = 0.0, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while worker.state != state:
        assert time.monotonic() < deadline, f"still {worker.state}, wanted {state}"
        worker.tick(now, [])
        time.sleep(0.01)


def test_waits_for_dependencies_and_says_so(tmp_path: Path) -> None:
    w, rec = make(tmp_path, command="true", depends_on=[])
    w.tick(0.0, ["asr", "llm"])
    assert w.state == "waiting" and w.detail == "waiting for asr, llm to be ready"
    assert rec.events == []


def test_clean_exit_under_on_failure_is_not_restarted(tmp_path: Path) -> None:
    w, rec = make(tmp_path, command="true")
    w.tick(0.0, [])
    assert w.state == "ready"  # ready: started, the default for a command
    run_until(w, "exited")
    assert rec.names() == ["spawned", "ready", "exited"]
    assert w.last_exit == 0 and w.restarts == 0


def test_failures_back_off_then_give_up(tmp_path: Path) -> None:
    w, rec = make(tmp_path, command="false", restart={"max_restarts": 2, "backoff_initial_s": 1})
    w.tick(0.0, [])
    run_until(w, "backoff", now=0.0)
    assert w.restart_at == 1.0
    w.tick(0.5, [])
    assert w.state == "backoff"  # not yet
    w.tick(1.0, [])
    run_until(w, "backoff", now=1.0)
    assert w.restart_at == 3.0  # doubled
    w.tick(3.0, [])
    run_until(w, "failed", now=3.0)
    assert rec.names().count("spawned") == 3
    assert "gave up after 2 restarts" in w.detail and w.restarts == 2


def test_missing_program_cannot_run_and_is_not_restarted(tmp_path: Path) -> None:
    w, rec = make(tmp_path, command="no-such-program-here", restart="always")
    w.tick(0.0, [])
    assert w.state == "failed" and rec.names() == ["exited", "gave_up"]
    assert rec.events[0][1]["exit_code"] == EXIT_NOT_STARTED
    assert w.reason == "cannot start: 'no-such-program-here' is not on PATH"
    assert w.detail.startswith("cannot run as configured: cannot start: 'no-such-program-here'")
    w.tick(100.0, [])
    assert w.state == "failed" and w.restarts == 0
    missing = make(tmp_path, command="rtos/build/no-such-app")[0]
    missing.tick(0.0, [])
    assert missing.state == "failed" and "does not exist (build it" in missing.reason


def _exits(code: int, reason: str) -> dict[str, Any]:
    script = f'echo "{reason}" > "$VOICEBUS_REASON_FILE"; exit {code}'
    return {"command": "sh", "args": ["-c", script]}


def test_exit_2_is_failed_at_once_with_its_reason_whatever_the_policy(tmp_path: Path) -> None:
    why = "No model at /opt/m.rkllm; copy it there (docs/deploy.md)."
    w, rec = make(tmp_path, **_exits(2, why), restart="always")
    w.tick(0.0, [])
    run_until(w, "failed")
    assert rec.names() == ["spawned", "ready", "exited", "gave_up"]
    assert w.restarts == 0 and w.last_exit == 2 and w.reason == why
    assert w.detail == (
        f"cannot run as configured: {why} (fix it, then 'python supervisor.py start w')"
    )
    assert rec.events[2][1]["detail"] == f"exit 2 (cannot run as configured): {why}"
    row = w.status(1.0)
    assert (row["state"], row["reason"], row["last_exit"]) == ("failed", why, 2)
    assert not (tmp_path / "reasons" / "w").exists()  # read once, then removed
    w.request_start()  # fixed by hand: starts again
    w.tick(2.0, [])
    assert "spawned" in rec.names()[4:]


def test_exit_1_is_restarted_and_keeps_the_reason_for_status(tmp_path: Path) -> None:
    w, _ = make(tmp_path, **_exits(1, "KeyError: 'x'"), restart={"max_restarts": 1})
    w.tick(0.0, [])
    run_until(w, "backoff")
    assert w.reason == "KeyError: 'x'" and w.restarts == 1
    w.tick(10.0, [])
    run_until(w, "failed", now=10.0)
    assert w.detail.startswith("gave up after 1 restarts in 60 s")
    assert w.detail.endswith("(last: exit 1: KeyError: 'x')")


def test_a_reason_left_by_an_earlier_process_is_not_shown_for_the_next(tmp_path: Path) -> None:
    (tmp_path / "reasons").mkdir()
    (tmp_path / "reasons" / "w").write_text("stale\n")
    w, _ = make(tmp_path, command="false", restart="never")
    w.tick(0.0, [])
    run_until(w, "exited")
    assert w.last_exit == 1 and w.reason == ""


def test_stop_restart_and_start(tmp_path: Path) -> None:
    w, _ = make(tmp_path, command="sleep", args=["60"])
    w.tick(0.0, [])
    first = w.child.pid if w.child else 0
    w.request_restart(1.0)
    assert w.state == "stopping"
    run_until(w, "ready", now=1.0)
    assert w.child is not None and w.child.pid != first and w.restarts == 0
    w.request_stop(2.0)
    run_until(w, "stopped", now=2.0)
    assert w.last_exit == -15
    w.request_start()
    run_until(w, "ready", now=3.0)
    w.request_stop(4.0)
    run_until(w, "stopped", now=4.0)


def test_heartbeats_make_ready_and_silence_makes_hung(tmp_path: Path) -> None:
    w, rec = make(tmp_path, command="sleep", args=["60"], ready="heartbeat", heartbeat_timeout_s=2)
    w.tick(0.0, [])
    assert w.state == "starting" and w.child is not None
    beat = Heartbeat(worker="w", pid=w.child.pid, state="ready", uptime_s=0.1)
    w.on_heartbeat(beat.model_copy(update={"pid": 1}), 0.5)  # someone else's process
    assert w.state == "starting"
    w.on_heartbeat(beat, 0.5)
    assert w.state == "ready"
    w.tick(2.4, [])
    assert w.state == "ready"
    w.tick(2.6, [])
    assert "hung" in rec.names() and "no heartbeat for 2.1 s" in w.detail
    run_until(w, "backoff", now=2.6)
    assert w.last_exit == -9
    w.request_stop(3.0)
    assert w.state == "stopped"


def test_a_stuck_loop_is_a_hang_when_loop_timeout_is_set(tmp_path: Path) -> None:
    w, _ = make(tmp_path, command="sleep", args=["60"], ready="heartbeat", loop_timeout_s=5)
    w.tick(0.0, [])
    assert w.child is not None
    beat = Heartbeat(worker="w", pid=w.child.pid, state="ready", uptime_s=1, loop_age_ms=4000)
    w.on_heartbeat(beat, 1.0)
    w.tick(1.0, [])
    assert w.state == "ready"
    w.on_heartbeat(beat.model_copy(update={"loop_age_ms": 5500}), 1.5)  # still beating
    w.tick(1.5, [])
    assert "its loop has not polled for 5.5 s" in w.detail
    run_until(w, "backoff", now=1.5)
    w.request_stop(2.0)


def test_a_failure_while_the_bus_is_down_is_not_counted_against_the_restart_budget(
    tmp_path: Path,
) -> None:
    w, rec = make(tmp_path, command="false", restart={"max_restarts": 1, "backoff_initial_s": 1})
    for n in range(4):  # more failures than the budget: none of them the worker's fault
        w.bus_down = True
        w.tick(float(n * 2), [])
        run_until(w, "backoff", now=float(n * 2))
        assert w.restart_at == n * 2 + 1.0  # the first delay each time, never doubled
    assert w.tracker.in_window(8.0) == 0 and "not counted" in rec.events[-1][1]["detail"]
    w.bus_down = False
    w.tick(8.0, [])
    run_until(w, "backoff", now=8.0)  # counted now
    w.tick(10.0, [])
    run_until(w, "failed", now=10.0)


def test_a_worker_that_could_not_join_the_bus_is_not_counted_either(tmp_path: Path) -> None:
    reason = "BusTimeout: The bus did not answer within 10.0 s (pub tcp://10.0.0.1:5550, ...)."
    w, _ = make(tmp_path, **_exits(1, reason), restart={"max_restarts": 0})
    w.tick(0.0, [])
    run_until(w, "backoff")
    assert w.reason == reason and w.tracker.in_window(0.0) == 0


def test_while_the_bus_is_down_a_silent_or_unready_worker_is_excused(tmp_path: Path) -> None:
    w, rec = make(
        tmp_path, command="sleep", args=["60"], ready="heartbeat", heartbeat_timeout_s=2,
        ready_timeout_s=3,
    )  # fmt: skip
    w.tick(0.0, [])
    for now in (1.0, 2.0, 3.0, 4.0):  # the bus is down: no heartbeat can come
        w.excuse_silence(now)
        w.tick(now, [])
    w.tick(6.9, [])
    assert w.state == "starting"  # the ready timeout counts from the bus's return
    assert w.child is not None
    w.on_heartbeat(Heartbeat(worker="w", pid=w.child.pid, state="ready", uptime_s=7), 7.0)
    for now in (8.0, 9.0, 10.0):
        w.excuse_silence(now)
        w.tick(now, [])
    w.tick(11.9, [])
    assert w.state == "ready" and "hung" not in rec.names()
    w.tick(12.1, [])
    assert "hung" in rec.names()
    assert rec.events[-1][1]["silent_s"] > 2.0
    w.request_stop(13.0)


def test_a_module_worker_gets_a_standby_spare_by_default_once_nothing_else_starts(
    tmp_path: Path,
) -> None:
    w, _ = make(tmp_path, module="workers.echo", ready="started")
    assert w.spec.uses_standby and not make(tmp_path, command="true")[0].spec.uses_standby
    w.tick(0.0, [])
    assert w.state == "ready"
    w.tick(1.0, [], settled=False)  # another worker is loading: its CPU first
    assert w.standby.pid is None
    w.tick(1.1, [])
    spare = w.standby.pid
    assert spare is not None and spare != (w.child.pid if w.child else None)
    w.child.kill() if w.child else None
    run_until(w, "backoff", now=2.0)
    w.tick(3.0, [])
    assert w.child is not None and w.child.pid == spare  # the spare took over
    w.request_stop(4.0)
    run_until(w, "stopped", now=4.0)
    assert w.standby.pid is None
