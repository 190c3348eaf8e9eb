"""One OS process of a worker: spawned in its own process group, signalled as a group, reaped.

CPU affinity, nice and SCHED_FIFO are applied in the forked child before ``exec`` (they are
inherited across it), so the worker's first instruction already runs where it should. If they
cannot be applied (no privilege, a core offline), the child writes why to stderr and exits with
:data:`EXIT_SETUP_FAILED` instead of running unpinned.

Exit codes are normalised once, here: ``>= 0`` is the exit status, negative is the signal that
killed the process (``-9`` = SIGKILL).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from supervision.exitcodes import EXIT_CANNOT_RUN, EXIT_NOT_STARTED, EXIT_SETUP_FAILED

__all__ = ["ENV_PREPARED_FD", "EXIT_SETUP_FAILED", "Child", "Launch", "describe_exit"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
#: Environment variable of a standby launch: the descriptor to write one byte to once ready.
ENV_PREPARED_FD = "VOICEBUS_PREPARED_FD"
# Loaded before any fork: the child must not load libraries between fork and exec.
_LIBC = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one process."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    cpus: tuple[int, ...] | None = None
    nice: int | None = None
    sched_fifo: int | None = None
    standby: bool = False
    """The program waits for :meth:`Child.go` (``supervision.launch --standby``)."""


def describe_exit(code: int | None) -> str:
    """``-9`` -> ``killed by SIGKILL``, ``1`` -> ``exit 1``."""
    if code is None:
        return "-"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    if code == EXIT_SETUP_FAILED:
        return f"exit {code} (cpus/nice/sched_fifo could not be applied, see its stderr)"
    if code == EXIT_NOT_STARTED:
        return f"exit {code} (could not be started)"
    if code == EXIT_CANNOT_RUN:
        return f"exit {code} (cannot run as configured)"
    return f"exit {code}"


def _setup_in_child(launch: Launch) -> Callable[[], None]:
    # Runs between fork and exec; only plain system calls, no locks, no imports.
    def setup() -> None:
        # If the supervisor itself is killed (-9), its children must not live on as strays.
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        try:
            if launch.cpus:
                os.sched_setaffinity(0, launch.cpus)
            if launch.nice is not None:
                os.setpriority(os.PRIO_PROCESS, 0, launch.nice)
            if launch.sched_fifo is not None:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(launch.sched_fifo))
        except OSError as exc:
            os.write(
                2,
                f"voicebus supervisor: cannot apply cpus={launch.cpus} nice={launch.nice} "
                f"sched_fifo={launch.sched_fifo} to {launch.argv[0]}: {exc.strerror}. Run as "
                "root (or with CAP_SYS_NICE) or remove these settings.\n".encode(),
            )
            os._exit(EXIT_SETUP_FAILED)

    return setup


class Child:
    """A running (or just ended) process and its process group."""

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self.started_at = time.monotonic()
        env, self._prepared_fd = launch.env, -1
        pass_fds: tuple[int, ...] = ()
        if launch.standby:
            # The launcher writes one byte here once its imports are done (``prepared``).
            self._prepared_fd, write_fd = os.pipe()
            os.set_blocking(self._prepared_fd, False)
            env, pass_fds = {**env, ENV_PREPARED_FD: str(write_fd)}, (write_fd,)
        try:
            self._proc = subprocess.Popen(
                launch.argv,
                env=env,
                cwd=launch.cwd,
                stdin=subprocess.PIPE if launch.standby else subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_setup_in_child(launch),
                close_fds=True,
                pass_fds=pass_fds,
            )
        finally:
            for fd in pass_fds:
                os.close(fd)
        self.pid = self._proc.pid
        self._prepared = False
        self.exit_code: int | None = None
        self.kill_at: float | None = None
        """When a SIGTERM was sent: the time to follow it with SIGKILL."""

    @property
    def prepared(self) -> bool:
        """A standby process: its imports are done (it waits for :meth:`go`)."""
        if not self._prepared and self._prepared_fd >= 0:
            try:
                got = os.read(self._prepared_fd, 1)
            except BlockingIOError:
                return False
            self._prepared = bool(got)
            os.close(self._prepared_fd)
            self._prepared_fd = -1
        return self._prepared

    def go(self, env: dict[str, str]) -> None:
        """Let a standby process run, with ``env`` added to its environment."""
        stdin = self._proc.stdin
        assert stdin is not None, "go() is for a Launch with standby=True"
        stdin.write(json.dumps(env).encode() + b"\n")
        stdin.close()
        self.started_at = time.monotonic()

    @property
    def alive(self) -> bool:
        """True until the process was reaped."""
        return self.exit_code is None

    def poll(self) -> int | None:
        """Reap the process if it ended; return its normalised exit code (``None`` = running)."""
        if self.exit_code is None:
            code = self._proc.poll()
            if code is not None:
                self.exit_code = code
                if self._prepared_fd >= 0:
                    os.close(self._prepared_fd)
                    self._prepared_fd = -1
                if self._proc.stdin is not None and not self._proc.stdin.closed:
                    self._proc.stdin.close()
                # The leader is gone; anything it left in its group goes with it.
                self.signal(signal.SIGKILL)
        return self.exit_code

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole process group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def terminate(self, grace_s: float, now: float) -> None:
        """SIGTERM now; :meth:`enforce` sends SIGKILL once ``grace_s`` has passed."""
        if self.alive and self.kill_at is None:
            self.signal(signal.SIGTERM)
            self.signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self.kill_at = now + grace_s

    def enforce(self, now: float) -> bool:
        """SIGKILL a process whose grace period ran out; True if it was killed now."""
        if self.alive and self.kill_at is not None and now >= self.kill_at:
            log.warning("stop_grace_expired pid=%d action=SIGKILL", self.pid)
            self.signal(signal.SIGKILL)
            self.kill_at = float("inf")
            return True
        return False

    def kill(self) -> None:
        """SIGKILL the group at once."""
        self.signal(signal.SIGKILL)

    def owns(self, pid: int) -> bool:
        """True if ``pid`` is this process or in its process group."""
        if pid == self.pid:
            return True
        try:
            return os.getpgid(pid) == self.pid
        except (ProcessLookupError, PermissionError):
            return False

    def wait(self, timeout_s: float) -> int | None:
        """Block up to ``timeout_s`` for the end; return the code or ``None``."""
        try:
            self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None
        return self.poll()
