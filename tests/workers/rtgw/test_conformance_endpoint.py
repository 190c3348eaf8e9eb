"""The Python endpoint and the gateway against an independent IVMR v1 peer (issue 12).

The peer (tests/rtos/specpeer.py) is written from the spec and plays the RT side (endpoint 1);
the gateway runs on a synthetic clock and the peer beats on every step, so nothing here depends
on the machine's speed.
"""

from __future__ import annotations

import mmap
import random
import struct
from collections import Counter
from typing import Any

import pytest

from schemas.rtos import RtosAck, RtosCommand, RtosLink, RtosTelemetry
from tests.rtos.specpeer import FAULT, O_FAULT, O_STATE, SpecFault, SpecPeer, block1_offset
from workers.rtgw import layout
from workers.rtgw.envelope import EnvelopeSettings
from workers.rtgw.errors import RingFault
from workers.rtgw.gateway import Gateway, GatewaySettings
from workers.rtgw.ring import EFULL, EV_LINK_UP, Endpoint

ACK, TELEMETRY, PING, PONG = 0x0202, 0x0201, 0x0001, 0x0002
FINAL = {"done", "rejected", "expired", "failed"}


def region(linux_capacity: int, rt_capacity: int) -> mmap.mmap:
    return mmap.mmap(-1, block1_offset(linux_capacity) + block1_offset(rt_capacity))


def link(ep: Endpoint, peer: SpecPeer, t0: int = 0) -> int:
    for t in range(t0, t0 + 20):
        ep.poll(t)
        peer.beat()
        peer.poll(beat=False)
        if ep.linked and peer.linked:
            return t + 1
    raise AssertionError("no link")


def ack_payload(cmd_id: int, status: int, reason: int = 0) -> bytes:
    return struct.pack("<IHHiI", cmd_id, status, reason, 0, 0)


def telemetry_payload(active: int = 0) -> bytes:
    return struct.pack("<IHHiiiiiIII", 0, 0, 10000, 0, 0, 0, 0, 0, 0, 8000, active)


@pytest.mark.parametrize(
    ("cap", "max_msg", "peer_cap", "peer_max"),
    [
        (4096, 256, 4096, 64),
        (16384, 1024, 16384, 2048),
        (16384, 1024, 65536, 4096),
        (65536, 4096, 4096, 1008),
        (4096, 1008, 65536, 256),
    ],
)
def test_endpoint_exchanges_with_a_peer_of_any_valid_geometry(
    cap: int, max_msg: int, peer_cap: int, peer_max: int
) -> None:
    mm = region(cap, peer_cap)
    ep = Endpoint(mm, 0, capacity=cap, max_msg=max_msg, hb_period_ms=10)
    peer = SpecPeer(mm, 1, capacity=peer_cap, max_msg=peer_max, linux_capacity=cap)
    t = link(ep, peer)
    assert ep.peer_max_msg == peer_max
    rng = random.Random(cap ^ peer_cap)
    limit = min(max_msg, peer_max)
    to_peer = [rng.randbytes(rng.randint(0, limit)) for _ in range(400)]
    to_ep = [rng.randbytes(rng.randint(0, limit)) for _ in range(400)]
    got_peer: list[bytes] = []
    got_ep: list[bytes] = []
    i = j = 0
    while len(got_peer) < len(to_peer) or len(got_ep) < len(to_ep):
        t += 1
        ep.poll(t)
        peer.poll()
        while i < len(to_peer) and ep.send(0x7F10, to_peer[i]) >= 0:
            i += 1
        while j < len(to_ep) and peer.send(0x7F11, to_ep[j]):
            j += 1
        got_peer += [r.payload for r in peer.recv()]
        got_ep += [r.payload for r in ep.recv_many()]
        assert t < 100_000
    assert got_peer == to_peer and got_ep == to_ep  # thousands of wraps and PADs both ways
    assert peer.crc_errors == 0 and peer.missing == 0
    stats = ep.stats()
    assert stats["rx_crc_err"] == stats["rx_seq_gap"] == stats["rx_proto_err"] == 0


def test_endpoint_bounds_records_by_its_own_max_msg() -> None:
    """Item 3 (section 7): the receiver's own max_msg, not the larger of the two."""
    mm = region(4096, 4096)
    ep = Endpoint(mm, 0, capacity=4096, max_msg=256, hb_period_ms=10)
    peer = SpecPeer(mm, 1, capacity=4096, max_msg=1008)
    link(ep, peer)
    assert peer.send(0x7F10, bytes(256))
    assert [len(r.payload) for r in ep.recv_many()] == [256]
    assert peer.send(0x7F10, bytes(600), respect_peer=False)  # a peer that ignores our limit
    with pytest.raises(RingFault) as exc:
        ep.recv_many()
    assert exc.value.code == 3
    # and we never send the peer more than its own limit (it would fault): EMSGSIZE instead
    mm2 = region(4096, 4096)
    ep2 = Endpoint(mm2, 0, capacity=4096, max_msg=1008, hb_period_ms=10)
    link(ep2, SpecPeer(mm2, 1, capacity=4096, max_msg=64))
    assert ep2.send(0x7F10, bytes(65)) == -7 and ep2.send(0x7F10, bytes(64)) >= 0


class Rig:
    """The gateway (endpoint 0) and the spec peer as the RT side, on a synthetic clock."""

    def __init__(self, capacity: int = 4096, peer_version: int = 1, **envelope: Any) -> None:
        self.mm = region(capacity, capacity)
        self.settings = GatewaySettings(
            capacity=capacity, max_msg=256, heartbeat_ms=10, ack_grace_s=0.5,
            envelope=EnvelopeSettings(**envelope),
        )  # fmt: skip
        ep = Endpoint(self.mm, 0, capacity=capacity, max_msg=256, hb_period_ms=10)
        self.gw = Gateway(ep, self.settings)
        self.peer = SpecPeer(
            self.mm, 1, capacity=capacity, max_msg=256, hb_ms=10, version_major=peer_version
        )
        self.out: list[tuple[str, Any, str]] = []
        self.t = 0.0
        self.beating = True

    def step(self, seconds: float = 0.001, on_record: Any = None, read: bool = True) -> None:
        end = self.t + seconds
        while self.t < end:
            self.t += 0.001
            if self.beating:
                self.peer.beat()
            try:
                self.peer.poll(beat=False)
            except SpecFault:
                pass
            for rec in self.peer.recv() if read else []:
                if on_record is not None:
                    on_record(rec)
            self.out += self.gw.step(self.t)

    def submit(self, **fields: Any) -> None:
        self.out += self.gw.submit(RtosCommand(**fields), f"tr-{fields['cmd_id']}", self.t)

    def links(self) -> list[str]:
        return [p.state for _, p, _ in self.out if isinstance(p, RtosLink)]

    def acks(self) -> list[RtosAck]:
        return [p for _, p, _ in self.out if isinstance(p, RtosAck)]


def test_gateway_comes_up_after_a_peer_that_reacks_at_once_after_a_restart() -> None:
    """Item 2: the peer restarts and acks our epoch before our next poll."""
    r = Rig()
    r.step(0.05)
    assert r.links() == ["up"]
    for _ in range(3):
        r.out.clear()
        r.peer.restart(reattach_at_once=True)
        assert r.peer.attached
        ev = r.gw.ep.poll(int(r.t * 1000))
        assert ev & EV_LINK_UP
        r.out += r.gw._events(ev)
        r.step(0.01)
        assert r.links() == ["restarted", "up"] and r.gw.online


def test_endpoint_drops_consume_sequence_numbers_and_gaps_count_missing_records() -> None:
    """Item 4 (section 6): a dropped record leaves a gap; the gap counts what is missing."""
    mm = region(4096, 4096)
    ep = Endpoint(mm, 0, capacity=4096, max_msg=256, hb_period_ms=10)
    peer = SpecPeer(mm, 1, capacity=4096, max_msg=256)
    link(ep, peer)
    while ep.send(0x7F10, bytes(100)) >= 0:
        pass
    assert ep.send(0x7F10, bytes(100)) == EFULL
    dropped = [ep.drop() for _ in range(3)]  # the producer gives these up
    assert peer.recv() and peer.missing == 0
    assert ep.send(0x7F10, b"after") >= 0
    assert [r.seq for r in peer.recv()] == [dropped[-1] + 1] and peer.missing == 3
    peer.skip_seq()
    assert peer.send(0x7F11, b"first") and len(ep.recv_many()) == 1
    assert ep.stats()["rx_seq_gap"] == 0  # the consumer syncs to the first seq it sees
    for _ in range(5):
        peer.skip_seq()
    assert peer.send(0x7F11, b"x") and peer.send(0x7F11, b"y")
    assert len(ep.recv_many()) == 2
    assert ep.stats()["rx_seq_gap"] == 5  # the records missing, not the number of gaps


def test_gateway_counts_unknown_types_and_answers_pings() -> None:
    """Item 5 (section 3): unknown types counted and skipped; PING is a link type both ways."""
    r = Rig()
    r.step(0.05)
    for rtype in (0x02F0, 0x0150, 0x7F55, PONG):  # a PONG without its token is not a PONG
        assert r.peer.send(rtype, bytes(4))
    assert r.peer.send(PING, struct.pack("<Q", 77))
    pongs: list[bytes] = []

    def rt(rec: Any) -> None:
        if rec.rtype == PONG:
            pongs.append(rec.payload)

    r.step(0.01, on_record=rt)
    assert r.gw.ep.stats()["rx_unknown"] == 4
    assert pongs == [struct.pack("<Q", 77)]
    assert r.gw.metrics()["rtgw.pings_answered"] == 1


def test_gateway_goes_to_fault_on_a_peer_of_another_major_version() -> None:
    """Item 6 (sections 3, 7): refused, FAULT, reported once, retried when the peer changes."""
    r = Rig(peer_version=2)
    r.step(0.2)
    assert struct.unpack_from("<I", r.mm, O_STATE)[0] == FAULT
    assert struct.unpack_from("<I", r.mm, O_FAULT)[0] == 6
    assert r.links() == ["fault"]  # once, not once per poll
    r.submit(cmd_id=1, kind="led", led_rgb=1)
    assert [(a.status, a.by) for a in r.acks()] == [("rejected", "gateway")]
    r.peer.version_major = 1
    r.peer.restart(reattach_at_once=False)
    r.step(0.05)
    assert r.links()[-1] == "up" and r.gw.online
    assert struct.unpack_from("<I", r.mm, O_STATE)[0] == layout.STATE_READY


def test_gateway_forwards_telemetry_while_the_rt_heartbeat_is_lost() -> None:
    """Item 7 (section 5), Linux side: RT lost is reported, its samples still reach the bus."""
    r = Rig()
    r.step(0.05)
    r.beating = False
    r.step(0.1)
    assert r.links()[-1] == "down"
    r.out.clear()
    for _ in range(3):
        assert r.peer.send(TELEMETRY, telemetry_payload())
        r.step(0.01)
    assert sum(isinstance(p, RtosTelemetry) for _, p, _ in r.out) == 3


def test_gateway_ends_every_command_of_a_flood_in_exactly_one_final_ack() -> None:
    """Item 8, Linux side: RT acks lost, duplicated, late or never sent; ring full; restart."""
    r = Rig(rate_per_s=10_000, burst=10_000, max_pending=8, max_duration_ms=2000)
    r.step(0.05)
    rng = random.Random(8)
    fate: dict[int, str] = {}
    owed: list[tuple[float, int, int]] = []  # (when, cmd_id, status) the RT side will send

    def rt(rec: Any) -> None:
        if not 0x0101 <= rec.rtype <= 0x01FF:
            return
        cmd_id = struct.unpack_from("<I", rec.payload)[0]
        f = fate[cmd_id] = rng.choice(["done", "done", "dup", "lost", "late", "started"])
        if f in ("done", "dup"):
            owed.append((r.t, cmd_id, 2))
        if f == "dup":
            owed.append((r.t + 0.01, cmd_id, 2))
        if f == "late":
            owed.append((r.t + 5.0, cmd_id, 2))  # after its deadline
        if f == "started":
            owed.append((r.t, cmd_id, 1))  # then only telemetry saying it is over

    cmd_id = 0
    for burst in range(40):
        for _ in range(rng.randint(1, 30) if burst % 4 else 120):
            cmd_id += 1
            kind = rng.choice(["led", "drive", "turn", "buzzer"])
            fields: dict[str, Any] = {"cmd_id": cmd_id, "kind": kind, "ttl_ms": 300}
            if kind == "drive":
                fields.update(linear_mps=0.1, duration_ms=200)
            elif kind == "turn":
                fields.update(angle_deg=10)
            elif kind == "buzzer":
                fields.update(buzzer_hz=440, duration_ms=100)
            r.submit(**fields)
        if burst % 4:
            r.step(0.004, on_record=rt)
        else:
            r.step(0.4, read=False)  # the RT side lags: the ring fills, commands wait
        due = [o for o in owed if o[0] <= r.t]
        for o in due:
            if r.peer.send(ACK, ack_payload(o[1], o[2])):
                owed.remove(o)
        if burst % 10 == 9:
            assert r.peer.send(TELEMETRY, telemetry_payload(active=0))
    end = r.t + 8.0
    while r.t < end:
        r.step(0.01, on_record=rt)
        for o in [o for o in owed if o[0] <= r.t]:
            if r.peer.send(ACK, ack_payload(o[1], o[2])):
                owed.remove(o)
        r.peer.send(TELEMETRY, telemetry_payload(active=0))
    finals = Counter(a.cmd_id for a in r.acks() if a.status in FINAL)
    assert set(finals) == set(range(1, cmd_id + 1))  # every command ended ...
    dbl = [c for c, n in finals.items() if n > 1]
    assert not dbl, [(a.cmd_id, a.status, a.by, a.reason) for a in r.acks() if a.cmd_id in dbl[:2]]
    m = r.gw.metrics()
    lost = sum(f in ("lost", "late") for f in fate.values())
    started_motion = [c for c, f in fate.items() if f == "started"]
    assert m["rtgw.ack_timeouts"] + m["rtgw.acks_lost"] == lost + len(started_motion)
    assert m["rtgw.late_acks"] == sum(f in ("dup", "late") for f in fate.values())
    assert m["rtgw.in_flight"] == 0
    assert any(a.status == "expired" for a in r.acks())  # the ring filled while the RT lagged
    traces = {tr for t, p, tr in r.out if isinstance(p, RtosAck)}
    assert "" not in traces
