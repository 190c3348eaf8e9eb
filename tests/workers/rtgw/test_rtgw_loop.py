"""The rtgw worker's loop on a memory bus in simulated time, with the RT side run between ticks."""

from __future__ import annotations

import mmap
import struct
from collections.abc import Sequence
from pathlib import Path

import pytest

from bus import MemoryBus
from schemas.rtos import RtosAck, RtosCommand, RtosLink
from schemas.system import Metric
from tests.bus.conftest import ProxyProc
from tests.fakeclock import MS, FakeClock
from tests.workers.cannot_run import cannot_run
from workers.rtgw import layout, messages
from workers.rtgw.__main__ import serve
from workers.rtgw.gateway import Gateway
from workers.rtgw.manifest import MANIFEST
from workers.rtgw.ring import Endpoint
from workers.rtgw.settings import GatewaySettings

CAP = 4096


def test_a_command_reaches_the_ring_and_its_acks_come_back_with_the_trace() -> None:
    mm = mmap.mmap(-1, layout.region_size(CAP))
    settings = GatewaySettings(capacity=CAP, max_msg=256, heartbeat_ms=10, metrics_every_s=0.1)
    gw = Gateway(Endpoint(mm, 0, capacity=CAP, max_msg=256, hb_period_ms=10), settings)
    rt = Endpoint(mm, 1, capacity=CAP, max_msg=256, hb_period_ms=10)
    clock = FakeClock()
    rt_got: list[int] = []

    def rt_side(ns: int, fds: Sequence[int]) -> Sequence[int] | None:
        """The RT application runs while the gateway's loop waits for its next tick."""
        woke = clock.sleep(ns, fds)
        rt.poll(clock.now_ns // MS)
        for rec in rt.recv_many():
            if rec.rtype != messages.MSG_PING:
                (cmd_id,) = struct.unpack_from("<I", rec.payload)
                rt_got.append(cmd_id)
                rt.send(messages.MSG_ACK, struct.pack("<IHHiI", cmd_id, 1, 0, 0, 1))
        return woke

    bus = MemoryBus(clock=clock, sleep=rt_side)
    node = bus.node("rtgw", settings.model_dump(mode="json"), manifest=MANIFEST)
    dialog, probe = bus.node("dialog"), bus.node("probe")
    probe.subscribe("rtos.*", "sys.metric")
    clock.run_for(0.1)  # the link comes up
    serve(node, gw, settings)
    assert any(isinstance(m.payload, RtosLink) and m.payload.state == "up" for m in probe)
    command = RtosCommand(cmd_id=7, kind="drive", linear_mps=0.2, duration_ms=500)
    dialog.publish("rtos.command", command, trace="turn-7")
    clock.run_for(0.2)
    serve(node, gw, settings)
    got = list(probe)
    acks = [(m.payload.status, m.trace) for m in got if isinstance(m.payload, RtosAck)]
    assert rt_got == [7]
    assert acks == [("accepted", "turn-7"), ("started", "turn-7")]
    assert any(isinstance(m.payload, Metric) for m in got)  # ring counters on the ticks
    gw.close()


@pytest.mark.slow
def test_the_worker_with_a_region_it_cannot_open_cannot_run_and_names_it(
    tmp_path: Path, proxy: ProxyProc
) -> None:
    settings = {"region": f"shmfile:{tmp_path}/no-such-dir/region"}
    reason = cannot_run("workers.rtgw", settings, tmp_path, proxy=proxy)
    assert reason == f"Region directory {tmp_path}/no-such-dir does not exist; create it first."
