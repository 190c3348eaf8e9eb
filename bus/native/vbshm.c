/*
 * Slots of a node's shared-memory ring (bus/shm.py), written and read with the fences a
 * seqlock needs on a weakly ordered CPU (the board's Cortex-A76/A55), not only on x86.
 *
 *   shm_put(ring, offset, stamp, data)   invalidate the slot, copy data, then publish stamp
 *   shm_get(ring, offset, stamp, length) a copy of the slot as bytes, or None when the slot no
 *                                        longer holds that stamp (overwritten, being written)
 *
 * A slot is {u64 stamp, u64 length, data}; stamp 0 means "being written". The reader checks
 * the stamp before and after its copy, so a copy torn by the writer wrapping around is never
 * returned. ring is any writable (put) or readable (get) buffer: an mmap of the ring file.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { HEADER = 16 };

static int slot(Py_buffer *v, unsigned long long off, unsigned long long len, unsigned char **p) {
    if (off % 8 || off > (unsigned long long)v->len || len > (unsigned long long)v->len - off ||
        (unsigned long long)v->len - off - len < HEADER) {
        PyErr_SetString(PyExc_ValueError, "the slot lies outside the ring");
        return 0;
    }
    *p = (unsigned char *)v->buf + off;
    return 1;
}

PyObject *vb_shm_put(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
    (void)self;
    unsigned long long off, stamp;
    if (nargs != 4 || !PyArg_Parse(a[1], "K", &off) || !PyArg_Parse(a[2], "K", &stamp)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "shm_put(ring, offset, stamp, data)");
        return NULL;
    }
    Py_buffer ring, data;
    if (PyObject_GetBuffer(a[0], &ring, PyBUF_WRITABLE) < 0) return NULL;
    if (PyObject_GetBuffer(a[3], &data, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&ring);
        return NULL;
    }
    unsigned char *p;
    int ok = slot(&ring, off, (unsigned long long)data.len, &p);
    if (ok) {
        uint64_t *hdr = (uint64_t *)p, len = (uint64_t)data.len;
        __atomic_store_n(&hdr[0], 0, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE); /* "being written" before any data store */
        __atomic_store_n(&hdr[1], len, __ATOMIC_RELAXED);
        memcpy(p + HEADER, data.buf, (size_t)data.len);
        __atomic_store_n(&hdr[0], (uint64_t)stamp, __ATOMIC_RELEASE); /* data before stamp */
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&ring);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

PyObject *vb_shm_get(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
    (void)self;
    unsigned long long off, stamp, len;
    if (nargs != 4 || !PyArg_Parse(a[1], "K", &off) || !PyArg_Parse(a[2], "K", &stamp) ||
        !PyArg_Parse(a[3], "K", &len)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "shm_get(ring, offset, stamp, length)");
        return NULL;
    }
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
