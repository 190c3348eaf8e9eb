/*
 * The IVMR v1 message catalogue of the car controller (payloads, little-endian, naturally
 * aligned). docs/rtos.md has the same tables; workers/rtgw/messages.py encodes/decodes them.
 * Payloads only grow at the end: receivers ignore extra bytes and reject short payloads.
 */
#ifndef CAR_MSGS_H
#define CAR_MSGS_H

#include <stdint.h>

/* link (0x0001-0x00FF) */
#define MSG_PING 0x0001u  /* u64 token */
#define MSG_PONG 0x0002u  /* u64 token (IS_REPLY) */
#define MSG_HELLO 0x0004u /* struct msg_hello */

/* Linux -> RT commands (0x0100-0x01FF); all start with struct msg_cmd_hdr */
#define MSG_DRIVE 0x0101u
#define MSG_TURN 0x0102u
#define MSG_STOP 0x0103u  /* sent URGENT */
#define MSG_ESTOP 0x0104u /* sent URGENT; latches until MSG_RESET */
#define MSG_RESET 0x0105u
#define MSG_LED 0x0106u
#define MSG_BUZZER 0x0107u

/* RT -> Linux (0x0200-0x02FF) */
#define MSG_TELEMETRY 0x0201u
#define MSG_ACK 0x0202u

/* experimental (0x7F00-0x7FFF): the benchmark */
#define MSG_BENCH 0x7F01u     /* u64 t_send_ns, u32 index, then filler */
#define MSG_BENCH_CTL 0x7F02u /* struct msg_bench_ctl */
#define MSG_BENCH_REP 0x7F03u /* struct msg_bench_rep */

typedef struct {
    uint16_t sw_major, sw_minor;
    uint32_t capabilities;
    char build[24];
} msg_hello_t; /* 32 B */

typedef struct {
    uint32_t cmd_id; /* chosen by Linux; echoed in acks */
    uint16_t ttl_ms; /* the command must start within ttl_ms of the gateway accepting it */
    uint16_t age_ms; /* time it already spent queued in the gateway */
} msg_cmd_hdr_t;     /* 8 B */

typedef struct {
    msg_cmd_hdr_t h;
    int32_t linear_mmps;  /* mm/s, + forward */
    int32_t angular_mdps; /* millidegrees/s, + left */
    uint32_t duration_ms; /* 0 = hold the set-point until the TTL expires */
    uint32_t distance_mm; /* 0 = no distance limit */
} msg_drive_t;            /* 24 B */

typedef struct {
    msg_cmd_hdr_t h;
    int32_t angle_mdeg; /* millidegrees, + left */
    int32_t rate_mdps;  /* magnitude, millidegrees/s; 0 = controller default */
} msg_turn_t;           /* 16 B */

typedef struct {
    msg_cmd_hdr_t h;
    uint32_t rgb; /* 0xRRGGBB */
} msg_led_t;      /* 12 B */

typedef struct {
    msg_cmd_hdr_t h;
    uint16_t hz;
    uint16_t duration_ms;
} msg_buzzer_t; /* 12 B */

/* controller states */
enum { CAR_IDLE = 0, CAR_MOVING, CAR_TURNING, CAR_STOPPED, CAR_ESTOP, CAR_FAULT };

/* fault bits */
#define FAULT_LINK_LOST 0x1u  /* Linux heartbeat lost: motors stopped */
#define FAULT_CLAMPED 0x2u    /* last set-point was clamped to the RT limits */
#define FAULT_LOW_BATT 0x4u
#define FAULT_ESTOP 0x8u

typedef struct {
    uint32_t rt_time_ms;
    uint16_t state;
    uint16_t battery_cpct; /* 0.01 % */
    int32_t x_mm, y_mm;
    int32_t heading_mdeg;
    int32_t linear_mmps, angular_mdps;
    uint32_t faults;
    uint32_t battery_mv;
    uint32_t active_cmd_id;
    /* v1.1 (appended; a 40-byte sample is the v1.0 one): what the RT side could not send or
     * act on since it started, so that every command is accounted for (docs/rtos.md) */
    uint32_t ack_drops;  /* acks not sent: queue full, ring full, no link, fault */
    uint32_t tlm_drops;  /* telemetry samples not sent (same reasons) */
    uint32_t ring_drops; /* of all records, those dropped at a full ring: each one is a seq gap */
    uint32_t cmd_drops;  /* commands dropped without an ack (payload too short for a cmd_id) */
} msg_telemetry_t;       /* 56 B */
#define MSG_TELEMETRY_V10_SIZE 40u

/* a command type this controller knows */
static inline int msg_is_command(uint16_t type) { return type >= MSG_DRIVE && type <= MSG_BUZZER; }

/* ack status */
enum { ACK_STARTED = 1, ACK_DONE, ACK_REJECTED, ACK_EXPIRED, ACK_FAILED };
/* ack reasons */
enum {
    R_NONE = 0,
    R_CLAMPED,     /* started, set-point reduced to the RT limits */
    R_TTL,         /* not started within its time to live */
    R_ESTOP,       /* emergency stop latched: send reset first */
    R_LINK_LOST,   /* Linux heartbeat lost: motion stopped */
    R_PREEMPTED,   /* replaced by a newer motion command */
    R_SHORT,       /* payload shorter than the message needs */
    R_RANGE,       /* duration/distance/angle beyond the RT hard limits */
    R_STOPPED,     /* stopped by STOP/ESTOP */
    R_UNKNOWN,     /* unknown command type */
    R_BUSY,        /* the controller's command queue is full */
    R_TIMECAP,     /* a distance/angle target not reached within the time limit */
};

typedef struct {
    uint32_t cmd_id;
    uint16_t status;
    uint16_t reason;
    int32_t value; /* reason detail, e.g. the clamped set-point */
    uint32_t rt_time_ms;
} msg_ack_t; /* 16 B */

typedef struct {
    uint32_t op; /* 1 = send count BENCH records of size bytes; 2 = report; 3 = as 1, paced */
    uint32_t count;
    uint32_t size;
    uint32_t reserved; /* op 3: gap between records, us (each gap is gap..2*gap) */
} msg_bench_ctl_t;

typedef struct {
    uint64_t rx_count;
    uint64_t p50_ns, p99_ns, max_ns;
    uint64_t stats[8]; /* the RT endpoint's IVMR stats */
    uint64_t tx_sent;
    uint64_t tx_full_spins;
} msg_bench_rep_t;

#endif
