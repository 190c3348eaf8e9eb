#include "car.h"

#include "car_limits.h"

#include <math.h>
#include <string.h>

#define BATT_FULL_MV 8400.0
#define BATT_EMPTY_MV 6600.0
#define PI 3.14159265358979323846

void car_default_limits(car_limits_t *lim)
{
    lim->max_linear_mmps = CAR_MAX_LINEAR_MMPS;
    lim->max_angular_mdps = CAR_MAX_ANGULAR_MDPS;
    lim->max_duration_ms = CAR_MAX_DURATION_MS;
    lim->max_distance_mm = CAR_MAX_DISTANCE_MM;
    lim->max_angle_mdeg = CAR_MAX_ANGLE_MDEG;
    lim->default_turn_mdps = CAR_DEFAULT_TURN_MDPS;
}

void car_init(car_t *car, const car_limits_t *lim, uint64_t now_ms)
{
    memset(car, 0, sizeof(*car));
    car->lim = *lim;
    car->state = CAR_IDLE;
    car->battery_mv = BATT_FULL_MV;
    car->dist_left_mm = -1.0;
    car->last_tick_ms = now_ms;
}

static int ack(msg_ack_t *a, uint32_t id, uint16_t status, uint16_t reason, int32_t value,
               uint64_t now_ms)
{
    a->cmd_id = id;
    a->status = status;
    a->reason = reason;
    a->value = value;
    a->rt_time_ms = (uint32_t)now_ms;
    return 1;
}

static int32_t clamp32(int32_t v, int32_t lim, int *clamped)
{
    if (v > lim) {
        *clamped = 1;
        return lim;
    }
    if (v < -lim) {
        *clamped = 1;
        return -lim;
    }
    return v;
}

/* Ends the current motion (if any); returns an ack for it. */
static int end_motion(car_t *car, uint16_t status, uint16_t reason, uint64_t now_ms,
                      msg_ack_t *a, uint32_t new_state)
{
    int n = 0;
    if (car->active_cmd)
        n = ack(a, car->active_cmd, status, reason, 0, now_ms);
    car->active_cmd = 0;
    car->v_mmps = car->w_mdps = 0;
    car->dist_left_mm = -1.0;
    car->angle_left_mdeg = 0;
    car->state = new_state;
    return n;
}

int car_urgent(car_t *car, int estop, uint64_t now_ms, msg_ack_t *acks)
{
    int k = end_motion(car, ACK_FAILED, R_STOPPED, now_ms, &acks[0],
                       estop ? CAR_ESTOP : CAR_STOPPED);
    if (estop)
        car->faults |= FAULT_ESTOP;
    else if (car->faults & FAULT_ESTOP)
        car->state = CAR_ESTOP;
    car->buzzer_until_ms = 0;
    return k;
}

int car_command(car_t *car, uint16_t type, const uint8_t *p, uint32_t n, uint64_t rx_ms,
                uint64_t now_ms, msg_ack_t *acks)
{
    msg_cmd_hdr_t h;
    if (n < sizeof(h))
        return ack(&acks[0], 0, ACK_REJECTED, R_SHORT, (int32_t)n, now_ms);
    memcpy(&h, p, sizeof(h));
    uint16_t need = 0;
    switch (type) {
    case MSG_DRIVE: need = sizeof(msg_drive_t); break;
    case MSG_TURN: need = sizeof(msg_turn_t); break;
    case MSG_LED: need = sizeof(msg_led_t); break;
    case MSG_BUZZER: need = sizeof(msg_buzzer_t); break;
    case MSG_STOP: case MSG_ESTOP: case MSG_RESET: need = sizeof(h); break;
    default: return ack(&acks[0], h.cmd_id, ACK_REJECTED, R_UNKNOWN, type, now_ms);
    }
    if (n < need)
        return ack(&acks[0], h.cmd_id, ACK_REJECTED, R_SHORT, (int32_t)n, now_ms);

    /* STOP/ESTOP are never refused, never expire */
    if (type == MSG_STOP || type == MSG_ESTOP) {
        int k = car_urgent(car, type == MSG_ESTOP, now_ms, &acks[0]);
        return k + ack(&acks[k], h.cmd_id, ACK_DONE, R_NONE, 0, now_ms);
    }
    /* time to live, counted from when the gateway accepted it */
    int64_t left_ms = (int64_t)h.ttl_ms - (int64_t)h.age_ms - (int64_t)(now_ms - rx_ms);
    if (left_ms <= 0)
        return ack(&acks[0], h.cmd_id, ACK_EXPIRED, R_TTL, (int32_t)left_ms, now_ms);
    if (type == MSG_RESET) {
        car->faults &= ~(FAULT_ESTOP | FAULT_CLAMPED);
        if (car->state == CAR_ESTOP)
            car->state = CAR_IDLE;
        return ack(&acks[0], h.cmd_id, ACK_DONE, R_NONE, 0, now_ms);
    }
    if (type == MSG_LED) {
        msg_led_t m;
        memcpy(&m, p, sizeof(m));
        car->led_rgb = m.rgb & 0xFFFFFFu;
        return ack(&acks[0], h.cmd_id, ACK_DONE, R_NONE, 0, now_ms);
    }
    if (type == MSG_BUZZER) {
        msg_buzzer_t m;
        memcpy(&m, p, sizeof(m));
        if (m.hz < CAR_BUZZER_MIN_HZ || m.hz > CAR_BUZZER_MAX_HZ ||
            m.duration_ms > CAR_MAX_BUZZER_MS)
            return ack(&acks[0], h.cmd_id, ACK_REJECTED, R_RANGE, m.hz, now_ms);
        car->buzzer_hz = m.hz;
        car->buzzer_until_ms = now_ms + m.duration_ms;
        return ack(&acks[0], h.cmd_id, ACK_DONE, R_NONE, 0, now_ms);
    }
    /* motion */
    if (car->faults & FAULT_ESTOP)
        return ack(&acks[0], h.cmd_id, ACK_REJECTED, R_ESTOP, 0, now_ms);
    if (!car->link_ok)
        return ack(&acks[0], h.cmd_id, ACK_REJECTED, R_LINK_LOST, 0, now_ms);
    int clamped = 0, k = 0;
    if (type == MSG_DRIVE) {
        msg_drive_t m;
        memcpy(&m, p, sizeof(m));
        if (m.duration_ms > car->lim.max_duration_ms)
            return ack(&acks[0], h.cmd_id, ACK_REJECTED, R_RANGE, (int32_t)m.duration_ms, now_ms);
        if (m.distance_mm > car->lim.max_distance_mm)
            return ack(&acks[0], h.cmd_id, ACK_REJECTED, R_RANGE, (int32_t)m.distance_mm, now_ms);
        k = end_motion(car, ACK_FAILED, R_PREEMPTED, now_ms, &acks[0], CAR_IDLE);
        car->v_mmps = clamp32(m.linear_mmps, car->lim.max_linear_mmps, &clamped);
        car->w_mdps = clamp32(m.angular_mdps, car->lim.max_angular_mdps, &clamped);
        uint64_t span = m.duration_ms ? m.duration_ms
                        : m.distance_mm ? car->lim.max_duration_ms
                                        : (uint64_t)left_ms; /* hold until the TTL */
        car->end_ms = now_ms + span;
        car->dist_left_mm = m.distance_mm ? (double)m.distance_mm : -1.0;
        car->state = (car->v_mmps || car->w_mdps) ? CAR_MOVING : CAR_IDLE;
    } else {
        msg_turn_t m;
        memcpy(&m, p, sizeof(m));
        if (m.angle_mdeg > car->lim.max_angle_mdeg || m.angle_mdeg < -car->lim.max_angle_mdeg)
            return ack(&acks[0], h.cmd_id, ACK_REJECTED, R_RANGE, m.angle_mdeg, now_ms);
        k = end_motion(car, ACK_FAILED, R_PREEMPTED, now_ms, &acks[0], CAR_IDLE);
        int32_t rate = m.rate_mdps < 0 ? -m.rate_mdps : m.rate_mdps;
        if (rate == 0)
            rate = car->lim.default_turn_mdps;
        rate = clamp32(rate, car->lim.max_angular_mdps, &clamped);
        car->w_mdps = m.angle_mdeg >= 0 ? rate : -rate;
        car->v_mmps = 0;
        car->angle_left_mdeg = fabs((double)m.angle_mdeg);
        car->end_ms = now_ms + car->lim.max_duration_ms;
        car->state = m.angle_mdeg ? CAR_TURNING : CAR_IDLE;
    }
    car->active_cmd = (car->state == CAR_IDLE) ? 0 : h.cmd_id;
    if (clamped)
        car->faults |= FAULT_CLAMPED;
    else
        car->faults &= ~FAULT_CLAMPED;
    uint16_t status = car->active_cmd ? ACK_STARTED : ACK_DONE;
    return k + ack(&acks[k], h.cmd_id, status, clamped ? R_CLAMPED : R_NONE,
                   clamped ? car->v_mmps : 0, now_ms);
}

int car_tick(car_t *car, uint64_t now_ms, int link_ok, msg_ack_t *acks)
{
    int n = 0;
    /* a late tick must not move the car past the end of its motion */
    uint64_t until = (car->active_cmd && car->end_ms < now_ms && car->end_ms > car->last_tick_ms)
                         ? car->end_ms
                         : now_ms;
    double dt = (double)(until - car->last_tick_ms) / 1000.0;
    car->last_tick_ms = now_ms;
    if (!link_ok && car->link_ok)
        car->faults |= FAULT_LINK_LOST;
    if (link_ok)
        car->faults &= ~FAULT_LINK_LOST;
    car->link_ok = link_ok;
    if (!link_ok && (car->v_mmps || car->w_mdps || car->active_cmd))
        return end_motion(car, ACK_FAILED, R_LINK_LOST, now_ms, acks, CAR_STOPPED);

    if (dt > 0 && (car->v_mmps || car->w_mdps)) {
        double w = car->w_mdps * dt;
        double step = car->v_mmps * dt;
        if (car->state == CAR_TURNING && fabs(w) > car->angle_left_mdeg)
            w = w > 0 ? car->angle_left_mdeg : -car->angle_left_mdeg;
        if (car->dist_left_mm >= 0 && fabs(step) > car->dist_left_mm)
            step = step > 0 ? car->dist_left_mm : -car->dist_left_mm;
        double hmid = (car->heading_mdeg + w / 2.0) / 1000.0 * PI / 180.0;
        car->x_mm += step * cos(hmid);
        car->y_mm += step * sin(hmid);
        car->heading_mdeg = fmod(car->heading_mdeg + w, 360000.0);
        if (car->state == CAR_TURNING)
            car->angle_left_mdeg -= fabs(w);
        if (car->dist_left_mm >= 0)
            car->dist_left_mm -= fabs(step);
        car->battery_mv -= (fabs(step) * 0.02 + fabs(w) * 0.000005);
    }
    car->battery_mv -= dt * 0.05;
    if (car->battery_mv < BATT_EMPTY_MV)
        car->battery_mv = BATT_EMPTY_MV;
    if (car->battery_mv < BATT_EMPTY_MV + 0.1 * (BATT_FULL_MV - BATT_EMPTY_MV))
        car->faults |= FAULT_LOW_BATT;

    if (car->active_cmd) {
        int reached = (car->state == CAR_TURNING && car->angle_left_mdeg <= 0.5) ||
                      (car->dist_left_mm >= 0 && car->dist_left_mm <= 0.5);
        int target = car->state == CAR_TURNING || car->dist_left_mm >= 0;
        if (reached)
            n += end_motion(car, ACK_DONE, R_NONE, now_ms, acks, CAR_IDLE);
        else if (now_ms >= car->end_ms)
            n += end_motion(car, target ? ACK_FAILED : ACK_DONE, target ? R_TIMECAP : R_NONE,
                            now_ms, acks, CAR_IDLE);
    }
    if (car->buzzer_until_ms && now_ms >= car->buzzer_until_ms)
        car->buzzer_until_ms = 0;
    return n;
}

void car_telemetry(const car_t *car, uint64_t now_ms, msg_telemetry_t *t)
{
    memset(t, 0, sizeof(*t));
    t->rt_time_ms = (uint32_t)now_ms;
    t->state = (uint16_t)car->state;
    double pct = (car->battery_mv - BATT_EMPTY_MV) / (BATT_FULL_MV - BATT_EMPTY_MV) * 10000.0;
    t->battery_cpct = (uint16_t)(pct < 0 ? 0 : pct > 10000 ? 10000 : pct);
    t->x_mm = (int32_t)lround(car->x_mm);
    t->y_mm = (int32_t)lround(car->y_mm);
    t->heading_mdeg = (int32_t)lround(car->heading_mdeg);
    t->linear_mmps = car->v_mmps;
    t->angular_mdps = car->w_mdps;
    t->faults = car->faults;
    t->battery_mv = (uint32_t)car->battery_mv;
    t->active_cmd_id = car->active_cmd;
}
