/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_metad2a.c - TAP tests of the tape (every op's gradient against central
 * finite differences, in every broadcast mode) and of MetaD2A's C half: the
 * set encoder's invariance to the order of examples and of classes, decoded
 * cells, a generator and a predictor that overfit a tiny database, save and
 * load, and the errors for bad tasks. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/stats.h"
#include "nn/tape.h"
#include "predict/metad2a.h"
#include "tap.h"

/* ------------------------------------------------------------ tape gradients */

typedef struct gc {
    nl_param p[3];
    nl_tape *t;
    int op; /* which graph to build */
} gc;

static void mkparam(nl_param *p, const char *name, int r, int c, nl_rng *rng, double lo, double hi)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    int64_t s[2] = { r, c };
    p->w = nl_tensor_new(2, s);
    p->g = nl_tensor_new(2, s);
    float *w = nl_tensor_data(p->w);
    for (int i = 0; i < r * c; i++) w[i] = (float)(lo + (hi - lo) * nl_rng_uniform(rng));
}

static const float Y[64] = { 0.3f, 0.9f, 0.1f, 0.5f, 0.7f, 0.2f, 0.8f, 0.4f, 0.6f, 0.35f, 0.65f, 0.15f,
                             0.3f, 0.9f, 0.1f, 0.5f, 0.7f, 0.2f, 0.8f, 0.4f, 0.6f, 0.35f, 0.65f, 0.15f };
static const float WEIGHTS[64] = { 0.7f, -1.1f, 0.4f, 0.9f, -0.3f, 1.3f, -0.8f, 0.2f, 0.5f, -0.6f, 1.0f, -0.2f,
                                   0.7f, -1.1f, 0.4f, 0.9f, -0.3f, 1.3f, -0.8f, 0.2f, 0.5f, -0.6f, 1.0f, -0.2f };

/* A scalar loss from the params through op `op`: a weighted sum of the op's
 * output with fixed weights, so every output element matters differently. */
static int build_loss(gc *g)
{
    nl_tape *t = g->t;
    nl_tape_reset(t);
    int a = nl_tape_param(t, &g->p[0]), b = nl_tape_param(t, &g->p[1]), c = nl_tape_param(t, &g->p[2]);
    int y = -1;
    switch (g->op) {
    case 0: y = nl_tape_linear(t, a, b, c); break;            /* (3,4) (2,4) (1,2) */
    case 1: y = nl_tape_matmul(t, nl_tape_cols(t, a, 0, 2), b, 0); break; /* (3,2) x (2,4) */
    case 2: y = nl_tape_matmul(t, a, b, 1); break;            /* (3,4) x (2,4)^T */
    case 3: y = nl_tape_add(t, a, nl_tape_rows(t, b, 0, 1)); break;  /* row broadcast */
    case 4: y = nl_tape_sub(t, a, nl_tape_cols(t, nl_tape_matmul(t, a, b, 1), 0, 1)); break; /* column */
    case 5: y = nl_tape_mul(t, a, c); break; /* c is (1,2): not broadcastable with (3,4) -> error */
    case 6: y = nl_tape_mul(t, a, nl_tape_cols(t, c, 0, 1)); break;  /* scalar */
    case 7: y = nl_tape_mul(t, a, nl_tape_sigmoid(t, a)); break;
    case 8: y = nl_tape_tanh(t, nl_tape_scale(t, a, 1.7f)); break;
    case 9: y = nl_tape_relu(t, a); break;
    case 10: y = nl_tape_softmax(t, a); break;
    case 11: y = nl_tape_exp(t, nl_tape_concat(t, a, nl_tape_cols(t, a, 1, 3))); break;
    case 12: y = nl_tape_vconcat(t, nl_tape_rows(t, a, 1, 3), b); break;
    case 13: y = nl_tape_sumrows(t, nl_tape_mul(t, a, a)); break;
    case 14: y = nl_tape_sum(t, nl_tape_mul(t, a, a)); break;
    case 15: { int tg[3] = { 1, -1, 3 }; return nl_tape_ce(t, a, tg); }
    case 16: return nl_tape_bce(t, nl_tape_sigmoid(t, a), Y);
    case 17: return nl_tape_mse(t, a, Y);
    case 18: return nl_tape_kl(t, a, nl_tape_scale(t, a, 0.5f));
    case 19: return nl_tape_kl(t, nl_tape_rows(t, b, 0, 1), nl_tape_rows(t, a, 2, 3));
    case 20: /* a constant input: backward skips it, the weights still learn */
        y = nl_tape_linear(t, nl_tape_tanh(t, nl_tape_const(t, 3, 4, Y)), b, c);
        y = nl_tape_add(t, y, nl_tape_matmul(t, nl_tape_fill(t, 3, 4, 0.5f), b, 1));
        break;
    }
    if (y < 0) return y;
    int n = nl_tape_rows_of(t, y) * nl_tape_cols_of(t, y);
    return nl_tape_sum(t, nl_tape_mul(t, y, nl_tape_const(t, nl_tape_rows_of(t, y), nl_tape_cols_of(t, y), n <= 64 ? WEIGHTS : NULL)));
}

static const char *OPNAMES[] = { "linear", "matmul", "matmul^T", "add (row)", "sub (column)", "mul (bad shape)",
                                 "mul (scalar)", "mul/sigmoid", "tanh/scale", "relu", "softmax", "exp/concat",
                                 "vconcat/rows", "sumrows", "sum", "cross-entropy", "bce", "mse", "kl", "kl/slices",
                                 "constant inputs" };

static void test_gradients(void)
{
    nl_rng r;
    nl_rng_seed(&r, 5);
    for (int op = 0; op < 21; op++) {
        gc g = { .op = op, .t = nl_tape_new() };
        mkparam(&g.p[0], "a", 3, 4, &r, -1.2, 1.2);
        mkparam(&g.p[1], "b", 2, 4, &r, -1.0, 1.0);
        mkparam(&g.p[2], "c", 1, 2, &r, -0.5, 0.5);
        if (op == 9) /* keep relu inputs away from the kink */
            for (int i = 0; i < 12; i++) {
                float *w = nl_tensor_data(g.p[0].w);
                if (fabsf(w[i]) < 0.05f) w[i] = 0.3f;
            }
        int loss = build_loss(&g);
        if (op == 5) {
            ok(loss == NL_ESHAPE && strstr(nl_errmsg(), "do not broadcast"), "tape: %s: %s", OPNAMES[op], nl_errmsg());
        } else {
            ok(loss >= 0 && nl_tape_backward(g.t, loss, 1.0f) == 0, "tape: %s runs", OPNAMES[op]);
            double worst = 0;
            for (int k = 0; k < 3; k++) {
                float *w = nl_tensor_data(g.p[k].w), *gr = nl_tensor_data(g.p[k].g);
                int64_t n = nl_tensor_numel(g.p[k].w);
                for (int64_t i = 0; i < n; i++) {
                    float keep = w[i];
                    const float h = 1e-2f;
                    w[i] = keep + h;
                    double up = nl_tape_value(g.t, build_loss(&g))[0];
                    w[i] = keep - h;
                    double dn = nl_tape_value(g.t, build_loss(&g))[0];
                    w[i] = keep;
                    double num = (up - dn) / (2 * h), err = fabs(num - gr[i]) / fmax(1.0, fabs(num));
                    worst = fmax(worst, err);
                }
            }
            ok(worst < 2e-3, "tape: %s: gradient matches finite differences (worst relative error %.2g)", OPNAMES[op],
               worst);
        }
        for (int k = 0; k < 3; k++) nl_tensor_free(g.p[k].w), nl_tensor_free(g.p[k].g);
        nl_tape_free(g.t);
    }
    nl_tape *t = nl_tape_new();
    ok(nl_tape_add(t, -3, 0) == -3, "tape: an error code passes through an op unchanged");
    ok(nl_tape_relu(t, 7) == NL_EINVAL && strstr(nl_errmsg(), "does not exist"), "tape: unknown node: %s", nl_errmsg());
    int v = nl_tape_fill(t, 2, 2, 1.0f);
    ok(nl_tape_backward(t, v, 1.0f) == NL_ESHAPE, "tape: backward needs a scalar: %s", nl_errmsg());
    ok(nl_tape_cols(t, v, 1, 3) == NL_ERANGE, "tape: slice out of range: %s", nl_errmsg());
    nl_tape_free(t);
}

/* ------------------------------------------------------------ MetaD2A */

enum { FEAT = 6, NS = 5 };

/* A synthetic task: k classes of NS rows; class c of task `id` centred at
 * a point that depends on both. */
typedef struct task {
    int k;
    int n[4];
    float x[4][NS * FEAT];
    const float *p[4];
    nl_md_task t;
} task;

static void make_task(task *tk, int id, int k, nl_rng *r)
{
    tk->k = k;
    for (int c = 0; c < k; c++) {
        tk->n[c] = NS;
        for (int i = 0; i < NS; i++)
            for (int j = 0; j < FEAT; j++)
                tk->x[c][i * FEAT + j] = (float)((id == 0 ? 1.5 : -1.5) * (j % 2 ? 1 : -1) + 0.3 * c * (j == c) +
                                                 0.2 * nl_rng_normal(r));
        tk->p[c] = tk->x[c];
    }
    tk->t.ncls = k;
    tk->t.n = tk->n;
    tk->t.x = tk->p;
}

/* The two tasks most tests use: 3 classes around one centre, 2 around
 * another; tasks[k] points into tk[k], which must stay in place. */
static void two_tasks(task tk[2], nl_md_task tasks[2], nl_rng *r, uint64_t seed)
{
    nl_rng_seed(r, seed);
    make_task(&tk[0], 0, 3, r);
    make_task(&tk[1], 1, 2, r);
    tasks[0] = tk[0].t;
    tasks[1] = tk[1].t;
}

static nl_metad2a *small_model(uint64_t seed)
{
    nl_metad2a_opts o;
    nl_metad2a_defaults(&o);
    o.feat = FEAT;
    o.nz = 8;
    o.hs_gen = 16;
    o.hs_pred = 16;
    o.heads = 2;
    o.nsample = NS;
    o.lr = 3e-3;
    o.seed = seed;
    nl_metad2a *m;
    if (nl_metad2a_new(&m, &o)) {
        printf("Bail out! %s\n", nl_errmsg());
        exit(1);
    }
    return m;
}

static void test_invariance(void)
{
    nl_rng r;
    nl_rng_seed(&r, 1);
    task a, b;
    make_task(&a, 0, 3, &r);
    /* b: a's classes in another order, each with its rows reversed */
    b = a;
    int order[3] = { 2, 0, 1 };
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < NS; i++)
            memcpy(b.x[c] + i * FEAT, a.x[order[c]] + (NS - 1 - i) * FEAT, FEAT * sizeof(float));
    for (int c = 0; c < 3; c++) b.p[c] = b.x[c];
    b.t.x = b.p;
    b.t.n = b.n;
    a.t.x = a.p;
    a.t.n = a.n;
    nl_metad2a *m = small_model(7);
    for (int part = 0; part < 2; part++) {
        float ca[8], cb[8];
        ok(nl_metad2a_encode(m, part, &a.t, ca) == 0 && nl_metad2a_encode(m, part, &b.t, cb) == 0, "encode runs");
        double d = 0, mag = 0;
        for (int i = 0; i < 8; i++) d = fmax(d, fabs(ca[i] - cb[i])), mag = fmax(mag, fabs(ca[i]));
        ok(d < 1e-5 && mag > 1e-3, "set encoder (%s): same code whatever the order of examples and classes (max diff %.2g)",
           part ? "predictor" : "generator", d);
    }
    /* a different task gets a different code */
    task c;
    make_task(&c, 1, 3, &r);
    float ca[8], cc[8];
    nl_metad2a_encode(m, 0, &a.t, ca);
    nl_metad2a_encode(m, 0, &c.t, cc);
    double d = 0;
    for (int i = 0; i < 8; i++) d = fmax(d, fabs(ca[i] - cc[i]));
    ok(d > 1e-3, "set encoder: another data set, another code (max diff %.3g)", d);
    nl_metad2a_free(m);
}

static void test_errors(void)
{
    nl_metad2a *m = small_model(1);
    nl_rng r;
    nl_rng_seed(&r, 2);
    task a;
    make_task(&a, 0, 2, &r);
    a.t.ncls = 1;
    float code[8];
    ok(nl_metad2a_encode(m, 0, &a.t, code) == NL_EINVAL && strstr(nl_errmsg(), "1 class (a task needs at least 2)"),
       "a task with one class: %s", nl_errmsg());
    a.t.ncls = 2;
    a.n[1] = 0;
    ok(nl_metad2a_encode(m, 0, &a.t, code) == NL_EINVAL && strstr(nl_errmsg(), "class 2 is empty"),
       "an empty class: %s", nl_errmsg());
    a.n[1] = NS;
    uint8_t bad[1][6] = { { 0, 1, 2, 3, 4, 5 } };
    int zero = 0;
    double loss;
    ok(nl_metad2a_gen_loss(m, &a.t, &zero, (const uint8_t(*)[6])bad, 1, &loss) == NL_EINVAL &&
           strstr(nl_errmsg(), "edge 6"),
       "an op id outside 0..4: %s", nl_errmsg());
    nl_metad2a_opts o;
    nl_metad2a_defaults(&o);
    o.heads = 5;
    nl_metad2a *m2;
    ok(nl_metad2a_new(&m2, &o) == NL_EINVAL && strstr(nl_errmsg(), "heads 5 does not divide nz 56"), "bad options: %s",
       nl_errmsg());
    nl_metad2a_free(m);
}

static int same(const uint8_t *a, const uint8_t *b) { return memcmp(a, b, 6) == 0; }

static void test_generator(void)
{
    nl_rng r;
    task tk[2];
    nl_md_task tasks[2];
    two_tasks(tk, tasks, &r, 3);
    /* the best cell of each task (twice in the batch); each repeats an op on
     * nodes that share their inputs, which the position input disambiguates */
    const uint8_t cells[4][6] = { { 3, 3, 1, 3, 2, 3 }, { 1, 4, 0, 4, 2, 0 }, { 3, 3, 1, 3, 2, 3 }, { 1, 4, 0, 4, 2, 0 } };
    int task_of[4] = { 0, 1, 0, 1 };
    nl_metad2a *m = small_model(11);

    /* untrained: decoding yields only valid cells, and has to retry */
    uint8_t out[40][6];
    int got, tried;
    ok(nl_metad2a_generate(m, &tasks[0], 40, 0, 1, 20, 4000, out, &got, &tried) == 0, "generate runs");
    int inrange = 1;
    for (int i = 0; i < got; i++)
        for (int e = 0; e < 6; e++) inrange &= out[i][e] <= 4;
    ok(got == 40 && inrange && tried >= got, "untrained decoder: %d valid cells from %d graphs", got, tried);

    double first = 0, loss = 0;
    nl_metad2a_gen_loss(m, tasks, task_of, cells, 4, &first);
    for (int step = 0; step < 600; step++) nl_metad2a_gen_step(m, tasks, task_of, cells, 4, &loss, NULL);
    nl_metad2a_gen_loss(m, tasks, task_of, cells, 4, &loss);
    ok(loss < 0.1 * first, "generator overfits a tiny database: loss %.2f -> %.3f", first, loss);
    /* the most likely cell of each task is that task's cell */
    for (int k = 0; k < 2; k++) {
        ok(nl_metad2a_generate(m, &tasks[k], 1, 1, 0, 1, 1, out, &got, &tried) == 0 && got == 1,
           "greedy decode of task %d gives a valid cell", k + 1);
        ok(got == 1 && same(out[0], cells[k]), "task %d: the decoder reconstructs its cell", k + 1);
        /* sampling around it gives that cell most of the time */
        ok(nl_metad2a_generate(m, &tasks[k], 30, 0, 1, 30, 30, out, &got, &tried) == 0, "sampling runs");
        int hits = 0;
        for (int i = 0; i < got; i++) hits += same(out[i], cells[k]);
        ok(hits >= 0.8 * got && got >= 24, "task %d: %d of %d sampled cells are its cell (%d graphs)", k + 1, hits, got,
           tried);
    }

    /* save / load round trip: same options, target and decoded cells */
    char dir[] = "/tmp/naslab-md-XXXXXX";
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp\n");
        exit(1);
    }
    char path[64];
    snprintf(path, sizeof path, "%s/m.ckpt", dir);
    nl_metad2a_set_target(m, 85.0, 4.0);
    ok(nl_metad2a_save(m, path) == 0, "save");
    nl_metad2a *m2 = NULL;
    int lrc = nl_metad2a_load(&m2, path);
    ok(lrc == 0, "load%s%s", lrc ? ": " : "", lrc ? nl_errmsg() : "");
    if (m2) {
        double mean, sd;
        nl_metad2a_target(m2, &mean, &sd);
        ok(mean == 85.0 && sd == 4.0 && nl_metad2a_options(m2)->hs_gen == 16, "load: options and target kept");
        uint8_t o1[1][6], o2[1][6];
        nl_metad2a_generate(m, &tasks[0], 1, 1, 0, 1, 1, o1, &got, &tried);
        nl_metad2a_generate(m2, &tasks[0], 1, 1, 0, 1, 1, o2, &got, &tried);
        double p1[4], p2[4];
        nl_rng_seed(nl_metad2a_rng(m), 9);
        nl_rng_seed(nl_metad2a_rng(m2), 9);
        nl_metad2a_predict(m, &tasks[0], cells, 4, 3, p1);
        nl_metad2a_predict(m2, &tasks[0], cells, 4, 3, p2);
        ok(same(o1[0], o2[0]) && memcmp(p1, p2, sizeof p1) == 0, "load: the same decoded cell and predictions");
        nl_metad2a_free(m2);
    }
    FILE *f = fopen(path, "r+b");
    fseek(f, 100, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    ok(nl_metad2a_load(&m2, path) == NL_EFORMAT && strstr(nl_errmsg(), path), "a corrupt file: %s", nl_errmsg());
    unlink(path);
    rmdir(dir);
    nl_metad2a_free(m);
}

static void test_predictor(void)
{
    nl_rng r;
    task tk[2];
    nl_md_task tasks[2];
    two_tasks(tk, tasks, &r, 4);
    enum { N = 24 };
    uint8_t cells[N][6];
    int task_of[N];
    double acc[N];
    /* accuracy: a count of conv ops, and the ranking of pooling flips between tasks */
    for (int i = 0; i < N; i++) {
        task_of[i] = i % 2;
        int convs = 0, pools = 0;
        for (int e = 0; e < 6; e++) {
            cells[i][e] = (uint8_t)nl_rng_below(&r, 5);
            convs += cells[i][e] == 2 || cells[i][e] == 3;
            pools += cells[i][e] == 4;
        }
        acc[i] = 80 + 2.0 * convs + (task_of[i] ? 1.5 : -1.5) * pools;
    }
    nl_metad2a *m = small_model(5);
    double mean = 0, var = 0;
    for (int i = 0; i < N; i++) mean += acc[i] / N;
    for (int i = 0; i < N; i++) var += (acc[i] - mean) * (acc[i] - mean) / N;
    nl_metad2a_set_target(m, mean, sqrt(var));
    double first = 0, loss = 0;
    for (int step = 0; step < 2000; step++) {
        nl_metad2a_pred_step(m, tasks, task_of, (const uint8_t(*)[6])cells, acc, N, &loss);
        if (step == 0) first = loss;
    }
    ok(loss < 0.05 * first, "predictor overfits a tiny database: loss %.3g -> %.3g", first, loss);
    for (int k = 0; k < 2; k++) {
        uint8_t c[N][6];
        double y[N], pred[N], err = 0, tau = 0;
        int n = 0;
        for (int i = 0; i < N; i++)
            if (task_of[i] == k) memcpy(c[n], cells[i], 6), y[n++] = acc[i];
        ok(nl_metad2a_predict(m, &tasks[k], (const uint8_t(*)[6])c, n, 4, pred) == 0, "predict runs");
        for (int i = 0; i < n; i++) err = fmax(err, fabs(pred[i] - y[i]));
        nl_stats_kendall(&tau, pred, (size_t)n, y, (size_t)n, NL_TAU_B);
        ok(tau > 0.9 && err < 1.0, "task %d: predictions in accuracy units rank the targets (tau %.3f, worst error %.2f)",
           k + 1, tau, err);
    }
    nl_metad2a_free(m);
}

/* The same training with 1 and 3 workers: each item's sample and noise come
 * from its own seed, so only the order of float sums differs. */
static void test_threads(void)
{
    nl_rng r;
    task tk[2];
    nl_md_task tasks[2];
    two_tasks(tk, tasks, &r, 8);
    enum { N = 10 };
    uint8_t cells[N][6];
    int task_of[N];
    double acc[N];
    for (int i = 0; i < N; i++) {
        task_of[i] = i % 2;
        for (int e = 0; e < 6; e++) cells[i][e] = (uint8_t)nl_rng_below(&r, 5);
        acc[i] = 70 + 3 * (i % 4);
    }
    double pred[2][N], gl[2], pl[2];
    uint8_t got[2][1][6];
    for (int k = 0; k < 2; k++) {
        nl_metad2a_opts o;
        nl_metad2a_defaults(&o);
        o.feat = FEAT, o.nz = 8, o.hs_gen = 16, o.hs_pred = 16, o.heads = 2, o.nsample = 3, o.lr = 3e-3, o.seed = 4;
        o.threads = k == 0 ? 1 : 3;
        nl_metad2a *m;
        nl_metad2a_new(&m, &o);
        nl_metad2a_set_target(m, 75, 4);
        for (int s = 0; s < 30; s++) {
            nl_metad2a_gen_step(m, tasks, task_of, (const uint8_t(*)[6])cells, N, &gl[k], NULL);
            nl_metad2a_pred_step(m, tasks, task_of, (const uint8_t(*)[6])cells, acc, N, &pl[k]);
        }
        nl_metad2a_predict(m, &tasks[0], (const uint8_t(*)[6])cells, N, 5, pred[k]);
        int n, tried;
        nl_metad2a_generate(m, &tasks[1], 1, 1, 0, 1, 1, got[k], &n, &tried);
        nl_metad2a_free(m);
    }
    double d = 0;
    for (int i = 0; i < N; i++) d = fmax(d, fabs(pred[0][i] - pred[1][i]));
    ok(d < 1e-2 && fabs(gl[0] - gl[1]) < 1e-3 * fabs(gl[0]) && fabs(pl[0] - pl[1]) < 1e-2 * fabs(pl[0]) + 1e-9,
       "1 and 3 workers train alike (losses %.5g / %.5g, %.3g / %.3g; predictions within %.2g)", gl[0], gl[1], pl[0],
       pl[1], d);
    ok(same(got[0][0], got[1][0]), "1 and 3 workers decode the same cell");
}

int main(void)
{
    test_gradients();
    test_invariance();
    test_errors();
    test_generator();
    test_predictor();
    test_threads();
    return done_testing();
}
