/*
 * The proxy's forwarding loop in C (loaded by bus/forwarder.py through ctypes).
 *
 * Messages go from the XSUB socket (publishers) to the XPUB socket (subscribers) without a
 * copy (zmq_msg_send hands each frame's buffer on) and without Python on the per-message path;
 * a message with a frame over its limit, or with more than 3 frames, is dropped whole and
 * counted, and the loop returns so that Python can log it. Subscriptions go the other way; a
 * subscription to the shared-memory readers' marker (struct vb_limits) is counted as well, and
 * the loop returns so that Python can tell the publishers (bus.shmreaders). A message on the
 * XPUB socket's monitor (a subscriber connected or gone) also returns, for Python to read.
 *
 * libzmq is not linked: the caller passes the addresses of the libzmq functions that pyzmq
 * itself uses (struct vb_zmq), so the sockets and this loop share one libzmq, whichever pyzmq
 * ships. The two structures below are the public ABI of libzmq 4 (zmq.h): zmq_msg_t is 64
 * opaque bytes aligned like a pointer, zmq_pollitem_t is {socket, fd, events, revents}.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

typedef struct {
    unsigned char opaque[64];
} __attribute__((aligned(sizeof(void *)))) vb_msg;

typedef struct {
    void *socket;
    int fd;
    short events;
    short revents;
} vb_pollitem;

enum { VB_POLLIN = 1, VB_DONTWAIT = 1, VB_SNDMORE = 2, VB_ETERM = 156384712 + 53 };

struct vb_zmq {
    int (*msg_init)(vb_msg *);
    int (*msg_recv)(vb_msg *, void *, int);
    int (*msg_send)(vb_msg *, void *, int);
    int (*msg_close)(vb_msg *);
    size_t (*msg_size)(const vb_msg *);
    int (*msg_more)(const vb_msg *);
    void *(*msg_data)(vb_msg *);
    int (*poll)(vb_pollitem *, int, long);
    int (*errno_)(void);
};

/* Limits of frames 0 (topic), 1 (envelope) and 2 (raw), bytes; the readers' marker. */
struct vb_limits {
    uint64_t topic;
    uint64_t envelope;
    uint64_t raw;
    uint32_t marker_len; /* 0: no marker is counted */
    char marker[60];
};

/* Reasons, in the order of bus.forwarder.REASONS. */
enum { VB_ENVELOPE = 0, VB_RAW = 1, VB_TOPIC = 2, VB_TOO_MANY = 3, VB_REASONS = 4 };

struct vb_stats {
    uint64_t forwarded;
    uint64_t refused[VB_REASONS];
    uint64_t subscriptions;
    int64_t marked; /* subscriptions to the marker, less unsubscriptions from it */
    /* the last refusal, for the log line */
    int32_t last_reason;
    int32_t last_frames;
    uint64_t last_size;
    uint32_t last_topic_len;
    char last_topic[80];
};

/* What vb_forward returns. */
enum {
    VB_TIMEOUT = 0,
    VB_CONTROL = 1,
    VB_REFUSED = 2,
    VB_READERS = 3,
    VB_MONITOR = 4,
    VB_TERMINATED = -2,
    VB_FAILED = -1
};

enum { BATCH = 256 };

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int failure(const struct vb_zmq *z) {
    return z->errno_() == VB_ETERM ? VB_TERMINATED : VB_FAILED;
}

/* One message from front: forwarded (0), refused (1), none waiting (2), or an error (<0). */
static int forward_one(const struct vb_zmq *z, void *front, void *back,
                       const struct vb_limits *lim, struct vb_stats *st) {
    vb_msg part[3];
    int n = 0, more, reason = -1, frames;
    uint64_t size = 0;
    z->msg_init(&part[0]);
    if (z->msg_recv(&part[0], front, VB_DONTWAIT) < 0) {
        int err = z->errno_();
        z->msg_close(&part[0]);
        return err == EAGAIN ? 2 : failure(z);
    }
    n = 1;
    more = z->msg_more(&part[0]);
    while (more && n < 3) { /* the rest of a multipart message is there already */
        z->msg_init(&part[n]);
        if (z->msg_recv(&part[n], front, 0) < 0) {
            int rc = failure(z);
            for (int i = 0; i <= n; i++) z->msg_close(&part[i]);
            return rc;
        }
        more = z->msg_more(&part[n]);
        n++;
    }
    frames = n;
    if (z->msg_size(&part[0]) > lim->topic) {
        reason = VB_TOPIC;
        size = z->msg_size(&part[0]);
    } else if (n >= 2 && z->msg_size(&part[1]) > lim->envelope) {
        reason = VB_ENVELOPE;
        size = z->msg_size(&part[1]);
    } else if (n >= 3 && z->msg_size(&part[2]) > lim->raw) {
        reason = VB_RAW;
        size = z->msg_size(&part[2]);
    } else if (more) {
        reason = VB_TOO_MANY;
    }
    while (more) { /* a refused message: let its remaining frames go one at a time */
        vb_msg rest;
        z->msg_init(&rest);
        if (z->msg_recv(&rest, front, 0) < 0) {
            z->msg_close(&rest);
            for (int i = 0; i < n; i++) z->msg_close(&part[i]);
            return failure(z);
        }
        more = z->msg_more(&rest);
        z->msg_close(&rest);
        frames++;
    }
    if (reason >= 0) {
        size_t len = z->msg_size(&part[0]);
        if (len > sizeof st->last_topic) len = sizeof st->last_topic;
        memcpy(st->last_topic, z->msg_data(&part[0]), len);
        st->last_topic_len = (uint32_t)len;
        st->last_reason = reason;
        st->last_frames = frames;
        st->last_size = size;
        st->refused[reason]++;
        for (int i = 0; i < n; i++) z->msg_close(&part[i]);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        if (z->msg_send(&part[i], back, i + 1 < n ? VB_SNDMORE : 0) < 0) {
            int rc = failure(z);
            for (int j = i; j < n; j++) z->msg_close(&part[j]);
            return rc;
        }
    }
    st->forwarded++;
    return 0;
}

/* 1 for a subscription to the marker, -1 for an unsubscription from it, else 0. */
static int marker(const struct vb_zmq *z, vb_msg *m, const struct vb_limits *lim) {
    size_t n = z->msg_size(m);
    const unsigned char *d = z->msg_data(m);
    if (lim->marker_len == 0 || n != 1 + (size_t)lim->marker_len || d[0] > 1) return 0;
    if (memcmp(d + 1, lim->marker, lim->marker_len) != 0) return 0;
    return d[0] == 1 ? 1 : -1;
}

/*
 * Subscriptions (single frames) from back to front, as many as wait, at most BATCH: 0, or 1 when
 * one of them was to or from the marker (st->marked changed), or an error (<0).
 */
static int subscriptions(const struct vb_zmq *z, void *front, void *back,
                         const struct vb_limits *lim, struct vb_stats *st) {
    int changed = 0;
    for (int k = 0; k < BATCH; k++) {
        vb_msg m;
        z->msg_init(&m);
        if (z->msg_recv(&m, back, VB_DONTWAIT) < 0) {
            int err = z->errno_();
            z->msg_close(&m);
            return err == EAGAIN ? changed : failure(z);
        }
        int mark = marker(z, &m, lim);
        if (mark != 0) {
            st->marked += mark;
            changed = 1;
        }
        int flags = z->msg_more(&m) ? VB_SNDMORE : 0;
        if (z->msg_send(&m, front, flags) < 0) {
            z->msg_close(&m);
            return failure(z);
        }
        st->subscriptions++;
    }
    return changed;
}

/*
 * Forward until timeout_ms have passed (VB_TIMEOUT), a message is waiting on ctl (VB_CONTROL:
 * the caller reads it) or on mon (VB_MONITOR; mon may be NULL), a message was refused
 * (VB_REFUSED: st->last_* say which), the marker's count changed (VB_READERS: st->marked), or
 * the context ends (VB_TERMINATED); VB_FAILED on another error (z->errno_() says which).
 */
int vb_forward(const struct vb_zmq *z, void *front, void *back, void *ctl, void *mon,
               long timeout_ms, const struct vb_limits *lim, struct vb_stats *st) {
    vb_pollitem items[4] = {{front, 0, VB_POLLIN, 0},
                            {back, 0, VB_POLLIN, 0},
                            {ctl, 0, VB_POLLIN, 0},
                            {mon, 0, VB_POLLIN, 0}};
    int n_items = mon != NULL ? 4 : 3;
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left < 0) return VB_TIMEOUT;
        if (z->poll(items, n_items, (long)left) < 0) {
            if (z->errno_() == EINTR) continue;
            return failure(z);
        }
        if (items[2].revents & VB_POLLIN) return VB_CONTROL;
        if (n_items == 4 && (items[3].revents & VB_POLLIN)) return VB_MONITOR;
        if (items[1].revents & VB_POLLIN) {
            int rc = subscriptions(z, front, back, lim, st);
            if (rc < 0) return rc;
            if (rc == 1) return VB_READERS;
        }
        if (items[0].revents & VB_POLLIN) {
            for (int k = 0; k < BATCH; k++) {
                int rc = forward_one(z, front, back, lim, st);
                if (rc < 0) return rc;
                if (rc == 1) return VB_REFUSED;
                if (rc == 2) break;
            }
        }
    }
}
