"""Large payloads through shared memory: whole on arrival, lost (not garbage) when overwritten,
never overwritten within the hold time (a burst arrives complete), copied out by taps, and no
ring left in /dev/shm when a publisher ends or is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from bus import shm
from bus.connect import SHM_READER
from bus.errors import FrameError, LostError
from bus.framing import SHM_PROTOCOL_VERSION, decode, encode
from bus.memory import MemoryBus
from bus.node import Node
from bus.nodeconfig import SHM_HOLD_MS, SHM_MIN_BYTES, NodeConfig
from bus.proxy import Proxy
from bus.taps.tapnode import TapNode
from schemas import AudioFrame
from tests.bus.shmlap import lapping_writer

pytestmark = pytest.mark.skipif(not shm.available(), reason="no /dev/shm or bus/native not built")
REPO = Path(__file__).parents[2]
MiB = 1024 * 1024


def _rings(pid: int) -> list[Path]:
    return sorted(shm.SHM_DIR.glob(f"{pid}-*.ring")) if shm.SHM_DIR.is_dir() else []


#: The threshold a bus that turns shared memory on uses (docs/protocol.md section 9), bytes.
SHM_ON = SHM_MIN_BYTES


class Bus:
    """An in-process proxy (reporting, hence sweeping, every 0.2 s) on ipc endpoints."""

    def __init__(self, tmp: Path) -> None:
        self.pub, self.sub = f"ipc://{tmp}/pub", f"ipc://{tmp}/sub"
        self.proxy = Proxy([self.pub], [self.sub], report_s=0.2)
        self.proxy.start()

    def config(self, name: str, **kw: object) -> NodeConfig:
        kw.setdefault("shm_min_bytes", SHM_ON)  # the default, given so the tests say it
        return NodeConfig(name=name, pub_endpoint=self.pub, sub_endpoint=self.sub, **kw)  # type: ignore[arg-type]


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[Bus]:
    b = Bus(tmp_path)
    yield b
    b.proxy.stop()


def _receive(node: Node, n: int, timeout_s: float = 20.0) -> list[AudioFrame]:
    got: list[AudioFrame] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        msg = node.poll(0.1)
        if msg is not None:
            assert isinstance(msg.payload, AudioFrame)
            got.append(msg.payload)
    return got


def test_a_large_payload_goes_through_shared_memory_and_arrives_whole(bus: Bus) -> None:
    ctx = zmq.Context()
    wire = ctx.socket(zmq.SUB)  # what actually travels through the proxy
    wire.connect(bus.sub)
    wire.setsockopt(zmq.SUBSCRIBE, b"audio.")
    wire.setsockopt(zmq.SUBSCRIBE, SHM_READER)  # it reads no ring but must not turn them off
    pcm = bytes(range(256)) * (4 * 4096)  # 4 MiB
    with (
        Node(bus.config("big-pub"), signals=False) as pub,
        Node(bus.config("big-sub"), signals=False) as sub,
    ):
        sub.subscribe("audio.frame")
        got: list[AudioFrame] = []
        deadline = time.monotonic() + 20
        while not got and time.monotonic() < deadline:  # until the subscription has arrived
            pub.publish("audio.frame", AudioFrame(pcm=pcm, index=1, capture_ns=1))
            got = _receive(sub, 1, 0.2)
        assert got and got[0].pcm == pcm
        assert len(_rings(os.getpid())) == 1
        frames = wire.recv_multipart()
        env = msgpack.unpackb(frames[1])
        assert env["shm"] == "pcm" and "raw" not in env and tuple(env["v"]) == SHM_PROTOCOL_VERSION
        assert len(frames[2]) < 100 and frames[2][:4] == shm.MAGIC
        small = AudioFrame(pcm=bytes(1000), index=2, capture_ns=2)
        pub.publish("audio.frame", small)  # under shm_min_bytes: in frame 2 as always
        assert _receive(sub, 1)[0].pcm == small.pcm
    assert _rings(os.getpid()) == []  # closed: the ring is removed
    wire.close(linger=0)
    ctx.term()


def test_shared_memory_is_off_on_tcp_and_when_turned_off(bus: Bus) -> None:
    with Node(bus.config("off", shm_min_bytes=0), signals=False) as node:
        assert node._shm is None
    tcp = NodeConfig.model_construct(name="t", pub_endpoint="tcp://a:1", sub_endpoint="ipc://b")
    from bus.node import _all_ipc

    assert not _all_ipc(tcp)


def test_an_overwritten_slot_is_counted_lost_never_read_as_garbage() -> None:
    ring = shm.ShmOut(0x1234, min_bytes=1000, ring_bytes=MiB, hold_ms=0)  # no hold: it wraps
    try:
        first = encode(
            "audio.frame",
            AudioFrame(pcm=b"\x01" * 200_000, index=1, capture_ns=1),
            source="w",
            instance=1,
            seq=1,
            ts_ns=1,
            shm=ring,
        )
        assert decode(first).payload.pcm == b"\x01" * 200_000  # type: ignore[union-attr]
        for i in range(8):  # wraps round the 1 MiB ring, over the first slot
            encode(
                "audio.frame",
                AudioFrame(pcm=bytes([i]) * 200_000, index=1, capture_ns=1),
                source="w",
                instance=1,
                seq=2 + i,
                ts_ns=1,
                shm=ring,
            )
        with pytest.raises(LostError, match="overwritten"):
            decode(first)
        bus = MemoryBus()
        reader = bus.node("reader")
        reader.subscribe("audio.frame")
        bus.inject(first)
        assert reader.poll() is None
        assert reader.stats.gaps == 1 and reader.stats.malformed == 0
    finally:
        ring.close()


#: How many 64 KiB payloads a 1 MiB ring holds: slots of 64 KiB + a 16-byte header, 64-aligned.
SLOTS_64K_IN_1MIB = MiB // (65536 + 64)


def _warm(pub: Node, sub: Node) -> None:
    """Until the subscription has reached the proxy: small frames, drained."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pub.publish("audio.frame", AudioFrame(pcm=b"w", index=0, capture_ns=0))
        if _receive(sub, 1, 0.1):
            break
    while _receive(sub, 1, 0.3):
        pass


def _numbered(i: int) -> bytes:
    return i.to_bytes(4, "little") * (65536 // 4)


def test_a_burst_longer_than_the_ring_arrives_complete_while_its_slots_are_held(bus: Bus) -> None:
    n = 4 * SLOTS_64K_IN_1MIB
    with (
        Node(bus.config("burst-pub", shm_ring_bytes=MiB, shm_hold_ms=60_000), signals=False) as pub,
        Node(bus.config("burst-sub"), signals=False) as sub,
    ):
        sub.subscribe("audio.frame")
        _warm(pub, sub)
        for i in range(n):  # back to back: the ring is full after SLOTS_64K_IN_1MIB of them
            pub.publish("audio.frame", AudioFrame(pcm=_numbered(i), index=i, capture_ns=i))
        got = _receive(sub, n)
        assert [f.index for f in got] == list(range(n))
        assert all(f.pcm == _numbered(f.index) for f in got)
        assert sub.stats.gaps == 0 and sub.stats.malformed == 0
        assert pub._shm is not None and pub._shm.held == n - SLOTS_64K_IN_1MIB  # sent inline


def test_a_reader_slower_than_the_hold_counts_the_payloads_it_missed_as_gaps(bus: Bus) -> None:
    n = SLOTS_64K_IN_1MIB + 5
    with (
        Node(bus.config("slow-pub", shm_ring_bytes=MiB, shm_hold_ms=1), signals=False) as pub,
        Node(bus.config("slow-sub"), signals=False) as sub,
    ):
        sub.subscribe("audio.frame")
        _warm(pub, sub)
        for i in range(n):  # each slot older than the hold when the ring comes round to it
            pub.publish("audio.frame", AudioFrame(pcm=_numbered(i), index=i, capture_ns=i))
            time.sleep(0.003)
        got = _receive(sub, n, timeout_s=3.0)  # only now does the reader look
        assert pub._shm is not None and pub._shm.held == 0
        assert [f.index for f in got] == list(range(n - SLOTS_64K_IN_1MIB, n))
        assert all(f.pcm == _numbered(f.index) for f in got)
        assert sub.stats.gaps == n - SLOTS_64K_IN_1MIB and sub.stats.malformed == 0


class _Clock:
    def __init__(self) -> None:
        self.ns = 10**12

    def __call__(self) -> int:
        return self.ns


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, MiB // 4), st.integers(0, 40)),  # (bytes, ms since the last)
        min_size=1,
        max_size=60,
    )
)
def test_no_slot_is_written_over_within_the_hold_and_a_free_ring_is_always_written(
    puts: list[tuple[int, int]],
) -> None:
    hold_ms = 50
    clock = _Clock()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shm, "_monotonic_ns", clock)
        ring = shm.ShmRing(0x00C0FFEE, MiB, hold_ms)
        reader = shm.ShmReader()
        written: list[tuple[bytes, bytes, int]] = []  # (descriptor, data, ns)
        try:
            for k, (size, step_ms) in enumerate(puts):
                clock.ns += step_ms * 1_000_000
                data = bytes([k % 251]) * size
                d = ring.put(data)
                if d is None:  # held: only when some slot is younger than the hold
                    assert any(clock.ns - t < hold_ms * 1_000_000 for _, _, t in written)
                else:
                    written.append((d, data, clock.ns))
                for desc, payload, t in written:
                    if clock.ns - t < hold_ms * 1_000_000:
                        assert reader.read(desc) == payload
        finally:
            ring.close()


def test_the_ring_wraps_only_over_slots_older_than_the_hold() -> None:
    clock = _Clock()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shm, "_monotonic_ns", clock)
        ring = shm.ShmRing(0x00C0FFEF, MiB, 100)
        try:
            a = ring.put(b"a" * 400_000)
            assert a is not None and ring.put(b"b" * 400_000) is not None
            clock.ns += 50_000_000
            assert ring.put(b"c" * 300_000) is None  # the wrap would cover a, 50 ms old
            clock.ns += 60_000_000
            assert ring.put(b"c" * 300_000) is not None  # now 110 ms old
            with pytest.raises(LostError):
                shm.ShmReader().read(a)
        finally:
            ring.close()


def test_a_descriptor_that_points_outside_its_ring_or_is_cut_short_is_refused() -> None:
    ring = shm.ShmRing(0x00C0FFF0, MiB)
    try:
        good = ring.put(b"x" * 1000)
        assert good is not None
        name = good[shm.DESCRIPTOR.size :]
        reader = shm.ShmReader()
        assert reader.read(good) == b"x" * 1000
        for off, length in ((MiB, 1), (MiB - 8, 16), (0, MiB), (4, 1000), (0, 2**64 - 1)):
            bad = shm.DESCRIPTOR.pack(shm.MAGIC, off, length, 1) + name
            with pytest.raises(FrameError, match="outside ring") as info:
                reader.read(bad)
            assert not isinstance(info.value, LostError)
        for bad in (good[: shm.DESCRIPTOR.size], b"VBS0" + good[4:], good[:10]):
            with pytest.raises(FrameError, match="not a shared-memory descriptor"):
                reader.read(bad)
    finally:
        ring.close()


def test_a_tap_copies_the_payload_out_so_it_records_plain_frames(bus: Bus) -> None:
    pcm = b"\x07" * 300_000
    with TapNode(bus.config("rec"), ["audio.*"]) as tap, Node(bus.config("p"), signals=False) as p:
        deadline = time.monotonic() + 20
        item = None
        while item is None and time.monotonic() < deadline:
            p.publish("audio.frame", AudioFrame(pcm=pcm, index=1, capture_ns=1))
            item = tap.get(0.2)
        assert item is not None
        env = msgpack.unpackb(item.frames[1])
        assert env["raw"] == "pcm" and "shm" not in env and item.frames[2] == pcm
        msg = tap.decode(item)
        assert not isinstance(msg, Exception) and msg.payload.pcm == pcm  # type: ignore[union-attr]


_PUBLISHER = textwrap.dedent(
    """
    import sys
    from bus.node import Node
    from bus.nodeconfig import SHM_HOLD_MS, SHM_MIN_BYTES, NodeConfig
    from schemas import AudioFrame
    node = Node(NodeConfig(name="doomed", pub_endpoint=sys.argv[1], sub_endpoint=sys.argv[2],
                           shm_min_bytes=65536, shm_hold_ms=int(sys.argv[3])),
                signals=False)
    i = 0
    while True:  # 2 MiB payloads, back to back, until killed
        i += 1
        node.publish("audio.frame", AudioFrame(pcm=bytes([i % 256]) * (2 << 20), index=i,
                                               capture_ns=i))
    """
)


@pytest.mark.parametrize("hold_ms", [0, SHM_HOLD_MS], ids=["no-hold", "default-hold"])
def test_a_publisher_killed_mid_transfer_leaves_no_ring_and_no_torn_payload(
    bus: Bus, hold_ms: int
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _PUBLISHER, bus.pub, bus.sub, str(hold_ms)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        with Node(bus.config("survivor"), signals=False) as sub:
            sub.subscribe("audio.frame")
            got = _receive(sub, 5)
            assert len(got) == 5, "the publisher's payloads never arrived"
            assert _rings(proc.pid), "the publisher made no ring"
            os.kill(proc.pid, signal.SIGKILL)  # while it writes its next payloads
            proc.wait(timeout=10)
            got += _receive(sub, 10**6, timeout_s=1.0)  # whatever was still on its way
            for frame in got:  # every payload whole: one byte value, the full length
                assert len(frame.pcm) == 2 << 20 and frame.pcm == bytes([frame.index % 256]) * (
                    2 << 20
                )
            assert sub.stats.malformed == 0
        deadline = time.monotonic() + 10
        while _rings(proc.pid) and time.monotonic() < deadline:  # the proxy's sweep
            time.sleep(0.05)
        assert _rings(proc.pid) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_sweep_keeps_live_rings_and_removes_those_of_gone_processes(tmp_path: Path) -> None:
    mine = tmp_path / f"{os.getpid()}-{shm._start_time(os.getpid())}-0000abcd.ring"
    reused = tmp_path / f"{os.getpid()}-1-0000abce.ring"  # our pid, another start time
    gone = tmp_path / "999999999-5-0000abcf.ring"
    gone_table = tmp_path / "999999999-5-0000abcf.lease"  # its lease table goes with it
    mine_table = mine.with_suffix(".lease")
    other = tmp_path / "notes.txt"
    for f in (mine, reused, gone, other, gone_table, mine_table):
        f.write_bytes(b"x")
    assert shm.sweep(tmp_path) == 2  # rings
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [mine.name, mine_table.name, other.name]
    )


@pytest.mark.slow
def test_the_seqlock_never_hands_out_a_torn_slot_while_the_writer_laps_the_ring() -> None:
    """On the board (weakly ordered Cortex-A cores) this is the check of vbshm.c's fences."""
    reader = shm.ShmReader()
    whole = 0
    with lapping_writer(0xFEEDBEEF) as descriptors:
        deadline = time.monotonic() + 5
        for d in descriptors:
            if time.monotonic() > deadline:
                break
            try:
                data = reader.read(d)
            except LostError:
                continue  # overwritten between our look and the copy
            assert bytes(data) == bytes(data[:1]) * len(data), "a torn slot was returned"
            whole += 1
    assert whole > 100  # many whole reads while the writer lapped the ring
