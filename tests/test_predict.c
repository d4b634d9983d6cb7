/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_predict.c - TAP tests of the predictors: the registry and defaults;
 * the pairwise ranking loss against a direct O(n^2) computation and against
 * central finite differences; the backward of both scorer networks against
 * finite differences; ReNAS and the MLP ranking a synthetic monotone
 * target on NAS-Bench-201 cells; determinism; bit-identical predictions after
 * save and load; the exact error messages. When the real NAS-Bench-201 table
 * is found (NASLAB_SHARED, else ../shared beside the source tree), ReNAS is
 * fitted on 156 random cells and its Kendall tau on the others is printed as
 * a comment, not asserted. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/stats.h"
#include "data/bench.h"
#include "predict/predictor.h"
#include "space/nb101.h"
#include "space/mbv3.h"
#include "space/nb201.h"
#include "tap.h"

static char dir[1024];

static void bail(const char *what)
{
    printf("Bail out! %s: %s\n", what, nl_errmsg());
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *tmpfile_in(const char *name)
{
    static char buf[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* rc is `code` and the message is exactly `msg`. */
static void is_err(int rc, int code, const char *msg, const char *what)
{
    if (!ok(rc == code && strcmp(nl_errmsg(), msg) == 0, "%s", what))
        printf("#   got %s \"%s\"\n#  want %s \"%s\"\n", nl_errname(rc), nl_errmsg(), nl_errname(code), msg);
}

/* ------------------------------------------------------------ data */

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

static nl_predictor *make(const char *kind, const nl_space *sp, int epochs, int threads)
{
    nl_pred_opts o;
    if (nl_pred_defaults(kind, &o)) bail("defaults");
    o.epochs = epochs;
    o.threads = threads;
    o.seed = 42;
    nl_predictor *p;
    if (nl_predictor_new(&p, kind, sp, &o)) bail("predictor_new");
    return p;
}

/* ------------------------------------------------------------ registry */

static void test_registry(void)
{
    int n = 0;
    while (nl_predictor_kinds[n]) n++;
    is_int(n, 4, "four kinds registered");
    is_str(nl_predictor_kinds[0]->name, "renas", "first kind renas");
    is_str(nl_predictor_kinds[1]->name, "mlp", "second kind mlp");
    is_str(nl_predictor_kinds[2]->name, "gbdt", "third kind gbdt");
    is_str(nl_predictor_kinds[3]->name, "ensemble", "fourth kind ensemble");
    const nl_predictor_kind *k;
    ok(nl_predictor_kind_find("mlp", &k) == 0 && k == &nl_pred_mlp, "find mlp");
    is_err(nl_predictor_kind_find("rf", &k), NL_ENOTFOUND,
           "unknown predictor 'rf' (known: renas, mlp, gbdt, ensemble)", "unknown kind");
    ok(k == NULL, "unknown kind: *out is NULL");

    nl_pred_opts o;
    nl_pred_defaults("renas", &o);
    ok(o.encoding == NULL && o.canonical == 1 && strcmp(o.loss, "pairwise") == 0 && o.epochs == 200 &&
           o.batch == 1024 && o.lr == 1e-3 && o.weight_decay == 0 && o.threads == 1,
       "renas defaults: the space's encoding, canonical, pairwise, 200 epochs, batch 1024, Adam 1e-3, wd 0");
    nl_pred_defaults("mlp", &o);
    ok(strcmp(o.encoding, "onehot") == 0 && strcmp(o.loss, "mse") == 0 && o.epochs == 300 && o.batch == 128 &&
           o.lr == 1e-3 && o.hidden == 64 && o.layers == 2,
       "mlp defaults: onehot, mse, 300 epochs, batch 128, 2 x 64");
    is_err(nl_pred_defaults("xgb", &o), NL_ENOTFOUND,
           "unknown predictor 'xgb' (known: renas, mlp, gbdt, ensemble)", "defaults of an unknown kind");
    nl_predictor *p = (nl_predictor *)1;
    is_err(nl_predictor_new(&p, "rf", &nl_space_nb201, NULL), NL_ENOTFOUND,
           "unknown predictor 'rf' (known: renas, mlp, gbdt, ensemble)", "new with an unknown kind");
    ok(p == NULL, "failed new: *out is NULL");
    nl_predictor_free(NULL);
    ok(1, "nl_predictor_free(NULL) is a no-op");
}

/* ------------------------------------------------------------ pairwise loss */

/* The definition, term by term over i != j, in double. */
static double direct_loss(const double *s, const double *y, int n, double *g)
{
    double L = 0;
    for (int k = 0; k < n; k++) g[k] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            double sg = (y[i] > y[j]) - (y[i] < y[j]);
            double z = (s[i] - s[j]) * sg;
            L += log(1 + exp(-z));
            double d = -sg / (1 + exp(z)); /* d/dz log(1 + e^-z) = -1/(1 + e^z), times dz/ds_i = sg */
            g[i] += d;
            g[j] -= d;
        }
    for (int k = 0; k < n; k++) g[k] /= (double)n * (n - 1);
    return L / ((double)n * (n - 1));
}

static void test_pairwise(void)
{
    enum { N = 9 };
    double s[N], y[N], ds[N], g[N];
    nl_rng r;
    nl_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) {
        s[i] = 2 * nl_rng_normal(&r);
        y[i] = (double)nl_rng_below(&r, 4); /* few values: many ties */
    }
    double L;
    ok(nl_pairwise_loss(&L, ds, s, y, N) == 0, "pairwise loss runs");
    double want = direct_loss(s, y, N, g);
    is_near(L, want, 1e-14 * fabs(want), "loss equals the direct O(n^2) sum (with ties)");
    double err = 0;
    for (int i = 0; i < N; i++) err = fmax(err, fabs(ds[i] - g[i]));
    ok(err < 1e-15, "gradient equals the direct one (max diff %.2g)", err);

    double fd = 0;
    for (int i = 0; i < N; i++) {
        const double h = 1e-5, keep = s[i];
        double lp, lm;
        s[i] = keep + h;
        nl_pairwise_loss(&lp, NULL, s, y, N);
        s[i] = keep - h;
        nl_pairwise_loss(&lm, NULL, s, y, N);
        s[i] = keep;
        fd = fmax(fd, fabs((lp - lm) / (2 * h) - ds[i]));
    }
    ok(fd < 1e-9, "gradient matches central finite differences (max diff %.2g)", fd);

    double L2;
    nl_pairwise_loss(&L2, NULL, s, y, N);
    ok(L2 == L, "ds NULL gives the same loss");

    /* All targets tied: every pair is log 2, no gradient. */
    double yt[N];
    for (int i = 0; i < N; i++) yt[i] = 7;
    nl_pairwise_loss(&L, ds, s, yt, N);
    int zero = 1;
    for (int i = 0; i < N; i++) zero &= ds[i] == 0;
    is_near(L, log(2.0), 1e-15, "all ties: loss log 2");
    ok(zero, "all ties: gradient exactly 0");

    /* Far-apart scores do not overflow: softplus(2000) = 2000. */
    double sb[2] = { 1000, -1000 }, yb[2] = { 0, 1 }, db[2];
    nl_pairwise_loss(&L, db, sb, yb, 2);
    ok(L == 2000 && db[0] == 1 && db[1] == -1, "stable for |z| = 2000 (loss %g, ds %g %g)", L, db[0], db[1]);
    sb[0] = -1000;
    sb[1] = 1000;
    nl_pairwise_loss(&L, db, sb, yb, 2);
    ok(L == 0 && db[0] == 0 && db[1] == 0, "stable for z = +2000 (loss %g)", L);

    is_err(nl_pairwise_loss(&L, ds, s, y, 1), NL_EINVAL, "pairwise loss needs at least 2 scores (got 1)", "n < 2");
}

/* ------------------------------------------------------------ scorer gradients */

/* L = sum r_i out_i from a training forward, in double. */
static double net_loss(nl_model *m, nl_nn_ctx *c, const nl_tensor *x, const double *r)
{
    const nl_tensor *out;
    if (m->vt->forward(m, c, x, 1, &out)) bail("forward");
    const float *d = nl_tensor_data(out);
    double L = 0;
    for (int64_t i = 0; i < x->shape[0]; i++) L += r[i] * d[i];
    return L;
}

/* The scorer's backward against central differences with step h: four
 * entries of every param, errors relative to the largest gradient of the
 * param (and at least 1% of the network's largest), as
 * tests/test_nb201net.c does. */
static void test_grad(const char *kind, const nl_pred_opts *po, double h)
{
    nl_predictor *p;
    if (nl_predictor_new(&p, kind, &nl_space_nb201, po)) bail("new");
    nl_pred_nn *q = (nl_pred_nn *)p;
    nl_rng r;
    nl_rng_seed(&r, 17);
    nl_model *m;
    if (q->new_net(q, &r, &m)) bail("new_net");
    enum { N = 6 };
    int64_t xs[5] = { N, 0, 0, 0, 0 };
    for (int d = 0; d < q->ndim; d++) xs[d + 1] = q->shape[d];
    nl_tensor *x = nl_tensor_new(q->ndim + 1, xs);
    float *xd = nl_tensor_data(x);
    for (int64_t i = 0; i < nl_tensor_numel(x); i++) xd[i] = (float)nl_rng_normal(&r);
    double rw[N];
    for (int i = 0; i < N; i++) rw[i] = nl_rng_normal(&r);
    int64_t ds[2] = { N, 1 };
    nl_tensor *dout = nl_tensor_new(2, ds);
    for (int i = 0; i < N; i++) nl_tensor_data(dout)[i] = (float)rw[i];
    net_loss(m, q->ctx, x, rw);
    for (int i = 0; i < m->nparams; i++) nl_tensor_fill(m->params[i].g, 0.0f);
    if (m->vt->backward(m, q->ctx, dout)) bail("backward");
    double gall = 0;
    for (int i = 0; i < m->nparams; i++)
        for (int64_t j = 0; j < nl_tensor_numel(m->params[i].g); j++)
            gall = fmax(gall, fabs(nl_tensor_data(m->params[i].g)[j]));
    double worst = 0;
    int bad = 0;
    for (int i = 0; i < m->nparams; i++) {
        float *w = nl_tensor_data(m->params[i].w);
        const float *g = nl_tensor_data(m->params[i].g);
        const int64_t n = nl_tensor_numel(m->params[i].w);
        double gmax = 1e-2 * gall, emax = 0;
        for (int64_t j = 0, k = 0; j < n && k < 4; j += n / 4 + 1, k++) {
            const float orig = w[j];
            w[j] = (float)(orig + h);
            const double up = net_loss(m, q->ctx, x, rw), hu = (double)w[j] - orig;
            w[j] = (float)(orig - h);
            const double dn = net_loss(m, q->ctx, x, rw), hd = orig - (double)w[j];
            w[j] = orig;
            const double num = (up - dn) / (hu + hd);
            gmax = fmax(gmax, fmax(fabs(num), fabs(g[j])));
            emax = fmax(emax, fabs(num - g[j]));
        }
        worst = fmax(worst, emax / gmax);
        if (emax / gmax > 2e-2) {
            printf("# %s: %s off by %.2g of %.2g\n", kind, m->params[i].name, emax, gmax);
            bad++;
        }
    }
    ok(bad == 0, "%s: backward of all %d params against finite differences (worst rel err %.2g)", kind,
       m->nparams, worst);
    nl_tensor_free(x);
    nl_tensor_free(dout);
    nl_model_free(m);
    nl_predictor_free(p);
}

static void test_grads(void)
{
    nl_pred_opts o;
    /* Steps: ReNAS's float network needs 1e-3 to rise above rounding noise
     * (its BN smooths the ReLU kinks); the small MLP has pre-activations
     * within 1e-3 of a kink, so it takes 1e-4. */
    nl_pred_defaults("renas", &o);
    test_grad("renas", &o, 1e-3);
    nl_pred_defaults("mlp", &o);
    o.hidden = 16;
    o.layers = 3;
    test_grad("mlp", &o, 1e-4);
}

/* ------------------------------------------------------------ learning */

enum { NTRAIN = 200, NTEST = 500 };

typedef struct progress_log {
    int calls, last_done, last_total, stop_at;
    int names_ok;
} progress_log;

static int log_progress(void *ud, const nl_progress *p)
{
    progress_log *l = ud;
    l->calls++;
    l->names_ok &= strcmp(p->what, "fit") == 0 && p->done == l->calls;
    l->last_done = (int)p->done;
    l->last_total = (int)p->total;
    return l->stop_at && l->calls >= l->stop_at;
}

static double tau_b(const double *x, const double *y, int64_t n)
{
    double t;
    if (nl_stats_kendall(&t, x, (size_t)n, y, (size_t)n, NL_TAU_B)) bail("kendall");
    return t;
}

/* Fit `kind` on the synthetic target, check its ranking of unseen cells,
 * determinism and the save/load round trip. */
static void test_learn(const char *kind, int epochs, const char *loss)
{
    nl_arch *a = nb201_cells(NTRAIN + NTEST, 1);
    double *y = malloc((NTRAIN + NTEST) * sizeof *y), *pred = malloc(NTEST * sizeof *pred),
           *pred2 = malloc(NTEST * sizeof *pred2);
    for (int i = 0; i < NTRAIN + NTEST; i++) y[i] = synth(&a[i]);

    nl_pred_opts o;
    nl_pred_defaults(kind, &o);
    o.epochs = epochs;
    o.threads = 2;
    o.seed = 7;
    o.loss = loss;
    o.canonical = 0; /* the target counts convs on dead edges too */
    progress_log log = { 0, 0, 0, 0, 1 };
    o.progress = log_progress;
    o.progress_ud = &log;
    nl_predictor *p;
    if (nl_predictor_new(&p, kind, &nl_space_nb201, &o)) bail("new");
    double t0 = now();
    int rc = p->kind->fit(p, a, y, NTRAIN);
    double dt = now() - t0;
    ok(rc == 0, "%s: fit on %d cells (%s)", kind, NTRAIN, rc ? nl_errmsg() : "ok");
    ok(log.calls == epochs && log.names_ok && log.last_done == epochs && log.last_total == epochs,
       "%s: progress called once per epoch as (\"fit\", epoch, %d)", kind, epochs);
    const nl_pred_nn *q = (const nl_pred_nn *)p;
    printf("# %s: %d epochs on %d cells in %.2f s (2 threads), kept epoch %d (train tau-a %.4f), last loss %.4g\n",
           kind, epochs, NTRAIN, dt, q->best_epoch, q->select_best ? q->best_tau : NAN, q->last_loss);
    t0 = now();
    rc = p->kind->predict(p, a + NTRAIN, NTEST, pred);
    dt = now() - t0;
    ok(rc == 0, "%s: predict %d cells", kind, NTEST);
    double t = tau_b(pred, y + NTRAIN, NTEST);
    ok(t > 0.9, "%s ranks the synthetic target of %d unseen cells: Kendall tau-b %.4f > 0.9", kind, NTEST, t);
    printf("#   (ties in this target cap tau-b near 0.96; predict took %.1f ms)\n", dt * 1e3);

    /* Determinism: a new predictor with the same options, and a re-fit of
     * the same one, give the same bits. */
    nl_predictor *p2;
    o.progress = NULL;
    if (nl_predictor_new(&p2, kind, &nl_space_nb201, &o)) bail("new");
    p2->kind->fit(p2, a, y, NTRAIN);
    p2->kind->predict(p2, a + NTRAIN, NTEST, pred2);
    ok(memcmp(pred, pred2, NTEST * sizeof *pred) == 0, "%s: same seed and threads, same predictions", kind);
    p2->kind->fit(p2, a, y, NTRAIN);
    p2->kind->predict(p2, a + NTRAIN, NTEST, pred2);
    ok(memcmp(pred, pred2, NTEST * sizeof *pred) == 0, "%s: a re-fit gives the same predictions", kind);
    nl_predictor_free(p2);

    /* Save, load into a fresh predictor (another seed: load replaces the
     * weights), predict the same bits. */
    char name[64];
    snprintf(name, sizeof name, "%s.ckpt", kind);
    const char *path = tmpfile_in(name);
    rc = p->kind->save(p, path);
    ok(rc == 0, "%s: save (%s)", kind, rc ? nl_errmsg() : "ok");
    /* Another seed (load replaces the weights), the same thread count (the
     * kernels' bits depend on it). */
    nl_pred_defaults(kind, &o);
    o.seed = 99;
    o.threads = 2;
    o.loss = loss;
    if (nl_predictor_new(&p2, kind, &nl_space_nb201, &o)) bail("new");
    rc = p2->kind->load(p2, path);
    ok(rc == 0 && p2->fitted, "%s: load (%s)", kind, rc ? nl_errmsg() : "ok");
    for (int i = 0; i < NTEST; i++) pred2[i] = NAN;
    p2->kind->predict(p2, a + NTRAIN, NTEST, pred2);
    ok(memcmp(pred, pred2, NTEST * sizeof *pred) == 0, "%s: loaded predictor predicts bit-identically", kind);
    ok(p2->opts.seed == 7 && p2->opts.epochs == epochs, "%s: load adopts the file's options", kind);
    nl_predictor_free(p2);

    /* A rejected fit (bad target) keeps the earlier fit. */
    double keep = y[3];
    y[3] = NAN;
    char msg[128];
    snprintf(msg, sizeof msg, "%s: y[3] is NaN", kind);
    is_err(p->kind->fit(p, a, y, NTRAIN), NL_EINVAL, msg, "NaN target");
    y[3] = keep;
    ok(p->fitted && p->kind->predict(p, a + NTRAIN, NTEST, pred2) == 0 &&
           memcmp(pred, pred2, NTEST * sizeof *pred) == 0,
       "%s: a rejected fit leaves the earlier one in place", kind);

    /* Stopping from the progress callback: NL_EINTR, predictor unfitted. */
    progress_log stop = { 0, 0, 0, 2, 1 };
    p->opts.progress = log_progress;
    p->opts.progress_ud = &stop;
    is_err(p->kind->fit(p, a, y, NTRAIN), NL_EINTR, "interrupted", "stopped by the progress callback");
    ok(stop.calls == 2 && !p->fitted, "%s: stopped after epoch 2, unfitted", kind);
    p->opts.progress = NULL;
    nl_predictor_free(p);
    free(a);
    free(y);
    free(pred);
    free(pred2);
}

/* The MSE loss scores in the targets' units. The target is linear in the
 * one-hot encoding, so a linear model (no hidden layer) fits it; the default
 * 2 x 64 net overfits 200 cells (tau about 0.90, printed). */
static void test_mse(void)
{
    nl_arch *a = nb201_cells(NTRAIN + NTEST, 3);
    double y[NTRAIN + NTEST], s[NTEST];
    for (int i = 0; i < NTRAIN + NTEST; i++) y[i] = 50 + 10 * synth(&a[i]);
    nl_pred_opts o;
    nl_pred_defaults("mlp", &o);
    o.layers = 0;
    o.lr = 1e-2;
    nl_predictor *p;
    if (nl_predictor_new(&p, "mlp", &nl_space_nb201, &o)) bail("new");
    ok(p->kind->fit(p, a, y, NTRAIN) == 0 && p->kind->predict(p, a + NTRAIN, NTEST, s) == 0,
       "mse: linear model, 300 epochs at lr 0.01");
    double err = 0;
    for (int i = 0; i < NTEST; i++) err = fmax(err, fabs(s[i] - y[NTRAIN + i]));
    ok(err < 0.5, "mse: predictions in the targets' units (max error %.3f on values 50..110)", err);
    double t = tau_b(s, y + NTRAIN, NTEST);
    ok(t > 0.9, "mse: linear model ranks unseen cells, tau-b %.4f > 0.9", t);
    nl_predictor_free(p);
    nl_pred_defaults("mlp", &o);
    if (nl_predictor_new(&p, "mlp", &nl_space_nb201, &o)) bail("new");
    p->kind->fit(p, a, y, NTRAIN);
    p->kind->predict(p, a + NTRAIN, NTEST, s);
    printf("# mse: default 2 x 64 mlp, 300 epochs: tau-b %.4f on unseen cells\n", tau_b(s, y + NTRAIN, NTEST));
    nl_predictor_free(p);
    free(a);
}

/* ReNAS on NAS-Bench-101's 19x7x7 tensors: shapes and the save/load path. */
static void test_nb101(void)
{
    const nl_space *sp = &nl_space_nb101;
    enum { N = 27 };
    nl_arch a[N];
    double y[N];
    static const char *const names[3] = { "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3" };
    /* input -> v1 -> v2 -> v3 -> output with every op choice, plus a skip. */
    const int m[25] = { 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0 };
    for (int i = 0; i < N; i++) {
        const char *ops[5] = { "input", names[i % 3], names[i / 3 % 3], names[i / 9], "output" };
        if (sp->from_spec(5, m, ops, &a[i])) bail("nb101 spec");
        y[i] = (i % 3 == 0) + (i / 3 % 3 == 0) + (i / 9 == 0) + 0.01 * i;
    }
    nl_predictor *p = make("renas", sp, 3, 1);
    const nl_pred_nn *q = (const nl_pred_nn *)p;
    ok(q->ndim == 3 && q->shape[0] == 19 && q->shape[1] == 7 && q->shape[2] == 7, "nb101: renas input 19x7x7");
    int rc = p->kind->fit(p, a, y, N);
    ok(rc == 0, "nb101: fit (%s)", rc ? nl_errmsg() : "ok");
    double s[N], s2[N];
    ok(p->kind->predict(p, a, N, s) == 0, "nb101: predict");
    int finite = 1;
    for (int i = 0; i < N; i++) finite &= isfinite(s[i]);
    ok(finite, "nb101: finite scores");
    const char *path = tmpfile_in("nb101.ckpt");
    p->kind->save(p, path);
    nl_predictor *p2 = make("renas", sp, 3, 1);
    ok(p2->kind->load(p2, path) == 0 && p2->kind->predict(p2, a, N, s2) == 0 && memcmp(s, s2, sizeof s) == 0,
       "nb101: round trip is bit-identical");

    /* Loading the nb101 file into an nb201 ReNAS: the tensors differ. */
    nl_predictor *p3 = make("renas", &nl_space_nb201, 3, 1);
    char msg[1400];
    snprintf(msg, sizeof msg,
             "renas: checkpoint %s holds another kind, space or shape of predictor (param 'conv1.w' has shape "
             "[38,19,3,3], network expects [38,35,3,3])",
             path);
    is_err(p3->kind->load(p3, path), NL_ESHAPE, msg, "nb101 file into an nb201 renas");
    ok(!p3->fitted, "failed load leaves the predictor unfitted");

    /* An arch of another space. */
    nl_arch mix[3];
    nl_space_nb201.at(5, &mix[0]);
    nl_space_nb201.at(6, &mix[1]);
    mix[2] = a[0];
    double ym[3] = { 1, 2, 3 };
    is_err(p3->kind->fit(p3, mix, ym, 3), NL_EINVAL, "renas: arch 2 belongs to space nb101, not nb201",
           "fit with an arch of another space");
    nl_predictor_free(p);
    nl_predictor_free(p2);
    nl_predictor_free(p3);
}

/* ------------------------------------------------------------ errors */

static void test_errors(void)
{
    const nl_space *sp = &nl_space_nb201;
    nl_predictor *p;
    nl_pred_opts o;
    char msg[1400];

    nl_pred_defaults("mlp", &o);
    o.encoding = "bogus";
    is_err(nl_predictor_new(&p, "mlp", sp, &o), NL_EINVAL,
           "mlp: unknown nb201 encoding 'bogus' (known: onehot, path, renas, renas_onehot)", "unknown encoding");
    nl_pred_defaults("renas", &o);
    o.encoding = "onehot";
    is_err(nl_predictor_new(&p, "renas", sp, &o), NL_EINVAL,
           "renas: encoding 'onehot' of nb201 has 1 dimension; renas needs a (channels, height, width) encoding "
           "such as 'renas'",
           "renas on a flat encoding");
    is_err(nl_predictor_new(&p, "renas", &nl_space_mbv3, NULL), NL_EINVAL,
           "renas: unknown mbv3 encoding 'renas' (known: int, onehot)", "renas on a space without its encoding");
    is_err(nl_predictor_new(&p, "renas", NULL, NULL), NL_EINVAL, "renas: no space given", "no space");
    nl_pred_defaults("mlp", &o);
    o.loss = "hinge";
    is_err(nl_predictor_new(&p, "mlp", sp, &o), NL_EINVAL, "mlp: unknown loss 'hinge' (known: mse, pairwise)",
           "unknown loss");
    nl_pred_defaults("mlp", &o);
    o.epochs = 0;
    is_err(nl_predictor_new(&p, "mlp", sp, &o), NL_EINVAL, "mlp: epochs must be >= 1 (got 0)", "epochs 0");
    nl_pred_defaults("renas", &o);
    o.batch = 1;
    is_err(nl_predictor_new(&p, "renas", sp, &o), NL_EINVAL,
           "renas: batch must be 0 (the whole training set) or >= 2 (got 1)", "batch 1");
    nl_pred_defaults("renas", &o);
    o.lr = -1;
    is_err(nl_predictor_new(&p, "renas", sp, &o), NL_EINVAL, "renas: lr must be finite and >= 0 (got -1)", "lr < 0");
    nl_pred_defaults("renas", &o);
    o.weight_decay = INFINITY;
    is_err(nl_predictor_new(&p, "renas", sp, &o), NL_EINVAL, "renas: weight_decay must be finite and >= 0 (got inf)",
           "weight_decay inf");
    nl_pred_defaults("renas", &o);
    o.threads = 0;
    is_err(nl_predictor_new(&p, "renas", sp, &o), NL_EINVAL, "renas: threads must be in 1..64 (got 0)", "threads 0");
    nl_pred_defaults("mlp", &o);
    o.layers = 17;
    is_err(nl_predictor_new(&p, "mlp", sp, &o), NL_EINVAL, "mlp: layers must be in 0..16 (got 17)", "layers 17");
    nl_pred_defaults("mlp", &o);
    o.hidden = 0;
    is_err(nl_predictor_new(&p, "mlp", sp, &o), NL_EINVAL, "mlp: hidden must be in 1..65536 (got 0)", "hidden 0");

    /* Encoding and loss strings are copied as static names. */
    char enc[16] = "path", loss[16] = "pairwise";
    nl_pred_defaults("mlp", &o);
    o.encoding = enc;
    o.loss = loss;
    ok(nl_predictor_new(&p, "mlp", sp, &o) == 0, "mlp on the path encoding with the pairwise loss");
    memset(enc, 0, sizeof enc);
    memset(loss, 0, sizeof loss);
    ok(strcmp(p->opts.encoding, "path") == 0 && strcmp(p->opts.loss, "pairwise") == 0,
       "the predictor keeps its own encoding and loss names");

    nl_arch a[4];
    double y[4] = { 1, 2, 3, 4 }, s[4];
    for (int i = 0; i < 4; i++) sp->at(100 * i, &a[i]);
    is_err(p->kind->predict(p, a, 4, s), NL_EINVAL, "mlp: predict before fit", "predict before fit");
    is_err(p->kind->save(p, tmpfile_in("never.ckpt")), NL_EINVAL, "mlp: save before fit", "save before fit");
    is_err(p->kind->fit(p, a, y, 1), NL_EINVAL, "mlp: fit needs at least 2 architectures (got 1)", "n < 2");
    y[0] = -INFINITY;
    is_err(p->kind->fit(p, a, y, 4), NL_EINVAL, "mlp: y[0] is infinite", "infinite target");
    y[0] = 1;

    /* Checkpoints of another kind, or none at all. */
    p->opts.epochs = 2;
    ok(p->kind->fit(p, a, y, 4) == 0, "tiny mlp fit");
    const char *mpath = tmpfile_in("tiny-mlp.ckpt");
    p->kind->save(p, mpath);
    nl_predictor *r = make("renas", sp, 1, 1);
    snprintf(msg, sizeof msg,
             "renas: checkpoint %s holds another kind, space or shape of predictor (missing param 'conv1.w')", mpath);
    is_err(r->kind->load(r, mpath), NL_ENOTFOUND, msg, "mlp file into renas");
    nl_predictor *m2 = make("mlp", sp, 1, 1);
    snprintf(msg, sizeof msg,
             "mlp: checkpoint %s holds another kind, space or shape of predictor (param 'fc1.w' has shape [64,155], "
             "network expects [64,30])",
             mpath);
    is_err(m2->kind->load(m2, mpath), NL_ESHAPE, msg, "path-encoding file into an onehot mlp");
    const char *none = tmpfile_in("missing.ckpt");
    snprintf(msg, sizeof msg, "mlp: checkpoint %s: cannot open: No such file or directory", none);
    is_err(m2->kind->load(m2, none), NL_EIO, msg, "missing file");
    ok(!m2->fitted, "failed loads leave the predictor unfitted");
    nl_predictor_free(p);
    nl_predictor_free(r);
    nl_predictor_free(m2);
}

/* ------------------------------------------------------------ real data */

static void test_real(void)
{
    char path[1200];
    const char *shared = getenv("NASLAB_SHARED");
    const char *top = getenv("top_srcdir");
    if (shared) {
        snprintf(path, sizeof path, "%s/data/nb201.csv", shared);
    } else if (top) {
        snprintf(path, sizeof path, "%s/../shared/data/nb201.csv", top);
    } else {
        /* Run by hand: the source tree is two levels above this file. */
        char src[1024];
        snprintf(src, sizeof src, "%s", __FILE__);
        char *slash = strrchr(src, '/');
        if (slash) *slash = 0;
        else strcpy(src, ".");
        snprintf(path, sizeof path, "%s/../../shared/data/nb201.csv", src);
    }
    if (access(path, R_OK) != 0) {
        printf("# skipping ReNAS on the real NAS-Bench-201 table: %s is not readable\n", path);
        return;
    }
    nl_bench *b;
    if (nl_bench_load(path, NULL, &b)) {
        printf("# skipping ReNAS on the real NAS-Bench-201 table: %s\n", nl_errmsg());
        return;
    }
    enum { NFIT = 156 };
    const int64_t n = (int64_t)nl_bench_size(b);
    int m;
    nl_bench_metric(b, "c10_test", &m);
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    nl_arch *a = malloc((size_t)n * sizeof *a);
    double *y = malloc((size_t)n * sizeof *y), *s = malloc((size_t)n * sizeof *s);
    nl_rng r;
    nl_rng_seed(&r, 2021);
    nl_rng_permutation(&r, perm, n);
    for (int64_t i = 0; i < n; i++) {
        a[i] = *nl_bench_arch(b, (size_t)perm[i]);
        y[i] = nl_bench_value(b, (size_t)perm[i], m);
    }
    nl_predictor *p = make("renas", &nl_space_nb201, 200, 2);
    double t0 = now();
    int rc = p->kind->fit(p, a, y, NFIT);
    double tfit = now() - t0;
    ok(rc == 0, "real nb201: renas fit on %d cells (%s)", NFIT, rc ? nl_errmsg() : "ok");
    t0 = now();
    rc = p->kind->predict(p, a, n, s);
    double tpred = now() - t0;
    ok(rc == 0, "real nb201: predict all %lld cells", (long long)n);
    double tb, ta;
    nl_stats_kendall(&tb, s + NFIT, (size_t)(n - NFIT), y + NFIT, (size_t)(n - NFIT), NL_TAU_B);
    nl_stats_kendall(&ta, s + NFIT, (size_t)(n - NFIT), y + NFIT, (size_t)(n - NFIT), NL_TAU_A);
    const nl_pred_nn *q = (const nl_pred_nn *)p;
    printf("# real nb201 c10_test: renas on %d random cells, 200 epochs, 2 threads: fit %.2f s (kept epoch %d), "
           "predict %lld cells %.3f s\n",
           NFIT, tfit, q->best_epoch, (long long)n, tpred);
    printf("# Kendall tau on the other %lld cells: tau-b %.4f, tau-a %.4f\n", (long long)(n - NFIT), tb, ta);
    nl_predictor_free(p);
    nl_bench_free(b);
    free(perm);
    free(a);
    free(y);
    free(s);
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

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/naslab-predict-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        tap_skip_all("cannot create a temporary directory");
        return 0;
    }
    test_registry();
    test_pairwise();
    test_grads();
    test_learn("renas", 60, "pairwise");
    test_learn("mlp", 100, "pairwise");
    test_mse();
    test_nb101();
    test_errors();
    test_real();
    cleanup();
    return done_testing();
}
