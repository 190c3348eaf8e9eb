"""The IVMR v1.0 wire format in pure Python (mirror of ``rtos/ivmr/ivmr.h``).

Everything is little-endian. A region holds two endpoint blocks: block 0 (Linux) at offset 0 and
block 1 (RT-Thread) at ``block_size(capacity)``; each block is a 0x200-byte header then its
outgoing ring. A record is a 16-byte header ``len u32 | type u16 | flags u16 | seq u32 | crc32
u32`` then the payload, 16-byte aligned, never wrapping (a PAD record fills the ring end).
The golden-byte tests check that these encoders and the C core write identical bytes.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

MAGIC = 0x524D5649
VERSION_MAJOR = 1
VERSION_MINOR = 0
HEADER_SIZE = 0x200
RING_OFFSET = 0x200
BLOCK_ALIGN = 4096
REC_HDR = 16
FEATURE_CRC = 0x1

OFF_MAGIC = 0x000
OFF_VERSION = 0x004
OFF_HEADER_SIZE = 0x008
OFF_RING_OFFSET = 0x00C
OFF_RING_CAPACITY = 0x010
OFF_MAX_MSG = 0x014
OFF_FEATURES = 0x018
OFF_ENDPOINT_ID = 0x01C
OFF_EPOCH = 0x020
OFF_STATE = 0x040
OFF_HB_PERIOD = 0x044
OFF_HB_COUNTER = 0x048
OFF_PEER_EPOCH_ACK = 0x050
OFF_FAULT_CODE = 0x058
OFF_TX_TAIL = 0x080
OFF_RX_HEAD = 0x0C0
OFF_RX_ARMED = 0x0C4
OFF_STATS = 0x100

STATE_OFF = 0
STATE_INIT = 1
STATE_READY = 2
STATE_STOPPING = 3
STATE_FAULT = 0xDEAD

TYPE_PAD = 0x0000
FLAG_ACK_REQ = 0x1
FLAG_URGENT = 0x2
FLAG_IS_REPLY = 0x4

#: Names of the 8 u64 counters at ``OFF_STATS``, in order.
STAT_NAMES = (
    "tx_msgs",
    "tx_rejects",
    "rx_msgs",
    "rx_crc_err",
    "rx_seq_gap",
    "rx_proto_err",
    "rx_unknown",
    "hb_misses",
)

#: fault_code values, as sentences.
FAULT_TEXT = {
    0: "no fault",
    1: "the peer's tail is more than a ring ahead of our head",
    2: "a peer index is not 16-byte aligned",
    3: "a record length is out of bounds",
    4: "a record runs past the tail or the ring end",
    5: "a PAD record does not reach the ring end",
    6: "the peer's descriptor (magic, major version or geometry) was refused",
    7: "the peer's read index is outside our ring",
}


def align16(n: int) -> int:
    """``n`` rounded up to a multiple of 16."""
    return (n + 15) & ~15


def block_size(capacity: int) -> int:
    """Bytes of one endpoint block: ``roundup(0x200 + capacity, 4096)``."""
    return (RING_OFFSET + capacity + BLOCK_ALIGN - 1) & ~(BLOCK_ALIGN - 1)


def region_size(capacity: int) -> int:
    """Bytes of a region with two blocks of this ring capacity."""
    return 2 * block_size(capacity)


def layout_size(linux_capacity: int, rt_capacity: int) -> int:
    """Bytes of a region whose block 0 (Linux) and block 1 (RT) rings differ in capacity."""
    return block_size(linux_capacity) + block_size(rt_capacity)


def record_crc(length: int, rtype: int, flags: int, seq: int, payload: bytes) -> int:
    """zlib CRC-32 over header bytes 0..11 then the payload."""
    return zlib.crc32(payload, zlib.crc32(struct.pack("<IHHI", length, rtype, flags, seq)))


def encode_record(rtype: int, flags: int, seq: int, payload: bytes) -> bytes:
    """A record as it lies in the ring: header, payload, zero fill to 16 bytes."""
    length = REC_HDR + len(payload)
    crc = record_crc(length, rtype, flags, seq, payload)
    raw = struct.pack("<IHHII", length, rtype, flags, seq, crc) + payload
    return raw + bytes(align16(length) - length)


def encode_pad_header(pad_len: int) -> bytes:
    """The 16-byte header of a PAD record covering ``pad_len`` bytes to the ring end."""
    return struct.pack("<IHHII", pad_len, TYPE_PAD, 0, 0, record_crc(pad_len, 0, 0, 0, b""))


class RecordHeader(NamedTuple):
    """A decoded record header."""

    length: int
    rtype: int
    flags: int
    seq: int
    crc: int


def decode_record_header(buf: bytes | memoryview, offset: int = 0) -> RecordHeader:
    """The header of the record at ``offset``."""
    return RecordHeader(*struct.unpack_from("<IHHII", buf, offset))


def encode_descriptor(
    endpoint_id: int, capacity: int, max_msg: int, hb_period_ms: int, epoch: int
) -> bytes:
    """The 0x200-byte header of a freshly initialised (READY) block, counters at zero."""
    hdr = bytearray(HEADER_SIZE)
    struct.pack_into(
        "<IHHIIIIII",
        hdr,
        0,
        MAGIC,
        VERSION_MAJOR,
        VERSION_MINOR,
        HEADER_SIZE,
        RING_OFFSET,
        capacity,
        max_msg,
        FEATURE_CRC,
        endpoint_id,
    )
    struct.pack_into("<Q", hdr, OFF_EPOCH, epoch)
    struct.pack_into("<II", hdr, OFF_STATE, STATE_READY, hb_period_ms)
    return bytes(hdr)
