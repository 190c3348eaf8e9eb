"""CPU topology: which cores exist and which are ``big`` or ``little``.

The class of a core comes from ``/sys/devices/system/cpu/cpuN/cpu_capacity`` when the kernel
reports distinct capacities (the highest is ``big``), else from the ``CPU part`` lines of
``/proc/cpuinfo`` (RK3588: Cortex-A76 = 0xd0b is big, Cortex-A55 = 0xd05 is little). A machine
with one class of core (an x86 laptop, CI) maps both names to all its cores. Both roots are
parameters so an RK3588 can be described by fixture files in tests.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from supervision.errors import ConfigError

__all__ = ["BIG_PARTS", "LITTLE_PARTS", "Topology", "format_cores", "parse_cpu_list"]

#: ARM ``CPU part`` ids of performance cores (A72, A73, A75, A76, A77, A78, X1, A710, X2).
BIG_PARTS = frozenset({0xD08, 0xD09, 0xD0A, 0xD0B, 0xD0D, 0xD41, 0xD44, 0xD47, 0xD48})
#: ARM ``CPU part`` ids of efficiency cores (A53, A55, A510).
LITTLE_PARTS = frozenset({0xD03, 0xD05, 0xD46})


def parse_cpu_list(text: str) -> list[int]:
    """``0-3,6`` -> ``[0, 1, 2, 3, 6]`` (the kernel's cpulist format)."""
    cores: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cores.update(range(int(lo), int(hi or lo) + 1))
    return sorted(cores)


def format_cores(cores: tuple[int, ...] | list[int] | None) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2,5``; ``None`` -> ``all``."""
    if not cores:
        return "all"
    out: list[str] = []
    start = prev = cores[0]
    for c in [*cores[1:], -2]:
        if c != prev + 1:
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = c
        prev = c
    return ",".join(out)


@dataclass(frozen=True)
class Topology:
    """The cores of this machine, by class."""

    cores: tuple[int, ...]
    big: tuple[int, ...]
    little: tuple[int, ...]
    source: str
    """Where the classes came from: ``cpu_capacity``, ``cpuinfo`` or ``uniform``."""

    @classmethod
    def probe(cls, sys_root: Path = Path("/sys"), proc_root: Path = Path("/proc")) -> Topology:
        """Read the topology from sysfs and procfs (or fixture copies of them)."""
        cpu_dir = sys_root / "devices/system/cpu"
        cores = _online_cores(cpu_dir)
        by_capacity = _classes_by_capacity(cpu_dir, cores)
        if by_capacity is not None:
            return cls(tuple(cores), *by_capacity, source="cpu_capacity")
        by_part = _classes_by_part(proc_root / "cpuinfo", cores)
        if by_part is not None:
            return cls(tuple(cores), *by_part, source="cpuinfo")
        return cls(tuple(cores), tuple(cores), tuple(cores), source="uniform")

    def resolve(self, cpus: tuple[int, ...] | str | None, where: str) -> tuple[int, ...] | None:
        """The cores of a ``cpus`` setting; ``None`` = unpinned. ``where`` names the key."""
        if cpus is None:
            return None
        if cpus == "big":
            return self.big
        if cpus == "little":
            return self.little
        assert isinstance(cpus, tuple)
        missing = [c for c in cpus if c not in self.cores]
        if missing:
            raise ConfigError(
                f"{where}: core {missing[0]} does not exist on this machine (cores "
                f"{format_cores(self.cores)}); use existing core numbers or 'big'/'little'."
            )
        return cpus


def _online_cores(cpu_dir: Path) -> list[int]:
    online = cpu_dir / "online"
    if online.is_file():
        cores = parse_cpu_list(online.read_text())
        if cores:
            return cores
    found = sorted(
        int(m.group(1))
        for p in (cpu_dir.iterdir() if cpu_dir.is_dir() else [])
        if (m := re.fullmatch(r"cpu(\d+)", p.name))
    )
    return found or sorted(os.sched_getaffinity(0))


def _split(classes: dict[int, bool]) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    big = tuple(c for c, is_big in sorted(classes.items()) if is_big)
    little = tuple(c for c, is_big in sorted(classes.items()) if not is_big)
    return (big, little) if big and little else None


def _classes_by_capacity(
    cpu_dir: Path, cores: list[int]
) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    capacity: dict[int, int] = {}
    for c in cores:
        f = cpu_dir / f"cpu{c}" / "cpu_capacity"
        try:
            capacity[c] = int(f.read_text().strip())
        except (OSError, ValueError):
            return None
    if not capacity:
        return None
    top = max(capacity.values())
    return _split({c: cap == top for c, cap in capacity.items()})


def _classes_by_part(
    cpuinfo: Path, cores: list[int]
) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    classes: dict[int, bool] = {}
    for block in re.split(r"\n\s*\n", text):
        proc = re.search(r"^processor\s*:\s*(\d+)", block, re.M)
        part = re.search(r"^CPU part\s*:\s*(0x[0-9a-fA-F]+)", block, re.M)
        if proc and part and int(proc.group(1)) in cores:
            pid = int(part.group(1), 16)
            if pid in BIG_PARTS or pid in LITTLE_PARTS:
                classes[int(proc.group(1))] = pid in BIG_PARTS
    return _split(classes)
