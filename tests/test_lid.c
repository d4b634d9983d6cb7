/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_lid.c - TAP tests of NAS-LID's C primitives: the MLE of the local
 * intrinsic dimension against points of known dimension and against a direct
 * (difference-based) reference implementation, the similarities against
 * values worked by hand, the exhaustive min-cut on hand-made matrices, op
 * masks, the 3N+2 layer outputs, and the split criterion (LID and gradient
 * matching) on a tiny supernet: determinism by seed, the mask honoured, the
 * model's cell and running statistics left as they were, and the errors. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "nn/ctx.h"
#include "nn/lid.h"
#include "nn/nb201net.h"
#include "tap.h"

static void bail(const char *what)
{
    printf("Bail out! %s: %s\n", what, nl_errmsg());
    exit(1);
}

/* n points on a random d-dim linear subspace of R^D (Gaussian coordinates). */
static nl_tensor *subspace(int n, int d, int D, uint64_t seed)
{
    nl_rng r;
    nl_rng_seed(&r, seed);
    double *B = malloc((size_t)d * D * sizeof *B);
    for (int i = 0; i < d * D; i++) B[i] = nl_rng_normal(&r);
    int64_t s[2] = { n, D };
    nl_tensor *t = nl_tensor_new(2, s);
    float *x = nl_tensor_data(t);
    for (int p = 0; p < n; p++) {
        double c[64];
        for (int i = 0; i < d; i++) c[i] = nl_rng_normal(&r);
        for (int j = 0; j < D; j++) {
            double v = 0;
            for (int i = 0; i < d; i++) v += c[i] * B[i * D + j];
            x[(size_t)p * D + j] = (float)v;
        }
    }
    free(B);
    return t;
}

/* n points on the unit sphere S^(d-1) (intrinsic dimension d-1) in the first
 * d coordinates of R^D, then rotated by a random orthogonal-ish mixing. */
static nl_tensor *sphere(int n, int d, int D, uint64_t seed)
{
    nl_rng r;
    nl_rng_seed(&r, seed);
    double *M = malloc((size_t)d * D * sizeof *M);
    for (int i = 0; i < d * D; i++) M[i] = nl_rng_normal(&r) / sqrt((double)D);
    int64_t s[2] = { n, D };
    nl_tensor *t = nl_tensor_new(2, s);
    float *x = nl_tensor_data(t);
    for (int p = 0; p < n; p++) {
        double c[64], norm = 0;
        for (int i = 0; i < d; i++) {
            c[i] = nl_rng_normal(&r);
            norm += c[i] * c[i];
        }
        for (int i = 0; i < d; i++) c[i] /= sqrt(norm);
        for (int j = 0; j < D; j++) {
            double v = 0;
            for (int i = 0; i < d; i++) v += c[i] * M[i * D + j];
            x[(size_t)p * D + j] = (float)v;
        }
    }
    free(M);
    return t;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The estimator written the obvious way: distances from coordinate
 * differences, no Gram matrix. */
static double lid_ref(const nl_tensor *t, int k)
{
    int64_t n = t->shape[0], D = t->shape[1];
    const float *x = nl_tensor_data((nl_tensor *)t);
    double *row = malloc((size_t)n * sizeof *row), sum = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t m = 0;
        for (int64_t j = 0; j < n; j++) {
            if (j == i) continue;
            double d2 = 0;
            for (int64_t c = 0; c < D; c++) {
                double dd = (double)x[i * D + c] - x[j * D + c];
                d2 += dd * dd;
            }
            row[m++] = sqrt(d2);
        }
        qsort(row, (size_t)m, sizeof *row, cmpd);
        double s = 0;
        for (int j = 0; j < k; j++) s += log(row[j] / (row[k - 1] + 1e-6));
        sum += -k / (s + 1e-6);
    }
    free(row);
    return sum / (double)n;
}

static void test_mle(void)
{
    /* Levina-Bickel's MLE at k = 20 on 1,000 Gaussian points: within 15% of d
     * for d = 2, 4, 8 (it is biased low as d grows, since 20 neighbours do not
     * reach the asymptotic regime) */
    double prev = 0;
    for (int d = 2; d <= 8; d *= 2) {
        nl_tensor *t = subspace(1000, d, 64, 10 + d);
        double lid;
        if (nl_lid_mle(t, 20, &lid)) bail("mle");
        ok(fabs(lid - d) <= 0.15 * d, "d=%d linear subspace in R^64: LID %.3f within 15%%", d, lid);
        if (d > 2) ok(lid > prev, "the estimate grows with d (%.3f > %.3f)", lid, prev);
        prev = lid;
        nl_tensor_free(t);
    }
    nl_tensor *s = sphere(1000, 4, 32, 3);
    double lid;
    if (nl_lid_mle(s, 20, &lid)) bail("mle sphere");
    ok(fabs(lid - 3) <= 0.45, "S^3 (dimension 3) in R^32: LID %.3f within 15%% of 3", lid);
    nl_tensor_free(s);

    nl_tensor *t = subspace(200, 3, 40, 7);
    double a, b = lid_ref(t, 10);
    if (nl_lid_mle(t, 10, &a)) bail("mle ref");
    is_near(a, b, 1e-6 * b, "Gram-matrix distances agree with direct differences (%.9f)", b);
    double h;
    /* the estimator is invariant under scaling of the points */
    float *x = nl_tensor_data(t);
    for (int64_t i = 0; i < nl_tensor_numel(t); i++) x[i] *= 8.0f;
    if (nl_lid_mle(t, 10, &h)) bail("mle scaled");
    is_near(h, a, 1e-4 * a, "scaling the points by 8 leaves the LID unchanged");
    is_int(nl_lid_mle(t, 200, &h), NL_EINVAL, "k = n fails");
    is_str(nl_errmsg(), "lid: k (200) must be less than the number of points (200)", "and says why");
    ok(isnan(h), "and leaves NaN");
    is_int(nl_lid_mle(t, 0, &h), NL_EINVAL, "k = 0 fails");
    is_str(nl_errmsg(), "lid: k must be >= 1 (got 0)", "naming k");
    nl_tensor_free(t);
}

static void test_similarity(void)
{
    double f[3 * 2] = { 1, 0, 0, 2, 3, 3 }, S[9];
    nl_lid_similarity(S, f, 3, 2, NL_LID_COSINE);
    is_near(S[0 * 3 + 1], 0, 1e-15, "cosine of orthogonal vectors");
    is_near(S[0 * 3 + 2], 1 / sqrt(2.0), 1e-15, "cosine of (1,0) and (3,3)");
    is_near(S[1 * 3 + 1], 1, 1e-15, "cosine with itself");
    nl_lid_similarity(S, f, 3, 2, NL_LID_INVDIST);
    is_near(S[0 * 3 + 1], 1 / (1 + sqrt(5.0)), 1e-15, "inverse distance of (1,0) and (0,2)");
    double g[2 * 3] = { 1, 2, 3, 6, 4, 2 };
    nl_lid_similarity(S, g, 2, 3, NL_LID_CORRELATION);
    is_near(S[1], -1, 1e-15, "correlation of (1,2,3) and (6,4,2)");
    nl_lid_sim k;
    is_int(nl_lid_sim_parse("dot", &k), NL_EINVAL, "an unknown similarity fails");
    is_str(nl_errmsg(), "similarity must be cosine, correlation or invdist (got 'dot')", "naming the known ones");
}

static void test_mincut(void)
{
    /* ops 0 and 3 are alike, 1, 2 and 4 are alike, across-group pairs 0.1 */
    double S[25];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            int gi = i == 0 || i == 3, gj = j == 0 || j == 3;
            S[i * 5 + j] = i == j ? 1 : gi == gj ? 0.9 : 0.1;
        }
    S[1 * 5 + 2] = S[2 * 5 + 1] = 0.8;
    uint8_t g[5];
    double cut;
    if (nl_lid_mincut(S, 5, g, &cut)) bail("mincut");
    uint8_t want[5] = { 0, 1, 1, 0, 1 };
    ok(!memcmp(g, want, 5), "2-vs-3: {0,3} | {1,2,4} (got %d%d%d%d%d)", g[0], g[1], g[2], g[3], g[4]);
    is_near(cut, 6 * 0.1, 1e-12, "the cut is the between-group similarity, 6 pairs of 0.1");
    /* an even count: 4 items, {0,2} | {1,3} */
    double T[16] = { 1, .2, .7, .1, .2, 1, .3, .9, .7, .3, 1, .2, .1, .9, .2, 1 };
    if (nl_lid_mincut(T, 4, g, &cut)) bail("mincut 4");
    ok(g[0] == 0 && g[2] == 0 && g[1] == 1 && g[3] == 1, "2-vs-2: {0,2} | {1,3}");
    is_near(cut, .2 + .1 + .3 + .2, 1e-12, "cut of 2-vs-2");
    double score;
    if (nl_lid_spectral(S, 5, g, &score)) bail("spectral");
    ok(!memcmp(g, want, 5), "spectral finds the same blocks (got %d%d%d%d%d)", g[0], g[1], g[2], g[3], g[4]);
    is_near(score, (0.95 + 8.2 / 9) / 2, 1e-12, "its score: the mean within-cluster similarity of the two");
    /* op 4 unlike the rest: spectral isolates it, min-cut must take a pair */
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) S[i * 5 + j] = i == j ? 1 : (i == 4) != (j == 4) ? -0.5 : 0.9;
    if (nl_lid_spectral(S, 5, g, &score)) bail("spectral 1-4");
    uint8_t one[5] = { 1, 1, 1, 1, 0 };
    ok(!memcmp(g, one, 5), "spectral: 1-vs-4 when one op stands apart (got %d%d%d%d%d)", g[0], g[1], g[2], g[3], g[4]);
    if (nl_lid_mincut(S, 5, g, &cut)) bail("mincut 1-4");
    ok(g[4] == 0, "min-cut puts the odd op into the pair");
    is_int(nl_lid_mincut(T, 1, g, &cut), NL_EINVAL, "one item cannot be split");
    is_str(nl_errmsg(), "mincut: the number of items must be in 2..16 (got 1)", "and says so");
}

static void test_masks(void)
{
    uint8_t mask[6] = { 31, 3, 31, 16, 31, 31 }, ops[6];
    nl_rng r;
    nl_rng_seed(&r, 1);
    int inside = 1, seen0 = 0, seen1 = 0;
    for (int i = 0; i < 200; i++) {
        if (nl_nb201net_sample_masked(mask, &r, ops)) bail("sample");
        inside &= nl_nb201net_mask_has(mask, ops);
        seen0 |= ops[1] == 0;
        seen1 |= ops[1] == 1;
    }
    ok(inside, "200 cells drawn inside the mask lie inside it");
    ok(seen0 && seen1, "both ops allowed on edge 2 are drawn");
    uint8_t out[6] = { 2, 2, 2, 2, 2, 2 };
    ok(!nl_nb201net_mask_has(mask, out), "a cell outside the mask is not inside");
    mask[2] = 0;
    is_int(nl_nb201net_sample_masked(mask, &r, ops), NL_EINVAL, "an empty op set fails");
    is_str(nl_errmsg(), "mask: edge 3 allows no op (a set of ops must be in 1..31)", "naming the edge");
    mask[2] = 32;
    nl_nb201net_check_mask(mask);
    is_str(nl_errmsg(), "mask: edge 3 allows ops outside 0..4 (a set of ops must be in 1..31)", "bits above op 4");
}

static nl_model *tiny(int N, uint64_t seed)
{
    nl_nb201net_opts o;
    nl_nb201net_defaults(&o);
    o.C = 2;
    o.N = N;
    o.hw = 8;
    o.classes = 3;
    o.supernet = 1;
    nl_rng r;
    nl_rng_seed(&r, seed);
    nl_model *m;
    if (nl_nb201net_new(&m, &o, &r)) bail("supernet");
    return m;
}

static nl_dataset *toyset(void)
{
    nl_dataset *d;
    if (nl_dataset_new("toy", 96, 1, 8, 8, 3, &d)) bail("dataset");
    nl_rng r;
    nl_rng_seed(&r, 5);
    float *x = nl_tensor_data(d->images);
    for (int i = 0; i < 96; i++) {
        d->labels[i] = i % 3;
        for (int p = 0; p < 64; p++) x[i * 64 + p] = (float)(nl_rng_normal(&r) + (p % 8 < 3 * (i % 3)) );
    }
    return d;
}

static void test_criterion(void)
{
    nl_nn_ctx *c = nl_nn_ctx_new(1);
    nl_model *m = tiny(2, 3);
    const nl_tensor *layers[8];
    is_int(nl_nb201net_layers(m, layers), NL_EINVAL, "no layer outputs before a forward");
    is_int(nl_nb201net_layers(m, NULL), 8, "but their count is known: 3N+2");
    nl_dataset *d = toyset();
    uint8_t mask[6] = { 31, 31, 6, 31, 31, 31 }, cell[6] = { 1, 2, 3, 4, 0, 1 }, after[6];
    nl_nb201net_set_cell(m, cell);
    float rm = nl_tensor_data(m->buffers[0].w)[0], rv = nl_tensor_data(m->buffers[1].w)[0];
    nl_lid_opts o;
    nl_lid_defaults(&o);
    o.repeat = 2;
    o.batch = 32;
    o.k = 5;
    o.seed = 9;
    nl_lid_result a, b;
    if (nl_lid_criterion(m, c, d, mask, &o, &a)) bail("criterion");
    is_int(nl_nb201net_layers(m, layers), 3 * 2 + 2, "3N+2 layer outputs for N=2");
    is_int(layers[2]->shape[1], 4, "the third layer is residual block 0 (2C channels)");
    ok(!a.edge[2].candidate && a.edge[0].candidate, "an edge restricted by the mask is not a candidate");
    is_int(a.forwards, 2 * 5 * 5, "repeats x 5 candidate edges x 5 ops forwards");
    ok(a.best >= 0 && a.edge[a.best].candidate, "the chosen edge is a candidate (%d)", a.best + 1);
    int sizes = 0;
    for (int k = 0; k < 5; k++) sizes += a.edge[a.best].group[k] == 0;
    is_int(sizes, 2, "the chosen partition is 2-vs-3");
    int finite = 1;
    for (int e = 0; e < 6; e++)
        for (int t = 0; t < 25; t++) finite &= a.edge[e].candidate ? isfinite(a.edge[e].S[t]) : a.edge[e].S[t] == 0;
    ok(finite, "similarities are finite");
    nl_nb201net_cell(m, after);
    ok(!memcmp(after, cell, 6), "the model's cell is restored");
    ok(nl_tensor_data(m->buffers[0].w)[0] == rm && nl_tensor_data(m->buffers[1].w)[0] == rv,
       "running statistics are untouched");
    if (nl_lid_criterion(m, c, d, mask, &o, &b)) bail("criterion again");
    ok(!memcmp(a.edge, b.edge, sizeof a.edge) && a.best == b.best, "same seed: the same similarities, bit for bit");
    o.seed = 10;
    if (nl_lid_criterion(m, c, d, mask, &o, &b)) bail("criterion seed 10");
    ok(memcmp(a.edge[0].S, b.edge[0].S, sizeof a.edge[0].S), "another seed, other batches and paths");

    o.criterion = NL_LID_CRIT_GRAD;
    o.seed = 9;
    if (nl_lid_criterion(m, c, d, mask, &o, &a)) bail("grad criterion");
    if (nl_lid_criterion(m, c, d, mask, &o, &b)) bail("grad criterion again");
    ok(!memcmp(a.edge, b.edge, sizeof a.edge), "gradient matching is deterministic too");
    ok(a.best >= 0 && a.edge[a.best].candidate, "and picks a candidate edge");
    int zero = 1;
    for (int i = 0; i < m->nparams; i++) {
        const float *g = nl_tensor_data(m->params[i].g);
        for (int64_t j = 0; j < nl_tensor_numel(m->params[i].g); j++) zero &= g[j] == 0;
    }
    ok(zero, "param gradients are left zeroed");
    ok(a.scratch_bytes > 0, "it reports its scratch (%lld bytes)", (long long)a.scratch_bytes);

    o.repeat = 0;
    is_int(nl_lid_criterion(m, c, d, mask, &o, &a), NL_EINVAL, "repeat 0 fails");
    is_str(nl_errmsg(), "lid: repeat must be >= 1 (got 0)", "naming repeat");
    o.repeat = 1;
    o.criterion = NL_LID_CRIT_LID;
    o.batch = 5;
    nl_lid_criterion(m, c, d, mask, &o, &a);
    is_str(nl_errmsg(), "lid: batch (5) must exceed k (5) and be at least 2", "batch <= k");
    o.batch = 200;
    nl_lid_criterion(m, c, d, mask, &o, &a);
    is_str(nl_errmsg(), "lid: the data set has 96 examples, fewer than batch (200)", "batch > data");
    mask[5] = 0;
    o.batch = 32;
    nl_lid_criterion(m, c, d, mask, &o, &a);
    is_str(nl_errmsg(), "mask: edge 6 allows no op (a set of ops must be in 1..31)", "bad mask");
    nl_dataset_free(d);
    nl_model_free(m);
    nl_nn_ctx_free(c);
}

int main(void)
{
    test_mle();
    test_similarity();
    test_mincut();
    test_masks();
    test_criterion();
    return done_testing();
}
