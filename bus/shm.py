"""Large payloads through shared memory on one board: a ring per publisher, a descriptor on the bus.

A node on an ``ipc://`` bus that publishes a raw field of at least ``shm_min_bytes`` (64 KiB by
default), while the proxy says that every reader reads rings (:mod:`bus.shmgate`), writes it
into its ring, a file in :data:`SHM_DIR` (``/dev/shm/voicebus-<uid>``, mode 0700) mapped in
memory, and sends a descriptor in frame 2 instead of the bytes (the envelope says ``shm``
instead of ``raw``, ``docs/protocol.md`` section 9). A reader maps the ring once and copies the
slot out: two copies in all, where ZeroMQ over ipc makes five, and the proxy forwards 32 bytes.

Slots are written round the ring and never waited for, but a slot written less than
``hold_ms`` ago is not written over: while the next slot is held, payloads travel in frame 2
as usual (protocol 1.0), queued by ZeroMQ like any other message. So a reader that takes each
payload within ``hold_ms`` of its publication loses none, however fast the publisher bursts;
a reader slower than that finds another stamp in the slot and counts the message lost, as with
ZeroMQ's high-water mark. Slot writes and reads are the C seqlock of ``bus/native/vbshm.c``
(which also writes and reads the descriptor), so shared memory is used only when
``bus/native`` is built.

Reads in place: a reader that asks for it (``read(descriptor, in_place=True)``) takes an entry
of the ring's **lease table** (``<ring>.lease``, made with the ring) instead of copying the slot,
and gets a read-only ``memoryview`` of the slot itself: one copy in all. The publisher does not
write over a slot an entry covers (that payload then travels in frame 2, as when the slot is
held); the entry is freed when the last reference to the view goes. The publisher frees the
entries of a reader that is gone. A ring without a table (another implementation's) is copied
out as before.

Lifetime: the ring's name holds its process id and that process's start time. A node removes
its ring and its table when it closes; those of a process that is gone (killed) are removed by
:func:`sweep`, which every node runs when it creates a ring and the proxy runs at every report
(10 s).
"""

from __future__ import annotations

import logging
import mmap
import os
import re
import struct
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

from bus.errors import FrameError, LostError
from bus.nativeio import vbio

__all__ = [
    "DESCRIPTOR",
    "LEASE_BYTES",
    "SHM_DIR",
    "ShmOut",
    "ShmReader",
    "ShmRing",
    "available",
    "materialize",
    "owner_token",
    "read",
    "sweep",
]

log = logging.getLogger(__name__)
_monotonic_ns = time.monotonic_ns

#: Where rings live (tmpfs): one private directory per user.
SHM_DIR = Path(f"/dev/shm/voicebus-{os.getuid()}")
#: Frame 2 of a message whose raw field is in shared memory: magic, offset, length, stamp,
#: then the ring's file name (UTF-8), little-endian.
DESCRIPTOR = struct.Struct("<4sQQQ")
MAGIC = b"VBS1"
_HEADER = 16  # a slot's u64 stamp and u64 length, then the data
_ALIGN = 64
_NAME = re.compile(r"^(\d+)-(\d+)-([0-9a-f]{8})\.(ring|lease)$")
#: A ring's lease table: entries of {u64 owner, u64 offset, u64 end, u64 unused}, owner 0 free.
LEASE_ENTRIES = 128
LEASE_BYTES = LEASE_ENTRIES * 32
_OWNER_CHECK_NS = 1_000_000_000  # how often a publisher asks whether a blocking reader lives
#: Map every page at once (no page fault per 4 KiB on the first pass round the ring).
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


def _start_time(pid: int) -> int | None:
    """The start time of ``pid`` (clock ticks since boot, /proc), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


_owner = 0  # this process's owner token as a reader; 0 until first asked (and after a fork)


def owner_token() -> int:
    """This process's owner token in lease tables: its pid and start time (mod 2**32)."""
    global _owner
    if not _owner:  # once per process, not per message
        pid = os.getpid()
        _owner = pid << 32 | (_start_time(pid) or 0) & 0xFFFFFFFF
    return _owner


def _forget_owner() -> None:
    global _owner
    _owner = 0


os.register_at_fork(after_in_child=_forget_owner)


def _alive(token: int) -> bool:
    start = _start_time(token >> 32)
    return start is not None and start & 0xFFFFFFFF == token & 0xFFFFFFFF


def _lease_path(ring: Path | str) -> Path:
    return Path(str(ring)[: -len(".ring")] + ".lease")


def available() -> bool:
    """True when shared memory can be used here (tmpfs at /dev/shm, bus/native built)."""
    return vbio is not None and Path("/dev/shm").is_dir()


class ShmRing:
    """The writer's ring: one file of ``size`` bytes, slots written round it; a slot written
    less than ``hold_ms`` ago is not written over (0: any slot is)."""

    def __init__(self, instance: int, size: int, hold_ms: int = 0) -> None:
        SHM_DIR.mkdir(mode=0o700, exist_ok=True)
        sweep()
        pid = os.getpid()
        self.path = SHM_DIR / f"{pid}-{_start_time(pid)}-{instance:08x}.ring"
        self.size = size
        self.lease_path = _lease_path(self.path)
        try:
            self._leases = _create(self.lease_path, LEASE_BYTES)  # before the ring: readers
            self._mm = _create(self.path, size)  # that find the ring find its table
        except BaseException:
            self.lease_path.unlink(missing_ok=True)
            raise
        self._name = self.path.name.encode()
        self.max_bytes = size // 4
        """The largest payload that goes through the ring (a quarter of it), bytes."""
        self._head = 0
        self._stamp = 0
        self._hold_ns = hold_ms * 1_000_000
        self._written: deque[tuple[int, int, int]] = deque()  # (offset, end, ns), oldest first
        self._lock = threading.Lock()
        self.leased = 0
        """Payloads sent in frame 2 because a reader still held a view of the next slot."""
        self._checked: dict[int, int] = {}  # owner token -> when it was last found alive, ns

    def put(self, data: bytes) -> bytes | None:
        """Write ``data`` into the next slot; the descriptor that names it (frame 2), or
        ``None`` when that slot is held (written less than ``hold_ms`` ago)."""
        need = (_HEADER + len(data) + _ALIGN - 1) // _ALIGN * _ALIGN
        with self._lock:
            head = self._head
            off = head if head + need <= self.size else 0  # 0: a wrap, skipping the tail
            end = off + need
            now = _monotonic_ns()
            written = self._written
            n = newest = 0
            victims: list[int] = []  # the slots this one writes over (their stamps)
            for s_off, s_end, t in written:  # oldest first: the slots in the way come first
                if s_off < end and s_end > off:
                    victims.append(s_off)
                elif not off < head <= s_off:
                    break
                n += 1
                newest = t
            if n:
                if now - newest < self._hold_ns:
                    return None
                if victims and not self._claim(tuple(victims), off, end, now):
                    self.leased += 1
                    return None
                for _ in range(n):
                    written.popleft()
            self._head = end
            self._stamp += 1
            written.append((off, end, now))
            assert vbio is not None
            return vbio.shm_put(self._mm, off, self._stamp, data, self._name)

    def _claim(self, victims: tuple[int, ...], off: int, end: int, now: int) -> bool:
        """Whether ``[off, end)`` may be written: no reader holds a view of it (the entries of
        readers that are gone are freed, each owner looked up at most once a second)."""
        assert vbio is not None
        for _ in range(2):
            owner = vbio.shm_claim(self._mm, self._leases, victims, off, end)
            if owner == 0:
                return True
            if now - self._checked.get(owner, -_OWNER_CHECK_NS) < _OWNER_CHECK_NS:
                return False
            if _alive(owner):
                self._checked[owner] = now
                return False
            freed = vbio.shm_unlease(self._leases, owner)
            self._checked.pop(owner, None)
            log.info(
                "shm_lease_freed owner_pid=%d entries=%d reason=the reader is gone",
                owner >> 32,
                freed,
            )
        return False

    def close(self) -> None:
        """Remove the ring and its lease table (readers that mapped them keep what they have)."""
        self.path.unlink(missing_ok=True)
        self.lease_path.unlink(missing_ok=True)
        self._mm.close()
        self._leases.close()


def _create(path: Path, size: int) -> mmap.mmap:
    """A new file of ``size`` bytes, its pages allocated, mapped shared and read-write."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, size)  # the pages exist now: no SIGBUS on a full tmpfs
        return mmap.mmap(fd, size, flags=mmap.MAP_SHARED | _POPULATE)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


_Mapped = tuple[mmap.mmap, "mmap.mmap | None"]  # a ring and its lease table (None: has none)


class ShmReader:
    """The reader's side: rings mapped once (at most ``keep`` of them), slots copied out or,
    with ``in_place``, leased and read in place."""

    def __init__(self, keep: int = 32) -> None:
        self._maps: OrderedDict[bytes, _Mapped] = OrderedDict()  # by the name's bytes
        self._keep = keep
        self._lock = threading.Lock()
        self._lease = getattr(vbio, "shm_lease", None)  # None: an older build of bus/native

    def read(self, descriptor: bytes, in_place: bool = False) -> bytes | memoryview:
        """The payload a descriptor names (with ``in_place``, a read-only memoryview of the
        slot when the ring has a lease table with a free entry); :class:`FrameError` if it is
        not one of ours, :class:`LostError` if the slot was overwritten."""
        # per message: one dict look-up by the name's bytes, one C call (parse, check, copy)
        if descriptor[:4] != MAGIC or len(descriptor) <= DESCRIPTOR.size:
            raise FrameError("frame 2 is not a shared-memory descriptor (docs/protocol.md rule F7)")
        key = bytes(descriptor[DESCRIPTOR.size :])
        mapped = self._maps.get(key)
        if mapped is None:
            mapped = self._map(key)
        else:
            self._maps.move_to_end(key)
        ring, leases = mapped
        try:
            assert vbio is not None
            view: Any = False
            if in_place and leases is not None and self._lease is not None:
                view = self._lease(ring, leases, descriptor, owner_token())
            if view is False:  # a copy (asked for, no table, or every entry taken)
                data = vbio.shm_get(ring, descriptor)
            elif view is None:  # overwritten
                data = None
            else:
                return memoryview(view)
        except ValueError as exc:
            _magic, off, length, _stamp = DESCRIPTOR.unpack_from(descriptor)
            raise FrameError(
                f"the descriptor {off}+{length} lies outside ring {key.decode()} "
                "(docs/protocol.md rule F7)"
            ) from exc
        if data is None:
            raise LostError(
                f"the payload in ring {key.decode()} was overwritten before this reader took it "
                "(the reader is slower than the publisher's shm_hold_ms)"
            )
        return data

    def _map(self, key: bytes) -> _Mapped:
        name = key.decode("utf-8", "replace")
        m = _NAME.match(name)
        if m is None or m.group(4) != "ring":
            raise FrameError(f"{name!r:.80} is not a voicebus ring name (docs/protocol.md rule F7)")
        with self._lock:
            try:
                fd = os.open(SHM_DIR / name, os.O_RDONLY)
            except OSError as exc:
                raise LostError(f"ring {name} is gone (its publisher ended): {exc}") from exc
            try:
                ring = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED | _POPULATE, prot=mmap.PROT_READ)
            finally:
                os.close(fd)
            mapped = (ring, _map_leases(SHM_DIR / name))
            self._maps[key] = mapped
            while len(self._maps) > self._keep:  # unmapped when no reader uses it any more
                self._maps.popitem(last=False)
        return mapped


def _map_leases(ring: Path) -> mmap.mmap | None:
    """The ring's lease table, mapped read-write, or None when it has none of the right size."""
    try:
        fd = os.open(_lease_path(ring), os.O_RDWR)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_size != LEASE_BYTES:
            return None
        return mmap.mmap(fd, LEASE_BYTES, flags=mmap.MAP_SHARED)
    except OSError:
        return None
    finally:
        os.close(fd)


_reader = ShmReader()
read = _reader.read


class ShmOut:
    """A publisher's way into shared memory: its ring, made at the first payload that needs it.

    ``descriptor(data)`` returns frame 2 for ``data`` written into the ring, or ``None`` when
    ``data`` is smaller than ``min_bytes``, ``gate`` says no (not every reader of the bus reads
    rings: :mod:`bus.shmgate`; counted in :attr:`gated`), ``data`` is larger than a quarter of
    the ring, its next slot is held (written less than ``hold_ms`` ago: counted in
    :attr:`held`), or the ring cannot be made (the reason is logged once); then the payload
    travels in frame 2 as usual. Without ``gate`` (a test's) every reader is taken to read rings.
    """

    def __init__(
        self,
        instance: int,
        min_bytes: int,
        ring_bytes: int,
        hold_ms: int,
        gate: Callable[[], bool] | None = None,
    ) -> None:
        self.min_bytes = min_bytes
        self.gated = 0
        """Payloads sent in frame 2 because the proxy had not said that every reader reads
        shared memory."""
        self._gate = gate
        self.held = 0
        """Payloads sent in frame 2 because the ring's next slot was held (written less than
        ``hold_ms`` ago, or leased by a reader: :attr:`ShmRing.leased`)."""
        self._instance = instance
        self._ring_bytes = ring_bytes
        self._hold_ms = hold_ms
        self._ring: ShmRing | None = None
        self._failed = False
        self._held_logged_ns = 0

    def descriptor(self, data: bytes) -> bytes | None:
        if len(data) < self.min_bytes or self._failed:
            return None
        if self._gate is not None and not self._gate():
            self.gated += 1
            return None
        if self._ring is None:
            try:
                self._ring = ShmRing(self._instance, self._ring_bytes, self._hold_ms)
            except OSError as exc:
                self._failed = True
                log.warning(
                    "shm_unavailable dir=%s reason=%s (payloads stay in frame 2)", SHM_DIR, exc
                )
                return None
            log.info("shm_ring_created path=%s bytes=%d", self._ring.path, self._ring_bytes)
        if len(data) > self._ring.max_bytes:
            return None
        descriptor = self._ring.put(data)
        if descriptor is None:
            self._on_held()
        return descriptor

    def _on_held(self) -> None:
        self.held += 1
        now = time.monotonic_ns()
        if now - self._held_logged_ns > 10_000_000_000:  # a burst holds many: one line per 10 s
            self._held_logged_ns = now
            log.info(
                "shm_ring_held held_total=%d leased=%d hold_ms=%d (payloads in frame 2 until "
                "the next slot is older than hold_ms and no reader holds a view of it; a larger "
                "shm_ring_bytes holds a longer burst)",
                self.held,
                self._ring.leased if self._ring is not None else 0,
                self._hold_ms,
            )

    def close(self) -> None:
        """Remove the ring, if one was made."""
        if self._ring is not None:
            self._ring.close()
            self._ring = None


def materialize(frames: list[bytes]) -> list[bytes]:
    """``frames`` with a shared-memory payload copied into frame 2 (``shm`` becomes ``raw``),
    for a recorder or a queue that keeps messages; other frames unchanged. Raises
    :class:`~bus.errors.LostError` when the slot was overwritten already."""
    if len(frames) != 3 or frames[2][:4] != MAGIC:
        return frames
    try:
        env = msgpack.unpackb(frames[1], raw=False)
    except Exception:  # not for us to judge: decode() refuses it with the reason
        return frames
    if type(env) is not dict or type(env.get("shm")) is not str or "raw" in env:
        return frames
    data = read(frames[2])
    env["raw"] = env.pop("shm")
    return [frames[0], msgpack.packb(env, use_bin_type=True), data]


def sweep(directory: Path = SHM_DIR) -> int:
    """Remove the rings (and their lease tables) of processes that are gone; how many rings
    were removed."""
    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        m = _NAME.match(name)
        if m is None:
            continue
        pid, start = int(m.group(1)), m.group(2)
        if str(_start_time(pid)) != start:
            try:
                (directory / name).unlink()
                if m.group(4) == "ring":
                    removed += 1
                    log.info("shm_ring_removed name=%s reason=its process is gone", name)
            except FileNotFoundError:
                pass
    return removed
