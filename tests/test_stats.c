/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_stats.c - checks src/core/stats against independent references written
 * here: O(n^2) pair counting for Kendall's tau, contingency tables for a
 * million tied pairs, textbook formulas for Pearson and Spearman, brute-force
 * enumeration of every tie break for top-k precision and NDCG, and textbook
 * examples with known values. Also every error message, exactly. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/stats.h"
#include "tap.h"

/* ---------------------------------------------------------------- references */

static int sgn(double d) { return (d > 0) - (d < 0); }

/* Kendall tau by looking at every pair; NaN for tau-b when undefined. */
static double ref_kendall(const double *x, const double *y, size_t n, int variant)
{
    long long c = 0, d = 0, tx = 0, ty = 0, p = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            int s = sgn(x[i] - x[j]) * sgn(y[i] - y[j]);
            p++;
            if (s > 0) c++;
            if (s < 0) d++;
            if (x[i] == x[j]) tx++;
            if (y[i] == y[j]) ty++;
        }
    if (variant == NL_TAU_A) return (double)(c - d) / (double)p;
    if (tx == p || ty == p) return NAN;
    return (double)((long double)(c - d) / sqrtl((long double)(p - tx) * (long double)(p - ty)));
}

/* Average rank by counting: 1 + #smaller + (#equal - 1) / 2. */
static void ref_rank(double *r, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t less = 0, eq = 0;
        for (size_t j = 0; j < n; j++) {
            less += x[j] < x[i];
            eq += x[j] == x[i];
        }
        r[i] = 1.0 + (double)less + ((double)eq - 1.0) / 2.0;
    }
}

/* Textbook Pearson in extended precision. */
static double ref_pearson(const double *x, const double *y, size_t n)
{
    long double sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        sx += x[i];
        sy += y[i];
    }
    long double mx = sx / n, my = sy / n, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return (double)(sxy / sqrtl(sxx * syy));
}

/* Advance a[0..n) to the next permutation in lexicographic order; 0 at the end. */
static int next_perm(int *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1]) i--;
    if (i < 0) return 0;
    int j = n - 1;
    while (a[j] <= a[i]) j--;
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = a[l];
        a[l] = a[r];
        a[r] = t;
    }
    return 1;
}

/* order[0..n): items by value descending, ties by the break keys brk. */
static void order_by(int *order, const double *v, const int *brk, int n)
{
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            int a = order[j - 1], b = order[j];
            int later = v[a] < v[b] || (v[a] == v[b] && brk[a] > brk[b]);
            if (!later) break;
            order[j - 1] = b;
            order[j] = a;
        }
}

/* Mean precision over every pair of tie breaks (one for x, one for y). */
static double ref_topk_enum(const double *x, const double *y, int n, int k)
{
    int px[8], py[8], ox[8], oy[8];
    double sum = 0;
    long cases = 0;
    for (int i = 0; i < n; i++) px[i] = i;
    do {
        order_by(ox, x, px, n);
        for (int i = 0; i < n; i++) py[i] = i;
        do {
            order_by(oy, y, py, n);
            int hit = 0;
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++) hit += ox[a] == oy[b];
            sum += (double)hit / k;
            cases++;
        } while (next_perm(py, n));
    } while (next_perm(px, n));
    return sum / (double)cases;
}

/* Mean NDCG@k over every tie break of the predicted order. */
static double ref_ndcg_enum(const double *x, const double *y, int n, int k)
{
    int p[8], o[8], oi[8], zero[8] = { 0 };
    double ideal = 0, sum = 0;
    long cases = 0;
    order_by(oi, y, zero, n);
    for (int i = 0; i < k; i++) ideal += y[oi[i]] / log2(i + 2.0);
    for (int i = 0; i < n; i++) p[i] = i;
    do {
        order_by(o, x, p, n);
        double dcg = 0;
        for (int i = 0; i < k; i++) dcg += y[o[i]] / log2(i + 2.0);
        sum += dcg;
        cases++;
    } while (next_perm(p, n));
    return ideal == 0 ? NAN : sum / (double)cases / ideal;
}

/* Values drawn from m levels (m = 0: continuous), y correlated with x. */
static void fill(nl_rng *r, double *x, double *y, size_t n, int m)
{
    for (size_t i = 0; i < n; i++) {
        double u = nl_rng_uniform(r), v = 0.6 * u + 0.4 * nl_rng_uniform(r);
        x[i] = m ? floor(u * m) : u;
        y[i] = m ? floor(v * m) : v;
    }
}

/* ---------------------------------------------------------------- tests */

static void test_textbook(void)
{
    double v;
    /* scipy.stats.kendalltau's documented example: C - D = -4, 10 pairs, 2 tied
     * in x and 1 in y, so tau-b = -4 / sqrt(8 * 9) = -sqrt(2) / 3. */
    const double kx[] = { 12, 2, 1, 12, 2 }, ky[] = { 1, 4, 7, 1, 0 };
    ok(nl_stats_kendall(&v, kx, 5, ky, 5, NL_TAU_B) == 0, "kendall textbook runs");
    is_near(v, -sqrt(2.0) / 3.0, 1e-15, "tau-b textbook = -sqrt(2)/3");
    nl_stats_kendall(&v, kx, 5, ky, 5, NL_TAU_A);
    is_near(v, -0.4, 1e-15, "tau-a textbook = -4/10");

    /* Three points, one tie in x: C = 2, D = 0, tx = 1 -> 2/sqrt(2*3). */
    const double tx[] = { 1, 1, 2 }, ty[] = { 1, 2, 3 };
    nl_stats_kendall(&v, tx, 3, ty, 3, NL_TAU_B);
    is_near(v, 2.0 / sqrt(6.0), 1e-15, "tau-b with one tie");
    nl_stats_kendall(&v, tx, 3, ty, 3, NL_TAU_A);
    is_near(v, 2.0 / 3.0, 1e-15, "tau-a with one tie");

    const double up[] = { 1, 2, 3, 4 }, down[] = { 9, 7, 5, -1 };
    nl_stats_kendall(&v, up, 4, down, 4, NL_TAU_B);
    is_near(v, -1.0, 0, "reversed order gives -1");
    nl_stats_kendall(&v, up, 4, up, 4, NL_TAU_B);
    is_near(v, 1.0, 0, "same order gives 1");

    /* Spearman with a tie in y: ranks (1,2,3,4,5) and (1,2,3.5,5,3.5). */
    const double sx[] = { 1, 2, 3, 4, 5 }, sy[] = { 5, 6, 7, 8, 7 };
    ok(nl_stats_spearman(&v, sx, 5, sy, 5) == 0, "spearman runs");
    is_near(v, 0.8207826816681233, 1e-15, "spearman textbook (scipy docs)");
    /* Without ties: 1 - 6 sum d^2 / (n (n^2 - 1)), d = (0, 1, -1, 0), n = 4. */
    const double ax[] = { 10, 20, 30, 40 }, ay[] = { 1, 3, 2, 4 };
    nl_stats_spearman(&v, ax, 4, ay, 4);
    is_near(v, 1.0 - 6.0 * 2.0 / (4.0 * 15.0), 1e-15, "spearman = 1 - 6 sum d^2/(n(n^2-1))");

    const double px[] = { 1, 2, 3, 4, 5 }, py[] = { 10, 9, 2.5, 6, 4 };
    ok(nl_stats_pearson(&v, px, 5, py, 5) == 0, "pearson runs");
    is_near(v, -0.7426106572325057, 1e-15, "pearson textbook (scipy docs)");
    const double lx[] = { 0, 1, 2 }, ly[] = { 3, 5, 7 };
    nl_stats_pearson(&v, lx, 3, ly, 3);
    is_near(v, 1.0, 1e-15, "pearson of a line is 1");

    double r[6];
    const double rx[] = { 30, 10, 20, 10, 30, 30 };
    ok(nl_stats_rank(r, rx, 6) == 0, "rank runs");
    ok(r[0] == 5 && r[1] == 1.5 && r[2] == 3 && r[3] == 1.5 && r[4] == 5 && r[5] == 5,
       "average ranks of {30,10,20,10,30,30} = {5,1.5,3,1.5,5,5}");

    /* Top-3 of x is {a, b, c}, of y is {a, c, d}: 2 of 3. */
    const double qx[] = { 9, 8, 7, 1, 0 }, qy[] = { 5, 0, 4, 3, 1 };
    ok(nl_stats_topk(&v, qx, 5, qy, 5, 3) == 0, "topk runs");
    is_near(v, 2.0 / 3.0, 1e-15, "topk plain case");
    /* x ties items 2 and 3 for the 2nd place: each is in with probability 1/2;
     * y's top-2 is {1, 2}, so the expected hit count is 1 + 1/2. */
    const double hx[] = { 9, 5, 5, 1 }, hy[] = { 8, 7, 1, 0 };
    nl_stats_topk(&v, hx, 4, hy, 4, 2);
    is_near(v, 0.75, 1e-15, "topk with a tie at the boundary");

    /* NDCG: gains (3, 2, 0, 1) ranked (0, 2, 1, 3) by x.
     * DCG@4 = 3 + 0/log2 3 + 2/2 + 1/log2 5; ideal = 3 + 2/log2 3 + 1/2 + 0. */
    const double gx[] = { 4, 2, 3, 1 }, gy[] = { 3, 2, 0, 1 };
    ok(nl_stats_ndcg(&v, gx, 4, gy, 4, 4) == 0, "ndcg runs");
    is_near(v, (3 + 1 + 1 / log2(5)) / (3 + 2 / log2(3) + 0.5), 1e-15, "ndcg@4 by hand");
    nl_stats_ndcg(&v, gx, 4, gy, 4, 1);
    is_near(v, 1.0, 1e-15, "ndcg@1 when the best is first");
    nl_stats_ndcg(&v, gx, 4, gy, 4, 2);
    is_near(v, 3 / (3 + 2 / log2(3)), 1e-15, "ndcg@2 by hand");
}

static void test_undefined(void)
{
    double v = 0;
    const double c[] = { 2, 2, 2, 2 }, u[] = { 1, 2, 3, 4 }, z[] = { 0, 0, 0, 0 };
    ok(nl_stats_kendall(&v, c, 4, u, 4, NL_TAU_B) == 0 && isnan(v), "tau-b of a constant x is NaN");
    ok(nl_stats_kendall(&v, u, 4, c, 4, NL_TAU_B) == 0 && isnan(v), "tau-b of a constant y is NaN");
    ok(nl_stats_kendall(&v, c, 4, u, 4, NL_TAU_A) == 0 && v == 0, "tau-a of a constant x is 0");
    ok(nl_stats_spearman(&v, c, 4, u, 4) == 0 && isnan(v), "spearman of a constant is NaN");
    ok(nl_stats_pearson(&v, u, 4, c, 4) == 0 && isnan(v), "pearson of a constant is NaN");
    const double tenth[] = { 0.1, 0.1, 0.1 }, w[] = { 1, 2, 3 };
    ok(nl_stats_pearson(&v, tenth, 3, w, 3) == 0 && isnan(v), "pearson of a constant with a rounded mean is NaN");
    ok(nl_stats_ndcg(&v, u, 4, z, 4, 2) == 0 && isnan(v), "ndcg with all gains 0 is NaN");
    ok(nl_stats_topk(&v, c, 4, c, 4, 2) == 0, "topk all tied runs");
    is_near(v, 0.5, 1e-15, "topk all tied: expected overlap k*k/n over k");
    const double two_x[] = { 1, 2 }, two_y[] = { 5, 3 };
    nl_stats_kendall(&v, two_x, 2, two_y, 2, NL_TAU_B);
    is_near(v, -1.0, 0, "tau-b with n = 2");
    const double inf_x[] = { -INFINITY, 0, INFINITY }, inf_y[] = { 1, 2, 3 };
    ok(nl_stats_kendall(&v, inf_x, 3, inf_y, 3, NL_TAU_B) == 0 && v == 1.0, "kendall orders infinities");
    const double zx[] = { -0.0, 0.0, 1 }, zy[] = { 1, 2, 3 };
    nl_stats_kendall(&v, zx, 3, zy, 3, NL_TAU_B);
    is_near(v, 2.0 / sqrt(6.0), 1e-15, "-0 and +0 are tied, as they compare equal");
    double zr[3];
    nl_stats_rank(zr, zx, 3);
    ok(zr[0] == 1.5 && zr[1] == 1.5 && zr[2] == 3, "-0 and +0 share a rank");
    ok(nl_stats_spearman(&v, inf_x, 3, inf_y, 3) == 0, "spearman accepts infinities");
    is_near(v, 1.0, 1e-15, "spearman orders infinities");
}

static void test_kendall_random(void)
{
    nl_rng r;
    nl_rng_seed(&r, 2024);
    static const size_t sizes[] = { 2, 3, 4, 5, 7, 23, 24, 25, 47, 48, 49, 97, 100, 257, 1000, 2001 };
    static const int levels[] = { 2, 3, 10, 1000, 0 };
    double *x = malloc(2001 * sizeof *x), *y = malloc(2001 * sizeof *y);
    int worst_ok = 1, nan_ok = 1, cases = 0;
    double worst = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t li = 0; li < sizeof levels / sizeof levels[0]; li++)
            for (int rep = 0; rep < 4; rep++) {
                size_t n = sizes[si];
                fill(&r, x, y, n, levels[li]);
                for (int variant = NL_TAU_B; variant <= NL_TAU_A; variant++) {
                    double got, want = ref_kendall(x, y, n, variant);
                    if (nl_stats_kendall(&got, x, n, y, n, variant) != 0) worst_ok = 0;
                    if (isnan(want) || isnan(got)) {
                        nan_ok &= isnan(want) && isnan(got);
                    } else if (fabs(got - want) > worst) {
                        worst = fabs(got - want);
                    }
                    cases++;
                }
            }
    ok(worst_ok, "kendall succeeds on %d random cases (n = 2..2001, 2..1000 levels and continuous)", cases);
    ok(worst <= 1e-12, "tau-a and tau-b match O(n^2) pair counting to 1e-12 (worst %.3g)", worst);
    ok(nan_ok, "kendall is NaN exactly where the reference is");
    free(x);
    free(y);
}

/* A million pairs on a 10 x 10 grid: C, D and ties follow exactly from the
 * contingency table, which exercises the 64-bit counts and the merge passes. */
static void test_kendall_large(void)
{
    const size_t n = 1000003;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    long long tab[10][10] = { { 0 } };
    nl_rng r;
    nl_rng_seed(&r, 99);
    for (size_t i = 0; i < n; i++) {
        int a = (int)nl_rng_below(&r, 10);
        int b = (a + (int)nl_rng_below(&r, 4)) % 10;
        x[i] = a;
        y[i] = b;
        tab[a][b]++;
    }
    long double c = 0, d = 0, tx = 0, ty = 0;
    for (int a = 0; a < 10; a++) {
        long long row = 0;
        for (int b = 0; b < 10; b++) row += tab[a][b];
        tx += (long double)row * (row - 1) / 2;
        for (int b = 0; b < 10; b++)
            for (int a2 = a + 1; a2 < 10; a2++)
                for (int b2 = 0; b2 < 10; b2++) {
                    if (b2 > b) c += (long double)tab[a][b] * tab[a2][b2];
                    if (b2 < b) d += (long double)tab[a][b] * tab[a2][b2];
                }
    }
    for (int b = 0; b < 10; b++) {
        long long col = 0;
        for (int a = 0; a < 10; a++) col += tab[a][b];
        ty += (long double)col * (col - 1) / 2;
    }
    long double p = (long double)n * (n - 1) / 2;
    double want_b = (double)((c - d) / sqrtl((p - tx) * (p - ty))), want_a = (double)((c - d) / p), got;
    ok(nl_stats_kendall(&got, x, n, y, n, NL_TAU_B) == 0, "kendall on 1,000,003 tied pairs");
    is_near(got, want_b, 1e-12, "tau-b matches the contingency table");
    nl_stats_kendall(&got, x, n, y, n, NL_TAU_A);
    is_near(got, want_a, 1e-12, "tau-a matches the contingency table");
    free(x);
    free(y);
}

static void test_rank_corr_random(void)
{
    nl_rng r;
    nl_rng_seed(&r, 7);
    static const size_t sizes[] = { 2, 3, 5, 24, 25, 49, 300, 1500 };
    static const int levels[] = { 2, 7, 100, 0 };
    double *x = malloc(1500 * sizeof *x), *y = malloc(1500 * sizeof *y);
    double *rx = malloc(1500 * sizeof *rx), *ry = malloc(1500 * sizeof *ry), *got = malloc(1500 * sizeof *got);
    double ws = 0, wp = 0, wn = 0;
    int rank_ok = 1, okall = 1;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t li = 0; li < sizeof levels / sizeof levels[0]; li++)
            for (int rep = 0; rep < 3; rep++) {
                size_t n = sizes[si];
                fill(&r, x, y, n, levels[li]);
                if (levels[li]) /* shift far from 0 to test the mean */
                    for (size_t i = 0; i < n; i++) x[i] = x[i] * 0.37 + 1e6;
                ref_rank(rx, x, n);
                ref_rank(ry, y, n);
                okall &= nl_stats_rank(got, x, n) == 0;
                for (size_t i = 0; i < n; i++) rank_ok &= got[i] == rx[i];
                double v;
                if (isnan(ref_pearson(rx, ry, n))) continue;
                okall &= nl_stats_spearman(&v, x, n, y, n) == 0;
                ws = fmax(ws, fabs(v - ref_pearson(rx, ry, n)));
                okall &= nl_stats_pearson(&v, x, n, y, n) == 0;
                wp = fmax(wp, fabs(v - ref_pearson(x, y, n)));
                if (!levels[li]) { /* no ties: the classic d^2 formula */
                    long double d2 = 0;
                    for (size_t i = 0; i < n; i++) d2 += (rx[i] - ry[i]) * (rx[i] - ry[i]);
                    double classic = (double)(1 - 6 * d2 / ((long double)n * ((long double)n * n - 1)));
                    nl_stats_spearman(&v, x, n, y, n);
                    wn = fmax(wn, fabs(v - classic));
                }
            }
    ok(okall, "rank, spearman and pearson succeed on random data");
    ok(rank_ok, "average ranks equal counting ranks exactly");
    ok(ws <= 1e-12, "spearman = pearson of counting ranks (worst %.3g)", ws);
    ok(wn <= 1e-12, "spearman = 1 - 6 sum d^2/(n(n^2-1)) without ties (worst %.3g)", wn);
    ok(wp <= 1e-12, "pearson matches the extended-precision formula (worst %.3g)", wp);
    free(x);
    free(y);
    free(rx);
    free(ry);
    free(got);
}

static void test_topk_ndcg_random(void)
{
    nl_rng r;
    nl_rng_seed(&r, 11);
    double x[5], y[5], wt = 0, wn = 0;
    int okall = 1, cases = 0;
    for (int n = 1; n <= 5; n++)
        for (int m = 1; m <= 4; m++)
            for (int rep = 0; rep < 6; rep++) {
                for (int i = 0; i < n; i++) {
                    x[i] = (double)nl_rng_below(&r, (uint64_t)m);
                    y[i] = (double)nl_rng_below(&r, (uint64_t)m + 1);
                }
                for (int k = 1; k <= n; k++) {
                    double v, want = ref_topk_enum(x, y, n, k);
                    okall &= nl_stats_topk(&v, x, (size_t)n, y, (size_t)n, k) == 0;
                    wt = fmax(wt, fabs(v - want));
                    want = ref_ndcg_enum(x, y, n, k);
                    okall &= nl_stats_ndcg(&v, x, (size_t)n, y, (size_t)n, k) == 0;
                    if (isnan(want) || isnan(v))
                        okall &= isnan(want) && isnan(v);
                    else
                        wn = fmax(wn, fabs(v - want));
                    cases++;
                }
            }
    ok(okall, "topk and ndcg succeed, NaN where the reference is (%d cases, n = 1..5)", cases);
    ok(wt <= 1e-12, "topk equals the mean over every pair of tie breaks (worst %.3g)", wt);
    ok(wn <= 1e-12, "ndcg equals the mean over every tie break (worst %.3g)", wn);

    /* Larger, without ties: membership by counting larger values. */
    enum { N = 500 };
    static double bx[N], by[N];
    fill(&r, bx, by, N, 0);
    double worst = 0;
    for (int k = 1; k <= N; k += 37) {
        int hit = 0;
        double dcg = 0, ideal = 0;
        for (int i = 0; i < N; i++) {
            int ax = 0, ay = 0;
            for (int j = 0; j < N; j++) {
                ax += bx[j] > bx[i];
                ay += by[j] > by[i];
            }
            hit += ax < k && ay < k;
            if (ax < k) dcg += by[i] / log2(ax + 2.0);
            if (ay < k) ideal += by[i] / log2(ay + 2.0);
        }
        double v;
        nl_stats_topk(&v, bx, N, by, N, k);
        worst = fmax(worst, fabs(v - (double)hit / k));
        nl_stats_ndcg(&v, bx, N, by, N, k);
        worst = fmax(worst, fabs(v - dcg / ideal));
    }
    ok(worst <= 1e-12, "topk and ndcg match counting on 500 untied values (worst %.3g)", worst);
}

static void test_errors(void)
{
    double v = 42, r[3];
    const double a[] = { 1, 2, 3, 4, 5 }, b[] = { 1, 2, 3, 4 }, nanv[] = { 1, 2, NAN, 4 };
    const double inf4[] = { 1, INFINITY, 3, 4 }, neg[] = { 1, 2, -0.5, 4 };

    is_int(nl_stats_kendall(&v, a, 5, b, 4, NL_TAU_B), NL_EINVAL, "kendall length mismatch code");
    is_str(nl_errmsg(), "x has 5 values but y has 4", "kendall length mismatch message");
    is_int(nl_stats_kendall(&v, a, 0, b, 0, NL_TAU_B), NL_EINVAL, "kendall empty code");
    is_str(nl_errmsg(), "x is empty", "kendall empty message");
    nl_stats_kendall(&v, a, 1, b, 1, NL_TAU_B);
    is_str(nl_errmsg(), "kendall needs at least 2 values, got 1", "kendall n = 1");
    nl_stats_kendall(&v, nanv, 4, b, 4, NL_TAU_B);
    is_str(nl_errmsg(), "x[3] is NaN", "kendall NaN in x, 1-based");
    nl_stats_kendall(&v, b, 4, nanv, 4, NL_TAU_A);
    is_str(nl_errmsg(), "y[3] is NaN", "kendall NaN in y");
    is_int(nl_stats_kendall(&v, b, 4, b, 4, 7), NL_EINVAL, "kendall bad variant code");
    is_str(nl_errmsg(), "unknown Kendall tau variant 7", "kendall bad variant message");
    ok(v == 42, "failed calls leave the result alone");

    nl_stats_spearman(&v, a, 4, b, 3);
    is_str(nl_errmsg(), "x has 4 values but y has 3", "spearman length mismatch");
    nl_stats_spearman(&v, a, 1, b, 1);
    is_str(nl_errmsg(), "spearman needs at least 2 values, got 1", "spearman n = 1");
    nl_stats_spearman(&v, b, 4, nanv, 4);
    is_str(nl_errmsg(), "y[3] is NaN", "spearman NaN");

    nl_stats_pearson(&v, a, 0, b, 4);
    is_str(nl_errmsg(), "x is empty", "pearson empty x");
    nl_stats_pearson(&v, a, 1, b, 1);
    is_str(nl_errmsg(), "pearson needs at least 2 values, got 1", "pearson n = 1");
    nl_stats_pearson(&v, inf4, 4, b, 4);
    is_str(nl_errmsg(), "x[2] is infinite", "pearson infinity");

    is_int(nl_stats_rank(r, a, 0), NL_EINVAL, "rank empty code");
    is_str(nl_errmsg(), "x is empty", "rank empty message");
    nl_stats_rank(r, nanv, 3);
    is_str(nl_errmsg(), "x[3] is NaN", "rank NaN");

    is_int(nl_stats_topk(&v, b, 4, b, 4, 0), NL_ERANGE, "topk k = 0 code");
    is_str(nl_errmsg(), "k must be in 1..4, got 0", "topk k = 0 message");
    nl_stats_topk(&v, b, 4, b, 4, 5);
    is_str(nl_errmsg(), "k must be in 1..4, got 5", "topk k > n");
    nl_stats_topk(&v, b, 4, b, 4, -3);
    is_str(nl_errmsg(), "k must be in 1..4, got -3", "topk k < 0");
    nl_stats_topk(&v, a, 5, b, 4, 1);
    is_str(nl_errmsg(), "x has 5 values but y has 4", "topk length mismatch");
    nl_stats_topk(&v, a, 0, b, 0, 1);
    is_str(nl_errmsg(), "x is empty", "topk empty");
    nl_stats_topk(&v, nanv, 4, b, 4, 1);
    is_str(nl_errmsg(), "x[3] is NaN", "topk NaN");

    nl_stats_ndcg(&v, b, 4, neg, 4, 2);
    is_str(nl_errmsg(), "y[3] is negative", "ndcg negative gain");
    nl_stats_ndcg(&v, b, 4, inf4, 4, 2);
    is_str(nl_errmsg(), "y[2] is infinite", "ndcg infinite gain");
    nl_stats_ndcg(&v, b, 4, b, 4, 9);
    is_str(nl_errmsg(), "k must be in 1..4, got 9", "ndcg k > n");
    nl_stats_ndcg(&v, b, 4, a, 5, 1);
    is_str(nl_errmsg(), "x has 4 values but y has 5", "ndcg length mismatch");

    is_int(nl_stats_check("f", "w", a, 1, 2, 0), NL_EINVAL, "check code");
    is_str(nl_errmsg(), "f needs at least 2 values, got 1", "check min_n");
    is_int(nl_stats_check("f", "w", inf4, 4, 1, 0), 0, "check allows infinity unless asked");
    nl_stats_check("f", "w", inf4, 4, 1, 1);
    is_str(nl_errmsg(), "w[2] is infinite", "check finite");
}

int main(void)
{
    test_textbook();
    test_undefined();
    test_kendall_random();
    test_kendall_large();
    test_rank_corr_random();
    test_topk_ndcg_random();
    test_errors();
    return done_testing();
}
