"""rtapp and the rtgw worker under the real supervisor, driven over the real bus."""

from __future__ import annotations

import os
import shutil
import signal
import time
from typing import Any

import pytest

from bus.node import Node
from schemas.rtos import RtosAck, RtosCommand, RtosLink
from tests.supervision.harness import SupervisorProc, short_tmp

pytestmark = pytest.mark.slow


def collect(node: Node, out: list[Any], until: Any, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        msg = node.poll(0.05)
        if msg is not None:
            out.append(msg.payload)
        if until():
            return True
    return False


def test_commands_reach_rtapp_and_a_killed_rtapp_comes_back_with_a_new_epoch() -> None:
    tmp = short_tmp()
    region = tmp / "region"
    config = {
        "workers": {
            "rtapp": {
                "command": "rtos/build/rtapp",
                "args": ["--region", str(region), "--heartbeat-ms", "50"],
                "restart": "always",
                "manifest": {"kind": "stage", "link": "rtgw"},  # shared memory, not the bus
            },
            "rtgw": {
                "module": "workers.rtgw",
                "depends_on": ["rtapp"],
                "settings": {"region": f"shmfile:{region}", "heartbeat_ms": 50},
            },
        }
    }
    try:
        run_pipeline(config, region)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_pipeline(config: dict[str, Any], region: Any) -> None:
    tmp = region.parent
    with SupervisorProc(config, tmp) as sup:
        sup.wait_state("rtgw", "ready")
        probe = sup.node("probe")
        probe.subscribe("rtos.ack", "rtos.link", "sys.metric")
        probe.ready()
        got: list[Any] = []

        def acks(cmd_id: int) -> list[str]:
            return [p.status for p in got if isinstance(p, RtosAck) and p.cmd_id == cmd_id]

        def send(cmd_id: int) -> None:
            cmd = RtosCommand(cmd_id=cmd_id, kind="drive", linear_mps=0.2, duration_ms=100)
            probe.publish("rtos.command", cmd, trace=f"t{cmd_id}")

        # the gateway may still be handshaking: retry until a command is accepted
        for cmd_id in range(1, 20):
            send(cmd_id)
            if collect(probe, got, lambda c=cmd_id: "done" in acks(c), timeout_s=1.0):
                break
        else:
            raise AssertionError(f"no command completed: {got}\n{sup.log()}")

        # SIGSTOP of the gateway: the RT side loses the Linux heartbeat and stops the motors
        hold = RtosCommand(cmd_id=50, kind="drive", linear_mps=0.2, duration_ms=5000)
        probe.publish("rtos.command", hold)
        assert collect(probe, got, lambda: "started" in acks(50)), got
        gw_pid = sup.row("rtgw")["pid"]
        os.kill(gw_pid, signal.SIGSTOP)
        time.sleep(0.6)  # 12 heartbeat periods of 50 ms
        os.kill(gw_pid, signal.SIGCONT)
        assert collect(probe, got, lambda: "failed" in acks(50)), got
        failed = [p for p in got if isinstance(p, RtosAck) and p.cmd_id == 50][-1]
        assert failed.by == "rtos" and "heartbeat" in failed.reason

        os.kill(sup.row("rtapp")["pid"], signal.SIGKILL)
        assert collect(
            probe, got, lambda: any(isinstance(p, RtosLink) and p.state == "restarted" for p in got)
        ), sup.log()
        for cmd_id in range(100, 120):
            send(cmd_id)
            if collect(probe, got, lambda c=cmd_id: "done" in acks(c), timeout_s=1.0):
                break
        else:
            raise AssertionError(f"no command completed after the restart: {got}")
