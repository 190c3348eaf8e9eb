"""The car app (``rtapp``) against the spec peer (:mod:`tests.rtos.specpeer`) on a region file.

The message payloads here are written from the catalogue in ``docs/rtos.md`` with ``struct``,
not with ``workers.rtgw.messages``, so the conformance tests do not trust our own encoders.
"""

from __future__ import annotations

import mmap
import os
import signal
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.rtos.harness import RTAPP_CMD
from tests.rtos.specpeer import SpecPeer, SpecRecord, block1_offset

HB_MS = 50

PING, PONG, HELLO = 0x0001, 0x0002, 0x0004
DRIVE, STOP, ESTOP, LED = 0x0101, 0x0103, 0x0104, 0x0106
TELEMETRY, ACK = 0x0201, 0x0202
STARTED, DONE, REJECTED, EXPIRED, FAILED = 1, 2, 3, 4, 5
FINAL = frozenset({DONE, REJECTED, EXPIRED, FAILED})
R_LINK_LOST, R_UNKNOWN, R_BUSY = 4, 9, 10


def led(cmd_id: int, rgb: int = 0x102030, ttl_ms: int = 5000) -> bytes:
    """LED: hdr (cmd_id u32, ttl_ms u16, age_ms u16), rgb u32."""
    return struct.pack("<IHHI", cmd_id, ttl_ms, 0, rgb)


def drive(cmd_id: int, mmps: int, duration_ms: int, ttl_ms: int = 1000) -> bytes:
    """DRIVE: hdr, linear_mmps i32, angular_mdps i32, duration_ms u32, distance_mm u32."""
    return struct.pack("<IHHiiII", cmd_id, ttl_ms, 0, mmps, 0, duration_ms, 0)


def region_bytes(linux_capacity: int, rt_capacity: int) -> int:
    """Block 0 then block 1, each rounded up to 4096 (section 3)."""
    return block1_offset(linux_capacity) + block1_offset(rt_capacity)


class Ack:
    """A decoded ACK payload (cmd_id u32, status u16, reason u16, value i32, rt_time_ms u32)."""

    def __init__(self, payload: bytes) -> None:
        self.cmd_id, self.status, self.reason, self.value, _ = struct.unpack_from("<IHHiI", payload)


class Telemetry:
    """A decoded TELEMETRY payload (40 B v1.0; the v1.1 drop counters when present)."""

    def __init__(self, payload: bytes) -> None:
        (self.rt_time_ms, self.state, _, _, _, _, self.linear_mmps, _, self.faults, _,
         self.active) = struct.unpack_from("<IHHiiiiiIII", payload)  # fmt: skip
        self.drops: tuple[int, int, int, int] | None = None
        if len(payload) >= 56:
            self.drops = struct.unpack_from("<IIII", payload, 40)  # ack, tlm, ring, cmd


class PeerRig:
    """``rtapp`` (endpoint 1) and a :class:`SpecPeer` playing Linux (endpoint 0)."""

    def __init__(
        self,
        tmp: Path,
        *,
        peer_capacity: int = 16384,
        peer_max: int = 1024,
        rt_capacity: int = 16384,
        rt_args: tuple[str, ...] = (),
        version_major: int = 1,
    ) -> None:
        self.path = tmp / "region"
        self.log = tmp / "rtapp.log"
        self.path.write_bytes(bytes(region_bytes(peer_capacity, rt_capacity)))
        fd = os.open(self.path, os.O_RDWR)
        self.mm = mmap.mmap(fd, region_bytes(peer_capacity, rt_capacity))
        os.close(fd)
        self.peer = SpecPeer(
            self.mm, 0, capacity=peer_capacity, max_msg=peer_max, hb_ms=HB_MS,
            version_major=version_major,
        )  # fmt: skip
        self.argv = [
            *RTAPP_CMD,
            "--region", str(self.path), "--heartbeat-ms", str(HB_MS),
            "--capacity", str(rt_capacity), *rt_args,
        ]  # fmt: skip
        if peer_capacity != rt_capacity:
            self.argv += ["--linux-capacity", str(peer_capacity)]
        self.got: list[SpecRecord] = []
        self.rt = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            return subprocess.Popen(self.argv, stderr=log)

    def pump(self, seconds: float, *, beat: bool = True, read: bool = True) -> None:
        """Run the peer (heartbeat, attach, read) for ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            self.step(beat=beat, read=read)
            if time.monotonic() >= end:
                return
            time.sleep(0.001)

    def step(self, *, beat: bool = True, read: bool = True) -> None:
        """One peer poll and, if asked, one read."""
        self.peer.poll(beat=beat)
        if read:
            self.got += self.peer.recv()

    def until(self, pred: Callable[[], bool], timeout_s: float = 10.0, **kw: bool) -> bool:
        """Pump until ``pred()`` holds."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.step(**kw)
            if pred():
                return True
            time.sleep(0.001)
        return False

    def linked(self) -> bool:
        """Linked and the car app's first telemetry arrived."""
        return self.until(lambda: self.peer.linked and bool(self.telemetry()))

    def send(self, rtype: int, payload: bytes, flags: int = 0, **kw: bool) -> None:
        """Send one record, waiting for room (reading meanwhile)."""
        assert self.until(lambda: self.peer.send(rtype, payload, flags, **kw), timeout_s=5)

    def of_type(self, rtype: int) -> list[SpecRecord]:
        """Records received of one type."""
        return [r for r in self.got if r.rtype == rtype]

    def acks(self) -> list[Ack]:
        """Every ACK received, in order."""
        return [Ack(r.payload) for r in self.of_type(ACK)]

    def telemetry(self) -> list[Telemetry]:
        """Every TELEMETRY sample received, in order."""
        return [Telemetry(r.payload) for r in self.of_type(TELEMETRY)]

    def pongs(self) -> set[bytes]:
        """Tokens of the PONGs received."""
        return {r.payload[:8] for r in self.of_type(PONG)}

    def signal(self, sig: int) -> None:
        """Signal the car app."""
        os.kill(self.rt.pid, sig)

    def stderr(self) -> str:
        """What the car app logged so far."""
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        """Stop the car app and unmap."""
        if self.rt.poll() is None:
            self.signal(signal.SIGCONT)
            self.rt.terminate()
            self.rt.wait(timeout=10)
        self.mm.close()
