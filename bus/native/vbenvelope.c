/*
 * The envelope of docs/protocol.md (section 3) written and read in C, for the common case.
 *
 *   encode_envelope(src, inst, seq, ts, tr, sv_major, sv_minor, body, raw[, shm])
 *       the msgpack bytes msgpack-python's Packer(use_bin_type=True) writes for the envelope
 *       {"v": [1, 0], "src", "inst", "seq", "ts", "tr", "sv", "p": body[, "raw"]}, byte for
 *       byte; with shm true, the shared-memory form {"v": [1, 1], ..., "p": body, "shm": raw}
 *       (section 9); None when a value is of a type it does not write (then Python packs it)
 *   decode_envelope(buffer)
 *       (src, inst, seq, ts, tr, body, sv_major, sv_minor, raw or None, extra or None) when
 *       the envelope follows every rule of section 3 that does not need the topic's model;
 *       None for anything else (then bus.framing decodes it in Python, which says exactly
 *       what is wrong, or accepts it: an unusual but valid encoding, an ext type)
 *
 * Values are what msgpack-python gives with raw=False: str, bytes, int, float, bool, None,
 * lists and dicts with str keys. A map key seen twice, a key that is not a str, a str that is
 * not UTF-8, nesting deeper than MAX_DEPTH or a map of more than MAX_KEYS entries all send the
 * envelope to Python. Nothing here reads outside the buffer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { MAX_DEPTH = 32, MAX_KEYS = 64 };

/* --- reading ---------------------------------------------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
} rd;

static uint64_t be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* A str header at r->p: its bytes and length (0 if not a str or truncated). */
static int read_str(rd *r, const char **s, Py_ssize_t *len) {
    if (r->p >= r->end) return 0;
    unsigned c = *r->p;
    uint64_t n;
    int hw;
    if (c >= 0xa0 && c <= 0xbf) {
        n = c & 0x1f;
        hw = 1;
    } else if (c >= 0xd9 && c <= 0xdb) {
        hw = 1 + (1 << (c - 0xd9));
        if (r->end - r->p < hw) return 0;
        n = be(r->p + 1, hw - 1);
    } else {
        return 0;
    }
    if ((uint64_t)(r->end - r->p - hw) < n) return 0;
    *s = (const char *)r->p + hw;
    *len = (Py_ssize_t)n;
    r->p += hw + n;
    return 1;
}

/* An integer at r->p: 1, with neg set and the value in u (not negative) or i (negative). */
static int read_int(rd *r, int *neg, uint64_t *u, int64_t *i) {
    if (r->p >= r->end) return 0;
    unsigned c = *r->p++;
    if (c <= 0x7f) {
        *neg = 0;
        *u = c;
    } else if (c >= 0xe0) {
        *neg = 1;
        *i = (int8_t)c;
    } else if (c >= 0xcc && c <= 0xcf) {
        int w = 1 << (c - 0xcc);
        if (r->end - r->p < w) return 0;
        *neg = 0;
        *u = be(r->p, w);
        r->p += w;
    } else if (c >= 0xd0 && c <= 0xd3) {
        int w = 1 << (c - 0xd0);
        if (r->end - r->p < w) return 0;
        uint64_t raw = be(r->p, w);
        r->p += w;
        int64_t v;
        if (w == 1) v = (int8_t)raw;
        else if (w == 2) v = (int16_t)raw;
        else if (w == 4) v = (int32_t)raw;
        else memcpy(&v, &raw, 8);
        if (v >= 0) {
            *neg = 0;
            *u = (uint64_t)v;
        } else {
            *neg = 1;
            *i = v;
        }
    } else {
        r->p--;
        return 0;
    }
    return 1;
}

static PyObject *read_obj(rd *r, int depth);

static PyObject *read_map(rd *r, uint64_t n, int depth) {
    if (n > MAX_KEYS || depth > MAX_DEPTH || n * 2 > (uint64_t)(r->end - r->p)) return NULL;
    const char *key[MAX_KEYS];
    Py_ssize_t key_len[MAX_KEYS];
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    for (uint64_t i = 0; i < n; i++) {
        if (!read_str(r, &key[i], &key_len[i])) goto fail;
        for (uint64_t j = 0; j < i; j++)
            if (key_len[j] == key_len[i] && memcmp(key[j], key[i], (size_t)key_len[i]) == 0)
                goto fail;
        PyObject *k = PyUnicode_DecodeUTF8(key[i], key_len[i], "strict");
        if (k == NULL) goto fail;
        PyObject *v = read_obj(r, depth + 1);
        if (v == NULL) {
            Py_DECREF(k);
            goto fail;
        }
        int rc = PyDict_SetItem(d, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (rc < 0) goto fail;
    }
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

static PyObject *read_obj(rd *r, int depth) {
    if (r->p >= r->end || depth > MAX_DEPTH) return NULL;
    unsigned c = *r->p;
    if (c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xd3)) {
        int neg;
        uint64_t u;
        int64_t i;
        if (!read_int(r, &neg, &u, &i)) return NULL;
        return neg ? PyLong_FromLongLong(i) : PyLong_FromUnsignedLongLong(u);
    }
    if ((c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb)) {
        const char *s;
        Py_ssize_t n;
        if (!read_str(r, &s, &n)) return NULL;
        return PyUnicode_DecodeUTF8(s, n, "strict");
    }
    r->p++;
    uint64_t n;
    switch (c) {
    case 0xc0: Py_RETURN_NONE;
    case 0xc2: Py_RETURN_FALSE;
    case 0xc3: Py_RETURN_TRUE;
    case 0xc4: case 0xc5: case 0xc6: {
        int w = 1 << (c - 0xc4);
        if (r->end - r->p < w) return NULL;
        n = be(r->p, w);
        r->p += w;
        if ((uint64_t)(r->end - r->p) < n) return NULL;
        PyObject *b = PyBytes_FromStringAndSize((const char *)r->p, (Py_ssize_t)n);
        r->p += n;
        return b;
    }
    case 0xca: {
        if (r->end - r->p < 4) return NULL;
        uint32_t bits = (uint32_t)be(r->p, 4);
        float f;
        memcpy(&f, &bits, 4);
        r->p += 4;
        return PyFloat_FromDouble(f);
    }
    case 0xcb: {
        if (r->end - r->p < 8) return NULL;
        uint64_t bits = be(r->p, 8);
        double f;
        memcpy(&f, &bits, 8);
        r->p += 8;
        return PyFloat_FromDouble(f);
    }
    case 0xdc: case 0xdd: {
        int w = c == 0xdc ? 2 : 4;
        if (r->end - r->p < w) return NULL;
        n = be(r->p, w);
        r->p += w;
        goto array;
    }
    case 0xde: case 0xdf: {
        int w = c == 0xde ? 2 : 4;
        if (r->end - r->p < w) return NULL;
        n = be(r->p, w);
        r->p += w;
        return read_map(r, n, depth);
    }
    default:
        if (c >= 0x80 && c <= 0x8f) return read_map(r, c & 0x0f, depth);
        if (c >= 0x90 && c <= 0x9f) {
            n = c & 0x0f;
            goto array;
        }
        return NULL; /* 0xc1, ext types */
    }
array:
    if (n > (uint64_t)(r->end - r->p)) return NULL;
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL) return NULL;
    for (uint64_t i = 0; i < n; i++) {
        PyObject *v = read_obj(r, depth + 1);
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    return list;
}

/* A [uint, uint] pair (v or sv), written as a fixarray of 2. */
static int read_version(rd *r, uint64_t *major, uint64_t *minor) {
    int neg;
    int64_t i;
    if (r->p >= r->end || *r->p != 0x92) return 0;
    r->p++;
    if (!read_int(r, &neg, major, &i) || neg) return 0;
    if (!read_int(r, &neg, minor, &i) || neg) return 0;
    return 1;
}

enum { K_V = 1, K_SRC = 2, K_INST = 4, K_SEQ = 8, K_TS = 16, K_TR = 32, K_P = 64, K_SV = 128,
       K_RAW = 256, REQUIRED = 127 };

static int key_id(const char *k, Py_ssize_t n) {
    static const struct { const char *name; int id; } keys[] = {
        {"v", K_V}, {"src", K_SRC}, {"inst", K_INST}, {"seq", K_SEQ}, {"ts", K_TS},
        {"tr", K_TR}, {"p", K_P}, {"sv", K_SV}, {"raw", K_RAW}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if ((Py_ssize_t)strlen(keys[i].name) == n && memcmp(keys[i].name, k, (size_t)n) == 0)
            return keys[i].id;
    return 0;
}

static PyObject *decode(const unsigned char *buf, Py_ssize_t len) {
    rd r = {buf, buf + len};
    if (len < 1) return NULL;
    unsigned c = *r.p++;
    uint64_t n;
    if (c >= 0x80 && c <= 0x8f) {
        n = c & 0x0f;
    } else if (c == 0xde && len >= 3) {
        n = be(r.p, 2);
        r.p += 2;
    } else {
        return NULL;
    }
    if (n > MAX_KEYS) return NULL;
    const char *key[MAX_KEYS];
    Py_ssize_t key_len[MAX_KEYS];
    int seen = 0;
    uint64_t vmaj, vmin, svmaj = 1, svmin = 0;
    PyObject *src = NULL, *inst = NULL, *seq = NULL, *ts = NULL, *tr = NULL, *p = NULL;
    PyObject *raw = NULL, *extra = NULL, *out = NULL;
    for (uint64_t i = 0; i < n; i++) {
        if (!read_str(&r, &key[i], &key_len[i])) goto done;
        for (uint64_t j = 0; j < i; j++)
            if (key_len[j] == key_len[i] && memcmp(key[j], key[i], (size_t)key_len[i]) == 0)
                goto done;
        int id = key_id(key[i], key_len[i]);
        seen |= id;
        int neg;
        uint64_t u;
        int64_t iv;
        const char *s;
        Py_ssize_t sl;
        switch (id) {
        case K_V:
            if (!read_version(&r, &vmaj, &vmin) || vmaj != 1) goto done;
            break;
        case K_SV:
            if (!read_version(&r, &svmaj, &svmin)) goto done;
            break;
        case K_SRC: case K_TR: case K_RAW:
            if (!read_str(&r, &s, &sl) || (id != K_TR && sl == 0)) goto done;
            PyObject *str = PyUnicode_DecodeUTF8(s, sl, "strict");
            if (str == NULL) goto done;
            *(id == K_SRC ? &src : id == K_TR ? &tr : &raw) = str;
            break;
        case K_INST: case K_SEQ: case K_TS:
            if (!read_int(&r, &neg, &u, &iv)) goto done;
            if (id == K_INST && (neg || u > 0xffffffffu)) goto done;
            if (id == K_SEQ && (neg || u < 1)) goto done;
            PyObject *num = neg ? PyLong_FromLongLong(iv) : PyLong_FromUnsignedLongLong(u);
            if (num == NULL) goto done;
            *(id == K_INST ? &inst : id == K_SEQ ? &seq : &ts) = num;
            break;
        case K_P:
            if (r.p >= r.end || !((*r.p >= 0x80 && *r.p <= 0x8f) || *r.p == 0xde || *r.p == 0xdf))
                goto done;
            if ((p = read_obj(&r, 1)) == NULL) goto done;
            break;
        default: {
            PyObject *k = PyUnicode_DecodeUTF8(key[i], key_len[i], "strict");
            PyObject *v = k ? read_obj(&r, 1) : NULL;
            int rc = -1;
            if (v != NULL && (extra != NULL || (extra = PyDict_New()) != NULL))
                rc = PyDict_SetItem(extra, k, v);
            Py_XDECREF(k);
            Py_XDECREF(v);
            if (rc < 0) goto done;
        }
        }
    }
    if (r.p != r.end || (seen & REQUIRED) != REQUIRED) goto done;
    out = Py_BuildValue("(OOOOOOKKOO)", src, inst, seq, ts, tr, p, (unsigned long long)svmaj,
                        (unsigned long long)svmin, raw ? raw : Py_None,
                        extra ? extra : Py_None);
done:
    Py_XDECREF(src);
    Py_XDECREF(inst);
    Py_XDECREF(seq);
    Py_XDECREF(ts);
    Py_XDECREF(tr);
    Py_XDECREF(p);
    Py_XDECREF(raw);
    Py_XDECREF(extra);
    return out;
}

PyObject *vb_decode_envelope(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *out = decode(view.buf, view.len);
    PyBuffer_Release(&view);
    if (out == NULL) {
        if (PyErr_Occurred() && PyErr_ExceptionMatches(PyExc_MemoryError)) return NULL;
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return out;
}

/* --- writing ---------------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    char local[1024];
} wr;

static int grow(wr *w, size_t n) {
    if (w->len + n <= w->cap) return 1;
    size_t cap = w->cap * 2;
    while (cap < w->len + n) cap *= 2;
    char *nb = w->buf == w->local ? PyMem_Malloc(cap) : PyMem_Realloc(w->buf, cap);
    if (nb == NULL) return 0;
    if (w->buf == w->local) memcpy(nb, w->local, w->len);
    w->buf = nb;
    w->cap = cap;
    return 1;
}

static int put(wr *w, const void *data, size_t n) {
    if (!grow(w, n)) return 0;
    memcpy(w->buf + w->len, data, n);
    w->len += n;
    return 1;
}

static int put_be(wr *w, unsigned head, uint64_t v, int width) {
    unsigned char b[9];
    b[0] = (unsigned char)head;
    for (int i = 0; i < width; i++) b[1 + i] = (unsigned char)(v >> (8 * (width - 1 - i)));
    return put(w, b, (size_t)(1 + width));
}

/* msgpack-python's choice of format for each length and integer, smallest first */
static int put_len(wr *w, uint64_t n, unsigned fix, uint64_t fix_max, unsigned h8, unsigned h16,
                   unsigned h32) {
    if (n <= fix_max && fix) return put_be(w, fix | (unsigned)n, 0, 0);
    if (n < 256 && h8) return put_be(w, h8, n, 1);
    if (n < 65536) return put_be(w, h16, n, 2);
    if (n <= 0xffffffffu) return put_be(w, h32, n, 4);
    return 0;
}

static int put_int(wr *w, PyObject *o) {
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(o);
        if (PyErr_Occurred()) return 0;
        return put_be(w, 0xcf, u, 8);
    }
    if (overflow < 0 || (v == -1 && PyErr_Occurred())) return 0;
    if (v >= 0) {
        if (v < 128) return put_be(w, (unsigned)v, 0, 0);
        if (v < 256) return put_be(w, 0xcc, (uint64_t)v, 1);
        if (v < 65536) return put_be(w, 0xcd, (uint64_t)v, 2);
        if (v <= 0xffffffffLL) return put_be(w, 0xce, (uint64_t)v, 4);
        return put_be(w, 0xcf, (uint64_t)v, 8);
    }
    if (v >= -32) return put_be(w, (unsigned)(v & 0xff), 0, 0);
    if (v >= -128) return put_be(w, 0xd0, (uint64_t)v & 0xff, 1);
    if (v >= -32768) return put_be(w, 0xd1, (uint64_t)v & 0xffff, 2);
    if (v >= -2147483648LL) return put_be(w, 0xd2, (uint64_t)v & 0xffffffffu, 4);
    return put_be(w, 0xd3, (uint64_t)v, 8);
}

static int put_str(wr *w, PyObject *o) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(o, &n);
    if (s == NULL) return 0;
    return put_len(w, (uint64_t)n, 0xa0, 31, 0xd9, 0xda, 0xdb) && put(w, s, (size_t)n);
}

static int put_obj(wr *w, PyObject *o, int depth) {
    if (depth > MAX_DEPTH) return 0;
    if (o == Py_None) return put_be(w, 0xc0, 0, 0);
    if (o == Py_True) return put_be(w, 0xc3, 0, 0);
    if (o == Py_False) return put_be(w, 0xc2, 0, 0);
    if (PyLong_CheckExact(o)) return put_int(w, o);
    if (PyUnicode_CheckExact(o)) return put_str(w, o);
    if (PyFloat_CheckExact(o)) {
        double d = PyFloat_AS_DOUBLE(o);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        return put_be(w, 0xcb, bits, 8);
    }
    if (PyBytes_CheckExact(o)) {
        Py_ssize_t n = PyBytes_GET_SIZE(o);
        return put_len(w, (uint64_t)n, 0, 0, 0xc4, 0xc5, 0xc6) &&
               put(w, PyBytes_AS_STRING(o), (size_t)n);
    }
    if (PyList_CheckExact(o) || PyTuple_CheckExact(o)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
        PyObject **items = PySequence_Fast_ITEMS(o);
        if (!put_len(w, (uint64_t)n, 0x90, 15, 0, 0xdc, 0xdd)) return 0;
        for (Py_ssize_t i = 0; i < n; i++)
            if (!put_obj(w, items[i], depth + 1)) return 0;
        return 1;
    }
    if (PyDict_CheckExact(o)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        if (!put_len(w, (uint64_t)PyDict_GET_SIZE(o), 0x80, 15, 0, 0xde, 0xdf)) return 0;
        while (PyDict_Next(o, &pos, &k, &v))
            if (!PyUnicode_CheckExact(k) || !put_str(w, k) || !put_obj(w, v, depth + 1)) return 0;
        return 1;
    }
    return 0; /* anything else (a subclass, an Enum, ...): Python packs it */
}

static int put_key(wr *w, const char *k) { return put_len(w, strlen(k), 0xa0, 31, 0xd9, 0xda, 0xdb) && put(w, k, strlen(k)); }

PyObject *vb_encode_envelope(PyObject *self, PyObject *const *a, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 9 && nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "encode_envelope takes 9 or 10 arguments");
        return NULL;
    }
    int shm = nargs == 10 ? PyObject_IsTrue(a[9]) : 0;
    if (shm < 0) return NULL;
    wr w;
    w.buf = w.local;
    w.len = 0;
    w.cap = sizeof w.local;
    int has_raw = a[8] != Py_None;
    if (shm && !has_raw) {
        PyErr_SetString(PyExc_TypeError, "encode_envelope: shm needs the name of the field");
        return NULL;
    }
    int ok = put_be(&w, 0x80 | (has_raw ? 9 : 8), 0, 0) && put_key(&w, "v") &&
             put(&w, shm ? "\x92\x01\x01" : "\x92\x01\x00", 3) && put_key(&w, "src") &&
             PyUnicode_CheckExact(a[0]) &&
             put_str(&w, a[0]) && put_key(&w, "inst") && put_obj(&w, a[1], 0) &&
             put_key(&w, "seq") && put_obj(&w, a[2], 0) && put_key(&w, "ts") &&
             put_obj(&w, a[3], 0) && put_key(&w, "tr") && PyUnicode_CheckExact(a[4]) &&
             put_str(&w, a[4]) && put_key(&w, "sv") && put(&w, "\x92", 1) &&
             PyLong_CheckExact(a[5]) && put_int(&w, a[5]) && PyLong_CheckExact(a[6]) &&
             put_int(&w, a[6]) && put_key(&w, "p") && PyDict_CheckExact(a[7]) &&
             put_obj(&w, a[7], 0) &&
             (!has_raw || (put_key(&w, shm ? "shm" : "raw") && PyUnicode_CheckExact(a[8]) &&
                           put_str(&w, a[8])));
    PyObject *out = ok ? PyBytes_FromStringAndSize(w.buf, (Py_ssize_t)w.len) : NULL;
    if (w.buf != w.local) PyMem_Free(w.buf);
    if (out == NULL) {
        if (PyErr_Occurred() && PyErr_ExceptionMatches(PyExc_MemoryError)) return NULL;
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return out;
}
