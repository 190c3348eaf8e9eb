"""An IVMR v1.0 endpoint written from ``../shared/design/ivmr-v1.md`` (sections 3-7) alone.

It shares no code with ``rtos/ivmr/ivmr.c`` or ``workers/rtgw/layout.py``: the offsets, the
record format, the handshake and the validation rules below are transcribed from the spec, so a
bug in our implementation is not mirrored here. The conformance tests use it as "any conforming
peer" against the car app (``rtapp``) and against the Python endpoint; knobs let it do what a
conforming peer may do (other geometries, a fast restart, another major version, stop beating,
stop reading) and a little more (a record above the receiver's limit).

Python stores to the region are plain (in program order; x86 is TSO): good enough for a test
peer on a host, which is why the production Linux side goes through the C core instead.
"""

from __future__ import annotations

import os
import struct
import sys
import time
import zlib
from typing import Any, NamedTuple

# section 3: the endpoint block header
MAGIC = 0x524D5649
HEADER_SIZE = 0x200
RING_OFFSET = 0x200
O_MAGIC, O_VERSION, O_HEADER_SIZE, O_RING_OFFSET = 0x000, 0x004, 0x008, 0x00C
O_CAPACITY, O_MAX_MSG, O_FEATURES, O_ENDPOINT, O_EPOCH = 0x010, 0x014, 0x018, 0x01C, 0x020
O_STATE, O_HB_PERIOD, O_HB_COUNTER, O_EPOCH_ACK, O_FAULT = 0x040, 0x044, 0x048, 0x050, 0x058
O_TX_TAIL, O_RX_HEAD, O_RX_ARMED, O_STATS = 0x080, 0x0C0, 0x0C4, 0x100
STATS = ("tx_msgs", "tx_rejects", "rx_msgs", "rx_crc_err", "rx_seq_gap", "rx_proto_err",
         "rx_unknown", "hb_misses")  # fmt: skip
OFF, INIT, READY, STOPPING, FAULT = 0, 1, 2, 3, 0xDEAD
URGENT = 0x2


def align16(n: int) -> int:
    """Records start 16-byte aligned and occupy align16(len) bytes."""
    return (n + 15) // 16 * 16


def block1_offset(linux_capacity: int) -> int:
    """Section 3: block 1 starts at roundup(0x200 + capacity, 4096)."""
    return (0x200 + linux_capacity + 4095) // 4096 * 4096


class SpecRecord(NamedTuple):
    """A record as received: type, flags, sequence number, payload."""

    rtype: int
    flags: int
    seq: int
    payload: bytes


class SpecFault(Exception):
    """A section 7 protocol error seen by the spec peer (it goes FAULT)."""


assert sys.byteorder == "little", "the region is little-endian; this peer uses native words"


class SpecPeer:
    """One endpoint of a region. ``me`` 0 plays Linux, 1 plays RT-Thread."""

    def __init__(
        self,
        mm: Any,
        me: int,
        *,
        capacity: int,
        max_msg: int,
        hb_ms: int = 50,
        linux_capacity: int | None = None,
        version_major: int = 1,
    ) -> None:
        self.mm = mm
        self.me = me
        self.cap = capacity
        self.max = max_msg
        self.hb_ms = hb_ms
        self.version_major = version_major
        b1 = block1_offset(capacity if me == 0 else (linux_capacity or capacity))
        self.own = 0 if me == 0 else b1
        self.peer = b1 if me == 0 else 0
        self.epoch = 0
        self.crc_errors = 0
        self.missing = 0  # records the producer dropped (sum of forward seq jumps)
        self.received = 0
        self.init()

    # --- the region ----------------------------------------------------------------------

    # The words the other side reads or writes while we do (indices, heartbeat, state, epoch)
    # are accessed whole: ``struct`` packs and unpacks "<I" a byte at a time, so the car app
    # could read half of a new rx_head, and we half of its tx_tail. A memoryview cast to the
    # machine's own word loads and stores it in one access (little-endian hosts: x86, aarch64).

    def _word(self, off: int, size: int) -> memoryview[int]:
        assert off % size == 0, f"offset {off:#x} is not aligned to {size}"
        view = memoryview(self.mm)[off : off + size]
        return view.cast("I") if size == 4 else view.cast("Q")

    def _u32(self, off: int) -> int:
        with self._word(off, 4) as w:
            return int(w[0])

    def _u64(self, off: int) -> int:
        with self._word(off, 8) as w:
            return int(w[0])

    def _put32(self, off: int, v: int) -> None:
        with self._word(off, 4) as w:
            w[0] = v & 0xFFFFFFFF

    def _put64(self, off: int, v: int) -> None:
        with self._word(off, 8) as w:
            w[0] = v

    def peer_u32(self, off: int) -> int:
        """A word of the peer block."""
        return self._u32(self.peer + off)

    def peer_u64(self, off: int) -> int:
        """A double word of the peer block."""
        return self._u64(self.peer + off)

    def peer_stats(self) -> dict[str, int]:
        """The peer's counters (section 3, 0x100)."""
        return {n: self.peer_u64(O_STATS + 8 * i) for i, n in enumerate(STATS)}

    @property
    def peer_state(self) -> int:
        """The peer's state word."""
        return self.peer_u32(O_STATE)

    @property
    def peer_epoch(self) -> int:
        """The peer's current epoch."""
        return self.peer_u64(O_EPOCH)

    # --- section 5: session ----------------------------------------------------------------

    def init(self, epoch: int | None = None) -> int:
        """Step 1: INIT and ack 0, zero the block, descriptor, new epoch, tail 0, READY."""
        o = self.own
        self._put32(o + O_STATE, INIT)
        self._put64(o + O_EPOCH_ACK, 0)
        end = o + RING_OFFSET + self.cap
        self.mm[o : o + O_STATE] = bytes(O_STATE)  # the rest of the block, not the state word
        self.mm[o + O_STATE + 4 : end] = bytes(end - o - O_STATE - 4)
        self.epoch = epoch or (int.from_bytes(os.urandom(8), "little") | 1)
        struct.pack_into(
            "<IHHIIIIII", self.mm, o, MAGIC, self.version_major, 0, HEADER_SIZE, RING_OFFSET,
            self.cap, self.max, 1, self.me,
        )  # fmt: skip
        self._put64(o + O_EPOCH, self.epoch)
        self._put32(o + O_HB_PERIOD, self.hb_ms)
        self._put32(o + O_TX_TAIL, 0)
        self._put32(o + O_STATE, READY)
        self.tail = 0
        self.seq = 1
        self.attached = 0
        self.head = 0
        self.expect: int | None = None
        self.peer_cap = self.peer_max = 0
        self.beats = 0
        self.next_beat = 0.0
        self.faulted = False
        return self.epoch

    def fault(self, code: int, why: str) -> SpecFault:
        """Section 7: FAULT plus fault_code."""
        self._put32(self.own + O_FAULT, code)
        self._put32(self.own + O_STATE, FAULT)
        self.faulted = True
        self.attached = 0
        return SpecFault(why)

    def beat(self) -> None:
        """One heartbeat (section 5: +1 per period)."""
        self.beats += 1
        self._put64(self.own + O_HB_COUNTER, self.beats)

    def poll(self, beat: bool = True) -> None:
        """Heartbeat when due, then step 2: attach to a READY peer with an unseen epoch."""
        now = time.monotonic()
        if beat and now >= self.next_beat:
            self.next_beat = now + self.hb_ms / 1000
            self.beat()
        if self.faulted or self.peer_state != READY:
            return
        epoch = self.peer_epoch
        if epoch == 0 or epoch == self.attached:
            return
        p = self.peer
        if self._u32(p + O_MAGIC) != MAGIC or self._u32(p + O_VERSION) & 0xFFFF != 1:
            raise self.fault(6, "the peer's magic or major version is not IVMR v1")
        cap, mx = self._u32(p + O_CAPACITY), self._u32(p + O_MAX_MSG)
        if cap & (cap - 1) or 4 * (16 + mx) > cap or self._u32(p + O_ENDPOINT) != 1 - self.me:
            raise self.fault(6, "the peer's geometry breaks section 3")
        self.peer_cap, self.peer_max = cap, mx
        self.peer_ring = p + self._u32(p + O_RING_OFFSET)
        self.head = self._u32(p + O_TX_TAIL)  # the backlog is dropped
        self.expect = None  # sync to the first seq seen
        self._put32(self.own + O_RX_HEAD, self.head)
        self._put64(self.own + O_EPOCH_ACK, epoch)
        self.attached = epoch

    @property
    def linked(self) -> bool:
        """Step 3: both READY and each acked the other's epoch."""
        return (
            not self.faulted
            and self.attached != 0
            and self.peer_state == READY
            and self.peer_epoch == self.attached
            and self.peer_u64(O_EPOCH_ACK) == self.epoch
        )

    def restart(self, reattach_at_once: bool = True) -> int:
        """A fast restart: a new epoch and, if asked, the peer acked again right away."""
        epoch = self.init()
        if reattach_at_once:
            self.poll()
        return epoch

    # --- section 4: producer --------------------------------------------------------------

    def send(
        self, rtype: int, payload: bytes, flags: int = 0, *, respect_peer: bool = True
    ) -> bool:
        """One record (a PAD first when it would cross the end); False when it does not fit."""
        if respect_peer and len(payload) > min(self.max, self.peer_max or self.max):
            raise ValueError(f"payload of {len(payload)} B is above a max_msg")
        length = 16 + len(payload)
        need = align16(length)
        off = self.tail % self.cap
        pad = self.cap - off if need > self.cap - off else 0
        head = self.peer_u32(O_RX_HEAD)
        if self.tail - head + pad + need > self.cap:
            return False
        ring = self.own + RING_OFFSET
        if pad:
            hdr = struct.pack("<IHHI", pad, 0, 0, 0)
            self.mm[ring + off : ring + off + 16] = hdr + struct.pack("<I", zlib.crc32(hdr))
            self.tail += pad
            off = 0
        hdr = struct.pack("<IHHI", length, rtype, flags, self.seq)
        crc = zlib.crc32(payload, zlib.crc32(hdr))
        rec = hdr + struct.pack("<I", crc) + payload
        self.mm[ring + off : ring + off + need] = rec + bytes(need - length)
        self.seq += 1
        self.tail += need
        self._put32(self.own + O_TX_TAIL, self.tail)  # store-release on a TSO host
        return True

    def skip_seq(self) -> None:
        """Drop the next record at the producer (section 6): its seq number is consumed."""
        self.seq += 1

    # --- section 4/7: consumer ------------------------------------------------------------

    def recv(self) -> list[SpecRecord]:
        """Every record up to the peer's tail, validated as section 7 says."""
        if not self.attached:
            return []
        tail = self._u32(self.peer + O_TX_TAIL)
        if (tail - self.head) % (1 << 32) > self.peer_cap or tail % 16:
            raise self.fault(1, f"tail {tail:#x} is inconsistent with head {self.head:#x}")
        out: list[SpecRecord] = []
        while self.head != tail:
            off = self.head % self.peer_cap
            to_end = self.peer_cap - off
            r = self.peer_ring + off
            length, rtype, flags, seq, crc = struct.unpack_from("<IHHII", self.mm, r)
            if rtype == 0:
                if length != to_end:
                    raise self.fault(5, "a PAD does not reach the ring end")
                self.head += to_end
                continue
            if not 16 <= length <= 16 + self.max:  # the receiver's own limit
                raise self.fault(3, f"record length {length} is out of bounds")
            if align16(length) > min(to_end, (tail - self.head) % (1 << 32)):
                raise self.fault(4, "a record runs past the tail or the ring end")
            payload = bytes(self.mm[r + 16 : r + length])
            self.head += align16(length)
            if zlib.crc32(payload, zlib.crc32(bytes(self.mm[r : r + 12]))) != crc:
                self.crc_errors += 1
                continue
            if self.expect is not None and seq != self.expect:
                self.missing += (seq - self.expect) % (1 << 32)
            self.expect = (seq + 1) % (1 << 32)
            self.received += 1
            out.append(SpecRecord(rtype, flags, seq, payload))
        self._put32(self.own + O_RX_HEAD, self.head)
        return out
