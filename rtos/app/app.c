/*
 * IPC thread + control thread of the car controller, written against port.h only.
 *
 * IPC thread (owns the rings): session poll (heartbeat, attach, liveness), drain the inbound
 * ring into cmd_mq, drain out_mq into the outbound ring, then sleep on the doorbell semaphore
 * (armed) for at most poll_ms. Control thread: waits on cmd_mq until its next tick, advances the
 * car to now and applies each command as it arrives; every tick it supervises the motion, and
 * every telemetry_ms it reports. The RT threads never block on the ring.
 *
 * Accounting (every command ends in exactly one final ack, or in a counted, logged drop):
 * - a command the control thread cannot take (cmd_mq full) is rejected (R_BUSY) by the IPC
 *   thread itself; STOP/ESTOP have a reserve in cmd_mq and, beyond it, a latch;
 * - a record that cannot be sent (out_mq full, ring full, no link, fault) is dropped and counted
 *   by kind (ack_drops, tlm_drops; ring_drops when the ring was full: its sequence number is
 *   consumed so Linux sees the gap, spec section 6) and logged (at most once a second per
 *   reason); the counters travel in every telemetry sample.
 *
 * One file of about 500 lines, on purpose: both threads and the host-only benchmark share the
 * private state `g`, and the RT-Thread build lists the app's sources in
 * port/rtthread/SConscript; a split belongs with a change there.
 */
#include "app.h"

#include <stdlib.h>
#include <string.h>

#include "../port/port.h"
#include "msgs.h"

#define CMD_MAX 64
#define OUT_MAX 64
#define CMD_QUEUE 64
#define CMD_URGENT_RESERVE 16 /* cmd_mq slots only STOP/ESTOP may use */
#define OUT_QUEUE 256
#define BENCH_MAX_SAMPLES (1u << 20)
#define BENCH_MAX_SIZE 1024u

typedef struct {
    uint16_t type;
    uint16_t n;
    uint32_t reserved;
    uint64_t rx_ms;
    uint8_t payload[CMD_MAX];
} cmd_item_t;

typedef struct {
    uint16_t type;
    uint16_t n;
    uint8_t payload[OUT_MAX];
} out_item_t;

/* why a record was not sent */
enum { DROP_QUEUE_FULL, DROP_RING_FULL, DROP_NO_LINK, DROP_FAULT, DROP_PEER_LIMIT, DROP_SHORT,
       DROP_NREASONS };
static const char *const drop_reason[DROP_NREASONS] = {
    "queue_full", "ring_full", "no_link", "fault", "peer_limit", "short_command"};

static struct {
    app_cfg_t *cfg;
    ivmr_ep_t ep;
    port_sem_t *wake;
    port_mq_t *cmd_mq, *out_mq;
    /* written by the IPC thread, read by the control thread (__atomic) */
    int linked;     /* handshake complete: telemetry may flow (spec section 5) */
    int link_ok;    /* ... and Linux's heartbeat moves: motion allowed */
    uint32_t cmd_queued;   /* items in cmd_mq (IPC adds, control subtracts) */
    uint32_t urgent_latch; /* 1 = STOP, 2 = ESTOP requested beyond the cmd_mq reserve */
    /* drop counters (both threads, __atomic) and the last time each reason was logged */
    uint32_t ack_drops, tlm_drops, ring_drops, cmd_drops;
    uint32_t drops_by_reason[DROP_NREASONS], logged_by_reason[DROP_NREASONS];
    uint64_t last_log_ms[DROP_NREASONS];
    int ipc_done, ctl_done;
    /* benchmark (host only, experimental types) */
    uint64_t *lat;
    uint32_t nlat;
    uint64_t bench_rx, bench_left, bench_sent, bench_full;
    uint32_t bench_size, bench_idx, bench_gap_us, bench_rng;
    uint64_t bench_next_ns;
} g;

/* The receive buffer (static: the RT thread stacks are small). */
static uint32_t rx_words[(APP_MAX_MSG + 3u) / 4u];

static uint32_t atomic_get(uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static void atomic_inc(uint32_t *p) { __atomic_fetch_add(p, 1u, __ATOMIC_RELAXED); }

/* Counts a record that was not sent (or a command that cannot be acked) and logs it, at most
 * once a second per reason (a flood must not turn into a flood of log lines). */
static void count_drop(uint16_t type, const void *payload, int reason)
{
    uint32_t id = 0;
    if (type == MSG_ACK || msg_is_command(type))
        memcpy(&id, payload, 4);
    if (type == MSG_ACK)
        atomic_inc(&g.ack_drops);
    else if (type == MSG_TELEMETRY)
        atomic_inc(&g.tlm_drops);
    else if (msg_is_command(type))
        atomic_inc(&g.cmd_drops);
    if (reason == DROP_RING_FULL)
        atomic_inc(&g.ring_drops);
    atomic_inc(&g.drops_by_reason[reason]);
    uint64_t now = port_now_ms();
    uint64_t last = __atomic_load_n(&g.last_log_ms[reason], __ATOMIC_RELAXED);
    if (last && now - last < 1000u)
        return;
    __atomic_store_n(&g.last_log_ms[reason], now ? now : 1u, __ATOMIC_RELAXED);
    uint32_t total = atomic_get(&g.drops_by_reason[reason]);
    uint32_t since = total - atomic_get(&g.logged_by_reason[reason]);
    __atomic_store_n(&g.logged_by_reason[reason], total, __ATOMIC_RELAXED);
    port_log("record_dropped type=0x%04x cmd_id=%u reason=%s count=%u total=%u", type, id,
             drop_reason[reason], since, total);
}

/* Logs the drops the once-a-second limit held back (the IPC thread calls it when idle). */
static void flush_drop_log(void)
{
    uint64_t now = port_now_ms();
    for (int r = 0; r < DROP_NREASONS; r++) {
        uint32_t total = atomic_get(&g.drops_by_reason[r]);
        uint32_t since = total - atomic_get(&g.logged_by_reason[r]);
        uint64_t last = __atomic_load_n(&g.last_log_ms[r], __ATOMIC_RELAXED);
        if (!since || now - last < 1000u)
            continue;
        __atomic_store_n(&g.last_log_ms[r], now, __ATOMIC_RELAXED);
        __atomic_store_n(&g.logged_by_reason[r], total, __ATOMIC_RELAXED);
        port_log("records_dropped reason=%s count=%u total=%u (ack_drops=%u tlm_drops=%u "
                 "ring_drops=%u cmd_drops=%u)", drop_reason[r], since, total,
                 atomic_get(&g.ack_drops), atomic_get(&g.tlm_drops), atomic_get(&g.ring_drops),
                 atomic_get(&g.cmd_drops));
    }
}

/* Control thread -> IPC thread. */
static void post_out(uint16_t type, const void *p, uint16_t n)
{
    out_item_t it;
    it.type = type;
    it.n = n;
    memcpy(it.payload, p, n);
    if (port_mq_send(g.out_mq, &it, sizeof(it)) != 0) {
        count_drop(type, p, DROP_QUEUE_FULL);
        return;
    }
    port_sem_release(g.wake);
}

/* ---- control thread --------------------------------------------------------------------- */
static void post_acks(const app_cfg_t *cfg, const msg_ack_t *acks, int n)
{
    for (int i = 0; i < n; i++) {
        post_out(MSG_ACK, &acks[i], sizeof(acks[i]));
        if (cfg->verbose)
            port_log("ack cmd_id=%u status=%u reason=%u", acks[i].cmd_id, acks[i].status,
                     acks[i].reason);
    }
}

static void control_thread(void *arg)
{
    app_cfg_t *cfg = (app_cfg_t *)arg;
    car_t car;
    msg_ack_t acks[CAR_MAX_ACKS + 1];
    cmd_item_t it;
    uint64_t now = port_now_ms(), next_tick = now, next_tlm = now;
    car_init(&car, &cfg->limits, now);
    while (!__atomic_load_n(&cfg->stop, __ATOMIC_ACQUIRE)) {
        now = port_now_ms();
        int link_ok = __atomic_load_n(&g.link_ok, __ATOMIC_ACQUIRE);
        uint32_t latch = __atomic_exchange_n(&g.urgent_latch, 0u, __ATOMIC_ACQ_REL);
        if (latch) /* STOP/ESTOP beyond the queue's reserve (acked by the IPC thread) */
            post_acks(cfg, acks, car_urgent(&car, latch >= 2u, now, acks));
        if (now >= next_tick) {
            post_acks(cfg, acks, car_tick(&car, now, link_ok, acks));
            next_tick += cfg->tick_ms;
            if (next_tick <= now)
                next_tick = now + cfg->tick_ms;
        }
        if (now >= next_tlm) {
            msg_telemetry_t t;
            car_telemetry(&car, now, &t);
            t.ack_drops = atomic_get(&g.ack_drops);
            t.tlm_drops = atomic_get(&g.tlm_drops);
            t.ring_drops = atomic_get(&g.ring_drops);
            t.cmd_drops = atomic_get(&g.cmd_drops);
            /* section 5: telemetry continues while Linux's heartbeat is lost (only motion
             * stops); it needs the handshake, or there is nobody to send it to */
            if (__atomic_load_n(&g.linked, __ATOMIC_ACQUIRE))
                post_out(MSG_TELEMETRY, &t, sizeof(t));
            next_tlm = now + cfg->telemetry_ms;
        }
        /* wait for a command until the next tick, then apply each as it arrives */
        uint64_t wake_at = next_tick < next_tlm ? next_tick : next_tlm;
        uint32_t wait = wake_at > now ? (uint32_t)(wake_at - now) : 0u;
        while (port_mq_recv(g.cmd_mq, &it, sizeof(it), wait) == 0) {
            __atomic_fetch_sub(&g.cmd_queued, 1u, __ATOMIC_RELAXED);
            now = port_now_ms();
            link_ok = __atomic_load_n(&g.link_ok, __ATOMIC_ACQUIRE);
            post_acks(cfg, acks, car_tick(&car, now, link_ok, acks)); /* odometry up to now */
            post_acks(cfg, acks, car_command(&car, it.type, it.payload, it.n, it.rx_ms, now, acks));
            wait = 0;
        }
    }
    __atomic_store_n(&g.ctl_done, 1, __ATOMIC_RELEASE);
}

static void send_out(uint16_t type, uint16_t flags, const void *p, uint16_t n);

/* ---- benchmark helpers (host builds only: IVMR_BENCH) ----------------------------------- */
#ifdef IVMR_BENCH
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void bench_rx(const uint8_t *p, int n)
{
    uint64_t t;
    if (n < 8)
        return;
    memcpy(&t, p, 8);
    uint64_t now = port_now_ns();
    if (!g.lat)
        g.lat = malloc(sizeof(uint64_t) * BENCH_MAX_SAMPLES);
    if (g.lat && g.nlat < BENCH_MAX_SAMPLES)
        g.lat[g.nlat++] = now - t;
    g.bench_rx++;
}

static void bench_report(void)
{
    msg_bench_rep_t r;
    memset(&r, 0, sizeof(r));
    r.rx_count = g.bench_rx;
    if (g.nlat) {
        qsort(g.lat, g.nlat, sizeof(uint64_t), cmp_u64);
        r.p50_ns = g.lat[g.nlat / 2];
        r.p99_ns = g.lat[(uint64_t)g.nlat * 99u / 100u];
        r.max_ns = g.lat[g.nlat - 1];
    }
    ivmr_stats(&g.ep, r.stats);
    r.tx_sent = g.bench_sent;
    r.tx_full_spins = g.bench_full;
    send_out(MSG_BENCH_REP, IVMR_FLAG_IS_REPLY, &r, sizeof(r));
    g.nlat = 0;
    g.bench_rx = g.bench_sent = g.bench_full = 0;
}

/* Sends as many pending benchmark records as fit, one batch per call. */
static int bench_tx(void)
{
    static uint8_t buf[64 * (8 + BENCH_MAX_SIZE + 8)];
    uint32_t pos = 0, kick = 0, k = 0;
    int err = 0;
    uint32_t size = g.bench_size < 12 ? 12 : g.bench_size;
    uint32_t most = 64;
    if (g.bench_gap_us) { /* paced: one record at a time, gaps of gap..2*gap us */
        uint64_t now = port_now_ns();
        if (now < g.bench_next_ns)
            return 1;
        g.bench_rng = g.bench_rng * 1664525u + 1013904223u;
        g.bench_next_ns = now + 1000ull * (g.bench_gap_us + (g.bench_rng >> 8) % g.bench_gap_us);
        most = 1;
    }
    while (k < most && k < g.bench_left) {
        uint32_t tf = MSG_BENCH, n = size;
        memcpy(buf + pos, &tf, 4);
        memcpy(buf + pos + 4, &n, 4);
        memset(buf + pos + 8, 0, n);
        uint32_t idx = g.bench_idx + k;
        memcpy(buf + pos + 16, &idx, 4);
        pos += (8u + n + 7u) & ~7u;
        k++;
    }
    if (!k)
        return 0;
    uint64_t t = port_now_ns();
    for (uint32_t i = 0, p = 0; i < k; i++, p += (8u + size + 7u) & ~7u)
        memcpy(buf + p + 8, &t, 8);
    int sent = ivmr_send_batch(&g.ep, buf, pos, &kick, &err);
    if (kick)
        port_doorbell_kick();
    g.bench_left -= (uint64_t)sent;
    g.bench_idx += (uint32_t)sent;
    g.bench_sent += (uint64_t)sent;
    if (sent < (int)k)
        g.bench_full++;
    return sent;
}
#endif /* IVMR_BENCH */

/* ---- IPC thread ------------------------------------------------------------------------- */
static void log_events(app_cfg_t *cfg, uint32_t ev)
{
    if (!ev)
        return;
    if (ev & IVMR_EV_REFUSED)
        port_log("link refused peer descriptor (magic, major version or geometry): FAULT "
                 "fault_code=%u until the peer changes", ivmr_fault_code(&g.ep));
    if (cfg->verbose || (ev & (IVMR_EV_PEER_DEAD | IVMR_EV_PEER_RESTARTED | IVMR_EV_LINK_UP)))
        port_log("link events=0x%02x linked=%d alive=%d peer_epoch=%016llx", ev,
                 ivmr_linked(&g.ep), ivmr_peer_alive(&g.ep),
                 (unsigned long long)ivmr_peer_epoch(&g.ep));
}

static void reinit(const char *why)
{
    port_log("link fault code=%u %s: re-initialising with a new epoch", ivmr_fault_code(&g.ep),
             why);
    ivmr_reinit(&g.ep, port_new_epoch());
}

/* Sends one record from the IPC thread; a record that cannot go is dropped and counted. */
static void send_out(uint16_t type, uint16_t flags, const void *p, uint16_t n)
{
    if (!ivmr_linked(&g.ep)) {
        count_drop(type, p, DROP_NO_LINK);
        return;
    }
    int rc = ivmr_send(&g.ep, type, flags, p, n);
    if (rc == 1) {
        port_doorbell_kick();
    } else if (rc == IVMR_EFULL) {
        ivmr_tx_drop(&g.ep); /* section 6: drop the new record; Linux sees the seq gap */
        count_drop(type, p, DROP_RING_FULL);
    } else if (rc == IVMR_EPROTO) {
        count_drop(type, p, DROP_FAULT);
        reinit("on send");
    } else if (rc < 0) {
        count_drop(type, p, rc == IVMR_EMSGSIZE ? DROP_PEER_LIMIT : DROP_NO_LINK);
    }
}

static void reject_busy(const uint8_t *p, uint64_t now)
{
    msg_ack_t a = {0};
    memcpy(&a.cmd_id, p, 4);
    a.status = ACK_REJECTED;
    a.reason = R_BUSY;
    a.rt_time_ms = (uint32_t)now;
    send_out(MSG_ACK, 0, &a, sizeof(a));
}

/* A command for the control thread; never dropped without an ack. */
static void queue_command(uint16_t type, const uint8_t *p, int n, uint64_t now)
{
    if (n < 4) { /* no cmd_id to acknowledge */
        count_drop(type, "\0\0\0\0", DROP_SHORT);
        return;
    }
    if (!msg_is_command(type))
        ivmr_count_unknown(&g.ep); /* acked R_UNKNOWN by the controller (section 3: counted) */
    int urgent = type == MSG_STOP || type == MSG_ESTOP;
    uint32_t limit = urgent ? CMD_QUEUE : CMD_QUEUE - CMD_URGENT_RESERVE;
    cmd_item_t it;
    memset(&it, 0, sizeof(it));
    it.type = type;
    it.n = (uint16_t)(n > CMD_MAX ? CMD_MAX : n);
    it.rx_ms = now;
    memcpy(it.payload, p, it.n);
    if (atomic_get(&g.cmd_queued) < limit) {
        __atomic_fetch_add(&g.cmd_queued, 1u, __ATOMIC_RELAXED);
        int rc = urgent ? port_mq_urgent(g.cmd_mq, &it, sizeof(it))
                        : port_mq_send(g.cmd_mq, &it, sizeof(it));
        if (rc == 0)
            return;
        __atomic_fetch_sub(&g.cmd_queued, 1u, __ATOMIC_RELAXED);
    }
    if (!urgent) {
        reject_busy(p, now);
        return;
    }
    /* STOP/ESTOP are never refused: beyond the reserve, latch the effect for the control
     * thread and acknowledge here (the motion's own ack comes from the control thread) */
    uint32_t want = type == MSG_ESTOP ? 2u : 1u, cur = atomic_get(&g.urgent_latch);
    while (cur < want &&
           !__atomic_compare_exchange_n(&g.urgent_latch, &cur, want, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
    }
    msg_ack_t a = {0};
    memcpy(&a.cmd_id, p, 4);
    a.status = ACK_DONE;
    a.rt_time_ms = (uint32_t)now;
    send_out(MSG_ACK, 0, &a, sizeof(a));
}

static void dispatch(app_cfg_t *cfg, uint16_t type, const uint8_t *p, int n, uint64_t now)
{
    (void)cfg;
    if (type >= 0x0100 && type <= 0x01FF) {
        queue_command(type, p, n, now);
    } else if (type == MSG_PING && n >= 8) {
        send_out(MSG_PONG, IVMR_FLAG_IS_REPLY, p, 8);
#ifdef IVMR_BENCH
    } else if (type == MSG_BENCH) {
        bench_rx(p, n);
    } else if (type == MSG_BENCH_CTL && n >= (int)sizeof(msg_bench_ctl_t)) {
        msg_bench_ctl_t c;
        memcpy(&c, p, sizeof(c));
        if (c.op == 1 || c.op == 3) { /* 3: paced, c.reserved = gap in us */
            uint32_t size = c.size > cfg->max_msg ? cfg->max_msg : c.size;
            if (size > ivmr_peer_max_msg(&g.ep))
                size = ivmr_peer_max_msg(&g.ep);
            g.bench_left = c.count;
            g.bench_size = size > BENCH_MAX_SIZE ? BENCH_MAX_SIZE : size;
            g.bench_idx = 0;
            g.bench_gap_us = c.op == 3 ? (c.reserved ? c.reserved : 1000u) : 0u;
            g.bench_next_ns = 0;
        } else if (c.op == 2) {
            bench_report();
        }
#endif
    } else if (type != MSG_PONG) {
        /* section 3: unknown types (and a short PING) are counted and skipped */
        ivmr_count_unknown(&g.ep);
    }
}

static void ipc_thread(void *arg)
{
    app_cfg_t *cfg = (app_cfg_t *)arg;
    uint8_t *buf = (uint8_t *)rx_words;
    out_item_t out;
    int warned = 0;
    while (!__atomic_load_n(&cfg->stop, __ATOMIC_ACQUIRE)) {
        uint64_t now = port_now_ms();
        uint32_t ev = ivmr_poll(&g.ep, now);
        log_events(cfg, ev);
        if (ev & IVMR_EV_RETRY) {
            port_log("link the refused peer changed: re-initialising to try again");
            ivmr_reinit(&g.ep, port_new_epoch());
        }
        if (ev & IVMR_EV_LINK_UP) {
            msg_hello_t h = {1, 1, 0, "voicebus-rtapp"};
            send_out(MSG_HELLO, 0, &h, sizeof(h));
        }
        int linked = ivmr_linked(&g.ep);
        __atomic_store_n(&g.linked, linked, __ATOMIC_RELEASE);
        __atomic_store_n(&g.link_ok, linked && ivmr_peer_alive(&g.ep), __ATOMIC_RELEASE);

        int busy = 0;
        for (int i = 0; i < 256; i++) {
            uint16_t type, flags;
            uint32_t seq;
            int n = ivmr_recv(&g.ep, &type, &flags, &seq, buf, sizeof(rx_words));
            if (n == IVMR_EAGAIN)
                break;
            if (n == IVMR_EPROTO) {
                reinit("on receive");
                break;
            }
            if (n == IVMR_ESKIP) {
                busy = 1;
                continue;
            }
            if (n < 0) { /* cannot happen with a buffer of max_msg; never spin on it */
                if (!warned++)
                    port_log("ivmr_recv error=%d: receive stopped until the next poll", n);
                break;
            }
            busy = 1;
            dispatch(cfg, type, buf, n, now);
        }
        while (port_mq_recv(g.out_mq, &out, sizeof(out), 0) == 0)
            send_out(out.type, 0, out.payload, out.n);
#ifdef IVMR_BENCH
        if (g.bench_left && ivmr_linked(&g.ep) && !g.bench_gap_us) {
            if (bench_tx() == 0)
                port_sleep_us(50); /* ring full: let the consumer run; a 1 ms poll is too long */
            continue;
        }
        if (g.bench_left && g.bench_gap_us && ivmr_linked(&g.ep))
            bench_tx(); /* paced: then sleep as usual (the pacing granularity is poll_ms) */
#endif
        if (busy)
            continue;
        flush_drop_log();
        if (!ivmr_rx_arm(&g.ep))
            port_sem_take(g.wake, cfg->poll_ms);
        ivmr_rx_disarm(&g.ep);
    }
    ivmr_shutdown(&g.ep);
    __atomic_store_n(&g.ipc_done, 1, __ATOMIC_RELEASE);
}

int app_start(app_cfg_t *cfg)
{
    memset(&g, 0, sizeof(g));
    g.cfg = cfg;
    uint32_t cap0 = cfg->linux_capacity ? cfg->linux_capacity : cfg->capacity;
    if (cfg->max_msg > APP_MAX_MSG) {
        port_log("max_msg %u is above this build's limit of %u bytes (APP_MAX_MSG)", cfg->max_msg,
                 APP_MAX_MSG);
        return -1;
    }
    if (ivmr_init_layout(&g.ep, cfg->region, cfg->region_size, 1, ivmr_block_size(cap0),
                         cfg->capacity, cfg->max_msg, cfg->hb_ms, port_new_epoch()) != IVMR_OK) {
        port_log("ivmr_init refused the region (size %u, capacity %u, linux capacity %u, "
                 "max_msg %u)", cfg->region_size, cfg->capacity, cap0, cfg->max_msg);
        return -1;
    }
    g.wake = port_sem_create("ivmr_db");
    g.cmd_mq = port_mq_create("car_cmd", sizeof(cmd_item_t), CMD_QUEUE);
    g.out_mq = port_mq_create("car_out", sizeof(out_item_t), OUT_QUEUE);
    if (!g.wake || !g.cmd_mq || !g.out_mq || port_doorbell_attach(g.wake) != 0)
        return -1;
    if (port_thread_start("ivmr_ipc", ipc_thread, cfg, 4096, 10) != 0 ||
        port_thread_start("car_ctl", control_thread, cfg, 4096, 12) != 0)
        return -1;
    return 0;
}

void app_stop(app_cfg_t *cfg)
{
    __atomic_store_n(&cfg->stop, 1, __ATOMIC_RELEASE);
    port_sem_release(g.wake);
    port_thread_join_all();
}
