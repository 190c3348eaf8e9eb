/*
 * The RT application: an IPC thread that owns both IVMR rings (endpoint 1) and a control thread
 * that runs the car controller; they exchange decoded messages through two port message queues.
 */
#ifndef CAR_APP_H
#define CAR_APP_H

#include <stdint.h>

#include "../ivmr/ivmr.h"
#include "car.h"

/* The largest max_msg this build accepts (the receive buffer is static: no heap on the RT side). */
#ifndef APP_MAX_MSG
#define APP_MAX_MSG 16368u
#endif

typedef struct {
    void *region;         /* mapped shared region (page-aligned) */
    uint32_t region_size;
    uint32_t capacity;    /* our ring (RT -> Linux) */
    uint32_t linux_capacity; /* the Linux ring (sets where our block starts); 0 = capacity */
    uint32_t max_msg;     /* largest payload we send and accept (<= APP_MAX_MSG) */
    uint32_t hb_ms;       /* our heartbeat period */
    uint32_t poll_ms;     /* IPC thread wait when idle (doorbell or poll) */
    uint32_t tick_ms;     /* control loop period */
    uint32_t telemetry_ms;
    car_limits_t limits;
    int verbose;
    volatile int stop;    /* set to end both threads */
} app_cfg_t;

/* Starts the threads; returns 0, or -1 when the region or the OS refused. */
int app_start(app_cfg_t *cfg);
/* Sets cfg->stop, waits for the threads and marks our endpoint OFF. */
void app_stop(app_cfg_t *cfg);

#endif
