/* SPDX-License-Identifier: GPL-3.0-or-later */
/* proxy.c - the zero-cost proxies of proxy.h. NASWOT reads ReLU inputs
 * through the nn relu hook and takes the determinant with LAPACK's dgetrf;
 * grad_norm and snip run the network's own forward and backward; synflow
 * walks the NAS-Bench-201 graph here with the nn kernels, because it needs
 * the network without batch norm and a number range wider than float32 (the
 * walk is the layout of nb201net.h, weights taken from the model by name). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "predict/proxy.h"

/* LAPACK's LU factorisation, as OpenBLAS exports it (Debian ships no
 * lapacke.h beside OpenBLAS's cblas.h). */
void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);

/* ------------------------------------------------------------ naswot */

/* Columns of codes counted per product: a float sum of 0/1 products is exact
 * below 2^24, and the chunk bounds the scratch memory (B x 4096 floats). */
#define NASWOT_CHUNK 4096

int nl_proxy_naswot_add(double *K, const nl_tensor *x)
{
    if (!x || x->ndim < 1 || !nl_tensor_is_contiguous(x))
        return nl_err(NL_EINVAL, "naswot: the ReLU input must be a contiguous tensor");
    int64_t B = x->shape[0];
    if (B < 1) return 0;
    int64_t N = nl_tensor_numel(x) / B;
    const float *xd = nl_tensor_data(x);
    int64_t W = N < NASWOT_CHUNK ? N : NASWOT_CHUNK;
    float *code = malloc((size_t)(B * (W ? W : 1)) * sizeof *code);
    float *G = malloc((size_t)(B * B) * sizeof *G);
    double *s = malloc((size_t)B * sizeof *s);
    if (!code || !G || !s) {
        free(code);
        free(G);
        free(s);
        return nl_err(NL_ENOMEM, "naswot: out of memory for a batch of %lld", (long long)B);
    }
    for (int64_t j0 = 0; j0 < N; j0 += W) {
        int64_t w = N - j0 < W ? N - j0 : W;
        for (int64_t i = 0; i < B; i++) {
            const float *row = xd + i * N + j0;
            float *ci = code + i * w;
            double cnt = 0;
            for (int64_t j = 0; j < w; j++) {
                ci[j] = row[j] > 0.0f ? 1.0f : 0.0f;
                cnt += ci[j];
            }
            s[i] = cnt;
        }
        /* sum_k (1-c_ik)(1-c_jk) = w - s_i - s_j + (c c^T)_ij */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)B, (int)w, 1.0f, code, (int)w, code,
                    (int)w, 0.0f, G, (int)B);
        for (int64_t i = 0; i < B; i++)
            for (int64_t j = 0; j < B; j++) K[i * B + j] += 2.0 * G[i * B + j] + (double)w - s[i] - s[j];
    }
    free(code);
    free(G);
    free(s);
    return 0;
}

int nl_proxy_slogdet(double *logabs, int *sign, const double *a, int n)
{
    if (n < 1) return nl_err(NL_EINVAL, "slogdet: the matrix must be at least 1 x 1, got n = %d", n);
    for (int64_t i = 0; i < (int64_t)n * n; i++)
        if (!isfinite(a[i]))
            return nl_err(NL_EINVAL, "slogdet: entry (%lld,%lld) is not finite", (long long)(i / n + 1),
                          (long long)(i % n + 1));
    double *lu = malloc((size_t)n * (size_t)n * sizeof *lu);
    int *piv = malloc((size_t)n * sizeof *piv);
    if (!lu || !piv) {
        free(lu);
        free(piv);
        return nl_err(NL_ENOMEM, "slogdet: out of memory for %d x %d", n, n);
    }
    /* column-major is the transpose, which has the same determinant */
    memcpy(lu, a, (size_t)n * (size_t)n * sizeof *lu);
    int info = 0;
    dgetrf_(&n, &n, lu, &n, piv, &info);
    double la = 0.0;
    int sg = 1;
    if (info > 0) {
        la = -INFINITY;
        sg = 0;
    } else {
        for (int i = 0; i < n; i++) {
            double u = lu[(size_t)i * (size_t)n + (size_t)i];
            if (u < 0) sg = -sg;
            if (piv[i] != i + 1) sg = -sg;
            la += log(fabs(u));
        }
    }
    free(lu);
    free(piv);
    if (info < 0) return nl_err(NL_EINVAL, "slogdet: dgetrf rejected argument %d", -info);
    *logabs = la;
    if (sign) *sign = sg;
    return 0;
}

typedef struct naswot_ud {
    double *K;
    int64_t B;
} naswot_ud;

static int naswot_hook(void *ud, const nl_tensor *x)
{
    naswot_ud *u = ud;
    if (x->shape[0] != u->B)
        return nl_err(NL_ESHAPE, "naswot: a ReLU input has batch %lld, expected %lld", (long long)x->shape[0],
                      (long long)u->B);
    return nl_proxy_naswot_add(u->K, x);
}

static int check_net(const nl_model *m, const char *who)
{
    if (!nl_nb201net_is(m)) return nl_err(NL_EINVAL, "%s: the model is not an nb201 network", who);
    return 0;
}

static int check_batch(const nl_tensor *x, const int32_t *labels, const char *who)
{
    if (!x || !labels) return nl_err(NL_EINVAL, "%s: needs a minibatch (images and labels)", who);
    if (x->ndim != 4 || x->shape[0] < 2)
        return nl_err(NL_EINVAL, "%s: the minibatch must be (B, C, H, W) with B >= 2", who);
    return 0;
}

static int score_naswot(double *out, nl_model *m, const nl_nb201net_opts *no, nl_nn_ctx *c, const nl_tensor *x,
                        const int32_t *labels)
{
    (void)no;
    int rc = check_net(m, "naswot");
    if (!rc) rc = check_batch(x, labels, "naswot");
    if (rc) return rc;
    naswot_ud u = { NULL, x->shape[0] };
    u.K = calloc((size_t)(u.B * u.B), sizeof *u.K);
    if (!u.K) return nl_err(NL_ENOMEM, "naswot: out of memory");
    const nl_tensor *logits;
    nl_nn_ctx_set_relu_hook(c, naswot_hook, &u);
    rc = m->vt->forward(m, c, x, 1, &logits);
    nl_nn_ctx_set_relu_hook(c, NULL, NULL);
    double la = 0;
    if (!rc) rc = nl_proxy_slogdet(&la, NULL, u.K, (int)u.B);
    free(u.K);
    if (!rc) *out = la;
    return rc;
}

/* ------------------------------------------------------------ grad_norm, snip */

/* Gradients of the mean cross-entropy of the minibatch in every param's g. */
static int xent_grads(nl_model *m, nl_nn_ctx *c, const nl_tensor *x, const int32_t *labels, const char *who)
{
    int rc = check_net(m, who);
    if (!rc) rc = check_batch(x, labels, who);
    if (rc) return rc;
    for (int i = 0; i < m->nparams; i++) nl_tensor_fill(m->params[i].g, 0.0f);
    const nl_tensor *logits;
    if ((rc = m->vt->forward(m, c, x, 1, &logits))) return rc;
    nl_tensor *dl = nl_tensor_new(logits->ndim, logits->shape);
    if (!dl) return nl_err(NL_ENOMEM, "%s: out of memory", who);
    double loss;
    rc = nl_softmax_xent(&loss, NULL, dl, logits, labels);
    if (!rc) rc = m->vt->backward(m, c, dl);
    nl_tensor_free(dl);
    return rc;
}

/* Conv and linear weights (the params with weight decay) of the current path:
 * the layers zero-cost-nas's get_layer_metric_array reads. */
static int is_weight(const nl_model *m, int i)
{
    return m->active[i] && m->params[i].decay;
}

static int score_grad_norm(double *out, nl_model *m, const nl_nb201net_opts *no, nl_nn_ctx *c, const nl_tensor *x,
                           const int32_t *labels)
{
    (void)no;
    int rc = xent_grads(m, c, x, labels, "grad_norm");
    if (rc) return rc;
    double s = 0;
    for (int i = 0; i < m->nparams; i++) {
        if (!is_weight(m, i)) continue;
        const float *g = nl_tensor_data(m->params[i].g);
        double q = 0;
        for (int64_t k = 0, n = nl_tensor_numel(m->params[i].g); k < n; k++) q += (double)g[k] * g[k];
        s += sqrt(q);
    }
    *out = s;
    return 0;
}

static int score_snip(double *out, nl_model *m, const nl_nb201net_opts *no, nl_nn_ctx *c, const nl_tensor *x,
                      const int32_t *labels)
{
    (void)no;
    int rc = xent_grads(m, c, x, labels, "snip");
    if (rc) return rc;
    double s = 0;
    for (int i = 0; i < m->nparams; i++) {
        if (!is_weight(m, i)) continue;
        const float *g = nl_tensor_data(m->params[i].g), *w = nl_tensor_data(m->params[i].w);
        for (int64_t k = 0, n = nl_tensor_numel(m->params[i].g); k < n; k++) s += fabs((double)w[k] * g[k]);
    }
    *out = s;
    return 0;
}

/* ------------------------------------------------------------ params, flops */

static int score_params(double *out, nl_model *m, const nl_nb201net_opts *no, nl_nn_ctx *c, const nl_tensor *x,
                        const int32_t *labels)
{
    (void)no, (void)c, (void)x, (void)labels;
    int64_t n = 0;
    for (int i = 0; i < m->nparams; i++)
        if (m->active[i]) n += nl_tensor_numel(m->params[i].w);
    *out = (double)n;
    return 0;
}

static int score_flops(double *out, nl_model *m, const nl_nb201net_opts *no, nl_nn_ctx *c, const nl_tensor *x,
                       const int32_t *labels)
{
    (void)no, (void)c, (void)x, (void)labels;
    int rc = check_net(m, "flops");
    if (rc) return rc;
    *out = (double)nl_nb201net_macs(m);
    return 0;
}

/* ------------------------------------------------------------ synflow
 * Block floating point: a value is t * 2^e with t's largest magnitude in
 * [1, 2) (or t all zero, flagged). Every operation of the BN-free network is
 * linear and positively homogeneous (conv without bias, ReLU, average
 * pooling, sums), so it runs on t and passes e along; sums of tensors with
 * different exponents are aligned to the larger one first. The weight terms
 * |theta * dR/dtheta| = |theta| * (sum over positions of x * dy) come out of
 * the conv backward on the normalised tensors (bounded values) and are
 * scaled by 2^(e_x + e_dy) in double. */

typedef struct bt {
    nl_tensor *t;
    int e;
    int zero;
} bt;

enum { OP_NONE, OP_SKIP, OP_CONV1, OP_CONV3, OP_POOL };
static const int edge_src[6] = { 0, 0, 1, 0, 1, 2 };
static const int edge_dst[6] = { 1, 2, 2, 3, 3, 3 };

typedef struct sfcell {
    bt node[4];      /* node[0]: the input (borrowed) */
    bt relu[3];      /* ReLU of nodes read by a conv */
    nl_tensor *w[6]; /* |weight| of conv edges */
} sfcell;

typedef struct sfblock {
    bt x, rx, ca, rb, sp, out; /* input, ReLU(input), conv a, ReLU(conv a), pooled input, output */
    nl_tensor *wa, *wb, *wsc;
} sfblock;

typedef struct sf {
    nl_nn_ctx *c;
    const nl_model *m;
    double score;
    nl_tensor **own;
    int nown, capown;
} sf;

/* Keep t for freeing at the end; t itself when kept, else NULL (t freed). */
static nl_tensor *sf_keep(sf *s, nl_tensor *t)
{
    if (!t) return NULL;
    if (s->nown == s->capown) {
        int cap = s->capown ? 2 * s->capown : 256;
        nl_tensor **a = realloc(s->own, (size_t)cap * sizeof *a);
        if (!a) {
            nl_tensor_free(t);
            return NULL;
        }
        s->own = a;
        s->capown = cap;
    }
    return s->own[s->nown++] = t;
}

/* A zeroed tensor of the given shape, owned by s. */
static nl_tensor *sf_shape(sf *s, int ndim, const int64_t *shape)
{
    nl_tensor *t = NULL;
    return nl_tensor_zeros(&t, ndim, shape) ? NULL : sf_keep(s, t);
}

/* A zeroed (1, c, h, w) tensor (or (1, c) for h = 0) owned by s. */
static nl_tensor *sf_tensor(sf *s, int64_t c, int64_t h, int64_t w)
{
    int64_t shape[4] = { 1, c, h, w };
    return sf_shape(s, h ? 4 : 2, shape);
}

static nl_tensor *sf_like(sf *s, const nl_tensor *t)
{
    return sf_shape(s, t->ndim, t->shape);
}

/* *out = |w| of the param called name, owned by s. NL_EINVAL when the model
 * has no such param, NL_ENOMEM. */
static int sf_absw(sf *s, const char *name, nl_tensor **out)
{
    for (int i = 0; i < s->m->nparams; i++) {
        if (strcmp(s->m->params[i].name, name)) continue;
        nl_tensor *t = NULL;
        if (nl_tensor_clone(&t, s->m->params[i].w) || !sf_keep(s, t))
            return nl_err(NL_ENOMEM, "synflow: out of memory");
        float *d = nl_tensor_data(t);
        for (int64_t k = 0, n = nl_tensor_numel(t); k < n; k++) d[k] = fabsf(d[k]);
        *out = t;
        return 0;
    }
    return nl_err(NL_EINVAL, "synflow: the model has no param '%s'", name);
}

static void scale_pow2(nl_tensor *t, int k)
{
    float *d = nl_tensor_data(t);
    for (int64_t i = 0, n = nl_tensor_numel(t); i < n; i++) d[i] = ldexpf(d[i], k);
}

/* Bring b->t's largest magnitude into [1, 2), moving the scale into b->e. */
static int bt_norm(bt *b)
{
    const float *d = nl_tensor_data(b->t);
    float mx = 0.0f;
    for (int64_t i = 0, n = nl_tensor_numel(b->t); i < n; i++) {
        float a = fabsf(d[i]);
        if (!(a <= mx)) mx = a; /* NaN propagates */
    }
    if (!isfinite(mx)) return nl_err(NL_ERANGE, "synflow: a value is not finite");
    if (mx == 0.0f) {
        b->zero = 1;
        b->e = 0;
        return 0;
    }
    int k = ilogbf(mx);
    if (k) scale_pow2(b->t, -k);
    b->e += k;
    b->zero = 0;
    return 0;
}

/* dst += term (both block-scaled, same shape). */
static int bt_acc(bt *dst, const nl_tensor *term, int e, int term_zero)
{
    if (term_zero) return 0;
    if (dst->zero) {
        nl_tensor_copy(dst->t, term);
        dst->e = e;
    } else {
        int E = dst->e > e ? dst->e : e;
        if (dst->e != E) scale_pow2(dst->t, dst->e - E);
        float *a = nl_tensor_data(dst->t);
        const float *b = nl_tensor_data(term);
        for (int64_t i = 0, n = nl_tensor_numel(term); i < n; i++) a[i] += ldexpf(b[i], e - E);
        dst->e = E;
    }
    return bt_norm(dst);
}

/* y = conv(w, x) as a block-scaled value. */
static int sf_conv(sf *s, bt *y, const nl_tensor *w, const bt *x, int stride)
{
    int k = (int)w->shape[2], pad = (k - 1) / 2;
    int64_t ho = (x->t->shape[2] + 2 * pad - k) / stride + 1;
    if (!(y->t = sf_tensor(s, w->shape[0], ho, ho))) return nl_err(NL_ENOMEM, "synflow: out of memory");
    y->e = x->e;
    y->zero = x->zero;
    if (x->zero) return 0;
    int rc = nl_conv2d_forward(s->c, y->t, x->t, w, NULL, stride, pad, 1);
    return rc ? rc : bt_norm(y);
}

static int sf_relu(sf *s, bt *y, const bt *x)
{
    if (!(y->t = sf_like(s, x->t))) return nl_err(NL_ENOMEM, "synflow: out of memory");
    y->e = x->e;
    y->zero = x->zero;
    return x->zero ? 0 : nl_relu_forward(y->t, x->t);
}

/* score += sum |w * dR/dw| for conv w of input x and output gradient dy;
 * dx (may be NULL; block-scaled with dy's exponent) += the input gradient. */
static int sf_conv_back(sf *s, bt *dx, const nl_tensor *w, const bt *x, const bt *dy, int stride)
{
    if (dy->zero) return 0;
    int k = (int)w->shape[2], pad = (k - 1) / 2, rc;
    if (!x->zero) {
        nl_tensor *dw = sf_like(s, w);
        if (!dw) return nl_err(NL_ENOMEM, "synflow: out of memory");
        if ((rc = nl_conv2d_backward(s->c, NULL, dw, NULL, dy->t, x->t, w, stride, pad, 1))) return rc;
        const float *a = nl_tensor_data(w), *g = nl_tensor_data(dw);
        double t = 0;
        for (int64_t i = 0, n = nl_tensor_numel(w); i < n; i++) t += fabs((double)a[i] * g[i]);
        s->score += ldexp(t, x->e + dy->e);
    }
    if (!dx) return 0;
    nl_tensor *g = sf_like(s, x->t);
    if (!g) return nl_err(NL_ENOMEM, "synflow: out of memory");
    if ((rc = nl_conv2d_backward(s->c, g, NULL, NULL, dy->t, x->t, w, stride, pad, 1))) return rc;
    return bt_acc(dx, g, dy->e, 0);
}

/* dx += relu'(x) * dy */
static int sf_relu_back(sf *s, bt *dx, const bt *dy, const bt *x)
{
    if (dy->zero) return 0;
    nl_tensor *g = sf_like(s, x->t);
    if (!g) return nl_err(NL_ENOMEM, "synflow: out of memory");
    int rc = nl_relu_backward(g, dy->t, x->t);
    return rc ? rc : bt_acc(dx, g, dy->e, 0);
}

/* dx += avgpool'(dy) */
static int sf_pool_back(sf *s, bt *dx, const bt *dy, const bt *x, int k, int stride, int pad)
{
    if (dy->zero) return 0;
    nl_tensor *g = sf_like(s, x->t);
    if (!g) return nl_err(NL_ENOMEM, "synflow: out of memory");
    int rc = nl_avgpool_backward(g, dy->t, x->t, k, stride, pad, 0);
    return rc ? rc : bt_acc(dx, g, dy->e, 0);
}

static int sf_zero(sf *s, bt *b, const nl_tensor *like)
{
    b->e = 0;
    b->zero = 1;
    return (b->t = sf_like(s, like)) ? 0 : nl_err(NL_ENOMEM, "synflow: out of memory");
}

static int sf_cell_fwd(sf *s, sfcell *ce, const uint8_t ops[6], int idx, const bt *x)
{
    int rc;
    char name[64];
    ce->node[0] = *x;
    for (int i = 1; i < 4; i++) {
        int j = i - 1;
        for (int e = 0; e < 6; e++)
            if (edge_src[e] == j && (ops[e] == OP_CONV1 || ops[e] == OP_CONV3)) {
                if ((rc = sf_relu(s, &ce->relu[j], &ce->node[j]))) return rc;
                break;
            }
        if ((rc = sf_zero(s, &ce->node[i], x->t))) return rc;
        for (int e = 0; e < 6; e++) {
            if (edge_dst[e] != i || ops[e] == OP_NONE) continue;
            const bt *src = &ce->node[edge_src[e]];
            bt term = { NULL, src->e, src->zero };
            switch (ops[e]) {
            case OP_SKIP: term.t = src->t; break;
            case OP_POOL:
                if (!(term.t = sf_like(s, src->t))) return nl_err(NL_ENOMEM, "synflow: out of memory");
                if (!src->zero && (rc = nl_avgpool_forward(term.t, src->t, 3, 1, 1, 0))) return rc;
                break;
            default:
                snprintf(name, sizeof name, "cell%d.e%d.conv%s.w", idx, e, ops[e] == OP_CONV3 ? "3x3" : "1x1");
                if ((rc = sf_absw(s, name, &ce->w[e]))) return rc;
                if ((rc = sf_conv(s, &term, ce->w[e], &ce->relu[edge_src[e]], 1))) return rc;
            }
            if ((rc = bt_acc(&ce->node[i], term.t, term.e, term.zero))) return rc;
        }
    }
    return 0;
}

/* dy: gradient of node 3; *dx (zero-initialised by the caller) += gradient of the input. */
static int sf_cell_back(sf *s, sfcell *ce, const uint8_t ops[6], const bt *dy, bt *dx)
{
    int rc;
    bt dn[4], dr[3];
    dn[3] = *dy;
    if ((rc = sf_zero(s, &dn[1], dy->t)) || (rc = sf_zero(s, &dn[2], dy->t))) return rc;
    for (int j = 0; j < 3; j++)
        if ((rc = sf_zero(s, &dr[j], dy->t))) return rc;
    dn[0] = *dx;
    int userelu[3] = { 0, 0, 0 };
    for (int e = 0; e < 6; e++)
        if (ops[e] == OP_CONV1 || ops[e] == OP_CONV3) userelu[edge_src[e]] = 1;
    for (int i = 3; i >= 1; i--) {
        if (i < 3 && userelu[i] && (rc = sf_relu_back(s, &dn[i], &dr[i], &ce->node[i]))) return rc;
        for (int e = 5; e >= 0; e--) {
            if (edge_dst[e] != i) continue;
            int j = edge_src[e];
            switch (ops[e]) {
            case OP_NONE: break;
            case OP_SKIP: rc = bt_acc(&dn[j], dn[i].t, dn[i].e, dn[i].zero); break;
            case OP_POOL: rc = sf_pool_back(s, &dn[j], &dn[i], &ce->node[j], 3, 1, 1); break;
            default: rc = sf_conv_back(s, &dr[j], ce->w[e], &ce->relu[j], &dn[i], 1);
            }
            if (rc) return rc;
        }
    }
    if (userelu[0] && (rc = sf_relu_back(s, &dn[0], &dr[0], &ce->node[0]))) return rc;
    *dx = dn[0];
    return 0;
}

static int sf_block_fwd(sf *s, sfblock *b, int idx, const bt *x)
{
    int rc;
    char name[64];
    b->x = *x;
    snprintf(name, sizeof name, "block%d.a.conv.w", idx);
    if ((rc = sf_absw(s, name, &b->wa))) return rc;
    snprintf(name, sizeof name, "block%d.b.conv.w", idx);
    if ((rc = sf_absw(s, name, &b->wb))) return rc;
    snprintf(name, sizeof name, "block%d.shortcut.conv.w", idx);
    if ((rc = sf_absw(s, name, &b->wsc))) return rc;
    if ((rc = sf_relu(s, &b->rx, x)) || (rc = sf_conv(s, &b->ca, b->wa, &b->rx, 2)) ||
        (rc = sf_relu(s, &b->rb, &b->ca)) || (rc = sf_conv(s, &b->out, b->wb, &b->rb, 1)))
        return rc;
    if (!(b->sp.t = sf_tensor(s, x->t->shape[1], x->t->shape[2] / 2, x->t->shape[3] / 2)))
        return nl_err(NL_ENOMEM, "synflow: out of memory");
    b->sp.e = x->e;
    b->sp.zero = x->zero;
    if (!x->zero && (rc = nl_avgpool_forward(b->sp.t, x->t, 2, 2, 0, 0))) return rc;
    bt sc;
    if ((rc = sf_conv(s, &sc, b->wsc, &b->sp, 1))) return rc;
    return bt_acc(&b->out, sc.t, sc.e, sc.zero);
}

static int sf_block_back(sf *s, sfblock *b, const bt *dy, bt *dx)
{
    int rc;
    bt dsp, drb, dca, drx;
    if ((rc = sf_zero(s, &dsp, b->sp.t)) || (rc = sf_zero(s, &drb, b->rb.t)) || (rc = sf_zero(s, &dca, b->ca.t)) ||
        (rc = sf_zero(s, &drx, b->rx.t)))
        return rc;
    if ((rc = sf_conv_back(s, &dsp, b->wsc, &b->sp, dy, 1)) || (rc = sf_pool_back(s, dx, &dsp, &b->x, 2, 2, 0)))
        return rc;
    if ((rc = sf_conv_back(s, &drb, b->wb, &b->rb, dy, 1)) || (rc = sf_relu_back(s, &dca, &drb, &b->ca)) ||
        (rc = sf_conv_back(s, &drx, b->wa, &b->rx, &dca, 2)) || (rc = sf_relu_back(s, dx, &drx, &b->x)))
        return rc;
    return 0;
}

static int synflow_walk(sf *s, const nl_nb201net_opts *no, const uint8_t ops[6])
{
    int rc, ncells = 3 * no->N;
    sfcell *cells = calloc((size_t)ncells, sizeof *cells);
    if (!cells) return nl_err(NL_ENOMEM, "synflow: out of memory");
    sfblock blk[2];
    memset(blk, 0, sizeof blk);
    bt in = { sf_tensor(s, no->in_ch, no->hw, no->hw), 0, 0 }, h;
    nl_tensor *wstem = NULL, *wfc = NULL;
    rc = in.t ? 0 : nl_err(NL_ENOMEM, "synflow: out of memory");
    if (!rc) rc = sf_absw(s, "stem.w", &wstem);
    if (!rc) rc = sf_absw(s, "head.fc.w", &wfc);
    if (!rc) {
        nl_tensor_fill(in.t, 1.0f);
        rc = sf_conv(s, &h, wstem, &in, 1);
    }
    for (int st = 0; st < 3 && !rc; st++) {
        if (st > 0) {
            rc = sf_block_fwd(s, &blk[st - 1], st - 1, &h);
            h = blk[st - 1].out;
        }
        for (int k = 0; k < no->N && !rc; k++) {
            sfcell *ce = &cells[st * no->N + k];
            rc = sf_cell_fwd(s, ce, ops, st * no->N + k, &h);
            h = ce->node[3];
        }
    }
    /* head: ReLU, global average pool, linear; R = sum of the logits */
    bt hr, feat, dfeat, dhr, dh;
    if (!rc) rc = sf_relu(s, &hr, &h);
    if (!rc) {
        feat.e = hr.e;
        feat.zero = hr.zero;
        dfeat.e = 0;
        dfeat.zero = 0;
        nl_tensor *ones = sf_tensor(s, no->classes, 0, 0), *dw = NULL;
        if (!(feat.t = sf_tensor(s, hr.t->shape[1], 0, 0)) || !(dfeat.t = sf_like(s, feat.t)) || !ones ||
            nl_tensor_clone(&dw, wfc))
            rc = nl_err(NL_ENOMEM, "synflow: out of memory");
        if (!rc) {
            nl_tensor_fill(ones, 1.0f);
            nl_tensor_fill(dw, 0.0f);
            rc = nl_gap_forward(feat.t, hr.t);
        }
        if (!rc) rc = nl_linear_backward(s->c, dfeat.t, dw, NULL, ones, feat.t, wfc);
        if (!rc && !feat.zero) {
            const float *a = nl_tensor_data(wfc), *g = nl_tensor_data(dw);
            double t = 0;
            for (int64_t i = 0, n = nl_tensor_numel(wfc); i < n; i++) t += fabs((double)a[i] * g[i]);
            s->score += ldexp(t, feat.e);
        }
        nl_tensor_free(dw);
    }
    if (!rc) rc = bt_norm(&dfeat);
    if (!rc) rc = sf_zero(s, &dhr, hr.t);
    if (!rc && !dfeat.zero) {
        dhr.zero = 0;
        dhr.e = dfeat.e;
        if (!(rc = nl_gap_backward(dhr.t, dfeat.t))) rc = bt_norm(&dhr);
    }
    if (!rc) rc = sf_zero(s, &dh, h.t);
    if (!rc) rc = sf_relu_back(s, &dh, &dhr, &h);
    for (int st = 2; st >= 0 && !rc; st--) {
        for (int k = no->N - 1; k >= 0 && !rc; k--) {
            sfcell *ce = &cells[st * no->N + k];
            bt dx;
            if (!(rc = sf_zero(s, &dx, ce->node[0].t)) && !(rc = sf_cell_back(s, ce, ops, &dh, &dx))) dh = dx;
        }
        if (st > 0 && !rc) {
            bt dx;
            if (!(rc = sf_zero(s, &dx, blk[st - 1].x.t)) && !(rc = sf_block_back(s, &blk[st - 1], &dh, &dx))) dh = dx;
        }
    }
    if (!rc) rc = sf_conv_back(s, NULL, wstem, &in, &dh, 1);
    free(cells);
    return rc;
}

static int score_synflow(double *out, nl_model *m, const nl_nb201net_opts *no, nl_nn_ctx *c, const nl_tensor *x,
                         const int32_t *labels)
{
    (void)x, (void)labels;
    int rc = check_net(m, "synflow");
    if (rc) return rc;
    uint8_t ops[6];
    nl_nb201net_cell(m, ops);
    sf s = { .c = c, .m = m };
    rc = synflow_walk(&s, no, ops);
    for (int i = 0; i < s.nown; i++) nl_tensor_free(s.own[i]);
    free(s.own);
    if (!rc) *out = s.score;
    return rc;
}

/* ------------------------------------------------------------ registry */

static const nl_proxy p_naswot = {
    .name = "naswot",
    .title = "log|det K| of the ReLU codes of one minibatch (Mellor et al. 2021)",
    .uses_batch = 1,
    .score = score_naswot,
};
static const nl_proxy p_synflow = {
    .name = "synflow",
    .title = "sum |theta dR/dtheta|, |weights|, no batch norm, all-ones input (Tanaka et al. 2020)",
    .uses_batch = 0,
    .score = score_synflow,
};
static const nl_proxy p_grad_norm = {
    .name = "grad_norm",
    .title = "sum of the L2 norms of the weight gradients of the cross-entropy on one minibatch",
    .uses_batch = 1,
    .score = score_grad_norm,
};
static const nl_proxy p_snip = {
    .name = "snip",
    .title = "sum |theta dL/dtheta| of the cross-entropy on one minibatch (Lee et al. 2019)",
    .uses_batch = 1,
    .score = score_snip,
};
static const nl_proxy p_params = {
    .name = "params",
    .title = "trainable parameters of the network",
    .uses_batch = 0,
    .score = score_params,
};
static const nl_proxy p_flops = {
    .name = "flops",
    .title = "multiply-adds of one forward pass of one image (NAS-Bench-201's FLOPs)",
    .uses_batch = 0,
    .score = score_flops,
};

const nl_proxy *const nl_proxies[] = { &p_naswot, &p_synflow, &p_grad_norm, &p_snip, &p_params, &p_flops, NULL };

const nl_proxy *nl_proxy_find(const char *name)
{
    for (int i = 0; nl_proxies[i]; i++)
        if (name && !strcmp(nl_proxies[i]->name, name)) return nl_proxies[i];
    char known[256];
    size_t len = 0;
    known[0] = 0;
    for (int i = 0; nl_proxies[i]; i++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", nl_proxies[i]->name);
    nl_err(NL_ENOTFOUND, "unknown proxy '%s' (known: %s)", name ? name : "(null)", known);
    return NULL;
}

void nl_proxy_defaults(nl_proxy_opts *o)
{
    memset(o, 0, sizeof *o);
    nl_nb201net_defaults(&o->net);
    o->batch = 128;
}

int nl_proxy_run(double *out, const nl_proxy *p, const nl_proxy_opts *o, const nl_dataset *d, nl_nn_ctx *c)
{
    if (!p) return nl_err(NL_EINVAL, "proxy: no proxy given");
    if (!d) return nl_err(NL_EINVAL, "%s: no data given", p->name);
    if (d->c != o->net.in_ch || d->h != o->net.hw || d->w != o->net.hw)
        return nl_err(NL_ESHAPE, "%s: images are %lldx%lldx%lld, the network takes %dx%dx%d", p->name,
                      (long long)d->c, (long long)d->h, (long long)d->w, o->net.in_ch, o->net.hw, o->net.hw);
    if (p->uses_batch) {
        if (o->batch < 2) return nl_err(NL_EINVAL, "%s: batch must be at least 2 (batch norm), got %d", p->name, o->batch);
        if (o->batch > d->n)
            return nl_err(NL_EINVAL, "%s: batch %d is larger than the data (%lld examples)", p->name, o->batch,
                          (long long)d->n);
    }
    nl_rng init;
    nl_rng_seed_stream(&init, o->seed, 2);
    nl_model *m = NULL;
    int rc = nl_nb201net_new(&m, &o->net, &init);
    if (rc) return rc;
    nl_tensor *x = NULL;
    int32_t *labels = NULL;
    int64_t *perm = NULL;
    if (p->uses_batch) {
        int64_t shape[4] = { o->batch, d->c, d->h, d->w };
        x = nl_tensor_new(4, shape);
        labels = malloc((size_t)o->batch * sizeof *labels);
        perm = malloc((size_t)d->n * sizeof *perm);
        if (!x || !labels || !perm) {
            rc = nl_err(NL_ENOMEM, "%s: out of memory", p->name);
        } else {
            nl_rng r;
            nl_rng_seed_stream(&r, o->seed, 3);
            nl_rng_permutation(&r, perm, d->n);
            rc = nl_dataset_batch(d, perm, o->batch, x, labels);
        }
    }
    double v = 0;
    if (!rc) rc = p->score(&v, m, &o->net, c, x, labels);
    free(perm);
    free(labels);
    nl_tensor_free(x);
    nl_model_free(m);
    if (!rc) *out = v;
    return rc;
}
