/*
 * IPC thread + control thread of the car controller, written against port.h only.
 *
 * IPC thread (owns the rings): session poll (heartbeat, attach, liveness), drain the inbound
 * ring into cmd_mq, drain out_mq into the outbound ring, then sleep on the doorbell semaphore
 * (armed) for at most poll_ms. Control thread: every tick, apply queued commands, advance the
 * car, queue acks and (every telemetry_ms) telemetry. The RT thread never blocks on the ring:
 * a full outbound ring drops the new record and the drop is counted (tx_rejects).
 */
#include "app.h"

#include <stdlib.h>
#include <string.h>

#include "../port/port.h"
#include "msgs.h"

#define CMD_MAX 64
#define OUT_MAX 48
#define BENCH_MAX_SAMPLES (1u << 20)

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

static struct {
    app_cfg_t *cfg;
    ivmr_ep_t ep;
    port_sem_t *wake;
    port_mq_t *cmd_mq, *out_mq;
    int link_ok; /* written by the IPC thread, read by the control thread (__atomic) */
    int ipc_done, ctl_done;
    /* benchmark (host only, experimental types) */
    uint64_t *lat;
    uint32_t nlat;
    uint64_t bench_rx, bench_left, bench_sent, bench_full;
    uint32_t bench_size, bench_idx;
} g;

static void post_out(uint16_t type, const void *p, uint16_t n)
{
    out_item_t it;
    it.type = type;
    it.n = n;
    memcpy(it.payload, p, n);
    if (port_mq_send(g.out_mq, &it, sizeof(it)) == 0)
        port_sem_release(g.wake);
}

/* ---- control thread --------------------------------------------------------------------- */
static void control_thread(void *arg)
{
    app_cfg_t *cfg = (app_cfg_t *)arg;
    car_t car;
    msg_ack_t acks[CAR_MAX_ACKS + 1];
    cmd_item_t it;
    uint64_t now = port_now_ms(), next_tlm = now;
    car_init(&car, &cfg->limits, now);
    while (!__atomic_load_n(&cfg->stop, __ATOMIC_ACQUIRE)) {
        now = port_now_ms();
        int link_ok = __atomic_load_n(&g.link_ok, __ATOMIC_ACQUIRE);
        int n = car_tick(&car, now, link_ok, acks);
        for (int i = 0; i < n; i++)
            post_out(MSG_ACK, &acks[i], sizeof(acks[i]));
        while (port_mq_recv(g.cmd_mq, &it, sizeof(it), 0) == 0) {
            n = car_command(&car, it.type, it.payload, it.n, it.rx_ms, now, acks);
            for (int i = 0; i < n; i++) {
                post_out(MSG_ACK, &acks[i], sizeof(acks[i]));
                if (cfg->verbose)
                    port_log("ack cmd_id=%u status=%u reason=%u", acks[i].cmd_id, acks[i].status,
                             acks[i].reason);
            }
        }
        if (now >= next_tlm) {
            msg_telemetry_t t;
            car_telemetry(&car, now, &t);
            if (link_ok)
                post_out(MSG_TELEMETRY, &t, sizeof(t));
            next_tlm = now + cfg->telemetry_ms;
        }
        port_sleep_ms(cfg->tick_ms);
    }
    __atomic_store_n(&g.ctl_done, 1, __ATOMIC_RELEASE);
}

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
    int rc = ivmr_send(&g.ep, MSG_BENCH_REP, IVMR_FLAG_IS_REPLY, &r, sizeof(r));
    if (rc == 1)
        port_doorbell_kick();
    g.nlat = 0;
    g.bench_rx = g.bench_sent = g.bench_full = 0;
}

/* Sends as many pending benchmark records as fit, one batch per call. */
static int bench_tx(void)
{
    static uint8_t buf[64 * (8 + 1024 + 8)];
    uint32_t pos = 0, kick = 0, k = 0;
    int err = 0;
    uint32_t size = g.bench_size < 12 ? 12 : g.bench_size;
    while (k < 64 && k < g.bench_left) {
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
        port_log("link refused peer descriptor (magic, version or geometry)");
    if (cfg->verbose || (ev & (IVMR_EV_PEER_DEAD | IVMR_EV_PEER_RESTARTED | IVMR_EV_LINK_UP)))
        port_log("link events=0x%02x linked=%d alive=%d peer_epoch=%016llx", ev,
                 ivmr_linked(&g.ep), ivmr_peer_alive(&g.ep),
                 (unsigned long long)ivmr_peer_epoch(&g.ep));
}

static void dispatch(app_cfg_t *cfg, uint16_t type, const uint8_t *p, int n, uint64_t now)
{
    (void)cfg;
    if (type >= 0x0100 && type <= 0x01FF) {
        cmd_item_t it;
        memset(&it, 0, sizeof(it));
        it.type = type;
        it.n = (uint16_t)(n > CMD_MAX ? CMD_MAX : n);
        it.rx_ms = now;
        memcpy(it.payload, p, it.n);
        int rc = (type == MSG_STOP || type == MSG_ESTOP)
                     ? port_mq_urgent(g.cmd_mq, &it, sizeof(it))
                     : port_mq_send(g.cmd_mq, &it, sizeof(it));
        if (rc != 0 && n >= 4) {
            msg_ack_t a = {0};
            memcpy(&a.cmd_id, p, 4);
            a.status = ACK_REJECTED;
            a.reason = R_BUSY;
            a.rt_time_ms = (uint32_t)now;
            post_out(MSG_ACK, &a, sizeof(a));
        }
    } else if (type == MSG_PING && n >= 8) {
        if (ivmr_send(&g.ep, MSG_PONG, IVMR_FLAG_IS_REPLY, p, 8) == 1)
            port_doorbell_kick();
#ifdef IVMR_BENCH
    } else if (type == MSG_BENCH) {
        bench_rx(p, n);
    } else if (type == MSG_BENCH_CTL && n >= (int)sizeof(msg_bench_ctl_t)) {
        msg_bench_ctl_t c;
        memcpy(&c, p, sizeof(c));
        if (c.op == 1) {
            g.bench_left = c.count;
            g.bench_size = c.size > cfg->max_msg ? cfg->max_msg : c.size;
            g.bench_idx = 0;
        } else if (c.op == 2) {
            bench_report();
        }
#endif
    } else if (type != MSG_HELLO && type != MSG_PONG) {
        ivmr_count_unknown(&g.ep);
    }
}

static void ipc_thread(void *arg)
{
    app_cfg_t *cfg = (app_cfg_t *)arg;
    uint8_t buf[1024 + 16];
    out_item_t out;
    while (!__atomic_load_n(&cfg->stop, __ATOMIC_ACQUIRE)) {
        uint64_t now = port_now_ms();
        uint32_t ev = ivmr_poll(&g.ep, now);
        log_events(cfg, ev);
        if (ev & IVMR_EV_LINK_UP) {
            msg_hello_t h = {1, 0, 0, "voicebus-rtapp"};
            ivmr_send(&g.ep, MSG_HELLO, 0, &h, sizeof(h));
        }
        int link_ok = ivmr_linked(&g.ep) && ivmr_peer_alive(&g.ep);
        __atomic_store_n(&g.link_ok, link_ok, __ATOMIC_RELEASE);

        int busy = 0;
        for (int i = 0; i < 256; i++) {
            uint16_t type, flags;
            uint32_t seq;
            int n = ivmr_recv(&g.ep, &type, &flags, &seq, buf, sizeof(buf));
            if (n == IVMR_EAGAIN)
                break;
            if (n == IVMR_EPROTO) {
                port_log("link fault code=%u: re-initialising with a new epoch",
                         ivmr_fault_code(&g.ep));
                ivmr_reinit(&g.ep, port_new_epoch());
                break;
            }
            busy = 1;
            if (n >= 0)
                dispatch(cfg, type, buf, n, now);
        }
        while (port_mq_recv(g.out_mq, &out, sizeof(out), 0) == 0) {
            if (!ivmr_linked(&g.ep))
                continue; /* nobody to tell: dropped */
            int rc = ivmr_send(&g.ep, out.type, 0, out.payload, out.n);
            if (rc == 1)
                port_doorbell_kick();
            if (rc == IVMR_EPROTO) {
                port_log("link fault code=%u on send: re-initialising", ivmr_fault_code(&g.ep));
                ivmr_reinit(&g.ep, port_new_epoch());
            }
        }
#ifdef IVMR_BENCH
        if (g.bench_left && ivmr_linked(&g.ep)) {
            if (bench_tx() == 0)
                port_sleep_us(50); /* ring full: let the consumer run; a 1 ms poll is too long */
            continue;
        }
#endif
        if (busy)
            continue;
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
    if (ivmr_init(&g.ep, cfg->region, cfg->region_size, 1, cfg->capacity, cfg->max_msg, cfg->hb_ms,
                  port_new_epoch()) != IVMR_OK) {
        port_log("ivmr_init refused the region (size %u, capacity %u, max_msg %u)",
                 cfg->region_size, cfg->capacity, cfg->max_msg);
        return -1;
    }
    g.wake = port_sem_create("ivmr_db");
    g.cmd_mq = port_mq_create("car_cmd", sizeof(cmd_item_t), 32);
    g.out_mq = port_mq_create("car_out", sizeof(out_item_t), 64);
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
