/*
 * Reads in place from a publisher's ring (bus/shm.py, docs/protocol.md section 9, "Reads in
 * place"): a reader takes an entry of the ring's lease table instead of copying the slot out,
 * and the publisher does not write over a slot that an entry covers.
 *
 *   shm_lease(ring, leases, descriptor, owner)  a read-only buffer over the slot (ShmView), held
 *                                               until the view is freed; None when the slot no
 *                                               longer holds the descriptor's stamp; False when
 *                                               every entry is taken (copy it out instead);
 *                                               ValueError as shm_get
 *   shm_claim(ring, leases, victims, off, end)  before the publisher writes [off, end): 0 when
 *                                               no entry covers it (the victims' stamps are then
 *                                               0: no new lease or copy can take them), else
 *                                               the owner of an entry that does (the stamps are
 *                                               put back and nothing is written)
 *   shm_unlease(leases, owner)                  free the entries of a reader that is gone; how
 *                                               many
 *
 * The table is LEASES entries of {u64 owner, u64 offset, u64 end, u64 unused}, owner 0 = free.
 * The reader stores its entry, then (full fence) looks at the slot's stamp; the publisher
 * zeroes the stamps it will overwrite, then (full fence) looks at the entries. With both
 * fences at least one of them sees the other's store, so a slot is never written while a view
 * of it is held (Dekker's argument; sequentially consistent fences, on x86 and on Arm alike).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "vbshm.h"

enum { HEADER = VBSHM_HEADER, ENTRY_WORDS = 4 };

typedef struct {
    PyObject_HEAD
    Py_buffer ring;   /* keeps the mapping alive while the view lives */
    Py_buffer leases; /* the table the entry is in */
    uint64_t *entry;  /* NULL once released */
    const unsigned char *data;
    Py_ssize_t len;
    Py_ssize_t exports;
} ShmView;

static void release(ShmView *v) {
    if (v->entry != NULL) {
        __atomic_store_n(&v->entry[0], 0, __ATOMIC_RELEASE); /* every read of the data before */
        v->entry = NULL;
    }
}

static void view_dealloc(ShmView *v) {
    release(v);
    PyBuffer_Release(&v->leases);
    PyBuffer_Release(&v->ring);
    Py_TYPE(v)->tp_free((PyObject *)v);
}

static int view_getbuffer(ShmView *v, Py_buffer *view, int flags) {
    if (v->entry == NULL) {
        PyErr_SetString(PyExc_BufferError, "the shared-memory view was released");
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)v, (void *)v->data, v->len, 1, flags) < 0) return -1;
    v->exports++;
    return 0;
}

static void view_releasebuffer(ShmView *v, Py_buffer *view) {
    (void)view;
    v->exports--;
}

static Py_ssize_t view_length(ShmView *v) { return v->len; }

static PyBufferProcs view_as_buffer = {(getbufferproc)view_getbuffer,
                                       (releasebufferproc)view_releasebuffer};

static PySequenceMethods view_as_sequence = {.sq_length = (lenfunc)view_length};

static PyTypeObject ShmViewType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_vbio.ShmView",
    .tp_basicsize = sizeof(ShmView),
    .tp_dealloc = (destructor)view_dealloc,
    .tp_as_buffer = &view_as_buffer,
    .tp_as_sequence = &view_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A payload read in place from a publisher's ring, leased until it is freed.",
};

int vb_shm_lease_ready(PyObject *module) {
    if (PyType_Ready(&ShmViewType) < 0) return -1;
    Py_INCREF(&ShmViewType);
    return PyModule_AddObject(module, "ShmView", (PyObject *)&ShmViewType);
}

static uint64_t *table(Py_buffer *b, Py_ssize_t *n) {
    *n = b->len / (Py_ssize_t)(ENTRY_WORDS * sizeof(uint64_t));
    return (uint64_t *)b->buf;
}

PyObject *vb_shm_lease(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
    (void)self;
    unsigned long long owner;
    if (nargs != 4 || !PyArg_Parse(a[3], "K", &owner) || owner == 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "shm_lease(ring, leases, descriptor, owner != 0)");
        return NULL;
    }
    uint64_t off, len, stamp;
    if (!vbshm_descriptor(a[2], &off, &len, &stamp)) return NULL;
    ShmView *v = PyObject_New(ShmView, &ShmViewType);
    if (v == NULL) return NULL;
    v->entry = NULL;
    v->exports = 0;
    if (PyObject_GetBuffer(a[0], &v->ring, PyBUF_SIMPLE) < 0) {
        PyObject_Free(v);
        return NULL;
    }
    if (PyObject_GetBuffer(a[1], &v->leases, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&v->ring);
        PyObject_Free(v);
        return NULL;
    }
    unsigned long long size = (unsigned long long)v->ring.len;
    if (off % 8 || off > size || len > size - off || size - off - len < HEADER) {
        Py_DECREF(v);
        PyErr_SetString(PyExc_ValueError, "the slot lies outside the ring");
        return NULL;
    }
    Py_ssize_t n;
    uint64_t *t = table(&v->leases, &n), *e = NULL;
    for (Py_ssize_t i = 0; i < n && e == NULL; i++) {
        uint64_t expected = 0;
        if (__atomic_load_n(&t[i * ENTRY_WORDS], __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&t[i * ENTRY_WORDS], &expected, (uint64_t)owner, 0,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            e = &t[i * ENTRY_WORDS];
    }
    if (e == NULL) {
        Py_DECREF(v);
        Py_RETURN_FALSE;
    }
    v->entry = e;
    __atomic_store_n(&e[1], off, __ATOMIC_RELAXED);
    __atomic_store_n(&e[2], off + HEADER + len, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the entry before the look at the stamp */
    uint64_t *hdr = (uint64_t *)((unsigned char *)v->ring.buf + off);
    if (stamp == 0 || __atomic_load_n(&hdr[0], __ATOMIC_ACQUIRE) != stamp ||
        __atomic_load_n(&hdr[1], __ATOMIC_RELAXED) != len) {
        Py_DECREF(v); /* frees the entry */
        Py_RETURN_NONE;
    }
    v->data = (const unsigned char *)hdr + HEADER;
    v->len = (Py_ssize_t)len;
    return (PyObject *)v;
}

PyObject *vb_shm_claim(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
    (void)self;
    unsigned long long off, end;
    if (nargs != 5 || !PyTuple_Check(a[2]) || !PyArg_Parse(a[3], "K", &off) ||
        !PyArg_Parse(a[4], "K", &end)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "shm_claim(ring, leases, victims: tuple, off, end)");
        return NULL;
    }
    Py_ssize_t k = PyTuple_GET_SIZE(a[2]);
    enum { MAX_VICTIMS = 64 };
    if (k > MAX_VICTIMS) {
        PyErr_SetString(PyExc_ValueError, "more than 64 slots overwritten at once");
        return NULL;
    }
    unsigned long long voff[MAX_VICTIMS];
    for (Py_ssize_t i = 0; i < k; i++)
        if (!PyArg_Parse(PyTuple_GET_ITEM(a[2], i), "K", &voff[i])) return NULL;
    Py_buffer ring, leases;
    if (PyObject_GetBuffer(a[0], &ring, PyBUF_WRITABLE) < 0) return NULL;
    if (PyObject_GetBuffer(a[1], &leases, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&ring);
        return NULL;
    }
    uint64_t old[MAX_VICTIMS];
    uint64_t *hdr[MAX_VICTIMS];
    int bad = 0;
    for (Py_ssize_t i = 0; i < k; i++) {
        if (voff[i] % 8 || voff[i] + HEADER > (unsigned long long)ring.len) bad = 1;
    }
    uint64_t blocker = 0;
    if (!bad) {
        for (Py_ssize_t i = 0; i < k; i++) {
            hdr[i] = (uint64_t *)((unsigned char *)ring.buf + voff[i]);
            old[i] = __atomic_exchange_n(&hdr[i][0], 0, __ATOMIC_RELAXED);
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the zeroed stamps before the look */
        Py_ssize_t n;
        uint64_t *t = table(&leases, &n);
        for (Py_ssize_t i = 0; i < n && blocker == 0; i++) {
            uint64_t who = __atomic_load_n(&t[i * ENTRY_WORDS], __ATOMIC_ACQUIRE);
            if (who == 0) continue;
            uint64_t lo = __atomic_load_n(&t[i * ENTRY_WORDS + 1], __ATOMIC_RELAXED);
            uint64_t hi = __atomic_load_n(&t[i * ENTRY_WORDS + 2], __ATOMIC_RELAXED);
            if (lo < end && hi > off) blocker = who;
        }
        if (blocker != 0) /* nothing was written: the slots stand as they were */
            for (Py_ssize_t i = 0; i < k; i++)
                __atomic_store_n(&hdr[i][0], old[i], __ATOMIC_RELEASE);
    }
    PyBuffer_Release(&leases);
    PyBuffer_Release(&ring);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "a slot lies outside the ring");
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(blocker);
}

PyObject *vb_shm_unlease(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
    (void)self;
    unsigned long long owner;
    if (nargs != 2 || !PyArg_Parse(a[1], "K", &owner) || owner == 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "shm_unlease(leases, owner != 0)");
        return NULL;
    }
    Py_buffer leases;
    if (PyObject_GetBuffer(a[0], &leases, PyBUF_WRITABLE) < 0) return NULL;
    Py_ssize_t n, freed = 0;
    uint64_t *t = table(&leases, &n);
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t expected = (uint64_t)owner;
        if (__atomic_compare_exchange_n(&t[i * ENTRY_WORDS], &expected, 0, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            freed++;
    }
    PyBuffer_Release(&leases);
    return PyLong_FromSsize_t(freed);
}
