/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_pareto.c - times naslab's non-dominated sorting against the NSGA-II
 * reference algorithm (Deb et al. 2002, fast-non-dominated-sort) written here
 * in C and run in the same process on the same points, and times the exact
 * hypervolume of 2-d, 3-d and 4-d fronts. Usage: bench_pareto [n [hv_n]]
 * (defaults 100000 and 10000). Up to n = 30,000 the peer is the algorithm
 * as printed (domination counts n_p and stored dominated sets S_p). Beyond,
 * the stored sets would need O(n^2) memory (about 10 GB at n = 100,000), so
 * the peer keeps the counts but recomputes each S_p while peeling: still
 * O(m n^2) dominance tests as in the paper, with a larger constant. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/error.h"
#include "core/pareto.h"
#include "core/rng.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int dominates(const double *a, const double *b, int m)
{
    int strict = 0;
    for (int j = 0; j < m; j++) {
        if (a[j] > b[j]) return 0;
        if (a[j] < b[j]) strict = 1;
    }
    return strict;
}

/* Deb's fast-non-dominated-sort as printed (minimisation), S_p stored as
 * growable arrays. Returns the number of fronts. */
static int64_t deb_sort_stored(int64_t *rank, const double *p, int64_t n, int m)
{
    int32_t **set = calloc((size_t)n, sizeof *set);
    int32_t *len = calloc((size_t)n, sizeof *len), *cap = calloc((size_t)n, sizeof *cap);
    int64_t *cnt = calloc((size_t)n, sizeof *cnt);
    int64_t *cur = malloc((size_t)n * sizeof *cur), *next = malloc((size_t)n * sizeof *next);
    int64_t nc = 0, f = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            int64_t from = -1, to = -1;
            if (dominates(p + i * m, p + j * m, m)) {
                from = i;
                to = j;
            } else if (dominates(p + j * m, p + i * m, m)) {
                from = j;
                to = i;
            }
            if (from < 0) continue;
            cnt[to]++;
            if (len[from] == cap[from]) {
                cap[from] = cap[from] ? 2 * cap[from] : 8;
                set[from] = realloc(set[from], (size_t)cap[from] * sizeof **set);
            }
            set[from][len[from]++] = (int32_t)to;
        }
    for (int64_t i = 0; i < n; i++)
        if (cnt[i] == 0) {
            rank[i] = 0;
            cur[nc++] = i;
        }
    while (nc > 0) {
        int64_t nn = 0;
        f++;
        for (int64_t a = 0; a < nc; a++)
            for (int32_t b = 0; b < len[cur[a]]; b++) {
                int32_t q = set[cur[a]][b];
                if (--cnt[q] == 0) {
                    rank[q] = f;
                    next[nn++] = q;
                }
            }
        int64_t *t = cur;
        cur = next;
        next = t;
        nc = nn;
    }
    for (int64_t i = 0; i < n; i++) free(set[i]);
    free(set);
    free(len);
    free(cap);
    free(cnt);
    free(cur);
    free(next);
    return f;
}

/* The same with S_p recomputed while peeling (O(n) memory). */
static int64_t deb_sort(int64_t *rank, const double *p, int64_t n, int m)
{
    int64_t *cnt = calloc((size_t)n, sizeof *cnt);
    int64_t *rest = malloc((size_t)n * sizeof *rest), *cur = malloc((size_t)n * sizeof *cur);
    int64_t *next = malloc((size_t)n * sizeof *next);
    int64_t nc = 0, nrest = 0, f = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            if (dominates(p + i * m, p + j * m, m))
                cnt[j]++;
            else if (dominates(p + j * m, p + i * m, m))
                cnt[i]++;
        }
    for (int64_t i = 0; i < n; i++) {
        rank[i] = -1;
        if (cnt[i] == 0) {
            rank[i] = 0;
            cur[nc++] = i;
        } else {
            rest[nrest++] = i;
        }
    }
    while (nc > 0) {
        int64_t nn = 0;
        f++;
        for (int64_t a = 0; a < nc; a++) {
            const double *pp = p + cur[a] * m;
            for (int64_t b = 0; b < nrest; b++) {
                int64_t q = rest[b];
                if (rank[q] < 0 && dominates(pp, p + q * m, m) && --cnt[q] == 0) {
                    rank[q] = f;
                    next[nn++] = q;
                }
            }
        }
        int64_t k = 0;
        for (int64_t b = 0; b < nrest; b++)
            if (rank[rest[b]] < 0) rest[k++] = rest[b];
        nrest = k;
        int64_t *t = cur;
        cur = next;
        next = t;
        nc = nn;
    }
    free(cnt);
    free(rest);
    free(cur);
    free(next);
    return f;
}

enum { UNIFORM, CORRELATED, ANTI };
static const char *shape_name[] = { "uniform", "correlated", "anti-correlated" };

static void make_points(double *p, int64_t n, int m, int shape, nl_rng *r)
{
    for (int64_t i = 0; i < n; i++) {
        double t = nl_rng_uniform(r), s = 0;
        for (int j = 0; j < m; j++) {
            double u = nl_rng_uniform(r);
            if (shape == UNIFORM) p[i * m + j] = u;
            if (shape == CORRELATED) p[i * m + j] = t + 0.05 * u;
            if (shape == ANTI) s += p[i * m + j] = -log(1 - u);
        }
        /* Near the simplex sum = 1: few, large fronts. */
        if (shape == ANTI)
            for (int j = 0; j < m; j++) p[i * m + j] = p[i * m + j] / s + 0.01 * nl_rng_uniform(r);
    }
}

static void bench_sort(int64_t n, int m, int shape)
{
    nl_rng r;
    nl_rng_seed(&r, 2024 + (uint64_t)(10 * m + shape));
    double *p = malloc((size_t)n * (size_t)m * sizeof *p);
    int64_t *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    make_points(p, n, m, shape, &r);
    int64_t fa = 0;
    double t0 = now();
    int rc = nl_pareto_ranks(a, &fa, p, n, m, NULL, NULL, NULL);
    double t1 = now();
    int stored = n <= 30000;
    int64_t fb = stored ? deb_sort_stored(b, p, n, m) : deb_sort(b, p, n, m);
    double t2 = now();
    int64_t diff = 0;
    for (int64_t i = 0; i < n; i++) diff += a[i] != b[i];
    if (rc) printf("naslab failed: %s\n", nl_errmsg());
    printf("sort m=%d %-16s n=%-7lld fronts=%-6lld naslab %9.4f s   deb(S_p %s) %9.3f s   ratio %8.1fx   %s\n",
           m, shape_name[shape], (long long)n, (long long)fa, t1 - t0, stored ? "stored" : "recomputed", t2 - t1,
           (t2 - t1) / (t1 - t0),
           diff == 0 && fa == fb ? "ranks agree" : "RANKS DIFFER");
    free(p);
    free(a);
    free(b);
}

static void bench_hv(int64_t n, int m)
{
    nl_rng r;
    nl_rng_seed(&r, 77 + (uint64_t)m);
    double *p = malloc((size_t)n * (size_t)m * sizeof *p), ref[8];
    /* Points on the positive unit sphere: all mutually non-dominated. */
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < m; j++) {
            double g = fabs(nl_rng_normal(&r));
            p[i * m + j] = g;
            s += g * g;
        }
        for (int j = 0; j < m; j++) p[i * m + j] /= sqrt(s);
    }
    for (int j = 0; j < m; j++) ref[j] = 1;
    double hv = 0, t0 = now();
    int rc = nl_pareto_hypervolume(&hv, p, n, m, ref, NULL, NULL, NULL);
    double t1 = now();
    if (rc) printf("naslab failed: %s\n", nl_errmsg());
    printf("hypervolume m=%d front of n=%-6lld points on the unit sphere: %9.4f s   hv=%.9f\n", m, (long long)n,
           t1 - t0, hv);
    free(p);
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 100000, hn = argc > 2 ? atoll(argv[2]) : 10000;
    printf("# non-dominated sorting: naslab nl_pareto_ranks vs Deb's fast-non-dominated-sort in C (same run)\n");
    bench_sort(n, 2, UNIFORM);
    bench_sort(n, 3, UNIFORM);
    bench_sort(n, 2, CORRELATED);
    bench_sort(n, 3, CORRELATED);
    bench_sort(n, 3, ANTI);
    printf("# exact hypervolume, naslab only\n");
    bench_hv(hn, 2);
    bench_hv(hn, 3);
    bench_hv(hn / 10, 4);
    return 0;
}
