"""Golden bytes: the C core and the Python layout encode headers, records and PADs identically."""

from __future__ import annotations

import mmap
import struct
import zlib

from workers.rtgw import layout
from workers.rtgw.ring import Endpoint, load_library


def anon_region(capacity: int) -> mmap.mmap:
    """A page-aligned anonymous region (the ring core needs a 64-byte aligned base)."""
    return mmap.mmap(-1, layout.region_size(capacity))


def linked_pair(capacity: int, max_msg: int) -> tuple[mmap.mmap, Endpoint, Endpoint]:
    buf = anon_region(capacity)
    a = Endpoint(buf, 0, capacity=capacity, max_msg=max_msg, epoch=0x1111)
    b = Endpoint(buf, 1, capacity=capacity, max_msg=max_msg, epoch=0x2222)
    for _ in range(2):
        a.poll(0)
        b.poll(0)
    assert a.linked and b.linked
    return buf, a, b


def test_crc_matches_zlib() -> None:
    lib = load_library()
    for data in (b"", b"a", b"123456789", bytes(range(256)) * 3):
        assert lib.ivmr_crc32(0, data, len(data)) == zlib.crc32(data)


def test_geometry_matches_layout() -> None:
    lib = load_library()
    for cap in (256, 4096, 16384, 1 << 20):
        assert lib.ivmr_block_size(cap) == layout.block_size(cap)
        assert lib.ivmr_region_size(cap) == layout.region_size(cap)
    assert layout.block_size(16384) == 20480


def test_fresh_block_header_is_the_golden_descriptor() -> None:
    buf = anon_region(16384)
    Endpoint(buf, 0, capacity=16384, max_msg=1024, hb_period_ms=100, epoch=0x0123456789ABCDEF)
    golden = layout.encode_descriptor(0, 16384, 1024, 100, 0x0123456789ABCDEF)
    assert bytes(buf)[: layout.HEADER_SIZE] == golden
    assert golden[:4] == b"IVMR"
    b1 = layout.block_size(16384)
    Endpoint(buf, 1, capacity=16384, max_msg=1024, hb_period_ms=50, epoch=7)
    assert bytes(buf)[b1 : b1 + layout.HEADER_SIZE] == layout.encode_descriptor(
        1, 16384, 1024, 50, 7
    )


def test_records_are_the_golden_bytes() -> None:
    buf, a, _b = linked_pair(4096, 512)
    payloads = [b"", b"x", b"hello world!", bytes(range(200)), b"\xff" * 17]
    for i, p in enumerate(payloads):
        assert a.send(0x0100 + i, p, flags=i & 3) >= 0
    ring = bytes(buf)[layout.RING_OFFSET :]
    pos = 0
    for i, p in enumerate(payloads):
        rec = layout.encode_record(0x0100 + i, i & 3, i + 1, p)
        assert ring[pos : pos + len(rec)] == rec
        pos += len(rec)
    assert struct.unpack_from("<I", bytes(buf), layout.OFF_TX_TAIL)[0] == pos


def test_pad_record_is_the_golden_bytes_on_a_256_byte_ring() -> None:
    buf, a, b = linked_pair(256, 48)
    # walk the producer to offset 224, where a 64 B record cannot fit before the end
    for _ in range(3):
        assert a.send(0x0101, bytes(40), flags=layout.FLAG_URGENT) >= 0  # 56 -> 64 B slots
    assert len(b.recv_many()) == 3
    assert a.send(0x0102, bytes(48), flags=layout.FLAG_URGENT) >= 0  # 64 B: fits exactly
    assert len(b.recv_many()) == 1
    assert a.send(0x0103, bytes(30), flags=0) >= 0  # 48 B at offset 0 (wrapped exactly)
    assert a.send(0x0104, bytes(30), flags=0) >= 0  # offset 48
    assert len(b.recv_many()) == 2
    assert a.send(0x0105, bytes(48), flags=0) >= 0  # offset 96: 64 B
    assert a.send(0x0106, bytes(48), flags=layout.FLAG_URGENT) >= 0  # offset 160: 64 B
    # now at offset 224: a 64 B record needs a 32 B PAD then goes to offset 0
    assert len(b.recv_many()) == 2
    assert a.send(0x0107, bytes(48), flags=0) >= 0
    ring = bytes(buf)[layout.RING_OFFSET : layout.RING_OFFSET + 256]
    assert ring[224:240] == layout.encode_pad_header(32)
    assert ring[0:64] == layout.encode_record(0x0107, 0, 9, bytes(48))
    got = b.recv_many()
    assert [(r.rtype, r.seq, r.payload) for r in got] == [(0x0107, 9, bytes(48))]
    assert b.stats()["rx_seq_gap"] == 0 and b.stats()["rx_crc_err"] == 0
