/*
 * Two-process stress of the ring core on a shared region file: both directions at once, random
 * sizes, every payload checked, no CRC error, no seq gap, no protocol error.
 *
 *   stress_ivmr --region PATH --side 0|1|both [--count N] [--capacity C] [--max-msg M]
 *
 * "both" forks: the parent plays endpoint 0, the child endpoint 1. One side per process lets
 * two builds meet on one region (make check-aarch64: an x86 side against an aarch64 side under
 * qemu-aarch64). On the board, run it natively (docs/board-checklist.md): that is the test of
 * the barriers on a weakly ordered CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../ivmr/ivmr.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Record i of a side: u32 index, then a size and bytes derived from (side, i) alone. */
static uint32_t make_payload(uint32_t side, uint32_t i, uint32_t max, uint8_t *out)
{
    uint32_t h = (i + 1u) * 2654435761u ^ (side * 0x9E3779B9u);
    uint32_t n = 4u + (h >> 5) % (max - 3u);
    memcpy(out, &i, 4);
    for (uint32_t k = 4; k < n; k++) {
        h ^= h << 13;
        h ^= h >> 17;
        h ^= h << 5;
        out[k] = (uint8_t)h;
    }
    return n;
}

static int run_side(const char *path, uint32_t side, uint32_t count, uint32_t cap, uint32_t max)
{
    uint32_t size = ivmr_region_size(cap);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || ((uint64_t)st.st_size < size && ftruncate(fd, size))) {
        fprintf(stderr, "stress: cannot open or size %s: %s\n", path, strerror(errno));
        return 2;
    }
    uint8_t *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return 2;
    ivmr_ep_t ep;
    if (ivmr_init(&ep, base, size, side, cap, max, 20, now_ms() * 2654435761u + side + 1u) != 0) {
        fprintf(stderr, "stress: ivmr_init refused capacity %u max_msg %u\n", cap, max);
        return 2;
    }
    uint8_t *pay = malloc(max), *want = malloc(max), *buf = malloc(1u << 18);
    uint8_t *batch = malloc(32u * (8u + max + 8u));
    uint32_t sent = 0, received = 0, bad = 0, used, kick;
    uint64_t deadline = now_ms() + 120000u;
    while (!ivmr_linked(&ep) && now_ms() < deadline) {
        ivmr_poll(&ep, now_ms());
        usleep(1000);
    }
    while ((sent < count || received < count) && now_ms() < deadline) {
        ivmr_poll(&ep, now_ms());
        uint32_t progress = 0, pos = 0, k = 0;
        for (; k < 32 && sent + k < count; k++) {
            uint32_t n = make_payload(side, sent + k, max, pay);
            uint32_t tf = 0x7F10u;
            memcpy(batch + pos, &tf, 4);
            memcpy(batch + pos + 4, &n, 4);
            memcpy(batch + pos + 8, pay, n);
            pos += (8u + n + 7u) & ~7u;
        }
        int err = 0;
        if (k) {
            int s = ivmr_send_batch(&ep, batch, pos, &kick, &err);
            if (s < 0 || (err && err != IVMR_EFULL)) {
                fprintf(stderr, "stress: side %u send error %d\n", side, err);
                return 1;
            }
            sent += (uint32_t)s;
            progress += (uint32_t)s;
        }
        int items = ivmr_recv_batch(&ep, buf, 1u << 18, 1024, &used);
        if (items < 0) {
            fprintf(stderr, "stress: side %u protocol error %u\n", side, ivmr_fault_code(&ep));
            return 1;
        }
        for (uint32_t i = 0, off = 0; i < (uint32_t)items; i++) {
            uint32_t n, idx;
            memcpy(&n, buf + off + 8, 4);
            memcpy(&idx, buf + off + 16, 4);
            uint32_t wn = make_payload(1u - side, received, max, want);
            if (idx != received || n != wn || memcmp(buf + off + 16, want, n) != 0)
                bad++;
            received++;
            off += 16u + ((n + 15u) & ~15u);
        }
        progress += (uint32_t)items;
        if (!progress)
            sched_yield();
    }
    uint64_t s[IVMR_NSTATS];
    ivmr_stats(&ep, s);
    printf("stress: side %u sent %u received %u bad %u crc_err %llu seq_gap %llu proto_err %llu\n",
           side, sent, received, bad, (unsigned long long)s[IVMR_STAT_RX_CRC_ERR],
           (unsigned long long)s[IVMR_STAT_RX_SEQ_GAP], (unsigned long long)s[IVMR_STAT_RX_PROTO_ERR]);
    fflush(stdout);
    uint64_t end = now_ms() + 300u; /* keep beating and reading while the peer finishes */
    while (now_ms() < end) {
        ivmr_poll(&ep, now_ms());
        ivmr_recv_batch(&ep, buf, 1u << 18, 1024, &used);
        usleep(2000);
    }
    ivmr_shutdown(&ep);
    return (sent == count && received == count && !bad && !s[IVMR_STAT_RX_CRC_ERR] &&
            !s[IVMR_STAT_RX_SEQ_GAP] && !s[IVMR_STAT_RX_PROTO_ERR])
               ? 0
               : 1;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *side = NULL;
    uint32_t count = 100000, cap = 16384, max = 1024;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--region"))
            path = argv[i + 1];
        else if (!strcmp(argv[i], "--side"))
            side = argv[i + 1];
        else if (!strcmp(argv[i], "--count"))
            count = (uint32_t)strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--capacity"))
            cap = (uint32_t)strtoul(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--max-msg"))
            max = (uint32_t)strtoul(argv[i + 1], NULL, 0);
    }
    if (!path || !side || max < 8) {
        fprintf(stderr, "usage: stress_ivmr --region PATH --side 0|1|both [--count N] "
                        "[--capacity C] [--max-msg M]\n");
        return 2;
    }
    if (strcmp(side, "both") != 0)
        return run_side(path, (uint32_t)atoi(side), count, cap, max);
    pid_t child = fork();
    if (child == 0)
        _exit(run_side(path, 1, count, cap, max));
    int rc = run_side(path, 0, count, cap, max), status = 0;
    waitpid(child, &status, 0);
    return rc ? rc : (WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}
