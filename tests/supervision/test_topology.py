"""CPU topology from sysfs/procfs, with an RK3588 described by fixture files."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervision.errors import ConfigError
from supervision.topology import Topology, format_cores, parse_cpu_list

FIXTURES = Path(__file__).parent / "fixtures"


def probe(name: str) -> Topology:
    return Topology.probe(FIXTURES / name / "sys", FIXTURES / name / "proc")


def test_rk3588_classes_come_from_cpu_capacity() -> None:
    topo = probe("rk3588")
    assert topo.source == "cpu_capacity"
    assert topo.cores == tuple(range(8))
    assert topo.big == (4, 5, 6, 7)  # Cortex-A76
    assert topo.little == (0, 1, 2, 3)  # Cortex-A55


def test_without_cpu_capacity_the_cpu_part_decides(tmp_path: Path) -> None:
    # The Linux VM of the vmRT-Thread split: 2 A55 + 4 A76, and no cpu_capacity files.
    topo = probe("rk3588-vm")
    assert topo.source == "cpuinfo"
    assert (topo.big, topo.little) == ((2, 3, 4, 5), (0, 1))


def test_rk3588_cpuinfo_alone_gives_the_same_classes(tmp_path: Path) -> None:
    sys_root = tmp_path / "sys"
    (sys_root / "devices/system/cpu").mkdir(parents=True)
    (sys_root / "devices/system/cpu/online").write_text("0-7\n")
    topo = Topology.probe(sys_root, FIXTURES / "rk3588" / "proc")
    assert (topo.source, topo.big, topo.little) == ("cpuinfo", (4, 5, 6, 7), (0, 1, 2, 3))


def test_one_class_of_core_maps_both_names_to_every_core(tmp_path: Path) -> None:
    cpu = tmp_path / "sys/devices/system/cpu"
    for i in range(4):
        (cpu / f"cpu{i}").mkdir(parents=True)
        (cpu / f"cpu{i}" / "cpu_capacity").write_text("1024\n")
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("processor\t: 0\nmodel name\t: x86\n")
    topo = Topology.probe(tmp_path / "sys", tmp_path / "proc")
    assert topo.source == "uniform"
    assert topo.big == topo.little == topo.cores == (0, 1, 2, 3)


def test_this_machine_probes_without_error() -> None:
    topo = Topology.probe()
    assert topo.cores and set(topo.big) | set(topo.little) <= set(topo.cores)


def test_resolve_names_numbers_and_missing_cores() -> None:
    topo = probe("rk3588")
    assert topo.resolve("big", "w") == (4, 5, 6, 7)
    assert topo.resolve("little", "w") == (0, 1, 2, 3)
    assert topo.resolve((1, 5), "w") == (1, 5)
    assert topo.resolve(None, "w") is None
    with pytest.raises(ConfigError, match=r"workers.asr.cpus: core 9 does not exist .*0-7"):
        topo.resolve((4, 9), "workers.asr.cpus")


def test_cpu_list_format_round_trips() -> None:
    assert parse_cpu_list("0-3,6\n") == [0, 1, 2, 3, 6]
    assert format_cores([0, 1, 2, 3, 6]) == "0-3,6"
    assert format_cores([5]) == "5"
    assert format_cores(None) == "all"
