/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_gbdt.c - TAP tests of the tree and ensemble predictors: the pairwise
 * gradient and Hessian that gbdt boosts on, against nl_pairwise_loss's ds and
 * against central differences of it; gbdt (MSE and pairwise) ranking a
 * synthetic monotone target on held-out NAS-Bench-201 cells; MSE scores in
 * the targets' units; exact splits on 0/1 features and quantile bins on a
 * continuous encoding (a small test space); determinism; progress and
 * Ctrl-C; bit-identical save/load and the load errors; the option errors;
 * the ensemble as the mean of its members' z-scored scores, its options,
 * save/load and corrupt files. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/stats.h"
#include "predict/predictor.h"
#include "space/mbv3.h"
#include "space/nb201.h"
#include "tap.h"

static char dir[1024];

static void bail(const char *what)
{
    printf("Bail out! %s: %s\n", what, nl_errmsg());
    exit(1);
}

static const char *tmpfile_in(const char *name)
{
    static char buf[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void is_err(int rc, int code, const char *msg, const char *what)
{
    if (!ok(rc == code && strcmp(nl_errmsg(), msg) == 0, "%s", what))
        printf("#   got %s \"%s\"\n#  want %s \"%s\"\n", nl_errname(rc), nl_errmsg(), nl_errname(code), msg);
}

/* n distinct NB201 cells in a random order drawn from seed. */
static nl_arch *nb201_cells(int64_t n, uint64_t seed)
{
    int64_t *perm = malloc(NL_NB201_SIZE * sizeof *perm);
    nl_arch *a = malloc((size_t)n * sizeof *a);
    if (!perm || !a) bail("malloc");
    nl_rng r;
    nl_rng_seed(&r, seed);
    nl_rng_permutation(&r, perm, NL_NB201_SIZE);
    for (int64_t i = 0; i < n; i++)
        if (nl_space_nb201.at(perm[i], &a[i])) bail("nb201 at");
    free(perm);
    return a;
}

/* The synthetic target: conv3x3 edges + 0.1 conv1x1 edges. */
static double synth(const nl_arch *a)
{
    double y = 0;
    for (int e = 0; e < 6; e++) y += a->u.nb201.op[e] == 3 ? 1.0 : a->u.nb201.op[e] == 2 ? 0.1 : 0.0;
    return y;
}

static double tau_b(const double *x, const double *y, int64_t n)
{
    double t;
    if (nl_stats_kendall(&t, x, (size_t)n, y, (size_t)n, NL_TAU_B)) bail("kendall");
    return t;
}

static nl_predictor *make(const char *kind, const nl_pred_opts *o)
{
    nl_predictor *p;
    if (nl_predictor_new(&p, kind, &nl_space_nb201, o)) bail("predictor_new");
    return p;
}

/* ------------------------------------------------------------ registry */

static void test_registry(void)
{
    const nl_predictor_kind *k;
    ok(nl_predictor_kind_find("gbdt", &k) == 0 && k == &nl_pred_gbdt, "find gbdt");
    ok(nl_predictor_kind_find("ensemble", &k) == 0 && k == &nl_pred_ensemble, "find ensemble");
    nl_pred_opts o;
    nl_pred_defaults("gbdt", &o);
    ok(strcmp(o.encoding, "onehot") == 0 && strcmp(o.loss, "mse") == 0 && o.trees == 500 && o.depth == 6 &&
           o.lr == 0.05 && o.min_leaf == 2 && o.subsample == 0.8 && o.members[0] == NULL,
       "gbdt defaults: onehot, mse, 500 trees of depth 6, lr 0.05, min_leaf 2, subsample 0.8");
    nl_pred_defaults("ensemble", &o);
    ok(o.members[0] && o.members[1] && o.members[2] && !o.members[3] && strcmp(o.members[0], "renas") == 0 &&
           strcmp(o.members[1], "mlp") == 0 && strcmp(o.members[2], "gbdt") == 0,
       "ensemble defaults: members renas, mlp, gbdt");
    ok(!o.encoding && !o.loss && o.epochs == 0 && o.batch == -1 && isnan(o.lr) && o.trees == 0 && o.layers == -1,
       "ensemble defaults leave the members' options unset");
}

/* ------------------------------------------------------------ pairwise gradient */

static void test_grad_hess(void)
{
    enum { N = 11 };
    double s[N], y[N], ds[N], g[N], h[N];
    nl_rng r;
    nl_rng_seed(&r, 9);
    for (int i = 0; i < N; i++) {
        s[i] = 3 * nl_rng_normal(&r);
        y[i] = (double)nl_rng_below(&r, 5); /* ties */
    }
    double L;
    nl_pairwise_loss(&L, ds, s, y, N);
    ok(nl_pairwise_grad_hess(g, h, s, y, N) == 0, "grad_hess runs");
    const double w = 2.0 / ((double)N * (N - 1));
    double err = 0, big = 0;
    for (int i = 0; i < N; i++) {
        err = fmax(err, fabs(g[i] * w - ds[i]));
        big = fmax(big, fabs(ds[i]));
    }
    ok(err <= 1e-15 * big, "g * 2/(n(n-1)) equals nl_pairwise_loss's ds (max diff %.2g of %.2g)", err, big);
    /* h[i] against central differences of ds[i] in s[i]. */
    double fd = 0, hb = 0;
    for (int i = 0; i < N; i++) {
        const double e = 1e-5, keep = s[i];
        double dp[N], dm[N], l;
        s[i] = keep + e;
        nl_pairwise_loss(&l, dp, s, y, N);
        s[i] = keep - e;
        nl_pairwise_loss(&l, dm, s, y, N);
        s[i] = keep;
        fd = fmax(fd, fabs((dp[i] - dm[i]) / (2 * e) - h[i] * w));
        hb = fmax(hb, h[i] * w);
    }
    ok(fd < 1e-7 * hb, "h * 2/(n(n-1)) matches d ds_i / d s_i by central differences (max diff %.2g of %.2g)", fd,
       hb);
    double yt[N];
    for (int i = 0; i < N; i++) yt[i] = 1;
    nl_pairwise_grad_hess(g, h, s, yt, N);
    int zero = 1;
    for (int i = 0; i < N; i++) zero &= g[i] == 0 && h[i] == 0;
    ok(zero, "all targets tied: g and h exactly 0");
    is_err(nl_pairwise_grad_hess(g, h, s, y, 1), NL_EINVAL, "pairwise loss needs at least 2 scores (got 1)",
           "grad_hess n < 2");
}

/* ------------------------------------------------------------ learning */

enum { NTRAIN = 200, NTEST = 500 };

typedef struct progress_log {
    int calls, last_done, last_total, stop_at, what_ok;
    char what[80][16];
} progress_log;

static int log_progress(void *ud, const nl_progress *p)
{
    progress_log *l = ud;
    if (l->calls < 80) snprintf(l->what[l->calls], sizeof l->what[0], "%s", p->what);
    l->calls++;
    l->last_done = (int)p->done;
    l->last_total = (int)p->total;
    return l->stop_at && l->calls >= l->stop_at;
}

/* The target is additive over the six edges' ops, so shallow trees hold
 * it: depth 2 here (the default depth 6 fits interactions that 200 cells do
 * not pin down; its tau is printed). Ties in the target cap tau-b near
 * 0.96; the 0.9 threshold fails when the split search or the boosting is
 * wrong, or (rarely) when the 200 cells miss an (edge, op) pair, each of
 * which they hold about 40 times. */
static void test_learn(const char *loss)
{
    nl_arch *a = nb201_cells(NTRAIN + NTEST, 1);
    double y[NTRAIN + NTEST], pred[NTEST], pred2[NTEST];
    for (int i = 0; i < NTRAIN + NTEST; i++) y[i] = synth(&a[i]);
    nl_pred_opts o;
    nl_pred_defaults("gbdt", &o);
    o.seed = 7;
    o.loss = loss;
    o.trees = 505;
    o.depth = 2;
    progress_log log = { 0 };
    o.progress = log_progress;
    o.progress_ud = &log;
    nl_predictor *p = make("gbdt", &o);
    int rc = p->kind->fit(p, a, y, NTRAIN);
    ok(rc == 0, "gbdt %s: fit on %d cells (%s)", loss, NTRAIN, rc ? nl_errmsg() : "ok");
    ok(log.calls == 51 && log.last_done == 505 && log.last_total == 505 && strcmp(log.what[0], "fit") == 0,
       "gbdt %s: progress every 10 trees and after the last (%d calls)", loss, log.calls);
    ok(p->kind->predict(p, a + NTRAIN, NTEST, pred) == 0, "gbdt %s: predict", loss);
    const double t = tau_b(pred, y + NTRAIN, NTEST);
    ok(t > 0.9, "gbdt %s, depth 2, ranks the synthetic target of %d unseen cells: tau-b %.4f > 0.9", loss, NTEST, t);

    nl_predictor *p2;
    o.progress = NULL;
    p2 = make("gbdt", &o);
    p2->kind->fit(p2, a, y, NTRAIN);
    p2->kind->predict(p2, a + NTRAIN, NTEST, pred2);
    ok(memcmp(pred, pred2, sizeof pred) == 0, "gbdt %s: same seed, same predictions", loss);
    p2->kind->fit(p2, a, y, NTRAIN);
    p2->kind->predict(p2, a + NTRAIN, NTEST, pred2);
    ok(memcmp(pred, pred2, sizeof pred) == 0, "gbdt %s: a re-fit gives the same predictions", loss);
    nl_predictor_free(p2);
    o.seed = 8;
    p2 = make("gbdt", &o);
    p2->kind->fit(p2, a, y, NTRAIN);
    p2->kind->predict(p2, a + NTRAIN, NTEST, pred2);
    ok(memcmp(pred, pred2, sizeof pred) != 0, "gbdt %s: another seed draws other row samples", loss);
    nl_predictor_free(p2);

    /* Save, load into a predictor with other non-shape options: the same bits. */
    const char *path = tmpfile_in("gbdt.ckpt");
    rc = p->kind->save(p, path);
    ok(rc == 0, "gbdt %s: save (%s)", loss, rc ? nl_errmsg() : "ok");
    nl_pred_defaults("gbdt", &o);
    o.trees = 505;
    o.depth = 2;
    o.seed = 99;
    o.lr = 0.5;
    o.loss = strcmp(loss, "mse") == 0 ? "pairwise" : "mse";
    p2 = make("gbdt", &o);
    rc = p2->kind->load(p2, path);
    ok(rc == 0 && p2->fitted, "gbdt %s: load (%s)", loss, rc ? nl_errmsg() : "ok");
    for (int i = 0; i < NTEST; i++) pred2[i] = NAN;
    p2->kind->predict(p2, a + NTRAIN, NTEST, pred2);
    ok(memcmp(pred, pred2, sizeof pred) == 0, "gbdt %s: a loaded predictor predicts bit-identically", loss);
    ok(p2->opts.seed == 7 && p2->opts.lr == 0.05 && strcmp(p2->opts.loss, loss) == 0,
       "gbdt %s: load adopts the file's seed, lr and loss", loss);
    nl_predictor_free(p2);

    /* A rejected fit keeps the earlier one; a stopped fit leaves none. */
    y[3] = NAN;
    is_err(p->kind->fit(p, a, y, NTRAIN), NL_EINVAL, "gbdt: y[3] is NaN", "gbdt: NaN target");
    y[3] = synth(&a[3]);
    ok(p->fitted && p->kind->predict(p, a + NTRAIN, NTEST, pred2) == 0 && memcmp(pred, pred2, sizeof pred) == 0,
       "gbdt %s: a rejected fit leaves the earlier one in place", loss);
    progress_log stop = { 0 };
    stop.stop_at = 2;
    p->opts.progress = log_progress;
    p->opts.progress_ud = &stop;
    is_err(p->kind->fit(p, a, y, NTRAIN), NL_EINTR, "interrupted", "gbdt: stopped by the progress callback");
    ok(stop.calls == 2 && stop.last_done == 20 && !p->fitted, "gbdt %s: stopped after tree 20, unfitted", loss);
    nl_predictor_free(p);

    nl_pred_defaults("gbdt", &o);
    o.loss = loss;
    p = make("gbdt", &o);
    p->kind->fit(p, a, y, NTRAIN);
    p->kind->predict(p, a + NTRAIN, NTEST, pred);
    printf("# gbdt %s with the defaults (500 trees of depth 6): tau-b %.4f on the same cells\n", loss,
           tau_b(pred, y + NTRAIN, NTEST));
    nl_predictor_free(p);
    free(a);
}

/* MSE scores come back in the targets' units. Stumps (depth 1) sum to an
 * additive function, which is what the target is, so once boosting has
 * converged unseen cells are predicted as closely as the training cells are
 * fitted. Each of the 30 one-hot features gets about 1/30 of the rounds, so
 * at the default lr 0.05 500 rounds leave a few percent of each effect
 * unfitted; lr 0.5 on all rows (subsample 1) converges. */
static void test_units(void)
{
    nl_arch *a = nb201_cells(NTRAIN + NTEST, 3);
    double y[NTRAIN + NTEST], s[NTEST];
    for (int i = 0; i < NTRAIN + NTEST; i++) y[i] = 50 + 10 * synth(&a[i]);
    nl_pred_opts o;
    nl_pred_defaults("gbdt", &o);
    o.depth = 1;
    o.lr = 0.5;
    o.subsample = 1;
    nl_predictor *p = make("gbdt", &o);
    ok(p->kind->fit(p, a, y, NTRAIN) == 0 && p->kind->predict(p, a + NTRAIN, NTEST, s) == 0, "units: fit, predict");
    double err = 0;
    for (int i = 0; i < NTEST; i++) err = fmax(err, fabs(s[i] - y[NTRAIN + i]));
    ok(err < 0.5, "units: stumps predict unseen cells within 0.5 of targets in 50..110 (max error %.3g)", err);
    nl_predictor_free(p);
    free(a);
}

/* ------------------------------------------------------------ a continuous space */

/* "line": arch k (stored in u.mbv3.res) encodes to x = (k / 1000, a
 * pseudo-random nuisance in [0, 1)): far more than 256 distinct values per
 * feature, so gbdt bins by quantiles. */
static const char *const LINE_ENC[] = { "x", NULL };
static int line_shape(const char *kind, int *ndim, int64_t shape[4])
{
    if (strcmp(kind, "x") != 0) return nl_err(NL_ENOTFOUND, "unknown line encoding '%s' (known: x)", kind);
    *ndim = 1;
    shape[0] = 2;
    return 0;
}
static int line_encode(const nl_arch *a, const char *kind, float *out)
{
    (void)kind;
    const unsigned k = a->u.mbv3.res;
    out[0] = (float)k / 1000.0f;
    out[1] = (float)((k * 7919u) % 1000u) / 1000.0f;
    return 0;
}
static const nl_space line_space = {
    .name = "line", .title = "test", .size = 65536, .encodings = LINE_ENC, .encode_shape = line_shape,
    .encode = line_encode,
};

static void test_quantiles(void)
{
    enum { N = 4000 };
    nl_arch *a = calloc(N, sizeof *a);
    double *y = malloc(N * sizeof *y), *s = malloc(N * sizeof *s);
    int64_t perm[N];
    nl_rng r;
    nl_rng_seed(&r, 4);
    nl_rng_permutation(&r, perm, N);
    for (int i = 0; i < N; i++) {
        a[i].space = &line_space;
        a[i].u.mbv3.res = (uint16_t)(perm[i] * 3);
        const double x = (double)a[i].u.mbv3.res / 1000.0;
        y[i] = x * x;
    }
    nl_pred_opts o;
    nl_pred_defaults("gbdt", &o);
    o.encoding = "x";
    nl_predictor *p;
    if (nl_predictor_new(&p, "gbdt", &line_space, &o)) bail("line gbdt");
    ok(p->kind->fit(p, a, y, N / 2) == 0 && p->kind->predict(p, a + N / 2, N / 2, s) == 0,
       "quantile bins: fit on %d points of a continuous feature", N / 2);
    /* 256 bins over 2000 points leave ~8 held-out points per bin tied. */
    const double t = tau_b(s, y + N / 2, N / 2);
    ok(t > 0.95, "quantile bins: a monotone target of the continuous feature ranks with tau-b %.4f > 0.95", t);
    nl_predictor_free(p);
    free(a);
    free(y);
    free(s);
}

/* ------------------------------------------------------------ errors */

static void opt_err(void (*change)(nl_pred_opts *), const char *msg, const char *what)
{
    nl_pred_opts o;
    nl_pred_defaults("gbdt", &o);
    change(&o);
    nl_predictor *p = (nl_predictor *)1;
    is_err(nl_predictor_new(&p, "gbdt", &nl_space_nb201, &o), NL_EINVAL, msg, what);
    if (p) nl_predictor_free(p);
}
static void c_trees0(nl_pred_opts *o) { o->trees = 0; }
static void c_depth0(nl_pred_opts *o) { o->depth = 0; }
static void c_depth17(nl_pred_opts *o) { o->depth = 17; }
static void c_big(nl_pred_opts *o) { o->depth = 16; o->trees = 40; }
static void c_lr0(nl_pred_opts *o) { o->lr = 0; }
static void c_lrnan(nl_pred_opts *o) { o->lr = NAN; }
static void c_leaf0(nl_pred_opts *o) { o->min_leaf = 0; }
static void c_sub0(nl_pred_opts *o) { o->subsample = 0; }
static void c_sub2(nl_pred_opts *o) { o->subsample = 1.5; }
static void c_loss(nl_pred_opts *o) { o->loss = "hinge"; }

static void test_errors(void)
{
    opt_err(c_trees0, "gbdt: trees must be in 1..100000 (got 0)", "trees 0");
    opt_err(c_depth0, "gbdt: depth must be in 1..16 (got 0)", "depth 0");
    opt_err(c_depth17, "gbdt: depth must be in 1..16 (got 17)", "depth 17");
    opt_err(c_big,
            "gbdt: 40 trees of depth 16 have 5242840 nodes, more than the limit of 4194304 (use fewer trees or a "
            "lower depth)",
            "too many nodes");
    opt_err(c_lr0, "gbdt: lr must be finite and > 0 (got 0)", "lr 0");
    opt_err(c_lrnan, "gbdt: lr must be finite and > 0 (got nan)", "lr NaN");
    opt_err(c_leaf0, "gbdt: min_leaf must be >= 1 (got 0)", "min_leaf 0");
    opt_err(c_sub0, "gbdt: subsample must be in (0, 1] (got 0)", "subsample 0");
    opt_err(c_sub2, "gbdt: subsample must be in (0, 1] (got 1.5)", "subsample 1.5");
    opt_err(c_loss, "gbdt: unknown loss 'hinge' (known: mse, pairwise)", "unknown loss");
    nl_pred_opts eo;
    nl_pred_defaults("gbdt", &eo);
    eo.encoding = "bogus";
    nl_predictor *p = (nl_predictor *)1;
    is_err(nl_predictor_new(&p, "gbdt", &line_space, &eo), NL_EINVAL,
           "gbdt: unknown line encoding 'bogus' (known: x)", "unknown encoding");
    is_err(nl_predictor_new(&p, "gbdt", NULL, NULL), NL_EINVAL, "gbdt: no space given", "no space");
    ok(p == NULL, "failed create: *out is NULL");

    nl_pred_opts o;
    nl_pred_defaults("gbdt", &o);
    o.trees = 3;
    p = make("gbdt", &o);
    nl_arch a[4];
    double y[4] = { 1, 2, 3, 4 }, s[4];
    for (int i = 0; i < 4; i++) nl_space_nb201.at(100 * i + 7, &a[i]);
    is_err(p->kind->predict(p, a, 4, s), NL_EINVAL, "gbdt: predict before fit", "predict before fit");
    is_err(p->kind->save(p, tmpfile_in("never")), NL_EINVAL, "gbdt: save before fit", "save before fit");
    is_err(p->kind->fit(p, a, y, 0), NL_EINVAL, "gbdt: fit needs at least 2 architectures (got 0)", "empty set");
    y[2] = INFINITY;
    is_err(p->kind->fit(p, a, y, 4), NL_EINVAL, "gbdt: y[2] is infinite", "infinite target");
    y[2] = 3;
    nl_arch m[2];
    nl_rng r;
    nl_rng_seed(&r, 1);
    nl_space_mbv3.sample(&r, &m[1]);
    m[0] = a[0];
    is_err(p->kind->fit(p, m, y, 2), NL_EINVAL, "gbdt: arch 1 belongs to space mbv3, not nb201",
           "an arch of another space");
    p->opts.depth = 0;
    is_err(p->kind->fit(p, a, y, 4), NL_EINVAL, "gbdt: depth must be in 1..16 (got 0)",
           "options changed after create are checked by fit");
    p->opts.depth = 6;
    ok(p->kind->fit(p, a, y, 4) == 0 && p->kind->predict(p, a, 4, s) == 0, "a 4-cell fit");
    ok(p->kind->predict(p, a, 0, s) == 0, "predict of 0 archs");

    /* Load errors name the file and what differs. */
    const char *path = tmpfile_in("small.ckpt");
    p->kind->save(p, path);
    nl_predictor *q = make("gbdt", NULL);
    char msg[1600];
    snprintf(msg, sizeof msg,
             "gbdt: checkpoint %s holds another kind, space or shape of predictor (param 'gbdt.feature' has shape "
             "[3,127], network expects [500,127])",
             path);
    is_err(q->kind->load(q, path), NL_ESHAPE, msg, "load with another tree count");
    ok(!q->fitted, "a failed load leaves the predictor unfitted");
    nl_pred_defaults("gbdt", &o);
    o.trees = 3;
    o.encoding = "path";
    nl_predictor *q2 = make("gbdt", &o);
    snprintf(msg, sizeof msg, "gbdt: checkpoint %s holds a predictor on encoding 'onehot', not 'path'", path);
    is_err(q2->kind->load(q2, path), NL_EINVAL, msg, "load with another encoding");
    nl_predictor_free(q2);
    nl_pred_defaults("mlp", &o);
    o.epochs = 2;
    nl_predictor *mlp = make("mlp", &o);
    mlp->kind->fit(mlp, a, y, 4);
    const char *mpath = tmpfile_in("mlp.ckpt");
    mlp->kind->save(mlp, mpath);
    snprintf(msg, sizeof msg,
             "gbdt: checkpoint %s holds another kind, space or shape of predictor (missing param 'gbdt.feature')",
             mpath);
    is_err(q->kind->load(q, mpath), NL_ENOTFOUND, msg, "an mlp file into gbdt");
    const char *none = tmpfile_in("missing.ckpt");
    snprintf(msg, sizeof msg, "gbdt: checkpoint %s: cannot open: No such file or directory", none);
    is_err(q->kind->load(q, none), NL_EIO, msg, "missing file");
    nl_predictor_free(mlp);
    nl_predictor_free(q);
    nl_predictor_free(p);
}

/* ------------------------------------------------------------ ensemble */

static void ens_err(const char *const *members, const char *msg, const char *what)
{
    nl_pred_opts o;
    nl_pred_defaults("ensemble", &o);
    memset(o.members, 0, sizeof o.members);
    for (int i = 0; members[i]; i++) o.members[i] = members[i];
    nl_predictor *p = (nl_predictor *)1;
    is_err(nl_predictor_new(&p, "ensemble", &nl_space_nb201, &o), NL_EINVAL, msg, what);
    if (p) nl_predictor_free(p);
}

static void test_ensemble(void)
{
    nl_arch *a = nb201_cells(NTRAIN + NTEST, 5);
    double y[NTRAIN + NTEST], s[NTEST], s2[NTEST], sg[NTEST], sm[NTEST], tg[NTRAIN], tm[NTRAIN];
    for (int i = 0; i < NTRAIN + NTEST; i++) y[i] = 90 + synth(&a[i]);

    nl_pred_opts o;
    nl_pred_defaults("ensemble", &o);
    memset(o.members, 0, sizeof o.members);
    o.members[0] = "gbdt";
    o.members[1] = "mlp";
    /* Options reach the members that read them: shallow trees and a linear
     * model, both of which hold the additive target, so their z-scored mean
     * does too; tau-b > 0.9 fails when a member or the averaging is wrong. */
    o.seed = 3;
    o.epochs = 300;
    o.trees = 500;
    o.depth = 2;
    o.layers = 0;
    o.lr = 0.05;
    progress_log log = { 0 };
    o.progress = log_progress;
    o.progress_ud = &log;
    nl_predictor *e = make("ensemble", &o);
    int rc = e->kind->fit(e, a, y, NTRAIN);
    ok(rc == 0, "ensemble {gbdt, mlp}: fit (%s)", rc ? nl_errmsg() : "ok");
    ok(log.calls == 50 + 300 && strcmp(log.what[0], "gbdt") == 0 && strcmp(log.what[49], "gbdt") == 0 &&
           strcmp(log.what[50], "mlp") == 0 &&
           log.last_done == 300 && log.last_total == 300,
       "ensemble: members report progress under their names (%d calls)", log.calls);
    ok(e->kind->predict(e, a + NTRAIN, NTEST, s) == 0, "ensemble: predict");
    const double t = tau_b(s, y + NTRAIN, NTEST);
    ok(t > 0.9, "ensemble ranks the synthetic target of %d unseen cells: tau-b %.4f > 0.9", NTEST, t);

    /* The same scores, computed by hand from standalone members fitted with
     * the same seed and the options the ensemble passes on. */
    nl_pred_defaults("gbdt", &o);
    o.seed = 3;
    o.trees = 500;
    o.depth = 2;
    o.lr = 0.05;
    nl_predictor *g = make("gbdt", &o);
    nl_pred_defaults("mlp", &o);
    o.seed = 3;
    o.epochs = 300;
    o.layers = 0;
    o.lr = 0.05;
    nl_predictor *m = make("mlp", &o);
    g->kind->fit(g, a, y, NTRAIN);
    m->kind->fit(m, a, y, NTRAIN);
    g->kind->predict(g, a, NTRAIN, tg);
    m->kind->predict(m, a, NTRAIN, tm);
    g->kind->predict(g, a + NTRAIN, NTEST, sg);
    m->kind->predict(m, a + NTRAIN, NTEST, sm);
    double mg = 0, mm = 0, vg = 0, vm = 0;
    for (int i = 0; i < NTRAIN; i++) {
        mg += tg[i] / NTRAIN;
        mm += tm[i] / NTRAIN;
    }
    for (int i = 0; i < NTRAIN; i++) {
        vg += (tg[i] - mg) * (tg[i] - mg) / NTRAIN;
        vm += (tm[i] - mm) * (tm[i] - mm) / NTRAIN;
    }
    printf("# members alone: gbdt tau-b %.4f, mlp tau-b %.4f\n", tau_b(sg, y + NTRAIN, NTEST), tau_b(sm, y + NTRAIN, NTEST));
    double err = 0;
    for (int i = 0; i < NTEST; i++)
        err = fmax(err, fabs(s[i] - 0.5 * ((sg[i] - mg) / sqrt(vg) + (sm[i] - mm) / sqrt(vm))));
    ok(err < 1e-9, "ensemble = mean of the members' z-scored scores, z from the training scores (max diff %.2g)",
       err);
    nl_predictor_free(g);
    nl_predictor_free(m);

    /* Save and load: one file, the same bits; a member created with other
     * shape options fails to load and changes nothing. */
    const char *path = tmpfile_in("ens.bin");
    rc = e->kind->save(e, path);
    ok(rc == 0, "ensemble: save (%s)", rc ? nl_errmsg() : "ok");
    char probe[1300];
    snprintf(probe, sizeof probe, "%s.tmp.%ld.m1", path, (long)getpid());
    ok(access(probe, F_OK) != 0, "ensemble: save leaves no member file behind");
    nl_pred_defaults("ensemble", &o);
    o.trees = 500;
    o.depth = 2;
    o.layers = 0;
    nl_predictor *e2 = make("ensemble", &o); /* members renas, mlp, gbdt: load adopts the file's */
    rc = e2->kind->load(e2, path);
    ok(rc == 0 && e2->fitted, "ensemble: load (%s)", rc ? nl_errmsg() : "ok");
    ok(e2->opts.members[0] && strcmp(e2->opts.members[0], "gbdt") == 0 && e2->opts.members[1] &&
           strcmp(e2->opts.members[1], "mlp") == 0 && !e2->opts.members[2],
       "ensemble: load adopts the file's members");
    for (int i = 0; i < NTEST; i++) s2[i] = NAN;
    e2->kind->predict(e2, a + NTRAIN, NTEST, s2);
    ok(memcmp(s, s2, sizeof s) == 0, "ensemble: a loaded ensemble predicts bit-identically");
    nl_predictor_free(e2);

    nl_pred_defaults("ensemble", &o); /* gbdt member with 500 trees of depth 6: shape differs */
    e2 = make("ensemble", &o);
    char msg[1800];
    snprintf(msg, sizeof msg,
             "ensemble: gbdt: checkpoint %s (member 1) holds another kind, space or shape of predictor (param "
             "'gbdt.feature' has shape [500,7], network expects [500,127])",
             path);
    is_err(e2->kind->load(e2, path), NL_ESHAPE, msg, "ensemble: a member of another shape");
    ok(!e2->fitted && strcmp(e2->opts.members[0], "renas") == 0, "ensemble: a failed load changes nothing");

    /* Corrupt files. */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    unsigned char *d = malloc((size_t)size);
    fseek(f, 0, SEEK_SET);
    if (fread(d, 1, (size_t)size, f) != (size_t)size) bail("read");
    fclose(f);
    const char *bad = tmpfile_in("bad.bin");
    d[size / 2] ^= 1;
    f = fopen(bad, "wb");
    fwrite(d, 1, (size_t)size, f);
    fclose(f);
    snprintf(msg, sizeof msg, "ensemble: checkpoint %s: corrupt file (CRC mismatch)", bad);
    is_err(e2->kind->load(e2, bad), NL_EFORMAT, msg, "ensemble: a flipped bit");
    f = fopen(bad, "wb");
    fwrite(d, 1, (size_t)size / 3, f);
    fclose(f);
    snprintf(msg, sizeof msg, "ensemble: checkpoint %s: truncated", bad);
    is_err(e2->kind->load(e2, bad), NL_EFORMAT, msg, "ensemble: a truncated file");
    snprintf(msg, sizeof msg, "ensemble: checkpoint %s: not a naslab ensemble", tmpfile_in("gbdt.ckpt"));
    is_err(e2->kind->load(e2, tmpfile_in("gbdt.ckpt")), NL_EFORMAT, msg, "ensemble: a gbdt file");
    free(d);
    nl_predictor_free(e2);

    /* Errors of the ensemble's own. */
    is_err(e->kind->fit(e, a, y, 1), NL_EINVAL, "ensemble: fit needs at least 2 architectures (got 1)", "n < 2");
    y[0] = NAN;
    is_err(e->kind->fit(e, a, y, NTRAIN), NL_EINVAL, "ensemble: y[0] is NaN", "ensemble: NaN target");
    ok(e->fitted, "ensemble: a rejected fit keeps the earlier one");
    nl_predictor_free(e);
    ens_err((const char *const[]){ "gbdt", "gbdt", NULL }, "ensemble: members[2]: 'gbdt' is listed twice",
            "a member twice");
    ens_err((const char *const[]){ "mlp", "ensemble", NULL },
            "ensemble: members[2]: an ensemble cannot be a member of an ensemble", "an ensemble member");
    ens_err((const char *const[]){ "xgb", NULL },
            "ensemble: members[1]: unknown predictor 'xgb' (known: renas, mlp, gbdt, ensemble)", "an unknown member");
    nl_pred_defaults("ensemble", &o);
    o.trees = 0;
    o.depth = 40;
    nl_predictor *x = (nl_predictor *)1;
    is_err(nl_predictor_new(&x, "ensemble", &nl_space_nb201, &o), NL_EINVAL,
           "ensemble: gbdt: depth must be in 1..16 (got 40)", "a member's option error");
    nl_pred_defaults("ensemble", &o);
    is_err(nl_predictor_new(&x, "ensemble", &nl_space_mbv3, &o), NL_EINVAL,
           "ensemble: renas: unknown mbv3 encoding 'renas' (known: int, onehot)", "a member that lacks the space");
    free(a);
}

static void cleanup(void)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') remove(tmpfile_in(e->d_name));
    closedir(d);
    rmdir(dir);
}

/* Scoring a whole space over several threads gives every cell the score one
 * thread gives it, and Ctrl-C stops a predict with the usual error. */
static void test_predict_threads(void)
{
    enum { N = NL_NB201_SIZE };
    nl_arch *a = nb201_cells(N, 3);
    double *y = malloc(N * sizeof *y), *p1 = malloc(N * sizeof *p1), *p3 = malloc(N * sizeof *p3);
    if (!y || !p1 || !p3) bail("malloc");
    for (int i = 0; i < N; i++) y[i] = synth(&a[i]);
    nl_pred_opts o;
    nl_pred_defaults("gbdt", &o);
    o.trees = 50;
    nl_predictor *p = make("gbdt", &o);
    if (p->kind->fit(p, a, y, 500)) bail("fit");
    ok(p->kind->predict(p, a, N, p1) == 0, "gbdt: predict all %d cells on 1 thread", N);
    p->opts.threads = 3;
    ok(p->kind->predict(p, a, N, p3) == 0 && memcmp(p1, p3, N * sizeof *p1) == 0,
       "gbdt: 3 threads give every cell the bits 1 thread gives");
    p->opts.threads = 2;
    ok(p->kind->predict(p, a + 1, 1500, p3) == 0 && memcmp(p1 + 1, p3, 1500 * sizeof *p1) == 0,
       "gbdt: 2 threads on 1,500 cells, the same bits");
    nl_interrupt_request();
    is_err(p->kind->predict(p, a, N, p3), NL_EINTR, "interrupted", "gbdt: Ctrl-C stops a threaded predict");
    nl_interrupt_clear();
    nl_predictor_free(p);
    free(a);
    free(y);
    free(p1);
    free(p3);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/naslab-gbdt-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        tap_skip_all("cannot create a temporary directory");
        return 0;
    }
    test_registry();
    test_grad_hess();
    test_learn("mse");
    test_learn("pairwise");
    test_units();
    test_predict_threads();
    test_quantiles();
    test_errors();
    test_ensemble();
    cleanup();
    return done_testing();
}
