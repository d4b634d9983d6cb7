/* SPDX-License-Identifier: GPL-3.0-or-later */
/* renas.c - ReNAS, the relativistic performance predictor (Xu et al., CVPR
 * 2021; ALGORITHMS.md section 1): the official "LeNet" scorer over the
 * space's feature-tensor encoding ("renas": nb201 31x4x4, nb101 19x7x7),
 * z-scored per feature on the training set, trained with the pairwise
 * ranking loss, keeping the weights of the epoch with the best training
 * Kendall tau. The network is composed here from the nn kernels; training,
 * prediction and checkpoints are the shared neural body in predictor.c.
 *
 * Differences from the official renas.py, on purpose: the extra
 * optimizer.step() at the start of every epoch is dropped (it only repeats
 * the previous gradient); the best tau starts at -inf instead of 0, so a run
 * whose tau never rises above 0 keeps its best epoch rather than the
 * untrained weights; weight decay, when asked for, skips BN and biases.
 *
 * Two input choices differ from ReNAS by default (options restore it:
 * canonical = 0, encoding = "renas"), both measured on NB201 c10_test with
 * 156 training cells (bench/predictor_eval.lua, BENCHMARKS.md):
 *  - archs are fitted and scored in their canonical form (dead edges made
 *    `none`, NB201's node 1/2 swap), so the many equivalent NB201 cells get
 *    one input instead of inputs that differ by convs that compute nothing;
 *  - where the space has a "renas_onehot" encoding (nb201) it is the
 *    default: op types as five 0/1 channels instead of the ordinal codes
 *    1..5 of the type matrix, which tell the network that avg_pool_3x3 lies
 *    beyond nor_conv_3x3. nb101 keeps its 19x7x7 "renas" tensor. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "predict/predictor.h"

enum { C1 = 38, C2 = 128, F1 = 120, F2 = 84 };

/* Param and buffer order (also the order of initialisation). */
enum { P_CONV1, P_BN1G, P_BN1B, P_CONV2, P_BN2G, P_BN2B, P_FC1W, P_FC1B, P_FC2W, P_FC2B, P_FC3W, P_FC3B, NPARAM };
enum { B_BN1M, B_BN1V, B_BN2M, B_BN2V, NBUF };

typedef struct lenet {
    nl_model m;
    int64_t cin, h, w;
    nl_param params[NPARAM];
    nl_param bufs[NBUF];
    uint8_t active[NPARAM];
    nl_tensor *sm1, *si1, *sm2, *si2; /* batch statistics saved for backward */
    const nl_tensor *x;               /* the last training input (borrowed) */
    /* Activations: 1-d buffers and views of them. In evaluation, BN runs in
     * place on the conv output in r1 / r2, so c1 and c2 are only for training. */
    nl_tensor *c1f, *c1, *r1f, *r1, *c2f, *c2, *r2f, *r2, *flat;
    nl_tensor *f1f, *f1, *f2f, *f2, *of, *out;
    /* Gradients: two large ping-pong buffers viewed in several shapes, and
     * the dense head's. */
    nl_tensor *gaf, *ga_flat, *ga2, *ga1, *gbf, *gb2, *gb1;
    nl_tensor *gf2rf, *gf2r, *gf2f, *gf2, *gf1rf, *gf1r, *gf1f, *gf1;
} lenet;

static const nl_model_vt lenet_vt;

static void lenet_free(nl_model *m)
{
    lenet *n = (lenet *)m;
    for (int i = 0; i < NPARAM; i++) {
        nl_tensor_free(n->params[i].w);
        nl_tensor_free(n->params[i].g);
    }
    for (int i = 0; i < NBUF; i++) nl_tensor_free(n->bufs[i].w);
    nl_tensor *const t[] = { n->sm1, n->si1, n->sm2, n->si2, n->c1f, n->c1, n->r1f, n->r1, n->c2f, n->c2,
                             n->r2f, n->r2, n->flat, n->f1f, n->f1, n->f2f, n->f2, n->of, n->out,
                             n->gaf, n->ga_flat, n->ga2, n->ga1, n->gbf, n->gb2, n->gb1, n->gf2rf,
                             n->gf2r, n->gf2f, n->gf2, n->gf1rf, n->gf1r, n->gf1f, n->gf1 };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) nl_tensor_free(t[i]);
    nl_free(n);
}

static int add(nl_param *p, const char *name, int ndim, const int64_t *shape, int grad, int decay)
{
    snprintf(p->name, sizeof p->name, "%s", name);
    p->decay = decay;
    if (!(p->w = nl_tensor_new(ndim, shape))) return NL_ENOMEM;
    if (grad && !(p->g = nl_tensor_new(ndim, shape))) return NL_ENOMEM;
    return 0;
}

static void reset_bn(nl_model *m)
{
    lenet *n = (lenet *)m;
    nl_tensor_fill(n->bufs[B_BN1M].w, 0.0f);
    nl_tensor_fill(n->bufs[B_BN1V].w, 1.0f);
    nl_tensor_fill(n->bufs[B_BN2M].w, 0.0f);
    nl_tensor_fill(n->bufs[B_BN2V].w, 1.0f);
}

/* The scorer for inputs (N, q->shape), with PyTorch 1.13's default init:
 * uniform +-1/sqrt(fan_in) for conv and linear weights and linear biases,
 * BN gamma 1 and beta 0, drawn from r in module order. */
static int lenet_new(const nl_pred_nn *q, nl_rng *r, nl_model **out)
{
    *out = NULL;
    lenet *n = nl_calloc(1, sizeof *n);
    if (!n) return NL_ENOMEM;
    n->m.vt = &lenet_vt;
    n->m.params = n->params;
    n->m.nparams = NPARAM;
    n->m.buffers = n->bufs;
    n->m.nbuffers = NBUF;
    n->m.active = n->active;
    n->m.classes = 1;
    n->m.bn_momentum = 0.1;
    memset(n->active, 1, sizeof n->active);
    n->cin = q->shape[0];
    n->h = q->shape[1];
    n->w = q->shape[2];
    const int64_t flat = C2 * n->h * n->w;
    const int64_t w1[4] = { C1, n->cin, 3, 3 }, w2[4] = { C2, C1, 3, 3 }, c1 = C1, c2 = C2;
    const int64_t fc1[2] = { F1, flat }, fc2[2] = { F2, F1 }, fc3[2] = { 1, F2 }, b1 = F1, b2 = F2, b3 = 1;
    int rc = 0;
    if ((rc = add(&n->params[P_CONV1], "conv1.w", 4, w1, 1, 1)) ||
        (rc = add(&n->params[P_BN1G], "bn1.g", 1, &c1, 1, 0)) ||
        (rc = add(&n->params[P_BN1B], "bn1.b", 1, &c1, 1, 0)) ||
        (rc = add(&n->params[P_CONV2], "conv2.w", 4, w2, 1, 1)) ||
        (rc = add(&n->params[P_BN2G], "bn2.g", 1, &c2, 1, 0)) ||
        (rc = add(&n->params[P_BN2B], "bn2.b", 1, &c2, 1, 0)) ||
        (rc = add(&n->params[P_FC1W], "fc1.w", 2, fc1, 1, 1)) ||
        (rc = add(&n->params[P_FC1B], "fc1.b", 1, &b1, 1, 0)) ||
        (rc = add(&n->params[P_FC2W], "fc2.w", 2, fc2, 1, 1)) ||
        (rc = add(&n->params[P_FC2B], "fc2.b", 1, &b2, 1, 0)) ||
        (rc = add(&n->params[P_FC3W], "fc3.w", 2, fc3, 1, 1)) ||
        (rc = add(&n->params[P_FC3B], "fc3.b", 1, &b3, 1, 0)) ||
        (rc = add(&n->bufs[B_BN1M], "bn1.rm", 1, &c1, 0, 0)) ||
        (rc = add(&n->bufs[B_BN1V], "bn1.rv", 1, &c1, 0, 0)) ||
        (rc = add(&n->bufs[B_BN2M], "bn2.rm", 1, &c2, 0, 0)) ||
        (rc = add(&n->bufs[B_BN2V], "bn2.rv", 1, &c2, 0, 0)))
        goto fail;
    if (!(n->sm1 = nl_tensor_new(1, &c1)) || !(n->si1 = nl_tensor_new(1, &c1)) || !(n->sm2 = nl_tensor_new(1, &c2)) ||
        !(n->si2 = nl_tensor_new(1, &c2))) {
        rc = NL_ENOMEM;
        goto fail;
    }
    nl_pred_uniform(n->params[P_CONV1].w, 1.0 / sqrt((double)(n->cin * 9)), r);
    nl_tensor_fill(n->params[P_BN1G].w, 1.0f);
    nl_pred_uniform(n->params[P_CONV2].w, 1.0 / sqrt((double)(C1 * 9)), r);
    nl_tensor_fill(n->params[P_BN2G].w, 1.0f);
    const int fcw[3] = { P_FC1W, P_FC2W, P_FC3W };
    const int64_t fan[3] = { flat, F1, F2 };
    for (int l = 0; l < 3; l++) {
        nl_pred_uniform(n->params[fcw[l]].w, 1.0 / sqrt((double)fan[l]), r);
        nl_pred_uniform(n->params[fcw[l] + 1].w, 1.0 / sqrt((double)fan[l]), r);
    }
    reset_bn(&n->m);
    *out = &n->m;
    return 0;
fail:
    lenet_free(&n->m);
    return rc;
}

#define SHAPE4(N, C, H, W) ((const int64_t[4]){ (N), (C), (H), (W) })
#define SHAPE2(N, F) ((const int64_t[2]){ (N), (F) })

/* conv -> BN -> ReLU. Training: conv into c, BN from c into r (c is kept
 * for the backward); evaluation: conv into r, BN and ReLU in place. */
static int conv_bn_relu(lenet *n, nl_nn_ctx *c, const nl_tensor *x, int pw, int pg, int bm, nl_tensor *conv_out,
                        nl_tensor *r, nl_tensor *sm, nl_tensor *si, int training)
{
    nl_param *P = n->params;
    nl_tensor *y = training ? conv_out : r;
    int rc = nl_conv2d_forward(c, y, x, P[pw].w, NULL, 1, 1, 1);
    if (!rc)
        rc = nl_bn_forward(c, r, y, P[pg].w, P[pg + 1].w, n->bufs[bm].w, n->bufs[bm + 1].w, sm, si, training,
                           n->m.bn_momentum, 1e-5);
    if (!rc) rc = nl_relu_forward(r, r);
    return rc;
}

static int lenet_forward(nl_model *m, nl_nn_ctx *c, const nl_tensor *x, int training, const nl_tensor **logits)
{
    lenet *n = (lenet *)m;
    nl_param *P = n->params;
    if (!x || x->ndim != 4 || x->shape[1] != n->cin || x->shape[2] != n->h || x->shape[3] != n->w) {
        char b[64];
        return nl_err(NL_ESHAPE, "renas: input has shape %s, expected [N,%lld,%lld,%lld]",
                      x ? nl_tensor_shape_str(x, b, sizeof b) : "(none)", (long long)n->cin, (long long)n->h,
                      (long long)n->w);
    }
    const int64_t N = x->shape[0], h = n->h, w = n->w;
    int rc;
    if ((rc = nl_pred_view(&n->r1f, &n->r1, 4, SHAPE4(N, C1, h, w))) ||
        (rc = nl_pred_view(&n->r2f, &n->r2, 4, SHAPE4(N, C2, h, w))) ||
        (rc = nl_pred_view(&n->r2f, &n->flat, 2, SHAPE2(N, C2 * h * w))) ||
        (rc = nl_pred_view(&n->f1f, &n->f1, 2, SHAPE2(N, F1))) ||
        (rc = nl_pred_view(&n->f2f, &n->f2, 2, SHAPE2(N, F2))) || (rc = nl_pred_view(&n->of, &n->out, 2, SHAPE2(N, 1))))
        return rc;
    if (training && ((rc = nl_pred_view(&n->c1f, &n->c1, 4, SHAPE4(N, C1, h, w))) ||
                     (rc = nl_pred_view(&n->c2f, &n->c2, 4, SHAPE4(N, C2, h, w)))))
        return rc;
    if ((rc = conv_bn_relu(n, c, x, P_CONV1, P_BN1G, B_BN1M, n->c1, n->r1, n->sm1, n->si1, training)) ||
        (rc = conv_bn_relu(n, c, n->r1, P_CONV2, P_BN2G, B_BN2M, n->c2, n->r2, n->sm2, n->si2, training)) ||
        (rc = nl_linear_forward(c, n->f1, n->flat, P[P_FC1W].w, P[P_FC1B].w)) || (rc = nl_relu_forward(n->f1, n->f1)) ||
        (rc = nl_linear_forward(c, n->f2, n->f1, P[P_FC2W].w, P[P_FC2B].w)) || (rc = nl_relu_forward(n->f2, n->f2)) ||
        (rc = nl_linear_forward(c, n->out, n->f2, P[P_FC3W].w, P[P_FC3B].w)))
        return rc;
    n->x = training ? x : NULL;
    *logits = n->out;
    return 0;
}

/* A zeroed gradient view (backward kernels accumulate). */
static int gview(nl_tensor **full, nl_tensor **v, int ndim, const int64_t *shape)
{
    int rc = nl_pred_view(full, v, ndim, shape);
    if (!rc) nl_tensor_fill(*v, 0.0f);
    return rc;
}

static int lenet_backward(nl_model *m, nl_nn_ctx *c, const nl_tensor *dout)
{
    lenet *n = (lenet *)m;
    nl_param *P = n->params;
    if (!n->x) return nl_err(NL_EINVAL, "renas: backward without a training forward");
    const int64_t N = n->x->shape[0], h = n->h, w = n->w;
    int rc;
    /* The head: fc3 <- relu <- fc2 <- relu <- fc1. */
    if ((rc = gview(&n->gf2rf, &n->gf2r, 2, SHAPE2(N, F2))) ||
        (rc = nl_linear_backward(c, n->gf2r, P[P_FC3W].g, P[P_FC3B].g, dout, n->f2, P[P_FC3W].w)) ||
        (rc = gview(&n->gf2f, &n->gf2, 2, SHAPE2(N, F2))) || (rc = nl_relu_backward(n->gf2, n->gf2r, n->f2)) ||
        (rc = gview(&n->gf1rf, &n->gf1r, 2, SHAPE2(N, F1))) ||
        (rc = nl_linear_backward(c, n->gf1r, P[P_FC2W].g, P[P_FC2B].g, n->gf2, n->f1, P[P_FC2W].w)) ||
        (rc = gview(&n->gf1f, &n->gf1, 2, SHAPE2(N, F1))) || (rc = nl_relu_backward(n->gf1, n->gf1r, n->f1)) ||
        (rc = gview(&n->gaf, &n->ga_flat, 2, SHAPE2(N, C2 * h * w))) ||
        (rc = nl_linear_backward(c, n->ga_flat, P[P_FC1W].g, P[P_FC1B].g, n->gf1, n->flat, P[P_FC1W].w)))
        return rc;
    /* The convolutions, ping-ponging between ga and gb: ga holds d flat,
     * gb d(bn2 out), ga d c2, gb d r1, ga d(bn1 out), gb d c1. */
    if ((rc = nl_pred_view(&n->gaf, &n->ga2, 4, SHAPE4(N, C2, h, w))) ||
        (rc = gview(&n->gbf, &n->gb2, 4, SHAPE4(N, C2, h, w))) || (rc = nl_relu_backward(n->gb2, n->ga2, n->r2)))
        return rc;
    nl_tensor_fill(n->ga2, 0.0f);
    if ((rc = nl_bn_backward(c, n->ga2, P[P_BN2G].g, P[P_BN2B].g, n->gb2, n->c2, P[P_BN2G].w, n->sm2, n->si2)) ||
        (rc = gview(&n->gbf, &n->gb1, 4, SHAPE4(N, C1, h, w))) ||
        (rc = nl_conv2d_backward(c, n->gb1, P[P_CONV2].g, NULL, n->ga2, n->r1, P[P_CONV2].w, 1, 1, 1)) ||
        (rc = gview(&n->gaf, &n->ga1, 4, SHAPE4(N, C1, h, w))) || (rc = nl_relu_backward(n->ga1, n->gb1, n->r1)))
        return rc;
    nl_tensor_fill(n->gb1, 0.0f);
    if ((rc = nl_bn_backward(c, n->gb1, P[P_BN1G].g, P[P_BN1B].g, n->ga1, n->c1, P[P_BN1G].w, n->sm1, n->si1)) ||
        (rc = nl_conv2d_backward(c, NULL, P[P_CONV1].g, NULL, n->gb1, n->x, P[P_CONV1].w, 1, 1, 1)))
        return rc;
    return 0;
}

static const nl_model_vt lenet_vt = {
    .name = "renas-lenet",
    .forward = lenet_forward,
    .backward = lenet_backward,
    .reset_bn = reset_bn,
    .free = lenet_free,
};

/* ------------------------------------------------------------ the kind */

static void renas_defaults(nl_pred_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->encoding = NULL; /* the space's: renas_onehot where it exists, else renas */
    o->canonical = 1;
    o->loss = "pairwise";
    o->epochs = 200;
    o->batch = 1024;
    o->lr = 1e-3;
}

static int renas_create(nl_predictor **out, const nl_space *sp, const nl_pred_opts *o)
{
    *out = NULL;
    nl_pred_nn *q = nl_calloc(1, sizeof *q);
    if (!q) return NL_ENOMEM;
    const char *def = "renas";
    for (int i = 0; sp && sp->encodings && sp->encodings[i]; i++)
        if (strcmp(sp->encodings[i], "renas_onehot") == 0) def = "renas_onehot";
    int rc = nl_pred_nn_init(q, &nl_pred_renas, sp, o, def, "pairwise");
    if (!rc && q->ndim != 3)
        rc = nl_err(NL_EINVAL,
                    "renas: encoding '%s' of %s has %d dimension%s; renas needs a (channels, height, width) "
                    "encoding such as 'renas'",
                    q->head.opts.encoding, sp->name, q->ndim, q->ndim == 1 ? "" : "s");
    if (rc) {
        nl_pred_nn_free(&q->head);
        return rc;
    }
    q->minmax = 1;
    q->zscore_binary = 1;
    q->select_best = 1;
    q->new_net = lenet_new;
    /* Keep the largest activation of a predict batch near 2^21 floats
     * (nb201: 1024 archs; nb101's 7x7 tensors: 334). Larger batches were
     * no faster: the products are already large enough for BLAS. */
    int64_t rows = ((int64_t)1 << 21) / (C2 * q->shape[1] * q->shape[2]);
    q->predict_rows = rows < 64 ? 64 : rows > 4096 ? 4096 : rows;
    *out = &q->head;
    return 0;
}

const nl_predictor_kind nl_pred_renas = {
    .name = "renas",
    .title = "ReNAS: LeNet on the feature-tensor encoding, pairwise ranking loss (Xu et al., 2021)",
    .defaults = renas_defaults,
    .create = renas_create,
    .fit = nl_pred_nn_fit,
    .predict = nl_pred_nn_predict,
    .save = nl_pred_nn_save,
    .load = nl_pred_nn_load,
    .free = nl_pred_nn_free,
};
