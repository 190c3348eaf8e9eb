/*
 * _vbio: the per-message work of a node in C (loaded by bus/nativeio.py; optional).
 *
 *   recv(handle)          one whole message from a SUB socket, without waiting: a list of
 *                         bytes (every frame), None when nothing waits, or an int errno
 *   send(handle, frames)  the frames of one message, copied (small frames), 0 or an int errno
 *   check_keys(buffer)    0 when every map in a msgpack buffer has unique str keys, else 1
 *                         ("look closer": bus.framing then decodes it the slow way, which
 *                         says exactly what is wrong); never reads outside the buffer
 *   encode_envelope, decode_envelope   see vbenvelope.c
 *   shm_put, shm_get                    see vbshm.c
 *
 * pyzmq spends more time in its Python wrappers than libzmq spends moving a small message
 * (getsockopt(RCVMORE) and zmq.Frame objects on receive, one Python call per frame on send);
 * these functions do the same libzmq calls directly. libzmq is not linked: init() is handed
 * the addresses of the libzmq functions pyzmq loaded, so both use one libzmq. zmq_msg_t is 64
 * opaque bytes aligned like a pointer (zmq.h of libzmq 4).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    unsigned char opaque[64];
} __attribute__((aligned(sizeof(void *)))) vb_msg;

enum { VB_DONTWAIT = 1, VB_SNDMORE = 2 };

static struct {
    int (*msg_init)(vb_msg *);
    int (*msg_init_size)(vb_msg *, size_t);
    int (*msg_recv)(vb_msg *, void *, int);
    int (*msg_send)(vb_msg *, void *, int);
    int (*msg_close)(vb_msg *);
    size_t (*msg_size)(const vb_msg *);
    void *(*msg_data)(vb_msg *);
    int (*msg_more)(const vb_msg *);
    int (*errno_)(void);
} z;
static int ready;

static PyObject *vb_init(PyObject *self, PyObject *args) {
    (void)self;
    unsigned long long a[9];
    if (!PyArg_ParseTuple(args, "(KKKKKKKKK)", &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], &a[6],
                          &a[7], &a[8]))
        return NULL;
    void **slots = (void **)&z;
    for (int i = 0; i < 9; i++) slots[i] = (void *)(uintptr_t)a[i];
    ready = 1;
    Py_RETURN_NONE;
}

static void *handle_of(PyObject *arg) {
    if (!ready) {
        PyErr_SetString(PyExc_RuntimeError, "_vbio.init() was not called");
        return NULL;
    }
    void *h = PyLong_AsVoidPtr(arg);
    if (h == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "a closed or null socket handle");
    return h;
}

static PyObject *vb_recv(PyObject *self, PyObject *arg) {
    (void)self;
    void *sock = handle_of(arg);
    if (sock == NULL) return NULL;
    PyObject *frames = NULL;
    int flags = VB_DONTWAIT;
    for (;;) {
        vb_msg m;
        z.msg_init(&m);
        if (z.msg_recv(&m, sock, flags) < 0) {
            int err = z.errno_();
            z.msg_close(&m);
            if (frames == NULL && err == EAGAIN) Py_RETURN_NONE;
            if (err == EINTR && frames != NULL) continue; /* the rest of a message is there */
            Py_XDECREF(frames);
            return PyLong_FromLong(err);
        }
        PyObject *b = PyBytes_FromStringAndSize(z.msg_data(&m), (Py_ssize_t)z.msg_size(&m));
        int more = z.msg_more(&m);
        z.msg_close(&m);
        if (b == NULL || (frames == NULL && (frames = PyList_New(0)) == NULL)) {
            Py_XDECREF(b);
            Py_XDECREF(frames);
            return NULL;
        }
        int rc = PyList_Append(frames, b);
        Py_DECREF(b);
        if (rc < 0) {
            Py_DECREF(frames);
            return NULL;
        }
        if (!more) return frames;
        flags = 0; /* a multipart message arrives whole: the next frame is there already */
    }
}

static PyObject *vb_send(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "send(handle, frames)");
        return NULL;
    }
    void *sock = handle_of(args[0]);
    if (sock == NULL) return NULL;
    PyObject *seq = PySequence_Fast(args[1], "frames must be a list or tuple");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_buffer view;
        if (PyObject_GetBuffer(items[i], &view, PyBUF_SIMPLE) < 0) {
            Py_DECREF(seq);
            return NULL;
        }
        vb_msg m;
        if (z.msg_init_size(&m, (size_t)view.len) < 0) {
            PyBuffer_Release(&view);
            Py_DECREF(seq);
            return PyLong_FromLong(z.errno_());
        }
        memcpy(z.msg_data(&m), view.buf, (size_t)view.len);
        PyBuffer_Release(&view);
        while (z.msg_send(&m, sock, (i + 1 < n ? VB_SNDMORE : 0) | VB_DONTWAIT) < 0) {
            int err = z.errno_();
            /* a signal (the supervisor's SIGTERM) interrupted it: the frame was not taken, so
               it is sent again once the handlers have run, as pyzmq does; a handler that
               raises ends the send with its exception */
            if (err == EINTR && PyErr_CheckSignals() == 0) continue;
            z.msg_close(&m);
            Py_DECREF(seq);
            return err == EINTR ? NULL : PyLong_FromLong(err);
        }
    }
    Py_DECREF(seq);
    return PyLong_FromLong(0);
}

/* --- msgpack key check ------------------------------------------------------------------ */

enum { MAX_DEPTH = 32, MAX_KEYS = 64 };

static uint64_t be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* Skip one object at *pp (< end); 0 ok, 1 look closer (bad key, duplicate, malformed, deep). */
static int scan(const unsigned char **pp, const unsigned char *end, int depth) {
    const unsigned char *p = *pp;
    if (p >= end || depth > MAX_DEPTH) return 1;
    unsigned c = *p++;
    uint64_t len = 0, items = 0;
    int is_map = 0, is_array = 0, skip = 0;
    if (c <= 0x7f || c >= 0xe0 || (c >= 0xc0 && c <= 0xc3 && c != 0xc1)) {
        skip = 0;
    } else if (c >= 0x80 && c <= 0x8f) {
        is_map = 1;
        items = c & 0x0f;
    } else if (c >= 0x90 && c <= 0x9f) {
        is_array = 1;
        items = c & 0x0f;
    } else if (c >= 0xa0 && c <= 0xbf) {
        len = c & 0x1f;
    } else {
        static const signed char width[] = {
            /* c4 bin8 */ 1, 2, 4, /* c7 ext8 */ 1, 2, 4, /* ca float */ 0, 0,
            /* cc uint */ 0, 0, 0, 0, /* d0 int */ 0, 0, 0, 0, /* d4 fixext */ 0, 0, 0, 0, 0,
            /* d9 str8 */ 1, 2, 4, /* dc array */ 2, 4, /* de map */ 2, 4};
        static const signed char fixed[] = {0, 0, 0, 0, 0, 0, 4, 8, 1, 2, 4, 8, 1, 2, 4, 8,
                                            2, 3, 5, 9, 17, 0, 0, 0, 0, 0, 0, 0};
        if (c < 0xc4 || c > 0xdf) return 1; /* 0xc1 */
        int w = width[c - 0xc4];
        skip = fixed[c - 0xc4];
        if (w) {
            if (end - p < w) return 1;
            uint64_t v = be(p, w);
            p += w;
            if (c >= 0xc7 && c <= 0xc9) v += 1; /* ext: the type byte */
            if (c >= 0xdc && c <= 0xdd) {
                is_array = 1;
                items = v;
            } else if (c >= 0xde) {
                is_map = 1;
                items = v;
            } else {
                len = v;
            }
        }
    }
    if (!is_map && !is_array) {
        uint64_t n = len + (uint64_t)skip;
        if ((uint64_t)(end - p) < n) return 1;
        *pp = p + n;
        return 0;
    }
    if (is_array) {
        if (items > (uint64_t)(end - p)) return 1; /* each item takes a byte at least */
        for (uint64_t i = 0; i < items; i++)
            if (scan(&p, end, depth + 1)) return 1;
        *pp = p;
        return 0;
    }
    if (items > MAX_KEYS || items * 2 > (uint64_t)(end - p)) return 1;
    const unsigned char *key[MAX_KEYS];
    uint64_t key_len[MAX_KEYS];
    for (uint64_t i = 0; i < items; i++) {
        if (p >= end) return 1;
        unsigned k = *p;
        uint64_t kl;
        int hw;
        if (k >= 0xa0 && k <= 0xbf) {
            kl = k & 0x1f;
            hw = 1;
        } else if (k >= 0xd9 && k <= 0xdb) {
            hw = 1 + (1 << (k - 0xd9));
            if (end - p < hw) return 1;
            kl = be(p + 1, hw - 1);
        } else {
            return 1; /* a key that is not a str */
        }
        if ((uint64_t)(end - p - hw) < kl) return 1;
        key[i] = p + hw;
        key_len[i] = kl;
        for (uint64_t j = 0; j < i; j++)
            if (key_len[j] == kl && memcmp(key[j], key[i], kl) == 0) return 1;
        p += hw + kl;
        if (scan(&p, end, depth + 1)) return 1;
    }
    *pp = p;
    return 0;
}

static PyObject *vb_check_keys(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *p = view.buf, *end = p + view.len;
    int rc = scan(&p, end, 0);
    PyBuffer_Release(&view);
    return PyLong_FromLong(rc);
}

PyObject *vb_decode_envelope(PyObject *self, PyObject *arg);
PyObject *vb_encode_envelope(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *vb_shm_put(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *vb_shm_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *vb_shm_lease(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *vb_shm_claim(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *vb_shm_unlease(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
int vb_shm_lease_ready(PyObject *module);

static PyMethodDef methods[] = {
    {"init", vb_init, METH_VARARGS, "init(addresses): the libzmq functions to call."},
    {"recv", vb_recv, METH_O, "recv(handle): frames, None, or an errno."},
    {"send", (PyCFunction)(void (*)(void))vb_send, METH_FASTCALL, "send(handle, frames)."},
    {"check_keys", vb_check_keys, METH_O, "check_keys(buffer): 0 when map keys are fine."},
    {"decode_envelope", vb_decode_envelope, METH_O, "decode_envelope(buffer): fields or None."},
    {"encode_envelope", (PyCFunction)(void (*)(void))vb_encode_envelope, METH_FASTCALL,
     "encode_envelope(src, inst, seq, ts, tr, sv_major, sv_minor, body, raw[, shm]): bytes or None."},
    {"shm_put", (PyCFunction)(void (*)(void))vb_shm_put, METH_FASTCALL,
     "shm_put(ring, offset, stamp, data, name): write one slot; its descriptor."},
    {"shm_get", (PyCFunction)(void (*)(void))vb_shm_get, METH_FASTCALL,
     "shm_get(ring, descriptor): a copy of the slot it names, or None if it changed."},
    {"shm_lease", (PyCFunction)(void (*)(void))vb_shm_lease, METH_FASTCALL,
     "shm_lease(ring, leases, descriptor, owner): a view of the slot, None, or False."},
    {"shm_claim", (PyCFunction)(void (*)(void))vb_shm_claim, METH_FASTCALL,
     "shm_claim(ring, leases, victims, off, end): 0, or the owner of a lease in the way."},
    {"shm_unlease", (PyCFunction)(void (*)(void))vb_shm_unlease, METH_FASTCALL,
     "shm_unlease(leases, owner): free a gone reader's entries; how many."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_vbio", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__vbio(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && vb_shm_lease_ready(m) < 0) Py_CLEAR(m);
    return m;
}
