/*
 * IVMR v1.0 ring core (see ivmr.h). Portable C11 with GCC __atomic builtins; no OS calls.
 *
 * Every access to the shared region is an aligned 32- or 64-bit atomic load/store (relaxed for
 * data, acquire/release for the indices and the state words, as section 4 of the spec requires),
 * so the same code is safe on a Device-memory mapping where memcpy/memset may fault.
 * Peer-written values are never trusted: the peer ring geometry is copied and validated once at
 * attach, every index and length is checked before it is used, and all offsets are masked.
 */
#include "ivmr.h"

#define ALIGN16(x) (((x) + 15u) & ~15u)

/* IVMR_TEST_RELAXED_ORDERING (test builds only, never for use): every acquire/release becomes
 * relaxed and the fences vanish, so that the board's stress test can show it detects a missing
 * barrier on the A76/A55 (docs/board-checklist.md, negative control). */
#ifdef IVMR_TEST_RELAXED_ORDERING
#define IVMR_ACQ __ATOMIC_RELAXED
#define IVMR_REL __ATOMIC_RELAXED
#define __atomic_thread_fence(order) ((void)(order))
#else
#define IVMR_ACQ __ATOMIC_ACQUIRE
#define IVMR_REL __ATOMIC_RELEASE
#endif

/* ---- shared-memory accessors ------------------------------------------------------------ */
static inline uint32_t ld32(const uint8_t *b, uint32_t off)
{
    return __atomic_load_n((const uint32_t *)(const void *)(b + off), __ATOMIC_RELAXED);
}
static inline uint32_t ld32_acq(const uint8_t *b, uint32_t off)
{
    return __atomic_load_n((const uint32_t *)(const void *)(b + off), IVMR_ACQ);
}
static inline uint64_t ld64(const uint8_t *b, uint32_t off)
{
    return __atomic_load_n((const uint64_t *)(const void *)(b + off), __ATOMIC_RELAXED);
}
static inline uint64_t ld64_acq(const uint8_t *b, uint32_t off)
{
    return __atomic_load_n((const uint64_t *)(const void *)(b + off), IVMR_ACQ);
}
static inline void st32(uint8_t *b, uint32_t off, uint32_t v)
{
    __atomic_store_n((uint32_t *)(void *)(b + off), v, __ATOMIC_RELAXED);
}
static inline void st32_rel(uint8_t *b, uint32_t off, uint32_t v)
{
    __atomic_store_n((uint32_t *)(void *)(b + off), v, IVMR_REL);
}
static inline void st64(uint8_t *b, uint32_t off, uint64_t v)
{
    __atomic_store_n((uint64_t *)(void *)(b + off), v, __ATOMIC_RELAXED);
}
static inline void st64_rel(uint8_t *b, uint32_t off, uint64_t v)
{
    __atomic_store_n((uint64_t *)(void *)(b + off), v, IVMR_REL);
}
static inline void stat_add(ivmr_ep_t *ep, int slot, uint64_t n)
{
    uint32_t off = IVMR_OFF_STATS + 8u * (uint32_t)slot;
    st64(ep->own, off, ld64(ep->own, off) + n); /* single writer: relaxed read-modify-write */
}

/* ---- CRC-32 (zlib / IEEE 802.3, reflected 0xEDB88320) ---------------------------------- */
static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    /* release (private memory): the table before another thread's acquire of crc_ready */
    __atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t ivmr_crc32(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = (const uint8_t *)data;
    /* acquire: pairs with the release-store of crc_ready (a racing init rewrites equal words) */
    if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
        crc_init();
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

static uint32_t record_crc(uint32_t len, uint32_t type_flags, uint32_t seq, const uint8_t *payload,
                           uint32_t n)
{
    uint8_t h[12];
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)(len >> (8 * i));
        h[4 + i] = (uint8_t)(type_flags >> (8 * i));
        h[8 + i] = (uint8_t)(seq >> (8 * i));
    }
    return ivmr_crc32(ivmr_crc32(0, h, 12), payload, n);
}

/* little-endian word from private memory (the host and the board are both little-endian) */
static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- geometry ---------------------------------------------------------------------------- */
uint32_t ivmr_block_size(uint32_t capacity)
{
    return (IVMR_RING_OFFSET + capacity + IVMR_BLOCK_ALIGN - 1u) & ~(IVMR_BLOCK_ALIGN - 1u);
}
uint32_t ivmr_region_size(uint32_t capacity) { return 2u * ivmr_block_size(capacity); }
uint32_t ivmr_layout_size(uint32_t cap0, uint32_t cap1)
{
    return ivmr_block_size(cap0) + ivmr_block_size(cap1);
}
size_t ivmr_ep_sizeof(void) { return sizeof(ivmr_ep_t); }

static int is_pow2(uint32_t x) { return x && !(x & (x - 1u)); }

static int geometry_ok(uint32_t capacity, uint32_t max_msg)
{
    return is_pow2(capacity) && capacity >= 64u && capacity <= (1u << 30) &&
           (uint64_t)4u * (IVMR_REC_HDR + (uint64_t)max_msg) <= capacity;
}

/* ---- init / session ----------------------------------------------------------------------- */
/* The descriptor fields of our block from our local copies (init, and re-asserted every poll so
 * that a damaged word in our own block heals: we are its only writer). */
static void write_descriptor(ivmr_ep_t *ep)
{
    uint8_t *b = ep->own;
    st32(b, IVMR_OFF_MAGIC, IVMR_MAGIC);
    st32(b, IVMR_OFF_VERSION, IVMR_VERSION_MAJOR | (IVMR_VERSION_MINOR << 16));
    st32(b, IVMR_OFF_HEADER_SIZE, IVMR_HEADER_SIZE);
    st32(b, IVMR_OFF_RING_OFFSET, IVMR_RING_OFFSET);
    st32(b, IVMR_OFF_RING_CAPACITY, ep->capacity);
    st32(b, IVMR_OFF_MAX_MSG, ep->max_msg);
    st32(b, IVMR_OFF_FEATURES, IVMR_FEATURE_CRC);
    st32(b, IVMR_OFF_ENDPOINT_ID, ep->me);
    st64(b, IVMR_OFF_EPOCH, ep->epoch);
    st32(b, IVMR_OFF_HB_PERIOD, ep->hb_period_ms);
}

static void write_block(ivmr_ep_t *ep)
{
    uint8_t *b = ep->own;
    /* release: whatever we wrote before (old session) precedes INIT for the peer's acquire of
     * state; section 5 step 1 wants INIT and a zero ack before anything else changes */
    st32_rel(b, IVMR_OFF_STATE, IVMR_STATE_INIT);
    /* release: INIT before the cleared ack, for the peer's acquire-load of peer_epoch_ack */
    st64_rel(b, IVMR_OFF_PEER_EPOCH_ACK, 0);
    for (uint32_t off = 0; off < IVMR_RING_OFFSET + ep->capacity; off += 8u)
        if (off != IVMR_OFF_STATE)
            st64(b, off, 0);
    write_descriptor(ep);
    /* release: the zeroed block and descriptor before the peer's acquire-load of tx_tail */
    st32_rel(b, IVMR_OFF_TX_TAIL, 0);
    /* release: descriptor, epoch and tail before the peer's acquire-load of state == READY */
    st32_rel(b, IVMR_OFF_STATE, IVMR_STATE_READY);

    ep->tail = 0;
    ep->cached_head = 0;
    ep->tx_seq = 1;
    ep->head = 0;
    ep->peer_epoch = 0; /* re-attach (and re-publish rx_head) on the next poll */
    ep->rx_synced = 0;
    ep->linked = 0;
    ep->refused = 0;
    ep->retry_reported = 0;
    ep->fault = IVMR_FAULT_NONE;
    ep->stopped = 0;
}

int ivmr_init_layout(ivmr_ep_t *ep, void *base, uint32_t region_size, uint32_t endpoint_id,
                     uint32_t block1_off, uint32_t capacity, uint32_t max_msg,
                     uint32_t hb_period_ms, uint64_t epoch)
{
    uint32_t bs = block1_off;
    uint8_t *zero = (uint8_t *)ep;
    for (size_t i = 0; i < sizeof(*ep); i++)
        zero[i] = 0;
    if (!base || ((uintptr_t)base & 63u) || endpoint_id > 1u || !geometry_ok(capacity, max_msg) ||
        epoch == 0 || hb_period_ms == 0 || (bs & (IVMR_BLOCK_ALIGN - 1u)) || bs < IVMR_BLOCK_ALIGN ||
        bs >= region_size || region_size - bs < IVMR_HEADER_SIZE)
        return IVMR_EINVAL;
    /* our ring must fit in our block */
    if ((uint64_t)IVMR_RING_OFFSET + capacity > (endpoint_id ? (uint64_t)region_size - bs : bs))
        return IVMR_EINVAL;
    ep->base = (uint8_t *)base;
    ep->region_size = region_size;
    ep->me = endpoint_id;
    ep->own = ep->base + (endpoint_id ? bs : 0u);
    ep->peer = ep->base + (endpoint_id ? 0u : bs);
    ep->peer_block_size = endpoint_id ? bs : region_size - bs;
    ep->capacity = capacity;
    ep->max_msg = max_msg;
    ep->hb_period_ms = hb_period_ms;
    ep->epoch = epoch;
    ep->peer_dead = 1; /* unknown until its heartbeat is seen moving */
    write_block(ep);
    return IVMR_OK;
}

int ivmr_init(ivmr_ep_t *ep, void *base, uint32_t region_size, uint32_t endpoint_id,
              uint32_t capacity, uint32_t max_msg, uint32_t hb_period_ms, uint64_t epoch)
{
    uint32_t bs = ivmr_block_size(capacity);
    if (region_size < 2u * bs) {
        uint8_t *zero = (uint8_t *)ep;
        for (size_t i = 0; i < sizeof(*ep); i++)
            zero[i] = 0;
        return IVMR_EINVAL;
    }
    return ivmr_init_layout(ep, base, region_size, endpoint_id, bs, capacity, max_msg,
                            hb_period_ms, epoch);
}

int ivmr_reinit(ivmr_ep_t *ep, uint64_t epoch)
{
    if (epoch == 0 || epoch == ep->epoch)
        return IVMR_EINVAL;
    ep->epoch = epoch;
    write_block(ep);
    return IVMR_OK;
}

void ivmr_shutdown(ivmr_ep_t *ep)
{
    /* release: our last records and indices before the peer's acquire-load of state */
    st32_rel(ep->own, IVMR_OFF_STATE, IVMR_STATE_STOPPING);
    /* release: STOPPING before the cleared ack (peer's acquire-load of peer_epoch_ack) */
    st64_rel(ep->own, IVMR_OFF_PEER_EPOCH_ACK, 0);
    /* release: the cleared ack before the peer's acquire-load of state == OFF */
    st32_rel(ep->own, IVMR_OFF_STATE, IVMR_STATE_OFF);
    ep->linked = 0;
    ep->peer_epoch = 0;
    ep->stopped = 1;
}

static int set_fault(ivmr_ep_t *ep, uint32_t code)
{
    ep->fault = code;
    st32(ep->own, IVMR_OFF_FAULT_CODE, code);
    stat_add(ep, IVMR_STAT_RX_PROTO_ERR, 1);
    /* release: fault_code and the counter are visible before the peer's acquire-load of state */
    st32_rel(ep->own, IVMR_OFF_STATE, IVMR_STATE_FAULT);
    ep->linked = 0;
    ep->peer_epoch = 0;
    return IVMR_EPROTO;
}

static int descriptor_ok(const ivmr_ep_t *ep)
{
    const uint8_t *p = ep->peer;
    uint32_t ver = ld32(p, IVMR_OFF_VERSION);
    uint32_t ro = ld32(p, IVMR_OFF_RING_OFFSET), cap = ld32(p, IVMR_OFF_RING_CAPACITY);
    uint32_t max = ld32(p, IVMR_OFF_MAX_MSG), hs = ld32(p, IVMR_OFF_HEADER_SIZE);
    return ld32(p, IVMR_OFF_MAGIC) == IVMR_MAGIC && (ver & 0xFFFFu) == IVMR_VERSION_MAJOR &&
           hs >= IVMR_HEADER_SIZE && ro >= hs && !(ro & 63u) && geometry_ok(cap, max) &&
           (uint64_t)ro + cap <= ep->peer_block_size &&
           ld32(p, IVMR_OFF_ENDPOINT_ID) == 1u - ep->me;
}

/* Section 3/7: a peer whose magic, major version or geometry we cannot accept is refused and we
 * go to FAULT (fault_code 6). We stay FAULT, beating, until the peer changes (ivmr_poll then
 * reports IVMR_EV_RETRY and the owner re-initialises with a new epoch), so a peer that stays
 * wrong is refused once, not once per poll. */
static uint32_t refuse(ivmr_ep_t *ep, uint64_t pep)
{
    uint32_t ev = IVMR_EV_REFUSED | (ep->linked ? IVMR_EV_LINK_DOWN : 0u);
    set_fault(ep, IVMR_FAULT_DESCRIPTOR);
    ep->refused = 1;
    ep->refused_epoch = pep;
    ep->retry_reported = 0;
    return ev;
}

/* Attach to the peer's current epoch: drop its backlog, publish our head, then ack the epoch. */
static uint32_t try_attach(ivmr_ep_t *ep, uint64_t pep, uint64_t now_ms)
{
    uint32_t ev = 0;
    if (!descriptor_ok(ep))
        return refuse(ep, pep);
    /* acquire: pairs with the peer's release-store of tx_tail (its ring data before the index) */
    uint32_t tail = ld32_acq(ep->peer, IVMR_OFF_TX_TAIL);
    /* acquire: re-read epoch/state after the tail; a peer resetting meanwhile shows here */
    if ((tail & 15u) || ld64_acq(ep->peer, IVMR_OFF_EPOCH) != pep ||
        ld32_acq(ep->peer, IVMR_OFF_STATE) != IVMR_STATE_READY)
        return ev; /* resetting or a damaged index: retry on the next poll */
    ep->peer_cap = ld32(ep->peer, IVMR_OFF_RING_CAPACITY);
    ep->peer_max = ld32(ep->peer, IVMR_OFF_MAX_MSG);
    ep->peer_ring_off = ld32(ep->peer, IVMR_OFF_RING_OFFSET);
    ep->head = tail;
    ep->rx_synced = 0;
    ev |= IVMR_EV_ATTACHED;
    if (ep->last_peer_epoch && ep->last_peer_epoch != pep)
        ev |= IVMR_EV_PEER_RESTARTED;
    /* A new peer epoch ends the session we had, even when the peer acked our epoch again before
     * this poll (a fast restart): report it down, so that LINK_UP follows for the new one. */
    if (ep->linked)
        ev |= IVMR_EV_LINK_DOWN;
    ep->linked = 0;
    ep->last_peer_epoch = pep;
    ep->peer_epoch = pep;
    /* release: our reads of the dropped backlog happen-before the peer's acquire of rx_head */
    st32_rel(ep->own, IVMR_OFF_RX_HEAD, tail);
    /* release: rx_head above is visible before the peer acquire-loads our peer_epoch_ack */
    st64_rel(ep->own, IVMR_OFF_PEER_EPOCH_ACK, pep);
    /* a new epoch proves life: restart the liveness clock */
    /* acquire: pairs with the peer's release-store of heartbeat_counter */
    ep->peer_hb_seen = ld64_acq(ep->peer, IVMR_OFF_HB_COUNTER);
    ep->peer_hb_change_ms = now_ms;
    ep->peer_hb_valid = 1;
    if (ep->peer_dead) {
        ep->peer_dead = 0;
        ev |= IVMR_EV_PEER_ALIVE;
    }
    return ev;
}

/* Heartbeat and liveness on our own clock (section 5). */
static uint32_t beat_and_watch(ivmr_ep_t *ep, uint64_t now_ms)
{
    uint32_t ev = 0;
    uint8_t *own = ep->own;
    const uint8_t *peer = ep->peer;
    if (now_ms - ep->last_hb_ms >= ep->hb_period_ms) {
        ep->last_hb_ms = now_ms;
        /* release: our block's earlier stores are visible before the peer sees the beat */
        st64_rel(own, IVMR_OFF_HB_COUNTER, ld64(own, IVMR_OFF_HB_COUNTER) + 1u);
    }
    /* acquire: pairs with the peer's release-store of its heartbeat_counter */
    uint64_t hb = ld64_acq(peer, IVMR_OFF_HB_COUNTER);
    uint32_t period = ld32(peer, IVMR_OFF_HB_PERIOD);
    if (period == 0 || period > 60000u)
        period = ep->hb_period_ms;
    if (!ep->peer_hb_valid) {
        ep->peer_hb_seen = hb;
        ep->peer_hb_change_ms = now_ms;
        ep->peer_hb_valid = 1;
    } else if (hb != ep->peer_hb_seen) {
        ep->peer_hb_seen = hb;
        ep->peer_hb_change_ms = now_ms;
        if (ep->peer_dead) {
            ep->peer_dead = 0;
            ev |= IVMR_EV_PEER_ALIVE;
        }
    } else if (!ep->peer_dead && now_ms - ep->peer_hb_change_ms >= 5ull * period) {
        ep->peer_dead = 1;
        stat_add(ep, IVMR_STAT_HB_MISSES, 1);
        ev |= IVMR_EV_PEER_DEAD;
    }
    return ev;
}

uint32_t ivmr_poll(ivmr_ep_t *ep, uint64_t now_ms)
{
    uint32_t ev = 0;
    uint8_t *own = ep->own;
    const uint8_t *peer = ep->peer;

    if (ep->refused) {
        /* FAULT after a refused descriptor: keep our block and heartbeat, watch for a change */
        write_descriptor(ep);
        st32(own, IVMR_OFF_FAULT_CODE, IVMR_FAULT_DESCRIPTOR);
        /* release: descriptor and fault_code before the peer's acquire-load of state */
        st32_rel(own, IVMR_OFF_STATE, IVMR_STATE_FAULT);
        ev |= beat_and_watch(ep, now_ms);
        /* acquire: pairs with the peer's release-store of state (its descriptor before READY) */
        if (!ep->retry_reported && ld32_acq(peer, IVMR_OFF_STATE) == IVMR_STATE_READY &&
            (ld64_acq(peer, IVMR_OFF_EPOCH) != ep->refused_epoch || descriptor_ok(ep))) {
            ep->retry_reported = 1;
            ev |= IVMR_EV_RETRY;
        }
        return ev;
    }
    if (ep->fault || ep->stopped)
        return 0; /* FAULT/OFF: the owner must reinit */
    /* re-assert our block from local state (heals a damaged word; we are its only writer) */
    write_descriptor(ep);
    /* release: our ring data before the tail (the peer acquire-loads tx_tail, then reads) */
    st32_rel(own, IVMR_OFF_TX_TAIL, ep->tail);
    if (ep->peer_epoch) {
        /* release: our reads of the peer ring before the peer's acquire-load of rx_head */
        st32_rel(own, IVMR_OFF_RX_HEAD, ep->head);
        /* release: rx_head before the peer's acquire-load of peer_epoch_ack */
        st64_rel(own, IVMR_OFF_PEER_EPOCH_ACK, ep->peer_epoch);
    }
    /* release: descriptor and indices before the peer's acquire-load of state */
    st32_rel(own, IVMR_OFF_STATE, IVMR_STATE_READY);

    /* acquire: pairs with the peer's release-store of state (descriptor and epoch first) */
    uint32_t pstate = ld32_acq(peer, IVMR_OFF_STATE);
    if (pstate == IVMR_STATE_READY) {
        /* acquire: the epoch written before the peer's READY */
        uint64_t pep = ld64_acq(peer, IVMR_OFF_EPOCH);
        if (pep != 0 && pep != ep->peer_epoch)
            ev |= try_attach(ep, pep, now_ms);
        if (ep->refused)
            return ev;
    } else if (ep->peer_epoch) {
        ep->peer_epoch = 0;
    }

    ev |= beat_and_watch(ep, now_ms);

    /* acquire: pairs with the peer's release-store of peer_epoch_ack (its rx_head first) */
    uint32_t linked = ep->peer_epoch != 0 && pstate == IVMR_STATE_READY &&
                      ld64_acq(peer, IVMR_OFF_PEER_EPOCH_ACK) == ep->epoch;
    if (linked && !ep->linked)
        ev |= IVMR_EV_LINK_UP;
    else if (!linked && ep->linked)
        ev |= IVMR_EV_LINK_DOWN;
    ep->linked = linked;
    return ev;
}

int ivmr_linked(const ivmr_ep_t *ep) { return (int)ep->linked; }
int ivmr_peer_alive(const ivmr_ep_t *ep) { return !ep->peer_dead; }
uint64_t ivmr_peer_epoch(const ivmr_ep_t *ep) { return ep->peer_epoch; }
uint32_t ivmr_peer_max_msg(const ivmr_ep_t *ep) { return ep->peer_epoch ? ep->peer_max : 0u; }
uint32_t ivmr_fault_code(const ivmr_ep_t *ep) { return ep->fault; }

/* The peer is still linked to the epochs we know (section 5 rule 5). */
static int session_intact(const ivmr_ep_t *ep)
{
    /* acquire (both): pair with the peer's release-stores of state and epoch at (re)init */
    return ep->peer_epoch != 0 && ld32_acq(ep->peer, IVMR_OFF_STATE) == IVMR_STATE_READY &&
           ld64_acq(ep->peer, IVMR_OFF_EPOCH) == ep->peer_epoch;
}

/* ---- producer ------------------------------------------------------------------------------ */
static inline void put_words(uint8_t *dst, const uint8_t *src, uint32_t n, uint32_t slot)
{
    uint32_t i = 0;
    for (; i + 4u <= n; i += 4u)
        st32(dst, i, get_le32(src + i));
    if (i < n) {
        uint8_t last[4] = {0, 0, 0, 0};
        for (uint32_t k = 0; i + k < n; k++)
            last[k] = src[i + k];
        st32(dst, i, get_le32(last));
        i += 4u;
    }
    for (; i < slot; i += 4u)
        st32(dst, i, 0);
}

/* Room check; refreshes the cached head when short. 0 = fits, else an error code. */
static int tx_room(ivmr_ep_t *ep, uint32_t total, int urgent)
{
    uint32_t cap = ep->capacity;
    uint32_t limit = urgent ? cap : cap - cap / 4u;
    if (ep->tail - ep->cached_head + total <= limit)
        return 0;
    /* acquire: pairs with the consumer's release-store of rx_head (its reads of the freed
     * space happen before we overwrite it) */
    uint32_t h = ld32_acq(ep->peer, IVMR_OFF_RX_HEAD);
    if ((h & 15u) || h - ep->cached_head > ep->tail - ep->cached_head) {
        /* acquire: pairs with the peer's release-store of peer_epoch_ack */
        if (!session_intact(ep) || ld64_acq(ep->peer, IVMR_OFF_PEER_EPOCH_ACK) != ep->epoch) {
            ep->linked = 0;
            return IVMR_ENOLINK;
        }
        return set_fault(ep, IVMR_FAULT_HEAD_RANGE);
    }
    ep->cached_head = h;
    return ep->tail - h + total <= limit ? 0 : IVMR_EFULL;
}

static int tx_link_ok(ivmr_ep_t *ep)
{
    /* acquire: pairs with the peer's release-store of peer_epoch_ack (its rx_head first) */
    return ep->linked && session_intact(ep) &&
           ld64_acq(ep->peer, IVMR_OFF_PEER_EPOCH_ACK) == ep->epoch;
}

/* Writes one record (and a PAD first when needed); does not publish the tail. */
static int tx_write(ivmr_ep_t *ep, uint16_t type, uint16_t flags, const uint8_t *payload,
                    uint32_t n)
{
    if (type == IVMR_TYPE_PAD || n > ep->max_msg || (n && !payload))
        return IVMR_EINVAL;
    if (n > ep->peer_max)
        return IVMR_EMSGSIZE; /* the peer bounds records by its own limit (section 7) */
    uint32_t cap = ep->capacity;
    uint32_t need = ALIGN16(IVMR_REC_HDR + n);
    uint32_t off = ep->tail & (cap - 1u);
    uint32_t to_end = cap - off;
    uint32_t pad = need > to_end ? to_end : 0u;
    int rc = tx_room(ep, need + pad, (flags & IVMR_FLAG_URGENT) != 0);
    if (rc) {
        if (rc == IVMR_EFULL)
            stat_add(ep, IVMR_STAT_TX_REJECTS, 1);
        return rc;
    }
    uint8_t *ring = ep->own + IVMR_RING_OFFSET;
    if (pad) {
        uint8_t *r = ring + off;
        st32(r, 0, pad);
        st32(r, 4, 0);
        st32(r, 8, 0);
        st32(r, 12, record_crc(pad, 0, 0, 0, 0));
        ep->tail += pad;
        off = 0;
    }
    uint8_t *r = ring + off;
    uint32_t len = IVMR_REC_HDR + n, tf = (uint32_t)type | ((uint32_t)flags << 16);
    uint32_t seq = ep->tx_seq++;
    st32(r, 0, len);
    st32(r, 4, tf);
    st32(r, 8, seq);
    st32(r, 12, record_crc(len, tf, seq, payload, n));
    put_words(r + IVMR_REC_HDR, payload, n, need - IVMR_REC_HDR);
    ep->tail += need;
    return IVMR_OK;
}

/* Publish the tail (store-release), then full fence and check whether the peer sleeps. */
static int tx_publish(ivmr_ep_t *ep)
{
    /* release: the record words (relaxed stores) before the consumer's acquire-load of tx_tail */
    st32_rel(ep->own, IVMR_OFF_TX_TAIL, ep->tail);
    /* full fence: our tx_tail store before our load of peer rx_armed; pairs with the fence in
     * the peer's ivmr_rx_arm (its rx_armed store before its tx_tail load): one side sees the
     * other, so a sleeping peer is always kicked (Dekker) */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return ld32(ep->peer, IVMR_OFF_RX_ARMED) == 1u;
}

uint32_t ivmr_tx_drop(ivmr_ep_t *ep) { return ep->tx_seq++; }

int ivmr_send(ivmr_ep_t *ep, uint16_t type, uint16_t flags, const void *payload, uint32_t n)
{
    if (!tx_link_ok(ep))
        return IVMR_ENOLINK;
    int rc = tx_write(ep, type, flags, (const uint8_t *)payload, n);
    if (rc)
        return rc;
    stat_add(ep, IVMR_STAT_TX_MSGS, 1);
    return tx_publish(ep);
}

int ivmr_send_batch(ivmr_ep_t *ep, const uint8_t *buf, uint32_t len, uint32_t *kick, int *err)
{
    int sent = 0, rc = IVMR_OK;
    uint32_t pos = 0;
    *kick = 0;
    if (!tx_link_ok(ep)) {
        *err = IVMR_ENOLINK;
        return 0;
    }
    while (pos + 8u <= len) {
        uint32_t tf = get_le32(buf + pos), n = get_le32(buf + pos + 4u);
        if (n > len - pos - 8u) {
            rc = IVMR_EINVAL;
            break;
        }
        rc = tx_write(ep, (uint16_t)(tf & 0xFFFFu), (uint16_t)(tf >> 16), buf + pos + 8u, n);
        if (rc)
            break;
        sent++;
        pos += (8u + n + 7u) & ~7u;
    }
    if (sent) {
        stat_add(ep, IVMR_STAT_TX_MSGS, (uint64_t)sent);
        *kick = (uint32_t)tx_publish(ep);
    }
    *err = rc;
    return sent;
}

uint32_t ivmr_tx_free(ivmr_ep_t *ep, int urgent)
{
    uint32_t cap = ep->capacity, limit = urgent ? cap : cap - cap / 4u;
    if (ep->peer_epoch) {
        /* acquire: pairs with the consumer's release-store of rx_head */
        uint32_t h = ld32_acq(ep->peer, IVMR_OFF_RX_HEAD);
        if (!(h & 15u) && h - ep->cached_head <= ep->tail - ep->cached_head)
            ep->cached_head = h;
    }
    uint32_t used = ep->tail - ep->cached_head;
    return used >= limit ? 0u : limit - used;
}

/* ---- consumer ------------------------------------------------------------------------------ */
/* Checks the tail against our head; 1 = data, 0 = empty, <0 = error (EAGAIN after a detach). */
static int rx_tail(ivmr_ep_t *ep, uint32_t *tail)
{
    if (!ep->peer_epoch || ep->fault || ep->stopped)
        return 0;
    /* acquire: pairs with the producer's release-store of tx_tail (record words before it) */
    uint32_t t = ld32_acq(ep->peer, IVMR_OFF_TX_TAIL);
    if (t == ep->head)
        return 0;
    if ((t & 15u) || t - ep->head > ep->peer_cap) {
        if (!session_intact(ep)) {
            ep->peer_epoch = 0; /* the peer is resetting: re-attach on the next poll */
            return 0;
        }
        return set_fault(ep, (t & 15u) ? IVMR_FAULT_MISALIGNED : IVMR_FAULT_TAIL_RANGE);
    }
    *tail = t;
    return 1;
}

/* Reads the record at the head into out (payload). Returns payload length, IVMR_ESKIP for a
 * skipped record or a PAD (head advanced either way), or IVMR_EPROTO. */
static int rx_one(ivmr_ep_t *ep, uint32_t tail, uint32_t *tf_out, uint32_t *seq_out, uint8_t *out)
{
    uint32_t cap = ep->peer_cap;
    uint32_t off = ep->head & (cap - 1u);
    uint32_t avail = tail - ep->head, to_end = cap - off;
    const uint8_t *r = ep->peer + ep->peer_ring_off + off;
    uint32_t len = ld32(r, 0), tf = ld32(r, 4);
    if (len < IVMR_REC_HDR)
        return set_fault(ep, IVMR_FAULT_LEN);
    if ((tf & 0xFFFFu) == IVMR_TYPE_PAD) {
        if (len != to_end)
            return set_fault(ep, IVMR_FAULT_PAD);
        if (to_end > avail)
            return set_fault(ep, IVMR_FAULT_OVERRUN);
        ep->head += to_end;
        return IVMR_ESKIP;
    }
    if (len > IVMR_REC_HDR + ep->max_msg) /* section 7: the receiver's own limit */
        return set_fault(ep, IVMR_FAULT_LEN);
    uint32_t a = ALIGN16(len);
    if (a > avail || a > to_end)
        return set_fault(ep, IVMR_FAULT_OVERRUN);
    uint32_t n = len - IVMR_REC_HDR, seq = ld32(r, 8), crc = ld32(r, 12);
    uint32_t i = 0;
    for (; i + 4u <= n; i += 4u)
        put_le32(out + i, ld32(r + IVMR_REC_HDR, i));
    if (i < n) {
        uint8_t last[4];
        put_le32(last, ld32(r + IVMR_REC_HDR, i));
        for (uint32_t k = 0; i + k < n; k++)
            out[i + k] = last[k];
    }
    ep->head += a;
    if (record_crc(len, tf, seq, out, n) != crc) {
        stat_add(ep, IVMR_STAT_RX_CRC_ERR, 1);
        return IVMR_ESKIP;
    }
    if (ep->rx_synced && seq != ep->rx_seq_next) {
        uint32_t missing = seq - ep->rx_seq_next; /* records dropped by the producer (section 6) */
        stat_add(ep, IVMR_STAT_RX_SEQ_GAP, missing < 0x80000000u ? missing : 1u);
    }
    ep->rx_seq_next = seq + 1u;
    ep->rx_synced = 1;
    stat_add(ep, IVMR_STAT_RX_MSGS, 1);
    *tf_out = tf;
    *seq_out = seq;
    return (int)n;
}

static uint32_t rx_buf_need(const ivmr_ep_t *ep) { return (ep->max_msg + 3u) & ~3u; }

int ivmr_recv(ivmr_ep_t *ep, uint16_t *type, uint16_t *flags, uint32_t *seq, void *buf,
              uint32_t bufsize)
{
    uint32_t tail, tf = 0, s = 0;
    for (;;) {
        int rc = rx_tail(ep, &tail);
        if (rc <= 0)
            return rc ? rc : IVMR_EAGAIN;
        if (bufsize < rx_buf_need(ep))
            return IVMR_EINVAL;
        rc = rx_one(ep, tail, &tf, &s, (uint8_t *)buf);
        if (rc == IVMR_EPROTO)
            return rc;
        /* release: our loads of the record before the producer's acquire-load of rx_head */
        st32_rel(ep->own, IVMR_OFF_RX_HEAD, ep->head);
        if (rc == IVMR_ESKIP) {
            if (ep->head != tail)
                continue; /* a PAD or a skipped record: look at the next one */
            return IVMR_ESKIP;
        }
        *type = (uint16_t)(tf & 0xFFFFu);
        *flags = (uint16_t)(tf >> 16);
        *seq = s;
        return rc;
    }
}

int ivmr_recv_batch(ivmr_ep_t *ep, uint8_t *out, uint32_t outsize, uint32_t max_items,
                    uint32_t *used)
{
    uint32_t tail, pos = 0, tf, s;
    int items = 0;
    *used = 0;
    int rc = rx_tail(ep, &tail);
    if (rc <= 0)
        return rc;
    uint32_t need = 16u + ALIGN16(rx_buf_need(ep)); /* the largest item, padding included */
    while ((uint32_t)items < max_items && ep->head != tail && need <= outsize - pos) {
        rc = rx_one(ep, tail, &tf, &s, out + pos + 16u);
        if (rc == IVMR_EPROTO)
            return rc;
        if (rc == IVMR_ESKIP)
            continue;
        put_le32(out + pos, tf);
        put_le32(out + pos + 4u, s);
        put_le32(out + pos + 8u, (uint32_t)rc);
        put_le32(out + pos + 12u, 0);
        pos += 16u + (((uint32_t)rc + 15u) & ~15u);
        items++;
    }
    /* release: our loads of the batch before the producer's acquire-load of rx_head */
    st32_rel(ep->own, IVMR_OFF_RX_HEAD, ep->head);
    *used = pos;
    return items;
}

int ivmr_rx_arm(ivmr_ep_t *ep)
{
    st32(ep->own, IVMR_OFF_RX_ARMED, 1u);
    /* full fence: our rx_armed store before our load of peer tx_tail; pairs with the fence in
     * the producer's tx_publish (its tx_tail store before its rx_armed load) */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!ep->peer_epoch)
        return 0;
    /* acquire: pairs with the producer's release-store of tx_tail */
    return ld32_acq(ep->peer, IVMR_OFF_TX_TAIL) != ep->head;
}

void ivmr_rx_disarm(ivmr_ep_t *ep) { st32(ep->own, IVMR_OFF_RX_ARMED, 0u); }

void ivmr_stats(const ivmr_ep_t *ep, uint64_t out[IVMR_NSTATS])
{
    for (int i = 0; i < IVMR_NSTATS; i++)
        out[i] = ld64(ep->own, IVMR_OFF_STATS + 8u * (uint32_t)i);
}

void ivmr_count_unknown(ivmr_ep_t *ep) { stat_add(ep, IVMR_STAT_RX_UNKNOWN, 1); }
