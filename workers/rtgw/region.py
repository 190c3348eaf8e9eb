"""Mapping the shared region: ``shmfile:PATH`` (host), ``uio:/dev/uioN`` and ``devmem:0xADDR``.

- ``shmfile:/dev/shm/NAME``: a file created (or grown) to the region size and mapped shared;
  the host stand-in for the inter-VM region. Not ``multiprocessing.shared_memory``: on 3.11 its
  resource tracker may unlink a segment when an attaching process exits.
- ``uio:/dev/uioN`` (optionally ``uio:/dev/uioN?map=M``): a UIO device; map M is mapped at
  offset ``M * PAGE_SIZE`` and its size is read from ``/sys/class/uio/uioN/maps/mapM/size``.
  ``UIO_MEM_PHYS`` maps are uncached (Device memory on arm64).
- ``devmem:0xADDR`` (optionally ``devmem:0xADDR@PATH`` to map another file, for tests):
  ``/dev/mem`` opened with ``O_SYNC`` (uncached), needs root and a kernel without
  ``CONFIG_STRICT_DEVMEM`` for that range.

On Device/uncached maps only aligned 32/64-bit accesses are safe (``memcpy``/``memset`` may
fault): the ring core only does those, and Python code never touches the region directly.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from pathlib import Path

from workers.rtgw.errors import RegionError

__all__ = ["Region", "open_region", "parse_region"]


@dataclass
class Region:
    """A mapped region."""

    spec: str
    buffer: mmap.mmap
    size: int

    def close(self) -> None:
        """Unmap (every Endpoint on it must be closed first)."""
        self.buffer.close()


def parse_region(spec: str) -> tuple[str, str]:
    """``(backend, target)`` of a region spec."""
    backend, sep, target = spec.partition(":")
    if not sep or backend not in ("shmfile", "uio", "devmem") or not target:
        raise RegionError(
            f"Region {spec!r} is not understood; write 'shmfile:/dev/shm/NAME' (host), "
            "'uio:/dev/uioN' or 'devmem:0xADDRESS'."
        )
    return backend, target


def _map(path: str, size: int, offset: int, flags: int, what: str) -> mmap.mmap:
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise RegionError(f"Cannot open {what} {path}: {exc.strerror}; {_hint(path)}") from exc
    try:
        return mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=offset)
    except (OSError, ValueError) as exc:
        raise RegionError(
            f"Cannot map {size} B of {what} {path} at offset {offset:#x}: {exc}; {_hint(path)}"
        ) from exc
    finally:
        os.close(fd)


def _hint(path: str) -> str:
    if path.startswith("/dev/mem"):
        return "run as root on a kernel that allows /dev/mem for this range (CONFIG_STRICT_DEVMEM)."
    if path.startswith("/dev/uio"):
        return "check that the UIO driver is bound (ls /sys/class/uio) and the permissions."
    return "check the path and its permissions."


def open_region(spec: str, size: int) -> Region:
    """Map ``size`` bytes of the region named by ``spec`` (created for ``shmfile``)."""
    backend, target = parse_region(spec)
    if backend == "shmfile":
        path = Path(target)
        if not path.parent.is_dir():
            raise RegionError(f"Region directory {path.parent} does not exist; create it first.")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size < size:
                    os.ftruncate(fd, size)
            finally:
                os.close(fd)
        except OSError as exc:
            raise RegionError(f"Cannot create region file {path}: {exc.strerror}.") from exc
        return Region(spec, _map(str(path), size, 0, os.O_RDWR, "region file"), size)
    if backend == "uio":
        dev, _, query = target.partition("?")
        index = int(query.removeprefix("map=")) if query else 0
        name = Path(dev).name
        size_file = Path(f"/sys/class/uio/{name}/maps/map{index}/size")
        try:
            avail = int(size_file.read_text().strip(), 0)
        except (OSError, ValueError) as exc:
            raise RegionError(
                f"Cannot read {size_file}: is {dev} a UIO device with map {index}? {exc}"
            ) from exc
        if avail < size:
            raise RegionError(f"UIO map {index} of {dev} has {avail} B; the region needs {size}.")
        return Region(
            spec, _map(dev, size, index * mmap.PAGESIZE, os.O_RDWR | os.O_SYNC, "UIO"), size
        )
    addr_text, _, mem_path = target.partition("@")
    try:
        addr = int(addr_text, 0)
    except ValueError as exc:
        raise RegionError(f"devmem address {addr_text!r} is not a number; write 0x....") from exc
    if addr % mmap.PAGESIZE:
        raise RegionError(
            f"devmem address {addr:#x} is not page aligned ({mmap.PAGESIZE} B); the region "
            "base must be."
        )
    return Region(
        spec, _map(mem_path or "/dev/mem", size, addr, os.O_RDWR | os.O_SYNC, "memory device"), size
    )
