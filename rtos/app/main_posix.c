/*
 * Host build of the RT application: `rtapp --region PATH [options]`.
 *
 * Creates (or attaches to) the region file, plays endpoint 1 and runs until SIGTERM/SIGINT,
 * then marks its endpoint OFF and exits 0. It does not speak the bus (the gateway does), so the
 * supervisor can run it as a plain executable worker.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../port/port.h"
#include "app.h"

void port_posix_set_doorbell(const char *in_path, const char *out_path);

static volatile sig_atomic_t got_signal;
static void on_signal(int sig) { got_signal = sig; }

static void usage(FILE *f)
{
    car_limits_t d;
    car_default_limits(&d);
    fprintf(f,
            "usage: rtapp --region PATH [options]\n"
            "  --region PATH          shared region file (created if missing, e.g. /dev/shm/ivmr)\n"
            "  --capacity BYTES       our ring's capacity, power of two (default 16384)\n"
            "  --linux-capacity BYTES the Linux ring's capacity: where our block starts\n"
            "                         (default: --capacity)\n"
            "  --max-msg BYTES        largest payload we send and accept (default 1024, at most "
            "%u)\n"
            "  --heartbeat-ms MS      heartbeat period (default 100)\n"
            "  --poll-ms MS           IPC wait when idle (default 1)\n"
            "  --tick-ms MS           control loop period (default 10)\n"
            "  --telemetry-ms MS      telemetry period (default 100)\n"
            "  --max-linear-mps V     RT hard limit on speed (default %g)\n"
            "  --max-angular-dps V    RT hard limit on yaw rate (default %g)\n"
            "  --max-duration-ms MS   RT hard limit on a motion (default %u)\n"
            "  --max-distance-m M     RT hard limit on a drive distance (default %g)\n"
            "  --doorbell-fifo IN,OUT FIFO doorbell paths (wake us, kick the peer); default polling\n"
            "  --verbose              log every event and ack\n"
            "The defaults of the hard limits come from schemas/rtos_limits.py (car_limits.h).\n",
            APP_MAX_MSG, d.max_linear_mmps / 1000.0, d.max_angular_mdps / 1000.0,
            d.max_duration_ms, d.max_distance_mm / 1000.0);
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || v > 0xFFFFFFFFul)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_f(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return (errno || *end || *out <= 0) ? -1 : 0;
}

int main(int argc, char **argv)
{
    app_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    const char *region = NULL;
    cfg.capacity = 16384;
    cfg.max_msg = 1024;
    cfg.hb_ms = 100;
    cfg.poll_ms = 1;
    cfg.tick_ms = 10;
    cfg.telemetry_ms = 100;
    car_default_limits(&cfg.limits);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double f;
        int bad = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--verbose")) {
            cfg.verbose = 1;
            continue;
        } else if (!v) {
            bad = 1;
        } else if (!strcmp(a, "--region")) {
            region = v;
        } else if (!strcmp(a, "--capacity")) {
            bad = parse_u32(v, &cfg.capacity);
        } else if (!strcmp(a, "--linux-capacity")) {
            bad = parse_u32(v, &cfg.linux_capacity);
        } else if (!strcmp(a, "--max-msg")) {
            bad = parse_u32(v, &cfg.max_msg);
        } else if (!strcmp(a, "--heartbeat-ms")) {
            bad = parse_u32(v, &cfg.hb_ms) || !cfg.hb_ms;
        } else if (!strcmp(a, "--poll-ms")) {
            bad = parse_u32(v, &cfg.poll_ms) || !cfg.poll_ms;
        } else if (!strcmp(a, "--tick-ms")) {
            bad = parse_u32(v, &cfg.tick_ms) || !cfg.tick_ms;
        } else if (!strcmp(a, "--telemetry-ms")) {
            bad = parse_u32(v, &cfg.telemetry_ms) || !cfg.telemetry_ms;
        } else if (!strcmp(a, "--max-linear-mps")) {
            bad = parse_f(v, &f);
            cfg.limits.max_linear_mmps = (int32_t)(f * 1000.0);
        } else if (!strcmp(a, "--max-angular-dps")) {
            bad = parse_f(v, &f);
            cfg.limits.max_angular_mdps = (int32_t)(f * 1000.0);
        } else if (!strcmp(a, "--max-duration-ms")) {
            bad = parse_u32(v, &cfg.limits.max_duration_ms);
        } else if (!strcmp(a, "--max-distance-m")) {
            bad = parse_f(v, &f);
            cfg.limits.max_distance_mm = (uint32_t)(f * 1000.0);
        } else if (!strcmp(a, "--doorbell-fifo")) {
            char *comma = strchr(v, ',');
            if (!comma) {
                bad = 1;
            } else {
                *comma = '\0';
                port_posix_set_doorbell(v, comma + 1);
            }
        } else {
            fprintf(stderr, "rtapp: unknown option %s; run rtapp --help for the list.\n", a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "rtapp: option %s needs a valid value; run rtapp --help.\n", a);
            return 2;
        }
        i++;
    }
    if (!region) {
        fprintf(stderr, "rtapp: --region PATH is required (e.g. --region /dev/shm/ivmr).\n");
        return 2;
    }
    if (cfg.max_msg > APP_MAX_MSG) {
        fprintf(stderr, "rtapp: --max-msg %u is above this build's limit of %u bytes; "
                "choose a smaller one.\n", cfg.max_msg, APP_MAX_MSG);
        return 2;
    }
    uint32_t size = ivmr_layout_size(cfg.linux_capacity ? cfg.linux_capacity : cfg.capacity,
                                     cfg.capacity);
    int fd = open(region, O_RDWR | O_CREAT, 0600);
    if (fd < 0) {
        fprintf(stderr, "rtapp: cannot open region %s: %s; check the path and permissions.\n",
                region, strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < size && ftruncate(fd, size) != 0) {
        fprintf(stderr, "rtapp: cannot size region %s to %u bytes: %s.\n", region, size,
                strerror(errno));
        return 1;
    }
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) {
        fprintf(stderr, "rtapp: cannot map region %s: %s.\n", region, strerror(errno));
        return 1;
    }
    cfg.region = base;
    cfg.region_size = size;

    /* block the signals in the worker threads; main waits for them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (app_start(&cfg) != 0) {
        fprintf(stderr, "rtapp: start failed (each capacity must be a power of two >= "
                "4*(16+max-msg)).\n");
        return 1;
    }
    port_log("started region=%s capacity=%u max_msg=%u heartbeat_ms=%u", region, cfg.capacity,
             cfg.max_msg, cfg.hb_ms);
    int sig = 0;
    sigwait(&set, &sig);
    port_log("stopping signal=%d", sig);
    app_stop(&cfg);
    munmap(base, size);
    (void)got_signal;
    (void)on_signal;
    return 0;
}
