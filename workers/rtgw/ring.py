"""The C ring core (``rtos/build/libivmr.so``) through ctypes: one :class:`Endpoint` per side.

CPython cannot express acquire/release ordering, so every access to the shared region goes
through the same C file the RT-Thread application uses. Calls are batched (many records per
ctypes call) because the ctypes call, not the ring, is the cost.

An endpoint is owned by one thread (the rings are single-producer/single-consumer).

(About 330 lines: the ctypes signatures of libivmr's whole API sit beside their one caller,
:class:`Endpoint`, so that a change to ``ivmr.h`` is mirrored in one file.)
"""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from workers.rtgw import layout
from workers.rtgw.errors import LibraryError, RingError, RingFault

__all__ = [
    "EV_ATTACHED",
    "EV_LINK_DOWN",
    "EV_LINK_UP",
    "EV_PEER_ALIVE",
    "EV_PEER_DEAD",
    "EV_PEER_RESTARTED",
    "EV_REFUSED",
    "EV_RETRY",
    "Endpoint",
    "Record",
    "load_library",
    "new_epoch",
]

OK = 0
EAGAIN = -1
EFULL = -2
ENOLINK = -3
EINVAL = -4
EPROTO = -5
ESKIP = -6
EMSGSIZE = -7

EV_ATTACHED = 0x01
EV_PEER_RESTARTED = 0x02
EV_LINK_UP = 0x04
EV_LINK_DOWN = 0x08
EV_PEER_DEAD = 0x10
EV_PEER_ALIVE = 0x20
EV_REFUSED = 0x40
EV_RETRY = 0x80

_ERR_TEXT = {
    EFULL: "the ring is full",
    ENOLINK: "no linked peer",
    EINVAL: "invalid argument (type 0, payload larger than max_msg, or a bad batch)",
    EPROTO: "protocol error",
    EMSGSIZE: "the payload is larger than the peer's max_msg",
}

_DEFAULT_LIB = Path(__file__).resolve().parents[2] / "rtos" / "build" / "libivmr.so"
_lib: ctypes.CDLL | None = None


class Record(NamedTuple):
    """A received record."""

    rtype: int
    flags: int
    seq: int
    payload: bytes


def load_library(path: str | os.PathLike[str] | None = None) -> ctypes.CDLL:
    """Load ``libivmr.so`` (``$VOICEBUS_IVMR_LIB`` or ``rtos/build/libivmr.so``) once."""
    global _lib
    if _lib is not None and path is None:
        return _lib
    p = Path(path or os.environ.get("VOICEBUS_IVMR_LIB") or _DEFAULT_LIB)
    if not p.exists():
        raise LibraryError(
            f"The IVMR ring core {p} is missing; build it with 'make -C rtos' (gcc and make "
            "are needed) or set VOICEBUS_IVMR_LIB to its path."
        )
    try:
        lib = ctypes.CDLL(str(p))
    except OSError as exc:
        raise LibraryError(f"Cannot load the IVMR ring core {p}: {exc}; rebuild it.") from exc
    u8p, u32, u64, vp = ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_void_p
    sigs: dict[str, tuple[Any, list[Any]]] = {
        "ivmr_ep_sizeof": (ctypes.c_size_t, []),
        "ivmr_block_size": (u32, [u32]),
        "ivmr_region_size": (u32, [u32]),
        "ivmr_crc32": (u32, [u32, u8p, ctypes.c_size_t]),
        "ivmr_init_layout": (ctypes.c_int, [vp, vp, u32, u32, u32, u32, u32, u32, u64]),
        "ivmr_reinit": (ctypes.c_int, [vp, u64]),
        "ivmr_shutdown": (None, [vp]),
        "ivmr_poll": (u32, [vp, u64]),
        "ivmr_linked": (ctypes.c_int, [vp]),
        "ivmr_peer_alive": (ctypes.c_int, [vp]),
        "ivmr_peer_epoch": (u64, [vp]),
        "ivmr_peer_max_msg": (u32, [vp]),
        "ivmr_tx_drop": (u32, [vp]),
        "ivmr_send": (ctypes.c_int, [vp, ctypes.c_uint16, ctypes.c_uint16, u8p, u32]),
        "ivmr_send_batch": (
            ctypes.c_int,
            [vp, vp, u32, ctypes.POINTER(u32), ctypes.POINTER(ctypes.c_int)],
        ),
        "ivmr_recv_batch": (ctypes.c_int, [vp, vp, u32, u32, ctypes.POINTER(u32)]),
        "ivmr_rx_arm": (ctypes.c_int, [vp]),
        "ivmr_rx_disarm": (None, [vp]),
        "ivmr_stats": (None, [vp, ctypes.POINTER(u64)]),
        "ivmr_count_unknown": (None, [vp]),
        "ivmr_fault_code": (u32, [vp]),
        "ivmr_tx_free": (u32, [vp, ctypes.c_int]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    if path is None:
        _lib = lib
    return lib


def new_epoch() -> int:
    """A random nonzero 64-bit epoch."""
    while True:
        e = int.from_bytes(os.urandom(8), "little")
        if e:
            return e


class Endpoint:
    """One side of an IVMR region, initialised on construction (its block is re-written).

    ``buffer`` is a writable buffer holding the whole region (an ``mmap`` or a ``bytearray``),
    64-byte aligned (an mmap is page aligned). ``capacity`` is our own ring; block 1 starts at
    ``block_size(linux_capacity)`` (default: both rings of ``capacity``), so the two sides must
    agree on the Linux ring's capacity while each chooses its own ring (its descriptor tells).
    """

    def __init__(
        self,
        buffer: Any,
        endpoint_id: int = 0,
        *,
        capacity: int = 16384,
        max_msg: int = 1024,
        hb_period_ms: int = 100,
        epoch: int | None = None,
        batch_bytes: int = 1 << 18,
        linux_capacity: int | None = None,
    ) -> None:
        self._lib = load_library()
        self._anchor = ctypes.c_char.from_buffer(buffer)
        self.base = ctypes.addressof(self._anchor)
        self.size = len(buffer)
        self.endpoint_id = endpoint_id
        self.capacity = capacity
        self.max_msg = max_msg
        self._ep = ctypes.create_string_buffer(int(self._lib.ivmr_ep_sizeof()) + 64)
        self._epp = ctypes.addressof(self._ep)
        self.epoch = epoch or new_epoch()
        cap0 = capacity if endpoint_id == 0 else (linux_capacity or capacity)
        need = layout.block_size(cap0) + layout.block_size(capacity)  # a floor for endpoint 0
        rc = self._lib.ivmr_init_layout(
            self._epp, self.base, self.size, endpoint_id, layout.block_size(cap0), capacity,
            max_msg, hb_period_ms, self.epoch,
        )  # fmt: skip
        if rc != OK:
            self._anchor = None  # type: ignore[assignment]
            raise RingError(
                f"The ring core refused the region: size {self.size} B (needs at least "
                f"{need}), capacity {capacity} (a power of two >= 4*(16+max_msg)), max_msg "
                f"{max_msg}, 64-byte aligned base."
            )
        self._rx = ctypes.create_string_buffer(batch_bytes)
        self._rxp = ctypes.addressof(self._rx)
        self._tx = ctypes.create_string_buffer(batch_bytes)
        self._txp = ctypes.addressof(self._tx)
        self._u32 = ctypes.c_uint32()
        self._int = ctypes.c_int()
        self._stats = (ctypes.c_uint64 * 8)()

    # --- session -------------------------------------------------------------------------

    def poll(self, now_ms: int) -> int:
        """Heartbeat, attach and liveness; returns the ``EV_*`` bit mask of what happened."""
        return int(self._lib.ivmr_poll(self._epp, now_ms))

    @property
    def linked(self) -> bool:
        """The two-way handshake is complete."""
        return bool(self._lib.ivmr_linked(self._epp))

    @property
    def peer_alive(self) -> bool:
        """The peer's heartbeat moved within the last 5 of its periods."""
        return bool(self._lib.ivmr_peer_alive(self._epp))

    @property
    def peer_epoch(self) -> int:
        """The epoch we are attached to (0 = none)."""
        return int(self._lib.ivmr_peer_epoch(self._epp))

    @property
    def peer_max_msg(self) -> int:
        """The attached peer's largest payload, bytes (0 = not attached)."""
        return int(self._lib.ivmr_peer_max_msg(self._epp))

    @property
    def fault_code(self) -> int:
        """The last protocol error code (see ``layout.FAULT_TEXT``)."""
        return int(self._lib.ivmr_fault_code(self._epp))

    def reinit(self, epoch: int | None = None) -> int:
        """Re-initialise our block with a new epoch (after a fault); returns the epoch."""
        self.epoch = epoch or new_epoch()
        if self._lib.ivmr_reinit(self._epp, self.epoch) != OK:
            raise RingError("Re-initialisation needs a nonzero epoch different from the last.")
        return self.epoch

    def shutdown(self) -> None:
        """Mark our endpoint STOPPING then OFF (clean exit)."""
        self._lib.ivmr_shutdown(self._epp)

    def stats(self) -> dict[str, int]:
        """Our block's 8 counters by name."""
        self._lib.ivmr_stats(self._epp, self._stats)
        return dict(zip(layout.STAT_NAMES, self._stats, strict=True))

    def count_unknown(self) -> None:
        """Count a received record of a type this side does not know."""
        self._lib.ivmr_count_unknown(self._epp)

    def tx_free(self, urgent: bool = False) -> int:
        """Free bytes for a record now (outside the URGENT reserve unless ``urgent``)."""
        return int(self._lib.ivmr_tx_free(self._epp, int(urgent)))

    def arm(self) -> bool:
        """Announce we are about to sleep; True = data is pending (do not sleep)."""
        return bool(self._lib.ivmr_rx_arm(self._epp))

    def disarm(self) -> None:
        """We are awake again."""
        self._lib.ivmr_rx_disarm(self._epp)

    # --- data ----------------------------------------------------------------------------

    def _fault(self) -> RingFault:
        code = self.fault_code
        return RingFault(
            f"IVMR protocol error {code}: {layout.FAULT_TEXT.get(code, 'unknown')}; the "
            "endpoint is in FAULT and must be re-initialised.",
            code,
        )

    def send(self, rtype: int, payload: bytes, flags: int = 0) -> int:
        """Send one record. Returns 1 when the peer should be kicked, 0 otherwise, or a
        negative code (``EFULL``: no sequence number used, retry or :meth:`drop`;
        ``ENOLINK``; ``EMSGSIZE``: larger than the peer's max_msg); raises :class:`RingFault`
        on a protocol error."""
        rc = int(self._lib.ivmr_send(self._epp, rtype, flags, payload, len(payload)))
        if rc == EPROTO:
            raise self._fault()
        if rc == EINVAL:
            raise RingError(f"Cannot send type {rtype:#x} of {len(payload)} B: {_ERR_TEXT[rc]}.")
        return rc

    def drop(self) -> int:
        """Abandon a record that did not fit (ring full): its sequence number is consumed so
        the peer sees the gap (spec section 6). Returns the sequence number dropped."""
        return int(self._lib.ivmr_tx_drop(self._epp))

    @staticmethod
    def pack_batch(items: Iterable[tuple[int, int, bytes]]) -> bytes:
        """Pack ``(type, flags, payload)`` items for :meth:`send_packed`."""
        out = bytearray()
        for rtype, flags, payload in items:
            out += struct.pack("<HHI", rtype, flags, len(payload)) + payload
            out += bytes(-len(out) % 8)
        return bytes(out)

    def send_packed(self, packed: bytes) -> tuple[int, bool, int]:
        """Send pre-packed items in order: ``(sent, kick, error)`` (error 0 or a code)."""
        n = len(packed)
        if n > len(self._tx):
            raise RingError(f"A batch of {n} B exceeds the {len(self._tx)} B batch buffer.")
        ctypes.memmove(self._txp, packed, n)
        sent = int(
            self._lib.ivmr_send_batch(
                self._epp, self._txp, n, ctypes.byref(self._u32), ctypes.byref(self._int)
            )
        )
        err = int(self._int.value)
        if err == EPROTO:
            raise self._fault()
        return sent, bool(self._u32.value), err

    def send_many(self, items: Sequence[tuple[int, int, bytes]]) -> tuple[int, bool, int]:
        """Send ``(type, flags, payload)`` items with one call; see :meth:`send_packed`."""
        return self.send_packed(self.pack_batch(items))

    def recv_raw(self, max_items: int = 1 << 16) -> tuple[int, memoryview]:
        """Receive up to ``max_items`` records into the batch buffer: ``(count, view)`` where
        each item is ``[u16 type][u16 flags][u32 seq][u32 n][u32 0][payload][pad to 16]``.
        The view is valid until the next receive."""
        count = int(
            self._lib.ivmr_recv_batch(
                self._epp, self._rxp, len(self._rx), max_items, ctypes.byref(self._u32)
            )
        )
        if count == EPROTO:
            raise self._fault()
        return count, memoryview(self._rx)[: self._u32.value]

    def recv_many(self, max_items: int = 1 << 16) -> list[Record]:
        """Receive and decode up to ``max_items`` records (CRC-bad ones are counted, skipped)."""
        count, view = self.recv_raw(max_items)
        out: list[Record] = []
        pos = 0
        for _ in range(count):
            rtype, flags, seq, n = struct.unpack_from("<HHII", view, pos)
            out.append(Record(rtype, flags, seq, bytes(view[pos + 16 : pos + 16 + n])))
            pos += 16 + layout.align16(n)
        return out

    def close(self) -> None:
        """Release the buffer export (the region can then be unmapped)."""
        self._anchor = None  # type: ignore[assignment]
