/*
 * POSIX port: pthreads, a condition-variable semaphore, a mutex-protected message queue and
 * CLOCK_MONOTONIC. The doorbell is optional: without one the IPC thread polls (its semaphore
 * wait times out every poll period); with one, a named FIFO pair emulates the UIO semantics
 * (a reader thread plays the ISR; a non-blocking 1-byte write is the kick, EAGAIN = pending).
 */
#define _GNU_SOURCE
#include "../port.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct port_sem {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned count;
};

static void deadline_after(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000u;
    ts->tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

port_sem_t *port_sem_create(const char *name)
{
    (void)name;
    port_sem_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    cond_init(&s->cv);
    return s;
}

int port_sem_take(port_sem_t *s, uint32_t timeout_ms)
{
    struct timespec ts;
    int rc = 0;
    deadline_after(&ts, timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (s->count == 0 && rc == 0)
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    if (s->count) {
        s->count--;
        rc = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return rc ? -1 : 0;
}

void port_sem_release(port_sem_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->count++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

struct port_mq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t msg_size, max, head, count;
    unsigned char *slots;
};

port_mq_t *port_mq_create(const char *name, size_t msg_size, size_t max_msgs)
{
    (void)name;
    port_mq_t *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->slots = calloc(max_msgs, msg_size);
    if (!q->slots) {
        free(q);
        return NULL;
    }
    q->msg_size = msg_size;
    q->max = max_msgs;
    pthread_mutex_init(&q->mu, NULL);
    cond_init(&q->cv);
    return q;
}

static int mq_put(port_mq_t *q, const void *msg, size_t size, int front)
{
    if (size > q->msg_size)
        return -1;
    pthread_mutex_lock(&q->mu);
    if (q->count == q->max) {
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    size_t idx;
    if (front) {
        q->head = (q->head + q->max - 1) % q->max;
        idx = q->head;
    } else {
        idx = (q->head + q->count) % q->max;
    }
    memcpy(q->slots + idx * q->msg_size, msg, size);
    q->count++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int port_mq_send(port_mq_t *q, const void *msg, size_t size) { return mq_put(q, msg, size, 0); }
int port_mq_urgent(port_mq_t *q, const void *msg, size_t size) { return mq_put(q, msg, size, 1); }

int port_mq_recv(port_mq_t *q, void *msg, size_t size, uint32_t timeout_ms)
{
    struct timespec ts;
    int rc = 0;
    deadline_after(&ts, timeout_ms);
    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && rc == 0 && timeout_ms)
        rc = pthread_cond_timedwait(&q->cv, &q->mu, &ts);
    if (q->count == 0) {
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    memcpy(msg, q->slots + q->head * q->msg_size, size < q->msg_size ? size : q->msg_size);
    q->head = (q->head + 1) % q->max;
    q->count--;
    pthread_mutex_unlock(&q->mu);
    return 0;
}

#define MAX_THREADS 8
static pthread_t threads[MAX_THREADS];
static int nthreads;

struct thread_arg {
    void (*entry)(void *);
    void *arg;
};

static void *trampoline(void *p)
{
    struct thread_arg a = *(struct thread_arg *)p;
    free(p);
    a.entry(a.arg);
    return NULL;
}

int port_thread_start(const char *name, void (*entry)(void *), void *arg, uint32_t stack_size,
                      uint8_t priority)
{
    (void)stack_size;
    (void)priority; /* the supervisor sets SCHED_FIFO/affinity for the whole process */
    if (nthreads == MAX_THREADS)
        return -1;
    struct thread_arg *a = malloc(sizeof(*a));
    if (!a)
        return -1;
    a->entry = entry;
    a->arg = arg;
    if (pthread_create(&threads[nthreads], NULL, trampoline, a) != 0) {
        free(a);
        return -1;
    }
    pthread_setname_np(threads[nthreads], name);
    nthreads++;
    return 0;
}

void port_thread_join_all(void)
{
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    nthreads = 0;
}

uint64_t port_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t port_now_ms(void) { return port_now_ns() / 1000000ull; }

void port_sleep_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void port_sleep_us(uint32_t us)
{
    struct timespec ts = {us / 1000000u, (long)(us % 1000000u) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

uint64_t port_new_epoch(void)
{
    uint64_t e = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, &e, sizeof(e)) != (ssize_t)sizeof(e))
            e = 0;
        close(fd);
    }
    if (e == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        e = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
    }
    return e ? e : 1u;
}

/* ---- optional FIFO doorbell ---------------------------------------------------------------- */
static const char *fifo_in, *fifo_out;
static int fd_out = -1;
static port_sem_t *wake;

void port_posix_set_doorbell(const char *in_path, const char *out_path)
{
    fifo_in = in_path;
    fifo_out = out_path;
}

static void doorbell_reader(void *arg)
{
    (void)arg;
    char buf[64];
    int fd = open(fifo_in, O_RDWR); /* O_RDWR: never sees EOF when the writer restarts */
    if (fd < 0) {
        port_log("doorbell open_failed path=%s errno=%d", fifo_in, errno);
        return;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0)
            port_sem_release(wake);
        else if (n < 0 && errno != EINTR)
            break;
    }
}

int port_doorbell_attach(port_sem_t *wake_sem)
{
    wake = wake_sem;
    if (!fifo_in || !fifo_out)
        return 0; /* polling */
    mkfifo(fifo_in, 0600);
    mkfifo(fifo_out, 0600);
    fd_out = open(fifo_out, O_RDWR | O_NONBLOCK);
    if (fd_out < 0)
        return -1;
    pthread_t t;
    struct thread_arg *a = malloc(sizeof(*a));
    if (!a)
        return -1;
    a->entry = doorbell_reader;
    a->arg = NULL;
    if (pthread_create(&t, NULL, trampoline, a) != 0)
        return -1;
    pthread_detach(t); /* blocked in read() at exit; the process ends it */
    return 0;
}

void port_doorbell_kick(void)
{
    if (fd_out >= 0) {
        char one = 1;
        if (write(fd_out, &one, 1) < 0) { /* EAGAIN: a kick is already pending */
        }
    }
}

void port_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rtapp[%d] ", (int)getpid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
