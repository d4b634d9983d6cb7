/* SPDX-License-Identifier: GPL-3.0-or-later */
/* pairclf.c - SMEM-NAS's pairwise-comparison classifier (see pairclf.h): a
 * logistic regression or one-hidden-layer MLP on concatenated pairs of
 * encodings, fitted on all ordered pairs of the archive by full-batch Adam,
 * and the win counts NSGA-II sorts on. Written by hand because the pair
 * structure is the whole point: splitting the first layer into an x_i half
 * and an x_j half makes a pair cost O(hidden), which no GEMM formulation of
 * the n^2 x 2dim pair matrix gets near; sizes are small (n <= a few
 * hundred, hidden ~16), so plain loops in double precision suffice. */
#include "search/pairclf.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"

struct nl_pairclf {
    int64_t dim;
    nl_pairclf_opts o;
    int64_t np;  /* number of weights */
    double *w;   /* current weights */
    double *w0;  /* the seeded initial weights a fit starts from */
};

void nl_pairclf_defaults(nl_pairclf_opts *o)
{
    memset(o, 0, sizeof *o);
    o->hidden = 16;
    o->epochs = 150;
    o->lr = 0.01;
    o->weight_decay = 1e-4;
}

/* Offsets of the weight blocks. hidden > 0: W1 [H][D], W2 [H][D], b [H],
 * v [H], c. hidden == 0: w1 [D], w2 [D], c. */
typedef struct {
    int64_t w1, w2, b, v, c;
} layout;

static layout layout_of(int64_t D, int64_t H)
{
    layout l;
    if (H == 0) {
        l.w1 = 0;
        l.w2 = D;
        l.b = l.v = -1;
        l.c = 2 * D;
    } else {
        l.w1 = 0;
        l.w2 = H * D;
        l.b = 2 * H * D;
        l.v = l.b + H;
        l.c = l.v + H;
    }
    return l;
}

int nl_pairclf_new(nl_pairclf **out, int64_t dim, const nl_pairclf_opts *o)
{
    *out = NULL;
    nl_pairclf_opts d;
    if (!o) {
        nl_pairclf_defaults(&d);
        o = &d;
    }
    if (dim < 1 || dim > (1 << 24)) return nl_err(NL_EINVAL, "pairclf: dim must be in 1..16777216, got %lld", (long long)dim);
    if (o->hidden < 0 || o->hidden > 4096) return nl_err(NL_EINVAL, "pairclf: hidden must be in 0..4096, got %d", o->hidden);
    if (o->epochs < 1 || o->epochs > 1000000)
        return nl_err(NL_EINVAL, "pairclf: epochs must be in 1..1000000, got %d", o->epochs);
    if (!(o->lr > 0) || !isfinite(o->lr)) return nl_err(NL_EINVAL, "pairclf: lr must be a number > 0, got %g", o->lr);
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
        return nl_err(NL_EINVAL, "pairclf: weight_decay must be a number >= 0, got %g", o->weight_decay);
    int64_t H = o->hidden;
    int64_t np = H == 0 ? 2 * dim + 1 : 2 * H * dim + 2 * H + 1;
    nl_pairclf *c = nl_calloc(1, sizeof *c);
    if (!c) return NL_ENOMEM;
    c->dim = dim;
    c->o = *o;
    c->np = np;
    c->w = nl_calloc((size_t)np, sizeof *c->w);
    c->w0 = nl_calloc((size_t)np, sizeof *c->w0);
    if (!c->w || !c->w0) {
        nl_pairclf_free(c);
        return NL_ENOMEM;
    }
    if (H > 0) { /* a convex logistic regression needs no random start */
        nl_rng r;
        nl_rng_seed(&r, o->seed);
        layout l = layout_of(dim, H);
        double s1 = 1.0 / sqrt((double)dim), s2 = 1.0 / sqrt((double)H);
        for (int64_t k = 0; k < 2 * H * dim; k++) c->w0[l.w1 + k] = s1 * nl_rng_normal(&r);
        for (int64_t k = 0; k < H; k++) c->w0[l.v + k] = s2 * nl_rng_normal(&r);
    }
    memcpy(c->w, c->w0, (size_t)np * sizeof *c->w);
    *out = c;
    return 0;
}

void nl_pairclf_free(nl_pairclf *c)
{
    if (!c) return;
    nl_free(c->w);
    nl_free(c->w0);
    nl_free(c);
}

double *nl_pairclf_params(nl_pairclf *c) { return c->w; }
int64_t nl_pairclf_nparams(const nl_pairclf *c) { return c->np; }

/* The row halves of the first layer: A[i] = W1 x_i and B[j] = W2 x_j + b
 * (hidden == 0: the scalars w1.x_i and w2.x_j + c). H' = max(hidden, 1)
 * values per row. */
static void halves(const nl_pairclf *c, const double *w, const float *X, int64_t n, double *out, int second)
{
    int64_t D = c->dim, H = c->o.hidden, HH = H ? H : 1;
    layout l = layout_of(D, H);
    const double *W = w + (second ? l.w2 : l.w1);
    for (int64_t i = 0; i < n; i++) {
        const float *x = X + i * D;
        for (int64_t k = 0; k < HH; k++) {
            const double *wk = W + k * D;
            double s = 0;
            for (int64_t d = 0; d < D; d++)
                if (x[d] != 0) s += wk[d] * x[d]; /* encodings are mostly zeros */
            if (second) s += H ? w[l.b + k] : w[l.c];
            out[i * HH + k] = s;
        }
    }
}

/* The logit of a pair from its two halves. */
static double logit(const nl_pairclf *c, const double *w, const double *a, const double *b)
{
    int64_t H = c->o.hidden;
    if (H == 0) return a[0] + b[0];
    layout l = layout_of(c->dim, H);
    double z = w[l.c];
    for (int64_t k = 0; k < H; k++) {
        double x = a[k] + b[k];
        z += w[l.v + k] * 0.5 * (x + fabs(x)); /* relu without a branch (see objective) */
    }
    return z;
}

static double sigmoid(double z) { return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)); }

/* log(1 + e^z) without overflow. */
static double softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }

typedef struct {
    double *A, *B, *GA, *GB; /* n x H' each */
    double *U;               /* H': one pair's hidden activations */
} scratch;

static int scratch_new(scratch *s, int64_t n, int64_t HH)
{
    size_t sz = (size_t)(n * HH) * sizeof(double);
    s->A = nl_malloc(sz);
    s->B = nl_malloc(sz);
    s->GA = nl_malloc(sz);
    s->GB = nl_malloc(sz);
    s->U = nl_malloc((size_t)HH * sizeof(double));
    if (!s->A || !s->B || !s->GA || !s->GB || !s->U) return NL_ENOMEM;
    return 0;
}

static void scratch_free(scratch *s)
{
    nl_free(s->A);
    nl_free(s->B);
    nl_free(s->GA);
    nl_free(s->GB);
    nl_free(s->U);
}

/* The mean cross-entropy over the pairs with differing targets plus the L2
 * penalty at weights w (computed only when loss is not NULL: the logarithms
 * cost as much as the rest of a pair); with g, also the gradient. Pair
 * gradients are first summed per row (GA over j for row i's half, GB over i
 * for row j's half), then pushed through the first layer once per row. The
 * inner loops over the hidden units are branch-free so they vectorise. */
static void objective(const nl_pairclf *c, const double *w, double *loss, double *g, const float *X, const double *y,
                      int64_t n, int64_t npairs, scratch *s)
{
    int64_t D = c->dim, H = c->o.hidden, HH = H ? H : 1;
    layout l = layout_of(D, H);
    halves(c, w, X, n, s->A, 0);
    halves(c, w, X, n, s->B, 1);
    if (g) {
        memset(g, 0, (size_t)c->np * sizeof *g);
        memset(s->GA, 0, (size_t)(n * HH) * sizeof(double));
        memset(s->GB, 0, (size_t)(n * HH) * sizeof(double));
    }
    const double *restrict v = H ? w + l.v : NULL;
    double *restrict gv = g && H ? g + l.v : NULL, *restrict u = s->U;
    double inv = 1.0 / (double)npairs, f = 0, gc = 0;
    /* Branches on the sign of a hidden unit are mispredicted half the time
     * and cost more than the arithmetic: the loops below avoid them. */
    static const double mask[2] = { 0, 1 };
    for (int64_t i = 0; i < n; i++) {
        const double *restrict a = s->A + i * HH;
        double *restrict ga = s->GA + i * HH;
        for (int64_t j = 0; j < n; j++) {
            if (i == j || y[i] == y[j]) continue;
            const double *restrict b = s->B + j * HH;
            double z, t = y[i] > y[j] ? 1.0 : 0.0;
            if (H == 0) {
                z = a[0] + b[0];
            } else {
                z = w[l.c];
                for (int64_t k = 0; k < H; k++) {
                    double x = a[k] + b[k];
                    u[k] = 0.5 * (x + fabs(x)); /* relu, exact */
                    z += v[k] * u[k];
                }
            }
            if (loss) f += softplus(z) - t * z;
            if (!g) continue;
            double delta = (sigmoid(z) - t) * inv;
            double *restrict gb = s->GB + j * HH;
            if (H == 0) {
                ga[0] += delta;
                gb[0] += delta;
                continue;
            }
            gc += delta;
            for (int64_t k = 0; k < H; k++) {
                double du = mask[u[k] > 0] * delta * v[k];
                gv[k] += delta * u[k];
                ga[k] += du;
                gb[k] += du;
            }
        }
    }
    double wd = c->o.weight_decay;
    int64_t nw = H ? 2 * H * D : 2 * D; /* W1 and W2 (w1 and w2) come first */
    if (loss) {
        double reg = 0;
        for (int64_t k = 0; k < nw; k++) reg += w[k] * w[k];
        for (int64_t k = 0; k < H; k++) reg += v[k] * v[k];
        *loss = f * inv + 0.5 * wd * reg;
    }
    if (!g) return;
    if (H) g[l.c] += gc;
    for (int64_t r = 0; r < n; r++) {
        const float *x = X + r * D;
        for (int64_t k = 0; k < HH; k++) {
            double ga = s->GA[r * HH + k], gb = s->GB[r * HH + k];
            if (H) g[l.b + k] += gb;
            else g[l.c] += gb;
            double *g1 = g + l.w1 + k * D, *g2 = g + l.w2 + k * D;
            for (int64_t d = 0; d < D; d++)
                if (x[d] != 0) {
                    g1[d] += ga * x[d];
                    g2[d] += gb * x[d];
                }
        }
    }
    for (int64_t k = 0; k < nw; k++) g[k] += wd * w[k];
    for (int64_t k = 0; k < H; k++) gv[k] += wd * v[k];
}

/* The number of ordered pairs with differing targets, after checking the
 * targets. */
static int count_pairs(int64_t *npairs, const double *y, int64_t n)
{
    if (n < 2) return nl_err(NL_EINVAL, "pairclf: need at least 2 rows to fit, got %lld", (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(y[i])) return nl_err(NL_EINVAL, "pairclf: target %lld is not finite", (long long)(i + 1));
    int64_t p = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) p += y[i] != y[j];
    if (p == 0) return nl_err(NL_EINVAL, "pairclf: all %lld targets are equal: no pair to learn an order from", (long long)n);
    *npairs = 2 * p;
    return 0;
}

int nl_pairclf_loss(const nl_pairclf *c, double *loss, double *grad, const float *X, const double *y, int64_t n)
{
    int64_t npairs;
    int rc = count_pairs(&npairs, y, n);
    if (rc) return rc;
    scratch s;
    rc = scratch_new(&s, n, c->o.hidden ? c->o.hidden : 1);
    if (rc == 0) objective(c, c->w, loss, grad, X, y, n, npairs, &s);
    scratch_free(&s);
    return rc;
}

int nl_pairclf_fit(nl_pairclf *c, const float *X, const double *y, int64_t n, double *loss)
{
    int64_t npairs;
    int rc = count_pairs(&npairs, y, n);
    if (rc) return rc;
    int64_t np = c->np;
    scratch s;
    double *g = nl_malloc((size_t)np * sizeof *g), *m = nl_calloc((size_t)np, sizeof *m),
           *v = nl_calloc((size_t)np, sizeof *v);
    rc = scratch_new(&s, n, c->o.hidden ? c->o.hidden : 1);
    if (!g || !m || !v) rc = NL_ENOMEM;
    if (rc == 0) {
        memcpy(c->w, c->w0, (size_t)np * sizeof *c->w);
        const double b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = c->o.lr;
        double p1 = 1, p2 = 1;
        for (int e = 1; e <= c->o.epochs; e++) {
            objective(c, c->w, NULL, g, X, y, n, npairs, &s);
            p1 *= b1;
            p2 *= b2;
            for (int64_t k = 0; k < np; k++) {
                m[k] = b1 * m[k] + (1 - b1) * g[k];
                v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
                c->w[k] -= lr * (m[k] / (1 - p1)) / (sqrt(v[k] / (1 - p2)) + eps);
            }
            if (e % 16 == 0 || e == c->o.epochs) {
                rc = nl_progress_report(c->o.progress, c->o.progress_ud, "fit pairs", e, c->o.epochs);
                if (rc) break;
            }
        }
        if (rc == 0 && loss) objective(c, c->w, loss, NULL, X, y, n, npairs, &s);
    }
    scratch_free(&s);
    nl_free(g);
    nl_free(m);
    nl_free(v);
    return rc;
}

/* Calls fn(ud, i, j, z) for every pair of A x B with its logit. */
static int each_pair(const nl_pairclf *c, const float *A, int64_t na, const float *B, int64_t nb,
                     void (*fn)(void *ud, int64_t i, int64_t j, double z), void *ud)
{
    int64_t HH = c->o.hidden ? c->o.hidden : 1;
    double *ha = nl_malloc((size_t)(na * HH + 1) * sizeof *ha), *hb = nl_malloc((size_t)(nb * HH + 1) * sizeof *hb);
    if (!ha || !hb) {
        nl_free(ha);
        nl_free(hb);
        return NL_ENOMEM;
    }
    halves(c, c->w, A, na, ha, 0);
    halves(c, c->w, B, nb, hb, 1);
    for (int64_t i = 0; i < na; i++)
        for (int64_t j = 0; j < nb; j++) fn(ud, i, j, logit(c, c->w, ha + i * HH, hb + j * HH));
    nl_free(ha);
    nl_free(hb);
    return 0;
}

typedef struct {
    double *out;
    int64_t nb;
    int soft;
} sink;

static void put_prob(void *ud, int64_t i, int64_t j, double z)
{
    sink *s = ud;
    s->out[i * s->nb + j] = sigmoid(z);
}

static void add_win(void *ud, int64_t i, int64_t j, double z)
{
    sink *s = ud;
    (void)j;
    s->out[i] += s->soft ? sigmoid(z) : (z > 0);
}

int nl_pairclf_prob(const nl_pairclf *c, double *p, const float *A, int64_t na, const float *B, int64_t nb)
{
    sink s = { p, nb, 0 };
    return each_pair(c, A, na, B, nb, put_prob, &s);
}

int nl_pairclf_wins(const nl_pairclf *c, double *wins, const float *A, int64_t na, const float *B, int64_t nb,
                    int soft)
{
    for (int64_t i = 0; i < na; i++) wins[i] = 0;
    sink s = { wins, nb, soft };
    return each_pair(c, A, na, B, nb, add_win, &s);
}
