"""Large payloads through shared memory on one board: a ring per publisher, a descriptor on the bus.

A node on an ``ipc://`` bus that publishes a raw field of at least ``shm_min_bytes`` writes it
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

Lifetime: the ring's name holds its process id and that process's start time. A node removes
its ring when it closes; a ring whose process is gone (killed) is removed by :func:`sweep`,
which every node runs when it creates a ring and the proxy runs at every report (10 s).
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
from pathlib import Path

import msgpack

from bus.errors import FrameError, LostError
from bus.nativeio import vbio

__all__ = [
    "DESCRIPTOR",
    "SHM_DIR",
    "ShmOut",
    "ShmReader",
    "ShmRing",
    "available",
    "materialize",
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
_NAME = re.compile(r"^(\d+)-(\d+)-([0-9a-f]{8})\.ring$")
#: Map every page at once (no page fault per 4 KiB on the first pass round the ring).
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


def _start_time(pid: int) -> int | None:
    """The start time of ``pid`` (clock ticks since boot, /proc), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


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
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)  # the pages exist now: no SIGBUS on a full tmpfs
            self._mm = mmap.mmap(fd, size, flags=mmap.MAP_SHARED | _POPULATE)
        except BaseException:
            self.path.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        self._name = self.path.name.encode()
        self.max_bytes = size // 4
        """The largest payload that goes through the ring (a quarter of it), bytes."""
        self._head = 0
        self._stamp = 0
        self._hold_ns = hold_ms * 1_000_000
        self._written: deque[tuple[int, int, int]] = deque()  # (offset, end, ns), oldest first
        self._lock = threading.Lock()

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
            for s_off, s_end, t in written:  # oldest first: the slots in the way come first
                if (s_off < end and s_end > off) or off < head <= s_off:
                    n += 1
                    newest = t
                else:
                    break
            if n:
                if now - newest < self._hold_ns:
                    return None
                for _ in range(n):
                    written.popleft()
            self._head = end
            self._stamp += 1
            written.append((off, end, now))
            assert vbio is not None
            return vbio.shm_put(self._mm, off, self._stamp, data, self._name)

    def close(self) -> None:
        """Remove the ring (readers that mapped it keep what they have)."""
        self.path.unlink(missing_ok=True)
        self._mm.close()


class ShmReader:
    """The reader's side: rings mapped once (at most ``keep`` of them), slots copied out."""

    def __init__(self, keep: int = 32) -> None:
        self._maps: OrderedDict[bytes, mmap.mmap] = OrderedDict()  # by the name's bytes
        self._keep = keep
        self._lock = threading.Lock()

    def read(self, descriptor: bytes) -> bytes:
        """The payload a descriptor names; :class:`FrameError` if it is not one of ours,
        :class:`LostError` if the slot was overwritten."""
        # per message: one dict look-up by the name's bytes, one C call (parse, check, copy)
        if descriptor[:4] != MAGIC or len(descriptor) <= DESCRIPTOR.size:
            raise FrameError("frame 2 is not a shared-memory descriptor (docs/protocol.md rule F7)")
        key = bytes(descriptor[DESCRIPTOR.size :])
        ring = self._maps.get(key)
        if ring is None:
            ring = self._map(key)
        else:
            self._maps.move_to_end(key)
        try:
            assert vbio is not None
            data = vbio.shm_get(ring, descriptor)
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

    def _map(self, key: bytes) -> mmap.mmap:
        name = key.decode("utf-8", "replace")
        if not _NAME.match(name):
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
            self._maps[key] = ring
            while len(self._maps) > self._keep:  # unmapped when no reader uses it any more
                self._maps.popitem(last=False)
        return ring


_reader = ShmReader()
read = _reader.read


class ShmOut:
    """A publisher's way into shared memory: its ring, made at the first payload that needs it.

    ``descriptor(data)`` returns frame 2 for ``data`` written into the ring, or ``None`` when
    ``data`` is smaller than ``min_bytes``, larger than a quarter of the ring, its next slot is
    held (written less than ``hold_ms`` ago: counted in :attr:`held`), or the ring cannot be
    made (the reason is logged once); then the payload travels in frame 2 as usual.
    """

    def __init__(self, instance: int, min_bytes: int, ring_bytes: int, hold_ms: int) -> None:
        self.min_bytes = min_bytes
        self.held = 0
        """Payloads sent in frame 2 because the ring's next slot was held."""
        self._instance = instance
        self._ring_bytes = ring_bytes
        self._hold_ms = hold_ms
        self._ring: ShmRing | None = None
        self._failed = False
        self._held_logged_ns = 0

    def descriptor(self, data: bytes) -> bytes | None:
        if len(data) < self.min_bytes or self._failed:
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
                "shm_ring_held held_total=%d hold_ms=%d (payloads in frame 2 until a slot "
                "is older than hold_ms; a larger shm_ring_bytes holds a longer burst)",
                self.held,
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
    """Remove the rings of processes that are gone; how many were removed."""
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
                removed += 1
                log.info("shm_ring_removed name=%s reason=its process is gone", name)
            except FileNotFoundError:
                pass
    return removed
