/*
 * IVMR v1.0: two single-producer/single-consumer byte rings in one shared region.
 *
 * The single source of the wire offsets (docs/rtos.md, ../shared/design/ivmr-v1.md sections 3-8).
 * The core has no OS dependency: no malloc, no libc calls on the shared region (it is touched with
 * aligned 32/64-bit accesses only, so a Device-memory mapping does not fault), C11 __atomic for the
 * ordering rules. It is compiled unchanged into the RT-Thread application and into the Linux shared
 * library that the Python gateway loads with ctypes.
 *
 * One endpoint object per side; one thread owns it (the rings are SPSC).
 */
#ifndef IVMR_H
#define IVMR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- wire constants (normative, section 3) ---------------------------------------------- */
#define IVMR_MAGIC 0x524D5649u /* "IVMR" little-endian */
#define IVMR_VERSION_MAJOR 1u
#define IVMR_VERSION_MINOR 0u
#define IVMR_HEADER_SIZE 0x200u
#define IVMR_RING_OFFSET 0x200u
#define IVMR_BLOCK_ALIGN 4096u
#define IVMR_REC_HDR 16u
#define IVMR_FEATURE_CRC 0x1u

/* endpoint block header offsets */
#define IVMR_OFF_MAGIC 0x000u
#define IVMR_OFF_VERSION 0x004u /* u16 major, u16 minor */
#define IVMR_OFF_HEADER_SIZE 0x008u
#define IVMR_OFF_RING_OFFSET 0x00Cu
#define IVMR_OFF_RING_CAPACITY 0x010u
#define IVMR_OFF_MAX_MSG 0x014u
#define IVMR_OFF_FEATURES 0x018u
#define IVMR_OFF_ENDPOINT_ID 0x01Cu
#define IVMR_OFF_EPOCH 0x020u
#define IVMR_OFF_STATE 0x040u
#define IVMR_OFF_HB_PERIOD 0x044u
#define IVMR_OFF_HB_COUNTER 0x048u
#define IVMR_OFF_PEER_EPOCH_ACK 0x050u
#define IVMR_OFF_FAULT_CODE 0x058u
#define IVMR_OFF_TX_TAIL 0x080u
#define IVMR_OFF_RX_HEAD 0x0C0u
#define IVMR_OFF_RX_ARMED 0x0C4u
#define IVMR_OFF_STATS 0x100u

/* state values */
#define IVMR_STATE_OFF 0u
#define IVMR_STATE_INIT 1u
#define IVMR_STATE_READY 2u
#define IVMR_STATE_STOPPING 3u
#define IVMR_STATE_FAULT 0xDEADu

/* record types and flags */
#define IVMR_TYPE_PAD 0x0000u
#define IVMR_FLAG_ACK_REQ 0x1u
#define IVMR_FLAG_URGENT 0x2u
#define IVMR_FLAG_IS_REPLY 0x4u

/* stats slots (u64 each at IVMR_OFF_STATS + 8*i) */
enum {
    IVMR_STAT_TX_MSGS = 0,
    IVMR_STAT_TX_REJECTS,
    IVMR_STAT_RX_MSGS,
    IVMR_STAT_RX_CRC_ERR,
    IVMR_STAT_RX_SEQ_GAP,
    IVMR_STAT_RX_PROTO_ERR,
    IVMR_STAT_RX_UNKNOWN,
    IVMR_STAT_HB_MISSES,
    IVMR_NSTATS
};

/* return codes (negative) */
#define IVMR_OK 0
#define IVMR_EAGAIN (-1)  /* receive: nothing to read */
#define IVMR_EFULL (-2)   /* send: no room (counted in tx_rejects) */
#define IVMR_ENOLINK (-3) /* send: no linked peer */
#define IVMR_EINVAL (-4)  /* bad argument (size, type, buffer) */
#define IVMR_EPROTO (-5)  /* protocol error: this endpoint is now FAULT; call ivmr_reinit */
#define IVMR_ESKIP (-6)   /* receive: a record was counted and skipped (CRC) */
#define IVMR_EMSGSIZE (-7) /* send: payload larger than the peer's max_msg (it would fault) */

/* fault codes (fault_code field) */
#define IVMR_FAULT_NONE 0u
#define IVMR_FAULT_TAIL_RANGE 1u  /* tail - head > capacity */
#define IVMR_FAULT_MISALIGNED 2u  /* misaligned peer index */
#define IVMR_FAULT_LEN 3u         /* record length out of bounds */
#define IVMR_FAULT_OVERRUN 4u     /* record beyond the tail or past the ring end */
#define IVMR_FAULT_PAD 5u         /* PAD length is not the bytes to the end */
#define IVMR_FAULT_DESCRIPTOR 6u  /* peer magic/version/geometry refused (state FAULT) */
#define IVMR_FAULT_HEAD_RANGE 7u  /* peer rx_head outside [head, tail] of our ring */

/* events returned by ivmr_poll (bit mask) */
#define IVMR_EV_ATTACHED 0x01u       /* attached to a (new) peer epoch; backlog dropped */
#define IVMR_EV_PEER_RESTARTED 0x02u /* ... and it replaced an epoch we knew */
#define IVMR_EV_LINK_UP 0x04u        /* two-way handshake complete */
#define IVMR_EV_LINK_DOWN 0x08u      /* handshake lost (peer stopped, faulted or reset) */
#define IVMR_EV_PEER_DEAD 0x10u      /* no heartbeat change for 5 advertised periods */
#define IVMR_EV_PEER_ALIVE 0x20u     /* heartbeat changes again after being dead */
#define IVMR_EV_REFUSED 0x40u        /* peer descriptor refused: we are FAULT (fault_code 6) */
#define IVMR_EV_RETRY 0x80u          /* the refused peer changed (new epoch or a valid
                                        descriptor): call ivmr_reinit to try again */

/* Local state of one endpoint. Treat as opaque; its size is ivmr_ep_sizeof(). */
typedef struct ivmr_ep {
    uint8_t *base;      /* region base */
    uint32_t region_size;
    uint32_t me;        /* 0 = Linux, 1 = RT-Thread */
    uint8_t *own;       /* own block (written only by us) */
    uint8_t *peer;      /* peer block (read only) */
    uint32_t peer_block_size;
    uint32_t capacity;  /* own ring */
    uint32_t max_msg;
    uint32_t hb_period_ms;
    uint64_t epoch;
    /* producer */
    uint32_t tail;
    uint32_t cached_head;
    uint32_t tx_seq;
    /* consumer (peer ring geometry copied and validated at attach; never re-read) */
    uint32_t head;
    uint32_t peer_cap;
    uint32_t peer_max;
    uint32_t peer_ring_off;
    uint64_t peer_epoch;      /* attached epoch, 0 = not attached */
    uint64_t last_peer_epoch; /* last epoch ever attached (restart detection) */
    uint32_t rx_seq_next;
    uint32_t rx_synced;
    /* session / liveness */
    uint32_t linked;
    uint32_t peer_dead;
    uint32_t refused;         /* FAULT because the peer's descriptor was refused */
    uint64_t refused_epoch;   /* the epoch refused (a change means: retry) */
    uint32_t retry_reported;
    uint64_t last_hb_ms;
    uint64_t peer_hb_seen;
    uint64_t peer_hb_change_ms;
    uint32_t peer_hb_valid;
    uint32_t fault;
    uint32_t stopped;
} ivmr_ep_t;

/* Geometry helpers. */
uint32_t ivmr_block_size(uint32_t capacity);  /* roundup(0x200 + capacity, 4096) */
uint32_t ivmr_region_size(uint32_t capacity); /* 2 * block size */
size_t ivmr_ep_sizeof(void);
uint32_t ivmr_crc32(uint32_t crc, const void *data, size_t n); /* zlib CRC-32 */

/* Bytes of a region whose block 0 (Linux) has ring capacity cap0 and block 1 (RT) cap1. */
uint32_t ivmr_layout_size(uint32_t cap0, uint32_t cap1);

/* Initialise our block (section 5 step 1) in a region of region_size bytes at base.
 * capacity: our ring, a power of two; 4*(16+max_msg) <= capacity. epoch: nonzero.
 * Block 1 starts at block1_off = ivmr_block_size(capacity of block 0), so both sides must agree
 * on the Linux ring's capacity; each side's own ring may differ (its descriptor says which). */
int ivmr_init_layout(ivmr_ep_t *ep, void *base, uint32_t region_size, uint32_t endpoint_id,
                     uint32_t block1_off, uint32_t capacity, uint32_t max_msg,
                     uint32_t hb_period_ms, uint64_t epoch);
/* The same with both rings of this capacity (block 1 at ivmr_block_size(capacity)). */
int ivmr_init(ivmr_ep_t *ep, void *base, uint32_t region_size, uint32_t endpoint_id,
              uint32_t capacity, uint32_t max_msg, uint32_t hb_period_ms, uint64_t epoch);
/* Re-initialise our block with a new epoch (after a FAULT, or a restart in place). */
int ivmr_reinit(ivmr_ep_t *ep, uint64_t epoch);
/* Clean shutdown: STOPPING then OFF. */
void ivmr_shutdown(ivmr_ep_t *ep);

/* Session: heartbeat, attach, liveness. Call every poll period with a monotonic ms clock. */
uint32_t ivmr_poll(ivmr_ep_t *ep, uint64_t now_ms);
int ivmr_linked(const ivmr_ep_t *ep); /* handshake complete both ways */
int ivmr_peer_alive(const ivmr_ep_t *ep);
uint64_t ivmr_peer_epoch(const ivmr_ep_t *ep);
uint32_t ivmr_peer_max_msg(const ivmr_ep_t *ep); /* the attached peer's max_msg (0 = none) */

/* Producer. Returns >= 0 on success (1 = the peer is armed: ring its doorbell), or an error:
 * IVMR_EFULL (counted in tx_rejects; no sequence number used, so the caller may retry),
 * IVMR_ENOLINK, IVMR_EMSGSIZE (n > the peer's max_msg), IVMR_EINVAL, IVMR_EPROTO. */
int ivmr_send(ivmr_ep_t *ep, uint16_t type, uint16_t flags, const void *payload, uint32_t n);
/* The caller abandons a record that did not fit (section 6: drop the new one): its sequence
 * number is consumed, so the consumer sees the gap. Returns the sequence number dropped. */
uint32_t ivmr_tx_drop(ivmr_ep_t *ep);
/* Batch: buf holds items [u16 type][u16 flags][u32 n][payload n][pad to 8]. Sends in order,
 * publishes the tail once. Returns the number of items sent (stops at the first that does not
 * fit); *kick is set to 1 when the doorbell should be rung; *err gets the stopping error. */
int ivmr_send_batch(ivmr_ep_t *ep, const uint8_t *buf, uint32_t len, uint32_t *kick, int *err);

/* Consumer. Copies one record's payload into buf (bufsize >= our own max_msg, rounded up to 4:
 * section 7 bounds a record by the receiver's own limit; a longer one is a protocol error).
 * Returns the payload length, IVMR_EAGAIN, IVMR_ESKIP, or IVMR_EPROTO. */
int ivmr_recv(ivmr_ep_t *ep, uint16_t *type, uint16_t *flags, uint32_t *seq, void *buf,
              uint32_t bufsize);
/* Batch: copies up to max_items records into out as [u16 type][u16 flags][u32 seq][u32 n]
 * [u32 0][payload n][pad to 16], releasing the head once. Returns the item count (>= 0, skipped
 * records not counted) or IVMR_EPROTO; *used gets the bytes written. */
int ivmr_recv_batch(ivmr_ep_t *ep, uint8_t *out, uint32_t outsize, uint32_t max_items,
                    uint32_t *used);

/* Sleep protocol: arm, then block only if this returns 0 (nothing pending). */
int ivmr_rx_arm(ivmr_ep_t *ep);
void ivmr_rx_disarm(ivmr_ep_t *ep);

/* Counters: copies the 8 stats of our block. rx_seq_gap counts the records missing (the sum of
 * forward seq jumps; a backward jump counts 1). ivmr_count_unknown bumps rx_unknown (the core
 * does not know types: the owner calls it for every record type it does not handle). */
void ivmr_stats(const ivmr_ep_t *ep, uint64_t out[IVMR_NSTATS]);
void ivmr_count_unknown(ivmr_ep_t *ep);
uint32_t ivmr_fault_code(const ivmr_ep_t *ep);
/* Free bytes for a non-urgent (urgent = 0) or urgent record in our ring, from the cached head. */
uint32_t ivmr_tx_free(ivmr_ep_t *ep, int urgent);

#ifdef __cplusplus
}
#endif
#endif /* IVMR_H */
