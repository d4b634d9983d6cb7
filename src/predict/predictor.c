/* SPDX-License-Identifier: GPL-3.0-or-later */
/* predictor.c - the predictor registry, ReNAS's pairwise ranking loss, and
 * the body shared by the neural predictors (see predictor.h): option checks,
 * canonical forms (the canonical option), per-feature z-scores and target
 * normalisation fitted on the training set, the training loop (Adam over
 * shuffled batches, model selection by training Kendall tau), batched
 * prediction, and save/load through nn/checkpoint. The loss and the loop
 * are written here: they are a few dozen lines over the nn kernels, and no
 * C library offers them. */
#include "predict/predictor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/stats.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"

const nl_predictor_kind *const nl_predictor_kinds[] = { &nl_pred_renas, &nl_pred_mlp, &nl_pred_gbdt,
                                                          &nl_pred_ensemble, NULL };

int nl_predictor_kind_find(const char *name, const nl_predictor_kind **out)
{
    char known[256] = "";
    size_t used = 0;
    for (int i = 0; nl_predictor_kinds[i]; i++) {
        if (name && strcmp(nl_predictor_kinds[i]->name, name) == 0) {
            *out = nl_predictor_kinds[i];
            return 0;
        }
        int k = snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                         nl_predictor_kinds[i]->name);
        if (k > 0 && (size_t)k < sizeof known - used) used += (size_t)k;
    }
    *out = NULL;
    return nl_err(NL_ENOTFOUND, "unknown predictor '%s' (known: %s)", name ? name : "(null)", known);
}

int nl_pred_defaults(const char *name, nl_pred_opts *o)
{
    const nl_predictor_kind *k;
    memset(o, 0, sizeof *o);
    int rc = nl_predictor_kind_find(name, &k);
    if (rc) return rc;
    k->defaults(o);
    return 0;
}

int nl_predictor_new(nl_predictor **out, const char *kind, const nl_space *sp, const nl_pred_opts *opts)
{
    if (!out) return nl_err(NL_EINVAL, "predictor: no place for the result");
    *out = NULL;
    const nl_predictor_kind *k;
    int rc = nl_predictor_kind_find(kind, &k);
    if (rc) return rc;
    nl_pred_opts o;
    if (!opts) {
        memset(&o, 0, sizeof o);
        k->defaults(&o);
        opts = &o;
    }
    return k->create(out, sp, opts);
}

void nl_predictor_free(nl_predictor *p)
{
    if (p) p->kind->free(p);
}

/* ------------------------------------------------------------ losses */

int nl_pairwise_loss(double *loss, double *ds, const double *s, const double *y, int64_t n)
{
    if (n < 2) return nl_err(NL_EINVAL, "pairwise loss needs at least 2 scores (got %lld)", (long long)n);
    if (ds) memset(ds, 0, (size_t)n * sizeof *ds);
    /* Terms (i, j) and (j, i) are equal: z_ji = (s_j - s_i) sign(y_j - y_i)
     * = z_ij, and both depend on s_i and s_j alike, so each unordered pair
     * is counted once with weight 2. d softplus(-z)/dz = -sigmoid(-z). */
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        const double si = s[i], yi = y[i];
        double row = 0, gi = 0;
        for (int64_t j = i + 1; j < n; j++) {
            const double sg = yi > y[j] ? 1.0 : yi < y[j] ? -1.0 : 0.0;
            const double z = (si - s[j]) * sg;
            const double e = exp(-fabs(z));
            row += log1p(e) + (z < 0 ? -z : 0.0);
            if (ds && sg != 0) {
                const double sig = z >= 0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
                gi -= sig * sg;
                ds[j] += sig * sg;
            }
        }
        total += row;
        if (ds) ds[i] += gi;
    }
    const double w = 2.0 / ((double)n * (double)(n - 1));
    *loss = total * w;
    if (ds)
        for (int64_t i = 0; i < n; i++) ds[i] *= w;
    return 0;
}

/* Mean squared error and its gradient (overwriting ds). */
static void mse_loss(double *loss, double *ds, const double *s, const double *t, int64_t n)
{
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = s[i] - t[i];
        sum += d * d;
        ds[i] = 2.0 * d / (double)n;
    }
    *loss = sum / (double)n;
}

/* ------------------------------------------------------------ helpers */

int nl_pred_view(nl_tensor **full, nl_tensor **v, int ndim, const int64_t *shape)
{
    int64_t need = 1;
    for (int d = 0; d < ndim; d++) need *= shape[d];
    if (!*full || nl_tensor_numel(*full) < need) {
        nl_tensor *f = nl_tensor_new(1, &need);
        if (!f) return NL_ENOMEM;
        nl_tensor_free(*full);
        *full = f;
    }
    if (*v && (*v)->st == (*full)->st && (*v)->ndim == ndim &&
        memcmp((*v)->shape, shape, (size_t)ndim * sizeof *shape) == 0)
        return 0;
    nl_tensor_free(*v);
    *v = NULL;
    nl_tensor *s;
    int rc = nl_tensor_slice(&s, *full, 0, 0, need, 1);
    if (rc) return rc;
    rc = nl_tensor_view(v, s, ndim, shape);
    nl_tensor_free(s);
    return rc;
}

void nl_pred_uniform(nl_tensor *t, double bound, nl_rng *r)
{
    float *d = nl_tensor_data(t);
    int64_t n = nl_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) d[i] = (float)((2.0 * nl_rng_uniform(r) - 1.0) * bound);
}

/* Per-feature mean and population standard deviation (sklearn's
 * StandardScaler) of x (n rows of f floats), in double, two passes; a
 * feature with zero spread gets scale 1, so it is only centred. Unless
 * binary is set, a feature whose training values are all 0 or 1 is left as
 * it is (mean 0, scale 1). */
static int zscore_fit(float *mean, float *scale, const float *x, int64_t n, int64_t f, int binary)
{
    double *m = nl_calloc((size_t)f, sizeof *m), *v = nl_calloc((size_t)f, sizeof *v);
    if (!m || !v) {
        nl_free(m);
        nl_free(v);
        return NL_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) m[j] += x[i * f + j];
    for (int64_t j = 0; j < f; j++) m[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) {
            const double d = x[i * f + j] - m[j];
            v[j] += d * d;
        }
    for (int64_t j = 0; j < f; j++) {
        const float sd = (float)sqrt(v[j] / (double)n);
        mean[j] = (float)m[j];
        scale[j] = sd > 0 ? sd : 1.0f;
    }
    if (!binary)
        for (int64_t j = 0; j < f; j++) {
            int is01 = 1;
            for (int64_t i = 0; i < n && is01; i++) is01 = x[i * f + j] == 0 || x[i * f + j] == 1;
            if (is01) {
                mean[j] = 0;
                scale[j] = 1;
            }
        }
    nl_free(m);
    nl_free(v);
    return 0;
}

/* x = (x - mean) / scale per feature, in float: fit and predict go through
 * this one function, so a saved and reloaded predictor sees the same bits. */
static void zscore_apply(float *x, int64_t n, int64_t f, const float *mean, const float *scale)
{
    for (int64_t i = 0; i < n; i++) {
        float *row = x + i * f;
        for (int64_t j = 0; j < f; j++) row[j] = (row[j] - mean[j]) / scale[j];
    }
}

static int64_t model_floats(const nl_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->nparams; i++) n += nl_tensor_numel(m->params[i].w);
    for (int i = 0; i < m->nbuffers; i++) n += nl_tensor_numel(m->buffers[i].w);
    return n;
}

/* Copy every param and buffer value of m into buf (save != 0) or back. */
static void model_copy(nl_model *m, float *buf, int save)
{
    for (int k = 0; k < m->nparams + m->nbuffers; k++) {
        nl_tensor *t = k < m->nparams ? m->params[k].w : m->buffers[k - m->nparams].w;
        size_t bytes = (size_t)nl_tensor_numel(t) * sizeof(float);
        if (save) memcpy(buf, nl_tensor_data(t), bytes);
        else memcpy(nl_tensor_data(t), buf, bytes);
        buf += nl_tensor_numel(t);
    }
}

/* ------------------------------------------------------------ options */

static int finite_nonneg(double v) { return isfinite(v) && v >= 0; }

/* The options fit reads, checked at create and again by fit (the caller
 * may change p->opts in between). */
static int check_train_opts(const char *kn, const nl_pred_opts *o)
{
    if (o->epochs < 1) return nl_err(NL_EINVAL, "%s: epochs must be >= 1 (got %d)", kn, o->epochs);
    if (o->batch < 0 || o->batch == 1)
        return nl_err(NL_EINVAL, "%s: batch must be 0 (the whole training set) or >= 2 (got %d)", kn,
                      o->batch);
    if (!finite_nonneg(o->lr)) return nl_err(NL_EINVAL, "%s: lr must be finite and >= 0 (got %g)", kn, o->lr);
    if (!finite_nonneg(o->weight_decay))
        return nl_err(NL_EINVAL, "%s: weight_decay must be finite and >= 0 (got %g)", kn, o->weight_decay);
    return 0;
}

int nl_pred_nn_init(nl_pred_nn *q, const nl_predictor_kind *k, const nl_space *sp, const nl_pred_opts *o,
                    const char *def_encoding, const char *def_loss)
{
    const char *kn = k->name;
    q->head.kind = k;
    q->head.space = sp;
    q->head.opts = *o;
    q->head.fitted = 0;
    q->y_shift = 0;
    q->y_scale = 1;
    q->predict_rows = 4096;
    if (!sp) return nl_err(NL_EINVAL, "%s: no space given", kn);

    const char *enc = o->encoding ? o->encoding : def_encoding;
    int rc = nl_space_encode_numel(sp, enc, &q->numel, &q->ndim, q->shape);
    if (rc) return nl_err_context(NL_EINVAL, "%s", kn);
    q->head.opts.encoding = NULL;
    for (int i = 0; sp->encodings && sp->encodings[i]; i++)
        if (strcmp(sp->encodings[i], enc) == 0) q->head.opts.encoding = sp->encodings[i];
    if (!q->head.opts.encoding)
        return nl_err(NL_EINVAL, "%s: encoding '%s' is not listed by space %s", kn, enc, sp->name);

    const char *loss = o->loss ? o->loss : def_loss;
    if (strcmp(loss, "pairwise") == 0) {
        q->head.opts.loss = "pairwise";
        q->pairwise = 1;
    } else if (strcmp(loss, "mse") == 0) {
        q->head.opts.loss = "mse";
        q->pairwise = 0;
    } else {
        return nl_err(NL_EINVAL, "%s: unknown loss '%s' (known: mse, pairwise)", kn, loss);
    }
    if ((rc = check_train_opts(kn, o))) return rc;
    if (o->threads < 1 || o->threads > 64)
        return nl_err(NL_EINVAL, "%s: threads must be in 1..64 (got %d)", kn, o->threads);

    if (!(q->ctx = nl_nn_ctx_new(o->threads))) return NL_ENOMEM;
    if (!(q->mean = nl_tensor_new(1, &q->numel)) || !(q->scale = nl_tensor_new(1, &q->numel))) return NL_ENOMEM;
    nl_tensor_fill(q->scale, 1.0f);
    return 0;
}

void nl_pred_nn_free(nl_predictor *p)
{
    if (!p) return;
    nl_pred_nn *q = (nl_pred_nn *)p;
    nl_model_free(q->net);
    nl_nn_ctx_free(q->ctx);
    nl_tensor_free(q->mean);
    nl_tensor_free(q->scale);
    nl_tensor_free(q->xv);
    nl_tensor_free(q->xfull);
    nl_tensor_free(q->dv);
    nl_tensor_free(q->dfull);
    nl_free(q);
}

/* ------------------------------------------------------------ fit */

static int check_archs(const nl_predictor *p, const nl_arch *archs, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (archs[i].space != p->space)
            return nl_err(NL_EINVAL, "%s: arch %lld belongs to space %s, not %s", p->kind->name, (long long)i,
                          archs[i].space ? archs[i].space->name : "(none)", p->space->name);
    return 0;
}

static int check_fit(const nl_predictor *p, const nl_arch *archs, const double *y, int64_t n)
{
    const char *kn = p->kind->name;
    if (n < 2) return nl_err(NL_EINVAL, "%s: fit needs at least 2 architectures (got %lld)", kn, (long long)n);
    if (!archs || !y) return nl_err(NL_EINVAL, "%s: fit needs architectures and targets", kn);
    for (int64_t i = 0; i < n; i++) {
        if (isnan(y[i])) return nl_err(NL_EINVAL, "%s: y[%lld] is NaN", kn, (long long)i);
        if (isinf(y[i])) return nl_err(NL_EINVAL, "%s: y[%lld] is infinite", kn, (long long)i);
    }
    return check_archs(p, archs, n);
}

/* What one fit allocates beside the predictor. */
typedef struct fit_mem {
    float *x;          /* n * numel encoded, normalised archs */
    double *t;         /* n normalised targets */
    int64_t *perm;
    double *s, *ds, *tb; /* batch scores, gradients, targets */
    float *best;       /* snapshot of the best epoch's weights */
    nl_optim *opt;
} fit_mem;

static void fit_mem_free(fit_mem *m)
{
    nl_free(m->x);
    nl_free(m->t);
    nl_free(m->perm);
    nl_free(m->s);
    nl_free(m->ds);
    nl_free(m->tb);
    nl_free(m->best);
    nl_optim_free(m->opt);
}

/* Targets t = (y - shift) / scale: min-max (ReNAS) or z-score; a constant y
 * keeps scale 1. */
static void fit_targets(nl_pred_nn *q, const double *y, int64_t n, double *t)
{
    double shift, scale;
    if (q->minmax) {
        double lo = y[0], hi = y[0];
        for (int64_t i = 1; i < n; i++) {
            if (y[i] < lo) lo = y[i];
            if (y[i] > hi) hi = y[i];
        }
        shift = lo;
        scale = hi - lo;
    } else {
        double m = 0, v = 0;
        for (int64_t i = 0; i < n; i++) m += y[i];
        m /= (double)n;
        for (int64_t i = 0; i < n; i++) v += (y[i] - m) * (y[i] - m);
        shift = m;
        scale = sqrt(v / (double)n);
    }
    if (!(scale > 0) || !isfinite(scale)) scale = 1;
    q->y_shift = shift;
    q->y_scale = scale;
    for (int64_t i = 0; i < n; i++) t[i] = (y[i] - shift) / scale;
}

/* archs[0..n) as the predictor sees them: with the canonical option on and
 * a space that has canonical forms, those forms written into buf (n archs);
 * otherwise archs itself. */
static const nl_arch *seen_archs(const nl_predictor *p, const nl_arch *archs, int64_t n, nl_arch *buf)
{
    if (!p->opts.canonical || !p->space->canonical) return archs;
    for (int64_t i = 0; i < n; i++)
        if (p->space->canonical(&archs[i], &buf[i])) buf[i] = archs[i]; /* encoding names the bad op */
    return buf;
}

/* One epoch over the shuffled training set; *tau gets the mean over its
 * batches of the tau-a of the training-mode scores (ReNAS's right_pair). */
static int fit_epoch(nl_pred_nn *q, fit_mem *m, int64_t n, int64_t batch, int epoch, double *loss_out,
                     double *tau)
{
    const nl_pred_opts *o = &q->head.opts;
    const char *kn = q->head.kind->name;
    nl_model *net = q->net;
    double loss_sum = 0, tau_sum = 0;
    int64_t seen = 0, batches = 0;
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
        int64_t bn = n - b0 < batch ? n - b0 : batch;
        if (bn < 2) continue; /* batch norm and the pairwise loss need two */
        int64_t xs[5] = { bn, 0, 0, 0, 0 };
        for (int d = 0; d < q->ndim; d++) xs[d + 1] = q->shape[d];
        int rc = nl_pred_view(&q->xfull, &q->xv, q->ndim + 1, xs);
        if (rc) return rc;
        float *xd = nl_tensor_data(q->xv);
        for (int64_t r = 0; r < bn; r++) {
            int64_t k = m->perm[b0 + r];
            memcpy(xd + r * q->numel, m->x + k * q->numel, (size_t)q->numel * sizeof *xd);
            m->tb[r] = m->t[k];
        }
        const nl_tensor *out;
        if ((rc = net->vt->forward(net, q->ctx, q->xv, 1, &out))) return nl_err_context(rc, "%s", kn);
        const float *od = nl_tensor_data(out);
        for (int64_t r = 0; r < bn; r++) m->s[r] = od[r];
        double loss;
        if (q->pairwise) nl_pairwise_loss(&loss, m->ds, m->s, m->tb, bn);
        else mse_loss(&loss, m->ds, m->s, m->tb, bn);
        if (!isfinite(loss))
            return nl_err(NL_ERANGE, "%s: training diverged in epoch %d (loss %g); try a lower lr", kn, epoch,
                          loss);
        int64_t ds_shape[2] = { bn, 1 };
        if ((rc = nl_pred_view(&q->dfull, &q->dv, 2, ds_shape))) return rc;
        float *dd = nl_tensor_data(q->dv);
        for (int64_t r = 0; r < bn; r++) dd[r] = (float)m->ds[r];
        nl_optim_zero_grad(m->opt);
        if ((rc = net->vt->backward(net, q->ctx, q->dv))) return nl_err_context(rc, "%s", kn);
        nl_optim_step(m->opt);
        if (q->select_best) {
            double t;
            if ((rc = nl_stats_kendall(&t, m->s, (size_t)bn, m->tb, (size_t)bn, NL_TAU_A)))
                return nl_err_context(rc, "%s", kn);
            tau_sum += t;
        }
        loss_sum += loss * (double)bn;
        seen += bn;
        batches++;
        if ((rc = nl_progress_report(NULL, NULL, "fit", epoch, o->epochs))) return rc;
    }
    *loss_out = loss_sum / (double)seen;
    *tau = tau_sum / (double)batches;
    return 0;
}

int nl_pred_nn_fit(nl_predictor *p, const nl_arch *archs, const double *y, int64_t n)
{
    nl_pred_nn *q = (nl_pred_nn *)p;
    const nl_pred_opts *o = &p->opts;
    const char *kn = p->kind->name;
    int rc = check_fit(p, archs, y, n);
    if (!rc) rc = check_train_opts(kn, o);
    if (rc) return rc;

    fit_mem m;
    memset(&m, 0, sizeof m);
    const int64_t batch = o->batch == 0 || o->batch > n ? n : o->batch;
    if (!(m.x = nl_malloc((size_t)(n * q->numel) * sizeof *m.x)) || !(m.t = nl_malloc((size_t)n * sizeof *m.t)) ||
        !(m.perm = nl_malloc((size_t)n * sizeof *m.perm)) || !(m.s = nl_malloc((size_t)batch * sizeof *m.s)) ||
        !(m.ds = nl_malloc((size_t)batch * sizeof *m.ds)) || !(m.tb = nl_malloc((size_t)batch * sizeof *m.tb))) {
        fit_mem_free(&m);
        return NL_ENOMEM;
    }
    /* Encoding is the last check (an op out of range): until it passes,
     * an earlier fit stays in place. */
    nl_arch *cbuf = o->canonical ? nl_malloc((size_t)n * sizeof *cbuf) : NULL;
    if (o->canonical && !cbuf) {
        fit_mem_free(&m);
        return NL_ENOMEM;
    }
    rc = nl_space_encode_batch(p->space, seen_archs(p, archs, n, cbuf), n, o->encoding, m.x);
    nl_free(cbuf);
    if (rc) {
        fit_mem_free(&m);
        return nl_err_context(rc, "%s", kn);
    }
    p->fitted = 0;
    nl_model_free(q->net);
    q->net = NULL;
    float *mean = nl_tensor_data(q->mean), *scale = nl_tensor_data(q->scale);
    if ((rc = zscore_fit(mean, scale, m.x, n, q->numel, q->zscore_binary))) goto out;
    zscore_apply(m.x, n, q->numel, mean, scale);
    fit_targets(q, y, n, m.t);

    /* Stream 0 initialises the weights, stream 1 shuffles: the same seed
     * and thread count give the same bits however often fit is called. */
    nl_rng rinit, rshuf;
    nl_rng_seed_stream(&rinit, o->seed, 0);
    nl_rng_seed_stream(&rshuf, o->seed, 1);
    if ((rc = q->new_net(q, &rinit, &q->net))) goto out;
    nl_optim_opts oo;
    nl_optim_defaults("adam", &oo);
    oo.lr = o->lr;
    oo.weight_decay = o->weight_decay;
    if ((rc = nl_optim_new(&m.opt, "adam", q->net->params, q->net->nparams, &oo))) {
        rc = nl_err_context(rc, "%s", kn);
        goto out;
    }
    if (q->select_best && !(m.best = nl_malloc((size_t)model_floats(q->net) * sizeof *m.best))) {
        rc = NL_ENOMEM;
        goto out;
    }

    double best = -INFINITY;
    q->best_epoch = 0;
    q->best_tau = NAN;
    for (int ep = 1; ep <= o->epochs; ep++) {
        nl_rng_permutation(&rshuf, m.perm, n);
        double loss = 0, tau = 0;
        if ((rc = fit_epoch(q, &m, n, batch, ep, &loss, &tau))) goto out;
        q->last_loss = loss;
        /* As ReNAS's train(): the tau of the epoch's training-mode scores
         * picks the weights as they stand after the epoch's steps. */
        if (q->select_best && tau > best) {
            best = tau;
            q->best_epoch = ep;
            q->best_tau = tau;
            model_copy(q->net, m.best, 1);
        }
        if ((rc = nl_progress_report(o->progress, o->progress_ud, "fit", ep, o->epochs))) goto out;
    }
    if (q->select_best) model_copy(q->net, m.best, 0);
    else q->best_epoch = o->epochs;
    p->fitted = 1;
out:
    fit_mem_free(&m);
    if (rc) {
        nl_model_free(q->net);
        q->net = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------ predict */

/* Scores of archs[0..n), PREDICT_ROWS at a time. */
static int predict_rows(nl_predictor *p, const nl_arch *archs, int64_t n, double *out)
{
    nl_pred_nn *q = (nl_pred_nn *)p;
    const char *kn = p->kind->name;
    const float *mean = nl_tensor_data(q->mean), *scale = nl_tensor_data(q->scale);
    nl_arch *cbuf = NULL;
    int rc = 0;
    if (p->opts.canonical &&
        !(cbuf = nl_malloc((size_t)(n < q->predict_rows ? n : q->predict_rows) * sizeof *cbuf)))
        return NL_ENOMEM;
    for (int64_t c0 = 0; c0 < n; c0 += q->predict_rows) {
        int64_t bn = n - c0 < q->predict_rows ? n - c0 : q->predict_rows;
        int64_t xs[5] = { bn, 0, 0, 0, 0 };
        for (int d = 0; d < q->ndim; d++) xs[d + 1] = q->shape[d];
        if ((rc = nl_pred_view(&q->xfull, &q->xv, q->ndim + 1, xs))) break;
        float *xd = nl_tensor_data(q->xv);
        if ((rc = nl_space_encode_batch(p->space, seen_archs(p, archs + c0, bn, cbuf), bn, p->opts.encoding, xd))) {
            rc = nl_err_context(rc, "%s", kn);
            break;
        }
        zscore_apply(xd, bn, q->numel, mean, scale);
        const nl_tensor *o;
        if ((rc = q->net->vt->forward(q->net, q->ctx, q->xv, 0, &o))) {
            rc = nl_err_context(rc, "%s", kn);
            break;
        }
        const float *od = nl_tensor_data(o);
        for (int64_t r = 0; r < bn; r++)
            out[c0 + r] = q->pairwise ? (double)od[r] : (double)od[r] * q->y_scale + q->y_shift;
        if ((rc = nl_progress_report(NULL, NULL, "predict", c0 + bn, n))) break;
    }
    nl_free(cbuf);
    return rc;
}

/* With canonical forms on, equivalent archs get one input and so one score:
 * in a space that numbers its cells (nb201: 8,765 classes among 15,625
 * cells) each class is scored once and its score copied to its members.
 * 1 when done (rc in *rc), 0 when not applicable (the plain path runs). */
static int predict_classes(nl_predictor *p, const nl_arch *archs, int64_t n, double *out, int *rc)
{
    const nl_space *sp = p->space;
    if (!p->opts.canonical || !sp->canonical || !sp->index || !(sp->size <= (double)(1 << 22)) || n < 2) return 0;
    const int64_t size = (int64_t)sp->size;
    int32_t *first = nl_malloc((size_t)size * sizeof *first);
    int32_t *map = nl_malloc((size_t)n * sizeof *map);
    nl_arch *u = nl_malloc((size_t)n * sizeof *u);
    double *ou = NULL;
    int done = 0;
    *rc = 0;
    if (!first || !map || !u) goto out; /* no memory to spare: the plain path */
    for (int64_t k = 0; k < size; k++) first[k] = -1;
    int64_t nu = 0;
    for (int64_t i = 0; i < n; i++) {
        nl_arch c;
        int64_t k;
        if (sp->canonical(&archs[i], &c) || sp->index(&c, &k) || k < 0 || k >= size) goto out;
        if (first[k] < 0) {
            first[k] = (int32_t)nu;
            u[nu++] = c;
        }
        map[i] = first[k];
    }
    if (nu == n || !(ou = nl_malloc((size_t)nu * sizeof *ou))) goto out;
    done = 1;
    if (!(*rc = predict_rows(p, u, nu, ou)))
        for (int64_t i = 0; i < n; i++) out[i] = ou[map[i]];
out:
    nl_free(first);
    nl_free(map);
    nl_free(u);
    nl_free(ou);
    return done;
}

int nl_pred_nn_predict(nl_predictor *p, const nl_arch *archs, int64_t n, double *out)
{
    const char *kn = p->kind->name;
    if (!p->fitted) return nl_err(NL_EINVAL, "%s: predict before fit", kn);
    if (n < 0) return nl_err(NL_EINVAL, "%s: negative count %lld", kn, (long long)n);
    if (n == 0) return 0;
    if (!archs || !out) return nl_err(NL_EINVAL, "%s: predict needs architectures and an output array", kn);
    int rc = check_archs(p, archs, n);
    if (rc) return rc;
    if (predict_classes(p, archs, n, out, &rc)) return rc;
    return predict_rows(p, archs, n, out);
}

/* ------------------------------------------------------------ save, load */

/* The records of a predictor file: the net's params and buffers, then the
 * feature normalisation. *out is nl_malloc'ed. */
static int ckpt_params(nl_model *net, nl_tensor *mean, nl_tensor *scale, nl_param **out, int *np)
{
    int n = net->nparams + net->nbuffers + 2;
    nl_param *a = nl_calloc((size_t)n, sizeof *a);
    if (!a) return NL_ENOMEM;
    for (int i = 0; i < net->nparams; i++) a[i] = net->params[i];
    for (int i = 0; i < net->nbuffers; i++) a[net->nparams + i] = net->buffers[i];
    snprintf(a[n - 2].name, sizeof a[n - 2].name, "norm.mean");
    a[n - 2].w = mean;
    snprintf(a[n - 1].name, sizeof a[n - 1].name, "norm.scale");
    a[n - 1].w = scale;
    *out = a;
    *np = n;
    return 0;
}

int nl_pred_nn_save(const nl_predictor *p, const char *path)
{
    const nl_pred_nn *q = (const nl_pred_nn *)p;
    const nl_pred_opts *o = &p->opts;
    const char *kn = p->kind->name;
    if (!p->fitted) return nl_err(NL_EINVAL, "%s: save before fit", kn);
    if (!path || !*path) return nl_err(NL_EINVAL, "%s: save needs a path", kn);
    nl_ckpt_extra e;
    memset(&e, 0, sizeof e);
    int rc = 0;
    if ((rc = nl_ckpt_extra_set_str(&e, "kind", kn)) ||
        (rc = nl_ckpt_extra_set_str(&e, "space", p->space->name)) ||
        (rc = nl_ckpt_extra_set_str(&e, "encoding", o->encoding)) ||
        (rc = nl_ckpt_extra_set_str(&e, "loss", o->loss)) ||
        (rc = nl_ckpt_extra_set_int(&e, "canonical", o->canonical)) ||
        (rc = nl_ckpt_extra_set_int(&e, "seed", (int64_t)o->seed)) ||
        (rc = nl_ckpt_extra_set_int(&e, "threads", o->threads)) ||
        (rc = nl_ckpt_extra_set_int(&e, "epochs", o->epochs)) ||
        (rc = nl_ckpt_extra_set_int(&e, "batch", o->batch)) ||
        (rc = nl_ckpt_extra_set_real(&e, "lr", o->lr)) ||
        (rc = nl_ckpt_extra_set_real(&e, "weight_decay", o->weight_decay)) ||
        (rc = nl_ckpt_extra_set_int(&e, "hidden", o->hidden)) ||
        (rc = nl_ckpt_extra_set_int(&e, "layers", o->layers)) ||
        (rc = nl_ckpt_extra_set_real(&e, "y_shift", q->y_shift)) ||
        (rc = nl_ckpt_extra_set_real(&e, "y_scale", q->y_scale)) ||
        (rc = nl_ckpt_extra_set_int(&e, "best_epoch", q->best_epoch)) ||
        (rc = nl_ckpt_extra_set_real(&e, "best_tau", q->best_tau)))
        return nl_err_context(rc, "%s", kn);
    nl_param *params;
    int np;
    if ((rc = ckpt_params(q->net, q->mean, q->scale, &params, &np))) return rc;
    rc = nl_ckpt_save(path, params, np, NULL, NULL, 0, &e);
    nl_free(params);
    return rc ? nl_err_context(rc, "%s", kn) : 0;
}

/* The string value `name` of e must equal `want`. */
static int expect_str(const nl_ckpt_extra *e, const char *kn, const char *path, const char *name, const char *want,
                      const char *what)
{
    const char *v;
    if (nl_ckpt_extra_get_str(e, name, &v))
        return nl_err(NL_EFORMAT, "%s: checkpoint %s is not a predictor (no value '%s')", kn, path, name);
    if (strcmp(v, want) != 0)
        return nl_err(NL_EINVAL, "%s: checkpoint %s holds a predictor %s '%s', not '%s'", kn, path, what, v, want);
    return 0;
}

int nl_pred_nn_load(nl_predictor *p, const char *path)
{
    nl_pred_nn *q = (nl_pred_nn *)p;
    const char *kn = p->kind->name;
    if (!path || !*path) return nl_err(NL_EINVAL, "%s: load needs a path", kn);
    /* Load into a fresh net and fresh normalisation tensors, and swap them
     * in only when everything checked: a failed load changes nothing. */
    nl_rng r;
    nl_rng_seed(&r, 0);
    nl_model *net = NULL;
    nl_tensor *mean = NULL, *scale = NULL;
    nl_param *params = NULL;
    int np;
    nl_ckpt_extra e;
    memset(&e, 0, sizeof e);
    int rc = q->new_net(q, &r, &net);
    if (rc) goto out;
    if (!(mean = nl_tensor_new(1, &q->numel)) || !(scale = nl_tensor_new(1, &q->numel))) {
        rc = NL_ENOMEM;
        goto out;
    }
    if ((rc = ckpt_params(net, mean, scale, &params, &np))) goto out;
    if ((rc = nl_ckpt_load(path, params, np, NULL, NULL, 0, &e))) {
        if (rc == NL_ENOTFOUND || rc == NL_ESHAPE) {
            /* The file's params differ from this predictor's: say so, with
             * the loader's first difference (its message minus the prefix). */
            char why[512], prefix[1100];
            snprintf(prefix, sizeof prefix, "checkpoint %s: ", path);
            const char *msg = nl_errmsg();
            if (strncmp(msg, prefix, strlen(prefix)) == 0) msg += strlen(prefix);
            snprintf(why, sizeof why, "%s", msg);
            rc = nl_err(rc, "%s: checkpoint %s holds another kind, space or shape of predictor (%s)", kn, path, why);
        } else {
            rc = nl_err_context(rc, "%s", kn);
        }
        goto out;
    }
    const char *loss;
    if ((rc = expect_str(&e, kn, path, "kind", kn, "of kind")) ||
        (rc = expect_str(&e, kn, path, "space", p->space->name, "for space")) ||
        (rc = expect_str(&e, kn, path, "encoding", p->opts.encoding, "on encoding")))
        goto out;
    int64_t seed, epochs, batch, hidden, layers, best_epoch;
    double lr, wd, y_shift, y_scale, best_tau;
    if (nl_ckpt_extra_get_str(&e, "loss", &loss) || nl_ckpt_extra_get_int(&e, "seed", &seed) ||
        nl_ckpt_extra_get_int(&e, "epochs", &epochs) || nl_ckpt_extra_get_int(&e, "batch", &batch) ||
        nl_ckpt_extra_get_real(&e, "lr", &lr) || nl_ckpt_extra_get_real(&e, "weight_decay", &wd) ||
        nl_ckpt_extra_get_int(&e, "hidden", &hidden) || nl_ckpt_extra_get_int(&e, "layers", &layers) ||
        nl_ckpt_extra_get_real(&e, "y_shift", &y_shift) || nl_ckpt_extra_get_real(&e, "y_scale", &y_scale) ||
        nl_ckpt_extra_get_int(&e, "best_epoch", &best_epoch) || nl_ckpt_extra_get_real(&e, "best_tau", &best_tau)) {
        rc = nl_err(NL_EFORMAT, "%s: checkpoint %s: %s", kn, path, nl_errmsg());
        goto out;
    }
    /* Files from before the canonical option fitted the archs as given. */
    int64_t canonical = 0;
    if (nl_ckpt_extra_get_int(&e, "canonical", &canonical)) canonical = 0;
    int pairwise = strcmp(loss, "pairwise") == 0;
    if (!pairwise && strcmp(loss, "mse") != 0) {
        rc = nl_err(NL_EFORMAT, "%s: checkpoint %s: unknown loss '%s'", kn, path, loss);
        goto out;
    }
    /* Everything checked: adopt the file's weights and training options
     * (the loss decides how scores are scaled; the rest is provenance). */
    nl_model_free(q->net);
    q->net = net;
    net = NULL;
    nl_tensor_free(q->mean);
    q->mean = mean;
    mean = NULL;
    nl_tensor_free(q->scale);
    q->scale = scale;
    scale = NULL;
    q->pairwise = pairwise;
    p->opts.loss = pairwise ? "pairwise" : "mse";
    p->opts.canonical = canonical != 0;
    p->opts.seed = (uint64_t)seed;
    p->opts.epochs = (int)epochs;
    p->opts.batch = (int)batch;
    p->opts.lr = lr;
    p->opts.weight_decay = wd;
    p->opts.hidden = (int)hidden;
    p->opts.layers = (int)layers;
    q->y_shift = y_shift;
    q->y_scale = y_scale;
    q->best_epoch = (int)best_epoch;
    q->best_tau = best_tau;
    p->fitted = 1;
out:
    nl_free(params);
    nl_model_free(net);
    nl_tensor_free(mean);
    nl_tensor_free(scale);
    return rc;
}
