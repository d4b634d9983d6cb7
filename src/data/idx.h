/* SPDX-License-Identifier: GPL-3.0-or-later */
/* idx.h - reading and writing IDX files, the format of MNIST and
 * Fashion-MNIST: a 4-byte magic (0x00 0x00 type ndim), ndim big-endian 32-bit
 * sizes, then the elements row-major and big-endian. Files may be gzipped;
 * zlib reads both forms transparently. A load either returns the whole array
 * or nothing, with a message naming the file and what is wrong with it.
 * Uses core/error and zlib. */
#ifndef NL_IDX_H
#define NL_IDX_H

#include <stddef.h>
#include <stdint.h>

/* Deeper arrays are refused: nothing naslab reads has more dimensions. */
#define NL_IDX_MAXDIM 8

/* The element types of the IDX format (the third byte of the magic). */
typedef enum nl_idx_type {
    NL_IDX_U8 = 0x08,
    NL_IDX_I8 = 0x09,
    NL_IDX_I16 = 0x0B,
    NL_IDX_I32 = 0x0C,
    NL_IDX_F32 = 0x0D,
    NL_IDX_F64 = 0x0E
} nl_idx_type;

/* One IDX array. `data` holds `count` elements of `type` in host byte order
 * (uint8_t, int8_t, int16_t, int32_t, float or double). */
typedef struct nl_idx {
    nl_idx_type type;
    int ndim;                    /* 1..NL_IDX_MAXDIM */
    int64_t dims[NL_IDX_MAXDIM]; /* dims[0] is the number of items */
    int64_t count;               /* product of dims */
    void *data;
} nl_idx;

/* Read the IDX file at `path` (plain or gzip). Caller owns *out
 * (nl_idx_free); *out is NULL on failure. Fails with NL_EIO ("cannot open
 * 'x': No such file or directory", read errors, gzip errors such as
 * "x: corrupt gzip stream (incorrect data check)"), NL_EFORMAT for content
 * that is not a complete IDX array, each message starting with the path:
 * "x: not an IDX file (magic 0x1f8b0808)", "x: truncated: header of 3
 * dimensions needs 16 bytes, got 10", "x: truncated: expected 47040000 bytes
 * of data, got 1234", "x: 3 bytes of trailing data after 784 bytes of data";
 * NL_ENOMEM. Memory grows with the data actually read, so a corrupt header
 * claiming huge sizes does not allocate them. */
int nl_idx_load(const char *path, nl_idx **out);

/* Write `count` = product(dims) elements of `type` from `data` (host byte
 * order) as an IDX file at `path`, gzipped when `gzip` is non-zero. Returns 0,
 * NL_EINVAL for a bad type or ndim, NL_EIO naming the file. A failed write
 * may leave a partial file behind. */
int nl_idx_write(const char *path, nl_idx_type type, int ndim, const int64_t *dims, const void *data, int gzip);

/* Free the array; NULL is a no-op. */
void nl_idx_free(nl_idx *x);

/* Bytes per element of `type`, 0 for a byte that names no IDX type. */
size_t nl_idx_type_size(int type);
/* "ubyte", "byte", "short", "int", "float", "double"; NULL for others. */
const char *nl_idx_type_name(int type);
/* Element k of x as a double (no scaling). k must be in 0..count-1. */
double nl_idx_get(const nl_idx *x, int64_t k);
/* Write x's dims as "[60000,28,28]" into buf (size n, NUL-terminated when
 * n > 0). Returns buf. */
char *nl_idx_dims_str(const nl_idx *x, char *buf, size_t n);

#endif
