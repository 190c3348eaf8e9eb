"""A writer process lapping a 1 MiB ring, and descriptors of whatever its first slot holds now:
what the seqlock test (``test_shm.py``) and the lease test (``test_shm_lease.py``) read from."""

from __future__ import annotations

import mmap
import os
import struct
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bus import shm

REPO = Path(__file__).parents[2]

_WRITER = textwrap.dedent(
    """
    import sys
    from bus import shm
    ring = shm.ShmRing(int(sys.argv[1]), 1 << 20)
    print(ring.path, flush=True)
    i = 0
    while True:  # one slot size, no hold: the ring wraps every 16 writes, over its slots
        i += 1
        d = ring.put(bytes([i % 251]) * 65000)
        if i == 1:
            sys.stdout.buffer.write(d.hex().encode() + b"\\n")
            sys.stdout.flush()
    """
)


@contextmanager
def lapping_writer(instance: int) -> Iterator[Iterator[bytes]]:
    """Start the writer; yield an endless iterator of descriptors of slot 0's current stamp
    (skipping "being written"). The writer is killed and the ring swept on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(instance)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    try:
        proc.stdout.readline()
        first = bytes.fromhex(proc.stdout.readline().decode().strip())
        _magic, _off, length, _stamp = shm.DESCRIPTOR.unpack_from(first)
        name = first[shm.DESCRIPTOR.size :]
        with open(shm.SHM_DIR / name.decode(), "rb") as f:
            ring = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)

        def descriptors() -> Iterator[bytes]:
            while True:
                stamp = struct.unpack_from("<Q", ring, 0)[0]  # whatever slot 0 holds now
                if stamp:
                    yield shm.DESCRIPTOR.pack(shm.MAGIC, 0, length, stamp) + name

        yield descriptors()
    finally:
        proc.kill()
        proc.wait()
        shm.sweep()
