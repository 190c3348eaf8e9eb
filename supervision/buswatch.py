"""Whether the bus is up: the proxy process, and the supervisor's own messages coming back.

The proxy is the supervisor's first child. When it exits it is started again at once (at most
one start per :data:`PROXY_RESTART_DELAY_S`), from a **spare** that has already done its imports
(``supervision.launch --standby``, as a worker's ``standby``), so the bus is back in tens of ms
rather than an interpreter start; a new spare is made once the bus is up again.

The bus is **down** while the proxy is dead, and also while nothing comes back to the
supervisor's own node (its own heartbeat, every ``heartbeat_ms``, at least): a lost link to
another board's proxy, a stopped proxy. While it is down no worker is blamed for its silence
(the arbiter excuses them all), no worker is started (it could not join), and a worker that ends
meanwhile is not counted against its restart budget (:mod:`supervision.worker`).

A restart of the proxy is announced on ``sys.lifecycle`` as worker ``proxy`` once the bus is
back: ``exited`` (the old proxy's exit code, ``silent_s`` = how long the bus was down: what was
published meanwhile is lost), then ``ready``. Every node reconnects on its own, at its next try
(libzmq tries again every :data:`~bus.connect.RECONNECT_IVL_MS` plus a random jitter of up to as
much), and only then subscribes again: what is published on the new proxy before a subscriber's
subscription has passed it is lost to that subscriber. Hearing a worker again does not show
that it can hear (its heartbeat has a socket of its own), and a tap never beats at all, so the
announcement waits for both: every node's next try (:data:`RESUBSCRIBE_S` after the bus is
back), and every ready worker heard again (at most :data:`ANNOUNCE_WAIT_S`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from bus.connect import RECONNECT_IVL_MS
from schemas.system import LifecycleEvent
from supervision.buslayout import BusLayout
from supervision.child import Child, Launch, describe_exit
from supervision.config import PROJECT_ROOT

__all__ = ["ANNOUNCE_WAIT_S", "PROXY_RESTART_DELAY_S", "RESUBSCRIBE_S", "BusWatch", "ProxyRestart"]

log = logging.getLogger(__name__)

#: Shortest time between two starts of the proxy, s.
PROXY_RESTART_DELAY_S = 0.5
#: Longest wait, once the bus is back, for every ready worker to be heard again, s.
ANNOUNCE_WAIT_S = 1.0
#: Once the bus is back (the new proxy forwards), every node has reconnected and subscribed
#: again within this long, s: its next try comes within twice the reconnect interval (the
#: jitter), and its subscriptions then cross the proxy to the publishers, which on a busy
#: machine takes a few scheduling turns (0.1 s here). Without this wait the announcement went
#: out as soon as the workers beat again, often before a tap had reconnected.
RESUBSCRIBE_S = 2 * RECONNECT_IVL_MS / 1000 + 0.1


@dataclass
class ProxyRestart:
    """A restart of the proxy, to be announced once the bus is back."""

    old_pid: int
    exit_code: int
    down_at: float
    up_at: float = -1.0
    heard: frozenset[str] = frozenset()

    @property
    def down_s(self) -> float:
        """How long the bus was down, s."""
        return max(0.0, self.up_at - self.down_at) if self.up_at >= 0 else 0.0

    def events(self, name: str, new_pid: int, restarts: int) -> list[LifecycleEvent]:
        """The ``sys.lifecycle`` events announcing it (worker ``name``)."""
        detail = (
            f"the bus proxy {describe_exit(self.exit_code)}; restarted, the bus was down "
            f"{self.down_s:.2f} s: what was published meanwhile is lost"
        )
        return [
            LifecycleEvent(
                worker=name,
                event="exited",
                pid=self.old_pid,
                exit_code=self.exit_code,
                restarts=restarts,
                detail=detail,
                silent_s=round(self.down_s, 3),
            ),
            LifecycleEvent(worker=name, event="ready", pid=new_pid, restarts=restarts),
        ]


class BusWatch:
    """The proxy child (and its spare) and the bus's health as the supervisor sees it."""

    def __init__(self, layout: BusLayout, heartbeat_s: float, *, spare: bool = True) -> None:
        self.layout = layout
        self.silence_limit_s = 1.5 * heartbeat_s + 0.05
        """No message for this long (our own heartbeat comes every ``heartbeat_s``): down."""
        self.use_spare = spare
        self.proxy: Child | None = None
        self.spare: Child | None = None
        self.restarts = 0
        self.last_traffic = 0.0
        self.restart: ProxyRestart | None = None
        self.down = False
        self._env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}

    # --- the proxy -----------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Start the first proxy."""
        self.proxy = Child(Launch(tuple(self.layout.proxy_argv()), self._env, PROJECT_ROOT))
        self.last_traffic = now
        log.info("proxy_spawned pid=%d", self.proxy.pid)

    def _make_spare(self) -> None:
        if not self.use_spare or self.spare is not None:
            return
        argv = self.layout.proxy_argv()
        argv = [sys.executable, "-m", "supervision.launch", "--standby", *argv[1:]]
        try:
            self.spare = Child(Launch(tuple(argv), self._env, PROJECT_ROOT, standby=True))
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("proxy_spare_failed error=%s", exc)

    def _respawn(self, now: float) -> None:
        spare, self.spare = self.spare, None
        if spare is not None and spare.poll() is None:
            spare.go({})
            self.proxy = spare
        else:
            self.proxy = Child(Launch(tuple(self.layout.proxy_argv()), self._env, PROJECT_ROOT))
        self.restarts += 1
        log.info("proxy_spawned pid=%d spare=%s", self.proxy.pid, spare is not None)

    # --- each turn -----------------------------------------------------------------------

    def traffic(self, now: float) -> None:
        """A message came back through the bus."""
        self.last_traffic = now
        r, proxy = self.restart, self.proxy
        if r is not None and r.up_at < 0 and proxy is not None and proxy.poll() is None:
            r.up_at = now
            self._make_spare()

    def heard(self, worker: str) -> None:
        """A heartbeat of ``worker`` came (after a restart: it is back on the bus)."""
        r = self.restart
        if r is not None and r.up_at >= 0:
            r.heard = r.heard | {worker}

    def check(self, now: float) -> bool:
        """Restart an exited proxy; return whether the bus is down now."""
        proxy = self.proxy
        if self.spare is not None and self.spare.poll() is not None:
            self.spare = None
        if proxy is not None and proxy.poll() is not None:
            if self.restart is None or self.restart.up_at >= 0:
                code = proxy.exit_code if proxy.exit_code is not None else 0
                self.restart = ProxyRestart(proxy.pid, code, now)
            if proxy.started_at + PROXY_RESTART_DELAY_S <= now:
                log.error("proxy_exited %s action=restart", describe_exit(proxy.exit_code))
                self._respawn(now)
            self.down = True
            return True
        if self.spare is None and self.restart is None and self.proxy is not None:
            self._make_spare()
        silent_s = now - self.last_traffic
        down = silent_s > self.silence_limit_s or (
            self.restart is not None and self.restart.up_at < 0
        )
        if down != self.down:
            log.warning("bus_%s silent_s=%.1f", "down" if down else "up", silent_s)
        self.down = down
        return down

    def announcement(self, ready: set[str], now: float) -> ProxyRestart | None:
        """The restart to announce now (once): every node has had its turn to subscribe again,
        and every ready worker was heard again (or the wait for them is over)."""
        r = self.restart
        if r is None or r.up_at < 0 or now < r.up_at + RESUBSCRIBE_S:
            return None
        if not ready <= r.heard and now < r.up_at + ANNOUNCE_WAIT_S:
            return None
        self.restart = None
        return r

    def status(self) -> dict[str, Any]:
        """The ``bus`` part of ``status``."""
        return {
            "pid": self.proxy.pid if self.proxy is not None else None,
            "standby_pid": self.spare.pid if self.spare is not None else None,
            "restarts": self.restarts,
            "down": self.down,
        }

    def close(self) -> None:
        """Drop the spare (the proxy itself is stopped by the arbiter)."""
        if self.spare is not None:
            self.spare.kill()
            self.spare.wait(2.0)
            self.spare = None
