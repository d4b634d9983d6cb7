/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ensemble.c - the "ensemble" predictor: several member predictors (by
 * default renas, mlp and gbdt) fitted on the same data, each with its own
 * defaults overridden by the options given to the ensemble (seed and threads
 * always; any other option only when set, see below), scoring an arch by the
 * mean over members of its z-scored member score (s - mu) / sd. mu and sd
 * are the mean and spread of the member's scores on the training archs,
 * fixed at fit: members speak in different units (MSE members in accuracy,
 * pairwise ones in unscaled logits), and z-scoring with fixed statistics
 * puts them on one scale while keeping an arch's score independent of the
 * other archs predicted with it and keeping the members' resolution
 * (normalising ranks would need a reference set and flatten the gaps
 * between scores).
 *
 * An ensemble's options are "unset" at their ensemble defaults (NULL
 * strings; 0 epochs, hidden, trees, depth, min_leaf; -1 batch, layers and
 * canonical; NaN lr, weight_decay, subsample), and a member takes every set
 * one. Options are read when the ensemble is created.
 *
 * Save writes one file, atomically (tmp + fsync + rename), holding every
 * member's own checkpoint file; little-endian, version 1:
 *   "NLENSMB\0" | u32 version | u32 space-name length | space name |
 *   u32 members | per member: u32 kind length | kind | f64 mu | f64 sd |
 *   u64 length | the member's checkpoint bytes |
 *   "NLENEND\0" | u32 CRC32 of every byte before it.
 * Load checks the whole file, loads each member through a temporary file
 * (TMPDIR or /tmp) into a new member created with this ensemble's options,
 * and swaps the members in only when all of them loaded. Uses zlib's crc32. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"
#include "predict/predictor.h"

enum { FILE_VERSION = 1 };
static const char MAGIC[8] = "NLENSMB", TRAILER[8] = "NLENEND";

typedef struct ensemble {
    nl_predictor head;
    int m;
    nl_predictor *mem[NL_PRED_MAXMEMBERS];
    double mu[NL_PRED_MAXMEMBERS], sd[NL_PRED_MAXMEMBERS];
    int cur; /* the member being fitted (progress) */
} ensemble;

static const char *const DEFAULT_MEMBERS[] = { "renas", "mlp", "gbdt", NULL };

static void ens_defaults(nl_pred_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->batch = -1;
    o->layers = -1;
    o->canonical = -1;
    o->lr = NAN;
    o->weight_decay = NAN;
    o->subsample = NAN;
    for (int i = 0; DEFAULT_MEMBERS[i]; i++) o->members[i] = DEFAULT_MEMBERS[i];
}

/* The options of member kind k under ensemble options e. */
static void member_opts(const nl_predictor_kind *k, const nl_pred_opts *e, nl_pred_opts *o)
{
    k->defaults(o);
    o->seed = e->seed;
    o->threads = e->threads;
    if (e->encoding) o->encoding = e->encoding;
    if (e->loss) o->loss = e->loss;
    if (e->canonical >= 0) o->canonical = e->canonical;
    if (e->epochs > 0) o->epochs = e->epochs;
    if (e->batch >= 0) o->batch = e->batch;
    if (!isnan(e->lr)) o->lr = e->lr;
    if (!isnan(e->weight_decay)) o->weight_decay = e->weight_decay;
    if (e->hidden > 0) o->hidden = e->hidden;
    if (e->layers >= 0) o->layers = e->layers;
    if (e->trees > 0) o->trees = e->trees;
    if (e->depth > 0) o->depth = e->depth;
    if (e->min_leaf > 0) o->min_leaf = e->min_leaf;
    if (!isnan(e->subsample)) o->subsample = e->subsample;
    o->progress = NULL;
    o->progress_ud = NULL;
    memset(o->members, 0, sizeof o->members);
}

/* Resolve member names names[0..) (NULL-terminated, at most
 * NL_PRED_MAXMEMBERS) into kinds[0..*m). */
static int resolve(const char *const *names, const nl_predictor_kind **kinds, int *m)
{
    int n = 0;
    for (; n < NL_PRED_MAXMEMBERS && names[n]; n++) {
        const nl_predictor_kind *k;
        if (nl_predictor_kind_find(names[n], &k)) return nl_err_context(NL_EINVAL, "ensemble: members[%d]", n + 1);
        if (k == &nl_pred_ensemble)
            return nl_err(NL_EINVAL, "ensemble: members[%d]: an ensemble cannot be a member of an ensemble", n + 1);
        for (int j = 0; j < n; j++)
            if (kinds[j] == k) return nl_err(NL_EINVAL, "ensemble: members[%d]: '%s' is listed twice", n + 1, k->name);
        kinds[n] = k;
    }
    if (n == 0) return nl_err(NL_EINVAL, "ensemble: members lists no predictor");
    *m = n;
    return 0;
}

static void free_members(nl_predictor **mem, int m)
{
    for (int i = 0; i < m; i++) nl_predictor_free(mem[i]);
}

static void ens_free(nl_predictor *p)
{
    if (!p) return;
    ensemble *q = (ensemble *)p;
    free_members(q->mem, q->m);
    nl_free(q);
}

static int ens_create(nl_predictor **out, const nl_space *sp, const nl_pred_opts *o)
{
    *out = NULL;
    if (!sp) return nl_err(NL_EINVAL, "ensemble: no space given");
    const char *const *names = o->members[0] ? o->members : DEFAULT_MEMBERS;
    const nl_predictor_kind *kinds[NL_PRED_MAXMEMBERS];
    int m, rc = resolve(names, kinds, &m);
    if (rc) return rc;
    ensemble *q = nl_calloc(1, sizeof *q);
    if (!q) return NL_ENOMEM;
    q->head.kind = &nl_pred_ensemble;
    q->head.space = sp;
    q->head.opts = *o;
    q->head.opts.encoding = NULL; /* members keep their own (static) names */
    q->head.opts.loss = NULL;
    memset(q->head.opts.members, 0, sizeof q->head.opts.members);
    for (int i = 0; i < m; i++) {
        q->head.opts.members[i] = kinds[i]->name;
        nl_pred_opts mo;
        member_opts(kinds[i], o, &mo);
        if ((rc = kinds[i]->create(&q->mem[i], sp, &mo))) {
            rc = nl_err_context(rc, "ensemble");
            ens_free(&q->head);
            return rc;
        }
        q->m = i + 1;
    }
    *out = &q->head;
    return 0;
}

/* ------------------------------------------------------------ fit, predict */

static int check_archs(const nl_predictor *p, const nl_arch *archs, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (archs[i].space != p->space)
            return nl_err(NL_EINVAL, "ensemble: arch %lld belongs to space %s, not %s", (long long)i,
                          archs[i].space ? archs[i].space->name : "(none)", p->space->name);
    return 0;
}

/* Members report as themselves: `what` is the member's kind name. */
static int member_progress(void *ud, const nl_progress *pr)
{
    ensemble *q = ud;
    nl_progress r = *pr;
    r.what = q->mem[q->cur]->kind->name;
    return q->head.opts.progress(q->head.opts.progress_ud, &r);
}

static int ens_fit(nl_predictor *p, const nl_arch *archs, const double *y, int64_t n)
{
    ensemble *q = (ensemble *)p;
    if (n < 2) return nl_err(NL_EINVAL, "ensemble: fit needs at least 2 architectures (got %lld)", (long long)n);
    if (!archs || !y) return nl_err(NL_EINVAL, "ensemble: fit needs architectures and targets");
    for (int64_t i = 0; i < n; i++) {
        if (isnan(y[i])) return nl_err(NL_EINVAL, "ensemble: y[%lld] is NaN", (long long)i);
        if (isinf(y[i])) return nl_err(NL_EINVAL, "ensemble: y[%lld] is infinite", (long long)i);
    }
    int rc = check_archs(p, archs, n);
    if (rc) return rc;
    double *s = nl_malloc((size_t)n * sizeof *s);
    if (!s) return NL_ENOMEM;
    p->fitted = 0;
    for (int i = 0; i < q->m; i++) {
        nl_predictor *mp = q->mem[i];
        q->cur = i;
        mp->opts.progress = p->opts.progress ? member_progress : NULL;
        mp->opts.progress_ud = q;
        rc = mp->kind->fit(mp, archs, y, n);
        mp->opts.progress = NULL;
        mp->opts.progress_ud = NULL;
        if (!rc) rc = mp->kind->predict(mp, archs, n, s);
        if (rc) break;
        /* Mean and population spread of the member's training scores; a
         * constant member gets spread 1 and adds nothing to the ranking. */
        double mu = 0, v = 0;
        for (int64_t k = 0; k < n; k++) mu += s[k];
        mu /= (double)n;
        for (int64_t k = 0; k < n; k++) v += (s[k] - mu) * (s[k] - mu);
        const double sd = sqrt(v / (double)n);
        q->mu[i] = mu;
        q->sd[i] = sd > 0 && isfinite(sd) ? sd : 1.0;
    }
    nl_free(s);
    if (rc) return rc == NL_EINTR ? rc : nl_err_context(rc, "ensemble");
    p->fitted = 1;
    return 0;
}

static int ens_predict(nl_predictor *p, const nl_arch *archs, int64_t n, double *out)
{
    ensemble *q = (ensemble *)p;
    if (!p->fitted) return nl_err(NL_EINVAL, "ensemble: predict before fit");
    if (n < 0) return nl_err(NL_EINVAL, "ensemble: negative count %lld", (long long)n);
    if (n == 0) return 0;
    if (!archs || !out) return nl_err(NL_EINVAL, "ensemble: predict needs architectures and an output array");
    int rc = check_archs(p, archs, n);
    if (rc) return rc;
    double *s = nl_malloc((size_t)n * sizeof *s);
    if (!s) return NL_ENOMEM;
    for (int64_t k = 0; k < n; k++) out[k] = 0;
    for (int i = 0; i < q->m && !rc; i++) {
        if ((rc = q->mem[i]->kind->predict(q->mem[i], archs, n, s))) break;
        for (int64_t k = 0; k < n; k++) out[k] += (s[k] - q->mu[i]) / q->sd[i];
    }
    nl_free(s);
    if (rc) return rc == NL_EINTR ? rc : nl_err_context(rc, "ensemble");
    for (int64_t k = 0; k < n; k++) out[k] /= (double)q->m;
    return 0;
}

/* ------------------------------------------------------------ bytes */

typedef struct buf {
    unsigned char *d;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *d = nl_realloc(b->d, cap);
        if (!d) {
            b->oom = 1;
            return;
        }
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void put_u32(buf *b, uint32_t v)
{
    unsigned char c[4];
    for (int i = 0; i < 4; i++) c[i] = (unsigned char)(v >> (8 * i));
    put(b, c, 4);
}

static void put_u64(buf *b, uint64_t v)
{
    unsigned char c[8];
    for (int i = 0; i < 8; i++) c[i] = (unsigned char)(v >> (8 * i));
    put(b, c, 8);
}

static void put_f64(buf *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    put_u64(b, u);
}

static void put_str(buf *b, const char *s)
{
    put_u32(b, (uint32_t)strlen(s));
    put(b, s, strlen(s));
}

/* The whole file at path into *out (nl_malloc'ed), or NL_EIO naming it. */
static int slurp(const char *path, const char *shown, unsigned char **out, size_t *n)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return nl_err(NL_EIO, "ensemble: checkpoint %s: cannot open: %s", shown, strerror(errno));
    buf b = { 0 };
    unsigned char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) put(&b, chunk, k);
    int err = ferror(f);
    fclose(f);
    if (b.oom) {
        nl_free(b.d);
        return NL_ENOMEM;
    }
    if (err) {
        nl_free(b.d);
        return nl_err(NL_EIO, "ensemble: checkpoint %s: cannot read", shown);
    }
    *out = b.d;
    *n = b.n;
    return 0;
}

/* ------------------------------------------------------------ save */

static void sync_dir(const char *path)
{
    char *dir = nl_malloc(strlen(path) + 2);
    if (!dir) return;
    strcpy(dir, path);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    nl_free(dir);
}

static int ens_save(const nl_predictor *p, const char *path)
{
    const ensemble *q = (const ensemble *)p;
    if (!p->fitted) return nl_err(NL_EINVAL, "ensemble: save before fit");
    if (!path || !*path) return nl_err(NL_EINVAL, "ensemble: save needs a path");
    size_t tl = strlen(path) + 48;
    char *tmp = nl_malloc(tl), *mtmp = nl_malloc(tl);
    if (!tmp || !mtmp) {
        nl_free(tmp);
        nl_free(mtmp);
        return NL_ENOMEM;
    }
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    buf b = { 0 };
    put(&b, MAGIC, 8);
    put_u32(&b, FILE_VERSION);
    put_str(&b, p->space->name);
    put_u32(&b, (uint32_t)q->m);
    int rc = 0;
    for (int i = 0; i < q->m && !rc; i++) {
        /* Each member writes its own file beside the target; it is copied
         * in and removed. */
        snprintf(mtmp, tl, "%s.tmp.%ld.m%d", path, (long)getpid(), i + 1);
        const nl_predictor *mp = q->mem[i];
        if ((rc = mp->kind->save(mp, mtmp))) {
            rc = nl_err_context(rc, "ensemble");
            break;
        }
        unsigned char *d;
        size_t n;
        rc = slurp(mtmp, mtmp, &d, &n);
        remove(mtmp);
        if (rc) break;
        put_str(&b, mp->kind->name);
        put_f64(&b, q->mu[i]);
        put_f64(&b, q->sd[i]);
        put_u64(&b, (uint64_t)n);
        put(&b, d, n);
        nl_free(d);
    }
    if (!rc) {
        put(&b, TRAILER, 8);
        if (!b.oom) put_u32(&b, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b.d, (uInt)(b.n)));
        if (b.oom) rc = NL_ENOMEM;
    }
    if (!rc) {
        FILE *f = fopen(tmp, "wb");
        int err = 0;
        if (!f) err = errno;
        else {
            if (fwrite(b.d, 1, b.n, f) != b.n) err = errno ? errno : EIO;
            if (!err && fflush(f) != 0) err = errno ? errno : EIO;
            if (!err && fsync(fileno(f)) != 0) err = errno;
            if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
            if (!err && rename(tmp, path) != 0) err = errno;
            if (err) remove(tmp);
            else sync_dir(path);
        }
        if (err) rc = nl_err(NL_EIO, "ensemble: checkpoint %s: cannot write: %s", path, strerror(err));
    }
    nl_free(b.d);
    nl_free(tmp);
    nl_free(mtmp);
    return rc;
}

/* ------------------------------------------------------------ load */

typedef struct reader {
    const unsigned char *d;
    size_t n, at;
} reader;

static int get(reader *r, void *out, size_t n)
{
    if (r->n - r->at < n) return -1;
    memcpy(out, r->d + r->at, n);
    r->at += n;
    return 0;
}

static int get_u32(reader *r, uint32_t *v)
{
    unsigned char c[4];
    if (get(r, c, 4)) return -1;
    *v = 0;
    for (int i = 3; i >= 0; i--) *v = (*v << 8) | c[i];
    return 0;
}

static int get_u64(reader *r, uint64_t *v)
{
    unsigned char c[8];
    if (get(r, c, 8)) return -1;
    *v = 0;
    for (int i = 7; i >= 0; i--) *v = (*v << 8) | c[i];
    return 0;
}

static int get_f64(reader *r, double *d)
{
    uint64_t u;
    if (get_u64(r, &u)) return -1;
    memcpy(d, &u, 8);
    return 0;
}

/* A length-prefixed name of at most cap - 1 bytes, NUL-terminated. */
static int get_str(reader *r, char *s, size_t cap)
{
    uint32_t n;
    if (get_u32(r, &n) || n >= cap || get(r, s, n)) return -1;
    s[n] = 0;
    return 0;
}

/* Write member bytes to a temporary file and load them into mp; errors
 * name the ensemble file and the member instead of the temporary file. */
static int load_member(nl_predictor *mp, const unsigned char *d, size_t n, const char *path, int index)
{
    const char *dir = getenv("TMPDIR");
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s/naslab-ensemble-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp);
    if (fd < 0) return nl_err(NL_EIO, "ensemble: cannot create a temporary file in %s: %s", dir && *dir ? dir : "/tmp", strerror(errno));
    int err = 0;
    for (size_t off = 0; off < n && !err;) {
        ssize_t k = write(fd, d + off, n - off);
        if (k < 0 && errno != EINTR) err = errno;
        else if (k > 0) off += (size_t)k;
    }
    if (close(fd) != 0 && !err) err = errno;
    int rc = 0;
    if (err) rc = nl_err(NL_EIO, "ensemble: cannot write a temporary file %s: %s", tmp, strerror(err));
    else rc = mp->kind->load(mp, tmp);
    remove(tmp);
    if (rc && !err) {
        /* Replace the temporary file's name in the member's message. */
        char msg[1024], who[1200];
        snprintf(msg, sizeof msg, "%s", nl_errmsg());
        snprintf(who, sizeof who, "%s (member %d)", path, index);
        char *at = strstr(msg, tmp);
        if (at) {
            *at = 0;
            rc = nl_err(rc, "ensemble: %s%s%s", msg, who, at + strlen(tmp));
        } else {
            rc = nl_err_context(rc, "ensemble");
        }
    }
    return rc;
}

/* NL_EFORMAT "ensemble: checkpoint PATH: <why>". */
static int bad(const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int bad(const char *path, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return nl_err(NL_EFORMAT, "ensemble: checkpoint %s: %s", path, why);
}

static int ens_load(nl_predictor *p, const char *path)
{
    ensemble *q = (ensemble *)p;
    if (!path || !*path) return nl_err(NL_EINVAL, "ensemble: load needs a path");
    unsigned char *d;
    size_t n;
    int rc = slurp(path, path, &d, &n);
    if (rc) return rc;
    nl_predictor *mem[NL_PRED_MAXMEMBERS] = { 0 };
    double mu[NL_PRED_MAXMEMBERS], sd[NL_PRED_MAXMEMBERS];
    const nl_predictor_kind *kinds[NL_PRED_MAXMEMBERS];
    int m = 0;
    reader r = { d, n, 0 };
    char magic[8], space[64], kn[NL_PRED_MAXMEMBERS][64];
    uint32_t version, count;
    const char *names[NL_PRED_MAXMEMBERS + 1] = { 0 };
    const unsigned char *bytes[NL_PRED_MAXMEMBERS];
    uint64_t len[NL_PRED_MAXMEMBERS];
#define BAD(...)                       \
    do {                               \
        rc = bad(path, __VA_ARGS__);   \
        goto out;                      \
    } while (0)
    if (n < 8 || memcmp(d, MAGIC, 8) != 0) BAD("%s", "not a naslab ensemble");
    if (n < 8 + 4 + 8 + 4) BAD("%s", "truncated");
    {
        uint32_t stored = (uint32_t)d[n - 4] | (uint32_t)d[n - 3] << 8 | (uint32_t)d[n - 2] << 16 |
                          (uint32_t)d[n - 1] << 24;
        if (memcmp(d + n - 12, TRAILER, 8) != 0) BAD("%s", "truncated");
        if ((uint32_t)crc32(crc32(0L, Z_NULL, 0), d, (uInt)(n - 4)) != stored) BAD("%s", "corrupt file (CRC mismatch)");
    }
    r.n = n - 12;
    get(&r, magic, 8);
    if (get_u32(&r, &version)) BAD("%s", "truncated");
    if (version != FILE_VERSION) BAD("version %u is not supported (this naslab reads version %d)", version, FILE_VERSION);
    if (get_str(&r, space, sizeof space) || get_u32(&r, &count)) BAD("%s", "truncated");
    if (strcmp(space, p->space->name) != 0) {
        rc = nl_err(NL_EINVAL, "ensemble: checkpoint %s holds a predictor for space '%s', not '%s'", path, space,
                    p->space->name);
        goto out;
    }
    if (count < 1 || count > NL_PRED_MAXMEMBERS) BAD("%u members", count);
    for (uint32_t i = 0; i < count; i++) {
        if (get_str(&r, kn[i], sizeof kn[i]) || get_f64(&r, &mu[i]) || get_f64(&r, &sd[i]) || get_u64(&r, &len[i]) ||
            len[i] > r.n - r.at)
            BAD("%s", "truncated");
        if (!isfinite(mu[i]) || !(sd[i] > 0) || !isfinite(sd[i]))
            BAD("member %u has a bad normalisation (mu %g, sd %g)", i + 1, mu[i], sd[i]);
        bytes[i] = d + r.at;
        r.at += len[i];
        names[i] = kn[i];
    }
    if (r.at != r.n) BAD("%s", "trailing bytes after the members");
    if ((rc = resolve(names, kinds, &m))) {
        rc = nl_err(NL_EFORMAT, "ensemble: checkpoint %s: %s", path, nl_errmsg() + strlen("ensemble: "));
        m = 0;
        goto out;
    }
#undef BAD
    for (int i = 0; i < m; i++) {
        nl_pred_opts mo;
        member_opts(kinds[i], &p->opts, &mo);
        if ((rc = kinds[i]->create(&mem[i], p->space, &mo))) {
            rc = nl_err_context(rc, "ensemble");
            goto out;
        }
        if ((rc = load_member(mem[i], bytes[i], (size_t)len[i], path, i + 1))) goto out;
    }
    /* Everything loaded: adopt the file's members. */
    free_members(q->mem, q->m);
    memset(p->opts.members, 0, sizeof p->opts.members);
    for (int i = 0; i < m; i++) {
        q->mem[i] = mem[i];
        mem[i] = NULL;
        q->mu[i] = mu[i];
        q->sd[i] = sd[i];
        p->opts.members[i] = kinds[i]->name;
    }
    q->m = m;
    p->fitted = 1;
out:
    free_members(mem, m);
    nl_free(d);
    return rc;
}

const nl_predictor_kind nl_pred_ensemble = {
    .name = "ensemble",
    .title = "mean of the z-scored scores of several predictors (default renas, mlp, gbdt)",
    .defaults = ens_defaults,
    .create = ens_create,
    .fit = ens_fit,
    .predict = ens_predict,
    .save = ens_save,
    .load = ens_load,
    .free = ens_free,
};
