/*
 * RT-Thread port of port.h, against RT-Thread's documented kernel API (4.1 / 5.x):
 * rt_sem_* (the doorbell ISR releases the IPC thread's semaphore), rt_mq_* (never blocking on
 * send), rt_thread_create/startup, rt_tick_*, and the interrupt layer (see the doorbell below).
 *
 * Board specifics come from rtconfig.h (menuconfig) or the compiler command line:
 *   IVMR_DOORBELL_IRQ       the doorbell interrupt as the BSP's interrupt layer numbers it (-1 =
 *                           poll only). With RT_USING_PIC (the rk3500 BSP) that is the PIC's
 *                           global irq number, not a GIC interrupt id: see the doorbell below.
 *   IVMR_DOORBELL_OFW_PATH  with RT_USING_OFW: a device-tree node whose first `interrupts` entry
 *                           is the doorbell; its irq is looked up (and mapped) at start. Wins
 *                           over IVMR_DOORBELL_IRQ.
 *   IVMR_THREAD_STACK_SIZE  least stack of the port's threads, bytes (default: the BSP's
 *                           SYSTEM_THREAD_STACK_SIZE, 16384 on rk3500; 16384 without it).
 *   and ivmr_board_kick(): how to kick Linux (hypercall or doorbell register; vendor SDK).
 */
#include <rtthread.h>
#include <rthw.h>
#include <stdarg.h>
#ifdef RT_USING_PIC
#include <rtdevice.h>
#endif

#include "../port.h"

#ifndef IVMR_DOORBELL_IRQ
#define IVMR_DOORBELL_IRQ (-1)
#endif

/* The rk3500 BSP gives every thread of its own 16 KiB (SYSTEM_THREAD_STACK_SIZE, main, idle,
 * tshell, workqueue). The app asks for 4 KiB, which has not been measured on AArch64 (a 64-bit
 * frame with rt_kprintf's formatting is deep); until `list thread` on the board shows it safe
 * (docs/board-checklist.md), the port gives at least what the BSP gives its own threads. */
#ifndef IVMR_THREAD_STACK_SIZE
#ifdef SYSTEM_THREAD_STACK_SIZE
#define IVMR_THREAD_STACK_SIZE SYSTEM_THREAD_STACK_SIZE
#else
#define IVMR_THREAD_STACK_SIZE 16384
#endif
#endif

port_sem_t *port_sem_create(const char *name)
{
    return (port_sem_t *)rt_sem_create(name, 0, RT_IPC_FLAG_PRIO);
}

int port_sem_take(port_sem_t *sem, uint32_t timeout_ms)
{
    return rt_sem_take((rt_sem_t)sem, rt_tick_from_millisecond((rt_int32_t)timeout_ms)) == RT_EOK
               ? 0
               : -1;
}

void port_sem_release(port_sem_t *sem) { rt_sem_release((rt_sem_t)sem); }

port_mq_t *port_mq_create(const char *name, size_t msg_size, size_t max_msgs)
{
    return (port_mq_t *)rt_mq_create(name, msg_size, max_msgs, RT_IPC_FLAG_FIFO);
}

int port_mq_send(port_mq_t *mq, const void *msg, size_t size)
{
    return rt_mq_send((rt_mq_t)mq, msg, size) == RT_EOK ? 0 : -1; /* -RT_EFULL: dropped */
}

int port_mq_urgent(port_mq_t *mq, const void *msg, size_t size)
{
    return rt_mq_urgent((rt_mq_t)mq, msg, size) == RT_EOK ? 0 : -1;
}

int port_mq_recv(port_mq_t *mq, void *msg, size_t size, uint32_t timeout_ms)
{
    /* 4.x returns RT_EOK, 5.x the received length: both are >= 0 on success */
    rt_int32_t t = timeout_ms ? rt_tick_from_millisecond((rt_int32_t)timeout_ms) : 0;
    return rt_mq_recv((rt_mq_t)mq, msg, size, t) >= 0 ? 0 : -1;
}

int port_thread_start(const char *name, void (*entry)(void *), void *arg, uint32_t stack_size,
                      uint8_t priority)
{
    if (stack_size < IVMR_THREAD_STACK_SIZE)
        stack_size = IVMR_THREAD_STACK_SIZE;
    rt_thread_t t = rt_thread_create(name, entry, arg, stack_size, priority, 10);
    if (t == RT_NULL)
        return -1;
    return rt_thread_startup(t) == RT_EOK ? 0 : -1;
}

void port_thread_join_all(void) {} /* the controller runs for the life of the VM */

/* rt_tick_t is 32 bits (49 days at 1 kHz): extend it so the ring core's clock never goes back */
uint64_t port_now_ms(void)
{
    static uint64_t high;
    static rt_tick_t last;
    rt_base_t level = rt_hw_interrupt_disable();
    rt_tick_t t = rt_tick_get();
    if (t < last)
        high += (uint64_t)1 << 32;
    last = t;
    uint64_t ticks = high | t;
    rt_hw_interrupt_enable(level);
    return ticks * 1000u / RT_TICK_PER_SECOND;
}

uint64_t port_now_ns(void) { return port_now_ms() * 1000000ull; }

void port_sleep_ms(uint32_t ms) { rt_thread_mdelay((rt_int32_t)ms); }

void port_sleep_us(uint32_t us)
{
    rt_thread_delay(1); /* one tick: the shortest sleep the scheduler offers */
    (void)us;
}

uint64_t port_new_epoch(void)
{
    /* virtual counter (differs on every boot and restart) mixed with the tick */
    uint64_t cnt = 0;
#if defined(__aarch64__)
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(cnt));
#endif
    uint64_t e = (cnt << 16) ^ ((uint64_t)rt_tick_get() << 40) ^ 0x9E3779B97F4A7C15ull;
    return e ? e : 1u;
}

/* ---- doorbell ------------------------------------------------------------------------------
 * The number handed to rt_hw_interrupt_install/umask is whatever the BSP's interrupt layer uses.
 * Under RT_USING_PIC (RT_USING_DM BSPs such as rk3500) those two wrap rt_pic_attach_irq and
 * rt_pic_irq_unmask (components/drivers/pic/pic_rthw.c) and the number is the PIC's *global irq*:
 * an index into RT-Thread's irq table, valid only once a PIC has mapped a hardware interrupt to
 * it (for a device-tree interrupt rt_ofw_get_irq does that and returns the number; msh
 * `list_irq` shows it beside the hardware id). For the GICv3 the hardware id is the GIC INTID
 * (SPI n = INTID n + 32) and the global irq is the GIC's first irq + INTID - 16, so the INTID the
 * hypervisor documents is *not* the number to put in IVMR_DOORBELL_IRQ. rt_hw_interrupt_install
 * returns nothing useful there (always RT_NULL), so under the PIC the port calls
 * rt_pic_attach_irq itself and falls back to polling, loudly, when the irq is not mapped.
 * Without the PIC, legacy BSPs number interrupts by the GIC INTID directly. */
static port_sem_t *wake;

/* No rt_interrupt_enter/leave here: the BSP's vector (AArch64 vector_gcc.S) already wraps every
 * handler in them, and rtthread.h reserves them for the BSP. */
static void doorbell_isr(int vector, void *param)
{
    (void)vector;
    (void)param;
    rt_sem_release((rt_sem_t)wake);
}

static int doorbell_irq(void)
{
#if defined(RT_USING_OFW) && defined(IVMR_DOORBELL_OFW_PATH)
    struct rt_ofw_node *np = rt_ofw_find_node_by_path(IVMR_DOORBELL_OFW_PATH);
    int irq = np ? rt_ofw_get_irq(np, 0) : -1;
    rt_ofw_node_put(np);
    if (irq < 0)
        port_log("doorbell: no interrupt at device-tree node %s (%d)", IVMR_DOORBELL_OFW_PATH, irq);
    return irq;
#else
    return IVMR_DOORBELL_IRQ;
#endif
}

int port_doorbell_attach(port_sem_t *wake_sem)
{
    wake = wake_sem;
    int irq = doorbell_irq();
    if (irq < 0)
        return 0; /* polling: the IPC thread's semaphore wait times out every poll period */
#ifdef RT_USING_PIC
    rt_err_t err = rt_pic_attach_irq(irq, doorbell_isr, RT_NULL, "ivmr", RT_IRQ_F_NONE);
    if (err != RT_EOK) {
        port_log("doorbell: irq %d is not a mapped PIC irq (%d); polling instead (see list_irq)",
                 irq, (int)err);
        return 0;
    }
    rt_pic_irq_unmask(irq);
#else
    rt_hw_interrupt_install(irq, doorbell_isr, RT_NULL, "ivmr");
    rt_hw_interrupt_umask(irq);
#endif
    port_log("doorbell: irq %d attached", irq);
    return 0;
}

/* Kicks Linux: the hypercall or doorbell register comes from the vendor SDK; override this. */
__attribute__((weak)) void ivmr_board_kick(void) {}

void port_doorbell_kick(void) { ivmr_board_kick(); }

void port_log(const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    rt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    rt_kprintf("[car] %s\n", buf);
}
