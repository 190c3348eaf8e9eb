"""Bidirectional stress between two processes: random sizes, both rings at once, clean seq/CRC."""

from __future__ import annotations

import mmap
import multiprocessing as mp
import os
import random
import struct
import time
from pathlib import Path

import pytest

from workers.rtgw import layout
from workers.rtgw.ring import EFULL, Endpoint

_BLOB = random.Random(42).randbytes(4096)


def payload_for(i: int, max_msg: int) -> bytes:
    """Record ``i``: its index then a pseudo-random size and content derived from it."""
    size = ((i * 2654435761) >> 8) % (max_msg - 3)
    start = (i * 40503) % 2048
    return struct.pack("<I", i) + _BLOB[start : start + size]


def run_side(path: str, me: int, capacity: int, max_msg: int, count: int, q: mp.Queue) -> None:
    fd = os.open(path, os.O_RDWR)
    mm = mmap.mmap(fd, layout.region_size(capacity))
    os.close(fd)
    ep = Endpoint(mm, me, capacity=capacity, max_msg=max_msg, hb_period_ms=20)
    deadline = time.monotonic() + 60
    while not ep.linked and time.monotonic() < deadline:
        ep.poll(time.monotonic_ns() // 1_000_000)
        time.sleep(0.001)
    sent = received = bad = 0
    rng_base = 1_000_000 * me
    peer_base = 1_000_000 * (1 - me)
    while (sent < count or received < count) and time.monotonic() < deadline:
        ep.poll(time.monotonic_ns() // 1_000_000)
        before = sent
        if sent < count:
            items = [
                (0x7F10, 0, payload_for(rng_base + i, max_msg))
                for i in range(sent, min(count, sent + 32))
            ]
            n, _kick, err = ep.send_many(items)
            assert err in (0, EFULL)
            sent += n
        progress = sent - before
        for rec in ep.recv_many():
            if rec.payload != payload_for(peer_base + received, max_msg):
                bad += 1
            received += 1
            progress += 1
        if progress == 0:
            os.sched_yield()  # nothing moved: let the other process run
    stats = ep.stats()
    q.put((me, sent, received, bad, stats))
    # keep beating until the peer has finished too
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        ep.poll(time.monotonic_ns() // 1_000_000)
        ep.recv_many()
        time.sleep(0.005)
    ep.close()
    mm.close()


@pytest.mark.parametrize(("capacity", "max_msg", "count"), [(256, 48, 3000), (16384, 1024, 10000)])
def test_bidirectional_random_sizes_arrive_intact(
    tmp_path: Path, capacity: int, max_msg: int, count: int
) -> None:
    path = tmp_path / "region"
    path.write_bytes(bytes(layout.region_size(capacity)))
    ctx = mp.get_context("fork")
    q: mp.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=run_side, args=(str(path), me, capacity, max_msg, count, q))
        for me in (0, 1)
    ]
    for p in procs:
        p.start()
    results = [q.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=10)
        assert p.exitcode == 0
    for me, sent, received, bad, stats in results:
        assert (sent, received, bad) == (count, count, 0), me
        assert stats["rx_crc_err"] == 0
        assert stats["rx_seq_gap"] == 0
        assert stats["rx_proto_err"] == 0
        assert stats["rx_msgs"] == count
