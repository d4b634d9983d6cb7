/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_nb201net.c - TAP tests of the NAS-Bench-201 network, the supernet and
 * the training loop: the gradient of the whole network against central finite
 * differences, the parameter and MAC counts against the search space's own
 * counts, supernet paths against stand-alone networks with the same weights,
 * determinism, learning on a synthetic task, exact resume from a checkpoint
 * after a stop, and the error messages. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "nn/nb201net.h"
#include "nn/train.h"
#include "space/nb201.h"
#include "tap.h"

static nl_nn_ctx *ctx;

static void bail(const char *what)
{
    printf("Bail out! %s: %s\n", what, nl_errmsg());
    exit(1);
}

static nl_model *mknet(int C, int N, int hw, int classes, int supernet, const uint8_t ops[6], uint64_t seed)
{
    nl_nb201net_opts o;
    nl_nb201net_defaults(&o);
    o.C = C;
    o.N = N;
    o.hw = hw;
    o.classes = classes;
    o.supernet = supernet;
    memcpy(o.ops, ops, 6);
    nl_rng r;
    nl_rng_seed(&r, seed);
    nl_model *m;
    if (nl_nb201net_new(&m, &o, &r)) bail("nb201net_new");
    return m;
}

/* L = sum r_ij * logits_ij in double, from a training forward. */
static double loss_of(nl_model *m, const nl_tensor *x, const float *r)
{
    const nl_tensor *lg;
    if (m->vt->forward(m, ctx, x, 1, &lg)) bail("forward");
    const float *d = nl_tensor_data(lg);
    double s = 0;
    for (int64_t i = 0; i < nl_tensor_numel(lg); i++) s += (double)r[i] * d[i];
    return s;
}

static void test_gradient(void)
{
    /* every op: conv3 (1<-0), conv1 (2<-0), pool (2<-1), skip (3<-0), none (3<-1), conv3 (3<-2) */
    const uint8_t ops[6] = { 3, 2, 4, 1, 0, 3 };
    nl_model *m = mknet(3, 1, 8, 3, 0, ops, 7);
    int64_t xs[4] = { 4, 1, 8, 8 };
    nl_tensor *x = nl_tensor_new(4, xs);
    nl_rng r;
    nl_rng_seed(&r, 11);
    float *xd = nl_tensor_data(x);
    for (int64_t i = 0; i < nl_tensor_numel(x); i++) xd[i] = (float)nl_rng_normal(&r);
    float rw[12];
    for (int i = 0; i < 12; i++) rw[i] = (float)nl_rng_normal(&r);
    const nl_tensor *lg;
    if (m->vt->forward(m, ctx, x, 1, &lg)) bail("forward");
    int64_t ls[2] = { 4, 3 };
    nl_tensor *dl = nl_tensor_new(2, ls);
    memcpy(nl_tensor_data(dl), rw, sizeof rw);
    for (int i = 0; i < m->nparams; i++) nl_tensor_fill(m->params[i].g, 0.0f);
    if (m->vt->backward(m, ctx, dl)) bail("backward");
    /* check a few entries of every param. BN over a batch of 4 at 2x2 makes
     * L strongly curved and puts ReLU kinks close: steps of 1e-3 and more
     * disagree with the analytic gradient by up to 40%, 1e-4 agrees to 1% */
    /* errors are measured against the largest gradient of the network: a
     * gradient that is exactly 0 analytically (a BN beta followed by another
     * BN) has only float noise numerically */
    double gall = 0;
    for (int i = 0; i < m->nparams; i++) {
        const float *g = nl_tensor_data(m->params[i].g);
        for (int64_t j = 0; j < nl_tensor_numel(m->params[i].g); j++)
            if (fabs(g[j]) > gall) gall = fabs(g[j]);
    }
    double worst = 0;
    int checked = 0, bad = 0;
    char badname[64] = "";
    for (int i = 0; i < m->nparams; i++) {
        float *w = nl_tensor_data(m->params[i].w);
        const float *g = nl_tensor_data(m->params[i].g);
        int64_t n = nl_tensor_numel(m->params[i].w);
        double gmax = 1e-2 * gall, emax = 0;
        double num[4], ana[4];
        int k = 0;
        for (int64_t j = 0; j < n && k < 4; j += n / 4 + 1, k++) {
            float orig = w[j];
            const double eps = 1e-4;
            w[j] = (float)(orig + eps);
            double up = loss_of(m, x, rw);
            float step_up = w[j] - orig;
            w[j] = (float)(orig - eps);
            double dn = loss_of(m, x, rw);
            float step_dn = orig - w[j];
            w[j] = orig;
            num[k] = (up - dn) / ((double)step_up + (double)step_dn);
            ana[k] = g[j];
            if (fabs(num[k]) > gmax) gmax = fabs(num[k]);
        }
        for (int q = 0; q < k; q++)
            if (fabs(num[q] - ana[q]) > emax) emax = fabs(num[q] - ana[q]);
        double rel = emax / gmax;
        if (rel > worst) worst = rel;
        checked++;
        if (rel > 2e-2) {
            for (int q = 0; q < k; q++) printf("# %s[%d]: analytic %.6g numeric %.6g\n", m->params[i].name, q, ana[q], num[q]);
            bad++;
            snprintf(badname, sizeof badname, "%s", m->params[i].name);
        }
    }
    ok(bad == 0, "gradient of all %d params against finite differences (worst rel err %.2g%s%s)", checked, worst,
       bad ? ", bad: " : "", badname);
    nl_tensor_free(x);
    nl_tensor_free(dl);
    nl_model_free(m);
}

static void test_counts(void)
{
    nl_rng r;
    nl_rng_seed(&r, 3);
    int mismatch = 0, macbad = 0;
    for (int t = 0; t < 25; t++) {
        nl_arch a;
        nl_space_nb201.sample(&r, &a);
        nl_nb201net_opts o;
        nl_nb201net_defaults(&o);
        o.in_ch = 3;
        memcpy(o.ops, a.u.nb201.op, 6);
        nl_model *m;
        if (nl_nb201net_new(&m, &o, &r)) bail("new");
        int64_t params, flops;
        nl_space_nb201.cost(&a, NULL, &params, &flops);
        if (nl_model_numel(m) != params) mismatch++;
        if (nl_nb201net_macs(m) != flops) macbad++;
        nl_model_free(m);
    }
    ok(mismatch == 0, "params of 25 random C=16 N=5 networks equal the space's published counts (%d differ)", mismatch);
    ok(macbad == 0, "MACs of the same networks equal the space's FLOPs (%d differ)", macbad);
}

static void test_supernet(void)
{
    const uint8_t start[6] = { 0, 0, 0, 0, 0, 0 };
    nl_model *s = mknet(4, 2, 8, 5, 1, start, 21);
    ok(nl_nb201net_is_supernet(s), "supernet is a supernet");
    int64_t xs[4] = { 3, 1, 8, 8 };
    nl_tensor *x = nl_tensor_new(4, xs);
    nl_rng r;
    nl_rng_seed(&r, 5);
    for (int64_t i = 0; i < nl_tensor_numel(x); i++) nl_tensor_data(x)[i] = (float)nl_rng_normal(&r);
    int same = 1, actives = 1;
    for (int t = 0; t < 6; t++) {
        nl_arch a;
        nl_space_nb201.sample(&r, &a);
        nl_nb201net_set_cell(s, a.u.nb201.op);
        nl_model *m = mknet(4, 2, 8, 5, 0, a.u.nb201.op, 99);
        /* copy the supernet's weights of this path by name */
        int nact = 0;
        for (int i = 0; i < s->nparams; i++) nact += s->active[i];
        if (nact != m->nparams) actives = 0;
        for (int i = 0; i < m->nparams; i++)
            for (int j = 0; j < s->nparams; j++)
                if (!strcmp(m->params[i].name, s->params[j].name)) {
                    nl_tensor_copy(m->params[i].w, s->params[j].w);
                    if (!s->active[j]) actives = 0;
                }
        const nl_tensor *l1, *l2;
        if (s->vt->forward(s, ctx, x, 1, &l1)) bail("forward");
        nl_tensor *c1;
        nl_tensor_clone(&c1, l1);
        if (m->vt->forward(m, ctx, x, 1, &l2)) bail("forward");
        int eq = 0;
        nl_tensor_equal(c1, l2, &eq);
        if (!eq) same = 0;
        nl_tensor_free(c1);
        nl_model_free(m);
    }
    ok(same, "supernet paths give the logits of stand-alone networks with the same weights (6 cells)");
    ok(actives, "the active params of a path are exactly the stand-alone network's params");
    /* a stand-alone network refuses another cell's convolutions */
    const uint8_t conv1[6] = { 2, 0, 0, 0, 0, 0 }, conv3[6] = { 3, 0, 0, 0, 0, 0 }, pool[6] = { 4, 1, 0, 0, 0, 0 };
    nl_model *m = mknet(2, 1, 8, 3, 0, conv1, 1);
    int rc = nl_nb201net_set_cell(m, conv3);
    is_int(rc, NL_EINVAL, "set_cell with a missing conv fails");
    is_str(nl_errmsg(),
           "set_cell: network was built for cell |nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2| and has no "
           "weights for |nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
           "its message names both cells");
    ok(nl_nb201net_set_cell(m, pool) == 0, "a weight-free cell runs on any network");
    nl_model_free(m);
    nl_model_free(s);
    nl_tensor_free(x);
}

static void test_errors(void)
{
    nl_nb201net_opts o;
    nl_nb201net_defaults(&o);
    nl_rng r;
    nl_rng_seed(&r, 1);
    nl_model *m;
    o.hw = 30;
    is_int(nl_nb201net_new(&m, &o, &r), NL_EINVAL, "hw 30 is refused");
    is_str(nl_errmsg(), "nb201 network: input size must be a multiple of 4, at least 4 (got 30)", "message");
    nl_nb201net_defaults(&o);
    o.ops[2] = 7;
    is_int(nl_nb201net_new(&m, &o, &r), NL_EINVAL, "op 7 is refused");
    is_str(nl_errmsg(), "nb201 network: op 7 of edge 3 is outside 0..4", "message");
    nl_nb201net_defaults(&o);
    o.C = 2;
    o.N = 1;
    o.hw = 8;
    if (nl_nb201net_new(&m, &o, &r)) bail("new");
    int64_t xs[4] = { 2, 3, 8, 8 };
    nl_tensor *x = nl_tensor_new(4, xs);
    const nl_tensor *lg;
    is_int(m->vt->forward(m, ctx, x, 1, &lg), NL_ESHAPE, "a 3-channel input to a 1-channel network fails");
    is_str(nl_errmsg(), "nb201 network: input has shape [2,3,8,8], expected [N,1,8,8]", "message");
    nl_tensor_free(x);
    nl_model_free(m);
}

/* A synthetic 3-class task: class k has a bright square in region k. */
static nl_dataset *synth(int64_t n, uint64_t seed)
{
    nl_dataset *d;
    if (nl_dataset_new("synthetic", n, 1, 8, 8, 3, &d)) bail("dataset");
    nl_rng r;
    nl_rng_seed(&r, seed);
    float *p = nl_tensor_data(d->images);
    for (int64_t i = 0; i < n; i++) {
        int k = (int)nl_rng_below(&r, 3);
        d->labels[i] = k;
        for (int j = 0; j < 64; j++) p[i * 64 + j] = (float)(0.5 * nl_rng_normal(&r));
        for (int y = 0; y < 3; y++)
            for (int xx = 0; xx < 3; xx++) p[i * 64 + (1 + y + (k == 2) * 4) * 8 + 1 + xx + (k == 1) * 4] += 1.0f;
    }
    return d;
}

static int stop_at(void *ud, const nl_train_event *ev)
{
    int64_t *at = ud;
    return ev->step == *at && !strcmp(ev->name, "train.batch");
}

static int same_params(const nl_model *a, const nl_model *b)
{
    for (int i = 0; i < a->nparams; i++)
        if (memcmp(nl_tensor_data(a->params[i].w), nl_tensor_data(b->params[i].w),
                   (size_t)nl_tensor_numel(a->params[i].w) * sizeof(float)))
            return 0;
    for (int i = 0; i < a->nbuffers; i++)
        if (memcmp(nl_tensor_data(a->buffers[i].w), nl_tensor_data(b->buffers[i].w),
                   (size_t)nl_tensor_numel(a->buffers[i].w) * sizeof(float)))
            return 0;
    return 1;
}

static int sample_path(void *ud, nl_model *m, nl_rng *r)
{
    (void)ud;
    nl_arch a;
    nl_space_nb201.sample(r, &a);
    return nl_nb201net_set_cell(m, a.u.nb201.op);
}

static void test_training(void)
{
    const uint8_t ops[6] = { 3, 2, 1, 1, 3, 4 };
    nl_dataset *tr = synth(300, 1), *te = synth(200, 2);
    nl_train_opts o;
    nl_train_defaults(&o);
    o.epochs = 3;
    o.batch = 32;
    o.seed = 4;
    o.lr = 0.05;
    nl_train_result r1, r2;
    nl_model *a = mknet(4, 1, 8, 3, 0, ops, 8), *b = mknet(4, 1, 8, 3, 0, ops, 8);
    double acc0;
    nl_evaluate(a, ctx, te, 64, &acc0, NULL);
    if (nl_train(a, ctx, tr, te, &o, &r1)) bail("train");
    ok(r1.test_acc > 90.0, "learns the synthetic task: test accuracy %.1f%% (untrained %.1f%%)", r1.test_acc, acc0);
    ok(r1.loss_curve[2] < r1.loss_curve[0], "train loss falls: %.3f -> %.3f", r1.loss_curve[0], r1.loss_curve[2]);
    is_int(r1.steps, 30, "10 batches x 3 epochs = 30 steps (300 examples, batch 32)");
    if (nl_train(b, ctx, tr, te, &o, &r2)) bail("train");
    ok(same_params(a, b), "same seed, same threads: bit-identical weights");
    nl_train_result_free(&r2);

    /* stop in the middle of epoch 2, resume from the checkpoint */
    char path[64];
    snprintf(path, sizeof path, "/tmp/naslab-test-%d.ckpt", (int)getpid());
    unlink(path);
    nl_model *c = mknet(4, 1, 8, 3, 0, ops, 8);
    int64_t at = 14;
    o.checkpoint = path;
    o.resume = 1;
    o.batch_events = 1;
    o.on_event = stop_at;
    o.ud = &at;
    is_int(nl_train(c, ctx, tr, te, &o, &r2), NL_EINTR, "a stop from the observer ends the run with NL_EINTR");
    nl_model_free(c);
    c = mknet(4, 1, 8, 3, 0, ops, 8); /* a fresh process would start from the same init */
    at = -1;
    if (nl_train(c, ctx, tr, te, &o, &r2)) bail("resume");
    is_int(r2.resumed_epoch, 1, "resumed in epoch 2 (0-based 1)");
    is_int(r2.resumed_batch, 4, "after its 4th batch");
    ok(same_params(a, c), "the resumed run ends with the uninterrupted run's weights, bit for bit");
    ok(r2.loss_curve[0] == r1.loss_curve[0] && r2.loss_curve[2] == r1.loss_curve[2], "and with its loss curve");
    nl_train_result_free(&r2);
    unlink(path);
    nl_model_free(c);

    /* a supernet trains only the sampled path's params */
    const uint8_t none[6] = { 0 };
    nl_model *s = mknet(4, 1, 8, 3, 1, none, 8);
    nl_train_opts so;
    nl_train_defaults(&so);
    so.epochs = 2;
    so.batch = 32;
    so.sample = sample_path;
    if (nl_train(s, ctx, tr, te, &so, &r2)) bail("supernet train");
    ok(r2.test_acc > 50.0, "SPOS supernet learns on the last sampled path: %.1f%%", r2.test_acc);
    /* recalibration = cumulative average of batch statistics: two batches
     * give the mean of what each batch alone gives with momentum 1 */
    const uint8_t good[6] = { 3, 3, 3, 3, 3, 3 };
    nl_nb201net_set_cell(s, good);
    nl_rng rr;
    nl_rng_seed(&rr, 3);
    if (nl_recalibrate_bn(s, ctx, tr, 2, 32, &rr)) bail("recal");
    int rmi = -1;
    for (int i = 0; i < s->nbuffers; i++)
        if (!strcmp(s->buffers[i].name, "cell2.e5.conv3x3.bn.rm")) rmi = i;
    int64_t cn = nl_tensor_numel(s->buffers[rmi].w);
    float rec[64], one[2][64];
    memcpy(rec, nl_tensor_data(s->buffers[rmi].w), (size_t)cn * sizeof(float));
    nl_rng_seed(&rr, 3);
    int64_t idx[32];
    int64_t bs[4] = { 32, 1, 8, 8 };
    nl_tensor *bx = nl_tensor_new(4, bs);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 32; i++) idx[i] = (int64_t)nl_rng_below(&rr, (uint64_t)tr->n);
        nl_dataset_batch(tr, idx, 32, bx, NULL);
        s->vt->reset_bn(s);
        s->bn_momentum = 1.0;
        const nl_tensor *lg;
        s->vt->forward(s, ctx, bx, 1, &lg);
        memcpy(one[k], nl_tensor_data(s->buffers[rmi].w), (size_t)cn * sizeof(float));
    }
    s->bn_momentum = 0.1;
    double err = 0;
    for (int64_t i = 0; i < cn; i++) err = fmax(err, fabs(rec[i] - 0.5 * (one[0][i] + one[1][i])));
    ok(err < 1e-5, "BN recalibration over 2 batches averages their statistics (err %.2g)", err);
    nl_tensor_free(bx);
    nl_train_result_free(&r2);
    nl_model_free(s);

    nl_train_result_free(&r1);
    nl_model_free(a);
    nl_model_free(b);
    nl_dataset_free(tr);
    nl_dataset_free(te);
}

int main(void)
{
    ctx = nl_nn_ctx_new(2);
    if (!ctx) bail("ctx");
    test_gradient();
    test_counts();
    test_supernet();
    test_errors();
    test_training();
    nl_nn_ctx_free(ctx);
    return done_testing();
}
