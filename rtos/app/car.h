/*
 * The car controller: pure logic, no OS. Commands in, acks and telemetry out, odometry by
 * integration of the set-points each tick. Re-checks every field against its own limits
 * (defence in depth behind the gateway's safety envelope), enforces TTLs, stops on link loss.
 */
#ifndef CAR_H
#define CAR_H

#include <stdint.h>

#include "msgs.h"

typedef struct {
    int32_t max_linear_mmps;
    int32_t max_angular_mdps;
    uint32_t max_duration_ms;
    uint32_t max_distance_mm;
    int32_t max_angle_mdeg;
    int32_t default_turn_mdps;
} car_limits_t;

typedef struct {
    car_limits_t lim;
    uint32_t state;
    int32_t v_mmps, w_mdps; /* applied set-point */
    double x_mm, y_mm, heading_mdeg;
    uint32_t active_cmd;
    uint64_t end_ms;        /* motion ends here (duration, hold TTL or safety cap) */
    double dist_left_mm;    /* < 0: no distance target */
    double angle_left_mdeg; /* turns */
    uint32_t faults;
    uint32_t led_rgb;
    uint64_t buzzer_until_ms;
    uint16_t buzzer_hz;
    double battery_mv;
    int link_ok;
    uint64_t last_tick_ms;
} car_t;

#define CAR_MAX_ACKS 2

void car_init(car_t *car, const car_limits_t *lim, uint64_t now_ms);
void car_default_limits(car_limits_t *lim);
/* Applies one command received at rx_ms. Writes up to CAR_MAX_ACKS acks; returns their count. */
int car_command(car_t *car, uint16_t type, const uint8_t *payload, uint32_t n, uint64_t rx_ms,
                uint64_t now_ms, msg_ack_t *acks);
/* The effect of STOP (estop = 0) or ESTOP (1) without its own ack: ends the motion (its ack is
 * written to acks; returns 0 or 1) and, for ESTOP, latches. */
int car_urgent(car_t *car, int estop, uint64_t now_ms, msg_ack_t *acks);
/* Advances time: odometry, ends of motions, link supervision. Returns the ack count. */
int car_tick(car_t *car, uint64_t now_ms, int link_ok, msg_ack_t *acks);
void car_telemetry(const car_t *car, uint64_t now_ms, msg_telemetry_t *t);

#endif
