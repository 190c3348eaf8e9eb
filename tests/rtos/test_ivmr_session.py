"""Session rules of the ring core, on a synthetic clock: liveness, restart, overflow, faults."""

from __future__ import annotations

import mmap
import random
import struct

from workers.rtgw import layout
from workers.rtgw.errors import RingFault
from workers.rtgw.ring import (
    EFULL,
    ENOLINK,
    EV_LINK_UP,
    EV_PEER_ALIVE,
    EV_PEER_DEAD,
    EV_PEER_RESTARTED,
    EV_REFUSED,
    EV_RETRY,
    Endpoint,
)

CAP = 4096
HB = 10


def pair(capacity: int = CAP, max_msg: int = 256) -> tuple[mmap.mmap, Endpoint, Endpoint]:
    mm = mmap.mmap(-1, layout.region_size(capacity))
    a = Endpoint(mm, 0, capacity=capacity, max_msg=max_msg, hb_period_ms=HB)
    b = Endpoint(mm, 1, capacity=capacity, max_msg=max_msg, hb_period_ms=HB)
    return mm, a, b


def pump(a: Endpoint, b: Endpoint, t0: int, t1: int, step: int = 1) -> tuple[int, int]:
    """Poll both from t0 to t1 ms; returns the OR of each side's events."""
    ea = eb = 0
    for t in range(t0, t1, step):
        ea |= a.poll(t)
        eb |= b.poll(t)
    return ea, eb


def test_handshake_links_both_sides() -> None:
    _, a, b = pair()
    assert a.send(0x101, b"x") == ENOLINK
    ea, eb = pump(a, b, 0, 3)
    assert ea & EV_LINK_UP and eb & EV_LINK_UP
    assert a.linked and b.linked


def test_peer_is_dead_after_exactly_five_periods_and_alive_again_when_it_beats() -> None:
    _, a, b = pair()
    pump(a, b, 0, 50)
    assert a.peer_alive
    last_seen = 41  # b beat at t=40 (period 10) after a had polled; a saw it at t=41
    # b stops (SIGSTOP): only a polls
    events = {t: a.poll(t) for t in range(50, 100)}
    dead_at = [t for t, ev in events.items() if ev & EV_PEER_DEAD]
    assert dead_at == [last_seen + 5 * HB]
    assert not a.peer_alive and a.stats()["hb_misses"] == 1
    b.poll(100)  # b resumes (SIGCONT) and beats
    assert a.poll(101) & EV_PEER_ALIVE
    assert a.linked


def test_restart_gets_new_epoch_and_drops_the_stale_backlog() -> None:
    mm, a, b = pair()
    pump(a, b, 0, 5)
    for i in range(3):
        assert a.send(0x101, struct.pack("<I", i)) >= 0  # never read: b is "killed"
    old_epoch = b.epoch
    b.close()
    b2 = Endpoint(mm, 1, capacity=CAP, max_msg=256, hb_period_ms=HB)  # restarted process
    assert b2.epoch != old_epoch
    ea, _ = pump(a, b2, 5, 10)
    assert ea & EV_PEER_RESTARTED
    assert b2.recv_many() == []  # the stale commands never reach the new instance
    assert a.send(0x101, b"new") >= 0
    assert [r.payload for r in b2.recv_many()] == [b"new"]
    assert a.peer_epoch == b2.epoch


def test_overflow_rejects_new_keeps_urgent_reserve_and_recovers() -> None:
    _, a, b = pair()
    pump(a, b, 0, 3)
    sent = 0
    while a.send(0x7F20, bytes(48)) >= 0:  # consumer paused
        sent += 1
    assert a.send(0x7F20, bytes(48)) == EFULL
    assert sent == (CAP - CAP // 4) // 64
    assert a.stats()["tx_rejects"] == 2
    # STOP goes into the reserved quarter
    assert a.send(0x103, bytes(8), flags=layout.FLAG_URGENT) >= 0
    got = b.recv_many()
    assert len(got) == sent + 1 and got[-1].rtype == 0x103
    assert a.send(0x7F20, bytes(48)) >= 0  # recovered
    assert b.stats()["rx_seq_gap"] == 0


def test_a_tail_a_ring_ahead_is_a_clean_fault_and_the_peer_just_reattaches() -> None:
    mm, a, b = pair()
    pump(a, b, 0, 3)
    struct.pack_into("<I", mm, layout.block_size(CAP) + layout.OFF_TX_TAIL, 0x10000)
    try:
        a.recv_many()
        raise AssertionError("a tail a ring ahead must fault")
    except RingFault as exc:
        assert exc.code == 1
    assert a.stats()["rx_proto_err"] == 1
    assert b.send(0x201, b"x") == ENOLINK  # a is FAULT: b holds its records
    a.reinit()
    # b heals its tail word on its next poll; a may fault once more if it re-attaches before
    for t in range(3, 20):
        pump(a, b, t, t + 1)
        try:
            a.recv_many()
        except RingFault:
            a.reinit()
    assert a.stats()["rx_proto_err"] <= 1  # counters restart with the block
    assert a.linked and b.linked
    assert a.send(0x101, b"again") >= 0 and b.send(0x201, b"back") >= 0
    assert [r.payload for r in b.recv_many()] == [b"again"]
    assert [r.payload for r in a.recv_many()] == [b"back"]
    assert b.stats()["rx_proto_err"] == 0


def test_a_misaligned_tail_is_a_clean_fault() -> None:
    mm, a, b = pair()
    pump(a, b, 0, 3)
    struct.pack_into("<I", mm, layout.OFF_TX_TAIL, 0x7)
    try:
        b.recv_many()
        raise AssertionError("a misaligned tail must fault")
    except RingFault as exc:
        assert exc.code == 2


def test_fuzzing_the_region_never_crashes_and_the_link_recovers() -> None:
    mm, a, b = pair(capacity=1024, max_msg=64)
    rng = random.Random(6)
    size = len(mm)
    faults = 0
    t = 0
    for round_ in range(3000):
        t += 1
        for ep in (a, b):
            if ep.poll(t) & EV_RETRY:  # a refused peer changed: try again
                ep.reinit()
            try:
                ep.send(0x7F21, rng.randbytes(rng.randint(0, 64)))
                ep.recv_many()
            except RingFault:
                faults += 1
                ep.reinit()
        if round_ % 3 == 0:  # flip a byte: headers, indices or ring data
            pos = rng.choice([rng.randrange(size), rng.randrange(0x200), rng.randrange(0xC8)])
            if rng.random() < 0.5:
                pos += layout.block_size(1024)
            mm[pos % size] ^= 1 << rng.randrange(8)
    assert faults > 0
    # fuzzing stops: both sides heal their own blocks, re-attach and carry traffic cleanly
    for _ in range(200):
        t += 1
        for ep in (a, b):
            if ep.poll(t) & EV_RETRY:
                ep.reinit()
            try:
                ep.recv_many()
            except RingFault:
                ep.reinit()
    assert a.linked and b.linked
    before = b.stats()
    for i in range(50):
        assert a.send(0x7F21, struct.pack("<I", i)) >= 0
        got = b.recv_many()
        assert [r.payload for r in got] == [struct.pack("<I", i)]
    after = b.stats()
    assert after["rx_crc_err"] == before["rx_crc_err"]
    assert after["rx_proto_err"] == before["rx_proto_err"]


def test_a_small_receive_buffer_takes_one_large_record_per_call() -> None:
    mm = mmap.mmap(-1, layout.region_size(CAP))
    a = Endpoint(mm, 0, capacity=CAP, max_msg=1000, hb_period_ms=HB)
    b = Endpoint(mm, 1, capacity=CAP, max_msg=1000, hb_period_ms=HB, batch_bytes=16 + 1008)
    pump(a, b, 0, 3)
    for i in range(3):
        assert a.send(0x101, bytes([i]) * 999) >= 0
    got = [b.recv_many() for _ in range(4)]
    assert [[r.payload[:1] for r in g] for g in got] == [[b"\0"], [b"\1"], [b"\2"], []]


def test_a_refused_descriptor_faults_once_and_a_changed_peer_is_retried() -> None:
    mm, a, b = pair()
    struct.pack_into("<I", mm, layout.block_size(CAP) + layout.OFF_MAGIC, 0xBAD)
    assert a.poll(0) & EV_REFUSED
    assert not a.linked and a.stats()["rx_proto_err"] == 1
    assert struct.unpack_from("<I", mm, layout.OFF_STATE)[0] == layout.STATE_FAULT  # section 3
    assert a.fault_code == 6
    assert a.poll(1) & (EV_REFUSED | EV_RETRY) == 0  # refused once, not once per poll
    b.poll(2)  # b re-asserts its descriptor (it is its only writer)
    assert a.poll(3) & EV_RETRY
    a.reinit()  # section 7: re-init with a new epoch
    pump(a, b, 4, 8)
    assert a.linked and b.linked
