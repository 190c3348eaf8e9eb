"""The car app (rtapp) against an independent IVMR v1 peer written from the spec (issue 12).

Each test is one way a conforming peer could make the car app misbehave; the section numbers are
those of ../shared/design/ivmr-v1.md. Set RTAPP (and RTAPP_WRAPPER, e.g. "qemu-aarch64 -L
/usr/aarch64-linux-gnu") to run them against another build of the car app (make check-aarch64).
"""

from __future__ import annotations

import os
import random
import signal
import struct
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rtos.peerrig import (
    DONE,
    FAILED,
    FINAL,
    HELLO,
    LED,
    PING,
    R_BUSY,
    R_LINK_LOST,
    R_UNKNOWN,
    REJECTED,
    STARTED,
    STOP,
    PeerRig,
    drive,
    led,
)
from tests.rtos.specpeer import FAULT, O_FAULT, READY, URGENT

pytestmark = pytest.mark.slow


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[PeerRig]:
    r = PeerRig(tmp_path)
    assert r.linked(), r.stderr()
    yield r
    r.close()


def ping_round(r: PeerRig, sizes: list[int]) -> None:
    """PINGs with extra trailing bytes (section 3: receivers ignore them); every one answered."""
    tokens = []
    for i, size in enumerate(sizes):
        token = struct.pack("<Q", 0xC0FFEE00 + i)
        tokens.append(token)
        r.send(PING, token + random.Random(i).randbytes(size - 8))
    assert r.until(lambda: set(tokens) <= r.pongs()), r.stderr()


@pytest.mark.parametrize(
    ("peer_capacity", "peer_max", "rt_capacity", "rt_max"),
    [
        (4096, 64, 16384, 1024),
        (4096, 1008, 4096, 1008),
        (16384, 2048, 16384, 1024),  # item 1: a larger peer max_msg used to stall the app
        (16384, 256, 65536, 4096),
        (65536, 4096, 65536, 4096),
        (65536, 4096, 4096, 256),
    ],
)
def test_rtapp_links_and_answers_a_peer_of_any_valid_geometry(
    tmp_path: Path, peer_capacity: int, peer_max: int, rt_capacity: int, rt_max: int
) -> None:
    r = PeerRig(
        tmp_path, peer_capacity=peer_capacity, peer_max=peer_max, rt_capacity=rt_capacity,
        rt_args=("--max-msg", str(rt_max), "--telemetry-ms", "20"),
    )  # fmt: skip
    try:
        assert r.linked(), r.stderr()
        assert r.of_type(HELLO)
        limit = min(peer_max, rt_max)
        rng = random.Random(peer_capacity + peer_max)
        ping_round(r, [rng.randint(8, limit) for _ in range(60)] + [limit] * 5)  # wraps, PADs
        r.send(LED, led(7))
        assert r.until(lambda: any(a.cmd_id == 7 and a.status == DONE for a in r.acks()))
        r.pump(0.2)
        assert r.peer.crc_errors == 0 and r.peer.missing == 0
        assert r.peer.peer_stats()["rx_proto_err"] == 0 and r.peer.peer_state == READY
        assert r.rt.poll() is None
    finally:
        r.close()


def test_rtapp_bounds_records_by_its_own_max_msg(tmp_path: Path) -> None:
    """Item 3 (section 7): len > 16 + the receiver's own max_msg is a protocol error."""
    r = PeerRig(tmp_path, peer_max=1024, rt_args=("--max-msg", "256"))
    try:
        assert r.linked(), r.stderr()
        epoch = r.peer.peer_epoch
        big = struct.pack("<Q", 1) + bytes(592)  # a 616-byte record
        r.send(PING, big, respect_peer=False)  # a peer that ignores our limit
        assert r.until(lambda: r.peer.peer_epoch != epoch), "the app accepted a 616-byte record"
        assert struct.pack("<Q", 1) not in r.pongs()
        assert "fault code=3" in r.stderr()
        assert r.until(lambda: r.peer.linked)  # re-initialised with a new epoch, linked again
        ping_round(r, [256])
    finally:
        r.close()


def test_rtapp_says_hello_to_a_peer_that_reacks_at_once_after_a_restart(rig: PeerRig) -> None:
    """Item 2: the peer restarts and acks our epoch before our next poll."""
    for _ in range(3):
        rig.signal(signal.SIGSTOP)  # the app cannot poll in between
        rig.got.clear()
        rig.peer.restart(reattach_at_once=True)
        assert rig.peer.attached  # acked the app's (unchanged) epoch already
        rig.signal(signal.SIGCONT)
        assert rig.until(lambda: bool(rig.of_type(HELLO)), timeout_s=3), rig.stderr()


def test_rtapp_drops_at_a_full_ring_consume_sequence_numbers(tmp_path: Path) -> None:
    """Item 4 (section 6): a dropped record leaves a seq gap Linux can count."""
    r = PeerRig(tmp_path, rt_capacity=4096, rt_args=("--max-msg", "256", "--telemetry-ms", "5"))
    try:
        assert r.linked(), r.stderr()
        r.pump(0.6, read=False)  # keep beating but stop reading: the 4 KiB ring fills
        r.got.clear()
        r.pump(0.5)  # read again; the next samples carry the counters
        drops = r.telemetry()[-1].drops
        assert drops is not None, "telemetry carries no drop counters"
        _, tlm_drops, ring_drops, _ = drops
        assert ring_drops > 0 and tlm_drops >= ring_drops
        assert r.peer.missing == ring_drops  # every drop is a gap, and only drops are gaps
        assert r.peer.peer_stats()["tx_rejects"] >= ring_drops
        assert "reason=ring_full" in r.stderr()
    finally:
        r.close()


def test_rtapp_counts_unknown_types(rig: PeerRig) -> None:
    """Item 5 (section 3): unknown types are counted and skipped; an unknown command is also
    answered (rejected, unknown type) so that it does not wait forever."""
    rig.send(0x01F0, struct.pack("<IHH", 41, 500, 0))
    rig.send(0x0250, bytes(12))
    rig.send(0x7F55, bytes(3))
    rig.send(PING, b"short")  # a PING shorter than its token is not a PING
    assert rig.until(lambda: any(a.cmd_id == 41 for a in rig.acks()))
    ack = next(a for a in rig.acks() if a.cmd_id == 41)
    assert (ack.status, ack.reason) == (REJECTED, R_UNKNOWN)
    assert rig.until(lambda: rig.peer.peer_stats()["rx_unknown"] == 4)
    ping_round(rig, [8])


def test_rtapp_goes_to_fault_on_a_peer_of_another_major_version(tmp_path: Path) -> None:
    """Item 6 (sections 3, 7): refuse and FAULT; stay refused, not flapping; retry a new peer."""
    r = PeerRig(tmp_path, version_major=2)
    try:
        assert r.until(lambda: r.peer.peer_state == FAULT), r.stderr()
        epoch = r.peer.peer_epoch
        assert r.peer.peer_u32(O_FAULT) == 6 and r.peer.peer_stats()["rx_proto_err"] == 1
        r.pump(0.3)
        assert (r.peer.peer_state, r.peer.peer_epoch) == (FAULT, epoch)  # refused once
        r.peer.version_major = 1
        r.peer.restart(reattach_at_once=False)
        assert r.linked(), r.stderr()
        assert r.peer.peer_epoch != epoch and r.of_type(HELLO)
    finally:
        r.close()


def test_rtapp_keeps_reporting_while_linux_heartbeat_is_lost(rig: PeerRig) -> None:
    """Item 7 (section 5): the car stops, telemetry continues."""
    rig.send(0x0101, drive(20, 200, 5000))
    assert rig.until(lambda: any(a.cmd_id == 20 and a.status == STARTED for a in rig.acks()))
    rig.got.clear()
    rig.pump(1.0, beat=False)  # 20 of our periods without a beat; still reading
    stopped = [a for a in rig.acks() if a.cmd_id == 20]
    assert [(a.status, a.reason) for a in stopped] == [(FAILED, R_LINK_LOST)]
    tlm = rig.telemetry()
    assert len(tlm) >= 7, "telemetry stopped while Linux's heartbeat was lost"
    assert tlm[-1].faults & 0x1 and tlm[-1].linear_mmps == 0 and tlm[-1].state == 3
    rig.got.clear()
    rig.pump(0.3)
    assert not rig.telemetry()[-1].faults & 0x1


@pytest.mark.skipif(
    bool(os.environ.get("IVMR_CHECK_AARCH64")),
    reason="under qemu-aarch64 the spec peer reads the car app's tx tail as 0 mid-flood (open "
    "finding of 2026-12-01, docs/board-checklist.md); it runs against the x86 car app",
)
def test_rtapp_accounts_for_every_command_of_a_flood(tmp_path: Path) -> None:
    """Item 8: each command ends in exactly one final ack or a counted drop (ring or queue)."""
    r = PeerRig(tmp_path, rt_capacity=4096, rt_args=("--max-msg", "256"))
    try:
        assert r.linked(), r.stderr()
        count = 4000
        urgent = set(range(1, count + 1, 25))
        for cmd_id in range(1, count + 1):
            rtype, flags = (STOP, URGENT) if cmd_id in urgent else (LED, 0)
            r.send(rtype, led(cmd_id) if rtype == LED else led(cmd_id)[:8], flags)
            if cmd_id % 400 == 0:
                r.pump(0.05, read=False)  # a slow reader: the app's ring fills meanwhile
        r.pump(1.0)  # drain; the last samples carry the counters
        finals = Counter(a.cmd_id for a in r.acks() if a.status in FINAL)
        assert max(finals.values()) == 1, "a command got two final acks"
        missing = set(range(1, count + 1)) - set(finals)
        drops = r.telemetry()[-1].drops
        assert drops is not None
        ack_drops, _, ring_drops, cmd_drops = drops
        assert len(missing) == ack_drops and cmd_drops == 0
        assert r.peer.missing == ring_drops
        assert ack_drops > 0 or any(a.reason == R_BUSY for a in r.acks())  # the flood bit
        assert all(finals[c] for c in urgent if c not in missing)
        assert not any(a.status == REJECTED for a in r.acks() if a.cmd_id in urgent)
        if ack_drops:
            assert "record_dropped type=0x0202" in r.stderr()
        assert r.peer.crc_errors == 0
        assert {a.status for a in r.acks()} <= FINAL  # LED and STOP have no "started"
    finally:
        r.close()
