"""Waking the peer and being woken: ``poll``, ``fifo:IN,OUT`` (host) and ``uio:/dev/uioN``.

The gateway worker waits on the bus for at most ``poll_ms`` and then polls the rings, so the RT
side's records wait at most ``poll_ms``; the inbound doorbell is drained (and a UIO interrupt
re-enabled) every poll. The outbound kick is what matters: it wakes the RT side at once instead
of after its own poll period.
- ``poll``: nothing to ring; the peer polls too.
- ``fifo:IN,OUT``: named FIFOs emulating UIO semantics on a host. IN wakes us (the RT app's
  OUT), OUT wakes the RT app (its IN); a 1-byte non-blocking write is the kick (EAGAIN = a kick
  is already pending). Pass the same pair, swapped, to ``rtapp --doorbell-fifo``.
- ``eventfd:IN,OUT``: two inherited eventfd descriptors (numbers), e.g. handed over by a vendor
  driver (the KVM ``irqfd``/``ioeventfd`` pattern) or by a parent process; IN wakes us, a write
  of 1 to OUT wakes the peer.
- ``uio:/dev/uioN[,map=M,offset=0xOFF,value=V]``: the inbound IRQ is a UIO device (``read`` of 4
  bytes counts interrupts; writing u32 1 re-enables it); the kick is an aligned 32-bit store of
  V to a doorbell register in map M at OFF, if the vendor exposes one (HVC is undefined at EL0:
  without such a register, a small kernel driver must issue the hypercall).
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import struct
from typing import Protocol

from workers.rtgw.errors import RegionError

__all__ = [
    "Doorbell",
    "EventfdDoorbell",
    "FifoDoorbell",
    "PollDoorbell",
    "UioDoorbell",
    "open_doorbell",
]


class Doorbell(Protocol):
    """What the gateway needs from a doorbell."""

    def kick(self) -> None:
        """Wake the peer."""

    def drain(self) -> int:
        """Consume pending wake-ups (non-blocking); returns how many were seen."""

    def fileno(self) -> int | None:
        """A descriptor that becomes readable on a wake-up, or None."""

    def close(self) -> None:
        """Release descriptors."""


class PollDoorbell:
    """No doorbell: both sides poll."""

    def kick(self) -> None:
        """Nothing to ring."""

    def drain(self) -> int:
        """Nothing to drain."""
        return 0

    def fileno(self) -> int | None:
        """No descriptor."""
        return None

    def close(self) -> None:
        """Nothing to release."""


class FifoDoorbell:
    """Named-FIFO doorbell pair (host)."""

    def __init__(self, in_path: str, out_path: str) -> None:
        for p in (in_path, out_path):
            with contextlib.suppress(FileExistsError):
                os.mkfifo(p, 0o600)
        # O_RDWR: opening never blocks and reads never see EOF when the peer restarts
        self._in = os.open(in_path, os.O_RDWR | os.O_NONBLOCK)
        self._out = os.open(out_path, os.O_RDWR | os.O_NONBLOCK)

    def kick(self) -> None:
        """Write one byte (EAGAIN: a kick is already pending)."""
        try:
            os.write(self._out, b"\x01")
        except BlockingIOError:
            pass

    def drain(self) -> int:
        """Read all pending bytes."""
        n = 0
        while True:
            try:
                chunk = os.read(self._in, 4096)
            except BlockingIOError:
                return n
            if not chunk:
                return n
            n += len(chunk)

    def fileno(self) -> int | None:
        """The inbound FIFO."""
        return self._in

    def close(self) -> None:
        """Close both FIFOs (the files stay)."""
        os.close(self._in)
        os.close(self._out)


class EventfdDoorbell:
    """A pair of eventfd descriptors (inherited or handed over by a driver)."""

    def __init__(self, fd_in: int, fd_out: int) -> None:
        for fd in (fd_in, fd_out):
            try:
                os.set_blocking(fd, False)
            except OSError as exc:
                raise RegionError(f"Descriptor {fd} is not open in this process: {exc}.") from exc
        self._in = fd_in
        self._out = fd_out

    def kick(self) -> None:
        """Add 1 to the peer's counter."""
        with contextlib.suppress(BlockingIOError):
            os.eventfd_write(self._out, 1)

    def drain(self) -> int:
        """Read and reset our counter."""
        try:
            return os.eventfd_read(self._in)
        except BlockingIOError:
            return 0

    def fileno(self) -> int | None:
        """The inbound eventfd."""
        return self._in

    def close(self) -> None:
        """The descriptors belong to whoever handed them over: left open."""


class UioDoorbell:
    """UIO interrupt in, optional memory-mapped doorbell register out."""

    def __init__(self, dev: str, reg_map: int | None = None, offset: int = 0, value: int = 1):
        try:
            self._fd = os.open(dev, os.O_RDWR | os.O_NONBLOCK)
        except OSError as exc:
            raise RegionError(f"Cannot open UIO doorbell {dev}: {exc.strerror}.") from exc
        self._reg: mmap.mmap | None = None
        self._offset = offset
        self._value = value
        if reg_map is not None:
            if offset % 4:
                raise RegionError(f"Doorbell register offset {offset:#x} must be 4-byte aligned.")
            self._reg = mmap.mmap(self._fd, mmap.PAGESIZE, offset=reg_map * mmap.PAGESIZE)

    def kick(self) -> None:
        """Aligned 32-bit store to the doorbell register, if there is one."""
        if self._reg is not None:
            memoryview(self._reg).cast("I")[self._offset // 4] = self._value

    def drain(self) -> int:
        """Read the interrupt count and re-enable the interrupt."""
        try:
            data = os.read(self._fd, 4)
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                return 0
            raise
        os.write(self._fd, struct.pack("<I", 1))
        return 1 if len(data) == 4 else 0

    def fileno(self) -> int | None:
        """The UIO device (select()able)."""
        return self._fd

    def close(self) -> None:
        """Release the mapping and the device."""
        if self._reg is not None:
            self._reg.close()
        os.close(self._fd)


def open_doorbell(spec: str) -> Doorbell:
    """The doorbell named by ``spec`` (``poll``, ``fifo:IN,OUT``, ``uio:/dev/uioN[,...]``)."""
    kind, _, arg = spec.partition(":")
    if kind == "poll" and not arg:
        return PollDoorbell()
    if kind == "fifo":
        paths = arg.split(",")
        if len(paths) == 2 and all(paths):
            return FifoDoorbell(paths[0], paths[1])
    if kind == "eventfd":
        fds = arg.split(",")
        if len(fds) == 2 and all(f.isdigit() for f in fds):
            return EventfdDoorbell(int(fds[0]), int(fds[1]))
    if kind == "uio" and arg:
        dev, *opts = arg.split(",")
        kw = dict(o.split("=", 1) for o in opts if "=" in o)
        reg_map = int(kw["map"], 0) if "map" in kw else None
        return UioDoorbell(
            dev, reg_map, int(kw.get("offset", "0"), 0), int(kw.get("value", "1"), 0)
        )
    raise RegionError(
        f"Doorbell {spec!r} is not understood; write 'poll', 'fifo:IN_PATH,OUT_PATH', "
        "'eventfd:IN_FD,OUT_FD' or 'uio:/dev/uioN[,map=M,offset=0xOFF,value=V]'."
    )
