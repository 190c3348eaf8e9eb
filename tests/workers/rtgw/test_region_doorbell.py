"""Region backends and doorbells."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workers.rtgw.doorbell import FifoDoorbell, PollDoorbell, open_doorbell
from workers.rtgw.errors import RegionError
from workers.rtgw.region import open_region, parse_region


def test_shmfile_creates_and_grows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r"
    path.write_bytes(b"x" * 10)
    r = open_region(f"shmfile:{path}", 40960)
    assert path.stat().st_size == 40960 and len(r.buffer) == 40960
    r.buffer[0:1] = b"y"
    r.close()
    assert path.read_bytes()[:1] == b"y"


def test_devmem_maps_at_the_address_of_a_stand_in_file(tmp_path: Path) -> None:
    path = tmp_path / "mem"
    path.write_bytes(bytes(8192) + b"IVMR" + bytes(8188))
    r = open_region(f"devmem:0x2000@{path}", 4096)
    assert r.buffer[:4] == b"IVMR"
    r.close()


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("/dev/shm/x", "not understood"),
        ("nfs:/x", "not understood"),
        ("devmem:0x1001", "page aligned"),
        ("devmem:zzz", "not a number"),
        ("uio:/dev/uio99", "UIO device"),
        ("shmfile:/nonexistent-dir/r", "does not exist"),
    ],
)
def test_bad_region_specs_say_what_to_do(spec: str, needle: str) -> None:
    with pytest.raises(RegionError, match=needle):
        open_region(spec, 4096)


def test_parse_region() -> None:
    assert parse_region("uio:/dev/uio0?map=1") == ("uio", "/dev/uio0?map=1")


def test_fifo_doorbell_pair_kicks_the_other_side(tmp_path: Path) -> None:
    a_in, b_in = str(tmp_path / "a"), str(tmp_path / "b")
    a = FifoDoorbell(a_in, b_in)
    b = open_doorbell(f"fifo:{b_in},{a_in}")
    assert b.drain() == 0
    a.kick()
    a.kick()
    assert b.drain() == 2 and b.drain() == 0
    b.kick()
    assert a.drain() == 1
    fd = a.fileno()
    assert fd is not None and os.get_blocking(fd) is False
    a.close()
    b.close()


def test_eventfd_doorbell_pair() -> None:
    x, y = os.eventfd(0), os.eventfd(0)
    a = open_doorbell(f"eventfd:{x},{y}")
    b = open_doorbell(f"eventfd:{y},{x}")
    assert b.drain() == 0
    a.kick()
    a.kick()
    assert b.drain() == 2 and b.drain() == 0 and b.fileno() == y
    os.close(x)
    os.close(y)


def test_poll_doorbell_and_bad_specs() -> None:
    assert isinstance(open_doorbell("poll"), PollDoorbell)
    for spec in ("bell", "fifo:onlyone", "uio:", "eventfd:1"):
        with pytest.raises(RegionError, match="not understood"):
            open_doorbell(spec)
