"""The arbiter: the supervisor's one loop.

Start-up, in order: the private runtime directory, the control socket, the proxy (first child),
``bus.json``, the supervisor's own bus node (it listens to ``sys.heartbeat`` and publishes
``sys.lifecycle``), then the workers in dependency order as their dependencies become ready.

Each turn of the loop: answer control requests, read heartbeats, then for each worker reap a
process that ended, enforce stop grace and liveness, and start what is due. On Ctrl-C or SIGTERM
(a second one kills at once) workers are stopped in reverse dependency order, then the node and
the proxy; the socket files and ``bus.json`` are removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bus.errors import BusError
from bus.node import Node
from bus.nodeconfig import BUS_FILE
from bus.runtime import ensure_private_dir
from schemas.system import Heartbeat, LifecycleEvent
from supervision.buslayout import BusLayout
from supervision.buswatch import BusWatch
from supervision.child import Child, describe_exit
from supervision.commands import dispatch
from supervision.config import SupervisorConfig, WorkerSpec, order_by_dependencies
from supervision.control import ControlServer
from supervision.errors import SupervisionError
from supervision.program import REASONS_DIR
from supervision.statefiles import clear_states
from supervision.topology import Topology
from supervision.worker import Worker

__all__ = ["EXIT_WORKERS_FAILED", "Arbiter"]

log = logging.getLogger(__name__)

#: Name of the supervisor's own node on the bus.
NODE_NAME = "supervisor"
#: Name under which the proxy's exit and restart are announced on ``sys.lifecycle``.
PROXY_NAME = "proxy"
#: Longest wait of one loop turn for a bus message, s (bounds the reaction time to exits).
TICK_S = 0.02
#: How long the proxy gets to exit on SIGTERM at shutdown, s.
PROXY_GRACE_S = 3.0
#: The supervisor's own exit status when it stopped with a worker in state ``failed``.
EXIT_WORKERS_FAILED = 1


class Arbiter:
    """Owns the workers, the proxy, the control socket and the supervisor's node."""

    def __init__(
        self,
        config: SupervisorConfig,
        *,
        topology: Topology | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.clock = clock
        self.topology = topology or Topology.probe()
        self.layout = BusLayout.from_config(config.bus)
        self.workers: dict[str, Worker] = {}
        made = {name: self._make(name, config.workers[name]) for name in config.workers}
        for name in order_by_dependencies(config.workers):
            self.workers[name] = made[name]
        self.node: Node | None = None
        self.bus = BusWatch(self.layout, config.heartbeat_ms / 1000.0)
        """The proxy and the bus's health (:mod:`supervision.buswatch`)."""
        self.control: ControlServer | None = None
        self._shutdown = threading.Event()
        self._force = False

    def _make(self, name: str, spec: WorkerSpec) -> Worker:
        cpus = self.topology.resolve(spec.cpus, f"workers.{name}.cpus")
        return Worker(name, spec, cpus, self.layout, self.config.heartbeat_ms, self._emit)

    # --- used by commands ------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """One row per worker."""
        now = self.clock()
        return [w.status(now) for w in self.workers.values()]

    def bus_status(self) -> dict[str, Any]:
        """The proxy: its pid, its spare's, restarts, whether the bus is down."""
        return self.bus.status()

    def add_workers(self, specs: dict[str, WorkerSpec]) -> None:
        """Attach new workers; they start once their dependencies are ready."""
        made = {name: self._make(name, spec) for name, spec in specs.items()}
        for name in order_by_dependencies(specs):
            self.workers[name] = made[name]
            self._emit("added", made[name], detail=made[name].spec.module or "")

    def request_shutdown(self) -> None:
        """Stop everything and return from :meth:`run` (a second call kills at once)."""
        if self._shutdown.is_set():
            self._force = True
        self._shutdown.set()

    # --- the loop --------------------------------------------------------------------------

    def run(self, install_signals: bool = True) -> int:
        """Run until a shutdown is requested; return the process exit status: 0, or
        :data:`EXIT_WORKERS_FAILED` when a worker was ``failed`` (gave up, or cannot run as
        configured) at that moment."""
        if install_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.request_shutdown())
        ensure_private_dir(self.layout.runtime_dir)
        # Refused here if another supervisor answers on this directory: then nothing of it is
        # ours to clean up.
        self.control = ControlServer(self.layout.runtime_dir, lambda raw: dispatch(self, raw))
        try:
            self._start()
            log.info(
                "supervisor_ready runtime_dir=%s workers=%d topology=%s",
                self.layout.runtime_dir,
                len(self.workers),
                self.topology.source,
            )
            while not self._shutdown.is_set():
                self._turn()
        finally:
            failed = sorted(w.name for w in self.workers.values() if w.state == "failed")
            self._stop_all()
            self._close()
        if failed:
            log.error("supervisor_exit status=%d failed=%s", EXIT_WORKERS_FAILED, ",".join(failed))
            return EXIT_WORKERS_FAILED
        return 0

    @property
    def proxy(self) -> Child | None:
        """The bus proxy's process."""
        return self.bus.proxy

    def _start(self) -> None:
        self.bus.start(self.clock())
        cfg = self.layout.node_config(NODE_NAME, self.config.heartbeat_ms)
        try:
            self.node = Node(cfg, signals=False)
        except BusError as exc:
            proxy_code = self.proxy.poll() if self.proxy else None
            if proxy_code is not None:
                raise SupervisionError(
                    f"The bus proxy exited at start ({describe_exit(proxy_code)}); its error is "
                    "above. Check the bus section of the config."
                ) from exc
            raise
        self.node.subscribe("sys.heartbeat")
        self.node.ready()  # taps (bus.taps.top) show the supervisor itself as ready
        # Written once the bus answered our handshake: its presence means "the bus is up".
        bus_file = self.layout.runtime_dir / BUS_FILE
        tmp = bus_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.layout.bus_file_data(self.config.heartbeat_ms), indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(bus_file)

    def _turn(self) -> None:
        assert self.control is not None and self.node is not None
        self.control.serve_pending()
        msg = self.node.poll(TICK_S)
        while msg is not None:
            now = self.clock()
            self.bus.traffic(now)
            beat = msg.payload
            if isinstance(beat, Heartbeat):
                worker = self.workers.get(beat.worker)
                if worker is not None:
                    worker.on_heartbeat(beat, now)
                    self.bus.heard(beat.worker)
            msg = self.node.poll(0)
        now = self.clock()
        down = self.bus.check(now)
        restart = self.bus.announcement(
            {n for n, w in self.workers.items() if w.state == "ready"}, now
        )
        if restart is not None and self.proxy is not None:
            log.warning("proxy_restarted pid=%d down_s=%.2f", self.proxy.pid, restart.down_s)
            for event in restart.events(PROXY_NAME, self.proxy.pid, self.bus.restarts):
                self._publish_lifecycle(event)
        # Spares are made one at a time, when nothing starts: their imports take CPU.
        settled = not down and not any(
            w.state == "starting" or w.standby.preparing for w in self.workers.values()
        )
        for worker in list(self.workers.values()):
            worker.bus_down = down
            waiting = self._waiting_for(worker)
            if down:
                # Nobody's heartbeats get through while the bus is down, and nobody could join
                # it: not their fault, and no start now.
                worker.excuse_silence(now)
                waiting.append("the bus")
            worker.tick(now, waiting, settled=settled)

    def _waiting_for(self, worker: Worker) -> list[str]:
        return [d for d in worker.spec.depends_on if self.workers[d].state != "ready"]

    # --- shutdown --------------------------------------------------------------------------

    def _stop_all(self) -> None:
        """Stop workers so that none stops before the workers that depend on it."""
        for w in self.workers.values():
            if not w.running:
                w.request_stop(self.clock())
        # Layers stop one after the other; past every grace period together, kill what is left.
        deadline = time.monotonic() + sum(w.spec.stop_grace_s for w in self.workers.values()) + 10
        while any(w.running for w in self.workers.values()):
            now = self.clock()
            if time.monotonic() > deadline + 5:
                stuck = [w.name for w in self.workers.values() if w.running]
                log.error("shutdown_abandoned unkillable=%s", ",".join(stuck))
                break
            if time.monotonic() > deadline and not self._force:
                log.error("shutdown_overdue action=SIGKILL for every remaining worker")
                self._force = True
            if self.control is not None:
                self.control.serve_pending()  # status keeps answering while we stop
            for w in self.workers.values():
                if self._force and w.child is not None:
                    w.child.kill()
                elif w.running and w.state != "stopping" and not self._has_running_dependents(w):
                    w.request_stop(now)
            for w in self.workers.values():
                w.tick(now, waiting_for=["shutdown"])
                if w.state in ("backoff", "waiting"):
                    w.request_stop(now)
            if self.node is not None:
                self.node.poll(TICK_S)
            else:
                time.sleep(TICK_S)

    def _has_running_dependents(self, worker: Worker) -> bool:
        return any(o.running and worker.name in o.spec.depends_on for o in self.workers.values())

    def _close(self) -> None:
        if self.node is not None:
            self.node.close()
            self.node = None
        self.bus.close()
        if self.proxy is not None and self.proxy.poll() is None:
            self.proxy.terminate(PROXY_GRACE_S, self.clock())
            if self.proxy.wait(PROXY_GRACE_S) is None:
                self.proxy.kill()
                self.proxy.wait(1.0)
        if self.control is not None:
            self.control.close()
        run = self.layout.runtime_dir
        reasons = run / REASONS_DIR
        left = list(reasons.iterdir()) if reasons.is_dir() else []
        for path in [run / BUS_FILE, *self.layout.socket_files(), *left]:
            Path(path).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            reasons.rmdir()
        clear_states(run)  # a clean stop forgets; a restarted worker resumed from it
        log.info("supervisor_stopped")

    # --- lifecycle events ------------------------------------------------------------------

    def _emit(
        self,
        event: str,
        worker: Worker,
        *,
        pid: int | None = None,
        exit_code: int | None = None,
        detail: str = "",
        delay_s: float = 0.0,
        silent_s: float = 0.0,
    ) -> None:
        if pid is None:
            pid = worker.child.pid if worker.child is not None else 0
        level = logging.WARNING if event in ("hung", "gave_up", "restarting") else logging.INFO
        log.log(
            level,
            "worker_%s name=%s pid=%d restarts=%d%s%s",
            event,
            worker.name,
            pid,
            worker.restarts,
            f" exit={exit_code}" if exit_code is not None else "",
            f" detail={detail!r}" if detail else "",
        )
        self._publish_lifecycle(
            LifecycleEvent(
                worker=worker.name,
                event=event,  # type: ignore[arg-type]
                pid=pid,
                exit_code=exit_code,
                restarts=worker.restarts,
                detail=detail,
                delay_s=delay_s,
                silent_s=round(silent_s, 3),
            )
        )

    def _publish_lifecycle(self, event: LifecycleEvent) -> None:
        if self.node is not None:
            self.node.publish("sys.lifecycle", event)
