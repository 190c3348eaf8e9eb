/*
 * Fuzz driver for the ring core, built with AddressSanitizer + UBSan (make -C rtos check) and,
 * for aarch64 under qemu (make check-aarch64, where ASan does not run), without them.
 * Two endpoints share a region of exactly the region size between two PROT_NONE guard pages
 * (so any access outside it is a SIGSEGV, and an ASan error in the sanitizer build); traffic
 * flows both ways while random bits of the region (headers, indices, ring data) are flipped. A protocol error must be a clean FAULT followed by re-initialisation; after
 * the flipping stops, the link must heal and carry records without new errors.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../ivmr/ivmr.h"

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

int main(int argc, char **argv)
{
    uint32_t rounds = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 200000u;
    if (argc > 2)
        rng ^= strtoull(argv[2], NULL, 0) * 0x9E3779B97F4A7C15ull; /* seed */
    const uint32_t cap = 1024, max = 64;
    uint32_t size = ivmr_region_size(cap);
    /* size is a multiple of 4096: guard page, region, guard page */
    uint8_t *map = mmap(NULL, size + 8192u, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
    if (map == MAP_FAILED || mprotect(map, 4096, PROT_NONE) ||
        mprotect(map + 4096 + size, 4096, PROT_NONE))
        return 2;
    uint8_t *region = map + 4096;
    ivmr_ep_t a, b;
    uint8_t buf[4096], payload[64];
    uint32_t used, kick;
    uint64_t epoch = 1, faults = 0, refusals = 0;
    memset(region, 0, size);
    ivmr_init(&a, region, size, 0, cap, max, 10, ++epoch);
    ivmr_init(&b, region, size, 1, cap, max, 10, ++epoch);
    ivmr_ep_t *eps[2] = {&a, &b};
    uint64_t t = 0;
    for (uint32_t r = 0; r < rounds + 2000u; r++) {
        t++;
        for (int i = 0; i < 2; i++) {
            ivmr_ep_t *ep = eps[i];
            if (ivmr_poll(ep, t) & IVMR_EV_RETRY) { /* refused peer changed: try again */
                refusals++;
                ivmr_reinit(ep, ++epoch);
            }
            uint32_t n = rnd() % (max + 1);
            for (uint32_t k = 0; k < n; k++)
                payload[k] = (uint8_t)rnd();
            int rc = ivmr_send(ep, (uint16_t)(0x100 + (rnd() & 0xFF)), (uint16_t)(rnd() & 2),
                               payload, n);
            if (rc == IVMR_EPROTO ||
                ivmr_recv_batch(ep, buf, sizeof(buf), 64, &used) == IVMR_EPROTO) {
                faults++;
                ivmr_reinit(ep, ++epoch);
            }
        }
        if (r < rounds && r % 3 == 0) {
            uint32_t pos = rnd() % 4 == 0 ? rnd() % 0xC8 : rnd() % size;
            if (rnd() & 1)
                pos = (pos + ivmr_block_size(cap)) % size;
            region[pos] ^= (uint8_t)(1u << (rnd() % 8));
        }
    }
    if (!ivmr_linked(&a) || !ivmr_linked(&b)) {
        fprintf(stderr, "fuzz: the link did not heal after the flips stopped\n");
        return 1;
    }
    uint64_t before[IVMR_NSTATS], after[IVMR_NSTATS];
    ivmr_stats(&b, before);
    for (uint32_t i = 0; i < 1000; i++) {
        if (ivmr_send(&a, 0x101, 0, &i, sizeof(i)) < 0) {
            fprintf(stderr, "fuzz: send failed after healing\n");
            return 1;
        }
        int n = ivmr_recv_batch(&b, buf, sizeof(buf), 64, &used);
        uint32_t got;
        memcpy(&got, buf + 16, 4);
        if (n != 1 || got != i) {
            fprintf(stderr, "fuzz: record %u lost or damaged after healing\n", i);
            return 1;
        }
    }
    ivmr_stats(&b, after);
    if (after[IVMR_STAT_RX_CRC_ERR] != before[IVMR_STAT_RX_CRC_ERR] ||
        after[IVMR_STAT_RX_PROTO_ERR] != before[IVMR_STAT_RX_PROTO_ERR]) {
        fprintf(stderr, "fuzz: errors after healing\n");
        return 1;
    }
    (void)kick;
    printf("fuzz: %u rounds, %llu clean faults, %llu refused descriptors, link healed\n", rounds,
           (unsigned long long)faults, (unsigned long long)refusals);
    munmap(map, size + 8192u);
    return 0;
}
