"""Large payloads through shared memory on one board: a ring per publisher, a descriptor on the bus.

A node on an ``ipc://`` bus that publishes a raw field of at least ``shm_min_bytes`` writes it
into its ring, a file in :data:`SHM_DIR` (``/dev/shm/voicebus-<uid>``, mode 0700) mapped in
memory, and sends a descriptor in frame 2 instead of the bytes (the envelope says ``shm``
instead of ``raw``, ``docs/protocol.md`` section 9). A reader maps the ring once and copies the
slot out: two copies in all, where ZeroMQ over ipc makes five, and the proxy forwards 32 bytes.

Slots are written round the ring and never waited for: a reader that comes to a slot after the
ring has wrapped over it finds another stamp and counts the message lost (a slow reader loses
its own messages, as with ZeroMQ's high-water mark). Slot writes and reads are the C seqlock of
``bus/native/vbshm.c``, so shared memory is used only when ``bus/native`` is built.

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
from collections import OrderedDict
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
    """The writer's ring: one file of ``size`` bytes, slots written round it."""

    def __init__(self, instance: int, size: int) -> None:
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
        self._head = 0
        self._stamp = 0
        self._lock = threading.Lock()

    def fits(self, n: int) -> bool:
        """True when ``n`` bytes can go through the ring (a quarter of it at most)."""
        return n <= self.size // 4

    def put(self, data: bytes) -> bytes:
        """Write ``data`` into the next slot; the descriptor that names it (frame 2)."""
        need = -(-(_HEADER + len(data)) // _ALIGN) * _ALIGN
        with self._lock:
            if self._head + need > self.size:
                self._head = 0
            off = self._head
            self._head += need
            self._stamp += 1
            stamp = self._stamp
            assert vbio is not None
            vbio.shm_put(self._mm, off, stamp, data)
        return DESCRIPTOR.pack(MAGIC, off, len(data), stamp) + self._name

    def close(self) -> None:
        """Remove the ring (readers that mapped it keep what they have)."""
        self.path.unlink(missing_ok=True)
        self._mm.close()


class ShmReader:
    """The reader's side: rings mapped once (at most ``keep`` of them), slots copied out."""

    def __init__(self, keep: int = 32) -> None:
        self._maps: OrderedDict[str, mmap.mmap] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def read(self, descriptor: bytes) -> bytes:
        """The payload a descriptor names; :class:`FrameError` if it is not one of ours,
        :class:`LostError` if the slot was overwritten."""
        if len(descriptor) <= DESCRIPTOR.size or descriptor[:4] != MAGIC:
            raise FrameError("frame 2 is not a shared-memory descriptor (docs/protocol.md rule F7)")
        _magic, off, length, stamp = DESCRIPTOR.unpack_from(descriptor)
        name = bytes(descriptor[DESCRIPTOR.size :]).decode("utf-8", "replace")
        ring = self._map(name)
        try:
            assert vbio is not None
            data = vbio.shm_get(ring, off, stamp, length)
        except ValueError as exc:
            raise FrameError(
                f"the descriptor {off}+{length} lies outside ring {name} (docs/protocol.md rule F7)"
            ) from exc
        if data is None:
            raise LostError(
                f"the payload in ring {name} was overwritten before this reader took it "
                "(the reader is too slow for the publisher's ring)"
            )
        return data

    def _map(self, name: str) -> mmap.mmap:
        ring = self._maps.get(name)
        if ring is not None:
            self._maps.move_to_end(name)
            return ring
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
            self._maps[name] = ring
            while len(self._maps) > self._keep:  # unmapped when no reader uses it any more
                self._maps.popitem(last=False)
        return ring


_reader = ShmReader()
read = _reader.read


class ShmOut:
    """A publisher's way into shared memory: its ring, made at the first payload that needs it.

    ``descriptor(data)`` returns frame 2 for ``data`` written into the ring, or ``None`` when
    ``data`` is smaller than ``min_bytes``, larger than a quarter of the ring, or the ring
    cannot be made (then the payload travels in frame 2 as usual; the reason is logged once).
    """

    def __init__(self, instance: int, min_bytes: int, ring_bytes: int) -> None:
        self.min_bytes = min_bytes
        self._instance = instance
        self._ring_bytes = ring_bytes
        self._ring: ShmRing | None = None
        self._failed = False

    def descriptor(self, data: bytes) -> bytes | None:
        if len(data) < self.min_bytes or self._failed:
            return None
        if self._ring is None:
            try:
                self._ring = ShmRing(self._instance, self._ring_bytes)
            except OSError as exc:
                self._failed = True
                log.warning(
                    "shm_unavailable dir=%s reason=%s (payloads stay in frame 2)", SHM_DIR, exc
                )
                return None
            log.info("shm_ring_created path=%s bytes=%d", self._ring.path, self._ring_bytes)
        if not self._ring.fits(len(data)):
            return None
        return self._ring.put(data)

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
