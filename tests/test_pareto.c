/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_pareto.c - core/pareto against independent references: Deb's O(m n^2)
 * fast non-dominated sort for ranks and fronts, hand-computed crowding
 * distances and hypervolumes, inclusion-exclusion and unit-cell counting on
 * integer grids for hypervolumes in every dimension. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/pareto.h"
#include "core/progress.h"
#include "core/rng.h"
#include "tap.h"

/* a dominates b under sense (NULL = minimise all). */
static int dominates(const double *a, const double *b, int m, const int *sense)
{
    int strict = 0;
    for (int j = 0; j < m; j++) {
        double x = a[j], y = b[j];
        if (sense && sense[j] == NL_PARETO_MAX) {
            x = -x;
            y = -y;
        }
        if (x > y) return 0;
        if (x < y) strict = 1;
    }
    return strict;
}

/* Deb et al. (2002) fast-non-dominated-sort, as printed: domination counts
 * and dominated sets, then peeling front by front. Returns the number of fronts. */
static int64_t deb_ranks(int64_t *rank, const double *p, int64_t n, int m, const int *sense)
{
    int64_t *cnt = calloc((size_t)n + 1, sizeof *cnt);
    int64_t *sets = malloc(((size_t)n * (size_t)n + 1) * sizeof *sets);
    int64_t *slen = calloc((size_t)n + 1, sizeof *slen);
    int64_t *cur = malloc(((size_t)n + 1) * sizeof *cur), *next = malloc(((size_t)n + 1) * sizeof *next);
    int64_t nc = 0, f = 0;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < n; j++) {
            if (dominates(p + i * m, p + j * m, m, sense))
                sets[i * n + slen[i]++] = j;
            else if (dominates(p + j * m, p + i * m, m, sense))
                cnt[i]++;
        }
        if (cnt[i] == 0) {
            rank[i] = 0;
            cur[nc++] = i;
        }
    }
    while (nc > 0) {
        int64_t nn = 0;
        f++;
        for (int64_t a = 0; a < nc; a++) {
            int64_t i = cur[a];
            for (int64_t b = 0; b < slen[i]; b++) {
                int64_t j = sets[i * n + b];
                if (--cnt[j] == 0) {
                    rank[j] = f;
                    next[nn++] = j;
                }
            }
        }
        int64_t *t = cur;
        cur = next;
        next = t;
        nc = nn;
    }
    free(cnt);
    free(sets);
    free(slen);
    free(cur);
    free(next);
    return f;
}

static void fill(double *p, int64_t n, int m, nl_rng *r, int range)
{
    for (int64_t i = 0; i < n * m; i++)
        p[i] = range > 0 ? (double)nl_rng_int(r, 0, range - 1) : nl_rng_uniform(r);
}

static void test_ranks_vs_deb(void)
{
    nl_rng r;
    nl_rng_seed(&r, 42);
    static const int64_t sizes[] = { 0, 1, 2, 3, 7, 40, 300, 1200 };
    static const int ranges[] = { 2, 4, 10, 0 };
    for (int m = 1; m <= 5; m++) {
        int bad = 0, badfront = 0, badnf = 0, cases = 0;
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (size_t g = 0; g < sizeof ranges / sizeof ranges[0]; g++)
                for (int withsense = 0; withsense < 2; withsense++) {
                    int64_t n = sizes[s];
                    int sense[5];
                    for (int j = 0; j < m; j++) sense[j] = (int)nl_rng_int(&r, 0, 1);
                    const int *sp = withsense ? sense : NULL;
                    double *p = malloc(((size_t)n * (size_t)m + 1) * sizeof *p);
                    int64_t *want = malloc(((size_t)n + 1) * sizeof *want), *got = malloc(((size_t)n + 1) * sizeof *got);
                    int64_t *idx = malloc(((size_t)n + 1) * sizeof *idx);
                    fill(p, n, m, &r, ranges[g]);
                    int64_t wf = deb_ranks(want, p, n, m, sp), gf = -1, cnt = -1;
                    int rc = nl_pareto_ranks(got, &gf, p, n, m, sp, NULL, NULL);
                    int rc2 = nl_pareto_front(idx, &cnt, p, n, m, sp, NULL, NULL);
                    cases++;
                    if (rc || rc2) {
                        bad++;
                        printf("# m=%d n=%lld rc=%d %d %s\n", m, (long long)n, rc, rc2, nl_errmsg());
                    } else {
                        int64_t k = 0, diff = 0;
                        for (int64_t i = 0; i < n; i++) diff += got[i] != want[i];
                        if (diff) {
                            bad++;
                            printf("# m=%d n=%lld range=%d sense=%d: %lld ranks differ\n", m, (long long)n, ranges[g],
                                   withsense, (long long)diff);
                        }
                        if (gf != wf) badnf++;
                        for (int64_t i = 0; i < n; i++)
                            if (want[i] == 0 && (k >= cnt || idx[k++] != i)) badfront++;
                        if (k != cnt) badfront++;
                    }
                    free(p);
                    free(want);
                    free(got);
                    free(idx);
                }
        ok(bad == 0, "m=%d: ranks equal Deb's on %d random sets with ties and duplicates", m, cases);
        ok(badnf == 0, "m=%d: number of fronts equals Deb's", m);
        ok(badfront == 0, "m=%d: front() returns exactly Deb's first front, ascending", m);
    }
}

/* Many fronts, strongly correlated data, and continuous values for the m == 3 divide and conquer. */
static void test_ranks_shapes(void)
{
    nl_rng r;
    nl_rng_seed(&r, 7);
    int64_t n = 2500;
    double *p = malloc((size_t)n * 3 * sizeof *p);
    int64_t *want = malloc((size_t)n * sizeof *want), *got = malloc((size_t)n * sizeof *got);
    for (int shape = 0; shape < 3; shape++) {
        for (int64_t i = 0; i < n; i++) {
            double t = nl_rng_uniform(&r);
            for (int j = 0; j < 3; j++) {
                double e = 0.05 * nl_rng_normal(&r);
                p[i * 3 + j] = shape == 0 ? t + e : shape == 1 ? (j == 0 ? t : (1 - t) / 2) + e : floor(8 * t + e);
            }
        }
        int64_t wf = deb_ranks(want, p, n, 3, NULL), gf = 0, diff = 0;
        int rc = nl_pareto_ranks(got, &gf, p, n, 3, NULL, NULL, NULL);
        for (int64_t i = 0; i < n; i++) diff += got[i] != want[i];
        ok(rc == 0 && diff == 0 && gf == wf, "m=3 shape %d (%lld fronts): ranks equal Deb's", shape, (long long)wf);
    }
    free(p);
    free(want);
    free(got);
}

static void test_crowding(void)
{
    /* Fronts: {A(1,5), B(2,3), C(4,2), D(5,1)} and {E(6,6), F(7,5)}; G(9,9) alone.
     * B: x (4-1)/4 + y (5-2)/4 = 1.5; C: x (5-2)/4 + y (3-1)/4 = 1.25. */
    const double p[] = { 1, 5, 4, 2, 6, 6, 2, 3, 5, 1, 7, 5, 9, 9 };
    int64_t rank[7];
    double d[7];
    int64_t nf = 0;
    ok(nl_pareto_ranks(rank, &nf, p, 7, 2, NULL, NULL, NULL) == 0 && nf == 3, "crowding data has 3 fronts");
    ok(nl_pareto_crowding(d, p, 7, 2, rank) == 0, "crowding runs");
    ok(isinf(d[0]) && isinf(d[4]), "front boundary points are infinite");
    is_near(d[3], 1.5, 1e-15, "inner point B = 1.5");
    is_near(d[1], 1.25, 1e-15, "inner point C = 1.25");
    ok(isinf(d[2]) && isinf(d[5]) && isinf(d[6]), "fronts of one or two points are infinite");

    /* One front (rank NULL) with a constant objective: it contributes 0. */
    const double q[] = { 0, 1, 1, 1, 3, 1, 4, 1 };
    double e[4];
    ok(nl_pareto_crowding(e, q, 4, 2, NULL) == 0, "crowding of one front");
    is_near(e[1], 3.0 / 4, 1e-15, "constant objective adds nothing (1)");
    is_near(e[2], 3.0 / 4, 1e-15, "constant objective adds nothing (2)");
    ok(isinf(e[0]) && isinf(e[3]), "extremes infinite");

    /* Ties: equal values are ordered by index, so of two copies the first is the boundary. */
    const double t[] = { 0, 0, 2, 2, 0, 0, 1, 1 };
    double c[4];
    ok(nl_pareto_crowding(c, t, 4, 2, NULL) == 0, "crowding with duplicates");
    ok(isinf(c[0]) && isinf(c[1]) && !isinf(c[2]), "first copy is the boundary, the second is inner");
    is_near(c[2], (1.0 - 0) / 2 * 2, 1e-15, "inner copy: (1 - 0)/2 per objective");
    is_near(c[3], (2.0 - 0) / 2 * 2, 1e-15, "middle point: (2 - 0)/2 per objective");
}

/* Inclusion-exclusion over all subsets: exact for small n. */
static double hv_ie(const double *p, int n, int m, const double *ref, const int *sense)
{
    double total = 0;
    for (unsigned s = 1; s < (1u << n); s++) {
        double vol = 1;
        int bits = 0;
        for (int j = 0; j < m && vol > 0; j++) {
            double worst = sense && sense[j] == NL_PARETO_MAX ? INFINITY : -INFINITY;
            for (int i = 0; i < n; i++)
                if (s & (1u << i)) {
                    double v = p[i * m + j];
                    worst = sense && sense[j] == NL_PARETO_MAX ? fmin(worst, v) : fmax(worst, v);
                }
            double side = sense && sense[j] == NL_PARETO_MAX ? worst - ref[j] : ref[j] - worst;
            vol = side > 0 ? vol * side : 0;
        }
        for (int i = 0; i < n; i++) bits += (s >> i) & 1;
        total += bits % 2 ? vol : -vol;
    }
    return total;
}

/* Unit cells [c, c+1)^m of the grid 0..g-1 covered by some point with
 * integer coordinates, reference at g in every objective. */
static double hv_cells(const double *p, int64_t n, int m, int g)
{
    int64_t cells = 1, count = 0;
    for (int j = 0; j < m; j++) cells *= g;
    for (int64_t c = 0; c < cells; c++) {
        int cc[8];
        int64_t v = c;
        for (int j = 0; j < m; j++) {
            cc[j] = (int)(v % g);
            v /= g;
        }
        for (int64_t i = 0; i < n; i++) {
            int j = 0;
            while (j < m && p[i * m + j] <= cc[j]) j++;
            if (j == m) {
                count++;
                break;
            }
        }
    }
    return (double)count;
}

static void test_hypervolume(void)
{
    double hv = -1;
    const double a[] = { 1, 3, 2, 2, 3, 1 }, ra[] = { 4, 4 };
    ok(nl_pareto_hypervolume(&hv, a, 3, 2, ra, NULL, NULL, NULL) == 0, "2-d hypervolume runs");
    is_near(hv, 6, 1e-12, "2-d staircase: 3 + 2 + 1 = 6");
    const double b[] = { 1, 3, 3, 3, 2, 2, 5, 0, 4, 1, 3, 1, 2, 2, 1, 3 }, rb[] = { 4, 4 };
    nl_pareto_hypervolume(&hv, b, 8, 2, rb, NULL, NULL, NULL);
    is_near(hv, 6, 1e-12, "2-d: dominated, duplicate and out-of-reference points add nothing");
    const double c[] = { 0.9, 3, 0.8, 2, 0.7, 1 }, rc2[] = { 0.5, 4 };
    const int accflops[] = { NL_PARETO_MAX, NL_PARETO_MIN };
    nl_pareto_hypervolume(&hv, c, 3, 2, rc2, accflops, NULL, NULL);
    is_near(hv, 0.4 * 1 + 0.3 * 1 + 0.2 * 1, 1e-12, "2-d max accuracy / min flops = 0.9");
    const double rc3[] = { 0.95, 4 };
    nl_pareto_hypervolume(&hv, c, 3, 2, rc3, accflops, NULL, NULL);
    is_near(hv, 0, 0, "no point beats the reference: 0");
    nl_pareto_hypervolume(&hv, c, 0, 2, rc3, accflops, NULL, NULL);
    is_near(hv, 0, 0, "no points: 0");

    const double d[] = { 0, 0, 0 }, rd[] = { 1, 2, 3 };
    nl_pareto_hypervolume(&hv, d, 1, 3, rd, NULL, NULL, NULL);
    is_near(hv, 6, 1e-12, "3-d single box 1*2*3");
    const double e[] = { 0, 0, 1, 1, 1, 0 }, re[] = { 2, 2, 2 };
    nl_pareto_hypervolume(&hv, e, 2, 3, re, NULL, NULL, NULL);
    is_near(hv, 4 + 2 - 1, 1e-12, "3-d two boxes minus their unit overlap = 5");
    const double f[] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 }, rf[] = { 2, 2, 2 };
    nl_pareto_hypervolume(&hv, f, 3, 3, rf, NULL, NULL, NULL);
    is_near(hv, 3 * 4 - 3 * 2 + 1, 1e-12, "3-d three unit-offset boxes = 7");
    const int mmx[] = { NL_PARETO_MAX, NL_PARETO_MIN, NL_PARETO_MAX };
    const double g[] = { -1, 0, 0, 0, 1, 0, 0, 0, -1 }, rg[] = { -2, 2, -2 };
    nl_pareto_hypervolume(&hv, g, 3, 3, rg, mmx, NULL, NULL);
    is_near(hv, 7, 1e-12, "3-d mixed senses mirror the same boxes = 7");
    const double h1[] = { 0.5 }, r1[] = { 2 };
    nl_pareto_hypervolume(&hv, h1, 1, 1, r1, NULL, NULL, NULL);
    is_near(hv, 1.5, 1e-15, "1-d: distance to the reference");

    nl_rng r;
    nl_rng_seed(&r, 11);
    int bad = 0, cases = 0;
    for (int m = 2; m <= 6; m++)
        for (int rep = 0; rep < 40; rep++) {
            int n = (int)nl_rng_int(&r, 1, 11);
            double p[11 * 6], ref[6];
            int sense[6];
            int withsense = rep % 2;
            for (int j = 0; j < m; j++) {
                sense[j] = (int)nl_rng_int(&r, 0, 1);
                ref[j] = withsense && sense[j] == NL_PARETO_MAX ? 0.1 : 0.9;
            }
            for (int i = 0; i < n * m; i++)
                p[i] = rep % 4 < 2 ? nl_rng_uniform(&r) : 0.25 * (double)nl_rng_int(&r, 0, 4);
            double want = hv_ie(p, n, m, ref, withsense ? sense : NULL), got = -1;
            int rc = nl_pareto_hypervolume(&got, p, n, m, ref, withsense ? sense : NULL, NULL, NULL);
            cases++;
            if (rc || fabs(got - want) > 1e-12) {
                bad++;
                printf("# m=%d n=%d got %.17g want %.17g\n", m, n, got, want);
            }
        }
    ok(bad == 0, "hypervolume equals inclusion-exclusion in 2..6 objectives (%d random sets)", cases);

    bad = 0;
    static const struct {
        int m, g;
        int64_t n;
    } grid[] = { { 2, 60, 400 }, { 3, 20, 600 }, { 4, 7, 300 }, { 5, 5, 120 } };
    for (size_t t = 0; t < sizeof grid / sizeof grid[0]; t++) {
        int m = grid[t].m, gsz = grid[t].g;
        int64_t n = grid[t].n;
        double *p = malloc((size_t)n * (size_t)m * sizeof *p), ref[8];
        for (int j = 0; j < m; j++) ref[j] = gsz;
        /* Points near a simplex so that many are non-dominated; some land on the reference. */
        for (int64_t i = 0; i < n; i++) {
            double s = 0, u[8];
            for (int j = 0; j < m; j++) s += u[j] = -log(1 - nl_rng_uniform(&r));
            for (int j = 0; j < m; j++) p[i * m + j] = floor(gsz * (1 - u[j] / s) + nl_rng_int(&r, -1, 1));
            for (int j = 0; j < m; j++) p[i * m + j] = fmin(fmax(p[i * m + j], 0), gsz);
        }
        double want = hv_cells(p, n, m, gsz), got = -1;
        int rc = nl_pareto_hypervolume(&got, p, n, m, ref, NULL, NULL, NULL);
        ok(rc == 0 && got == want, "m=%d: hypervolume of %lld grid points = %g covered unit cells", m, (long long)n,
           want);
        if (got != want) printf("#   got %.17g\n", got);
        free(p);
    }
}

static int stop_at_first(void *ud, const nl_progress *pr)
{
    (void)pr;
    ++*(int *)ud;
    return 1;
}

static void test_errors(void)
{
    const double p[] = { 1, 2, NAN, 4 }, ref[] = { 5, 5 };
    int64_t rank[2], nf, idx[2], cnt;
    double hv, d[2];
    ok(nl_pareto_ranks(rank, &nf, p, 2, 0, NULL, NULL, NULL) == NL_EINVAL, "m=0 rejected");
    is_str(nl_errmsg(), "pareto: need at least 1 objective, got 0", "m=0 message");
    ok(nl_pareto_ranks(rank, &nf, p, 2, 2, NULL, NULL, NULL) == NL_EINVAL, "NaN rejected by ranks");
    is_str(nl_errmsg(), "pareto: point 1 objective 0 is NaN (counting from 0)", "NaN message");
    ok(nl_pareto_front(idx, &cnt, p, 2, 2, NULL, NULL, NULL) == NL_EINVAL, "NaN rejected by front");
    ok(nl_pareto_crowding(d, p, 2, 2, NULL) == NL_EINVAL, "NaN rejected by crowding");
    ok(nl_pareto_hypervolume(&hv, p, 2, 2, ref, NULL, NULL, NULL) == NL_EINVAL, "NaN rejected by hypervolume");
    const double q[] = { 1, 2, 3, INFINITY }, badref[] = { 5, NAN };
    ok(nl_pareto_ranks(rank, &nf, q, 2, 2, NULL, NULL, NULL) == 0 && rank[0] == 0 && rank[1] == 1,
       "ranks accept infinities");
    ok(nl_pareto_hypervolume(&hv, q, 2, 2, ref, NULL, NULL, NULL) == NL_EINVAL, "infinite point rejected by hypervolume");
    is_str(nl_errmsg(), "pareto: point 1 objective 1 is infinite (counting from 0)", "infinite message");
    ok(nl_pareto_hypervolume(&hv, p, 2, 2, badref, NULL, NULL, NULL) == NL_EINVAL, "NaN reference rejected");
    is_str(nl_errmsg(), "pareto: reference objective 1 is NaN (counting from 0)", "reference message");
    const int badsense[] = { 0, 7 };
    ok(nl_pareto_ranks(rank, &nf, q, 2, 2, badsense, NULL, NULL) == NL_EINVAL, "bad sense rejected");
    is_str(nl_errmsg(), "pareto: sense[1] is 7, expected NL_PARETO_MIN or NL_PARETO_MAX", "bad sense message");
    const int64_t negrank[] = { 0, -1 };
    const double fin[] = { 1, 2, 3, 4 };
    ok(nl_pareto_crowding(d, fin, 2, 2, negrank) == NL_EINVAL, "negative rank rejected");
    is_str(nl_errmsg(), "pareto: rank of point 1 is negative (-1)", "negative rank message");

    /* Interrupts: a progress callback that stops, and the Ctrl-C flag. */
    int64_t n = 100000;
    double *big = malloc((size_t)n * 4 * sizeof *big);
    int64_t *rk = malloc((size_t)n * sizeof *rk);
    nl_rng r;
    nl_rng_seed(&r, 3);
    fill(big, n, 4, &r, 0);
    for (int m = 2; m <= 4; m++) {
        int calls = 0;
        ok(nl_pareto_ranks(rk, &nf, big, n / 4 * 4 / m, m, NULL, stop_at_first, &calls) == NL_EINTR && calls == 1,
           "m=%d: a progress callback returning non-zero stops the sort", m);
    }
    nl_interrupt_request();
    ok(nl_pareto_ranks(rk, &nf, big, n, 3, NULL, NULL, NULL) == NL_EINTR, "Ctrl-C flag stops the sort");
    ok(nl_pareto_hypervolume(&hv, big, n / 4 * 4 / 3, 3, (const double[]){ 2, 2, 2 }, NULL, NULL, NULL) == NL_EINTR,
       "Ctrl-C flag stops the hypervolume");
    is_str(nl_errmsg(), "interrupted", "interrupt message");
    nl_interrupt_clear();
    ok(nl_pareto_ranks(rk, &nf, big, n / 4 * 4 / 3, 3, NULL, NULL, NULL) == 0, "runs again once cleared");
    free(big);
    free(rk);
}

int main(void)
{
    test_ranks_vs_deb();
    test_ranks_shapes();
    test_crowding();
    test_hypervolume();
    test_errors();
    return done_testing();
}
