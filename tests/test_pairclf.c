/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_pairclf.c - search/nsga2, SMEM-NAS's pairwise-comparison classifier:
 * the gradient against central finite differences (MLP and logistic), the
 * loss at zero weights against its closed form, learning an order that a
 * linear utility defines, win counts against hand-set weights, determinism
 * by seed, and the exact messages for misuse. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "search/pairclf.h"
#include "tap.h"

enum { D = 7 };

/* n random rows of D values in {0, 1} (like a one-hot encoding) and their
 * targets y = u . x with a fixed utility u (distinct targets). */
static void data(float *X, double *y, int64_t n, uint64_t seed)
{
    static const double u[D] = { 3, -2, 1.5, 0.5, -1, 2.5, -0.25 };
    nl_rng r;
    nl_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        y[i] = 1e-3 * (double)i; /* breaks ties between equal rows */
        for (int d = 0; d < D; d++) {
            X[i * D + d] = nl_rng_uniform(&r) < 0.5 ? 1.0f : 0.0f;
            y[i] += u[d] * X[i * D + d];
        }
    }
}

static void gradcheck(int hidden)
{
    enum { N = 12 };
    float X[N * D];
    double y[N];
    data(X, y, N, 7);
    nl_pairclf_opts o;
    nl_pairclf_defaults(&o);
    o.hidden = hidden;
    o.weight_decay = 0.01;
    o.seed = 3;
    nl_pairclf *c;
    ok(nl_pairclf_new(&c, D, &o) == 0, "hidden %d: new", hidden);
    int64_t np = nl_pairclf_nparams(c);
    ok(np == (hidden ? 2 * hidden * D + 2 * hidden + 1 : 2 * D + 1), "hidden %d: %lld weights", hidden, (long long)np);
    double *w = nl_pairclf_params(c);
    nl_rng r;
    nl_rng_seed(&r, 11);
    for (int64_t k = 0; k < np; k++) w[k] = 0.5 * nl_rng_normal(&r); /* away from zero, so relu kinks are rare */
    double *g = malloc((size_t)np * sizeof *g), f;
    ok(nl_pairclf_loss(c, &f, g, X, y, N) == 0, "hidden %d: loss", hidden);
    double worst = 0;
    for (int64_t k = 0; k < np; k++) {
        double keep = w[k], fp, fm, h = 1e-6;
        w[k] = keep + h;
        nl_pairclf_loss(c, &fp, NULL, X, y, N);
        w[k] = keep - h;
        nl_pairclf_loss(c, &fm, NULL, X, y, N);
        w[k] = keep;
        double fd = (fp - fm) / (2 * h), err = fabs(fd - g[k]) / fmax(1e-6, fabs(fd) + fabs(g[k]));
        if (err > worst) worst = err;
    }
    ok(worst < 1e-5, "hidden %d: gradient matches central differences (worst relative error %.2g)", hidden, worst);
    free(g);
    nl_pairclf_free(c);
}

int main(void)
{
    gradcheck(0);
    gradcheck(5);

    /* At zero weights every pair has p = 1/2: the loss is log 2 exactly. */
    {
        float X[4 * D];
        double y[4];
        data(X, y, 4, 1);
        nl_pairclf_opts o;
        nl_pairclf_defaults(&o);
        o.hidden = 0;
        nl_pairclf *c;
        nl_pairclf_new(&c, D, &o);
        double f;
        ok(nl_pairclf_loss(c, &f, NULL, X, y, 4) == 0, "loss at zero weights");
        is_near(f, log(2.0), 1e-15, "... is log 2");
        nl_pairclf_free(c);
    }

    /* An order given by a linear utility is learned from 40 rows: held-out
     * pairs are ordered correctly, by the logistic model and the MLP. */
    for (int hidden = 0; hidden <= 16; hidden += 16) {
        enum { N = 40, T = 60 };
        float X[N * D], XT[T * D];
        double y[N], yt[T];
        data(X, y, N, 5);
        data(XT, yt, T, 6);
        nl_pairclf_opts o;
        nl_pairclf_defaults(&o);
        o.hidden = hidden;
        o.epochs = 300;
        o.seed = 9;
        nl_pairclf *c;
        nl_pairclf_new(&c, D, &o);
        double f;
        ok(nl_pairclf_fit(c, X, y, N, &f) == 0, "hidden %d: fit", hidden);
        ok(f < 0.3, "hidden %d: training loss %.3f < 0.3 (log 2 = 0.693 at the start)", hidden, f);
        double *p = malloc(T * T * sizeof *p);
        nl_pairclf_prob(c, p, XT, T, XT, T);
        int right = 0, total = 0;
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) {
                if (i == j || fabs(yt[i] - yt[j]) < 0.1) continue; /* near-ties: the 1e-3 tie breaker */
                total++;
                right += (p[i * T + j] > 0.5) == (yt[i] > yt[j]);
            }
        ok(right >= 0.9 * total, "hidden %d: %d of %d held-out pairs ordered right", hidden, right, total);
        /* wins: the count of p > 1/2 along a row, or their sum */
        double w[T], ws[T];
        nl_pairclf_wins(c, w, XT, T, XT, 5, 0);
        nl_pairclf_wins(c, ws, XT, T, XT, 5, 1);
        int same = 1;
        for (int i = 0; i < T; i++) {
            double cnt = 0, sum = 0;
            for (int j = 0; j < 5; j++) {
                cnt += p[i * T + j] > 0.5;
                sum += p[i * T + j];
            }
            same = same && w[i] == cnt && fabs(ws[i] - sum) < 1e-12;
        }
        ok(same, "hidden %d: wins count (and soft wins sum) the probabilities against the reference rows", hidden);
        free(p);
        /* the same seed and data give the same weights bit for bit; a refit starts over */
        nl_pairclf *c2;
        nl_pairclf_new(&c2, D, &o);
        nl_pairclf_fit(c2, X, y, N, NULL);
        nl_pairclf_fit(c2, X, y, N, NULL);
        ok(memcmp(nl_pairclf_params(c), nl_pairclf_params(c2), (size_t)nl_pairclf_nparams(c) * sizeof(double)) == 0,
           "hidden %d: same seed, same weights (and fit restarts from them)", hidden);
        nl_pairclf_free(c);
        nl_pairclf_free(c2);
    }

    /* Hand-set logistic weights: w1 = (1, 0), w2 = (-1, 0), c = 0, so
     * P(i beats j) = sigmoid(x_i1 - x_j1). Rows (2,0), (0,0), (1,5):
     * row 1 beats rows 2 and 3 (z = 2, 1) and ties itself (z = 0, no win);
     * soft: sigmoid(0) + sigmoid(2) + sigmoid(1). */
    {
        nl_pairclf_opts o;
        nl_pairclf_defaults(&o);
        o.hidden = 0;
        nl_pairclf *c;
        nl_pairclf_new(&c, 2, &o);
        double *w = nl_pairclf_params(c);
        w[0] = 1;
        w[2] = -1;
        float R[6] = { 2, 0, 0, 0, 1, 5 };
        double wins[3], soft[3];
        nl_pairclf_wins(c, wins, R, 3, R, 3, 0);
        nl_pairclf_wins(c, soft, R, 3, R, 3, 1);
        ok(wins[0] == 2 && wins[1] == 0 && wins[2] == 1, "hand-set weights: wins 2, 0, 1 (got %g, %g, %g)", wins[0],
           wins[1], wins[2]);
        is_near(soft[0], 0.5 + 1 / (1 + exp(-2.0)) + 1 / (1 + exp(-1.0)), 1e-12, "soft wins of row 1");
        nl_pairclf_free(c);
    }

    /* Misuse. */
    {
        nl_pairclf *c = (nl_pairclf *)1;
        nl_pairclf_opts o;
        nl_pairclf_defaults(&o);
        o.hidden = -1;
        ok(nl_pairclf_new(&c, 3, &o) == NL_EINVAL && c == NULL, "hidden -1 refused");
        is_str(nl_errmsg(), "pairclf: hidden must be in 0..4096, got -1", "... its message");
        nl_pairclf_defaults(&o);
        o.lr = 0;
        nl_pairclf_new(&c, 3, &o);
        is_str(nl_errmsg(), "pairclf: lr must be a number > 0, got 0", "lr 0 refused");
        nl_pairclf_defaults(&o);
        nl_pairclf_new(&c, 3, &o);
        float X[9] = { 0 };
        double y[3] = { 1, 1, 1 };
        ok(nl_pairclf_fit(c, X, y, 3, NULL) == NL_EINVAL, "equal targets refused");
        is_str(nl_errmsg(), "pairclf: all 3 targets are equal: no pair to learn an order from", "... its message");
        ok(nl_pairclf_fit(c, X, y, 1, NULL) == NL_EINVAL, "one row refused");
        is_str(nl_errmsg(), "pairclf: need at least 2 rows to fit, got 1", "... its message");
        y[1] = NAN;
        nl_pairclf_fit(c, X, y, 3, NULL);
        is_str(nl_errmsg(), "pairclf: target 2 is not finite", "a NaN target refused");
        nl_pairclf_free(c);
        nl_pairclf_free(NULL);
    }
    return done_testing();
}
