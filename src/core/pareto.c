/* SPDX-License-Identifier: GPL-3.0-or-later */
/* pareto.c - non-dominated sorting, first front, crowding distance and exact
 * hypervolume (see pareto.h). Written by hand: no Debian C library offers
 * Pareto ranking or hypervolume; the algorithms follow the papers named in
 * pareto.h. Every function works on a private copy with maximised objectives
 * negated, so the algorithms below only ever minimise. */
#include "core/pareto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* How many points a loop handles between interrupt checks: small enough to
 * stay far below the UI's 50 ms budget, large enough to cost nothing. */
#define CHECK_EVERY 16384

/* ------------------------------------------------------------------ sorting */

/* Index sorts need the point data as context, which qsort cannot carry; a
 * stable merge sort on int64_t indices gives deterministic order as well. */
typedef struct sort_ctx {
    const double *w; /* rows */
    int64_t stride;  /* doubles per row */
    int m;           /* dimensions compared */
    int d;           /* dimension compared first (cmp_dim) */
    const int64_t *key; /* integer key (cmp_key) */
} sort_ctx;

typedef int (*cmp_fn)(int64_t a, int64_t b, const sort_ctx *c);

static int cmp_lex(int64_t a, int64_t b, const sort_ctx *c)
{
    const double *pa = c->w + a * c->stride, *pb = c->w + b * c->stride;
    for (int j = 0; j < c->m; j++) {
        if (pa[j] < pb[j]) return -1;
        if (pa[j] > pb[j]) return 1;
    }
    return (a > b) - (a < b);
}

static int cmp_dim(int64_t a, int64_t b, const sort_ctx *c)
{
    double va = c->w[a * c->stride + c->d], vb = c->w[b * c->stride + c->d];
    if (va < vb) return -1;
    if (va > vb) return 1;
    return cmp_lex(a, b, c);
}

static int cmp_key(int64_t a, int64_t b, const sort_ctx *c)
{
    if (c->key[a] != c->key[b]) return c->key[a] < c->key[b] ? -1 : 1;
    return (a > b) - (a < b);
}

static void sort_idx(int64_t *a, int64_t n, int64_t *tmp, cmp_fn cmp, const sort_ctx *c)
{
    const int64_t run = 16;
    for (int64_t lo = 0; lo < n; lo += run) {
        int64_t hi = lo + run < n ? lo + run : n;
        for (int64_t i = lo + 1; i < hi; i++) {
            int64_t v = a[i], j = i;
            while (j > lo && cmp(a[j - 1], v, c) > 0) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = v;
        }
    }
    int64_t *src = a, *dst = tmp;
    for (int64_t width = run; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n;
            int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = cmp(src[j], src[i], c) < 0 ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        int64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, (size_t)n * sizeof *a);
}

/* --------------------------------------------------------------- validation */

static int check_args(int64_t n, int m, const int *sense)
{
    if (m < 1) return nl_err(NL_EINVAL, "pareto: need at least 1 objective, got %d", m);
    if (n < 0) return nl_err(NL_EINVAL, "pareto: negative number of points %lld", (long long)n);
    if (sense)
        for (int j = 0; j < m; j++)
            if (sense[j] != NL_PARETO_MIN && sense[j] != NL_PARETO_MAX)
                return nl_err(NL_EINVAL, "pareto: sense[%d] is %d, expected NL_PARETO_MIN or NL_PARETO_MAX",
                              j, sense[j]);
    return 0;
}

/* A private copy in *out with maximised objectives negated; NaN (and with
 * `finite`, infinities) rejected. Returns 0 or an error code. */
static int minimised_copy(double **out, const double *pts, int64_t n, int m, const int *sense, int finite)
{
    *out = NULL;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double v = pts[i * m + j];
            if (isnan(v) || (finite && isinf(v)))
                return nl_err(NL_EINVAL, "pareto: point %lld objective %d is %s (counting from 0)", (long long)i,
                              j, isnan(v) ? "NaN" : "infinite");
        }
    double *w = nl_malloc((size_t)(n ? n : 1) * (size_t)m * sizeof *w);
    if (!w) return NL_ENOMEM;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double v = pts[i * m + j];
            w[i * m + j] = sense && sense[j] == NL_PARETO_MAX ? -v : v;
        }
    *out = w;
    return 0;
}

/* ------------------------------------------------------ non-dominated sorting */

/* m == 1: equal values share a front, so the rank is the dense rank. */
static int64_t rank_1d(int64_t *rank, const double *w, int64_t n, const int64_t *order)
{
    int64_t f = -1;
    for (int64_t i = 0; i < n; i++) {
        if (i == 0 || w[order[i]] != w[order[i - 1]]) f++;
        rank[order[i]] = f;
    }
    return f + 1;
}

/* m == 2: in lexicographic order no later point dominates an earlier one, and
 * within a front y never increases, so each front's last point has its least
 * y. Front k dominates p iff that point is <= p and differs from p, and since
 * fronts are nested this predicate is true for a prefix of the fronts: binary
 * search finds p's front. */
static int rank_2d(int64_t *rank, int64_t *nf, const double *w, int64_t n, const int64_t *order,
                   nl_progress_fn fn, void *ud)
{
    double *last = nl_malloc((size_t)(n ? n : 1) * 2 * sizeof *last);
    if (!last) return NL_ENOMEM;
    int64_t f = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i % CHECK_EVERY == CHECK_EVERY - 1) {
            int rc = nl_progress_report(fn, ud, "pareto ranks", i, n);
            if (rc) {
                nl_free(last);
                return rc;
            }
        }
        int64_t p = order[i];
        double px = w[2 * p], py = w[2 * p + 1];
        int64_t lo = 0, hi = f;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            double lx = last[2 * mid], ly = last[2 * mid + 1];
            if (ly < py || (ly == py && lx < px))
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == f) f++;
        last[2 * lo] = px;
        last[2 * lo + 1] = py;
        rank[p] = lo;
    }
    nl_free(last);
    *nf = f;
    return 0;
}

/* m == 3: rank(p) = 1 + max rank of the points that dominate p. On distinct
 * points in lexicographic order the dominators of p are exactly the earlier
 * points with y <= p.y and z <= p.z, so the ranks are a longest-chain
 * recurrence solved by divide and conquer (left half, left-to-right
 * contribution with a max Fenwick tree over z, right half): O(n log^2 n)
 * whatever the shape of the data. */
typedef struct cdq {
    const double *y, *z;
    const int64_t *zr; /* 1-based compressed z rank */
    int64_t *rk;       /* rank so far */
    int64_t *ylist;    /* ids of a segment sorted by (y, id) */
    int64_t *tmp;
    int64_t *bit;
    int64_t nz;
    int64_t done, total;
    nl_progress_fn fn;
    void *ud;
} cdq;

static int cdq_solve(cdq *s, int64_t l, int64_t r)
{
    int64_t len = r - l;
    if (len <= 32) {
        for (int64_t i = l + 1; i < r; i++)
            for (int64_t j = l; j < i; j++)
                if (s->y[j] <= s->y[i] && s->z[j] <= s->z[i] && s->rk[j] + 1 > s->rk[i]) s->rk[i] = s->rk[j] + 1;
        s->done += len;
        if (s->done >= CHECK_EVERY) {
            s->total += s->done;
            s->done = 0;
            return nl_progress_report(s->fn, s->ud, "pareto ranks", s->total, 0);
        }
        return 0;
    }
    int64_t mid = l + len / 2, a = l, b = mid;
    for (int64_t i = l; i < r; i++) {
        int64_t id = s->ylist[i];
        if (id < mid)
            s->tmp[a++] = id;
        else
            s->tmp[b++] = id;
    }
    memcpy(s->ylist + l, s->tmp + l, (size_t)len * sizeof *s->ylist);
    int rc = cdq_solve(s, l, mid);
    if (rc) return rc;

    a = l;
    for (int64_t i = mid; i < r; i++) {
        int64_t p = s->ylist[i];
        while (a < mid && s->y[s->ylist[a]] <= s->y[p]) {
            int64_t q = s->ylist[a++], v = s->rk[q] + 1;
            for (int64_t k = s->zr[q]; k <= s->nz; k += k & -k)
                if (s->bit[k] < v) s->bit[k] = v;
        }
        int64_t best = 0;
        for (int64_t k = s->zr[p]; k > 0; k -= k & -k)
            if (s->bit[k] > best) best = s->bit[k];
        if (best > s->rk[p]) s->rk[p] = best;
    }
    for (int64_t i = l; i < a; i++)
        for (int64_t k = s->zr[s->ylist[i]]; k <= s->nz; k += k & -k) s->bit[k] = 0;

    rc = cdq_solve(s, mid, r);
    if (rc) return rc;

    /* Restore the (y, id) order of the whole segment for the caller. */
    int64_t i = l, j = mid, k = l;
    while (i < mid && j < r) {
        int64_t u = s->ylist[i], v = s->ylist[j];
        s->tmp[k++] = (s->y[v] < s->y[u] || (s->y[v] == s->y[u] && v < u)) ? s->ylist[j++] : s->ylist[i++];
    }
    while (i < mid) s->tmp[k++] = s->ylist[i++];
    while (j < r) s->tmp[k++] = s->ylist[j++];
    memcpy(s->ylist + l, s->tmp + l, (size_t)len * sizeof *s->ylist);
    return 0;
}

static int rank_3d(int64_t *rank, int64_t *nf, const double *w, int64_t n, const int64_t *order,
                   nl_progress_fn fn, void *ud)
{
    size_t sz = (size_t)(n ? n : 1);
    int64_t *rep = nl_malloc(sz * sizeof *rep);
    double *y = nl_malloc(sz * sizeof *y), *z = nl_malloc(sz * sizeof *z);
    int64_t *zr = nl_malloc(sz * sizeof *zr), *rk = nl_calloc(sz, sizeof *rk);
    int64_t *ylist = nl_malloc(sz * sizeof *ylist), *tmp = nl_malloc(sz * sizeof *tmp);
    int64_t *bit = nl_calloc(sz + 1, sizeof *bit);
    int rc = NL_ENOMEM;
    if (!rep || !y || !z || !zr || !rk || !ylist || !tmp || !bit) goto out;

    /* Equal points share a front; rank one copy of each. */
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++) {
        const double *p = w + 3 * order[i];
        const double *o = i > 0 ? w + 3 * order[i - 1] : NULL;
        if (!o || p[0] != o[0] || p[1] != o[1] || p[2] != o[2]) {
            y[u] = p[1];
            z[u] = p[2];
            u++;
        }
        rep[i] = u - 1;
    }
    /* Compress z and order the distinct points by (y, id). */
    sort_ctx cz = { z, 1, 1, 0, NULL }, cy = { y, 1, 1, 0, NULL };
    for (int64_t i = 0; i < u; i++) ylist[i] = i;
    sort_idx(ylist, u, tmp, cmp_dim, &cz);
    int64_t nz = 0;
    for (int64_t i = 0; i < u; i++) {
        if (i == 0 || z[ylist[i]] != z[ylist[i - 1]]) nz++;
        zr[ylist[i]] = nz;
    }
    for (int64_t i = 0; i < u; i++) ylist[i] = i;
    sort_idx(ylist, u, tmp, cmp_dim, &cy);

    cdq s = { y, z, zr, rk, ylist, tmp, bit, nz, 0, 0, fn, ud };
    rc = cdq_solve(&s, 0, u);
    if (rc) goto out;
    int64_t f = 0;
    for (int64_t i = 0; i < n; i++) {
        rank[order[i]] = rk[rep[i]];
        if (rk[rep[i]] + 1 > f) f = rk[rep[i]] + 1;
    }
    *nf = f;
out:
    nl_free(rep);
    nl_free(y);
    nl_free(z);
    nl_free(zr);
    nl_free(rk);
    nl_free(ylist);
    nl_free(tmp);
    nl_free(bit);
    return rc;
}

/* m >= 4: ENS-BS. Points arrive in lexicographic order, so a point is only
 * compared with earlier ones; front membership is monotone over the fronts
 * (as in rank_2d), so a binary search over fronts finds the first front that
 * holds no dominator. With `first_only`, only front 0 is kept and every
 * dominated point gets rank 1. */
typedef struct front_list {
    int64_t *ids;
    int64_t len, cap;
} front_list;

static int dominated_by(const front_list *fl, const double *w, int m, int64_t p)
{
    const double *pp = w + p * m;
    for (int64_t t = fl->len - 1; t >= 0; t--) {
        const double *q = w + fl->ids[t] * m;
        int le = 1, lt = 0;
        for (int j = 0; j < m; j++) {
            if (q[j] > pp[j]) {
                le = 0;
                break;
            }
            if (q[j] < pp[j]) lt = 1;
        }
        if (le && lt) return 1;
    }
    return 0;
}

static int front_push(front_list *fl, int64_t p)
{
    if (fl->len == fl->cap) {
        int64_t cap = fl->cap ? 2 * fl->cap : 16;
        int64_t *ids = nl_realloc(fl->ids, (size_t)cap * sizeof *ids);
        if (!ids) return NL_ENOMEM;
        fl->ids = ids;
        fl->cap = cap;
    }
    fl->ids[fl->len++] = p;
    return 0;
}

static int same_point(const double *a, const double *b, int m)
{
    for (int j = 0; j < m; j++)
        if (a[j] != b[j]) return 0;
    return 1;
}

static int rank_ens(int64_t *rank, int64_t *nf, const double *w, int64_t n, int m, const int64_t *order,
                    int first_only, nl_progress_fn fn, void *ud)
{
    front_list *fr = nl_calloc((size_t)(n ? n : 1), sizeof *fr);
    if (!fr) return NL_ENOMEM;
    int64_t f = 0;
    int rc = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (i % CHECK_EVERY == CHECK_EVERY - 1 && (rc = nl_progress_report(fn, ud, "pareto ranks", i, n))) break;
        int64_t p = order[i], k;
        if (i > 0 && same_point(w + p * m, w + order[i - 1] * m, m)) {
            /* A copy of the previous point has exactly its dominators. */
            k = rank[order[i - 1]];
        } else {
            int64_t lo = 0, hi = first_only && f > 1 ? 1 : f;
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (dominated_by(&fr[mid], w, m, p))
                    lo = mid + 1;
                else
                    hi = mid;
            }
            k = lo;
        }
        rank[p] = k;
        if (first_only && k > 0) continue;
        if (k == f) f++;
        rc = front_push(&fr[k], p);
    }
    for (int64_t k = 0; k < f; k++) nl_free(fr[k].ids);
    nl_free(fr);
    if (!rc) *nf = f;
    return rc;
}

static int do_ranks(int64_t *rank, int64_t *nfronts, const double *pts, int64_t n, int m, const int *sense,
                    int first_only, nl_progress_fn fn, void *ud)
{
    int rc = check_args(n, m, sense);
    if (rc) return rc;
    double *w = NULL;
    int64_t *order = NULL, *tmp = NULL, nf = 0;
    if ((rc = minimised_copy(&w, pts, n, m, sense, 0))) return rc;
    order = nl_malloc((size_t)(n ? n : 1) * sizeof *order);
    tmp = nl_malloc((size_t)(n ? n : 1) * sizeof *tmp);
    if (!order || !tmp) {
        rc = NL_ENOMEM;
        goto out;
    }
    for (int64_t i = 0; i < n; i++) order[i] = i;
    sort_ctx c = { w, m, m, 0, NULL };
    sort_idx(order, n, tmp, cmp_lex, &c);
    if (m == 1)
        nf = rank_1d(rank, w, n, order);
    else if (m == 2)
        rc = rank_2d(rank, &nf, w, n, order, fn, ud);
    else if (m == 3)
        rc = rank_3d(rank, &nf, w, n, order, fn, ud);
    else
        rc = rank_ens(rank, &nf, w, n, m, order, first_only, fn, ud);
    if (!rc && nfronts) *nfronts = nf;
out:
    nl_free(w);
    nl_free(order);
    nl_free(tmp);
    return rc;
}

int nl_pareto_ranks(int64_t *rank, int64_t *nfronts, const double *pts, int64_t n, int m,
                    const int *sense, nl_progress_fn fn, void *ud)
{
    return do_ranks(rank, nfronts, pts, n, m, sense, 0, fn, ud);
}

int nl_pareto_front(int64_t *idx, int64_t *count, const double *pts, int64_t n, int m,
                    const int *sense, nl_progress_fn fn, void *ud)
{
    int64_t *rank = nl_malloc((size_t)(n > 0 ? n : 1) * sizeof *rank);
    if (!rank) return NL_ENOMEM;
    int rc = do_ranks(rank, NULL, pts, n, m, sense, 1, fn, ud);
    if (!rc) {
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++)
            if (rank[i] == 0) idx[k++] = i;
        *count = k;
    }
    nl_free(rank);
    return rc;
}

/* ----------------------------------------------------------------- crowding */

int nl_pareto_crowding(double *dist, const double *pts, int64_t n, int m, const int64_t *rank)
{
    int rc = check_args(n, m, NULL);
    if (rc) return rc;
    for (int64_t i = 0; i < n; i++) {
        if (rank && rank[i] < 0)
            return nl_err(NL_EINVAL, "pareto: rank of point %lld is negative (%lld)", (long long)i,
                          (long long)rank[i]);
        for (int j = 0; j < m; j++)
            if (!isfinite(pts[i * m + j]))
                return nl_err(NL_EINVAL, "pareto: point %lld objective %d is %s (counting from 0)", (long long)i,
                              j, isnan(pts[i * m + j]) ? "NaN" : "infinite");
    }
    size_t sz = (size_t)(n ? n : 1);
    int64_t *byfront = nl_malloc(sz * sizeof *byfront), *mem = nl_malloc(sz * sizeof *mem);
    int64_t *tmp = nl_malloc(sz * sizeof *tmp);
    if (!byfront || !mem || !tmp) {
        rc = NL_ENOMEM;
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        byfront[i] = i;
        dist[i] = 0;
    }
    if (rank) {
        sort_ctx ck = { NULL, 0, 0, 0, rank };
        sort_idx(byfront, n, tmp, cmp_key, &ck);
    }
    for (int64_t s = 0; s < n;) {
        int64_t e = s + 1;
        while (e < n && (!rank || rank[byfront[e]] == rank[byfront[s]])) e++;
        int64_t k = e - s;
        if (k <= 2) {
            for (int64_t i = s; i < e; i++) dist[byfront[i]] = INFINITY;
        } else {
            for (int j = 0; j < m; j++) {
                memcpy(mem, byfront + s, (size_t)k * sizeof *mem);
                sort_ctx c = { pts, m, 0, j, NULL };
                /* cmp_dim with m == 0 in the lexicographic tie-break leaves ties to the index. */
                sort_idx(mem, k, tmp, cmp_dim, &c);
                double lo = pts[mem[0] * m + j], hi = pts[mem[k - 1] * m + j];
                dist[mem[0]] = INFINITY;
                dist[mem[k - 1]] = INFINITY;
                if (hi > lo)
                    for (int64_t i = 1; i < k - 1; i++)
                        dist[mem[i]] += (pts[mem[i + 1] * m + j] - pts[mem[i - 1] * m + j]) / (hi - lo);
            }
        }
        s = e;
    }
out:
    nl_free(byfront);
    nl_free(mem);
    nl_free(tmp);
    return rc;
}

/* -------------------------------------------------------------- hypervolume */

typedef struct hv_ctx {
    nl_progress_fn fn;
    void *ud;
    int64_t steps;
} hv_ctx;

static int hv_tick(hv_ctx *h, int64_t k)
{
    h->steps += k;
    if (h->steps < CHECK_EVERY) return 0;
    h->steps = 0;
    return nl_progress_report(h->fn, h->ud, "hypervolume", 0, 0);
}

/* 2-d: sweep in x order; each point that lowers the staircase adds the
 * rectangle between it, the reference x and the previous height. */
static int hv_2d(double *out, const double *p, int64_t n, int64_t stride, const double *ref, hv_ctx *h)
{
    int64_t *ord = nl_malloc((size_t)(n ? n : 1) * sizeof *ord), *tmp = nl_malloc((size_t)(n ? n : 1) * sizeof *tmp);
    if (!ord || !tmp) {
        nl_free(ord);
        nl_free(tmp);
        return NL_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++) ord[i] = i;
    sort_ctx c = { p, stride, 2, 0, NULL };
    sort_idx(ord, n, tmp, cmp_lex, &c);
    double area = 0, top = ref[1];
    for (int64_t i = 0; i < n; i++) {
        const double *q = p + ord[i] * stride;
        if (q[1] < top) {
            area += (ref[0] - q[0]) * (top - q[1]);
            top = q[1];
        }
    }
    nl_free(ord);
    nl_free(tmp);
    *out = area;
    return hv_tick(h, n);
}

/* 3-d: sweep in z order, keeping the 2-d staircase (x ascending, y strictly
 * descending) of the points seen and its area, updated by exactly the area a
 * new point adds. The staircase is a sorted array: binary search plus one
 * memmove per insertion, fast for the front sizes NAS produces. */
static int hv_3d(double *out, const double *p, int64_t n, int64_t stride, const double *ref, hv_ctx *h)
{
    size_t sz = (size_t)(n ? n : 1);
    int64_t *ord = nl_malloc(sz * sizeof *ord), *tmp = nl_malloc(sz * sizeof *tmp);
    double *sx = nl_malloc(sz * sizeof *sx), *sy = nl_malloc(sz * sizeof *sy);
    int rc = 0;
    if (!ord || !tmp || !sx || !sy) {
        rc = NL_ENOMEM;
        goto out;
    }
    for (int64_t i = 0; i < n; i++) ord[i] = i;
    sort_ctx c = { p, stride, 3, 2, NULL };
    sort_idx(ord, n, tmp, cmp_dim, &c);
    int64_t len = 0;
    double area = 0, vol = 0;
    for (int64_t i = 0; i < n; i++) {
        const double *q = p + ord[i] * stride;
        double px = q[0], py = q[1];
        int64_t lo = 0, hi = len;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (sx[mid] < px)
                lo = mid + 1;
            else
                hi = mid;
        }
        double prevy = lo > 0 ? sy[lo - 1] : ref[1];
        int covered = prevy <= py || (lo < len && sx[lo] == px && sy[lo] <= py);
        if (!covered) {
            hi = lo;
            while (hi < len && sy[hi] >= py) hi++;
            double add = ((lo < len ? sx[lo] : ref[0]) - px) * (prevy - py);
            for (int64_t j = lo; j < hi; j++) add += ((j + 1 < len ? sx[j + 1] : ref[0]) - sx[j]) * (sy[j] - py);
            area += add;
            int64_t tail = len - hi;
            memmove(sx + lo + 1, sx + hi, (size_t)tail * sizeof *sx);
            memmove(sy + lo + 1, sy + hi, (size_t)tail * sizeof *sy);
            sx[lo] = px;
            sy[lo] = py;
            len = lo + 1 + tail;
        }
        double znext = i + 1 < n ? p[ord[i + 1] * stride + 2] : ref[2];
        vol += area * (znext - q[2]);
        if ((rc = hv_tick(h, 1))) goto out;
    }
    *out = vol;
out:
    nl_free(ord);
    nl_free(tmp);
    nl_free(sx);
    nl_free(sy);
    return rc;
}

/* Keep one copy of each point not weakly dominated by another (m dims, rows
 * of `stride` doubles), compacted to the front of p; returns the new count
 * or a negative error. Lexicographic order means only earlier kept points can
 * dominate a later one. */
static int64_t hv_nondominated(double *p, int64_t n, int m, int64_t stride)
{
    int64_t *ord = nl_malloc((size_t)(n ? n : 1) * sizeof *ord), *tmp = nl_malloc((size_t)(n ? n : 1) * sizeof *tmp);
    int64_t *keep = nl_malloc((size_t)(n ? n : 1) * sizeof *keep);
    double *cp = nl_malloc((size_t)(n ? n : 1) * (size_t)stride * sizeof *cp);
    if (!ord || !tmp || !keep || !cp) {
        nl_free(ord);
        nl_free(tmp);
        nl_free(keep);
        nl_free(cp);
        return NL_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++) ord[i] = i;
    sort_ctx c = { p, stride, m, 0, NULL };
    sort_idx(ord, n, tmp, cmp_lex, &c);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        const double *q = p + ord[i] * stride;
        int dom = 0;
        for (int64_t t = k - 1; t >= 0 && !dom; t--) {
            const double *r = p + keep[t] * stride;
            int j = 0;
            while (j < m && r[j] <= q[j]) j++;
            dom = j == m;
        }
        if (!dom) keep[k++] = ord[i];
    }
    for (int64_t i = 0; i < k; i++) memcpy(cp + i * stride, p + keep[i] * stride, (size_t)stride * sizeof *cp);
    memcpy(p, cp, (size_t)k * (size_t)stride * sizeof *p);
    nl_free(ord);
    nl_free(tmp);
    nl_free(keep);
    nl_free(cp);
    return k;
}

/* m >= 4 (WFG with slicing): with points sorted by the last objective, the
 * volume is the sum over points of (ref_last - z_i) times the (m-1)-d volume
 * that point i adds to the points before it; that exclusive volume is its box
 * minus the volume of the "limit set" (each earlier point clipped to the box),
 * reduced to its non-dominated points. Each level drops one dimension, down
 * to hv_3d. `p` holds non-dominated points in rows of `stride` doubles. */
static int hv_wfg(double *out, const double *p, int64_t n, int m, int64_t stride, const double *ref, hv_ctx *h)
{
    if (m == 3) return hv_3d(out, p, n, stride, ref, h);
    if (m == 2) return hv_2d(out, p, n, stride, ref, h);
    size_t sz = (size_t)(n ? n : 1);
    int64_t *ord = nl_malloc(sz * sizeof *ord), *tmp = nl_malloc(sz * sizeof *tmp);
    double *lim = nl_malloc(sz * (size_t)(m - 1) * sizeof *lim);
    int rc = 0;
    if (!ord || !tmp || !lim) {
        rc = NL_ENOMEM;
        goto out;
    }
    for (int64_t i = 0; i < n; i++) ord[i] = i;
    sort_ctx c = { p, stride, m, m - 1, NULL };
    sort_idx(ord, n, tmp, cmp_dim, &c);
    double vol = 0;
    for (int64_t i = 0; i < n; i++) {
        const double *q = p + ord[i] * stride;
        double box = 1;
        for (int j = 0; j < m - 1; j++) box *= ref[j] - q[j];
        double overlap = 0;
        if (i > 0) {
            for (int64_t t = 0; t < i; t++) {
                const double *r = p + ord[t] * stride;
                for (int j = 0; j < m - 1; j++) lim[t * (m - 1) + j] = r[j] > q[j] ? r[j] : q[j];
            }
            int64_t k = hv_nondominated(lim, i, m - 1, m - 1);
            if (k < 0) {
                rc = (int)k;
                goto out;
            }
            if ((rc = hv_wfg(&overlap, lim, k, m - 1, m - 1, ref, h))) goto out;
        }
        vol += (ref[m - 1] - q[m - 1]) * (box - overlap);
        if ((rc = hv_tick(h, 1))) goto out;
    }
    *out = vol;
out:
    nl_free(ord);
    nl_free(tmp);
    nl_free(lim);
    return rc;
}

int nl_pareto_hypervolume(double *hv, const double *pts, int64_t n, int m, const double *ref,
                          const int *sense, nl_progress_fn fn, void *ud)
{
    int rc = check_args(n, m, sense);
    if (rc) return rc;
    for (int j = 0; j < m; j++)
        if (!isfinite(ref[j]))
            return nl_err(NL_EINVAL, "pareto: reference objective %d is %s (counting from 0)", j,
                          isnan(ref[j]) ? "NaN" : "infinite");
    double *w = NULL;
    if ((rc = minimised_copy(&w, pts, n, m, sense, 1))) return rc;
    double *r = nl_malloc((size_t)m * sizeof *r);
    if (!r) {
        nl_free(w);
        return NL_ENOMEM;
    }
    for (int j = 0; j < m; j++) r[j] = sense && sense[j] == NL_PARETO_MAX ? -ref[j] : ref[j];
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        int j = 0;
        while (j < m && w[i * m + j] < r[j]) j++;
        if (j == m) memmove(w + k++ * m, w + i * m, (size_t)m * sizeof *w);
    }
    hv_ctx h = { fn, ud, 0 };
    double v = 0;
    if (k == 0) {
        v = 0;
    } else if (m == 1) {
        double best = w[0];
        for (int64_t i = 1; i < k; i++)
            if (w[i] < best) best = w[i];
        v = r[0] - best;
    } else if (m == 2) {
        rc = hv_2d(&v, w, k, 2, r, &h);
    } else if (m == 3) {
        rc = hv_3d(&v, w, k, 3, r, &h);
    } else {
        int64_t kk = hv_nondominated(w, k, m, m);
        rc = kk < 0 ? (int)kk : hv_wfg(&v, w, kk, m, m, r, &h);
    }
    if (!rc) *hv = v;
    nl_free(w);
    nl_free(r);
    return rc;
}
