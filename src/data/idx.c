/* SPDX-License-Identifier: GPL-3.0-or-later */
/* idx.c - the IDX reader and writer (see idx.h). zlib's gzread reads gzip and
 * plain files alike; the header is checked field by field so each kind of
 * damage gets its own message, and the data buffer grows with what the file
 * really delivers rather than with what its header claims. */
#include "data/idx.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "core/error.h"
#include "data/gzfile.h"

enum { GZBUF = 1 << 18, FIRSTCAP = 1 << 20 };

/* More data than this in one IDX file is taken for a corrupt header; it also
 * keeps every size product far from int64 overflow. */
#define MAXBYTES ((int64_t)1 << 46)

size_t nl_idx_type_size(int type)
{
    switch (type) {
    case NL_IDX_U8:
    case NL_IDX_I8: return 1;
    case NL_IDX_I16: return 2;
    case NL_IDX_I32:
    case NL_IDX_F32: return 4;
    case NL_IDX_F64: return 8;
    default: return 0;
    }
}

const char *nl_idx_type_name(int type)
{
    switch (type) {
    case NL_IDX_U8: return "ubyte";
    case NL_IDX_I8: return "byte";
    case NL_IDX_I16: return "short";
    case NL_IDX_I32: return "int";
    case NL_IDX_F32: return "float";
    case NL_IDX_F64: return "double";
    default: return NULL;
    }
}

double nl_idx_get(const nl_idx *x, int64_t k)
{
    switch (x->type) {
    case NL_IDX_U8: return ((const uint8_t *)x->data)[k];
    case NL_IDX_I8: return ((const int8_t *)x->data)[k];
    case NL_IDX_I16: return ((const int16_t *)x->data)[k];
    case NL_IDX_I32: return ((const int32_t *)x->data)[k];
    case NL_IDX_F32: return ((const float *)x->data)[k];
    case NL_IDX_F64: return ((const double *)x->data)[k];
    }
    return 0;
}

static char *dims_str(int ndim, const int64_t *dims, char *buf, size_t n)
{
    if (n == 0) return buf;
    size_t p = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && p < n; i++) {
        int w = snprintf(buf + p, n - p, "%s%lld", i ? "," : "[", (long long)dims[i]);
        if (w < 0) break;
        p += (size_t)w;
    }
    if (p < n) snprintf(buf + p, n - p, "]");
    return buf;
}

char *nl_idx_dims_str(const nl_idx *x, char *buf, size_t n) { return dims_str(x->ndim, x->dims, buf, n); }

void nl_idx_free(nl_idx *x)
{
    if (!x) return;
    nl_free(x->data);
    nl_free(x);
}

static int host_is_little(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Reverse the bytes of each of n elements of `size` bytes: IDX is big-endian. */
static void swap_elems(unsigned char *p, int64_t n, size_t size)
{
    if (size < 2 || !host_is_little()) return;
    for (int64_t i = 0; i < n; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* zlib's message without the "<fd:3>: " or "path: " prefix it adds. */
static const char *gzmsg(gzFile gz, int *zerr)
{
    const char *m = gzerror(gz, zerr);
    const char *colon = strstr(m, ": ");
    if (colon && (m[0] == '<' || strncmp(m, "<fd:", 4) == 0)) m = colon + 2;
    return m;
}

/* Read up to n bytes; *got is what arrived before end of input. A zlib or
 * system error becomes NL_EIO naming the file; a gzip stream cut short sets
 * *cut instead, so the caller can say what was missing. */
static int read_some(gzFile gz, const char *path, unsigned char *buf, int64_t n, int64_t *got, int *cut)
{
    *got = 0;
    while (*got < n) {
        int64_t want = n - *got;
        unsigned chunk = want > (INT_MAX / 2) ? (unsigned)(INT_MAX / 2) : (unsigned)want;
        int r = gzread(gz, buf + *got, chunk);
        int zerr;
        const char *m = gzmsg(gz, &zerr);
        if (r > 0) *got += r;
        if (zerr == Z_BUF_ERROR) {
            *cut = 1;
            return 0;
        }
        if (r < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
            if (zerr == Z_ERRNO) return nl_err(NL_EIO, "%s: read error: %s", path, strerror(errno));
            return nl_err(NL_EIO, "%s: corrupt gzip stream (%s)", path, m);
        }
        if (r == 0) break;
    }
    return 0;
}

static int load_gz(gzFile gz, const char *path, nl_idx *x)
{
    unsigned char head[4 + 4 * NL_IDX_MAXDIM];
    int64_t got;
    int cut = 0;
    int rc = read_some(gz, path, head, 4, &got, &cut);
    if (rc < 0) return rc;
    if (got == 0) return nl_err(NL_EFORMAT, "%s: empty file (no IDX header)%s", path, cut ? " (gzip stream cut short)" : "");
    if (got < 4)
        return nl_err(NL_EFORMAT, "%s: truncated: header needs at least 4 bytes, got %lld", path, (long long)got);
    unsigned magic = (unsigned)head[0] << 24 | (unsigned)head[1] << 16 | (unsigned)head[2] << 8 | head[3];
    if (head[0] != 0 || head[1] != 0) return nl_err(NL_EFORMAT, "%s: not an IDX file (magic 0x%08x)", path, magic);
    if (!nl_idx_type_size(head[2]))
        return nl_err(NL_EFORMAT, "%s: not an IDX file (magic 0x%08x: unknown element type 0x%02x)", path, magic,
                      head[2]);
    int ndim = head[3];
    if (ndim == 0) return nl_err(NL_EFORMAT, "%s: not an IDX file (magic 0x%08x: 0 dimensions)", path, magic);
    if (ndim > NL_IDX_MAXDIM)
        return nl_err(NL_EFORMAT, "%s: IDX array of %d dimensions (magic 0x%08x); at most %d are supported", path, ndim,
                      magic, NL_IDX_MAXDIM);
    x->type = (nl_idx_type)head[2];
    x->ndim = ndim;
    rc = read_some(gz, path, head + 4, 4 * ndim, &got, &cut);
    if (rc < 0) return rc;
    if (got < 4 * ndim)
        return nl_err(NL_EFORMAT, "%s: truncated: header of %d dimension%s needs %d bytes, got %lld", path, ndim,
                      ndim == 1 ? "" : "s", 4 + 4 * ndim, (long long)(4 + got));
    size_t esize = nl_idx_type_size(x->type);
    int64_t bytes = (int64_t)esize;
    int huge = 0;
    for (int i = 0; i < ndim; i++) {
        const unsigned char *d = head + 4 + 4 * i;
        x->dims[i] = (int64_t)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]);
        /* Each factor is below 2^32, so checking before each product is enough. */
        if (x->dims[i] > 0 && bytes > MAXBYTES / x->dims[i]) huge = 1;
        else bytes *= x->dims[i];
    }
    char ds[16 * NL_IDX_MAXDIM];
    nl_idx_dims_str(x, ds, sizeof ds);
    if (huge)
        return nl_err(NL_EFORMAT, "%s: header says %d dimensions of sizes %s: more data than any IDX file holds", path,
                      ndim, ds);
    x->count = bytes / (int64_t)esize;

    int64_t cap = bytes < FIRSTCAP ? bytes : FIRSTCAP, have = 0;
    unsigned char *buf = nl_malloc(cap ? (size_t)cap : 1);
    if (!buf) return NL_ENOMEM;
    for (;;) {
        rc = read_some(gz, path, buf + have, cap - have, &got, &cut);
        have += got;
        if (rc < 0 || have < cap || cap == bytes) break;
        int64_t ncap = cap * 2 < bytes ? cap * 2 : bytes;
        unsigned char *nb = nl_realloc(buf, (size_t)ncap);
        if (!nb) {
            rc = NL_ENOMEM;
            break;
        }
        buf = nb;
        cap = ncap;
    }
    if (rc == 0 && have < bytes)
        rc = nl_err(NL_EFORMAT, "%s: truncated: expected %lld bytes of data, got %lld%s", path, (long long)bytes,
                    (long long)have, cut ? " (gzip stream cut short)" : "");
    if (rc == 0) {
        /* Anything after the data means the header and the file disagree. */
        unsigned char extra[4096];
        int64_t more = 0;
        do {
            rc = read_some(gz, path, extra, sizeof extra, &got, &cut);
            more += got;
        } while (rc == 0 && got == (int64_t)sizeof extra);
        if (rc == 0 && more > 0)
            rc = nl_err(NL_EFORMAT, "%s: header says %d dimension%s of sizes %s (%lld bytes of data) but the file holds %lld",
                        path, ndim, ndim == 1 ? "" : "s", ds, (long long)bytes, (long long)(bytes + more));
        else if (rc == 0 && cut)
            rc = nl_err(NL_EFORMAT, "%s: truncated gzip stream (unexpected end of file after the data)", path);
    }
    if (rc < 0) {
        nl_free(buf);
        return rc;
    }
    swap_elems(buf, x->count, esize);
    x->data = buf;
    return 0;
}

int nl_idx_load(const char *path, nl_idx **out)
{
    *out = NULL;
    gzFile gz;
    int rc = nl_gzfile_open(path, GZBUF, &gz);
    if (rc < 0) return rc;
    nl_idx *x = nl_calloc(1, sizeof *x);
    if (!x) {
        gzclose(gz);
        return NL_ENOMEM;
    }
    rc = load_gz(gz, path, x);
    gzclose(gz);
    if (rc < 0) {
        nl_free(x);
        return rc;
    }
    *out = x;
    return 0;
}

int nl_idx_write(const char *path, nl_idx_type type, int ndim, const int64_t *dims, const void *data, int gzip)
{
    size_t esize = nl_idx_type_size(type);
    if (!esize) return nl_err(NL_EINVAL, "unknown IDX element type 0x%02x", (unsigned)type);
    if (ndim < 1 || ndim > NL_IDX_MAXDIM)
        return nl_err(NL_EINVAL, "an IDX array has 1 to %d dimensions, not %d", NL_IDX_MAXDIM, ndim);
    int64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || dims[i] > (int64_t)UINT32_MAX)
            return nl_err(NL_EINVAL, "IDX dimension %d has size %lld, outside 0..4294967295", i, (long long)dims[i]);
        count *= dims[i];
    }
    unsigned char head[4 + 4 * NL_IDX_MAXDIM] = { 0, 0, (unsigned char)type, (unsigned char)ndim };
    for (int i = 0; i < ndim; i++) {
        uint32_t d = (uint32_t)dims[i];
        unsigned char *p = head + 4 + 4 * i;
        p[0] = (unsigned char)(d >> 24);
        p[1] = (unsigned char)(d >> 16);
        p[2] = (unsigned char)(d >> 8);
        p[3] = (unsigned char)d;
    }
    /* "T" makes zlib write the bytes as they are: one code path for both. */
    gzFile gz = gzopen(path, gzip ? "wb9" : "wbT");
    if (!gz) return nl_err(NL_EIO, "cannot create '%s': %s", path, errno ? strerror(errno) : "out of memory");
    int ok = gzwrite(gz, head, (unsigned)(4 + 4 * ndim)) == 4 + 4 * ndim;
    unsigned char tmp[4096];
    const unsigned char *src = data;
    int64_t per = (int64_t)(sizeof tmp / esize);
    for (int64_t k = 0; ok && k < count; k += per) {
        int64_t m = count - k < per ? count - k : per;
        memcpy(tmp, src + k * (int64_t)esize, (size_t)(m * (int64_t)esize));
        swap_elems(tmp, m, esize);
        ok = gzwrite(gz, tmp, (unsigned)(m * (int64_t)esize)) == (int)(m * (int64_t)esize);
    }
    int zerr = 0;
    const char *m = ok ? "" : gzmsg(gz, &zerr);
    char why[256];
    snprintf(why, sizeof why, "%s", zerr == Z_ERRNO ? strerror(errno) : m);
    if (gzclose(gz) != Z_OK && ok) {
        ok = 0;
        snprintf(why, sizeof why, "%s", strerror(errno));
    }
    if (!ok) return nl_err(NL_EIO, "cannot write '%s': %s", path, why);
    return 0;
}
