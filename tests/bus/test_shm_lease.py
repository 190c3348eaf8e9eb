"""Reads in place (docs/protocol.md section 9): a reader that asks gets a read-only view of the
publisher's ring, the publisher never writes over a slot while a view of it is held (that
payload goes in frame 2, whole), the entry is freed when the view goes or its reader dies, and
a ring without a lease table, or a full table, is copied out as before."""

from __future__ import annotations

import gc
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bus import shm
from bus.errors import LostError
from bus.node import Node
from bus.nodeconfig import NodeConfig
from bus.proxy import Proxy
from schemas import AudioFrame
from tests.bus.shmlap import lapping_writer

pytestmark = pytest.mark.skipif(
    not shm.available() or not hasattr(shm.vbio, "shm_lease"),
    reason="no /dev/shm or bus/native not built",
)
REPO = Path(__file__).parents[2]
MiB = 1024 * 1024
SIZE = 100_000  # ten slots of a 1 MiB ring
SLOTS = MiB // ((16 + SIZE + 63) // 64 * 64)


def _owners(ring: shm.ShmRing) -> list[int]:
    table = ring._leases
    return [struct.unpack_from("<Q", table, i * 32)[0] for i in range(shm.LEASE_BYTES // 32)]


def _leased(ring: shm.ShmRing, byte: bytes) -> tuple[bytes, memoryview]:
    """A payload of SIZE ``byte``s put into ``ring``: its descriptor and a view leased of it."""
    d = ring.put(byte * SIZE)
    assert d is not None
    view = shm.ShmReader().read(d, in_place=True)
    assert isinstance(view, memoryview)
    return d, view


@pytest.fixture
def ring() -> Iterator[shm.ShmRing]:
    r = shm.ShmRing(0x0DDBA11, MiB, hold_ms=0)  # no hold: only leases keep slots
    yield r
    r.close()


def test_a_view_is_the_slot_itself_read_only_and_its_lease_goes_with_its_last_reference(
    ring: shm.ShmRing,
) -> None:
    d, view = _leased(ring, b"a")
    assert view.readonly and view == b"a" * SIZE
    with pytest.raises(TypeError):
        view[0] = 1
    assert _owners(ring).count(shm.owner_token()) == 1
    part = view[10:20]  # a slice holds the lease too
    del view
    gc.collect()
    assert _owners(ring).count(shm.owner_token()) == 1 and part == b"a" * 10
    del part
    assert _owners(ring).count(shm.owner_token()) == 0
    assert shm.ShmReader().read(d) == b"a" * SIZE  # a copy, as without in_place


def test_the_publisher_writes_around_a_held_view_and_resumes_when_it_is_dropped(
    ring: shm.ShmRing,
) -> None:
    _d, view = _leased(ring, b"a")
    written = [ring.put(bytes([i]) * SIZE) for i in range(1, 3 * SLOTS)]
    assert all(w is not None for w in written[: SLOTS - 1])  # the free slots are written
    assert all(w is None for w in written[SLOTS - 1 :])  # the next one is the held view's
    assert ring.leased == len(written) - (SLOTS - 1)
    assert view == b"a" * SIZE  # never written over
    del view
    assert ring.put(b"z" * SIZE) is not None  # the slot is free again


def test_a_ring_without_a_lease_table_or_with_a_full_one_is_copied_out(
    ring: shm.ShmRing,
) -> None:
    d = ring.put(b"b" * 1000)
    assert d is not None
    reader = shm.ShmReader()
    views = [reader.read(d, in_place=True) for _ in range(shm.LEASE_BYTES // 32)]
    assert all(isinstance(v, memoryview) for v in views)
    extra = reader.read(d, in_place=True)  # every entry is taken
    assert type(extra) is bytes and extra == b"b" * 1000
    del views
    ring.lease_path.unlink()  # another implementation's ring: no table
    other = shm.ShmReader()
    copied = other.read(d, in_place=True)
    assert type(copied) is bytes and copied == b"b" * 1000


_READER = textwrap.dedent(
    """
    import sys, time
    from bus import shm
    view = shm.ShmReader().read(bytes.fromhex(sys.argv[1]), in_place=True)
    assert isinstance(view, memoryview)
    print("leased", flush=True)
    time.sleep(600)
    """
)


def test_the_leases_of_a_killed_reader_are_freed_by_the_publisher(ring: shm.ShmRing) -> None:
    d = ring.put(b"c" * SIZE)
    assert d is not None
    proc = subprocess.Popen(
        [sys.executable, "-c", _READER, d.hex()],
        cwd=REPO,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"leased\n"
        for i in range(SLOTS - 1):
            assert ring.put(bytes([i]) * SIZE) is not None
        assert ring.put(b"x" * SIZE) is None  # the reader lives and holds its view
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5  # the owner is looked up again after a second
        while ring.put(b"y" * SIZE) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert time.monotonic() < deadline, "the dead reader's lease was never freed"
        assert not any(_owners(ring))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_node_that_asks_reads_in_place_and_one_that_does_not_gets_bytes(tmp_path: Path) -> None:
    pub_ep, sub_ep = f"ipc://{tmp_path}/pub", f"ipc://{tmp_path}/sub"
    proxy = Proxy([pub_ep], [sub_ep], report_s=0.2)
    proxy.start()

    def config(name: str, **kw: Any) -> NodeConfig:
        return NodeConfig(
            name=name, pub_endpoint=pub_ep, sub_endpoint=sub_ep, shm_min_bytes=65536, **kw
        )

    try:
        with (
            Node(config("lease-pub", shm_ring_bytes=MiB, shm_hold_ms=0), signals=False) as pub,
            Node(config("lease-view"), signals=False) as viewer,
            Node(config("lease-copy"), signals=False) as copier,
        ):
            viewer.read_in_place("audio.*")
            for node in (viewer, copier):
                node.subscribe("audio.frame")
            got: dict[str, list[AudioFrame]] = {"view": [], "copy": []}
            deadline = time.monotonic() + 20
            i = 0
            while time.monotonic() < deadline and not (got["view"] and got["copy"]):
                i += 1  # until both subscriptions have reached the proxy
                pub.publish("audio.frame", AudioFrame(pcm=bytes([i]) * SIZE, index=i, capture_ns=i))
                for key, node in (("view", viewer), ("copy", copier)):
                    msg = node.poll(0.1)
                    if msg is not None:
                        assert isinstance(msg.payload, AudioFrame)
                        got[key].append(msg.payload)
            held = got["view"][-1]
            assert isinstance(held.pcm, memoryview) and held.pcm == bytes([held.index]) * SIZE
            assert held.samples == SIZE // 2  # the model's own code reads it like bytes
            assert type(got["copy"][-1].pcm) is bytes
            got["view"].clear()  # keep only the newest view
            for _ in range(3 * SLOTS):  # round the ring: around the held view, in frame 2
                i += 1
                pub.publish("audio.frame", AudioFrame(pcm=bytes([i]) * SIZE, index=i, capture_ns=i))
            later: list[AudioFrame] = []
            deadline = time.monotonic() + 20
            while len(later) < 3 * SLOTS and time.monotonic() < deadline:
                msg = viewer.poll(0.1)
                if msg is not None:
                    assert isinstance(msg.payload, AudioFrame)
                    later.append(msg.payload)
                    assert bytes(msg.payload.pcm) == bytes([msg.payload.index % 256]) * SIZE
            assert len(later) == 3 * SLOTS and viewer.stats.gaps == 0
            assert held.pcm == bytes([held.index]) * SIZE  # never written over
            assert pub._shm is not None and pub._shm._ring is not None
            assert pub._shm._ring.leased > 0
    finally:
        proxy.stop()


@pytest.mark.slow
def test_a_leased_slot_is_never_written_while_the_writer_laps_the_ring() -> None:
    """On the board (weakly ordered Cortex-A cores) this is the check of vbshmlease.c's fences."""
    reader = shm.ShmReader()
    held = 0
    with lapping_writer(0xFEEDBEE5) as descriptors:
        deadline = time.monotonic() + 5
        for d in descriptors:
            if time.monotonic() > deadline:
                break
            try:
                view = reader.read(d, in_place=True)
            except LostError:
                continue  # overwritten between our look and the lease
            first_byte = view[0]
            time.sleep(0.001)  # the writer laps the ring meanwhile, around this slot
            assert view == bytes([first_byte]) * len(view), "a leased slot was written over"
            del view
            held += 1
    assert held > 100
