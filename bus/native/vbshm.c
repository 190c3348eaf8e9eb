/*
 * Slots of a node's shared-memory ring (bus/shm.py), written and read with the fences a
 * seqlock needs on a weakly ordered CPU (the board's Cortex-A76/A55), not only on x86.
 *
 *   shm_put(ring, offset, stamp, data, name)  invalidate the slot, copy data, then publish
 *                                             stamp; the descriptor that names the slot
 *                                             (docs/protocol.md section 9: magic, offset,
 *                                             length, stamp, then name)
 *   shm_get(ring, descriptor)                 a copy of the slot the descriptor names, as
 *                                             bytes, or None when the slot no longer holds
 *                                             that stamp (overwritten, being written);
 *                                             ValueError when the descriptor is not one, or
 *                                             its slot lies outside the ring
 *
 * A slot is {u64 stamp, u64 length, data}; stamp 0 means "being written". The reader checks
 * the stamp before and after its copy, so a copy torn by the writer wrapping around is never
 * returned. ring is any writable (put) or readable (get) buffer: an mmap of the ring file.
 * The descriptor is read and written here so that a message costs one call on each side.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "vbshm.h"

enum { HEADER = VBSHM_HEADER, DESCRIPTOR = VBSHM_DESCRIPTOR };

static const char MAGIC[4] = {'V', 'B', 'S', '1'};

static int slot(Py_buffer *v, unsigned long long off, unsigned long long len, unsigned char **p) {
    if (off % 8 || off > (unsigned long long)v->len || len > (unsigned long long)v->len - off ||
        (unsigned long long)v->len - off - len < HEADER) {
        PyErr_SetString(PyExc_ValueError, "the slot lies outside the ring");
        return 0;
    }
    *p = (unsigned char *)v->buf + off;
    return 1;
}

static void put_le(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

PyObject *vb_shm_put(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
    (void)self;
    unsigned long long off, stamp;
    if (nargs != 5 || !PyArg_Parse(a[1], "K", &off) || !PyArg_Parse(a[2], "K", &stamp) ||
        !PyBytes_Check(a[4])) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "shm_put(ring, offset, stamp, data, name: bytes)");
        return NULL;
    }
    Py_buffer ring, data;
    if (PyObject_GetBuffer(a[0], &ring, PyBUF_WRITABLE) < 0) return NULL;
    if (PyObject_GetBuffer(a[3], &data, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&ring);
        return NULL;
    }
    unsigned char *p;
    PyObject *out = NULL;
    if (slot(&ring, off, (unsigned long long)data.len, &p)) {
        uint64_t *hdr = (uint64_t *)p, len = (uint64_t)data.len;
        __atomic_store_n(&hdr[0], 0, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE); /* "being written" before any data store */
        __atomic_store_n(&hdr[1], len, __ATOMIC_RELAXED);
        memcpy(p + HEADER, data.buf, (size_t)data.len);
        __atomic_store_n(&hdr[0], (uint64_t)stamp, __ATOMIC_RELEASE); /* data before stamp */
        Py_ssize_t name_len = PyBytes_GET_SIZE(a[4]);
        out = PyBytes_FromStringAndSize(NULL, DESCRIPTOR + name_len);
        if (out != NULL) {
            unsigned char *d = (unsigned char *)PyBytes_AS_STRING(out);
            memcpy(d, MAGIC, 4);
            put_le(d + 4, off);
            put_le(d + 12, len);
            put_le(d + 20, stamp);
            memcpy(d + DESCRIPTOR, PyBytes_AS_STRING(a[4]), (size_t)name_len);
        }
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&ring);
    return out;
}

int vbshm_descriptor(PyObject *obj, uint64_t *off, uint64_t *len, uint64_t *stamp) {
    Py_buffer desc;
    if (PyObject_GetBuffer(obj, &desc, PyBUF_SIMPLE) < 0) return 0;
    const unsigned char *d = desc.buf;
    int ok = desc.len > DESCRIPTOR && memcmp(d, MAGIC, 4) == 0;
    if (ok) {
        *off = get_le(d + 4);
        *len = get_le(d + 12);
        *stamp = get_le(d + 20);
    }
    PyBuffer_Release(&desc);
    if (!ok) PyErr_SetString(PyExc_ValueError, "not a shared-memory descriptor");
    return ok;
}

PyObject *vb_shm_get(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "shm_get(ring, descriptor)");
        return NULL;
    }
    uint64_t off, len, stamp;
    if (!vbshm_descriptor(a[1], &off, &len, &stamp)) return NULL;
    Py_buffer ring;
    if (PyObject_GetBuffer(a[0], &ring, PyBUF_SIMPLE) < 0) return NULL;
    unsigned char *p;
    PyObject *out = NULL;
    if (slot(&ring, off, len, &p)) {
        uint64_t *hdr = (uint64_t *)p;
        if (__atomic_load_n(&hdr[0], __ATOMIC_ACQUIRE) == stamp && stamp != 0 &&
            __atomic_load_n(&hdr[1], __ATOMIC_RELAXED) == len) {
            out = PyBytes_FromStringAndSize((const char *)p + HEADER, (Py_ssize_t)len);
            __atomic_thread_fence(__ATOMIC_ACQUIRE); /* the copy before the second look */
            if (out != NULL && __atomic_load_n(&hdr[0], __ATOMIC_RELAXED) != stamp) {
                Py_DECREF(out); /* overwritten while we copied */
                out = Py_None;
                Py_INCREF(out);
            }
        } else {
            out = Py_None;
            Py_INCREF(out);
        }
    }
    PyBuffer_Release(&ring);
    return out;
}
