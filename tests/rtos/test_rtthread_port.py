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

#: Fake kernel: every function the two port files call, recording into stdout.
HARNESS = r"""
#include <rtthread.h>
#include <rthw.h>
#include <rtdevice.h>
#include <ioremap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "app.h"
#include "port.h"

static int token;
rt_sem_t rt_sem_create(const char *n, rt_uint32_t v, rt_uint8_t f) { (void)n; (void)v; (void)f; return (rt_sem_t)&token; }
rt_err_t rt_sem_take(rt_sem_t s, rt_int32_t t) { (void)s; (void)t; return RT_EOK; }
rt_err_t rt_sem_release(rt_sem_t s) { (void)s; return RT_EOK; }
rt_mq_t rt_mq_create(const char *n, rt_size_t m, rt_size_t k, rt_uint8_t f) { (void)n; (void)m; (void)k; (void)f; return (rt_mq_t)&token; }
rt_err_t rt_mq_send(rt_mq_t q, const void *b, rt_size_t s) { (void)q; (void)b; (void)s; return RT_EOK; }
rt_err_t rt_mq_urgent(rt_mq_t q, const void *b, rt_size_t s) { (void)q; (void)b; (void)s; return RT_EOK; }
rt_ssize_t rt_mq_recv(rt_mq_t q, void *b, rt_size_t s, rt_int32_t t) { (void)q; (void)b; (void)t; return (rt_ssize_t)s; }
rt_thread_t rt_thread_create(const char *n, void (*e)(void *), void *a, rt_uint32_t stack, rt_uint8_t p, rt_uint32_t t) {
    (void)e; (void)a; (void)t; printf("thread %s stack=%u prio=%u\n", n, stack, p); return (rt_thread_t)&token;
}
rt_err_t rt_thread_startup(rt_thread_t t) { (void)t; return RT_EOK; }
rt_err_t rt_thread_mdelay(rt_int32_t ms) { (void)ms; return RT_EOK; }
rt_err_t rt_thread_delay(rt_tick_t t) { (void)t; return RT_EOK; }
rt_tick_t rt_tick_get(void) { return 5; }
rt_tick_t rt_tick_from_millisecond(rt_int32_t ms) { return (rt_tick_t)ms; }
void rt_interrupt_enter(void) { printf("rt_interrupt_enter called by the port\n"); }
void rt_interrupt_leave(void) { printf("rt_interrupt_leave called by the port\n"); }
int rt_vsnprintf(char *b, rt_size_t n, const char *f, va_list ap) { return vsnprintf(b, n, f, ap); }
int rt_kprintf(const char *f, ...) { va_list ap; va_start(ap, f); int n = vprintf(f, ap); va_end(ap); return n; }
static rt_isr_handler_t installed;
rt_isr_handler_t rt_hw_interrupt_install(int v, rt_isr_handler_t h, void *p, const char *n) {
    (void)p; installed = h; printf("install %d %s\n", v, n); return RT_NULL;
}
void rt_hw_interrupt_umask(int v) { printf("umask %d\n", v); }
rt_base_t rt_hw_interrupt_disable(void) { return 0; }
void rt_hw_interrupt_enable(rt_base_t l) { (void)l; }
rt_err_t rt_pic_attach_irq(int irq, rt_isr_handler_t h, void *u, const char *n, int f) {
    (void)u; (void)f;
    const char *mapped = getenv("FAKE_PIC_MAPPED");
    if (!mapped || atoi(mapped) != irq) { printf("pic_attach %d refused\n", irq); return -22; }
    installed = h; printf("pic_attach %d %s\n", irq, n); return RT_EOK;
}
void rt_pic_irq_unmask(int irq) { printf("pic_unmask %d\n", irq); }
struct rt_ofw_node { int irq; };
static struct rt_ofw_node node = {57};
struct rt_ofw_node *rt_ofw_find_node_by_path(const char *path) {
    printf("ofw_find %s\n", path); return strcmp(path, "/ivmr-doorbell") ? RT_NULL : &node;
}
int rt_ofw_get_irq(struct rt_ofw_node *np, int i) { (void)i; return np->irq; }
void rt_ofw_node_put(struct rt_ofw_node *np) { (void)np; }
void *rt_ioremap_cached(void *pa, size_t size) {
    printf("ioremap_cached %p %zu\n", pa, size); return (void *)0x7000;
}
void car_default_limits(car_limits_t *l) { (void)l; }
int app_start(app_cfg_t *cfg) { printf("app_start region=%p\n", cfg->region); return 0; }

extern int (*__init_car_app_start)(void);

static void nothing(void *a) { (void)a; }

int main(void) {
    port_thread_start("ivmr_ipc", nothing, NULL, 4096, 10);
    port_thread_start("big", nothing, NULL, 65536, 12);
    port_sem_t *sem = port_sem_create("w");
    printf("attach=%d\n", port_doorbell_attach(sem));
    if (installed) installed(0, NULL);
    printf("app=%d\n", __init_car_app_start());
    return 0;
}
"""


def run_port(tmp: Path, *defines: str, env: dict[str, str] | None = None) -> str:
    """Build the port with these -D flags over the fake kernel and return what it printed."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the RT-Thread port harness; apt-get install gcc.")
    src = tmp / "harness.c"
    src.write_text(HARNESS)
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
        str(src),
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
    out = run_port(
        tmp_path, "RT_USING_PIC", "RT_USING_OFW", 'IVMR_DOORBELL_OFW_PATH="/nowhere"'
    )
    assert "no interrupt at device-tree node /nowhere" in out and "attach=0" in out
