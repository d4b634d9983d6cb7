/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mlp.c - the multilayer-perceptron regression baseline (as NASLib's MLP
 * predictor, simplified): `layers` hidden ReLU layers of `hidden` units and
 * a scalar output over a flat encoding ("onehot" by default, or "path"; any
 * encoding of the space is accepted and flattened), trained with Adam on the
 * mean squared error of z-scored targets (scores come back in the targets'
 * units) or on ReNAS's pairwise ranking loss (scores are then unscaled).
 * Features that are not all 0/1 on the training set (the "renas" tensors,
 * mbv3's "int") are z-scored there; 0/1 features go in as they are, as in
 * NASLib (z-scoring one-hot columns made the 2 x 64 net overfit 200 NB201
 * cells: Kendall tau 0.84 instead of 0.90 on a synthetic target). The
 * network is composed here from the nn kernels; training, prediction and
 * checkpoints are the shared neural body in predictor.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "predict/predictor.h"

enum { MAX_LAYERS = 16, MAX_HIDDEN = 65536 };

typedef struct mlp {
    nl_model m;
    int nlin;                          /* linear layers: layers + 1 */
    int64_t width[MAX_LAYERS + 2];     /* width[0] inputs, width[nlin] = 1 */
    nl_param params[2 * (MAX_LAYERS + 1)]; /* fc<i>.w, fc<i>.b */
    uint8_t active[2 * (MAX_LAYERS + 1)];
    const nl_tensor *x;                /* the last training input (borrowed) */
    nl_tensor *af[MAX_LAYERS + 2], *a[MAX_LAYERS + 2];   /* a[i]: output of layer i (ReLU'd below the top) */
    nl_tensor *gf[MAX_LAYERS + 2], *g[MAX_LAYERS + 2];   /* d a[i] after the ReLU */
    nl_tensor *hf[MAX_LAYERS + 2], *hv[MAX_LAYERS + 2];  /* d a[i] before it */
} mlp;

static const nl_model_vt mlp_vt;

static void mlp_free(nl_model *m)
{
    mlp *n = (mlp *)m;
    for (int i = 0; i < 2 * n->nlin; i++) {
        nl_tensor_free(n->params[i].w);
        nl_tensor_free(n->params[i].g);
    }
    for (int i = 0; i < MAX_LAYERS + 2; i++) {
        nl_tensor_free(n->a[i]);
        nl_tensor_free(n->af[i]);
        nl_tensor_free(n->g[i]);
        nl_tensor_free(n->gf[i]);
        nl_tensor_free(n->hv[i]);
        nl_tensor_free(n->hf[i]);
    }
    nl_free(n);
}

static void mlp_reset_bn(nl_model *m)
{
    (void)m; /* no batch norm */
}

/* The scorer for flat inputs (N, q->numel), PyTorch's default init
 * (uniform +-1/sqrt(fan_in) for weights and biases), drawn from r layer by
 * layer. */
static int mlp_new(const nl_pred_nn *q, nl_rng *r, nl_model **out)
{
    *out = NULL;
    mlp *n = nl_calloc(1, sizeof *n);
    if (!n) return NL_ENOMEM;
    const nl_pred_opts *o = &q->head.opts;
    n->m.vt = &mlp_vt;
    n->m.params = n->params;
    n->m.active = n->active;
    n->m.classes = 1;
    n->nlin = o->layers + 1;
    n->m.nparams = 2 * n->nlin;
    memset(n->active, 1, sizeof n->active);
    n->width[0] = q->numel;
    for (int i = 1; i < n->nlin; i++) n->width[i] = o->hidden;
    n->width[n->nlin] = 1;
    for (int i = 0; i < n->nlin; i++) {
        const int64_t ws[2] = { n->width[i + 1], n->width[i] };
        nl_param *w = &n->params[2 * i], *b = &n->params[2 * i + 1];
        snprintf(w->name, sizeof w->name, "fc%d.w", i + 1);
        snprintf(b->name, sizeof b->name, "fc%d.b", i + 1);
        w->decay = 1;
        if (!(w->w = nl_tensor_new(2, ws)) || !(w->g = nl_tensor_new(2, ws)) || !(b->w = nl_tensor_new(1, ws)) ||
            !(b->g = nl_tensor_new(1, ws))) {
            mlp_free(&n->m);
            return NL_ENOMEM;
        }
        const double bound = 1.0 / sqrt((double)n->width[i]);
        nl_pred_uniform(w->w, bound, r);
        nl_pred_uniform(b->w, bound, r);
    }
    *out = &n->m;
    return 0;
}

static int mlp_forward(nl_model *m, nl_nn_ctx *c, const nl_tensor *x, int training, const nl_tensor **logits)
{
    mlp *n = (mlp *)m;
    if (!x || x->ndim != 2 || x->shape[1] != n->width[0]) {
        char b[64];
        return nl_err(NL_ESHAPE, "mlp: input has shape %s, expected [N,%lld]",
                      x ? nl_tensor_shape_str(x, b, sizeof b) : "(none)", (long long)n->width[0]);
    }
    const int64_t N = x->shape[0];
    const nl_tensor *in = x;
    int rc;
    for (int i = 1; i <= n->nlin; i++) {
        const int64_t s[2] = { N, n->width[i] };
        if ((rc = nl_pred_view(&n->af[i], &n->a[i], 2, s)) ||
            (rc = nl_linear_forward(c, n->a[i], in, n->params[2 * i - 2].w, n->params[2 * i - 1].w)))
            return rc;
        if (i < n->nlin && (rc = nl_relu_forward(n->a[i], n->a[i]))) return rc;
        in = n->a[i];
    }
    n->x = training ? x : NULL;
    *logits = n->a[n->nlin];
    return 0;
}

static int mlp_backward(nl_model *m, nl_nn_ctx *c, const nl_tensor *dout)
{
    mlp *n = (mlp *)m;
    if (!n->x) return nl_err(NL_EINVAL, "mlp: backward without a training forward");
    const int64_t N = n->x->shape[0];
    const nl_tensor *dy = dout;
    int rc;
    for (int i = n->nlin; i >= 1; i--) {
        const nl_tensor *in = i > 1 ? n->a[i - 1] : n->x;
        nl_tensor *dx = NULL;
        if (i > 1) {
            const int64_t s[2] = { N, n->width[i - 1] };
            if ((rc = nl_pred_view(&n->hf[i - 1], &n->hv[i - 1], 2, s))) return rc;
            nl_tensor_fill(n->hv[i - 1], 0.0f);
            dx = n->hv[i - 1];
        }
        if ((rc = nl_linear_backward(c, dx, n->params[2 * i - 2].g, n->params[2 * i - 1].g, dy, in,
                                     n->params[2 * i - 2].w)))
            return rc;
        if (i > 1) {
            const int64_t s[2] = { N, n->width[i - 1] };
            if ((rc = nl_pred_view(&n->gf[i - 1], &n->g[i - 1], 2, s))) return rc;
            nl_tensor_fill(n->g[i - 1], 0.0f);
            if ((rc = nl_relu_backward(n->g[i - 1], dx, n->a[i - 1]))) return rc;
            dy = n->g[i - 1];
        }
    }
    return 0;
}

static const nl_model_vt mlp_vt = {
    .name = "mlp",
    .forward = mlp_forward,
    .backward = mlp_backward,
    .reset_bn = mlp_reset_bn,
    .free = mlp_free,
};

/* ------------------------------------------------------------ the kind */

static void mlp_defaults(nl_pred_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->encoding = "onehot";
    o->loss = "mse";
    o->epochs = 300;
    o->batch = 128;
    o->lr = 1e-3;
    o->hidden = 64;
    o->layers = 2;
}

static int mlp_create(nl_predictor **out, const nl_space *sp, const nl_pred_opts *o)
{
    *out = NULL;
    nl_pred_nn *q = nl_calloc(1, sizeof *q);
    if (!q) return NL_ENOMEM;
    int rc = nl_pred_nn_init(q, &nl_pred_mlp, sp, o, "onehot", "mse");
    if (!rc && (o->layers < 0 || o->layers > MAX_LAYERS))
        rc = nl_err(NL_EINVAL, "mlp: layers must be in 0..%d (got %d)", MAX_LAYERS, o->layers);
    if (!rc && o->layers > 0 && (o->hidden < 1 || o->hidden > MAX_HIDDEN))
        rc = nl_err(NL_EINVAL, "mlp: hidden must be in 1..%d (got %d)", MAX_HIDDEN, o->hidden);
    if (rc) {
        nl_pred_nn_free(&q->head);
        return rc;
    }
    /* The net sees the encoding flattened. */
    q->ndim = 1;
    q->shape[0] = q->numel;
    q->minmax = 0;
    q->zscore_binary = 0;
    q->select_best = 0;
    q->new_net = mlp_new;
    *out = &q->head;
    return 0;
}

const nl_predictor_kind nl_pred_mlp = {
    .name = "mlp",
    .title = "multilayer perceptron on a flat encoding, MSE or pairwise loss (regression baseline)",
    .defaults = mlp_defaults,
    .create = mlp_create,
    .fit = nl_pred_nn_fit,
    .predict = nl_pred_nn_predict,
    .save = nl_pred_nn_save,
    .load = nl_pred_nn_load,
    .free = nl_pred_nn_free,
};
