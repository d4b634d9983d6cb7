/* SPDX-License-Identifier: GPL-3.0-or-later */
/* train.c - the training loop (see train.h). A checkpoint stores the params,
 * the batch-norm buffers, the optimiser, the rng state at the start of the
 * current epoch (so the resumed run draws the same permutation and skips the
 * batches already done), the sampler rng, the per-epoch curves so far and the
 * partial sums of the current epoch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/error.h"
#include "core/progress.h"
#include "nn/checkpoint.h"
#include "nn/train.h"

void nl_train_defaults(nl_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 1;
    o->batch = 128;
    o->optim = "sgd";
    o->lr = 0.1;
    o->schedule = "cosine";
    o->momentum = 0.9;
    o->nesterov = 1;
    o->weight_decay = 5e-4;
}

void nl_train_result_free(nl_train_result *r)
{
    if (!r) return;
    free(r->loss_curve);
    free(r->acc_curve);
    r->loss_curve = r->acc_curve = NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int check_data(const nl_model *m, const nl_dataset *d, const char *what)
{
    if (d->n < 1) return nl_err(NL_EINVAL, "train: the %s data set is empty", what);
    if (d->nclasses > m->classes)
        return nl_err(NL_ESHAPE, "train: the %s data set has %d classes but the network has %d outputs", what,
                      d->nclasses, m->classes);
    return 0;
}

/* A batch buffer of capacity cap and a view of its first rows. */
typedef struct batchbuf {
    nl_tensor *full, *view;
    int32_t *labels;
    int64_t cap, n;
} batchbuf;

static int batch_init(batchbuf *b, const nl_dataset *d, int64_t cap)
{
    memset(b, 0, sizeof *b);
    int64_t s[4] = { cap, d->c, d->h, d->w };
    b->full = nl_tensor_new(4, s);
    b->labels = malloc((size_t)cap * sizeof *b->labels);
    if (!b->full || !b->labels) return nl_err(NL_ENOMEM, "train: out of memory for a batch of %lld", (long long)cap);
    b->cap = cap;
    return 0;
}

static void batch_done(batchbuf *b)
{
    nl_tensor_free(b->full);
    nl_tensor_free(b->view);
    free(b->labels);
    memset(b, 0, sizeof *b);
}

/* Gather examples idx[0..n) into b and make b->view (n, c, h, w). */
static int batch_fill(batchbuf *b, const nl_dataset *d, const int64_t *idx, int64_t n)
{
    int rc = nl_dataset_batch(d, idx, n, b->full, b->labels);
    if (rc) return rc;
    if (b->view && b->n == n) return 0;
    nl_tensor_free(b->view);
    b->view = NULL;
    b->n = n;
    return nl_tensor_slice(&b->view, b->full, 0, 0, n, 1);
}

int nl_evaluate(nl_model *m, nl_nn_ctx *c, const nl_dataset *d, int batch, double *acc, double *loss)
{
    if (batch < 1) return nl_err(NL_EINVAL, "evaluate: batch must be >= 1 (got %d)", batch);
    int rc = check_data(m, d, "evaluation");
    if (rc) return rc;
    batchbuf b;
    int64_t cap = d->n < batch ? d->n : batch;
    if ((rc = batch_init(&b, d, cap))) return rc;
    int64_t *idx = malloc((size_t)cap * sizeof *idx);
    if (!idx) {
        batch_done(&b);
        return nl_err(NL_ENOMEM, "evaluate: out of memory");
    }
    double lsum = 0;
    int64_t correct = 0;
    for (int64_t s = 0; s < d->n && !rc; s += cap) {
        int64_t n = d->n - s < cap ? d->n - s : cap;
        for (int64_t i = 0; i < n; i++) idx[i] = s + i;
        const nl_tensor *logits;
        double l;
        int64_t k;
        if ((rc = batch_fill(&b, d, idx, n)) || (rc = m->vt->forward(m, c, b.view, 0, &logits)) ||
            (rc = nl_softmax_xent(&l, &k, NULL, logits, b.labels)))
            break;
        lsum += l * (double)n;
        correct += k;
        rc = nl_progress_report(NULL, NULL, "evaluate", s + n, d->n);
    }
    free(idx);
    batch_done(&b);
    if (rc) return rc;
    if (acc) *acc = 100.0 * (double)correct / (double)d->n;
    if (loss) *loss = lsum / (double)d->n;
    return 0;
}

int nl_recalibrate_bn(nl_model *m, nl_nn_ctx *c, const nl_dataset *d, int batches, int batch, nl_rng *r)
{
    if (batches < 1) return nl_err(NL_EINVAL, "recalibrate: batches must be >= 1 (got %d)", batches);
    if (batch < 2) return nl_err(NL_EINVAL, "recalibrate: batch must be >= 2 (got %d)", batch);
    int rc = check_data(m, d, "calibration");
    if (rc) return rc;
    if (d->n < 2) return nl_err(NL_EINVAL, "recalibrate: needs at least 2 examples");
    int64_t cap = d->n < batch ? d->n : batch;
    batchbuf b;
    if ((rc = batch_init(&b, d, cap))) return rc;
    int64_t *idx = malloc((size_t)cap * sizeof *idx);
    if (!idx) {
        batch_done(&b);
        return nl_err(NL_ENOMEM, "recalibrate: out of memory");
    }
    double saved = m->bn_momentum;
    m->vt->reset_bn(m);
    for (int k = 0; k < batches && !rc; k++) {
        for (int64_t i = 0; i < cap; i++) idx[i] = (int64_t)nl_rng_below(r, (uint64_t)d->n);
        m->bn_momentum = 1.0 / (k + 1); /* cumulative average of the batch statistics */
        const nl_tensor *logits;
        if ((rc = batch_fill(&b, d, idx, cap)) || (rc = m->vt->forward(m, c, b.view, 1, &logits))) break;
        rc = nl_progress_report(NULL, NULL, "recalibrate", k + 1, batches);
    }
    m->bn_momentum = saved;
    free(idx);
    batch_done(&b);
    return rc;
}

/* ------------------------------------------------------------ checkpoints */

typedef struct run {
    nl_model *m;
    nl_optim *opt;
    nl_param *all; /* params, buffers, then the two curves */
    int nall;
    nl_tensor *lcurve, *acurve;
    nl_rng rng[2]; /* [0]: state at the start of the current epoch; [1]: sampler */
} run;

static int run_save(run *u, const nl_train_opts *o, int epoch, int64_t batch, double lsum, int64_t correct,
                    int64_t seen, double seconds)
{
    nl_ckpt_extra ex;
    memset(&ex, 0, sizeof ex);
    nl_ckpt_extra_set_int(&ex, "epoch", epoch);
    nl_ckpt_extra_set_int(&ex, "batch", batch);
    nl_ckpt_extra_set_real(&ex, "loss_sum", lsum);
    nl_ckpt_extra_set_int(&ex, "correct", correct);
    nl_ckpt_extra_set_int(&ex, "seen", seen);
    nl_ckpt_extra_set_real(&ex, "seconds", seconds);
    nl_ckpt_extra_set_int(&ex, "seed", (int64_t)o->seed);
    if (o->tag) nl_ckpt_extra_set_str(&ex, "tag", o->tag);
    return nl_ckpt_save(o->checkpoint, u->all, u->nall, u->opt, u->rng, 2, &ex);
}

static int run_load(run *u, const nl_train_opts *o, int *epoch, int64_t *batch, double *lsum, int64_t *correct,
                    int64_t *seen, double *seconds)
{
    nl_ckpt_extra ex;
    int rc = nl_ckpt_load(o->checkpoint, u->all, u->nall, u->opt, u->rng, 2, &ex);
    if (rc) return rc;
    int64_t e, seed;
    if ((rc = nl_ckpt_extra_get_int(&ex, "epoch", &e)) || (rc = nl_ckpt_extra_get_int(&ex, "batch", batch)) ||
        (rc = nl_ckpt_extra_get_real(&ex, "loss_sum", lsum)) || (rc = nl_ckpt_extra_get_int(&ex, "correct", correct)) ||
        (rc = nl_ckpt_extra_get_int(&ex, "seen", seen)) || (rc = nl_ckpt_extra_get_real(&ex, "seconds", seconds)) ||
        (rc = nl_ckpt_extra_get_int(&ex, "seed", &seed)))
        return nl_err(NL_EFORMAT, "checkpoint %s: %s", o->checkpoint, nl_errmsg());
    if ((uint64_t)seed != o->seed)
        return nl_err(NL_EINVAL, "checkpoint %s: written by a run with seed %lld, this run has seed %llu",
                      o->checkpoint, (long long)seed, (unsigned long long)o->seed);
    const char *tag;
    if (o->tag && (nl_ckpt_extra_get_str(&ex, "tag", &tag) || strcmp(tag, o->tag)))
        return nl_err(NL_EINVAL, "checkpoint %s: written by another run (%s), this run trains %s", o->checkpoint,
                      nl_ckpt_extra_get_str(&ex, "tag", &tag) ? "no description" : tag, o->tag);
    *epoch = (int)e;
    return 0;
}

/* ------------------------------------------------------------ training */

static int check_opts(const nl_train_opts *o, nl_sched_opts *sched, int64_t steps)
{
    if (o->epochs < 1) return nl_err(NL_EINVAL, "train: epochs must be >= 1 (got %d)", o->epochs);
    if (o->batch < 2) return nl_err(NL_EINVAL, "train: batch must be >= 2 (got %d)", o->batch);
    if (o->eval_every < 0) return nl_err(NL_EINVAL, "train: eval_every must be >= 0 (got %d)", o->eval_every);
    if (o->batch_events < 0) return nl_err(NL_EINVAL, "train: batch_events must be >= 0 (got %d)", o->batch_events);
    if (o->checkpoint_every < 0)
        return nl_err(NL_EINVAL, "train: checkpoint_every must be >= 0 (got %d)", o->checkpoint_every);
    if (o->resume && !o->checkpoint) return nl_err(NL_EINVAL, "train: resume needs a checkpoint path");
    nl_sched_kind k;
    int rc = nl_sched_kind_from_name(o->schedule ? o->schedule : "cosine", &k);
    if (rc) return nl_err(NL_EINVAL, "train: schedule: %s", nl_errmsg());
    nl_sched_defaults(sched, k, o->lr);
    sched->lr_min = o->lr_min;
    sched->total = steps > 0 ? steps : 1;
    if ((rc = nl_sched_check(sched))) return nl_err(NL_EINVAL, "train: %s", nl_errmsg());
    return 0;
}

static int emit(const nl_train_opts *o, nl_train_event *ev)
{
    if (o->on_event && o->on_event(o->ud, ev)) return nl_err(NL_EINTR, "interrupted");
    return nl_progress_report(NULL, NULL, ev->name, ev->step, ev->steps);
}

int nl_train(nl_model *m, nl_nn_ctx *c, const nl_dataset *train, const nl_dataset *test, const nl_train_opts *o,
             nl_train_result *r)
{
    memset(r, 0, sizeof *r);
    r->test_acc = r->test_loss = NAN;
    r->resumed_epoch = -1;
    int rc;
    if ((rc = check_data(m, train, "training"))) return rc;
    if (test && (rc = check_data(m, test, "test"))) return rc;
    int64_t bs = train->n < o->batch ? train->n : o->batch;
    int64_t nb = train->n / bs + (train->n % bs >= 2);
    int64_t steps = nb * o->epochs;
    nl_sched_opts sched;
    if ((rc = check_opts(o, &sched, steps))) return rc;
    if (train->n < 2) return nl_err(NL_EINVAL, "train: the training data set needs at least 2 examples");

    run u;
    memset(&u, 0, sizeof u);
    u.m = m;
    batchbuf b;
    memset(&b, 0, sizeof b);
    int64_t *perm = NULL;
    nl_optim_opts oo;
    const char *kind = o->optim ? o->optim : "sgd";
    if ((rc = nl_optim_defaults(kind, &oo))) return nl_err(NL_EINVAL, "train: optim: %s", nl_errmsg());
    oo.lr = o->lr;
    oo.weight_decay = o->weight_decay;
    if (!strcmp(kind, "sgd")) {
        oo.momentum = o->momentum;
        oo.nesterov = o->nesterov && o->momentum > 0;
    }
    if ((rc = nl_optim_new(&u.opt, kind, m->params, m->nparams, &oo))) {
        rc = nl_err(rc, "train: %s", nl_errmsg());
        goto out;
    }
    u.nall = m->nparams + m->nbuffers + 2;
    u.all = calloc((size_t)u.nall, sizeof *u.all);
    int64_t ne = o->epochs;
    u.lcurve = nl_tensor_new(1, &ne);
    u.acurve = nl_tensor_new(1, &ne);
    r->loss_curve = calloc((size_t)o->epochs, sizeof *r->loss_curve);
    r->acc_curve = calloc((size_t)o->epochs, sizeof *r->acc_curve);
    perm = malloc((size_t)train->n * sizeof *perm);
    if (!u.all || !u.lcurve || !u.acurve || !perm || !r->loss_curve || !r->acc_curve) {
        rc = nl_err(NL_ENOMEM, "train: out of memory");
        goto out;
    }
    memcpy(u.all, m->params, (size_t)m->nparams * sizeof *u.all);
    memcpy(u.all + m->nparams, m->buffers, (size_t)m->nbuffers * sizeof *u.all);
    snprintf(u.all[u.nall - 2].name, sizeof u.all[0].name, "train.loss_curve");
    u.all[u.nall - 2].w = u.lcurve;
    snprintf(u.all[u.nall - 1].name, sizeof u.all[0].name, "train.acc_curve");
    u.all[u.nall - 1].w = u.acurve;
    if ((rc = batch_init(&b, train, bs))) goto out;
    nl_rng_seed(&u.rng[0], o->seed);
    nl_rng_seed_stream(&u.rng[1], o->seed, 1);

    int epoch0 = 0;
    int64_t batch0 = 0, correct = 0, seen = 0;
    double lsum = 0, secs0 = 0;
    struct stat st;
    if (o->resume && stat(o->checkpoint, &st) == 0) {
        if ((rc = run_load(&u, o, &epoch0, &batch0, &lsum, &correct, &seen, &secs0))) goto out;
        r->resumed_epoch = epoch0;
        r->resumed_batch = batch0;
    }
    for (int e = 0; e < epoch0 && e < o->epochs; e++) {
        r->loss_curve[e] = nl_tensor_data(u.lcurve)[e];
        r->acc_curve[e] = nl_tensor_data(u.acurve)[e];
    }
    nl_optim_zero_grad(u.opt);

    double t0 = now(), tcheck = 0;
    int64_t images = 0;
    nl_train_event ev;
    memset(&ev, 0, sizeof ev);
    ev.epochs = o->epochs;
    ev.steps = steps;
    int stop_after = 0; /* stopped on an epoch's last batch: finish the epoch, save, then stop */
    for (int e = epoch0; e < o->epochs; e++) {
        nl_rng epoch_start = u.rng[0];
        nl_rng_permutation(&u.rng[0], perm, train->n);
        int64_t first = e == epoch0 ? batch0 : 0;
        if (e != epoch0) lsum = 0, correct = 0, seen = 0;
        for (int64_t k = first; k < nb; k++) {
            int64_t lo = k * bs, n = train->n - lo < bs ? train->n - lo : bs;
            const nl_tensor *logits;
            double loss;
            int64_t ok;
            int64_t step = (int64_t)e * nb + k;
            if (o->sample && (rc = o->sample(o->sample_ud, m, &u.rng[1]))) goto out;
            if ((rc = nl_optim_set_lr(u.opt, nl_sched_lr(&sched, step)))) goto out;
            if ((rc = batch_fill(&b, train, perm + lo, n))) goto out;
            nl_tensor *dl = NULL;
            if ((rc = m->vt->forward(m, c, b.view, 1, &logits))) goto out;
            if ((rc = nl_tensor_zeros(&dl, 2, logits->shape))) goto out;
            rc = nl_softmax_xent(&loss, &ok, dl, logits, b.labels);
            if (!rc) rc = m->vt->backward(m, c, dl);
            nl_tensor_free(dl);
            if (rc) goto out;
            nl_optim_step_masked(u.opt, m->active);
            nl_optim_zero_grad(u.opt);
            lsum += loss * (double)n;
            correct += ok;
            seen += n;
            images += n;
            double el = now() - t0;
            ev.name = "train.batch";
            ev.epoch = e + 1;
            ev.step = step + 1;
            ev.loss = loss;
            ev.acc = 100.0 * (double)ok / (double)n;
            ev.test_acc = NAN;
            ev.lr = nl_optim_lr(u.opt);
            ev.images_per_s = images / (el - tcheck > 0 ? el - tcheck : 1e-9);
            ev.seconds = secs0 + el - tcheck;
            int stop = 0;
            if (o->batch_events && (k + 1) % o->batch_events == 0) stop = emit(o, &ev);
            else stop = nl_progress_report(NULL, NULL, "train", step + 1, steps);
            int save = o->checkpoint && (stop || (o->checkpoint_every && (k + 1) % o->checkpoint_every == 0));
            if (save && k + 1 < nb) {
                double tc = now();
                nl_rng cur = u.rng[0];
                u.rng[0] = epoch_start;
                int src = run_save(&u, o, e, k + 1, lsum, correct, seen, ev.seconds);
                u.rng[0] = cur;
                tcheck += now() - tc;
                if (src) {
                    rc = src;
                    goto out;
                }
            }
            if (stop && k + 1 < nb) {
                rc = nl_err(NL_EINTR, "interrupted");
                goto out;
            }
            stop_after = stop;
        }
        /* the curves are float32, as the checkpoint keeps them, so a resumed
         * run reports exactly what an uninterrupted one does */
        float fl = seen ? (float)(lsum / (double)seen) : NAN, fa = seen ? (float)(100.0 * (double)correct / (double)seen) : NAN;
        double ml = fl, ma = fa;
        nl_tensor_data(u.lcurve)[e] = fl;
        nl_tensor_data(u.acurve)[e] = fa;
        r->loss_curve[e] = ml;
        r->acc_curve[e] = ma;
        r->train_loss = ml;
        r->train_acc = ma;
        ev.name = "train.epoch";
        ev.epoch = e + 1;
        ev.step = (int64_t)(e + 1) * nb;
        ev.loss = ml;
        ev.acc = ma;
        ev.test_acc = NAN;
        ev.seconds = secs0 + now() - t0 - tcheck;
        if (test && ((o->eval_every && (e + 1) % o->eval_every == 0) || e + 1 == o->epochs)) {
            double tc = now();
            if ((rc = nl_evaluate(m, c, test, (int)(bs > 256 ? bs : 256), &r->test_acc, &r->test_loss))) goto out;
            tcheck += now() - tc;
            ev.test_acc = r->test_acc;
        }
        if (o->checkpoint) {
            double tc = now();
            rc = run_save(&u, o, e + 1, 0, 0, 0, 0, ev.seconds);
            tcheck += now() - tc;
            if (rc) goto out;
        }
        if ((rc = emit(o, &ev))) goto out;
        if (stop_after) {
            rc = nl_err(NL_EINTR, "interrupted");
            goto out;
        }
    }
    r->epochs = o->epochs;
    {
        double el = now() - t0 - tcheck;
        r->seconds = secs0 + el;
        r->images_per_s = el > 0 ? (double)images / el : 0;
    }
    if (o->epochs <= epoch0) { /* the checkpoint holds a finished run */
        r->train_loss = r->loss_curve[o->epochs - 1];
        r->train_acc = r->acc_curve[o->epochs - 1];
        if (test && (rc = nl_evaluate(m, c, test, 256, &r->test_acc, &r->test_loss))) goto out;
    }
out:
    r->steps = u.opt ? nl_optim_steps(u.opt) : 0;
    nl_optim_free(u.opt);
    free(u.all);
    nl_tensor_free(u.lcurve);
    nl_tensor_free(u.acurve);
    batch_done(&b);
    free(perm);
    if (rc) nl_train_result_free(r);
    return rc;
}
