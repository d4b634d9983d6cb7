/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench.c - tabular benchmarks (see bench.h). Metrics live in one dense
 * row-major double matrix; the arch -> row index is a direct table over the
 * space's own enumeration index when the space has one and no official hash
 * (nb201: 15,625 entries), otherwise an open-addressing hash table keyed by
 * the official hash (nb101, so isomorphic specs meet) or the canonical text.
 * A load either returns a complete benchmark or frees everything it built. */
#include "data/bench.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

enum { KEYCAP = 4096, DIRECT_MAX = 1 << 24, SHOWMAX = 120 };

struct nl_bench {
    char *path;
    const nl_space *space;
    size_t n, cap;
    int nm;
    char **names;    /* nm names, in namebuf */
    char *namebuf;
    double *vals;    /* n x nm, row-major */
    nl_arch *archs;
    int64_t *idx;    /* NULL without an idx column */

    /* Direct index: direct[space index] = row, or -1. */
    int32_t *direct;
    size_t ndirect;
    /* Hash index: slots hold row + 1 (0 = empty); keyhash[row] caches the
     * hash of the row's key so growing never recomputes keys. */
    uint32_t *slots;
    size_t nslots;
    uint64_t *keyhash;

    nl_bench_cost_info cost;
    int cost_m; /* metric column of NL_BENCH_COST_COLUMN */
};

/* ------------------------------------------------------------ accessors */

size_t nl_bench_size(const nl_bench *b) { return b->n; }
int nl_bench_nmetrics(const nl_bench *b) { return b->nm; }
const nl_space *nl_bench_space(const nl_bench *b) { return b->space; }
const char *nl_bench_path(const nl_bench *b) { return b->path; }
const char *nl_bench_metric_name(const nl_bench *b, int m) { return b->names[m]; }
const nl_arch *nl_bench_arch(const nl_bench *b, size_t r) { return &b->archs[r]; }
double nl_bench_value(const nl_bench *b, size_t r, int m) { return b->vals[r * (size_t)b->nm + (size_t)m]; }
int64_t nl_bench_index(const nl_bench *b, size_t r) { return b->idx ? b->idx[r] : (int64_t)r; }
int nl_bench_has_index(const nl_bench *b) { return b->idx != NULL; }
void nl_bench_costinfo(const nl_bench *b, nl_bench_cost_info *out) { *out = b->cost; }

size_t nl_bench_bytes(const nl_bench *b)
{
    size_t s = sizeof *b + strlen(b->path) + 1;
    s += (size_t)b->nm * sizeof *b->names;
    for (int m = 0; m < b->nm; m++) s += strlen(b->names[m]) + 1;
    s += b->cap * ((size_t)b->nm * sizeof(double) + sizeof(nl_arch));
    if (b->idx) s += b->cap * sizeof(int64_t);
    if (b->keyhash) s += b->cap * sizeof(uint64_t);
    s += b->ndirect * sizeof(int32_t) + b->nslots * sizeof(uint32_t);
    return s;
}

void nl_bench_free(nl_bench *b)
{
    if (!b) return;
    nl_free(b->path);
    nl_free(b->names);
    nl_free(b->namebuf);
    nl_free(b->vals);
    nl_free(b->archs);
    nl_free(b->idx);
    nl_free(b->direct);
    nl_free(b->slots);
    nl_free(b->keyhash);
    nl_free(b);
}

/* ------------------------------------------------------------ index */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The lookup key of a: the official hash when the space has one, else its
 * canonical text. */
static int arch_key(const nl_space *sp, const nl_arch *a, char *buf)
{
    if (sp->hash) return sp->hash(a, buf);
    int rc = sp->format(a, buf, KEYCAP);
    return rc < 0 ? rc : 0;
}

/* Row holding arch a, or -1; *slot (hash mode) gets the slot where a would go. */
static int find_row(const nl_bench *b, const nl_arch *a, int64_t *dindex, size_t *slot, uint64_t *hash)
{
    if (b->direct) {
        int64_t i;
        if (b->space->index(a, &i) < 0) return -2;
        if (i < 0 || (size_t)i >= b->ndirect) return -1;
        *dindex = i;
        return b->direct[i];
    }
    char key[KEYCAP], other[KEYCAP];
    if (arch_key(b->space, a, key) < 0) return -2;
    uint64_t h = fnv1a(key);
    *hash = h;
    size_t mask = b->nslots - 1;
    for (size_t s = (size_t)h & mask;; s = (s + 1) & mask) {
        uint32_t v = b->slots[s];
        if (v == 0) {
            *slot = s;
            return -1;
        }
        size_t r = v - 1;
        if (b->keyhash[r] == h) {
            if (arch_key(b->space, &b->archs[r], other) < 0) return -2;
            if (strcmp(key, other) == 0) return (int)r;
        }
    }
}

static int grow_slots(nl_bench *b)
{
    size_t ns = b->nslots ? 2 * b->nslots : 1024;
    uint32_t *sl = nl_calloc(ns, sizeof *sl);
    if (!sl) return NL_ENOMEM;
    for (size_t r = 0; r < b->n; r++) {
        size_t s = (size_t)b->keyhash[r] & (ns - 1);
        while (sl[s]) s = (s + 1) & (ns - 1);
        sl[s] = (uint32_t)(r + 1);
    }
    nl_free(b->slots);
    b->slots = sl;
    b->nslots = ns;
    return 0;
}

static void format_arch(const nl_space *sp, const nl_arch *a, char *buf, size_t cap)
{
    if (sp->format(a, buf, cap) < 0) snprintf(buf, cap, "(unprintable %s arch)", sp->name);
}

int nl_bench_find(const nl_bench *b, const nl_arch *a, size_t *row)
{
    if (a->space != b->space)
        return nl_err(NL_EINVAL, "an %s arch cannot be looked up in an %s benchmark",
                      a->space ? a->space->name : "(null)", b->space->name);
    int64_t di;
    size_t slot;
    uint64_t h;
    int r = find_row(b, a, &di, &slot, &h);
    if (r == -2) return NL_EINVAL;
    if (r < 0) {
        char text[KEYCAP];
        format_arch(b->space, a, text, sizeof text);
        return nl_err(NL_ENOTFOUND, "arch '%s' is not in the benchmark '%s'", text, b->path);
    }
    *row = (size_t)r;
    return 0;
}

int nl_bench_metric(const nl_bench *b, const char *name, int *m)
{
    for (int i = 0; i < b->nm; i++)
        if (strcmp(b->names[i], name) == 0) {
            *m = i;
            return 0;
        }
    char list[768];
    size_t p = 0;
    list[0] = 0;
    for (int i = 0; i < b->nm && p < sizeof list; i++)
        p += (size_t)snprintf(list + p, sizeof list - p, "%s%s", i ? ", " : "", b->names[i]);
    return nl_err(NL_ENOTFOUND, "unknown metric '%s' (known: %s)", name, b->nm ? list : "none");
}

int nl_bench_query(const nl_bench *b, const nl_arch *a, const char *name, double *out)
{
    int m = 0, rc;
    size_t r = 0;
    if ((rc = nl_bench_metric(b, name, &m)) < 0 || (rc = nl_bench_find(b, a, &r)) < 0) return rc;
    *out = nl_bench_value(b, r, m);
    return 0;
}

int nl_bench_best(const nl_bench *b, int m, int maximize, size_t *row)
{
    size_t best = (size_t)-1;
    double bv = 0;
    for (size_t r = 0; r < b->n; r++) {
        double v = nl_bench_value(b, r, m);
        if (isnan(v)) continue;
        if (best == (size_t)-1 || (maximize ? v > bv : v < bv)) {
            best = r;
            bv = v;
        }
    }
    if (best == (size_t)-1) return nl_err(NL_ENOTFOUND, "metric '%s' has no value in '%s' (all NaN)", b->names[m], b->path);
    *row = best;
    return 0;
}

int nl_bench_cost(const nl_bench *b, size_t r, double *seconds)
{
    switch (b->cost.model) {
    case NL_BENCH_COST_COLUMN: *seconds = nl_bench_value(b, r, b->cost_m); return 0;
    case NL_BENCH_COST_FIXED: *seconds = b->cost.seconds; return 0;
    case NL_BENCH_COST_FLOPS: {
        int64_t macs = 0;
        nl_net_opts o = { 0 };
        int rc = b->space->cost(&b->archs[r], &o, NULL, &macs);
        if (rc < 0) return rc;
        *seconds = 3.0 * b->cost.epochs * b->cost.images * (double)macs / b->cost.macs_per_second;
        return 0;
    }
    }
    return nl_err(NL_EINVAL, "unknown cost model");
}

/* ------------------------------------------------------------ loading */

/* Loader state: the benchmark being built plus what only loading needs. */
typedef struct loader {
    nl_bench *b;
    nl_csv *csv;
    const char *name;     /* file name for messages */
    int ncols;
    int col_arch, col_adj, col_ops, col_idx;
    int *metric_col;      /* nm csv column numbers */
    char **colname;       /* ncols header names (metric names or the fixed ones) */
    long *lines;          /* line of each row, for duplicate messages */
} loader;

/* A field shortened for messages. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);
    if (n < SHOWMAX || cap < SHOWMAX + 4) return s;
    snprintf(buf, cap, "%.*s...", SHOWMAX - 3, s);
    return buf;
}

static int row_err(loader *L, int code, int col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int row_err(loader *L, int code, int col, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nl_err(code, "%s:%ld: column '%s': %s", L->name, nl_csv_line(L->csv), L->colname[col], msg);
}

/* Exact fast path for plain decimals ("94.373333", "-0.5", "12"): with at
 * most 15 significant digits the digits form an exact double m and 10^k
 * (k <= 22) is exact too, so the one division m / 10^k is correctly rounded
 * and equals what strtod returns. Anything else (exponents, nan, long
 * mantissas) returns 0 and goes to strtod. */
static int fast_decimal(const char *s, size_t len, double *out)
{
    static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
    const char *p = s, *e = s + len;
    int neg = 0, digits = 0, frac = -1;
    uint64_t m = 0;
    if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
    if (p == e) return 0;
    for (; p < e; p++) {
        if (*p >= '0' && *p <= '9') {
            if (m || *p != '0') digits++;
            if (digits > 15) return 0;
            m = 10 * m + (uint64_t)(*p - '0');
            if (frac >= 0) frac++;
        } else if (*p == '.' && frac < 0) {
            frac = 0;
        } else {
            return 0;
        }
    }
    if (frac == 0 && len == 1 + (size_t)neg) return 0; /* a lone "." */
    if (frac > 22) return 0;
    double v = (double)m / p10[frac > 0 ? frac : 0];
    *out = neg ? -v : v;
    return 1;
}

static int parse_number(loader *L, int col, double *out)
{
    size_t len;
    const char *s = nl_csv_field(L->csv, col, &len);
    if (len == 0) return row_err(L, NL_EFORMAT, col, "empty value (write nan for a missing one)");
    if (fast_decimal(s, len, out)) return 0;
    char *end, tmp[128];
    errno = 0;
    double v = isspace((unsigned char)s[0]) ? 0 : strtod(s, &end);
    if (isspace((unsigned char)s[0]) || end != s + len)
        return row_err(L, NL_EFORMAT, col, "'%s' is not a number", shown(s, tmp, sizeof tmp));
    if (errno == ERANGE && isinf(v)) return row_err(L, NL_EFORMAT, col, "'%s' is out of range", shown(s, tmp, sizeof tmp));
    *out = v;
    return 0;
}

static int parse_int(loader *L, int col, int64_t *out)
{
    size_t len;
    const char *s = nl_csv_field(L->csv, col, &len);
    char *end, tmp[128];
    errno = 0;
    long long v = len && (isdigit((unsigned char)s[0]) || s[0] == '-') ? strtoll(s, &end, 10) : 0;
    if (!len || !(isdigit((unsigned char)s[0]) || s[0] == '-') || end != s + len)
        return row_err(L, NL_EFORMAT, col, "'%s' is not an integer", shown(s, tmp, sizeof tmp));
    if (errno == ERANGE) return row_err(L, NL_EFORMAT, col, "'%s' is out of range", shown(s, tmp, sizeof tmp));
    *out = v;
    return 0;
}

/* nb101 columns: adj49 (49 digits 0/1) and ops ('|' or ',' separated). */
static int parse_spec(loader *L, nl_arch *a)
{
    size_t len;
    const char *adj = nl_csv_field(L->csv, L->col_adj, &len);
    int matrix[49];
    char tmp[128];
    if (len != 49)
        return row_err(L, NL_EFORMAT, L->col_adj, "'%s' is not 49 digits 0/1 (a 7x7 matrix, row-major)",
                       shown(adj, tmp, sizeof tmp));
    for (int i = 0; i < 49; i++) {
        if (adj[i] != '0' && adj[i] != '1')
            return row_err(L, NL_EFORMAT, L->col_adj, "'%s' is not 49 digits 0/1 (a 7x7 matrix, row-major)",
                           shown(adj, tmp, sizeof tmp));
        matrix[i] = adj[i] - '0';
    }
    const char *ops = nl_csv_field(L->csv, L->col_ops, &len);
    char opbuf[256];
    const char *names[8];
    int n = 0;
    if (len >= sizeof opbuf) return row_err(L, NL_EFORMAT, L->col_ops, "'%s' is too long", shown(ops, tmp, sizeof tmp));
    memcpy(opbuf, ops, len + 1);
    for (char *p = opbuf;;) {
        char *sep = strpbrk(p, "|,");
        if (n == 8) break;
        names[n++] = p;
        if (!sep) break;
        *sep = 0;
        p = sep + 1;
    }
    if (n < 2 || n > 7)
        return row_err(L, NL_EFORMAT, L->col_ops, "'%s' does not name 2 to 7 vertex ops separated by '|' or ','",
                       shown(ops, tmp, sizeof tmp));
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 7; j++)
            if ((i >= n || j >= n) && matrix[7 * i + j])
                return row_err(L, NL_EFORMAT, L->col_adj, "entry (%d,%d) is 1 but 'ops' names only %d vertices", i, j, n);
    int m[49];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) m[n * i + j] = matrix[7 * i + j];
    int rc = L->b->space->from_spec(n, m, names, a);
    if (rc < 0) {
        char what[600];
        snprintf(what, sizeof what, "%s", nl_errmsg());
        return row_err(L, NL_EFORMAT, L->col_ops, "not a valid %s spec: %s", L->b->space->name, what);
    }
    return 0;
}

static int parse_arch(loader *L, nl_arch *a)
{
    if (L->col_adj >= 0) return parse_spec(L, a);
    const char *s = nl_csv_field(L->csv, L->col_arch, NULL);
    int rc = L->b->space->parse(s, a);
    if (rc < 0) {
        char what[600], tmp[128];
        snprintf(what, sizeof what, "%s", nl_errmsg());
        return row_err(L, NL_EFORMAT, L->col_arch, "'%s' is not an %s arch: %s", shown(s, tmp, sizeof tmp),
                       L->b->space->name, what);
    }
    return 0;
}

static int infer_space(loader *L, const nl_bench_opts *o)
{
    nl_bench *b = L->b;
    if (o && o->space) {
        b->space = o->space;
    } else if (L->col_adj >= 0) {
        int rc = nl_space_find("nb101", &b->space);
        if (rc < 0) return rc;
    } else {
        const char *s = nl_csv_field(L->csv, L->col_arch, NULL);
        char tmp[128];
        if (s[0] != '|')
            return row_err(L, NL_EFORMAT, L->col_arch, "cannot tell the search space from '%s' (give the space in the options)",
                           shown(s, tmp, sizeof tmp));
        int rc = nl_space_find("nb201", &b->space);
        if (rc < 0) return rc;
    }
    if (L->col_adj >= 0 && !b->space->from_spec)
        return nl_err(NL_EFORMAT, "%s:1: columns 'adj49' and 'ops' need a space built from a matrix and ops (nb101), not %s",
                      L->name, b->space->name);
    if (b->space->index && !b->space->hash && b->space->size <= DIRECT_MAX) {
        if (b->space->prepare) {
            int rc = b->space->prepare(NULL, NULL);
            if (rc < 0) return rc;
        }
        b->ndirect = (size_t)b->space->size;
        b->direct = nl_malloc(b->ndirect * sizeof *b->direct);
        if (!b->direct) return NL_ENOMEM;
        memset(b->direct, 0xff, b->ndirect * sizeof *b->direct);
    } else {
        int rc = grow_slots(b);
        if (rc < 0) return rc;
    }
    return 0;
}

static int reserve(loader *L)
{
    nl_bench *b = L->b;
    if (b->n < b->cap) return 0;
    size_t cap = b->cap ? 2 * b->cap : 1024;
    if (cap > INT32_MAX) return nl_err(NL_ERANGE, "%s: more than %d rows", L->name, INT32_MAX / 2);
#define GROW(p, sz)                                              \
    do {                                                         \
        void *q_ = nl_realloc((p), cap * (sz));                  \
        if (!q_) return NL_ENOMEM;                               \
        (p) = q_;                                                \
    } while (0)
    GROW(b->archs, sizeof(nl_arch));
    GROW(L->lines, sizeof(long));
    if (b->nm) GROW(b->vals, (size_t)b->nm * sizeof(double));
    if (L->col_idx >= 0) GROW(b->idx, sizeof(int64_t));
    if (!b->direct) GROW(b->keyhash, sizeof(uint64_t));
#undef GROW
    b->cap = cap;
    return 0;
}

static int add_row(loader *L)
{
    nl_bench *b = L->b;
    int rc = reserve(L);
    if (rc < 0) return rc;
    size_t r = b->n;
    nl_arch *a = &b->archs[r];
    if ((rc = parse_arch(L, a)) < 0) return rc;
    int64_t di = 0;
    size_t slot = 0;
    uint64_t h = 0;
    int dup = find_row(b, a, &di, &slot, &h);
    if (dup == -2) {
        char what[700];
        snprintf(what, sizeof what, "%s", nl_errmsg());
        return row_err(L, NL_EFORMAT, L->col_arch >= 0 ? L->col_arch : L->col_ops, "%s", what);
    }
    if (dup >= 0) {
        char text[KEYCAP];
        format_arch(b->space, a, text, sizeof text);
        return row_err(L, NL_EFORMAT, L->col_arch >= 0 ? L->col_arch : L->col_ops, "duplicate arch '%s' (first on line %ld)",
                       text, L->lines[dup]);
    }
    for (int m = 0; m < b->nm; m++)
        if ((rc = parse_number(L, L->metric_col[m], &b->vals[r * (size_t)b->nm + (size_t)m])) < 0) return rc;
    if (L->col_idx >= 0 && (rc = parse_int(L, L->col_idx, &b->idx[r])) < 0) return rc;
    L->lines[r] = nl_csv_line(L->csv);
    if (b->direct) {
        b->direct[di] = (int32_t)r;
    } else {
        b->keyhash[r] = h;
        b->slots[slot] = (uint32_t)(r + 1);
        b->n++;
        if (2 * b->n > b->nslots) return grow_slots(b);
        return 0;
    }
    b->n++;
    return 0;
}

/* Give back the growth slack (up to half of each array) once the row count
 * is final; a failed shrink keeps the larger block, which is still valid. */
static void shrink(nl_bench *b)
{
#define SHRINK(p, sz)                                      \
    do {                                                   \
        void *q_ = (p) ? realloc((p), b->n * (sz)) : NULL; \
        if (q_) (p) = q_;                                  \
    } while (0)
    SHRINK(b->archs, sizeof(nl_arch));
    if (b->nm) SHRINK(b->vals, (size_t)b->nm * sizeof(double));
    SHRINK(b->idx, sizeof(int64_t));
    SHRINK(b->keyhash, sizeof(uint64_t));
#undef SHRINK
    b->cap = b->n;
}

static int read_header(loader *L)
{
    nl_bench *b = L->b;
    int rc = nl_csv_next(L->csv);
    if (rc < 0) return rc;
    if (rc == 0) return nl_err(NL_EFORMAT, "%s: empty file (expected a header line)", L->name);
    int nf = nl_csv_nfields(L->csv);
    L->ncols = nf;
    L->colname = nl_calloc((size_t)nf, sizeof *L->colname);
    L->metric_col = nl_calloc((size_t)nf, sizeof *L->metric_col);
    b->names = nl_calloc((size_t)nf, sizeof *b->names);
    size_t total = 0;
    for (int i = 0; i < nf; i++) total += strlen(nl_csv_field(L->csv, i, NULL)) + 1;
    b->namebuf = nl_malloc(total);
    if (!L->colname || !L->metric_col || !b->names || !b->namebuf) return NL_ENOMEM;
    char *p = b->namebuf;
    for (int i = 0; i < nf; i++) {
        size_t len;
        const char *s = nl_csv_field(L->csv, i, &len);
        if (len == 0) return nl_err(NL_EFORMAT, "%s:1: column %d: empty column name", L->name, i + 1);
        for (int j = 0; j < i; j++)
            if (strcmp(L->colname[j], s) == 0)
                return nl_err(NL_EFORMAT, "%s:1: column %d: duplicate column name '%s'", L->name, i + 1, s);
        memcpy(p, s, len + 1);
        L->colname[i] = p;
        p += len + 1;
        if (strcmp(s, "arch") == 0) L->col_arch = i;
        else if (strcmp(s, "adj49") == 0) L->col_adj = i;
        else if (strcmp(s, "ops") == 0) L->col_ops = i;
        else if (strcmp(s, "idx") == 0) L->col_idx = i;
        else {
            L->metric_col[b->nm] = i;
            b->names[b->nm++] = L->colname[i];
        }
    }
    if (L->col_arch >= 0 && L->col_adj >= 0)
        return nl_err(NL_EFORMAT, "%s:1: both an 'arch' and an 'adj49' column: keep one", L->name);
    if (L->col_adj >= 0 && L->col_ops < 0) return nl_err(NL_EFORMAT, "%s:1: missing column 'ops' (needed with 'adj49')", L->name);
    if (L->col_ops >= 0 && L->col_adj < 0 && L->col_arch < 0)
        return nl_err(NL_EFORMAT, "%s:1: missing column 'adj49' (needed with 'ops')", L->name);
    if (L->col_arch < 0 && L->col_adj < 0)
        return nl_err(NL_EFORMAT, "%s:1: missing column 'arch' (or 'adj49' and 'ops')", L->name);
    /* 'ops' is reserved for nb101 specs; as a metric it would fail on its
     * first row with a less helpful message. */
    if (L->col_arch >= 0 && L->col_ops >= 0)
        return nl_err(NL_EFORMAT, "%s:1: column 'ops' goes with 'adj49', not with 'arch'", L->name);
    return 0;
}

static int choose_cost(loader *L, const nl_bench_opts *o)
{
    nl_bench *b = L->b;
    nl_bench_cost_info *c = &b->cost;
    static const char *const auto_cols[] = { "train_seconds", "train_time", "time" };
    int m = 0;
    if (o && o->cost_column) {
        if (nl_bench_metric(b, o->cost_column, &m) < 0)
            return nl_err_context(NL_EFORMAT, "%s: cost column", L->name);
        c->model = NL_BENCH_COST_COLUMN;
        c->column = b->names[m];
        b->cost_m = m;
        return 0;
    }
    if (o && o->query_seconds > 0) {
        c->model = NL_BENCH_COST_FIXED;
        c->seconds = o->query_seconds;
        return 0;
    }
    for (size_t i = 0; i < sizeof auto_cols / sizeof auto_cols[0]; i++)
        for (m = 0; m < b->nm; m++)
            if (strcmp(b->names[m], auto_cols[i]) == 0) {
                c->model = NL_BENCH_COST_COLUMN;
                c->column = b->names[m];
                b->cost_m = m;
                return 0;
            }
    if (b->space && b->space->cost) {
        c->model = NL_BENCH_COST_FLOPS;
        int nb101 = strcmp(b->space->name, "nb101") == 0;
        c->epochs = nb101 ? 108 : 200;
        c->images = nb101 ? 40000 : 50000;
        c->macs_per_second = o && o->macs_per_second > 0 ? o->macs_per_second : NL_BENCH_MACS_PER_SECOND;
        return 0;
    }
    /* A space that cannot count its FLOPs gets a flat second per query, so
     * simulated clocks still advance with the number of queries. */
    c->model = NL_BENCH_COST_FIXED;
    c->seconds = 1.0;
    return 0;
}

static int load(loader *L, const nl_bench_opts *o)
{
    nl_bench *b = L->b;
    int rc = read_header(L);
    if (rc < 0) return rc;
    long blank = 0;
    while ((rc = nl_csv_next(L->csv)) == 1) {
        int nf = nl_csv_nfields(L->csv);
        size_t len;
        nl_csv_field(L->csv, 0, &len);
        if (nf == 1 && len == 0 && L->ncols > 1) {
            if (!blank) blank = nl_csv_line(L->csv);
            continue;
        }
        if (blank) return nl_err(NL_EFORMAT, "%s:%ld: blank line inside the table", L->name, blank);
        if (nf < L->ncols)
            return nl_err(NL_EFORMAT, "%s:%ld: column '%s': missing (the line has %d of %d fields)", L->name,
                          nl_csv_line(L->csv), L->colname[nf], nf, L->ncols);
        if (nf > L->ncols)
            return nl_err(NL_EFORMAT, "%s:%ld: field %d: more fields than the header's %d columns", L->name,
                          nl_csv_line(L->csv), L->ncols + 1, L->ncols);
        if (!b->space && (rc = infer_space(L, o)) < 0) return rc;
        if ((rc = add_row(L)) < 0) return rc;
    }
    if (rc < 0) return rc;
    if (b->n == 0) return nl_err(NL_EFORMAT, "%s: no data rows after the header", L->name);
    shrink(b);
    return choose_cost(L, o);
}

int nl_bench_read(nl_csv *csv, const char *path, const nl_bench_opts *o, nl_bench **out)
{
    *out = NULL;
    if (o && o->cost_column && o->query_seconds > 0)
        return nl_err(NL_EINVAL, "give either a cost column or a fixed query cost, not both");
    loader L = { .csv = csv, .name = nl_csv_name(csv), .col_arch = -1, .col_adj = -1, .col_ops = -1, .col_idx = -1 };
    L.b = nl_calloc(1, sizeof *L.b);
    if (!L.b) return NL_ENOMEM;
    size_t n = strlen(path) + 1;
    L.b->path = nl_malloc(n);
    if (L.b->path) memcpy(L.b->path, path, n);
    int rc = L.b->path ? load(&L, o) : NL_ENOMEM;
    nl_free(L.lines);
    nl_free(L.metric_col);
    nl_free(L.colname);
    if (rc < 0) {
        nl_bench_free(L.b);
        return rc;
    }
    *out = L.b;
    return 0;
}

int nl_bench_load(const char *path, const nl_bench_opts *o, nl_bench **out)
{
    *out = NULL;
    nl_csv *csv;
    int rc = nl_csv_open(path, &csv);
    if (rc < 0) return rc;
    rc = nl_bench_read(csv, path, o, out);
    nl_csv_close(csv);
    return rc;
}
