/*
 * The ring core's rules in C, so that they run wherever the core is built, aarch64 under
 * qemu-aarch64 included (make check-aarch64): golden words and CRC, the PAD path on a 256 B ring,
 * the handshake, overflow with the URGENT reserve, a restart dropping the backlog, a fast
 * restart still reporting LINK_UP, the receiver's own max_msg, sequence numbers consumed by a
 * drop, a refused major version (FAULT, then retry), rings of different capacities.
 * The Python tests (tests/rtos/test_ivmr_*.py) say the same through ctypes on the host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ivmr/ivmr.h"

static int failures;
#define CHECK(c)                                                                        \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "ring_test: %s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            failures++;                                                                 \
        }                                                                               \
    } while (0)

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

typedef struct {
    uint8_t *mem;
    uint32_t size;
    ivmr_ep_t a, b; /* a: endpoint 0 (Linux), b: endpoint 1 (RT) */
    uint64_t t;
} pair_t;

static void pair_open(pair_t *p, uint32_t cap0, uint32_t max0, uint32_t cap1, uint32_t max1)
{
    p->size = ivmr_layout_size(cap0, cap1);
    p->mem = aligned_alloc(4096, p->size);
    memset(p->mem, 0, p->size);
    p->t = 0;
    CHECK(ivmr_init_layout(&p->a, p->mem, p->size, 0, ivmr_block_size(cap0), cap0, max0, 10,
                           0x1111) == IVMR_OK);
    CHECK(ivmr_init_layout(&p->b, p->mem, p->size, 1, ivmr_block_size(cap0), cap1, max1, 10,
                           0x2222) == IVMR_OK);
}

static uint32_t pump(pair_t *p, int n)
{
    uint32_t ev = 0;
    for (int i = 0; i < n; i++) {
        p->t++;
        ev |= ivmr_poll(&p->a, p->t);
        ivmr_poll(&p->b, p->t);
    }
    return ev;
}

static int recv_one(ivmr_ep_t *ep, uint8_t *buf, uint32_t size, uint16_t *type, uint32_t *seq)
{
    uint16_t flags;
    return ivmr_recv(ep, type, &flags, seq, buf, size);
}

static void test_golden(void)
{
    CHECK(ivmr_crc32(0, "123456789", 9) == 0xCBF43926u); /* zlib's check value */
    pair_t p;
    pair_open(&p, 256, 48, 256, 48);
    const uint8_t *b0 = p.mem;
    CHECK(rd32(b0 + IVMR_OFF_MAGIC) == 0x524D5649u && rd32(b0 + IVMR_OFF_VERSION) == 1u);
    CHECK(rd32(b0 + IVMR_OFF_HEADER_SIZE) == 0x200u && rd32(b0 + IVMR_OFF_RING_OFFSET) == 0x200u);
    CHECK(rd32(b0 + IVMR_OFF_RING_CAPACITY) == 256u && rd32(b0 + IVMR_OFF_MAX_MSG) == 48u);
    CHECK(rd32(b0 + IVMR_OFF_STATE) == IVMR_STATE_READY);
    CHECK(rd32(p.mem + ivmr_block_size(256) + IVMR_OFF_ENDPOINT_ID) == 1u);
    pump(&p, 3);
    CHECK(ivmr_linked(&p.a) && ivmr_linked(&p.b));
    /* 5 records of 48 B payload (64 B each) on a 256 B ring: the 5th needs a PAD */
    uint8_t pay[48], buf[64];
    for (uint32_t i = 0; i < 48; i++)
        pay[i] = (uint8_t)i;
    for (int round = 0; round < 40; round++) {
        pay[0] = (uint8_t)round;
        CHECK(ivmr_send(&p.a, 0x101, 0, pay, 40u + (uint32_t)(round % 9)) >= 0);
        uint16_t type;
        uint32_t seq;
        int n = recv_one(&p.b, buf, sizeof(buf), &type, &seq);
        CHECK(n == 40 + round % 9 && type == 0x101 && seq == (uint32_t)round + 1u && buf[0] == round);
    }
    /* the record header and its CRC as section 3 writes them */
    const uint8_t *ring = p.mem + IVMR_RING_OFFSET;
    uint32_t len = rd32(ring), tf = rd32(ring + 4);
    CHECK(len >= 16 && len <= 64 && (tf & 0xFFFFu) == 0x101u);
    uint64_t st[IVMR_NSTATS];
    ivmr_stats(&p.b, st);
    CHECK(st[IVMR_STAT_RX_CRC_ERR] == 0 && st[IVMR_STAT_RX_SEQ_GAP] == 0 && st[IVMR_STAT_RX_MSGS] == 40);
    free(p.mem);
}

static void test_overflow_and_urgent_reserve(void)
{
    pair_t p;
    pair_open(&p, 4096, 256, 4096, 256);
    pump(&p, 3);
    uint8_t pay[48] = {0}, buf[256];
    int sent = 0;
    while (ivmr_send(&p.a, 0x7F20, 0, pay, 48) >= 0)
        sent++;
    CHECK(sent == (4096 - 1024) / 64);
    CHECK(ivmr_send(&p.a, 0x103, IVMR_FLAG_URGENT, pay, 8) >= 0);
    ivmr_tx_drop(&p.a); /* a record given up: its seq is consumed */
    CHECK(ivmr_send(&p.a, 0x103, IVMR_FLAG_URGENT, pay, 8) >= 0);
    uint16_t type;
    uint32_t seq;
    int got = 0;
    while (recv_one(&p.b, buf, sizeof(buf), &type, &seq) >= 0)
        got++;
    CHECK(got == sent + 2);
    uint64_t st[IVMR_NSTATS];
    ivmr_stats(&p.b, st);
    CHECK(st[IVMR_STAT_RX_SEQ_GAP] == 1); /* the one dropped record */
    ivmr_stats(&p.a, st);
    CHECK(st[IVMR_STAT_TX_REJECTS] == 1);
    free(p.mem);
}

static void test_restart_and_fast_restart(void)
{
    pair_t p;
    pair_open(&p, 4096, 256, 4096, 256);
    pump(&p, 3);
    uint8_t pay[8] = {1}, buf[256];
    CHECK(ivmr_send(&p.a, 0x101, 0, pay, 8) >= 0); /* never read: b restarts */
    CHECK(ivmr_init(&p.b, p.mem, p.size, 1, 4096, 256, 10, 0x3333) == IVMR_OK);
    uint32_t ev = pump(&p, 3);
    CHECK(ev & IVMR_EV_PEER_RESTARTED);
    uint16_t type;
    uint32_t seq;
    CHECK(recv_one(&p.b, buf, sizeof(buf), &type, &seq) == IVMR_EAGAIN); /* backlog dropped */
    /* fast restart: the peer re-inits and acks our epoch before our next poll */
    CHECK(ivmr_reinit(&p.b, 0x4444) == IVMR_OK);
    ivmr_poll(&p.b, ++p.t); /* b attaches to a and acks it at once */
    ev = ivmr_poll(&p.a, ++p.t);
    CHECK((ev & IVMR_EV_PEER_RESTARTED) && (ev & IVMR_EV_LINK_UP) && ivmr_linked(&p.a));
    free(p.mem);
}

static void test_own_limit_and_peer_limit(void)
{
    pair_t p;
    pair_open(&p, 4096, 1008, 4096, 256); /* b accepts 256 B, a may send 1008 */
    pump(&p, 3);
    uint8_t pay[600] = {0}, buf[256];
    uint16_t type;
    uint32_t seq;
    CHECK(ivmr_send(&p.a, 0x101, 0, pay, 600) == IVMR_EMSGSIZE); /* would fault b */
    CHECK(ivmr_send(&p.a, 0x101, 0, pay, 256) >= 0);
    CHECK(recv_one(&p.b, buf, sizeof(buf), &type, &seq) == 256);
    CHECK(ivmr_send(&p.b, 0x201, 0, pay, 256) >= 0); /* a (1008) takes b's 256 */
    uint8_t big[1008];
    CHECK(recv_one(&p.a, big, sizeof(big), &type, &seq) == 256);
    free(p.mem);
}

static void test_refused_major_version(void)
{
    pair_t p;
    pair_open(&p, 4096, 256, 4096, 256);
    uint8_t *b1 = p.mem + ivmr_block_size(4096);
    b1[IVMR_OFF_VERSION] = 2; /* a v2 peer: refuse, FAULT */
    uint32_t ev = ivmr_poll(&p.a, ++p.t);
    CHECK(ev & IVMR_EV_REFUSED);
    CHECK(rd32(p.mem + IVMR_OFF_STATE) == IVMR_STATE_FAULT && ivmr_fault_code(&p.a) == 6);
    CHECK((ivmr_poll(&p.a, ++p.t) & (IVMR_EV_REFUSED | IVMR_EV_RETRY)) == 0);
    ivmr_poll(&p.b, ++p.t); /* b re-asserts its own descriptor (v1) */
    CHECK(ivmr_poll(&p.a, ++p.t) & IVMR_EV_RETRY);
    CHECK(ivmr_reinit(&p.a, 0x5555) == IVMR_OK);
    pump(&p, 4);
    CHECK(ivmr_linked(&p.a) && ivmr_linked(&p.b));
    free(p.mem);
}

static void test_rings_of_different_capacities(void)
{
    static const uint32_t caps[][4] = {
        {4096, 64, 65536, 4096}, {65536, 4096, 4096, 1008}, {16384, 2048, 16384, 1024}};
    for (unsigned k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
        pair_t p;
        pair_open(&p, caps[k][0], caps[k][1], caps[k][2], caps[k][3]);
        pump(&p, 3);
        CHECK(ivmr_linked(&p.a) && ivmr_linked(&p.b));
        CHECK(ivmr_peer_max_msg(&p.a) == caps[k][3] && ivmr_peer_max_msg(&p.b) == caps[k][1]);
        uint32_t lim = caps[k][1] < caps[k][3] ? caps[k][1] : caps[k][3];
        static uint8_t pay[4096], buf[4096];
        uint16_t type;
        uint32_t seq;
        for (uint32_t i = 0; i < 500; i++) {
            uint32_t n = (i * 2654435761u >> 7) % (lim + 1);
            memset(pay, (int)i, n);
            CHECK(ivmr_send(&p.a, 0x101, 0, pay, n) >= 0 && ivmr_send(&p.b, 0x201, 0, pay, n) >= 0);
            CHECK(recv_one(&p.b, buf, sizeof(buf), &type, &seq) == (int)n && (!n || buf[n - 1] == (uint8_t)i));
            CHECK(recv_one(&p.a, buf, sizeof(buf), &type, &seq) == (int)n && (!n || buf[0] == (uint8_t)i));
        }
        free(p.mem);
    }
}

int main(void)
{
    test_golden();
    test_overflow_and_urgent_reserve();
    test_restart_and_fast_restart();
    test_own_limit_and_peer_limit();
    test_refused_major_version();
    test_rings_of_different_capacities();
    if (failures) {
        fprintf(stderr, "ring_test: %d checks failed\n", failures);
        return 1;
    }
    printf("ring_test: all checks passed\n");
    return 0;
}
