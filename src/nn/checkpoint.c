/* SPDX-License-Identifier: GPL-3.0-or-later */
/* checkpoint.c - the checkpoint file (format in checkpoint.h). Saving streams
 * records into a temporary file while two CRC32s (zlib) run over the bytes,
 * then syncs and renames it into place. Loading reads the whole file, checks
 * the CRCs, indexes the records, checks every name and shape against the
 * live objects, and only then copies values in, so a failed load changes
 * nothing. Byte order is fixed (little-endian) by encoding each number byte
 * by byte, so files move between machines. */
#include "nn/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"

enum {
    REC_PARAM = 1,
    REC_OPTIM = 2,
    REC_OSTATE = 3,
    REC_RNG = 4,
    HEADER = 16,  /* magic, version, record count */
    TRAILER = 12, /* end magic, file CRC */
    RECNAME_MAX = 256,
    CHUNK = 1024  /* floats encoded per write */
};

static const char MAGIC[8] = { 'N', 'L', 'C', 'K', 'P', 'T', 0, 0 };
static const char ENDMAGIC[8] = { 'N', 'L', 'C', 'K', 'E', 'N', 'D', 0 };

/* ------------------------------------------------------------ extras */

static nl_ckpt_value *extra_slot(nl_ckpt_extra *e, const char *name, int add)
{
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->v[i].name, name) == 0) return &e->v[i];
    if (!add) return NULL;
    if (e->n >= NL_CKPT_MAXEXTRA) {
        nl_err(NL_ERANGE, "checkpoint values: no room for '%s' (at most %d values)", name,
               NL_CKPT_MAXEXTRA);
        return NULL;
    }
    nl_ckpt_value *v = &e->v[e->n++];
    memset(v, 0, sizeof *v);
    strcpy(v->name, name);
    return v;
}

static int extra_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) >= NL_CKPT_NAMEMAX)
        return nl_err(NL_EINVAL, "checkpoint values: name must have 1 to %d bytes",
                      NL_CKPT_NAMEMAX - 1);
    return 0;
}

int nl_ckpt_extra_set_int(nl_ckpt_extra *e, const char *name, int64_t v)
{
    int rc = extra_name_ok(name);
    if (rc) return rc;
    nl_ckpt_value *s = extra_slot(e, name, 1);
    if (!s) return NL_ERANGE;
    s->type = NL_CKPT_INT;
    s->i = v;
    s->r = (double)v;
    s->s[0] = 0;
    return 0;
}

int nl_ckpt_extra_set_real(nl_ckpt_extra *e, const char *name, double v)
{
    int rc = extra_name_ok(name);
    if (rc) return rc;
    nl_ckpt_value *s = extra_slot(e, name, 1);
    if (!s) return NL_ERANGE;
    s->type = NL_CKPT_REAL;
    s->i = 0;
    s->r = v;
    s->s[0] = 0;
    return 0;
}

int nl_ckpt_extra_set_str(nl_ckpt_extra *e, const char *name, const char *v)
{
    int rc = extra_name_ok(name);
    if (rc) return rc;
    if (!v || strlen(v) >= NL_CKPT_STRMAX)
        return nl_err(NL_EINVAL, "checkpoint values: string '%s' must have at most %d bytes", name,
                      NL_CKPT_STRMAX - 1);
    nl_ckpt_value *s = extra_slot(e, name, 1);
    if (!s) return NL_ERANGE;
    s->type = NL_CKPT_STR;
    s->i = 0;
    s->r = 0;
    strcpy(s->s, v);
    return 0;
}

static const char *type_name(nl_ckpt_type t)
{
    return t == NL_CKPT_INT ? "an integer" : t == NL_CKPT_REAL ? "a real" : "a string";
}

static int extra_get(const nl_ckpt_extra *e, const char *name, nl_ckpt_type want,
                     const nl_ckpt_value **out)
{
    const nl_ckpt_value *v = name ? extra_slot((nl_ckpt_extra *)e, name, 0) : NULL;
    if (!v) return nl_err(NL_ENOTFOUND, "no value '%s'", name ? name : "(null)");
    if (v->type != want && !(want == NL_CKPT_REAL && v->type == NL_CKPT_INT))
        return nl_err(NL_EINVAL, "value '%s' is %s, not %s", name, type_name(v->type),
                      type_name(want));
    *out = v;
    return 0;
}

int nl_ckpt_extra_get_int(const nl_ckpt_extra *e, const char *name, int64_t *v)
{
    const nl_ckpt_value *s;
    int rc = extra_get(e, name, NL_CKPT_INT, &s);
    if (!rc) *v = s->i;
    return rc;
}

int nl_ckpt_extra_get_real(const nl_ckpt_extra *e, const char *name, double *v)
{
    const nl_ckpt_value *s;
    int rc = extra_get(e, name, NL_CKPT_REAL, &s);
    if (!rc) *v = s->r;
    return rc;
}

int nl_ckpt_extra_get_str(const nl_ckpt_extra *e, const char *name, const char **v)
{
    const nl_ckpt_value *s;
    int rc = extra_get(e, name, NL_CKPT_STR, &s);
    if (!rc) *v = s->s;
    return rc;
}

/* ------------------------------------------------------------ encoding */

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *b)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)b[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_f64(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static uLong crc_bytes(uLong crc, const unsigned char *p, size_t n)
{
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

/* ------------------------------------------------------------ writer */

typedef struct writer {
    FILE *f;
    uLong fcrc, rcrc;
    int err; /* errno of the first failed write, 0 while all is well */
} writer;

static void w_bytes(writer *w, const void *p, size_t n)
{
    if (w->err || n == 0) return;
    if (fwrite(p, 1, n, w->f) != n) {
        w->err = errno ? errno : EIO;
        return;
    }
    w->fcrc = crc_bytes(w->fcrc, p, n);
    w->rcrc = crc_bytes(w->rcrc, p, n);
}

static void w_u32(writer *w, uint32_t v)
{
    unsigned char b[4];
    put_u32(b, v);
    w_bytes(w, b, 4);
}

static void w_u64(writer *w, uint64_t v)
{
    unsigned char b[8];
    put_u64(b, v);
    w_bytes(w, b, 8);
}

static void w_f64(writer *w, double d) { w_u64(w, f64_bits(d)); }

static void rec_begin(writer *w, uint32_t type, const char *name, uint64_t paylen)
{
    size_t nl = strlen(name);
    w->rcrc = crc32(0L, Z_NULL, 0);
    w_u32(w, type);
    w_u32(w, (uint32_t)nl);
    w_bytes(w, name, nl);
    w_u64(w, paylen);
}

static void rec_end(writer *w) { w_u32(w, (uint32_t)w->rcrc); }

static uint64_t tensor_paylen(const nl_tensor *t)
{
    return 4 + 8 * (uint64_t)t->ndim + 4 * (uint64_t)nl_tensor_numel(t);
}

/* A tensor record; t may have any strides (a contiguous copy is made when
 * needed, which is the only way this can fail besides I/O). */
static int w_tensor(writer *w, uint32_t type, const char *name, const nl_tensor *t)
{
    nl_tensor *c;
    int rc = nl_tensor_contiguous(&c, t);
    if (rc) return rc;
    rec_begin(w, type, name, tensor_paylen(t));
    w_u32(w, (uint32_t)t->ndim);
    for (int d = 0; d < t->ndim; d++) w_u64(w, (uint64_t)t->shape[d]);
    const float *x = nl_tensor_data(c);
    int64_t n = nl_tensor_numel(c);
    unsigned char buf[4 * CHUNK];
    for (int64_t i = 0; i < n; i += CHUNK) {
        int64_t k = n - i < CHUNK ? n - i : CHUNK;
        for (int64_t j = 0; j < k; j++) {
            uint32_t u;
            memcpy(&u, &x[i + j], 4);
            put_u32(buf + 4 * j, u);
        }
        w_bytes(w, buf, (size_t)(4 * k));
    }
    nl_tensor_free(c);
    rec_end(w);
    return 0;
}

static void state_name(char *buf, size_t n, const char *param, const char *state)
{
    snprintf(buf, n, "%s:%s", param, state);
}

static int write_all(writer *w, const nl_param *params, int nparams, const nl_optim *opt,
                     const nl_rng *rngs, int nrng, const nl_ckpt_extra *extra)
{
    int no = opt ? nl_optim_nparams(opt) : 0, ns = opt ? nl_optim_nstate(opt) : 0;
    int nextra = extra ? extra->n : 0;
    uint64_t count = (uint64_t)nparams + (opt ? 1 + (uint64_t)no * (uint64_t)ns : 0) +
                     (uint64_t)nrng + (uint64_t)nextra;
    unsigned char head[HEADER];
    memcpy(head, MAGIC, 8);
    put_u32(head + 8, NL_CKPT_VERSION);
    put_u32(head + 12, (uint32_t)count);
    w_bytes(w, head, HEADER);

    int rc;
    for (int i = 0; i < nparams; i++)
        if ((rc = w_tensor(w, REC_PARAM, params[i].name, params[i].w))) return rc;
    if (opt) {
        const nl_optim_kind *k = nl_optim_kind_of(opt);
        const nl_optim_opts *o = nl_optim_options(opt);
        size_t kl = strlen(k->name);
        rec_begin(w, REC_OPTIM, "optimiser", 4 + kl + 8 + 7 * 8 + 3 * 4);
        w_u32(w, (uint32_t)kl);
        w_bytes(w, k->name, kl);
        w_u64(w, (uint64_t)nl_optim_steps(opt));
        w_f64(w, o->lr);
        w_f64(w, o->momentum);
        w_f64(w, o->dampening);
        w_f64(w, o->weight_decay);
        w_f64(w, o->beta1);
        w_f64(w, o->beta2);
        w_f64(w, o->eps);
        w_u32(w, (uint32_t)o->nesterov);
        w_u32(w, (uint32_t)no);
        w_u32(w, (uint32_t)ns);
        rec_end(w);
        char name[RECNAME_MAX];
        for (int i = 0; i < no; i++)
            for (int j = 0; j < ns; j++) {
                state_name(name, sizeof name, nl_optim_param(opt, i)->name, k->state_names[j]);
                if ((rc = w_tensor(w, REC_OSTATE, name, nl_optim_state(opt, i, j)))) return rc;
            }
    }
    for (int r = 0; r < nrng; r++) {
        char name[32];
        snprintf(name, sizeof name, "rng.%d", r);
        rec_begin(w, REC_RNG, name, 4 + 32 + 8 + 4);
        w_u32(w, (uint32_t)r);
        for (int k = 0; k < 4; k++) w_u64(w, rngs[r].s[k]);
        w_f64(w, rngs[r].spare);
        w_u32(w, (uint32_t)rngs[r].has_spare);
        rec_end(w);
    }
    for (int i = 0; i < nextra; i++) {
        const nl_ckpt_value *v = &extra->v[i];
        if (v->type == NL_CKPT_STR) {
            size_t sl = strlen(v->s);
            rec_begin(w, NL_CKPT_STR, v->name, 4 + sl);
            w_u32(w, (uint32_t)sl);
            w_bytes(w, v->s, sl);
        } else {
            rec_begin(w, (uint32_t)v->type, v->name, 8);
            if (v->type == NL_CKPT_INT)
                w_u64(w, (uint64_t)v->i);
            else
                w_f64(w, v->r);
        }
        rec_end(w);
    }
    w_bytes(w, ENDMAGIC, 8);
    w_u32(w, (uint32_t)w->fcrc);
    return 0;
}

static int check_save_args(const char *path, const nl_param *params, int nparams,
                           const nl_optim *opt, const nl_rng *rngs, int nrng,
                           const nl_ckpt_extra *extra)
{
    if (nparams < 0 || (nparams > 0 && !params) || nrng < 0 || (nrng > 0 && !rngs))
        return nl_err(NL_EINVAL, "checkpoint %s: bad param or rng array", path);
    for (int i = 0; i < nparams; i++) {
        if (!params[i].w)
            return nl_err(NL_EINVAL, "checkpoint %s: param '%s' has no value", path, params[i].name);
        for (int j = 0; j < i; j++)
            if (strcmp(params[i].name, params[j].name) == 0)
                return nl_err(NL_EINVAL, "checkpoint %s: duplicate param '%s'", path, params[i].name);
    }
    if (opt)
        for (int i = 0; i < nl_optim_nparams(opt); i++)
            for (int j = 0; j < i; j++)
                if (strcmp(nl_optim_param(opt, i)->name, nl_optim_param(opt, j)->name) == 0)
                    return nl_err(NL_EINVAL, "checkpoint %s: duplicate optimiser param '%s'", path,
                                  nl_optim_param(opt, i)->name);
    if (extra && (extra->n < 0 || extra->n > NL_CKPT_MAXEXTRA))
        return nl_err(NL_EINVAL, "checkpoint %s: bad value set (%d values)", path, extra->n);
    return 0;
}

/* Make the rename itself durable; a failure here loses nothing already
 * written, so it is not reported. */
static void sync_dir(const char *path)
{
    char *dir = nl_malloc(strlen(path) + 2);
    if (!dir) return;
    strcpy(dir, path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    nl_free(dir);
}

int nl_ckpt_save(const char *path, const nl_param *params, int nparams, const nl_optim *opt,
                 const nl_rng *rngs, int nrng, const nl_ckpt_extra *extra)
{
    if (!path || !*path) return nl_err(NL_EINVAL, "checkpoint: empty path");
    int rc = check_save_args(path, params, nparams, opt, rngs, nrng, extra);
    if (rc) return rc;
    size_t tl = strlen(path) + 32;
    char *tmp = nl_malloc(tl);
    if (!tmp) return NL_ENOMEM;
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());

    writer w = { .f = fopen(tmp, "wb"), .fcrc = crc32(0L, Z_NULL, 0) };
    if (!w.f) {
        rc = nl_err(NL_EIO, "checkpoint %s: cannot write: %s", path, strerror(errno));
        nl_free(tmp);
        return rc;
    }
    rc = write_all(&w, params, nparams, opt, rngs, nrng, extra);
    if (!rc && !w.err && fflush(w.f) != 0) w.err = errno ? errno : EIO;
    if (!rc && !w.err && fsync(fileno(w.f)) != 0) w.err = errno;
    if (fclose(w.f) != 0 && !rc && !w.err) w.err = errno ? errno : EIO;
    if (!rc && !w.err && rename(tmp, path) != 0) w.err = errno;
    if (!rc && w.err) rc = nl_err(NL_EIO, "checkpoint %s: cannot write: %s", path, strerror(w.err));
    if (rc)
        remove(tmp);
    else
        sync_dir(path);
    nl_free(tmp);
    return rc;
}

/* ------------------------------------------------------------ reader */

typedef struct record {
    uint32_t type;
    const char *name; /* not NUL-terminated */
    uint32_t namelen;
    const unsigned char *pay;
    uint64_t paylen;
    /* decoded tensor header (param and state records) */
    int ndim;
    int64_t shape[NL_TENSOR_MAXDIM];
    int used;
} record;

typedef struct reader {
    const char *path;
    unsigned char *buf;
    size_t size;
    record *rec;
    uint32_t nrec;
    int peek; /* nl_ckpt_read_extra: check the file, match nothing live */
} reader;

static int ferr(const reader *r, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int ferr(const reader *r, int code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nl_err(code, "checkpoint %s: %s", r->path, msg);
}

static int name_is(const record *rc, const char *name)
{
    return strlen(name) == rc->namelen && memcmp(rc->name, name, rc->namelen) == 0;
}

static int read_file(reader *r)
{
    FILE *f = fopen(r->path, "rb");
    if (!f) return nl_err(NL_EIO, "checkpoint %s: cannot open: %s", r->path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return nl_err(NL_EIO, "checkpoint %s: cannot open: %s", r->path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return nl_err(NL_EIO, "checkpoint %s: cannot open: not a regular file", r->path);
    }
    r->size = (size_t)st.st_size;
    r->buf = nl_malloc(r->size ? r->size : 1);
    if (!r->buf) {
        fclose(f);
        return NL_ENOMEM;
    }
    size_t got = fread(r->buf, 1, r->size, f);
    int e = errno;
    fclose(f);
    if (got != r->size)
        return nl_err(NL_EIO, "checkpoint %s: cannot read: %s", r->path,
                      got < r->size && e ? strerror(e) : "short read");
    return 0;
}

/* Walk the records between the header and the trailer, failing at the first
 * one that overruns or whose CRC does not match; with `index` set, fill
 * r->rec as well. */
static int walk(reader *r, uint32_t count, int index)
{
    size_t pos = HEADER, end = r->size - TRAILER;
    for (uint32_t k = 0; k < count; k++) {
        unsigned rn = k + 1;
        size_t start = pos;
        if (end - pos < 8) return ferr(r, NL_EFORMAT, "corrupt record %u (bad length)", rn);
        uint32_t type = get_u32(r->buf + pos), nl = get_u32(r->buf + pos + 4);
        pos += 8;
        if (nl > end - pos || end - pos - nl < 8)
            return ferr(r, NL_EFORMAT, "corrupt record %u (bad length)", rn);
        const char *name = (const char *)r->buf + pos;
        pos += nl;
        uint64_t pl = get_u64(r->buf + pos);
        pos += 8;
        if (pl > end - pos || end - pos - pl < 4)
            return ferr(r, NL_EFORMAT, "corrupt record %u (bad length)", rn);
        const unsigned char *pay = r->buf + pos;
        pos += pl;
        uLong c = crc_bytes(crc32(0L, Z_NULL, 0), r->buf + start, pos - start);
        if ((uint32_t)c != get_u32(r->buf + pos))
            return ferr(r, NL_EFORMAT, "corrupt record %u (CRC mismatch)", rn);
        pos += 4;
        if (index) {
            record *rc = &r->rec[k];
            memset(rc, 0, sizeof *rc);
            rc->type = type;
            rc->name = name;
            rc->namelen = nl;
            rc->pay = pay;
            rc->paylen = pl;
        }
    }
    if (pos != end) return ferr(r, NL_EFORMAT, "corrupt file (record count mismatch)");
    return 0;
}

static void fmt_shape(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t used = 0;
    buf[0] = 0;
    for (int d = 0; d < ndim && used < n; d++) {
        int k = snprintf(buf + used, n - used, "%s%lld", d ? "," : "[", (long long)shape[d]);
        if (k < 0) break;
        used += (size_t)k;
    }
    if (used < n) snprintf(buf + used, n - used, "%s]", ndim ? "" : "[");
}

/* Decode and check the header of a tensor record. */
static int parse_tensor(reader *r, record *rc, unsigned rn)
{
    if (rc->paylen < 4) return ferr(r, NL_EFORMAT, "corrupt record %u (bad tensor)", rn);
    uint32_t nd = get_u32(rc->pay);
    if (nd < 1 || nd > NL_TENSOR_MAXDIM || rc->paylen < 4 + 8 * (uint64_t)nd)
        return ferr(r, NL_EFORMAT, "corrupt record %u (bad tensor)", rn);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t s = get_u64(rc->pay + 4 + 8 * d);
        if (s > ((uint64_t)1 << 40) || (s && numel > ((uint64_t)1 << 40) / s))
            return ferr(r, NL_EFORMAT, "corrupt record %u (bad tensor)", rn);
        numel *= s;
        rc->shape[d] = (int64_t)s;
    }
    rc->ndim = (int)nd;
    if (rc->paylen != 4 + 8 * (uint64_t)nd + 4 * numel)
        return ferr(r, NL_EFORMAT, "corrupt record %u (bad tensor)", rn);
    return 0;
}

typedef struct optim_rec {
    char kind[32];
    int64_t steps;
    double lr;
    uint32_t nparams, nstate;
} optim_rec;

static int parse_optim(reader *r, const record *rc, unsigned rn, optim_rec *o)
{
    if (rc->paylen < 4) return ferr(r, NL_EFORMAT, "corrupt record %u (bad optimiser)", rn);
    uint32_t kl = get_u32(rc->pay);
    if (kl >= sizeof o->kind || rc->paylen != 4 + (uint64_t)kl + 8 + 7 * 8 + 3 * 4)
        return ferr(r, NL_EFORMAT, "corrupt record %u (bad optimiser)", rn);
    const unsigned char *p = rc->pay + 4;
    memcpy(o->kind, p, kl);
    o->kind[kl] = 0;
    p += kl;
    o->steps = (int64_t)get_u64(p);
    o->lr = bits_f64(get_u64(p + 8));
    p += 8 + 7 * 8 + 4;
    o->nparams = get_u32(p);
    o->nstate = get_u32(p + 4);
    if (o->steps < 0 || !(o->lr >= 0))
        return ferr(r, NL_EFORMAT, "corrupt record %u (bad optimiser)", rn);
    return 0;
}

/* Check every record's payload and that names are unique within a type. */
static int check_records(reader *r)
{
    for (uint32_t k = 0; k < r->nrec; k++) {
        record *rc = &r->rec[k];
        unsigned rn = k + 1;
        int rcode = 0;
        switch (rc->type) {
        case REC_PARAM:
        case REC_OSTATE:
            if (rc->namelen >= RECNAME_MAX)
                return ferr(r, NL_EFORMAT, "corrupt record %u (name too long)", rn);
            rcode = parse_tensor(r, rc, rn);
            break;
        case REC_OPTIM: {
            optim_rec o;
            rcode = parse_optim(r, rc, rn, &o);
            break;
        }
        case REC_RNG:
            if (rc->paylen != 48 || get_u32(rc->pay) >= r->nrec)
                return ferr(r, NL_EFORMAT, "corrupt record %u (bad rng)", rn);
            break;
        case NL_CKPT_INT:
        case NL_CKPT_REAL:
        case NL_CKPT_STR:
            if (rc->namelen == 0 || rc->namelen >= NL_CKPT_NAMEMAX)
                return ferr(r, NL_EFORMAT, "corrupt record %u (bad value name)", rn);
            if (rc->type != NL_CKPT_STR ? rc->paylen != 8
                                        : rc->paylen < 4 || get_u32(rc->pay) >= NL_CKPT_STRMAX ||
                                              rc->paylen != 4 + (uint64_t)get_u32(rc->pay))
                return ferr(r, NL_EFORMAT, "corrupt record %u (bad value)", rn);
            break;
        default:
            return ferr(r, NL_EFORMAT, "corrupt record %u (unknown type %u)", rn,
                        (unsigned)rc->type);
        }
        if (rcode) return rcode;
        int group = rc->type >= NL_CKPT_INT ? NL_CKPT_INT : (int)rc->type;
        for (uint32_t j = 0; j < k; j++) {
            const record *o = &r->rec[j];
            int og = o->type >= NL_CKPT_INT ? NL_CKPT_INT : (int)o->type;
            if (og == group && o->namelen == rc->namelen && memcmp(o->name, rc->name, rc->namelen) == 0)
                return ferr(r, NL_EINVAL, "duplicate record '%.*s'", (int)rc->namelen, rc->name);
        }
    }
    return 0;
}

static record *find(reader *r, uint32_t type, const char *name)
{
    for (uint32_t k = 0; k < r->nrec; k++)
        if (r->rec[k].type == type && name_is(&r->rec[k], name)) return &r->rec[k];
    return NULL;
}

/* The file's tensor must match t's shape; what names it for the message. */
static int match_shape(reader *r, const record *rc, const nl_tensor *t, const char *what)
{
    int same = rc->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = rc->shape[d] == t->shape[d];
    if (same) return 0;
    char a[128], b[128];
    fmt_shape(a, sizeof a, rc->ndim, rc->shape);
    fmt_shape(b, sizeof b, t->ndim, t->shape);
    return ferr(r, NL_ESHAPE, "%s has shape %s, network expects %s", what, a, b);
}

static void copy_tensor(const record *rc, nl_tensor *t)
{
    float *x = nl_tensor_data(t);
    int64_t n = nl_tensor_numel(t);
    const unsigned char *p = rc->pay + 4 + 8 * (size_t)rc->ndim;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = get_u32(p + 4 * i);
        memcpy(&x[i], &u, 4);
    }
}

/* Phase one: everything the live objects need is present and fits. */
static int match_live(reader *r, nl_param *params, int nparams, nl_optim *opt, int nrng,
                      optim_rec *orec)
{
    char what[RECNAME_MAX + 32];
    int rc;
    if (r->peek) return 0;
    for (int i = 0; i < nparams; i++) {
        const nl_param *p = &params[i];
        if (!p->w || !nl_tensor_is_contiguous(p->w))
            return ferr(r, NL_EINVAL, "param '%s' has no contiguous value", p->name);
        for (int j = 0; j < i; j++)
            if (strcmp(p->name, params[j].name) == 0)
                return ferr(r, NL_EINVAL, "duplicate param '%s' in the network", p->name);
        record *f = find(r, REC_PARAM, p->name);
        if (!f) return ferr(r, NL_ENOTFOUND, "missing param '%s'", p->name);
        snprintf(what, sizeof what, "param '%s'", p->name);
        if ((rc = match_shape(r, f, p->w, what))) return rc;
        f->used = 1;
    }
    for (uint32_t k = 0; k < r->nrec; k++)
        if (r->rec[k].type == REC_PARAM && !r->rec[k].used)
            return ferr(r, NL_ENOTFOUND, "param '%.*s' is not in the network",
                        (int)r->rec[k].namelen, r->rec[k].name);

    if (opt) {
        record *f = NULL;
        for (uint32_t k = 0; k < r->nrec && !f; k++)
            if (r->rec[k].type == REC_OPTIM) f = &r->rec[k];
        if (!f) return ferr(r, NL_ENOTFOUND, "no optimiser state");
        if ((rc = parse_optim(r, f, (unsigned)(f - r->rec) + 1, orec))) return rc;
        const nl_optim_kind *k = nl_optim_kind_of(opt);
        if (strcmp(orec->kind, k->name) != 0)
            return ferr(r, NL_EINVAL, "optimiser is %s, checkpoint holds %s", k->name, orec->kind);
        if (orec->nparams != (uint32_t)nl_optim_nparams(opt))
            return ferr(r, NL_EINVAL, "optimiser state covers %u params, optimiser has %d",
                        (unsigned)orec->nparams, nl_optim_nparams(opt));
        if (orec->nstate != (uint32_t)nl_optim_nstate(opt))
            return ferr(r, NL_EINVAL, "optimiser state has %u tensors per param, optimiser has %d",
                        (unsigned)orec->nstate, nl_optim_nstate(opt));
        for (int i = 0; i < nl_optim_nparams(opt); i++)
            for (int j = 0; j < nl_optim_nstate(opt); j++) {
                state_name(what, sizeof what, nl_optim_param(opt, i)->name, k->state_names[j]);
                record *s = find(r, REC_OSTATE, what);
                if (!s) return ferr(r, NL_ENOTFOUND, "missing optimiser state '%s'", what);
                char label[sizeof what + 32];
                snprintf(label, sizeof label, "optimiser state '%s'", what);
                if ((rc = match_shape(r, s, nl_optim_state(opt, i, j), label))) return rc;
            }
    }

    int have = 0;
    for (uint32_t k = 0; k < r->nrec; k++) have += r->rec[k].type == REC_RNG;
    if (have != nrng) return ferr(r, NL_EINVAL, "holds %d rng states, caller expects %d", have, nrng);
    for (int i = 0; i < nrng; i++) {
        int found = 0;
        for (uint32_t k = 0; k < r->nrec; k++)
            found |= r->rec[k].type == REC_RNG && get_u32(r->rec[k].pay) == (uint32_t)i;
        if (!found) return ferr(r, NL_EFORMAT, "rng state %d is missing", i);
    }
    return 0;
}

/* Phase two: copy. Nothing here can fail. */
static void apply(reader *r, nl_param *params, int nparams, nl_optim *opt, const optim_rec *orec,
                  nl_rng *rngs, int nrng, nl_ckpt_extra *extra_out)
{
    char what[RECNAME_MAX + 32];
    for (int i = 0; i < nparams; i++) copy_tensor(find(r, REC_PARAM, params[i].name), params[i].w);
    if (opt) {
        const nl_optim_kind *k = nl_optim_kind_of(opt);
        for (int i = 0; i < nl_optim_nparams(opt); i++)
            for (int j = 0; j < nl_optim_nstate(opt); j++) {
                state_name(what, sizeof what, nl_optim_param(opt, i)->name, k->state_names[j]);
                copy_tensor(find(r, REC_OSTATE, what), nl_optim_state(opt, i, j));
            }
        nl_optim_set_steps(opt, orec->steps);
        nl_optim_set_lr(opt, orec->lr);
    }
    for (uint32_t k = 0; k < r->nrec; k++) {
        const record *rc = &r->rec[k];
        if (rc->type == REC_RNG) {
            uint32_t i = get_u32(rc->pay);
            if (i >= (uint32_t)nrng) continue;
            for (int j = 0; j < 4; j++) rngs[i].s[j] = get_u64(rc->pay + 4 + 8 * j);
            rngs[i].spare = bits_f64(get_u64(rc->pay + 36));
            rngs[i].has_spare = (int)get_u32(rc->pay + 44);
        }
    }
    if (extra_out) {
        extra_out->n = 0;
        for (uint32_t k = 0; k < r->nrec; k++) {
            const record *rc = &r->rec[k];
            if (rc->type < NL_CKPT_INT || extra_out->n >= NL_CKPT_MAXEXTRA) continue;
            nl_ckpt_value *v = &extra_out->v[extra_out->n++];
            memset(v, 0, sizeof *v);
            memcpy(v->name, rc->name, rc->namelen);
            v->type = (nl_ckpt_type)rc->type;
            if (rc->type == NL_CKPT_INT) {
                v->i = (int64_t)get_u64(rc->pay);
                v->r = (double)v->i;
            } else if (rc->type == NL_CKPT_REAL) {
                v->r = bits_f64(get_u64(rc->pay));
            } else {
                memcpy(v->s, rc->pay + 4, get_u32(rc->pay));
            }
        }
    }
}

static int load(reader *r, nl_param *params, int nparams, nl_optim *opt, nl_rng *rngs, int nrng,
                nl_ckpt_extra *extra_out)
{
    int rc = read_file(r);
    if (rc) return rc;
    size_t m = r->size < 8 ? r->size : 8;
    if (memcmp(r->buf, MAGIC, m) != 0) return ferr(r, NL_EFORMAT, "not a naslab checkpoint");
    if (r->size < HEADER + TRAILER) return ferr(r, NL_EFORMAT, "truncated");
    uint32_t version = get_u32(r->buf + 8);
    if (version != NL_CKPT_VERSION)
        return ferr(r, NL_EFORMAT, "version %u is not supported (this naslab reads version %d)",
                    (unsigned)version, NL_CKPT_VERSION);
    if (memcmp(r->buf + r->size - TRAILER, ENDMAGIC, 8) != 0) return ferr(r, NL_EFORMAT, "truncated");
    uint32_t count = get_u32(r->buf + 12);
    uLong c = crc_bytes(crc32(0L, Z_NULL, 0), r->buf, r->size - 4);
    if ((uint32_t)c != get_u32(r->buf + r->size - 4)) {
        /* Name the damaged record when one is; otherwise the header or the
         * trailer took the hit. */
        if ((rc = walk(r, count, 0))) return rc;
        return ferr(r, NL_EFORMAT, "corrupt file (CRC mismatch)");
    }
    /* Each record takes at least 20 bytes, which bounds a sane count. */
    if (count > (r->size - HEADER - TRAILER) / 20)
        return ferr(r, NL_EFORMAT, "corrupt file (record count mismatch)");
    r->nrec = count;
    r->rec = nl_calloc(count ? count : 1, sizeof *r->rec);
    if (!r->rec) return NL_ENOMEM;
    if ((rc = walk(r, count, 1))) return rc;
    if ((rc = check_records(r))) return rc;
    optim_rec orec;
    memset(&orec, 0, sizeof orec);
    if ((rc = match_live(r, params, nparams, opt, nrng, &orec))) return rc;
    apply(r, params, nparams, opt, &orec, rngs, nrng, extra_out);
    return 0;
}

int nl_ckpt_load(const char *path, nl_param *params, int nparams, nl_optim *opt, nl_rng *rngs,
                 int nrng, nl_ckpt_extra *extra_out)
{
    if (!path || !*path) return nl_err(NL_EINVAL, "checkpoint: empty path");
    if (nparams < 0 || (nparams > 0 && !params) || nrng < 0 || (nrng > 0 && !rngs))
        return nl_err(NL_EINVAL, "checkpoint %s: bad param or rng array", path);
    reader r = { .path = path };
    int rc = load(&r, params, nparams, opt, rngs, nrng, extra_out);
    nl_free(r.rec);
    nl_free(r.buf);
    return rc;
}

int nl_ckpt_read_extra(const char *path, nl_ckpt_extra *extra_out)
{
    if (!path || !*path) return nl_err(NL_EINVAL, "checkpoint: empty path");
    if (!extra_out) return nl_err(NL_EINVAL, "checkpoint %s: no place for the values", path);
    reader r = { .path = path, .peek = 1 };
    int rc = load(&r, NULL, 0, NULL, NULL, 0, extra_out);
    nl_free(r.rec);
    nl_free(r.buf);
    return rc;
}
