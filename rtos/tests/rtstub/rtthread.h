/* Declarations of the RT-Thread kernel API the port uses, as documented (4.1/5.x), so that
 * `make -C rtos check` can syntax-check port/rtthread without an RT-Thread tree. Not a kernel. */
#ifndef RTSTUB_RTTHREAD_H
#define RTSTUB_RTTHREAD_H
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
typedef int32_t rt_int32_t; typedef uint32_t rt_uint32_t; typedef uint8_t rt_uint8_t; typedef long rt_err_t; typedef uint32_t rt_tick_t; typedef size_t rt_size_t; typedef long rt_ssize_t;
#define RT_NULL 0
#define RT_EOK 0
#define RT_ERROR 1
#define RT_IPC_FLAG_FIFO 0
#define RT_IPC_FLAG_PRIO 1
#define RT_TICK_PER_SECOND 1000
typedef struct rt_semaphore *rt_sem_t; typedef struct rt_messagequeue *rt_mq_t; typedef struct rt_thread *rt_thread_t;
rt_sem_t rt_sem_create(const char *name, rt_uint32_t value, rt_uint8_t flag);
rt_err_t rt_sem_take(rt_sem_t sem, rt_int32_t time); rt_err_t rt_sem_release(rt_sem_t sem);
rt_mq_t rt_mq_create(const char *name, rt_size_t msg_size, rt_size_t max_msgs, rt_uint8_t flag);
rt_err_t rt_mq_send(rt_mq_t mq, const void *buffer, rt_size_t size); rt_err_t rt_mq_urgent(rt_mq_t mq, const void *buffer, rt_size_t size);
rt_ssize_t rt_mq_recv(rt_mq_t mq, void *buffer, rt_size_t size, rt_int32_t timeout);
rt_thread_t rt_thread_create(const char *name, void (*entry)(void *parameter), void *parameter, rt_uint32_t stack_size, rt_uint8_t priority, rt_uint32_t tick);
rt_err_t rt_thread_startup(rt_thread_t thread); rt_err_t rt_thread_mdelay(rt_int32_t ms); rt_err_t rt_thread_delay(rt_tick_t tick);
rt_tick_t rt_tick_get(void); rt_tick_t rt_tick_from_millisecond(rt_int32_t ms);
void rt_interrupt_enter(void); void rt_interrupt_leave(void);
int rt_vsnprintf(char *buf, rt_size_t size, const char *fmt, va_list args); int rt_kprintf(const char *fmt, ...);
#define INIT_APP_EXPORT(fn) int (*__init_##fn)(void) = fn
#endif
