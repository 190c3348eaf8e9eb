"""A host rig for the RT app: rtapp as a real process, the gateway logic in this process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas.base import Message
from schemas.rtos import RtosAck, RtosCommand, RtosLink, RtosTelemetry
from workers.rtgw import layout
from workers.rtgw.envelope import EnvelopeSettings
from workers.rtgw.gateway import Gateway, GatewaySettings
from workers.rtgw.region import Region, open_region
from workers.rtgw.ring import Endpoint

ROOT = Path(__file__).resolve().parents[2]
RTAPP = ROOT / "rtos" / "build" / "rtapp"
#: How to start the car app: $RTAPP_WRAPPER $RTAPP (make check-aarch64 sets an aarch64 build
#: under qemu-aarch64), else the host build.
RTAPP_CMD = [*os.environ.get("RTAPP_WRAPPER", "").split(), os.environ.get("RTAPP", str(RTAPP))]
HB_MS = 50  # dead after 250 ms: a loaded CI machine does not stall a process that long


class Rig:
    """rtapp on a region file plus a :class:`Gateway` on the same file; collects outputs."""

    def __init__(self, tmp: Path, rt_args: tuple[str, ...] = (), **envelope: Any) -> None:
        self.path = tmp / "region"
        self.rt_args = rt_args
        self.settings = GatewaySettings(
            region=f"shmfile:{self.path}",
            heartbeat_ms=HB_MS,
            envelope=EnvelopeSettings(**envelope),
        )
        self.out: list[tuple[str, Message, str]] = []
        self.region: Region = open_region(self.settings.region, layout.region_size(16384))
        self.rt: subprocess.Popen[bytes] | None = None
        self.start_rt()
        self.gw = self.new_gateway()

    def start_rt(self) -> None:
        self.rt = subprocess.Popen(
            [*RTAPP_CMD, "--region", str(self.path), "--heartbeat-ms", str(HB_MS), *self.rt_args],
            stderr=subprocess.DEVNULL,
        )

    def new_gateway(self) -> Gateway:
        """A fresh gateway endpoint (new epoch) as after a restart of the worker."""
        ep = Endpoint(self.region.buffer, 0, hb_period_ms=HB_MS)
        return Gateway(ep, self.settings)

    def signal_rt(self, sig: int) -> None:
        """Send ``sig`` to the car app; for SIGSTOP, return once every thread of it has stopped
        (``kill`` returns before that, and under qemu a thread may run on for a while: a
        command submitted meanwhile would be read by an app the test takes for frozen)."""
        assert self.rt is not None
        os.kill(self.rt.pid, sig)
        if sig == signal.SIGSTOP:
            _wait_stopped(self.rt.pid)

    def run(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.out += self.gw.step(time.monotonic())
            time.sleep(0.002)

    def run_until(self, pred: Callable[[], bool], timeout_s: float = 5.0) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.out += self.gw.step(time.monotonic())
            if pred():
                return True
            time.sleep(0.002)
        return False

    def submit(self, trace: str = "", **fields: Any) -> None:
        self.out += self.gw.submit(RtosCommand(**fields), trace, time.monotonic())

    def acks(self, cmd_id: int, by: str | None = None) -> list[RtosAck]:
        return [
            p
            for t, p, _ in self.out
            if isinstance(p, RtosAck) and p.cmd_id == cmd_id and (by is None or p.by == by)
        ]

    def statuses(self, cmd_id: int) -> list[str]:
        return [a.status for a in self.acks(cmd_id)]

    def links(self) -> list[str]:
        return [p.state for _, p, _ in self.out if isinstance(p, RtosLink)]

    def telemetry(self) -> list[RtosTelemetry]:
        return [p for _, p, _ in self.out if isinstance(p, RtosTelemetry)]

    def wait_up(self) -> None:
        assert self.run_until(lambda: self.gw.online and bool(self.telemetry())), "no link"

    def close(self) -> None:
        if self.rt is not None and self.rt.poll() is None:
            self.signal_rt(signal.SIGCONT)
            self.rt.terminate()
            self.rt.wait(timeout=5)
        self.gw.close()
        self.gw.ep.close()


def _wait_stopped(pid: int, timeout_s: float = 5.0) -> None:
    """Wait until every thread of ``pid`` is in state T (stopped), per ``/proc``."""
    deadline = time.monotonic() + timeout_s
    while True:
        states = []
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            try:
                states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
            except (OSError, IndexError):
                continue  # a thread that ended meanwhile
        if states and all(st in ("T", "t") for st in states):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the car app (pid {pid}) did not stop: thread states {states}")
        time.sleep(0.001)
