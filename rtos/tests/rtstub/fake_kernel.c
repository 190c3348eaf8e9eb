/* A fake RT-Thread kernel for tests/rtos/test_rtthread_port.py: every function the port
 * (rtos/port/rtthread) calls, printing what it was asked. Not a kernel. FAKE_PIC_MAPPED names the
 * one irq the fake PIC has mapped; the device-tree node "/ivmr-doorbell" has irq 57. */
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
rt_sem_t rt_sem_create(const char *n, rt_uint32_t v, rt_uint8_t f) {
    (void)n;
    (void)v;
    (void)f;
    return (rt_sem_t)&token;
}
rt_err_t rt_sem_take(rt_sem_t s, rt_int32_t t) { (void)s; (void)t; return RT_EOK; }
rt_err_t rt_sem_release(rt_sem_t s) { (void)s; return RT_EOK; }
rt_mq_t rt_mq_create(const char *n, rt_size_t m, rt_size_t k, rt_uint8_t f) {
    (void)n;
    (void)m;
    (void)k;
    (void)f;
    return (rt_mq_t)&token;
}
rt_err_t rt_mq_send(rt_mq_t q, const void *b, rt_size_t s) {
    (void)q;
    (void)b;
    (void)s;
    return RT_EOK;
}
rt_err_t rt_mq_urgent(rt_mq_t q, const void *b, rt_size_t s) {
    (void)q;
    (void)b;
    (void)s;
    return RT_EOK;
}
rt_ssize_t rt_mq_recv(rt_mq_t q, void *b, rt_size_t s, rt_int32_t t) {
    (void)q;
    (void)b;
    (void)t;
    return (rt_ssize_t)s;
}
rt_thread_t rt_thread_create(const char *n, void (*e)(void *), void *a,
    rt_uint32_t stack, rt_uint8_t p, rt_uint32_t t) {
    (void)e;
    (void)a;
    (void)t;
    printf("thread %s stack=%u prio=%u\n", n, stack, p);
    return (rt_thread_t)&token;
}
rt_err_t rt_thread_startup(rt_thread_t t) { (void)t; return RT_EOK; }
rt_err_t rt_thread_mdelay(rt_int32_t ms) { (void)ms; return RT_EOK; }
rt_err_t rt_thread_delay(rt_tick_t t) { (void)t; return RT_EOK; }
rt_tick_t rt_tick_get(void) { return 5; }
rt_tick_t rt_tick_from_millisecond(rt_int32_t ms) { return (rt_tick_t)ms; }
void rt_interrupt_enter(void) { printf("rt_interrupt_enter called by the port\n"); }
void rt_interrupt_leave(void) { printf("rt_interrupt_leave called by the port\n"); }
int rt_vsnprintf(char *b, rt_size_t n, const char *f, va_list ap) { return vsnprintf(b, n, f, ap); }
int rt_kprintf(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int n = vprintf(f, ap);
    va_end(ap);
    return n;
}
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
