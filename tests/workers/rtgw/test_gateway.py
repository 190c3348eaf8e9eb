"""The gateway logic against an in-process RT endpoint on a synthetic clock, over a MemoryBus."""

from __future__ import annotations

import mmap
import struct
from typing import Any

from bus.memory import MemoryBus
from schemas.rtos import RtosAck, RtosCommand, RtosLink, RtosTelemetry
from workers.rtgw import layout, messages
from workers.rtgw.envelope import EnvelopeSettings
from workers.rtgw.gateway import Gateway, GatewaySettings
from workers.rtgw.ring import Endpoint

CAP = 4096


class Bench:
    """A gateway (endpoint 0) and a scripted RT side (endpoint 1) on one region."""

    def __init__(self, **envelope: Any) -> None:
        self.mm = mmap.mmap(-1, layout.region_size(CAP))
        self.settings = GatewaySettings(
            capacity=CAP, max_msg=256, heartbeat_ms=10, envelope=EnvelopeSettings(**envelope)
        )
        self.gw = Gateway(
            Endpoint(self.mm, 0, capacity=CAP, max_msg=256, hb_period_ms=10), self.settings
        )
        self.rt = Endpoint(self.mm, 1, capacity=CAP, max_msg=256, hb_period_ms=10)
        self.bus = MemoryBus()
        self.node = self.bus.node("rtgw")
        self.probe = self.bus.node("probe")
        self.probe.subscribe("rtos.*")
        self.t = 0.0
        self.step(0.05)

    def publish(self, out: list) -> None:
        for topic, payload, trace in out:
            self.node.publish(topic, payload, trace=trace)

    def step(self, seconds: float, rt_alive: bool = True) -> None:
        end = self.t + seconds
        while self.t < end:
            self.t += 0.001
            if rt_alive:
                self.rt.poll(int(self.t * 1000))
            self.publish(self.gw.step(self.t))

    def submit(self, trace: str = "", **fields: Any) -> None:
        self.publish(self.gw.submit(RtosCommand(**fields), trace, self.t))

    def received(self) -> list[Any]:
        return [(m.payload, m.trace) for m in self.probe]


def acks(items: list[Any], cmd_id: int) -> list[tuple[str, str]]:
    return [(p.status, p.by) for p, _ in items if isinstance(p, RtosAck) and p.cmd_id == cmd_id]


def test_link_up_then_commands_reach_the_ring_and_rt_records_reach_the_bus() -> None:
    b = Bench()
    got = b.received()
    assert any(isinstance(p, RtosLink) and p.state == "up" for p, _ in got)
    b.submit("turn-7", cmd_id=7, kind="drive", linear_mps=0.2, duration_ms=500)
    recs = [r for r in b.rt.recv_many() if r.rtype != messages.MSG_PING]
    assert [(r.rtype, r.flags) for r in recs] == [(0x0101, 0)]
    assert struct.unpack_from("<IHH", recs[0].payload) == (7, 500, 0)
    ack = struct.pack("<IHHiI", 7, 1, 0, 0, 123)
    tlm = struct.pack("<IHHiiiiiIII", 123, 1, 9000, 10, 0, 0, 200, 0, 0, 8200, 7)
    b.rt.send_many([(messages.MSG_ACK, 0, ack), (messages.MSG_TELEMETRY, 0, tlm)])
    b.step(0.005)
    got = b.received()
    assert acks(got, 7) == [("accepted", "gateway"), ("started", "rtos")]
    assert {tr for p, tr in got if isinstance(p, RtosAck)} == {"turn-7"}
    assert [p.active_cmd_id for p, _ in got if isinstance(p, RtosTelemetry)] == [7]


def test_set_points_coalesce_when_the_ring_is_full_and_expire_with_their_ttl() -> None:
    b = Bench()
    b.received()
    while b.gw.ep.send(0x7F20, bytes(16)) >= 0:  # the RT side stops reading; no byte left
        pass
    b.submit(cmd_id=1, kind="drive", linear_mps=0.1, ttl_ms=100)
    b.submit(cmd_id=2, kind="drive", linear_mps=0.2, ttl_ms=100)
    b.step(0.2)
    got = b.received()
    assert acks(got, 1) == [("rejected", "gateway")]
    assert acks(got, 2) == [("expired", "gateway")]
    assert "Superseded" in next(
        p.reason for p, _ in got if isinstance(p, RtosAck) and p.cmd_id == 1
    )


def test_stop_uses_the_reserve_when_the_ring_is_full() -> None:
    b = Bench()
    while b.gw.ep.send(0x7F20, bytes(200)) >= 0:
        pass
    b.submit(cmd_id=3, kind="stop")
    assert acks(b.received(), 3) == [("accepted", "gateway")]
    assert b.rt.recv_many()[-1].rtype == 0x0103


def test_rate_limit_rejects_with_a_reason() -> None:
    b = Bench(rate_per_s=1, burst=2)
    for i in range(3):
        b.submit(cmd_id=10 + i, kind="led", led_rgb=i)
    got = b.received()
    assert acks(got, 12) == [("rejected", "gateway")]
    assert b.gw.counters["rate_limited"] == 1
    b.submit(cmd_id=13, kind="stop")  # never rate limited
    assert acks(b.received(), 13) == [("accepted", "gateway")]


def test_rt_death_is_announced_commands_are_refused_and_a_restart_is_announced() -> None:
    b = Bench()
    b.received()
    b.step(0.1, rt_alive=False)  # 5 RT periods of 10 ms without a beat
    got = b.received()
    assert [p.state for p, _ in got if isinstance(p, RtosLink)] == ["down"]
    b.submit(cmd_id=20, kind="drive", linear_mps=0.1)
    assert "offline" in next(p.reason for p, _ in b.received() if isinstance(p, RtosAck))
    b.rt.close()
    b.rt = Endpoint(b.mm, 1, capacity=CAP, max_msg=256, hb_period_ms=10)  # restarted
    b.step(0.02)
    states = [p.state for p, _ in b.received() if isinstance(p, RtosLink)]
    assert states[0] == "restarted" and states[-1] == "up"
    assert b.gw.metrics()["rtgw.online"] == 1.0


def test_a_protocol_error_is_published_and_the_gateway_reinitialises() -> None:
    b = Bench()
    b.received()
    epoch = b.gw.ep.epoch
    struct.pack_into("<I", b.mm, layout.block_size(CAP) + layout.OFF_TX_TAIL, 0x100000)
    b.publish(b.gw.step(b.t))  # before the RT side heals its tail on its next poll
    b.step(0.02)
    states = [p.state for p, _ in b.received() if isinstance(p, RtosLink)]
    assert states[0] == "fault" and b.gw.ep.epoch != epoch
    assert b.gw.metrics()["rtgw.rx_proto_err"] >= 1
    assert b.gw.online


def test_a_missing_rt_side_is_reported_once_after_the_attach_timeout() -> None:
    mm = mmap.mmap(-1, layout.region_size(CAP))
    s = GatewaySettings(capacity=CAP, max_msg=256, attach_timeout_s=0.5)
    gw = Gateway(Endpoint(mm, 0, capacity=CAP, max_msg=256), s)
    out = [o for t in range(100) for o in gw.step(t * 0.01)]
    links = [p for _, p, _ in out if isinstance(p, RtosLink)]
    assert len(links) == 1 and links[0].state == "down" and "same region" in links[0].detail


def test_pings_go_out_once_per_period_while_online() -> None:
    b = Bench()
    b.rt.recv_many()
    b.step(2.5)
    pings = [r for r in b.rt.recv_many() if r.rtype == messages.MSG_PING]
    assert len(pings) in (2, 3)


def test_the_doorbell_wakes_the_gateway_which_drains_the_ring(tmp_path: Any) -> None:
    """The wake path the worker uses once the node can wait on an extra descriptor."""
    import select

    from workers.rtgw.doorbell import FifoDoorbell

    py_in, rt_in = str(tmp_path / "db-py"), str(tmp_path / "db-rt")
    mm = mmap.mmap(-1, layout.region_size(CAP))
    settings = GatewaySettings(capacity=CAP, max_msg=256, heartbeat_ms=10)
    gw_bell, rt_bell = FifoDoorbell(py_in, rt_in), FifoDoorbell(rt_in, py_in)
    gw = Gateway(Endpoint(mm, 0, capacity=CAP, max_msg=256, hb_period_ms=10), settings, gw_bell)
    rt = Endpoint(mm, 1, capacity=CAP, max_msg=256, hb_period_ms=10)
    for t in range(5):
        rt.poll(t)
        gw.step(t / 1000)
    fd = gw.wake_fd
    assert gw.online and fd is not None and fd == gw_bell.fileno()
    gw.on_wake(0.005)  # drain whatever the link-up left
    assert gw.prepare_wait()  # armed, nothing pending: the worker may block
    assert select.select([fd], [], [], 0)[0] == []
    tlm = struct.pack("<IHHiiiiiIII", 1, 0, 9000, 0, 0, 0, 0, 0, 0, 8200, 0)
    assert rt.send(messages.MSG_TELEMETRY, tlm) == 1  # we are armed: the RT side must kick
    rt_bell.kick()
    assert select.select([fd], [], [], 1.0)[0] == [fd]
    out = gw.on_wake(0.006)
    assert [type(p) for _, p, _ in out] == [RtosTelemetry]
    assert select.select([fd], [], [], 0)[0] == []  # drained
    assert rt.send(messages.MSG_TELEMETRY, tlm) == 0  # disarmed: no kick needed
    assert not gw.prepare_wait()  # a record is pending: do not block
    gw.close()
    rt_bell.close()
