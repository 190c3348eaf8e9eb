"""One configured worker across its successive processes: the state machine the arbiter drives.

States (``status`` shows them)::

    waiting --deps ready--> starting --ready heartbeat (or started)--> ready
    starting/ready --exit or hang--> backoff --delay--> starting        (restart policy allows)
                                 \\-> failed                            (restart window exhausted)
                                 \\-> exited                            (policy says no restart)
    starting/ready --exit 2 (or 126, 127)--> failed                     (cannot run as configured)
    any running --stop--> stopping --> stopped

A process that ended leaves its one-line reason in its reason file (:mod:`supervision.exitcodes`);
it is kept as ``reason`` and shown by ``status``.

Every transition is announced through ``emit`` (the arbiter turns it into a ``sys.lifecycle``
event and a log line). Time is a parameter of every method, so tests can drive it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any, Literal

from bus.nodeconfig import ENV_NODE
from schemas.system import Heartbeat
from supervision.buslayout import BusLayout
from supervision.child import Child, Launch, describe_exit
from supervision.config import WorkerSpec
from supervision.exitcodes import EXIT_NOT_STARTED, cannot_run, read_reason
from supervision.program import launch_for, node_json, reason_file
from supervision.restart import RestartTracker
from supervision.standby import Standby

__all__ = ["EXIT_NOT_STARTED", "Emit", "State", "Worker"]

State = Literal[
    "waiting", "starting", "ready", "backoff", "stopping", "stopped", "exited", "failed"
]
#: ``emit(event, worker, pid=..., exit_code=..., detail=..., delay_s=...)``
Emit = Callable[..., None]
#: Errors of starting a program that another try will not fix.
_PERMANENT = (FileNotFoundError, PermissionError, NotADirectoryError)


class Worker:
    """A worker's spec, its current process and its restart history."""

    def __init__(
        self,
        name: str,
        spec: WorkerSpec,
        cpus: tuple[int, ...] | None,
        layout: BusLayout,
        heartbeat_ms: int,
        emit: Emit,
    ) -> None:
        self.name = name
        self.spec = spec
        self.cpus = cpus
        self._layout = layout
        self._heartbeat_ms = heartbeat_ms
        self._emit = emit
        self.state: State = "waiting" if spec.autostart else "stopped"
        self.child: Child | None = None
        self.standby = Standby(self._launch)
        """The spare process (``standby``) that the next start hands over to."""
        self.tracker = RestartTracker(spec.restart)
        self.restarts = 0
        self.last_exit: int | None = None
        self.detail = ""
        self.reason = ""
        """The one-line reason the last process gave for its exit (``""`` if none)."""
        self.ready_at: float | None = None
        self.last_beat: float | None = None
        self.loop_age_s = 0.0
        """``loop_age_ms`` of the last heartbeat, s."""
        self.restart_at: float | None = None
        self.bus_down = False
        """Set by the arbiter each turn: the bus is down (nobody can be heard, nor join it)."""
        self._excused_at = 0.0
        self._start_after_stop = False
        self._hung = False

    # --- requests --------------------------------------------------------------------------

    def request_start(self) -> None:
        """Start (again) a worker that is not running, with a fresh restart window."""
        if self.state in ("stopped", "exited", "failed", "backoff"):
            self.tracker.reset()
            self.state = "waiting"
            self.detail = ""

    def request_stop(self, now: float) -> None:
        """SIGTERM the process (SIGKILL after ``stop_grace_s``); no restart follows."""
        self._start_after_stop = False
        self._hung = False  # a stop asked for wins over the restart a hang would cause
        self.standby.drop()
        if self.child is not None:
            self.state = "stopping"
            self.child.terminate(self.spec.stop_grace_s, now)
        elif self.state != "stopping":
            self.state = "stopped"

    def request_restart(self, now: float) -> None:
        """Stop, then start again once the process ended."""
        if self.child is None:
            self.request_start()
            return
        self.request_stop(now)
        self._start_after_stop = True

    @property
    def running(self) -> bool:
        """True while a process exists."""
        return self.child is not None

    # --- events from outside ---------------------------------------------------------------

    def excuse_silence(self, now: float) -> None:
        """Count the heartbeat and ready timeouts from ``now`` (the bus itself was down)."""
        if self.last_beat is not None:
            self.last_beat = max(self.last_beat, now)
        self._excused_at = now

    def on_heartbeat(self, beat: Heartbeat, now: float) -> None:
        """A ``sys.heartbeat`` with this worker's name arrived."""
        if self.child is None or not self.child.owns(beat.pid):
            return  # a previous process, or a node started by hand under the same name
        self.last_beat = now
        self.loop_age_s = beat.loop_age_ms / 1000.0
        if beat.state == "ready" and self.state == "starting":
            self._became_ready(now)

    def tick(self, now: float, waiting_for: list[str], *, settled: bool = True) -> None:
        """Reap, enforce timeouts, start when due (``waiting_for``: dependencies not ready);
        ``settled``: no worker is starting, a standby spare may be made now."""
        self.standby.reap()
        child = self.child
        if child is not None:
            code = child.poll()
            if code is not None:
                self._ended(code, now)
            else:
                child.enforce(now)
                self._check_liveness(child, now)
        due = self.state == "waiting" or (
            self.state == "backoff" and now >= (self.restart_at or 0.0)
        )
        if due and not waiting_for:
            self._spawn(now)
        elif due and self.state == "waiting":
            self.detail = f"waiting for {', '.join(waiting_for)} to be ready"
        elif settled and self.state == "ready" and self.spec.uses_standby:
            self.standby.prepare(now, self.ready_at)

    # --- transitions -----------------------------------------------------------------------

    def _spawn(self, now: float) -> None:
        self._hung = False
        self.last_beat = None
        self.loop_age_s = 0.0
        self.ready_at = None
        reason_file(self._layout, self.name).unlink(missing_ok=True)
        try:
            self.child = self.standby.take() or Child(self._launch())
            if self.child.launch.standby:
                self.child.go({ENV_NODE: self._node_json()})
        except (OSError, subprocess.SubprocessError) as exc:
            if self.child is not None:
                self.child.kill()
                self.child.wait(2.0)
                self.child = None
            self.last_exit = EXIT_NOT_STARTED
            self.reason = f"cannot start: {exc}"
            self._emit("exited", self, exit_code=EXIT_NOT_STARTED, detail=self.reason)
            if isinstance(exc, _PERMANENT):
                self._cannot_run(EXIT_NOT_STARTED)
            else:
                self._after_failure(EXIT_NOT_STARTED, now, failed=True)
            return
        self.state = "starting"
        self.detail = ""
        self._emit("spawned", self, detail=" ".join(self.child.launch.argv))
        if self.spec.readiness == "started":
            self._became_ready(now)

    def _became_ready(self, now: float) -> None:
        self.state = "ready"
        self.ready_at = now
        self.last_beat = now
        self.standby.retry()
        self._emit("ready", self)

    def _check_liveness(self, child: Child, now: float) -> None:
        if self.state == "ready" and self.spec.readiness == "heartbeat":
            silent_s = now - (self.last_beat or now)
            loop_limit_s = self.spec.loop_timeout_s
            if silent_s > self.spec.heartbeat_timeout_s:
                self._kill_hung(child, f"no heartbeat for {silent_s:.1f} s", silent_s)
            elif loop_limit_s is not None and self.loop_age_s > loop_limit_s:
                why = f"its loop has not polled for {self.loop_age_s:.1f} s"
                self._kill_hung(child, why, self.loop_age_s)
        elif self.state == "starting" and self.spec.ready_timeout_s is not None:
            limit_s = self.spec.ready_timeout_s
            if now - max(child.started_at, self._excused_at) > limit_s:
                self._kill_hung(child, f"not ready after {limit_s:g} s")

    def _kill_hung(self, child: Child, why: str, silent_s: float = 0.0) -> None:
        self._hung = True
        self.detail = f"{why}; killed with SIGKILL"
        self._emit("hung", self, detail=self.detail, silent_s=silent_s)
        child.kill()
        self.state = "stopping"

    def _ended(self, code: int, now: float) -> None:
        assert self.child is not None
        pid, self.child = self.child.pid, None
        self.last_exit = code
        self.ready_at = None
        self.reason = read_reason(reason_file(self._layout, self.name))
        exit_text = describe_exit(code) + (f": {self.reason}" if self.reason else "")
        self._emit("exited", self, pid=pid, exit_code=code, detail=exit_text)
        if self._hung:
            self._after_failure(code, now, failed=True)
        elif self.state == "stopping":
            self.state = "stopped"
            self._emit("stopped", self, pid=pid, exit_code=code)
            if self._start_after_stop:
                self._start_after_stop = False
                self.request_start()
        elif cannot_run(code):
            self._cannot_run(code)
        else:
            self._after_failure(code, now, failed=code != 0)

    def _cannot_run(self, code: int) -> None:
        """Exit 2 (or 126/127): restarting will not help; say why and stop trying."""
        why = self.reason or f"{describe_exit(code)}; its log above says why"
        self.state = "failed"
        self.detail = (
            f"cannot run as configured: {why} (fix it, then 'python supervisor.py start "
            f"{self.name}')"
        )
        self._emit("gave_up", self, exit_code=code, detail=self.detail)

    def _after_failure(self, code: int, now: float, *, failed: bool) -> None:
        # Not the worker's fault: the bus was down, or it could not join it (run_worker writes
        # the type of the error first in its reason).
        excused = self.bus_down or self.reason.startswith("BusTimeout:")
        decision = self.tracker.decide(failed=failed, now=now, name=self.name, excused=excused)
        if decision.restart:
            self.restarts += 1
            self.state = "backoff"
            self.restart_at = now + decision.delay_s
            self._emit(
                "restarting", self, exit_code=code, detail=decision.reason, delay_s=decision.delay_s
            )
        elif decision.gave_up:
            self.state = "failed"
            last = describe_exit(code) + (f": {self.reason}" if self.reason else "")
            self.detail = f"{decision.reason} (last: {last})"
            self._emit("gave_up", self, exit_code=code, detail=self.detail)
        else:
            self.state = "exited"
            self.detail = decision.reason

    # --- the process -----------------------------------------------------------------------

    def _node_json(self) -> str:
        return node_json(self.name, self.spec, self._layout, self._heartbeat_ms, self.restarts)

    def _launch(self) -> Launch:
        return launch_for(
            self.name, self.spec, self.cpus, self._layout, self._heartbeat_ms, self.restarts
        )

    def status(self, now: float) -> dict[str, Any]:
        """The row of ``status --json``."""
        child = self.child
        return {
            "name": self.name,
            "state": self.state,
            "pid": child.pid if child is not None else None,
            "cpus": list(self.cpus) if self.cpus is not None else None,
            "restarts": self.restarts,
            "uptime_s": round(now - child.started_at, 3) if child is not None else None,
            "last_exit": self.last_exit,
            "last_exit_text": describe_exit(self.last_exit),
            "detail": self.detail,
            "reason": self.reason,
            "program": self.spec.module or self.spec.command,
            "depends_on": list(self.spec.depends_on),
            "standby_pid": self.standby.pid,
            "standby_ready": self.standby.prepared,
        }
