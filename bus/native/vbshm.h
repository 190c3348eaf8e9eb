/*
 * What bus/native/vbshm.c (slots) and vbshmlease.c (leases) share: the layout of a slot and
 * of the descriptor that names it (docs/protocol.md section 9).
 */
#ifndef VBSHM_H
#define VBSHM_H

#include <Python.h>
#include <stdint.h>

enum { VBSHM_HEADER = 16, VBSHM_DESCRIPTOR = 28 };

/* The offset, length and stamp of the descriptor in obj (a buffer): 1, or 0 with ValueError
 * ("not a shared-memory descriptor") or the buffer's own error set. */
int vbshm_descriptor(PyObject *obj, uint64_t *off, uint64_t *len, uint64_t *stamp);

#endif
