/* SPDX-License-Identifier: GPL-3.0-or-later */
/* chart.c - chart data, its derived statistics and three renderers: a text
 * grid (braille or ASCII), SVG and CSV (see chart.h). The statistics come
 * from core/stats and core/pareto; the drawing (nice tick steps, Bresenham
 * lines, braille dot packing, SVG text) is written here because no Debian C
 * library renders into a caller's cell grid or writes plain SVG without
 * pulling in a toolkit (libplot, cairo) that the workbench does not need. */
#include "plot/chart.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/pareto.h"
#include "core/stats.h"

/* ------------------------------------------------------------------ data */

typedef struct series {
    char *name;
    double *x, *y;
    size_t n, cap;
} series;

/* Values derived from the points, each valid while its version equals the
 * chart's (versions start at 1, so 0 means "never computed"). */
typedef struct cache {
    unsigned long v_all, v_rank, v_stats, v_pearson, v_front, v_median;
    double *ax, *ay; /* every point, series after series */
    size_t cap_ax, cap_ay;
    size_t *off; /* series s holds ax[off[s] .. off[s + 1]) */
    size_t cap_off;
    double *rx, *ry; /* RANK: average ranks of ax and of ay */
    size_t cap_rx, cap_ry;
    double tau, rho, r;
    double *pts; /* Pareto: the points as n x 2 rows */
    int64_t *idx;
    unsigned char *onfront;
    double *front; /* the front as pairs, sorted */
    size_t cap_pts, cap_idx, cap_on, cap_front;
    long nfront;
    double hv;
    double *mx, *my; /* the median curve */
    size_t cap_mx, cap_my;
    long nmed;
} cache;

struct nl_chart {
    nl_chart_kind kind;
    char *title, *xlabel, *ylabel;
    series *s;
    int ns, scap;
    int hint; /* the series used last, tried first */
    size_t npts;
    double last_y;
    int has_last;
    int logx, logy, xmin, ymax, median, has_ref;
    double refx, refy;
    unsigned long ver; /* bumped by every change the cache depends on */
    cache *k;
};

/* Grow *pp (an array of elem-sized items with capacity *cap) to hold need
 * items, doubling, so that appending is amortised O(1). */
static int reserve_(void *pp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / elem) return nl_err(NL_ENOMEM, "out of memory (%zu items)", need);
        nc *= 2;
    }
    void *p;
    memcpy(&p, pp, sizeof p);
    void *q = nl_realloc(p, nc * elem);
    if (!q) return NL_ENOMEM;
    memcpy(pp, &q, sizeof q);
    *cap = nc;
    return 0;
}
#define RESERVE(p, cap, need) reserve_(&(p), &(cap), (need), sizeof *(p))

static char *dupstr(const char *s)
{
    if (!s) s = "";
    size_t n = strlen(s) + 1;
    char *d = nl_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

nl_chart *nl_chart_new(nl_chart_kind kind, const char *title, const char *xlabel, const char *ylabel)
{
    if (kind != NL_CHART_LINE && kind != NL_CHART_SCATTER && kind != NL_CHART_RANK && kind != NL_CHART_PARETO) {
        nl_err(NL_EINVAL, "unknown chart kind %d", (int)kind);
        return NULL;
    }
    nl_chart *c = nl_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->kind = kind;
    c->xmin = c->ymax = 1;
    c->ver = 1;
    c->k = nl_calloc(1, sizeof *c->k);
    c->title = dupstr(title);
    c->xlabel = dupstr(xlabel);
    c->ylabel = dupstr(ylabel);
    if (!c->k || !c->title || !c->xlabel || !c->ylabel) {
        nl_chart_free(c);
        nl_err(NL_ENOMEM, "out of memory (chart)");
        return NULL;
    }
    return c;
}

static void free_series(nl_chart *c)
{
    for (int i = 0; i < c->ns; i++) {
        nl_free(c->s[i].name);
        nl_free(c->s[i].x);
        nl_free(c->s[i].y);
    }
    nl_free(c->s);
    c->s = NULL;
    c->ns = c->scap = 0;
}

void nl_chart_free(nl_chart *c)
{
    if (!c) return;
    free_series(c);
    if (c->k) {
        cache *k = c->k;
        nl_free(k->ax);
        nl_free(k->ay);
        nl_free(k->off);
        nl_free(k->rx);
        nl_free(k->ry);
        nl_free(k->pts);
        nl_free(k->idx);
        nl_free(k->onfront);
        nl_free(k->front);
        nl_free(k->mx);
        nl_free(k->my);
        nl_free(k);
    }
    nl_free(c->title);
    nl_free(c->xlabel);
    nl_free(c->ylabel);
    nl_free(c);
}

/* The index of the series called name, made when absent; negative on error. */
static int series_of(nl_chart *c, const char *name)
{
    if (c->hint < c->ns && strcmp(c->s[c->hint].name, name) == 0) return c->hint;
    for (int i = 0; i < c->ns; i++)
        if (strcmp(c->s[i].name, name) == 0) return c->hint = i;
    if (c->ns == INT32_MAX) return nl_err(NL_ERANGE, "too many series");
    size_t cap = (size_t)c->scap;
    if (RESERVE(c->s, cap, (size_t)c->ns + 1)) return NL_ENOMEM;
    c->scap = cap > INT32_MAX ? INT32_MAX : (int)cap;
    series *s = &c->s[c->ns];
    memset(s, 0, sizeof *s);
    if (!(s->name = dupstr(name))) return NL_ENOMEM;
    return c->hint = c->ns++;
}

static int check_values(const char *name, const char *axis, const double *v, long n)
{
    for (long i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            const char *what = isnan(v[i]) ? "NaN" : "infinite";
            if (n == 1) return nl_err(NL_EINVAL, "series '%s': %s is %s", name, axis, what);
            return nl_err(NL_EINVAL, "series '%s': %s[%ld] is %s", name, axis, i + 1, what);
        }
    return 0;
}

int nl_chart_add_many(nl_chart *c, const char *name, const double *x, const double *y, long n)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    if (!name) name = "";
    if (n < 0) return nl_err(NL_EINVAL, "series '%s': negative number of points (%ld)", name, n);
    if (n > 0 && (!x || !y)) return nl_err(NL_EINVAL, "series '%s': points are NULL", name);
    int rc = check_values(name, "x", x, n);
    if (!rc) rc = check_values(name, "y", y, n);
    if (rc || n == 0) return rc;
    int i = series_of(c, name);
    if (i < 0) return i;
    series *s = &c->s[i];
    size_t need = s->n + (size_t)n, cx = s->cap, cy = s->cap;
    if (RESERVE(s->x, cx, need) || RESERVE(s->y, cy, need)) return NL_ENOMEM;
    s->cap = cx < cy ? cx : cy;
    memcpy(s->x + s->n, x, (size_t)n * sizeof *x);
    memcpy(s->y + s->n, y, (size_t)n * sizeof *y);
    s->n = need;
    c->npts += (size_t)n;
    c->last_y = y[n - 1];
    c->has_last = 1;
    c->ver++;
    return 0;
}

int nl_chart_add(nl_chart *c, const char *name, double x, double y)
{
    return nl_chart_add_many(c, name, &x, &y, 1);
}

void nl_chart_clear(nl_chart *c)
{
    if (!c) return;
    free_series(c);
    c->npts = 0;
    c->hint = 0;
    c->has_last = 0;
    c->ver++;
}

int nl_chart_set_log(nl_chart *c, int logx, int logy)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    c->logx = logx != 0;
    c->logy = logy != 0;
    return 0;
}

int nl_chart_set_sense(nl_chart *c, int xmin, int ymax)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    c->xmin = xmin != 0;
    c->ymax = ymax != 0;
    c->ver++;
    return 0;
}

int nl_chart_set_ref(nl_chart *c, double x, double y)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    if (isnan(x) && isnan(y)) {
        c->has_ref = 0;
    } else {
        if (!isfinite(x) || !isfinite(y))
            return nl_err(NL_EINVAL, "reference point (%g, %g) is not finite", x, y);
        c->has_ref = 1;
        c->refx = x;
        c->refy = y;
    }
    c->ver++;
    return 0;
}

int nl_chart_set_median(nl_chart *c, int on)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    if (on && c->kind != NL_CHART_LINE) return nl_err(NL_EINVAL, "the median needs a LINE chart");
    c->median = on != 0;
    return 0;
}

nl_chart_kind nl_chart_kind_of(const nl_chart *c) { return c ? c->kind : NL_CHART_LINE; }
const char *nl_chart_title(const nl_chart *c) { return c ? c->title : ""; }
const char *nl_chart_xlabel(const nl_chart *c) { return c ? c->xlabel : ""; }
const char *nl_chart_ylabel(const nl_chart *c) { return c ? c->ylabel : ""; }
long nl_chart_npoints(const nl_chart *c) { return c ? (long)c->npts : 0; }
int nl_chart_nseries(const nl_chart *c) { return c ? c->ns : 0; }

int nl_chart_series(const nl_chart *c, int i, const char **name, const double **x, const double **y, long *n)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    if (i < 0 || i >= c->ns) return nl_err(NL_ERANGE, "series %d is out of range (%d series)", i, c->ns);
    if (name) *name = c->s[i].name;
    if (x) *x = c->s[i].x;
    if (y) *y = c->s[i].y;
    if (n) *n = (long)c->s[i].n;
    return 0;
}

int nl_chart_series_color(int i)
{
    return 1 + (i < 0 ? 0 : i % NL_CHART_SERIES_COLORS);
}

/* Okabe and Ito's palette, distinguishable with the common colour-vision
 * deficiencies. */
static const char *const palette[NL_CHART_NCOLORS] = {
    "#000000", "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000",
};

const char *nl_chart_color_rgb(int color)
{
    return color >= 0 && color < NL_CHART_NCOLORS ? palette[color] : palette[0];
}

/* ----------------------------------------------------------------- cache */

static int ensure_all(const nl_chart *c)
{
    cache *k = c->k;
    if (k->v_all == c->ver) return 0;
    if (RESERVE(k->ax, k->cap_ax, c->npts) || RESERVE(k->ay, k->cap_ay, c->npts) ||
        RESERVE(k->off, k->cap_off, (size_t)c->ns + 1))
        return NL_ENOMEM;
    size_t o = 0;
    for (int s = 0; s < c->ns; s++) {
        k->off[s] = o;
        if (c->s[s].n) {
            memcpy(k->ax + o, c->s[s].x, c->s[s].n * sizeof(double));
            memcpy(k->ay + o, c->s[s].y, c->s[s].n * sizeof(double));
        }
        o += c->s[s].n;
    }
    k->off[c->ns] = o;
    k->v_all = c->ver;
    return 0;
}

static int ensure_ranks(const nl_chart *c)
{
    cache *k = c->k;
    int rc = ensure_all(c);
    if (rc || k->v_rank == c->ver) return rc;
    if (RESERVE(k->rx, k->cap_rx, c->npts) || RESERVE(k->ry, k->cap_ry, c->npts)) return NL_ENOMEM;
    if (c->npts) {
        if ((rc = nl_stats_rank(k->rx, k->ax, c->npts)) || (rc = nl_stats_rank(k->ry, k->ay, c->npts))) return rc;
    }
    k->v_rank = c->ver;
    return 0;
}

static int ensure_stats(const nl_chart *c)
{
    cache *k = c->k;
    int rc = ensure_all(c);
    if (rc || k->v_stats == c->ver) return rc;
    double tau = NAN, rho = NAN;
    if (c->npts >= 2) {
        if ((rc = nl_stats_kendall(&tau, k->ax, c->npts, k->ay, c->npts, NL_TAU_B)) ||
            (rc = nl_stats_spearman(&rho, k->ax, c->npts, k->ay, c->npts)))
            return rc;
    }
    k->tau = tau;
    k->rho = rho;
    k->v_stats = c->ver;
    return 0;
}

static int ensure_pearson(const nl_chart *c)
{
    cache *k = c->k;
    int rc = ensure_all(c);
    if (rc || k->v_pearson == c->ver) return rc;
    double r = NAN;
    if (c->npts >= 2 && (rc = nl_stats_pearson(&r, k->ax, c->npts, k->ay, c->npts))) return rc;
    k->r = r;
    k->v_pearson = c->ver;
    return 0;
}

static int cmp_pair(const void *a, const void *b)
{
    const double *p = a, *q = b;
    if (p[0] != q[0]) return p[0] < q[0] ? -1 : 1;
    return (p[1] > q[1]) - (p[1] < q[1]);
}

static int ensure_front(const nl_chart *c)
{
    cache *k = c->k;
    int rc = ensure_all(c);
    if (rc || k->v_front == c->ver) return rc;
    size_t n = c->npts;
    if (RESERVE(k->pts, k->cap_pts, 2 * n) || RESERVE(k->idx, k->cap_idx, n) || RESERVE(k->onfront, k->cap_on, n) ||
        RESERVE(k->front, k->cap_front, 2 * n))
        return NL_ENOMEM;
    const int sense[2] = { c->xmin ? NL_PARETO_MIN : NL_PARETO_MAX, c->ymax ? NL_PARETO_MAX : NL_PARETO_MIN };
    int64_t cnt = 0;
    double hv = 0;
    if (n) {
        for (size_t i = 0; i < n; i++) {
            k->pts[2 * i] = k->ax[i];
            k->pts[2 * i + 1] = k->ay[i];
        }
        if ((rc = nl_pareto_front(k->idx, &cnt, k->pts, (int64_t)n, 2, sense, NULL, NULL))) return rc;
        memset(k->onfront, 0, n);
        for (int64_t j = 0; j < cnt; j++) {
            int64_t i = k->idx[j];
            k->onfront[i] = 1;
            k->front[2 * j] = k->ax[i];
            k->front[2 * j + 1] = k->ay[i];
        }
        qsort(k->front, (size_t)cnt, 2 * sizeof(double), cmp_pair);
        double ref[2] = { c->refx, c->refy };
        if (!c->has_ref) {
            ref[0] = ref[1] = 0;
            for (size_t i = 0; i < n; i++) {
                double x = k->ax[i], y = k->ay[i];
                if (i == 0 || (c->xmin ? x > ref[0] : x < ref[0])) ref[0] = x;
                if (i == 0 || (c->ymax ? y < ref[1] : y > ref[1])) ref[1] = y;
            }
        }
        /* The front dominates everything else, so its hypervolume is the set's. */
        if ((rc = nl_pareto_hypervolume(&hv, k->front, cnt, 2, ref, sense, NULL, NULL))) return rc;
    }
    k->nfront = (long)cnt;
    k->hv = hv;
    k->v_front = c->ver;
    return 0;
}

typedef struct mpt {
    double x, y;
    size_t i;
} mpt;

static int cmp_mpt(const void *a, const void *b)
{
    const mpt *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return (p->i > q->i) - (p->i < q->i);
}

static int cmp_double(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return (p > q) - (p < q);
}

static int ensure_median(const nl_chart *c)
{
    cache *k = c->k;
    int rc = ensure_all(c);
    if (rc || k->v_median == c->ver) return rc;
    size_t n = c->npts, ns = (size_t)c->ns;
    mpt *p = nl_malloc((n ? n : 1) * sizeof *p);
    double *xs = nl_malloc((n ? n : 1) * sizeof *xs);
    size_t *ptr = nl_calloc(ns ? ns : 1, sizeof *ptr);
    double *cur = nl_malloc((ns ? ns : 1) * sizeof *cur), *vals = nl_malloc((ns ? ns : 1) * sizeof *vals);
    unsigned char *def = nl_calloc(ns ? ns : 1, 1);
    size_t u = 0;
    if (!p || !xs || !ptr || !cur || !vals || !def) {
        rc = NL_ENOMEM;
        goto out;
    }
    /* Each series ordered by x, points of equal x in order of addition (the
     * last one sets the step's value). */
    for (size_t s = 0; s < ns; s++) {
        size_t a = k->off[s], b = k->off[s + 1];
        int sorted = 1;
        for (size_t i = a; i < b; i++) {
            p[i] = (mpt){ k->ax[i], k->ay[i], i };
            if (i > a && k->ax[i] < k->ax[i - 1]) sorted = 0;
        }
        if (!sorted) qsort(p + a, b - a, sizeof *p, cmp_mpt);
    }
    if (n) memcpy(xs, k->ax, n * sizeof *xs);
    qsort(xs, n, sizeof *xs, cmp_double);
    for (size_t i = 0; i < n; i++)
        if (u == 0 || xs[i] != xs[u - 1]) xs[u++] = xs[i];
    if (RESERVE(k->mx, k->cap_mx, u) || RESERVE(k->my, k->cap_my, u)) {
        rc = NL_ENOMEM;
        goto out;
    }
    for (size_t j = 0; j < u; j++) {
        size_t m = 0;
        for (size_t s = 0; s < ns; s++) {
            size_t a = k->off[s], b = k->off[s + 1];
            while (a + ptr[s] < b && p[a + ptr[s]].x <= xs[j]) {
                cur[s] = p[a + ptr[s]].y;
                def[s] = 1;
                ptr[s]++;
            }
            if (def[s]) vals[m++] = cur[s];
        }
        qsort(vals, m, sizeof *vals, cmp_double);
        k->mx[j] = xs[j];
        k->my[j] = m % 2 ? vals[m / 2] : 0.5 * (vals[m / 2 - 1] + vals[m / 2]);
    }
    k->nmed = (long)u;
    k->v_median = c->ver;
out:
    nl_free(p);
    nl_free(xs);
    nl_free(ptr);
    nl_free(cur);
    nl_free(vals);
    nl_free(def);
    return rc;
}

/* Everything the drawing of c needs. */
static int prepare(const nl_chart *c)
{
    int rc = ensure_all(c);
    if (rc) return rc;
    switch (c->kind) {
    case NL_CHART_RANK:
        if ((rc = ensure_ranks(c))) return rc;
        return ensure_stats(c);
    case NL_CHART_PARETO: return ensure_front(c);
    case NL_CHART_SCATTER: return ensure_pearson(c);
    case NL_CHART_LINE: return c->median ? ensure_median(c) : 0;
    }
    return 0;
}

int nl_chart_stats(const nl_chart *c, double *tau, double *rho, long *n)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    int rc = ensure_stats(c);
    if (rc) return rc;
    if (tau) *tau = c->k->tau;
    if (rho) *rho = c->k->rho;
    if (n) *n = (long)c->npts;
    return 0;
}

int nl_chart_front(const nl_chart *c, double *hv, long *count, const double **xy)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    int rc = ensure_front(c);
    if (rc) return rc;
    if (hv) *hv = c->k->hv;
    if (count) *count = c->k->nfront;
    if (xy) *xy = c->k->front;
    return 0;
}

int nl_chart_median(const nl_chart *c, const double **x, const double **y, long *n)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    int rc = ensure_median(c);
    if (rc) return rc;
    if (x) *x = c->k->mx;
    if (y) *y = c->k->my;
    if (n) *n = c->k->nmed;
    return 0;
}

/* Number formatting must not follow LC_NUMERIC (a curses program calls
 * setlocale(LC_ALL, "")), or files would differ between users and a decimal
 * comma would break CSV. */
typedef struct cloc {
    locale_t loc, old;
} cloc;

static void cloc_push(cloc *l)
{
    l->loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    l->old = l->loc ? uselocale(l->loc) : (locale_t)0;
}

static void cloc_pop(cloc *l)
{
    if (!l->loc) return;
    uselocale(l->old);
    freelocale(l->loc);
}

/* ------------------------------------------------------------------ axes */

typedef struct axis {
    int log;
    double lo, hi; /* in drawing space: log10 of the value on a log axis */
} axis;

static int tfm(int lg, double v, double *t)
{
    if (!lg) {
        *t = v;
        return 1;
    }
    if (!(v > 0)) return 0;
    *t = log10(v);
    return 1;
}

/* The coordinates drawn for series s: ranks for RANK, the values otherwise. */
static size_t plot_xy(const nl_chart *c, int s, const double **x, const double **y)
{
    if (c->kind == NL_CHART_RANK) {
        const cache *k = c->k;
        size_t n = k->off[s + 1] - k->off[s];
        *x = n ? k->rx + k->off[s] : NULL;
        *y = n ? k->ry + k->off[s] : NULL;
        return n;
    }
    *x = c->s[s].x;
    *y = c->s[s].y;
    return c->s[s].n;
}

static void widen(axis *a)
{
    if (a->lo < a->hi) return;
    if (a->log) {
        a->lo -= 0.5;
        a->hi += 0.5;
        return;
    }
    double v = a->lo, d = v != 0 ? fabs(v) * 0.05 : 1;
    a->lo = v - d;
    a->hi = v + d;
    if (!isfinite(a->lo)) a->lo = -DBL_MAX;
    if (!isfinite(a->hi)) a->hi = DBL_MAX;
}

/* The drawing ranges over the visible points (after prepare). Returns the
 * number of visible points; *hidden gets the others. */
static size_t ranges(const nl_chart *c, axis *xa, axis *ya, long *hidden)
{
    xa->log = c->logx;
    ya->log = c->logy;
    xa->lo = ya->lo = INFINITY;
    xa->hi = ya->hi = -INFINITY;
    size_t vis = 0, hid = 0;
    for (int s = 0; s < c->ns; s++) {
        const double *x, *y;
        size_t n = plot_xy(c, s, &x, &y);
        for (size_t i = 0; i < n; i++) {
            double tx, ty;
            if (!tfm(xa->log, x[i], &tx) || !tfm(ya->log, y[i], &ty)) {
                hid++;
                continue;
            }
            vis++;
            if (tx < xa->lo) xa->lo = tx;
            if (tx > xa->hi) xa->hi = tx;
            if (ty < ya->lo) ya->lo = ty;
            if (ty > ya->hi) ya->hi = ty;
        }
    }
    if (hidden) *hidden = (long)hid;
    if (vis) {
        widen(xa);
        widen(ya);
    }
    return vis;
}

/* Position of t within the axis, 0..1 (halved so that a span of the whole
 * double range does not overflow). */
static double frac(const axis *a, double t)
{
    double f = (t * 0.5 - a->lo * 0.5) / (a->hi * 0.5 - a->lo * 0.5);
    if (!(f >= 0)) f = 0;
    if (f > 1) f = 1;
    return f;
}

static int to_dot(double f, int d) { return (int)lround(f * (d - 1)); }

#define MAXTICKS 32
#define TICKLEN 24

typedef struct ticks {
    int n;
    double t[MAXTICKS]; /* in drawing space */
    char lab[MAXTICKS][TICKLEN];
} ticks;

/* "1.5e+06" -> "1.5e6", "2e-05" -> "2e-5". */
static void compact_exp(char *s)
{
    char *e = strchr(s, 'e');
    if (!e) return;
    char *d = e + 1, *r = e + 1;
    if (*r == '+') r++;
    else if (*r == '-') *d++ = *r++;
    while (*r == '0' && r[1]) r++;
    memmove(d, r, strlen(r) + 1);
}

static void fmt_tick(char *buf, double v, double step, double maxabs)
{
    int e = (int)floor(log10(step) + 1e-9);
    if (maxabs < 1e6 && e >= -4) {
        snprintf(buf, TICKLEN, "%.*f", e < 0 ? -e : 0, v);
        return;
    }
    int sig = (int)floor(log10(maxabs)) - e + 1;
    if (sig < 1) sig = 1;
    if (sig > 15) sig = 15;
    snprintf(buf, TICKLEN, "%.*g", sig, v);
    compact_exp(buf);
}

static double nice_step(double span, int maxn)
{
    double rough = span / maxn, mag = pow(10, floor(log10(rough))), f = rough / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* Multiples of a 1-2-5 step within [lo, hi] (values); at their log10 when
 * logpos is set. */
static void lin_ticks(ticks *tk, double lo, double hi, int maxn, int logpos)
{
    double span = hi - lo;
    if (!(span > 0) || !isfinite(span)) return;
    double step = nice_step(span, maxn), first = ceil(lo / step) * step, prev = -INFINITY;
    if (!(step > 0) || !isfinite(first)) return;
    double maxabs = fmax(fabs(lo), fabs(hi));
    for (int i = 0; tk->n < MAXTICKS; i++) {
        double v = first + i * step;
        if (v > hi + step * 1e-9 || v <= prev) break;
        prev = v;
        if (fabs(v) < step * 1e-9) v = 0;
        if (logpos && !(v > 0)) continue;
        tk->t[tk->n] = logpos ? log10(v) : v;
        fmt_tick(tk->lab[tk->n], v, step, maxabs);
        tk->n++;
    }
}

static void make_ticks(ticks *tk, const axis *a, int maxn)
{
    tk->n = 0;
    if (maxn < 1) maxn = 1;
    if (!a->log) {
        lin_ticks(tk, a->lo, a->hi, maxn, 0);
        return;
    }
    int k0 = (int)ceil(a->lo - 1e-9), k1 = (int)floor(a->hi + 1e-9);
    if (k1 - k0 < 1) {
        lin_ticks(tk, pow(10, a->lo), pow(10, a->hi), maxn, 1);
        return;
    }
    int every = (k1 - k0 + 1 + maxn - 1) / maxn;
    if (every < 1) every = 1;
    for (int k = k0; k <= k1 && tk->n < MAXTICKS; k++) {
        if (((k % every) + every) % every) continue;
        tk->t[tk->n] = k;
        if (k >= -4 && k <= 5)
            snprintf(tk->lab[tk->n], TICKLEN, "%.*f", k < 0 ? -k : 0, pow(10, k));
        else
            snprintf(tk->lab[tk->n], TICKLEN, "1e%d", k);
        tk->n++;
    }
}

int nl_chart_range(const nl_chart *c, double *xlo, double *xhi, double *ylo, double *yhi)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    int rc = prepare(c);
    if (rc) return rc;
    axis xa, ya;
    if (!ranges(c, &xa, &ya, NULL)) return nl_err(NL_ENOTFOUND, "no data");
    if (xlo) *xlo = xa.log ? pow(10, xa.lo) : xa.lo;
    if (xhi) *xhi = xa.log ? pow(10, xa.hi) : xa.hi;
    if (ylo) *ylo = ya.log ? pow(10, ya.lo) : ya.lo;
    if (yhi) *yhi = ya.log ? pow(10, ya.hi) : ya.hi;
    return 0;
}

/* ---------------------------------------------------------------- header */

static void fmt_stat(char *b, size_t n, double v)
{
    if (isnan(v))
        snprintf(b, n, "-");
    else
        snprintf(b, n, "%.3f", v);
}

/* The statistics text (after prepare). */
static void header_text(const nl_chart *c, char *buf, size_t size)
{
    const cache *k = c->k;
    axis xa, ya;
    long hidden = 0, n = (long)c->npts;
    ranges(c, &xa, &ya, &hidden);
    char a[32], b[32];
    int len = 0;
    switch (c->kind) {
    case NL_CHART_RANK:
        fmt_stat(a, sizeof a, k->tau);
        fmt_stat(b, sizeof b, k->rho);
        len = snprintf(buf, size, "tau=%s rho=%s n=%ld", a, b, n);
        break;
    case NL_CHART_PARETO: len = snprintf(buf, size, "HV=%.4g front=%ld n=%ld", k->hv, k->nfront, n); break;
    case NL_CHART_SCATTER:
        fmt_stat(a, sizeof a, k->r);
        len = snprintf(buf, size, "n=%ld r=%s", n, a);
        break;
    case NL_CHART_LINE:
        len = snprintf(buf, size, "series=%d n=%ld", c->ns, n);
        if (c->has_last && len >= 0 && (size_t)len < size)
            len += snprintf(buf + len, size - (size_t)len, " last=%.4g", c->last_y);
        if (c->median && k->nmed > 0 && len >= 0 && (size_t)len < size)
            len += snprintf(buf + len, size - (size_t)len, " median=%.4g", k->my[k->nmed - 1]);
        break;
    }
    if (hidden && len >= 0 && (size_t)len < size) snprintf(buf + len, size - (size_t)len, " hidden=%ld", hidden);
}

int nl_chart_header(const nl_chart *c, char *buf, size_t size)
{
    if (!c || (!buf && size)) return nl_err(NL_EINVAL, "chart or buffer is NULL");
    int rc = prepare(c);
    if (rc) return rc;
    if (!size) return 0;
    cloc l;
    cloc_push(&l);
    header_text(c, buf, size);
    cloc_pop(&l);
    return 0;
}

/* ------------------------------------------------------------------ grid */

#define MAXCELLS (1L << 24)

static void blank(nl_cell *cell)
{
    cell->glyph[0] = ' ';
    cell->glyph[1] = 0;
    cell->color = 0;
}

int nl_grid_init(nl_grid *g, int rows, int cols)
{
    if (!g) return nl_err(NL_EINVAL, "grid is NULL");
    g->rows = g->cols = 0;
    g->cells = NULL;
    if (rows < 0 || cols < 0) return nl_err(NL_EINVAL, "grid size %dx%d is negative", rows, cols);
    if ((long long)rows * cols > MAXCELLS)
        return nl_err(NL_ERANGE, "grid size %dx%d exceeds %ld cells", rows, cols, MAXCELLS);
    size_t n = (size_t)rows * (size_t)cols;
    nl_cell *cells = nl_malloc((n ? n : 1) * sizeof *cells);
    if (!cells) return NL_ENOMEM;
    for (size_t i = 0; i < n; i++) blank(&cells[i]);
    g->rows = rows;
    g->cols = cols;
    g->cells = cells;
    return 0;
}

void nl_grid_free(nl_grid *g)
{
    if (!g) return;
    nl_free(g->cells);
    g->cells = NULL;
    g->rows = g->cols = 0;
}

int nl_grid_row(const nl_grid *g, int r, char *buf, size_t size)
{
    if (!g || !buf) return nl_err(NL_EINVAL, "grid or buffer is NULL");
    if (r < 0 || r >= g->rows) return nl_err(NL_ERANGE, "row %d is out of range (%d rows)", r, g->rows);
    size_t len = 0;
    for (int i = 0; i < g->cols; i++) {
        const char *s = g->cells[(size_t)r * g->cols + i].glyph;
        size_t m = strnlen(s, 4);
        if (len + m + 1 > size) return nl_err(NL_ERANGE, "row %d does not fit in %zu bytes", r, size);
        memcpy(buf + len, s, m);
        len += m;
    }
    if (len + 1 > size) return nl_err(NL_ERANGE, "row %d does not fit in %zu bytes", r, size);
    buf[len] = 0;
    return (int)len;
}

static void put(nl_grid *g, int r, int col, const char *glyph, int color)
{
    if (r < 0 || r >= g->rows || col < 0 || col >= g->cols) return;
    nl_cell *cell = &g->cells[(size_t)r * g->cols + col];
    size_t n = strnlen(glyph, 4);
    memcpy(cell->glyph, glyph, n);
    cell->glyph[n] = 0;
    cell->color = (unsigned char)color;
}

unsigned nl_chart_braille_bit(int dx, int dy)
{
    static const unsigned char bit[4][2] = { { 0x01, 0x08 }, { 0x02, 0x10 }, { 0x04, 0x20 }, { 0x40, 0x80 } };
    if (dx < 0 || dx > 1 || dy < 0 || dy > 3) return 0;
    return bit[dy][dx];
}

void nl_chart_braille(char out[5], unsigned mask)
{
    mask &= 0xFF;
    out[0] = (char)0xE2;
    out[1] = (char)(0xA0 | (mask >> 6));
    out[2] = (char)(0x80 | (mask & 0x3F));
    out[3] = 0;
}

/* Decode one code point of the NUL-terminated s: returns the bytes it takes
 * (0 at the end), with *cp = U+FFFD for an invalid byte (consumed alone). */
static int u8dec(const char *str, unsigned *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned ch = s[0], v, min;
    int n;
    if (!ch) return 0;
    if (ch < 0x80) {
        *cp = ch;
        return 1;
    }
    if (ch >= 0xC2 && ch <= 0xDF) {
        n = 2, v = ch & 0x1F, min = 0x80;
    } else if (ch >= 0xE0 && ch <= 0xEF) {
        n = 3, v = ch & 0x0F, min = 0x800;
    } else if (ch >= 0xF0 && ch <= 0xF4) {
        n = 4, v = ch & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return n;
}

static int u8len(const char *s)
{
    int n = 0, m;
    unsigned cp;
    while ((m = u8dec(s, &cp)) > 0) {
        s += m;
        n++;
    }
    return n;
}

/* Write s into row r from column col, one code point per cell, at most maxw
 * cells; a longer text ends in an ellipsis. Control characters, invalid UTF-8
 * and (in ASCII mode) anything beyond ASCII become '?'. Returns the cells
 * used. */
static int put_text(nl_grid *g, int r, int col, int maxw, const char *s, int utf8, int color)
{
    if (maxw <= 0) return 0;
    int len = u8len(s), w = 0, m;
    unsigned cp;
    while (w < maxw && (m = u8dec(s, &cp)) > 0) {
        char glyph[5] = "?";
        if (w == maxw - 1 && len > maxw) {
            strcpy(glyph, utf8 ? "\xE2\x80\xA6" : "~");
        } else if (cp == 0xFFFD || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || (!utf8 && cp >= 0x80)) {
            glyph[0] = '?';
        } else {
            memcpy(glyph, s, (size_t)m);
            glyph[m] = 0;
        }
        put(g, r, col + w, glyph, color);
        s += m;
        w++;
    }
    return w;
}

/* ---------------------------------------------------------------- canvas */

/* The plot area as dots: braille (2 x 4 dots per cell, OR-ed together, the
 * colour of the last drawing) or ASCII (one dot per cell, a glyph each). In
 * braille mode a glyph set with cv_mark replaces the dots of its cell. */
typedef struct canvas {
    int w, h, utf8, dw, dh;
    unsigned char *mask, *col;
    char *ch;
} canvas;

static void cv_dot(canvas *cv, int dx, int dy, int color, char ch)
{
    if (dx < 0 || dy < 0 || dx >= cv->dw || dy >= cv->dh) return;
    size_t i;
    if (cv->utf8) {
        i = (size_t)(dy / 4) * cv->w + (size_t)(dx / 2);
        cv->mask[i] |= (unsigned char)nl_chart_braille_bit(dx & 1, dy & 3);
    } else {
        i = (size_t)dy * cv->w + (size_t)dx;
        cv->ch[i] = ch;
    }
    cv->col[i] = (unsigned char)color;
}

static void cv_mark(canvas *cv, int dx, int dy, int color, char ch)
{
    if (dx < 0 || dy < 0 || dx >= cv->dw || dy >= cv->dh) return;
    size_t i = cv->utf8 ? (size_t)(dy / 4) * cv->w + (size_t)(dx / 2) : (size_t)dy * cv->w + (size_t)dx;
    cv->ch[i] = ch;
    cv->col[i] = (unsigned char)color;
}

static void cv_line(canvas *cv, int px, int py, int qx, int qy, int color, char ch)
{
    int dx = abs(qx - px), sx = px < qx ? 1 : -1, dy = -abs(qy - py), sy = py < qy ? 1 : -1, err = dx + dy;
    for (;;) {
        cv_dot(cv, px, py, color, ch);
        if (px == qx && py == qy) break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            px += sx;
        }
        if (e2 <= dx) {
            err += dx;
            py += sy;
        }
    }
}

/* The ASCII glyph for a segment between two cells (about twice as tall as
 * wide; screen rows grow downwards). */
static char slope_glyph(int px, int py, int qx, int qy)
{
    int vx = abs(qx - px), vy = 2 * abs(qy - py);
    if (2 * vy <= vx) return '-';
    if (vy >= 2 * vx) return '|';
    return (qx > px) == (qy < py) ? '/' : '\\';
}

static int dot_of(const canvas *cv, const axis *xa, const axis *ya, double x, double y, int *dx, int *dy)
{
    double tx, ty;
    if (!tfm(xa->log, x, &tx) || !tfm(ya->log, y, &ty)) return 0;
    *dx = to_dot(frac(xa, tx), cv->dw);
    *dy = cv->dh - 1 - to_dot(frac(ya, ty), cv->dh);
    return 1;
}

static const char markers[NL_CHART_SERIES_COLORS] = { '*', '+', 'o', 'x', '%', '@' };

static void draw_data(const nl_chart *c, canvas *cv, const axis *xa, const axis *ya)
{
    const cache *k = c->k;
    int dx, dy, px = 0, py = 0;
    if (c->kind == NL_CHART_PARETO) {
        for (size_t i = 0; i < c->npts; i++)
            if (!k->onfront[i] && dot_of(cv, xa, ya, k->ax[i], k->ay[i], &dx, &dy))
                cv_dot(cv, dx, dy, NL_CHART_COLOR_POINT, '.');
        int prev = 0;
        for (long j = 0; j < k->nfront; j++) {
            int vis = dot_of(cv, xa, ya, k->front[2 * j], k->front[2 * j + 1], &dx, &dy);
            if (vis && prev) {
                char g = cv->utf8 ? 0 : slope_glyph(px, py, dx, dy);
                cv_line(cv, px, py, dx, dy, NL_CHART_COLOR_FRONT, g);
            }
            prev = vis;
            px = dx;
            py = dy;
        }
        for (long j = 0; j < k->nfront; j++)
            if (dot_of(cv, xa, ya, k->front[2 * j], k->front[2 * j + 1], &dx, &dy))
                cv_mark(cv, dx, dy, NL_CHART_COLOR_FRONT, 'O');
        return;
    }
    for (int s = 0; s < c->ns; s++) {
        const double *x, *y;
        size_t n = plot_xy(c, s, &x, &y);
        int color = nl_chart_series_color(s), prev = 0;
        char m = markers[s % NL_CHART_SERIES_COLORS];
        for (size_t i = 0; i < n; i++) {
            int vis = dot_of(cv, xa, ya, x[i], y[i], &dx, &dy);
            if (vis && prev && c->kind == NL_CHART_LINE)
                cv_line(cv, px, py, dx, dy, color, m);
            else if (vis)
                cv_dot(cv, dx, dy, color, m);
            prev = vis;
            px = dx;
            py = dy;
        }
    }
    if (c->kind == NL_CHART_LINE && c->median) {
        int prev = 0;
        for (long j = 0; j < k->nmed; j++) {
            int vis = dot_of(cv, xa, ya, k->mx[j], k->my[j], &dx, &dy);
            if (vis && prev) {
                cv_line(cv, px, py, dx, py, NL_CHART_COLOR_MEDIAN, '#');
                cv_line(cv, dx, py, dx, dy, NL_CHART_COLOR_MEDIAN, '#');
            } else if (vis) {
                cv_dot(cv, dx, dy, NL_CHART_COLOR_MEDIAN, '#');
            }
            prev = vis;
            px = dx;
            py = dy;
        }
    }
}

/* ---------------------------------------------------------------- render */

static void draw_header(nl_grid *g, const char *title, const char *stats, int utf8)
{
    /* The title is shortened so that the statistics fit, but to no less
     * than a third of the width; below that the statistics are cut instead. */
    int C = g->cols, tl = u8len(title), sl = u8len(stats), tw = tl;
    if (tl > 0 && tl + 2 + sl > C) {
        tw = C - sl - 2;
        if (tw < (tl < C / 3 ? tl : C / 3)) tw = tl < C ? tl : C;
    }
    int col = 0;
    if (tw > 0) col = put_text(g, 0, 0, tw, title, utf8, 0) + 2;
    if (col < C) put_text(g, 0, col, C - col, stats, utf8, 0);
}

static int draw_body(const nl_chart *c, nl_grid *g, int utf8)
{
    int R = g->rows, C = g->cols, B = R - 1;
    axis xa, ya;
    if (!ranges(c, &xa, &ya, NULL)) {
        int w = C < 7 ? C : 7;
        put_text(g, 1 + (B - 1) / 2, (C - w) / 2, w, "no data", utf8, 0);
        return 0;
    }
    int axes = B >= 4 && C >= 16, pt = 1, pb = R - 1, pl = 0, pw = C, ylw = 0;
    int xaxis_row = -1, xtick_row = -1, xlab_row = -1;
    ticks xt = { 0 }, yt = { 0 };
    if (axes) {
        int big = B >= 10, r = R - 1;
        if (big && *c->xlabel) xlab_row = r--;
        xtick_row = r--;
        xaxis_row = r--;
        pb = r;
        if (big && *c->ylabel) pt = 2;
        make_ticks(&yt, &ya, (pb - pt + 1) / 3 > 2 ? (pb - pt + 1) / 3 : 2);
        for (int i = 0; i < yt.n; i++) {
            int l = (int)strlen(yt.lab[i]);
            if (l > ylw) ylw = l;
        }
        if (ylw > C / 3) ylw = C / 3;
        pl = ylw + 1;
        pw = C - pl;
        make_ticks(&xt, &xa, pw / 10 > 2 ? pw / 10 : 2);
    }
    int ph = pb - pt + 1;
    if (ph < 1 || pw < 1) return 0;

    size_t cells = (size_t)pw * (size_t)ph;
    unsigned char *mem = nl_calloc(cells, 3);
    if (!mem) return NL_ENOMEM;
    canvas cv = { .w = pw, .h = ph, .utf8 = utf8, .dw = utf8 ? 2 * pw : pw, .dh = utf8 ? 4 * ph : ph,
                  .mask = mem, .col = mem + cells, .ch = (char *)(mem + 2 * cells) };
    draw_data(c, &cv, &xa, &ya);
    for (int r = 0; r < ph; r++)
        for (int col = 0; col < pw; col++) {
            size_t i = (size_t)r * pw + col;
            char glyph[5];
            if (cv.ch[i] && utf8)
                strcpy(glyph, "\xE2\x97\x8F"); /* U+25CF black circle */
            else if (cv.ch[i])
                glyph[0] = cv.ch[i], glyph[1] = 0;
            else if (utf8 && cv.mask[i])
                nl_chart_braille(glyph, cv.mask[i]);
            else
                continue;
            put(g, pt + r, pl + col, glyph, cv.col[i]);
        }
    nl_free(mem);
    if (!axes) return 0;

    const char *vbar = utf8 ? "\xE2\x94\x82" : "|", *hbar = utf8 ? "\xE2\x94\x80" : "-";
    const char *corner = utf8 ? "\xE2\x94\x94" : "+", *ytick = utf8 ? "\xE2\x94\xA4" : "+";
    const char *xtick = utf8 ? "\xE2\x94\xAC" : "+";
    for (int r = pt; r <= pb; r++) put(g, r, pl - 1, vbar, 0);
    for (int col = pl; col < C; col++) put(g, xaxis_row, col, hbar, 0);
    put(g, xaxis_row, pl - 1, corner, 0);
    int last = -1;
    for (int i = 0; i < yt.n; i++) {
        int dy = cv.dh - 1 - to_dot(frac(&ya, yt.t[i]), cv.dh), r = pt + (utf8 ? dy / 4 : dy);
        put(g, r, pl - 1, ytick, 0);
        int l = (int)strlen(yt.lab[i]);
        if (l > ylw || r == last) continue;
        put_text(g, r, pl - 1 - l, l, yt.lab[i], utf8, 0);
        last = r;
    }
    int end = -1;
    for (int i = 0; i < xt.n; i++) {
        int dx = to_dot(frac(&xa, xt.t[i]), cv.dw), col = pl + (utf8 ? dx / 2 : dx);
        put(g, xaxis_row, col, xtick, 0);
        int l = (int)strlen(xt.lab[i]), start = col - l / 2;
        if (start + l > C) start = C - l;
        if (start < 0) start = 0;
        if (start <= end || l > C) continue;
        put_text(g, xtick_row, start, l, xt.lab[i], utf8, 0);
        end = start + l;
    }
    if (pt == 2) put_text(g, 1, 0, C, c->ylabel, utf8, 0);
    if (xlab_row >= 0) {
        int l = u8len(c->xlabel), w = l < pw ? l : pw;
        put_text(g, xlab_row, pl + (pw - w) / 2, w, c->xlabel, utf8, 0);
    }
    return 0;
}

int nl_chart_render(const nl_chart *c, nl_grid *g, int utf8)
{
    if (!c || !g) return nl_err(NL_EINVAL, "render: chart or grid is NULL");
    if (g->rows < 0 || g->cols < 0 || (g->rows > 0 && g->cols > 0 && !g->cells))
        return nl_err(NL_EINVAL, "render: grid has no cells");
    size_t n = (size_t)g->rows * (size_t)g->cols;
    for (size_t i = 0; i < n; i++) blank(&g->cells[i]);
    if (!n) return 0;
    cloc l;
    cloc_push(&l);
    char stats[256];
    int rc = prepare(c);
    if (rc)
        snprintf(stats, sizeof stats, "error: %s", nl_errmsg());
    else
        header_text(c, stats, sizeof stats);
    draw_header(g, c->title, stats, utf8);
    if (!rc && g->rows > 1) rc = draw_body(c, g, utf8);
    cloc_pop(&l);
    return rc;
}

/* ----------------------------------------------------------------- files */

/* Make the rename durable; a failure here loses nothing written, so it is
 * not reported. */
static void sync_dir(const char *path)
{
    char *dir = dupstr(path);
    if (!dir) return;
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

typedef int (*body_fn)(const nl_chart *c, FILE *f, int w, int h);

static int write_atomic(const nl_chart *c, const char *path, body_fn fn, int w, int h)
{
    size_t tl = strlen(path) + 32;
    char *tmp = nl_malloc(tl);
    if (!tmp) return NL_ENOMEM;
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int rc = nl_err(NL_EIO, "cannot write '%s': %s", path, strerror(errno));
        nl_free(tmp);
        return rc;
    }
    cloc l;
    cloc_push(&l);
    errno = 0;
    int rc = fn(c, f, w, h), err = 0;
    cloc_pop(&l);
    if (!rc && (fflush(f) != 0 || ferror(f))) err = errno ? errno : EIO;
    if (!rc && !err && fsync(fileno(f)) != 0) err = errno;
    if (fclose(f) != 0 && !rc && !err) err = errno ? errno : EIO;
    if (!rc && !err && rename(tmp, path) != 0) err = errno;
    if (!rc && err) rc = nl_err(NL_EIO, "cannot write '%s': %s", path, strerror(err));
    if (rc)
        remove(tmp);
    else
        sync_dir(path);
    nl_free(tmp);
    return rc;
}

static void csv_name(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int csv_body(const nl_chart *c, FILE *f, int w, int h)
{
    (void)w;
    (void)h;
    fputs("series,x,y\n", f);
    for (int s = 0; s < c->ns; s++)
        for (size_t i = 0; i < c->s[s].n; i++) {
            csv_name(f, c->s[s].name);
            fprintf(f, ",%.17g,%.17g\n", c->s[s].x[i], c->s[s].y[i]);
        }
    return 0;
}

int nl_chart_csv(const nl_chart *c, const char *path)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    if (!path || !*path) return nl_err(NL_EINVAL, "csv: empty path");
    return write_atomic(c, path, csv_body, 0, 0);
}

/* XML character data: entities for markup characters, U+FFFD for invalid
 * UTF-8, a space for control characters (not allowed in XML 1.0); at most
 * maxcp code points (< 0: all), then an ellipsis. */
static void svg_text(FILE *f, const char *s, int maxcp)
{
    unsigned cp;
    int m, n = 0, len = maxcp >= 0 ? u8len(s) : 0;
    while ((m = u8dec(s, &cp)) > 0) {
        if (maxcp >= 0 && n == maxcp - 1 && len > maxcp) {
            fputs("\xE2\x80\xA6", f);
            return;
        }
        if (cp == '&')
            fputs("&amp;", f);
        else if (cp == '<')
            fputs("&lt;", f);
        else if (cp == '>')
            fputs("&gt;", f);
        else if (cp == '"')
            fputs("&quot;", f);
        else if (cp == '\'')
            fputs("&apos;", f);
        else if (cp < 0x20 || cp == 0x7F)
            fputc(' ', f);
        else if (cp == 0xFFFD)
            fputs("\xEF\xBF\xBD", f);
        else
            fwrite(s, 1, (size_t)m, f);
        s += m;
        n++;
    }
}

typedef struct svgarea {
    double l, t, w, h; /* plot area in pixels */
    const axis *xa, *ya;
} svgarea;

static int svg_pt(const svgarea *a, double x, double y, double *px, double *py)
{
    double tx, ty;
    if (!tfm(a->xa->log, x, &tx) || !tfm(a->ya->log, y, &ty)) return 0;
    *px = a->l + frac(a->xa, tx) * a->w;
    *py = a->t + a->h - frac(a->ya, ty) * a->h;
    return 1;
}

/* A polyline through the visible points (split where one is hidden); step
 * != 0 draws a step function (horizontal, then vertical). */
static void svg_path(FILE *f, const svgarea *a, const double *x, const double *y, size_t n, size_t stride, int step,
                     const char *style)
{
    int open = 0, cnt = 0;
    double py = 0, qx, qy;
    for (size_t i = 0; i < n; i++) {
        if (!svg_pt(a, x[i * stride], y[i * stride], &qx, &qy)) {
            if (open) fputs("\"/>\n", f);
            open = 0;
            continue;
        }
        if (!open) {
            fprintf(f, "<polyline %s points=\"", style);
            open = 1;
            cnt = 0;
        } else if (step) {
            fprintf(f, "%s%.2f,%.2f", cnt++ % 8 ? " " : "\n", qx, py);
        }
        fprintf(f, "%s%.2f,%.2f", cnt == 0 ? "" : cnt % 8 ? " " : "\n", qx, qy);
        cnt++;
        py = qy;
    }
    if (open) fputs("\"/>\n", f);
}

typedef struct legend {
    const char *name;
    int color, index;
} legend;

static int svg_body(const nl_chart *c, FILE *f, int W, int H)
{
    const cache *k = c->k;
    axis xa, ya;
    size_t vis = ranges(c, &xa, &ya, NULL);
    char stats[256];
    header_text(c, stats, sizeof stats);

    /* Legend entries: named or several series, the median, the front. */
    legend *lg = nl_malloc(((size_t)c->ns + 2) * sizeof *lg);
    if (!lg) return NL_ENOMEM;
    int nlg = 0, maxname = 0;
    if (c->kind == NL_CHART_PARETO) {
        if (vis) {
            lg[nlg++] = (legend){ "points", NL_CHART_COLOR_POINT, -1 };
            lg[nlg++] = (legend){ "Pareto front", NL_CHART_COLOR_FRONT, -1 };
        }
    } else {
        int named = c->ns > 1;
        for (int s = 0; s < c->ns; s++) named |= c->s[s].name[0] != 0;
        if (c->kind == NL_CHART_LINE && c->median && k->nmed > 0)
            lg[nlg++] = (legend){ "median", NL_CHART_COLOR_MEDIAN, -1 };
        for (int s = 0; named && s < c->ns; s++) lg[nlg++] = (legend){ c->s[s].name, nl_chart_series_color(s), s };
    }
    for (int i = 0; i < nlg; i++) {
        int l = lg[i].name[0] ? u8len(lg[i].name) : 12;
        if (l > maxname) maxname = l;
    }

    double top = 48, bottom = H - 50.0;
    ticks xt = { 0 }, yt = { 0 };
    if (vis) make_ticks(&yt, &ya, (int)((bottom - top) / 50) > 2 ? (int)((bottom - top) / 50) : 2);
    int ylw = 0;
    for (int i = 0; i < yt.n; i++) {
        int l = (int)strlen(yt.lab[i]);
        if (l > ylw) ylw = l;
    }
    double left = 40 + 7.0 * ylw, right = W - 16.0, avail = right - left - 80;
    int chars = 0;
    if (nlg) {
        chars = maxname < 24 ? maxname : 24;
        if (40 + 7.0 * chars > avail) chars = (int)((avail - 40) / 7);
        if (chars < 4) nlg = 0;
        else right -= 40 + 7.0 * chars;
    }
    /* The axes frame the box; the data keep an inset from it so that points
     * at the extremes do not sit on the axes. */
    const double in = 8;
    svgarea box = { left, top, right - left, bottom - top, &xa, &ya };
    svgarea a = { left + in, top + in, box.w - 2 * in, box.h - 2 * in, &xa, &ya };
    if (vis) make_ticks(&xt, &xa, (int)(a.w / 90) > 2 ? (int)(a.w / 90) : 2);

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
               "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
               "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n<title>",
            W, H, W, H);
    svg_text(f, c->title, -1);
    fprintf(f, "</title>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H);
    fprintf(f, "<text x=\"%.2f\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">", W / 2.0);
    svg_text(f, c->title, -1);
    fprintf(f, "</text>\n<text x=\"%.2f\" y=\"38\" text-anchor=\"middle\" font-size=\"12\" fill=\"#444444\">", W / 2.0);
    svg_text(f, stats, -1);
    fputs("</text>\n", f);

    /* Grid lines, axes, ticks and their labels. */
    fputs("<g stroke=\"#e5e5e5\" stroke-width=\"1\">\n", f);
    for (int i = 0; i < xt.n; i++) {
        double x = a.l + frac(&xa, xt.t[i]) * a.w;
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x, box.t, x, box.t + box.h);
    }
    for (int i = 0; i < yt.n; i++) {
        double y = a.t + a.h - frac(&ya, yt.t[i]) * a.h;
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", box.l, y, box.l + box.w, y);
    }
    fputs("</g>\n<g stroke=\"#000000\" stroke-width=\"1\">\n", f);
    double bb = box.t + box.h;
    fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", box.l, box.t, box.l, bb);
    fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", box.l, bb, box.l + box.w, bb);
    for (int i = 0; i < xt.n; i++) {
        double x = a.l + frac(&xa, xt.t[i]) * a.w;
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x, bb, x, bb + 5);
    }
    for (int i = 0; i < yt.n; i++) {
        double y = a.t + a.h - frac(&ya, yt.t[i]) * a.h;
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", box.l - 5, y, box.l, y);
    }
    fputs("</g>\n<g font-size=\"11\" text-anchor=\"middle\">\n", f);
    for (int i = 0; i < xt.n; i++)
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">%s</text>\n", a.l + frac(&xa, xt.t[i]) * a.w, bb + 18, xt.lab[i]);
    fputs("</g>\n<g font-size=\"11\" text-anchor=\"end\">\n", f);
    for (int i = 0; i < yt.n; i++)
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">%s</text>\n", box.l - 8, a.t + a.h - frac(&ya, yt.t[i]) * a.h + 4,
                yt.lab[i]);
    fputs("</g>\n", f);
    if (*c->xlabel) {
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"12\">", a.l + a.w / 2, bb + 38);
        svg_text(f, c->xlabel, -1);
        fputs("</text>\n", f);
    }
    if (*c->ylabel) {
        fprintf(f, "<text transform=\"translate(16,%.2f) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">",
                a.t + a.h / 2);
        svg_text(f, c->ylabel, -1);
        fputs("</text>\n", f);
    }

    /* The data. */
    double px, py;
    if (!vis) {
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"14\" fill=\"#888888\">"
                   "no data</text>\n",
                a.l + a.w / 2, a.t + a.h / 2);
    } else if (c->kind == NL_CHART_PARETO) {
        fprintf(f, "<g fill=\"%s\" fill-opacity=\"0.6\">\n", palette[NL_CHART_COLOR_POINT]);
        for (size_t i = 0; i < c->npts; i++)
            if (!k->onfront[i] && svg_pt(&a, k->ax[i], k->ay[i], &px, &py))
                fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2\"/>\n", px, py);
        fputs("</g>\n", f);
        char style[96];
        snprintf(style, sizeof style, "fill=\"none\" stroke=\"%s\" stroke-width=\"2\"", palette[NL_CHART_COLOR_FRONT]);
        svg_path(f, &a, k->front, k->front + 1, (size_t)k->nfront, 2, 0, style);
        fprintf(f, "<g fill=\"%s\" stroke=\"#000000\" stroke-width=\"0.8\">\n", palette[NL_CHART_COLOR_FRONT]);
        for (long j = 0; j < k->nfront; j++)
            if (svg_pt(&a, k->front[2 * j], k->front[2 * j + 1], &px, &py))
                fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\"/>\n", px, py);
        fputs("</g>\n", f);
    } else {
        for (int s = 0; s < c->ns; s++) {
            const double *x, *y;
            size_t n = plot_xy(c, s, &x, &y);
            const char *rgb = palette[nl_chart_series_color(s)];
            if (c->kind == NL_CHART_LINE && n > 1) {
                char style[96];
                snprintf(style, sizeof style, "fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"", rgb);
                svg_path(f, &a, x, y, n, 1, 0, style);
                continue;
            }
            fprintf(f, "<g fill=\"%s\">\n", rgb);
            for (size_t i = 0; i < n; i++)
                if (svg_pt(&a, x[i], y[i], &px, &py)) fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2\"/>\n", px, py);
            fputs("</g>\n", f);
        }
        if (c->kind == NL_CHART_LINE && c->median && k->nmed > 0) {
            char style[96];
            snprintf(style, sizeof style, "fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"",
                     palette[NL_CHART_COLOR_MEDIAN]);
            svg_path(f, &a, k->mx, k->my, (size_t)k->nmed, 1, 1, style);
        }
    }

    /* The legend, right of the plot. */
    if (nlg) {
        double lx = box.l + box.w + 16;
        int fit = (int)((box.h - 4) / 18), shown = nlg <= fit ? nlg : fit - 1;
        fputs("<g font-size=\"11\">\n", f);
        if (shown < nlg)
            fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">+%d more</text>\n", lx, box.t + 14 + 18.0 * shown,
                    nlg - shown);
        for (int i = 0; i < shown; i++) {
            double ly = box.t + 4 + 18.0 * i;
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", lx, ly,
                    palette[lg[i].color]);
            fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">", lx + 18, ly + 10);
            if (lg[i].name[0])
                svg_text(f, lg[i].name, chars);
            else
                fprintf(f, "series %d", lg[i].index + 1);
            fputs("</text>\n", f);
        }
        fputs("</g>\n", f);
    }
    fputs("</svg>\n", f);
    nl_free(lg);
    return 0;
}

int nl_chart_svg(const nl_chart *c, const char *path, int width, int height)
{
    if (!c) return nl_err(NL_EINVAL, "chart is NULL");
    if (!path || !*path) return nl_err(NL_EINVAL, "svg: empty path");
    if (width < 240 || width > 16384 || height < 160 || height > 16384)
        return nl_err(NL_EINVAL, "svg size %dx%d is out of range (240..16384 x 160..16384)", width, height);
    int rc = prepare(c);
    if (rc) return rc;
    return write_atomic(c, path, svg_body, width, height);
}
