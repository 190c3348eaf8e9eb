"""The RT-Thread port (rtos/port/rtthread) run on the host over fake kernel functions.

The port's C files are compiled against the declarations in ``rtos/tests/rtstub`` with the
configuration macros a BSP's rtconfig.h would set (``ARCH_MM_MMU``, ``RT_USING_SMART``,
``RT_USING_PIC``, ``RT_USING_OFW``) and linked with a harness that records what the port asks of
the kernel. What only the board can show (the real irq number, the stack really used) is in
docs/board-checklist.md.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.rtos.harness import ROOT

RTOS = ROOT / "rtos"

#: The fake kernel: every RT-Thread function the two port files call, printing what it got.
FAKE_KERNEL = RTOS / "tests" / "rtstub" / "fake_kernel.c"


def run_port(tmp: Path, *defines: str, env: dict[str, str] | None = None) -> str:
    """Build the port with these -D flags over the fake kernel and return what it printed."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the RT-Thread port harness; apt-get install gcc.")
    exe = tmp / "port"
    cmd = [
        "gcc",
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Werror",
        f"-I{RTOS / 'tests' / 'rtstub'}",
        f"-I{RTOS / 'app'}",
        f"-I{RTOS / 'port'}",
        f"-I{RTOS / 'ivmr'}",
        "-DIVMR_REGION_PA=0x10000000",
        *[f"-D{d}" for d in defines],
        "-o",
        str(exe),
        str(FAKE_KERNEL),
        str(RTOS / "port" / "rtthread" / "port_rtthread.c"),
        str(RTOS / "port" / "rtthread" / "app_rtthread.c"),
    ]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, env=env or {}, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_mmu_without_smart_maps_the_region_with_ioremap(tmp_path: Path) -> None:
    # components/mm builds rt_ioremap_cached on ARCH_MM_MMU; Smart is not needed for it.
    out = run_port(tmp_path, "ARCH_MM_MMU")
    assert "ioremap_cached 0x10000000" in out
    assert "app_start region=0x7000" in out


def test_smart_with_mmu_maps_the_region_too(tmp_path: Path) -> None:
    out = run_port(tmp_path, "ARCH_MM_MMU", "RT_USING_SMART")
    assert "app_start region=0x7000" in out


def test_without_mmu_the_physical_address_is_used_as_is(tmp_path: Path) -> None:
    out = run_port(tmp_path)
    assert "ioremap" not in out
    assert "app_start region=0x10000000" in out


def test_threads_get_at_least_the_bsp_stack_size(tmp_path: Path) -> None:
    out = run_port(tmp_path)
    assert "thread ivmr_ipc stack=16384 prio=10" in out  # asked 4096; rk3500 gives 16384
    assert "thread big stack=65536 prio=12" in out  # a larger request is kept
    out = run_port(tmp_path, "SYSTEM_THREAD_STACK_SIZE=32768")
    assert "thread ivmr_ipc stack=32768" in out
    out = run_port(tmp_path, "IVMR_THREAD_STACK_SIZE=8192")
    assert "thread ivmr_ipc stack=8192" in out


def test_legacy_interrupt_layer_installs_the_doorbell_by_number(tmp_path: Path) -> None:
    out = run_port(tmp_path, "IVMR_DOORBELL_IRQ=45")
    assert "install 45 ivmr" in out and "umask 45" in out
    assert "attach=0" in out
    assert "rt_interrupt_enter" not in out  # the BSP's vector does that, not the handler


def test_under_the_pic_an_unmapped_irq_falls_back_to_polling(tmp_path: Path) -> None:
    # rt_hw_interrupt_install returns nothing under the PIC: the port must see the refusal.
    out = run_port(tmp_path, "RT_USING_PIC", "IVMR_DOORBELL_IRQ=45", env={"FAKE_PIC_MAPPED": "9"})
    assert "pic_attach 45 refused" in out
    assert "not a mapped PIC irq" in out and "polling instead" in out
    assert "pic_unmask" not in out and "install" not in out
    assert "attach=0" in out  # the controller still starts, polling


def test_under_the_pic_a_mapped_irq_is_attached_and_unmasked(tmp_path: Path) -> None:
    out = run_port(tmp_path, "RT_USING_PIC", "IVMR_DOORBELL_IRQ=45", env={"FAKE_PIC_MAPPED": "45"})
    assert "pic_attach 45 ivmr" in out and "pic_unmask 45" in out
    assert "doorbell: irq 45 attached" in out


def test_the_doorbell_can_come_from_the_device_tree(tmp_path: Path) -> None:
    out = run_port(
        tmp_path,
        "RT_USING_PIC",
        "RT_USING_OFW",
        'IVMR_DOORBELL_OFW_PATH="/ivmr-doorbell"',
        env={"FAKE_PIC_MAPPED": "57"},
    )
    assert "ofw_find /ivmr-doorbell" in out and "pic_attach 57 ivmr" in out
    out = run_port(tmp_path, "RT_USING_PIC", "RT_USING_OFW", 'IVMR_DOORBELL_OFW_PATH="/nowhere"')
    assert "no interrupt at device-tree node /nowhere" in out and "attach=0" in out
