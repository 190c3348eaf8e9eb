/*
 * The port layer: the few OS services the car controller needs, so that the same application
 * runs on RT-Thread (port/rtthread) and as a process on a host (port/posix).
 *
 * Semantics follow RT-Thread: a counting semaphore released from an ISR (the doorbell), a
 * fixed-size message queue whose send never blocks (-1 when full), threads, a millisecond tick.
 */
#ifndef IVMR_PORT_H
#define IVMR_PORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct port_sem port_sem_t;
typedef struct port_mq port_mq_t;

port_sem_t *port_sem_create(const char *name);
int port_sem_take(port_sem_t *sem, uint32_t timeout_ms); /* 0 = taken, -1 = timeout */
void port_sem_release(port_sem_t *sem);                   /* ISR-safe */

port_mq_t *port_mq_create(const char *name, size_t msg_size, size_t max_msgs);
int port_mq_send(port_mq_t *mq, const void *msg, size_t size);   /* never blocks; -1 = full */
int port_mq_urgent(port_mq_t *mq, const void *msg, size_t size); /* to the front */
int port_mq_recv(port_mq_t *mq, void *msg, size_t size, uint32_t timeout_ms); /* 0 / -1 */

int port_thread_start(const char *name, void (*entry)(void *), void *arg, uint32_t stack_size,
                      uint8_t priority);
void port_thread_join_all(void); /* host: wait for the threads started above */

uint64_t port_now_ms(void);
uint64_t port_now_ns(void);
void port_sleep_ms(uint32_t ms);
void port_sleep_us(uint32_t us); /* short sleep (RT-Thread: one tick at least) */
uint64_t port_new_epoch(void); /* nonzero, different on every call and every boot */

/* Doorbell: wake_sem is released (from the ISR on the board) when the peer kicks us. */
int port_doorbell_attach(port_sem_t *wake_sem);
void port_doorbell_kick(void);

void port_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
