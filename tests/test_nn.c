/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_nn.c - TAP tests of the nn kernels: forward passes against naive
 * double-precision loops, every gradient against central finite differences
 * of a double loss L = sum(r * out) computed from the float forward, the
 * accumulate-into-gradients contract, determinism for a fixed thread count
 * and 1 vs 2 threads, and the exact error messages. Convolution and batch
 * norm run twice: with the ctx's fastest kernels (the AVX-512 direct
 * convolution and plane loops, when the CPU has AVX-512) and with the ctx
 * forced onto the portable path (im2col + OpenBLAS), each time against
 * naive double loops for the forward and both backwards.
 *
 * Finite differences: step eps (1e-2 for layers that are linear or piecewise
 * linear away from kinks, 1e-3 for batch norm and softmax), divided by the
 * step actually taken in float. A gradient passes when
 * max|analytic - numeric| <= FD_TOL * max(max|numeric|, 1e-3), FD_TOL = 2e-3;
 * the worst case measured at these sizes is 5.5e-4 (batch norm dx, where
 * float rounding of L over the 1e-3 step dominates). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "nn/ctx.h"
#include "nn/nn.h"
#include "tap.h"

#define FD_TOL 2e-3
#define FD_MAXPTS 160

static nl_rng rng;
static nl_nn_ctx *ctx1, *ctx2;
static const char *kern = ""; /* the kernels under test, in test names */

/* Both ctxs run `mode` (NL_NN_SIMD_*) from now on. */
static void set_kernels(int mode)
{
    nl_nn_ctx_set_simd(ctx1, mode);
    nl_nn_ctx_set_simd(ctx2, mode);
    kern = nl_nn_ctx_avx512(ctx2) ? "avx512" : "portable";
}

static void bail(const char *what)
{
    printf("Bail out! %s: %s\n", what, nl_errmsg());
    exit(1);
}

static nl_tensor *mk(int nd, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t s[4] = { a, b, c, d };
    nl_tensor *t;
    if (nl_tensor_zeros(&t, nd, s)) bail("zeros");
    return t;
}

static float *D(const nl_tensor *t)
{
    return nl_tensor_data(t);
}

static int64_t NE(const nl_tensor *t)
{
    return nl_tensor_numel(t);
}

static void fill_normal(nl_tensor *t, double scale)
{
    float *d = D(t);
    for (int64_t i = 0; i < NE(t); i++) d[i] = (float)(scale * nl_rng_normal(&rng));
}

static nl_tensor *randn(int nd, int64_t a, int64_t b, int64_t c, int64_t d)
{
    nl_tensor *t = mk(nd, a, b, c, d);
    fill_normal(t, 1.0);
    return t;
}

static nl_tensor *like(const nl_tensor *t)
{
    nl_tensor *o;
    if (nl_tensor_zeros(&o, t->ndim, t->shape)) bail("zeros");
    return o;
}

static double dot(const nl_tensor *r, const nl_tensor *y)
{
    double s = 0.0;
    for (int64_t i = 0; i < NE(y); i++) s += (double)D(r)[i] * (double)D(y)[i];
    return s;
}

/* max|a - b| / max(max|b|, floor) over n values. */
static double rel_err(const float *a, const double *b, int64_t n, double floor)
{
    double e = 0.0, m = floor;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(a[i] - b[i]) > e || isnan(a[i])) e = isnan(a[i]) ? INFINITY : fabs(a[i] - b[i]);
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return e / m;
}

static double rel_errf(const float *a, const float *b, int64_t n, double floor)
{
    double e = 0.0, m = floor;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > e || isnan(d)) e = isnan(d) ? INFINITY : d;
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return e / m;
}

/* ---------------------------------------------------------------- FD core */

typedef double (*loss_fn)(void *ud);

/* Compare `analytic` (n values, the gradient of f w.r.t. p) with central
 * differences of f, on every element or FD_MAXPTS sampled ones. */
static void fd_check(const char *name, float *p, const float *analytic, int64_t n, loss_fn f, void *ud,
                     double eps)
{
    double emax = 0.0, gmax = 1e-3;
    int64_t pts = n < FD_MAXPTS ? n : FD_MAXPTS;
    for (int64_t t = 0; t < pts; t++) {
        int64_t i = n <= FD_MAXPTS ? t : (int64_t)nl_rng_below(&rng, (uint64_t)n);
        float orig = p[i];
        float up = (float)(orig + eps), dn = (float)(orig - eps);
        p[i] = up;
        double lp = f(ud);
        p[i] = dn;
        double lm = f(ud);
        p[i] = orig;
        double num = (lp - lm) / ((double)up - (double)dn);
        double e = fabs(num - analytic[i]);
        if (e > emax || isnan(e)) emax = isnan(e) ? INFINITY : e;
        if (fabs(num) > gmax) gmax = fabs(num);
    }
    ok(emax <= FD_TOL * gmax, "%s: finite differences (%lld points, rel err %.2g)", name, (long long)pts,
       emax / gmax);
}

/* ---------------------------------------------------------------- conv */

typedef struct conv_case {
    int n, c, h, w, co, k, s, p, g, bias;
} conv_case;

static void conv_naive(double *y, const conv_case *cc, const float *x, const float *w, const float *b, int ho,
                       int wo)
{
    int cg = cc->c / cc->g, cog = cc->co / cc->g;
    for (int n = 0; n < cc->n; n++)
        for (int o = 0; o < cc->co; o++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    double s = b ? b[o] : 0.0;
                    int gi = o / cog;
                    for (int ci = 0; ci < cg; ci++)
                        for (int ki = 0; ki < cc->k; ki++)
                            for (int kj = 0; kj < cc->k; kj++) {
                                int ih = oh * cc->s - cc->p + ki, iw = ow * cc->s - cc->p + kj;
                                if (ih < 0 || ih >= cc->h || iw < 0 || iw >= cc->w) continue;
                                s += (double)w[((o * cg + ci) * cc->k + ki) * cc->k + kj] *
                                     x[((n * cc->c + gi * cg + ci) * cc->h + ih) * cc->w + iw];
                            }
                    y[((n * cc->co + o) * ho + oh) * wo + ow] = s;
                }
}

/* dx, dw, db (zeroed here; any may be NULL) of L = sum(r * y), straight from
 * the definition of the convolution. */
static void conv_naive_bwd(double *dx, double *dw, double *db, const conv_case *cc, const float *x, const float *w,
                           const float *r, int ho, int wo)
{
    int cg = cc->c / cc->g, cog = cc->co / cc->g;
    if (dx) memset(dx, 0, (size_t)cc->n * cc->c * cc->h * cc->w * sizeof *dx);
    if (dw) memset(dw, 0, (size_t)cc->co * cg * cc->k * cc->k * sizeof *dw);
    if (db) memset(db, 0, (size_t)cc->co * sizeof *db);
    for (int n = 0; n < cc->n; n++)
        for (int o = 0; o < cc->co; o++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    double rv = r[((n * cc->co + o) * ho + oh) * wo + ow];
                    int gi = o / cog;
                    if (db) db[o] += rv;
                    for (int ci = 0; ci < cg; ci++)
                        for (int ki = 0; ki < cc->k; ki++)
                            for (int kj = 0; kj < cc->k; kj++) {
                                int ih = oh * cc->s - cc->p + ki, iw = ow * cc->s - cc->p + kj;
                                if (ih < 0 || ih >= cc->h || iw < 0 || iw >= cc->w) continue;
                                int64_t wi = ((o * cg + ci) * cc->k + ki) * cc->k + kj;
                                int64_t xi = ((n * cc->c + gi * cg + ci) * cc->h + ih) * cc->w + iw;
                                if (dx) dx[xi] += rv * w[wi];
                                if (dw) dw[wi] += rv * x[xi];
                            }
                }
}

typedef struct conv_fd {
    const conv_case *cc;
    nl_tensor *x, *w, *b, *y, *r;
} conv_fd;

static double conv_loss(void *ud)
{
    conv_fd *f = ud;
    if (nl_conv2d_forward(ctx2, f->y, f->x, f->w, f->b, f->cc->s, f->cc->p, f->cc->g)) bail("conv fwd");
    return dot(f->r, f->y);
}

static void test_conv_case(const conv_case *cc)
{
    char nm[160];
    snprintf(nm, sizeof nm, "conv[%s] N%d C%d %dx%d Co%d k%d s%d p%d g%d%s", kern, cc->n, cc->c, cc->h, cc->w, cc->co,
             cc->k, cc->s, cc->p, cc->g, cc->bias ? " bias" : "");
    int ho = (cc->h + 2 * cc->p - cc->k) / cc->s + 1, wo = (cc->w + 2 * cc->p - cc->k) / cc->s + 1;
    nl_tensor *x = randn(4, cc->n, cc->c, cc->h, cc->w);
    nl_tensor *w = randn(4, cc->co, cc->c / cc->g, cc->k, cc->k);
    nl_tensor *b = cc->bias ? randn(1, cc->co, 0, 0, 0) : NULL;
    nl_tensor *y = mk(4, cc->n, cc->co, ho, wo);
    nl_tensor *r = randn(4, cc->n, cc->co, ho, wo);
    int rc = nl_conv2d_forward(ctx2, y, x, w, b, cc->s, cc->p, cc->g);
    is_int(rc, 0, "%s: forward", nm);
    double *ref = malloc((size_t)NE(y) * sizeof *ref);
    conv_naive(ref, cc, D(x), D(w), b ? D(b) : NULL, ho, wo);
    double e = rel_err(D(y), ref, NE(y), 1.0);
    if (!ok(e < 1e-5, "%s: forward matches a direct loop", nm)) printf("#   rel err %.3g\n", e);
    free(ref);

    nl_tensor *dx = like(x), *dw = like(w), *db = b ? like(b) : NULL;
    rc = nl_conv2d_backward(ctx2, dx, dw, db, r, x, w, cc->s, cc->p, cc->g);
    is_int(rc, 0, "%s: backward", nm);
    double *rdx = malloc((size_t)NE(x) * sizeof *rdx), *rdw = malloc((size_t)NE(w) * sizeof *rdw), rdb[64];
    conv_naive_bwd(rdx, rdw, b ? rdb : NULL, cc, D(x), D(w), D(r), ho, wo);
    e = rel_err(D(dx), rdx, NE(x), 1.0);
    double e2 = rel_err(D(dw), rdw, NE(w), 1.0), e3 = b ? rel_err(D(db), rdb, NE(b), 1.0) : 0.0;
    if (!ok(e < 1e-5 && e2 < 1e-5 && e3 < 1e-5, "%s: dx, dw%s match direct loops", nm, b ? ", dbias" : ""))
        printf("#   rel err dx %.3g dw %.3g db %.3g\n", e, e2, e3);
    free(rdx);
    free(rdw);
    conv_fd f = { cc, x, w, b, y, r };
    char sub[200];
    snprintf(sub, sizeof sub, "%s dx", nm);
    fd_check(sub, D(x), D(dx), NE(x), conv_loss, &f, 1e-2);
    snprintf(sub, sizeof sub, "%s dw", nm);
    fd_check(sub, D(w), D(dw), NE(w), conv_loss, &f, 1e-2);
    if (b) {
        snprintf(sub, sizeof sub, "%s dbias", nm);
        fd_check(sub, D(b), D(db), NE(b), conv_loss, &f, 1e-2);
    }

    /* Accumulation: a second call adds the same gradient again; gradients
     * may be requested one at a time (NULL for the others). */
    nl_tensor *dx2 = like(x), *dw2 = like(w), *db2 = b ? like(b) : NULL;
    nl_conv2d_backward(ctx2, dx2, NULL, NULL, r, x, w, cc->s, cc->p, cc->g);
    nl_conv2d_backward(ctx2, NULL, dw2, NULL, r, x, w, cc->s, cc->p, cc->g);
    if (b) nl_conv2d_backward(ctx2, NULL, NULL, db2, r, x, w, cc->s, cc->p, cc->g);
    int same = memcmp(D(dx2), D(dx), (size_t)NE(dx) * 4) == 0 && memcmp(D(dw2), D(dw), (size_t)NE(dw) * 4) == 0 &&
               (!b || memcmp(D(db2), D(db), (size_t)NE(db) * 4) == 0);
    ok(same, "%s: one gradient at a time equals all at once", nm);
    nl_conv2d_backward(ctx2, dx2, dw2, db2, r, x, w, cc->s, cc->p, cc->g);
    nl_tensor_mul_scalar(dx, dx, 2.0f);
    nl_tensor_mul_scalar(dw, dw, 2.0f);
    if (b) nl_tensor_mul_scalar(db, db, 2.0f);
    e = rel_errf(D(dx2), D(dx), NE(dx), 1e-3);
    e2 = rel_errf(D(dw2), D(dw), NE(dw), 1e-3);
    e3 = b ? rel_errf(D(db2), D(db), NE(db), 1e-3) : 0.0;
    ok(e < 1e-6 && e2 < 1e-6 && e3 < 1e-6, "%s: calling backward twice doubles every gradient", nm);
    nl_tensor_free(x);
    nl_tensor_free(w);
    nl_tensor_free(b);
    nl_tensor_free(y);
    nl_tensor_free(r);
    nl_tensor_free(dx);
    nl_tensor_free(dw);
    nl_tensor_free(db);
    nl_tensor_free(dx2);
    nl_tensor_free(dw2);
    nl_tensor_free(db2);
}

static void test_conv(void)
{
    static const conv_case cases[] = {
        { 2, 3, 7, 6, 4, 3, 1, 1, 1, 1 },   /* 3x3 same, odd sizes */
        { 3, 4, 9, 9, 6, 3, 2, 1, 1, 0 },   /* stride 2 */
        { 2, 3, 5, 7, 5, 3, 1, 0, 1, 1 },   /* pad 0 */
        { 2, 5, 6, 6, 4, 1, 1, 0, 1, 1 },   /* 1x1 direct path */
        { 2, 4, 7, 5, 6, 1, 2, 0, 1, 0 },   /* 1x1 stride 2 */
        { 1, 2, 9, 8, 3, 5, 1, 2, 1, 1 },   /* 5x5 */
        { 2, 2, 9, 9, 2, 5, 2, 1, 1, 0 },   /* 5x5 stride 2, pad 1 */
        { 1, 2, 8, 9, 2, 7, 1, 3, 1, 1 },   /* 7x7 */
        { 2, 3, 11, 10, 4, 7, 2, 3, 1, 0 }, /* 7x7 stride 2 */
        { 2, 4, 6, 7, 6, 3, 1, 1, 2, 1 },   /* groups 2 */
        { 3, 4, 7, 7, 4, 3, 2, 1, 4, 1 },   /* depthwise, stride 2 */
        { 2, 6, 5, 5, 3, 1, 1, 0, 3, 0 },   /* grouped 1x1 */
        { 2, 4, 6, 6, 8, 5, 1, 2, 4, 1 },   /* depthwise multiplier 2, 5x5 */
        { 5, 3, 4, 4, 2, 3, 1, 1, 1, 1 },   /* batch of 5 over 2 workers */
        /* Images of >= 1024 pixels take one sample per product (1x1: no
         * im2col at all); 23x23 takes blocks of 2 with a single left over. */
        { 2, 2, 32, 33, 3, 1, 1, 0, 1, 1 },
        { 2, 2, 32, 33, 3, 3, 1, 1, 1, 0 },
        { 5, 2, 23, 23, 3, 1, 1, 0, 1, 1 },
        { 5, 2, 23, 23, 3, 3, 1, 1, 1, 1 },
        /* The direct kernels: 16-pixel vectors over the flattened plane,
         * blocks of 8 output channels (forward) and 8 x 3 channels (weight
         * gradient), samples in groups of about 48 vectors. */
        { 4, 12, 2, 2, 12, 3, 1, 1, 1, 0 },   /* planes smaller than a vector */
        { 3, 16, 1, 1, 16, 3, 1, 1, 1, 1 },   /* 1x1 image: only the centre tap */
        { 3, 1, 5, 5, 16, 3, 1, 1, 1, 1 },    /* one input channel (the stem), 25 pixels */
        { 2, 17, 6, 5, 19, 3, 1, 1, 1, 1 },   /* channels off every block size */
        { 2, 9, 3, 7, 10, 1, 1, 0, 1, 1 },    /* 1x1, 21 pixels */
        { 30, 5, 8, 8, 7, 3, 1, 1, 1, 0 },    /* several sample groups per worker */
        { 100, 2, 3, 3, 3, 3, 1, 1, 1, 1 },   /* groups of 48 one-vector samples, and a rest */
        { 2, 16, 32, 32, 16, 3, 1, 1, 1, 0 }, /* NB201 shapes */
        { 3, 32, 16, 16, 32, 3, 1, 1, 1, 0 },
        { 3, 64, 8, 8, 64, 3, 1, 1, 1, 0 },
        { 2, 16, 32, 32, 16, 1, 1, 0, 1, 0 },
        { 3, 32, 8, 8, 64, 1, 1, 0, 1, 0 },
        { 2, 16, 32, 32, 32, 3, 2, 1, 1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_conv_case(&cases[i]);
}

/* Results with 2 threads twice are bit-identical; 1 vs 2 threads agree to
 * float rounding. */
static void test_conv_determinism(void)
{
    nl_tensor *x = randn(4, 7, 8, 10, 10), *w = randn(4, 16, 8, 3, 3), *b = randn(1, 16, 0, 0, 0);
    nl_tensor *r = randn(4, 7, 16, 10, 10);
    nl_tensor *y[3], *dx[3], *dw[3], *db[3];
    nl_nn_ctx *cs[3] = { ctx2, ctx2, ctx1 };
    for (int t = 0; t < 3; t++) {
        y[t] = like(r);
        dx[t] = like(x);
        dw[t] = like(w);
        db[t] = like(b);
        nl_conv2d_forward(cs[t], y[t], x, w, b, 1, 1, 1);
        nl_conv2d_backward(cs[t], dx[t], dw[t], db[t], r, x, w, 1, 1, 1);
    }
    int same = memcmp(D(y[0]), D(y[1]), (size_t)NE(r) * 4) == 0 &&
               memcmp(D(dx[0]), D(dx[1]), (size_t)NE(x) * 4) == 0 &&
               memcmp(D(dw[0]), D(dw[1]), (size_t)NE(w) * 4) == 0 && memcmp(D(db[0]), D(db[1]), 16 * 4) == 0;
    ok(same, "conv[%s]: 2 threads twice give bit-identical y, dx, dw, dbias", kern);
    double e = rel_errf(D(y[2]), D(y[0]), NE(r), 1.0), e2 = rel_errf(D(dx[2]), D(dx[0]), NE(x), 1.0),
           e3 = rel_errf(D(dw[2]), D(dw[0]), NE(w), 1.0), e4 = rel_errf(D(db[2]), D(db[0]), 16, 1.0);
    if (!ok(e < 1e-5 && e2 < 1e-5 && e3 < 1e-5 && e4 < 1e-5, "conv[%s]: 1 and 2 threads agree within 1e-5", kern))
        printf("#   %.3g %.3g %.3g %.3g\n", e, e2, e3, e4);
    for (int t = 0; t < 3; t++) {
        nl_tensor_free(y[t]);
        nl_tensor_free(dx[t]);
        nl_tensor_free(dw[t]);
        nl_tensor_free(db[t]);
    }
    nl_tensor_free(x);
    nl_tensor_free(w);
    nl_tensor_free(b);
    nl_tensor_free(r);
}

static void test_conv_errors(void)
{
    nl_tensor *x = mk(4, 8, 1, 28, 28), *w = mk(4, 16, 3, 3, 3), *y = mk(4, 8, 16, 28, 28);
    is_int(nl_conv2d_forward(ctx1, y, x, w, NULL, 1, 1, 1), NL_ESHAPE, "conv: channel mismatch is NL_ESHAPE");
    is_str(nl_errmsg(), "conv2d: weight [16,3,3,3] expects 3 input channels, x has shape [8,1,28,28]",
           "conv: channel mismatch message");
    nl_tensor *x3 = mk(4, 8, 3, 28, 28);
    nl_tensor_free(y);
    y = mk(4, 8, 16, 26, 26);
    is_int(nl_conv2d_forward(ctx1, y, x3, w, NULL, 1, 1, 1), NL_ESHAPE, "conv: wrong y is NL_ESHAPE");
    is_str(nl_errmsg(), "conv2d: y has shape [8,16,26,26], expected [8,16,28,28]", "conv: wrong y message");
    nl_tensor *b = mk(1, 15, 0, 0, 0);
    nl_tensor_free(y);
    y = mk(4, 8, 16, 28, 28);
    nl_conv2d_forward(ctx1, y, x3, w, b, 1, 1, 1);
    is_str(nl_errmsg(), "conv2d: bias has shape [15], expected [16]", "conv: wrong bias message");
    is_int(nl_conv2d_forward(ctx1, y, x3, w, NULL, 0, 1, 1), NL_EINVAL, "conv: stride 0 is NL_EINVAL");
    is_str(nl_errmsg(), "conv2d: stride 0 must be at least 1", "conv: stride message");
    nl_conv2d_forward(ctx1, y, x3, w, NULL, 1, -1, 1);
    is_str(nl_errmsg(), "conv2d: padding -1 is negative", "conv: padding message");
    nl_conv2d_forward(ctx1, y, x3, w, NULL, 1, 1, 3);
    is_str(nl_errmsg(), "conv2d: groups 3 does not divide the 16 output channels of weight [16,3,3,3]",
           "conv: groups message");
    nl_tensor *w5 = mk(4, 16, 3, 5, 5), *xs = mk(4, 1, 3, 2, 2), *ys = mk(4, 1, 16, 1, 1);
    is_int(nl_conv2d_forward(ctx1, ys, xs, w5, NULL, 1, 1, 1), NL_ESHAPE, "conv: kernel too large is NL_ESHAPE");
    is_str(nl_errmsg(), "conv2d: kernel 5 with padding 1 does not fit x [1,3,2,2]", "conv: kernel fit message");
    nl_tensor *wr = mk(4, 16, 3, 3, 2);
    nl_conv2d_forward(ctx1, y, x3, wr, NULL, 1, 1, 1);
    is_str(nl_errmsg(), "conv2d: weight has shape [16,3,3,2], expected (Cout,Cin/groups,k,k)",
           "conv: non-square weight message");
    nl_tensor *x2 = mk(2, 8, 3, 0, 0);
    nl_conv2d_forward(ctx1, y, x2, w, NULL, 1, 1, 1);
    is_str(nl_errmsg(), "conv2d: x has shape [8,3], expected 4 dimensions (N,C,H,W)", "conv: 2-d x message");
    nl_tensor *xt;
    nl_tensor_transpose(&xt, x3, 2, 3);
    is_int(nl_conv2d_forward(ctx1, y, xt, w, NULL, 1, 1, 1), NL_EINVAL, "conv: non-contiguous x is NL_EINVAL");
    is_str(nl_errmsg(), "conv2d: x [8,3,28,28] is not contiguous", "conv: non-contiguous message");
    nl_tensor *dw = mk(4, 16, 3, 3, 1);
    is_int(nl_conv2d_backward(ctx1, NULL, dw, NULL, y, x3, w, 1, 1, 1), NL_ESHAPE, "conv: wrong dw is NL_ESHAPE");
    is_str(nl_errmsg(), "conv2d: dw has shape [16,3,3,1], expected [16,3,3,3]", "conv: wrong dw message");
    nl_tensor *dx = mk(4, 8, 3, 28, 27);
    nl_conv2d_backward(ctx1, dx, NULL, NULL, y, x3, w, 1, 1, 1);
    is_str(nl_errmsg(), "conv2d: dx has shape [8,3,28,27], expected [8,3,28,28]", "conv: wrong dx message");
    nl_tensor *tensors[] = { x, w, y, x3, b, w5, xs, ys, wr, x2, xt, dw, dx };
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) nl_tensor_free(tensors[i]);
}

/* ---------------------------------------------------------------- batch norm */

typedef struct bn_fd {
    nl_tensor *x, *g, *b, *y, *r, *sm, *si;
} bn_fd;

static double bn_loss(void *ud)
{
    bn_fd *f = ud;
    if (nl_bn_forward(ctx2, f->y, f->x, f->g, f->b, NULL, NULL, f->sm, f->si, 1, 0.1, 1e-5)) bail("bn fwd");
    return dot(f->r, f->y);
}

static void test_bn_case(int nd, int64_t n, int64_t c, int64_t h, int64_t w, int affine)
{
    char nm[96];
    snprintf(nm, sizeof nm, "batchnorm[%s] %s [%lld,%lld,%lld,%lld]", kern, affine ? "affine" : "plain",
             (long long)n, (long long)c, (long long)h, (long long)w);
    nl_tensor *x = nd == 4 ? randn(4, n, c, h, w) : randn(2, n, c, 0, 0);
    int64_t hw = nd == 4 ? h * w : 1, m = n * hw;
    /* Channel offsets and scales far from 0 and 1 test the shifted moments. */
    for (int64_t i = 0; i < NE(x); i++) {
        int64_t ch = (i / hw) % c;
        D(x)[i] = D(x)[i] * (float)(0.5 + ch) + (float)(3.0 * ch - 2.0);
    }
    nl_tensor *g = affine ? randn(1, c, 0, 0, 0) : NULL, *b = affine ? randn(1, c, 0, 0, 0) : NULL;
    nl_tensor *y = like(x), *r = randn(nd, x->shape[0], x->shape[1], nd == 4 ? h : 0, nd == 4 ? w : 0);
    nl_tensor *rm = randn(1, c, 0, 0, 0), *rv = mk(1, c, 0, 0, 0), *sm = mk(1, c, 0, 0, 0), *si = mk(1, c, 0, 0, 0);
    for (int64_t i = 0; i < c; i++) D(rv)[i] = (float)(0.5 + i);
    nl_tensor *rm0, *rv0;
    nl_tensor_clone(&rm0, rm);
    nl_tensor_clone(&rv0, rv);
    is_int(nl_bn_forward(ctx2, y, x, g, b, rm, rv, sm, si, 1, 0.1, 1e-5), 0, "%s: train forward", nm);
    /* Reference in double, straight from the definitions. */
    double ey = 0.0, es = 0.0, er = 0.0;
    for (int64_t ch = 0; ch < c; ch++) {
        double s = 0.0, q = 0.0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) s += D(x)[(i * c + ch) * hw + j];
        double mean = s / (double)m;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) {
                double d = D(x)[(i * c + ch) * hw + j] - mean;
                q += d * d;
            }
        double var = q / (double)m, inv = 1.0 / sqrt(var + 1e-5);
        es = fmax(es, fabs(D(sm)[ch] - mean) / (1.0 + fabs(mean)));
        es = fmax(es, fabs(D(si)[ch] - inv) / inv);
        er = fmax(er, fabs(D(rm)[ch] - (0.9 * D(rm0)[ch] + 0.1 * mean)));
        er = fmax(er, fabs(D(rv)[ch] - (0.9 * D(rv0)[ch] + 0.1 * q / (double)(m - 1))) / (1.0 + var));
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) {
                int64_t k = (i * c + ch) * hw + j;
                double want = (D(x)[k] - mean) * inv * (g ? D(g)[ch] : 1.0) + (b ? D(b)[ch] : 0.0);
                ey = fmax(ey, fabs(D(y)[k] - want));
            }
    }
    ok(ey < 1e-5, "%s: train output matches (x - mean) / sqrt(var + eps) (err %.2g)", nm, ey);
    ok(es < 1e-6, "%s: saved mean and 1/std match (err %.2g)", nm, es);
    ok(er < 1e-6, "%s: running stats: momentum 0.1, unbiased variance (err %.2g)", nm, er);

    /* Eval with running stats set to the batch mean and the biased batch
     * variance reproduces the training output. */
    nl_tensor *ye = like(x), *rve = like(si);
    for (int64_t ch = 0; ch < c; ch++) {
        double inv = D(si)[ch];
        D(rve)[ch] = (float)(1.0 / (inv * inv) - 1e-5);
    }
    is_int(nl_bn_forward(ctx2, ye, x, g, b, sm, rve, NULL, NULL, 0, 0.1, 1e-5), 0, "%s: eval forward", nm);
    double e = rel_errf(D(ye), D(y), NE(y), 1.0);
    ok(e < 1e-4, "%s: eval with the batch statistics equals train (err %.2g)", nm, e);
    nl_tensor_free(ye);
    nl_tensor_free(rve);

    nl_tensor *dx = like(x), *dg = affine ? like(g) : NULL, *db = affine ? like(b) : NULL;
    is_int(nl_bn_backward(ctx2, dx, dg, db, r, x, g, sm, si), 0, "%s: backward", nm);
    /* Reference: dbeta = sum r, dgamma = sum r xhat, dx = gamma inv (r -
     * mean(r) - xhat mean(r xhat)), with the batch statistics in double. */
    double edx = 0.0, edx_m = 1e-3, edg = 0.0, edg_m = 1e-3;
    for (int64_t ch = 0; ch < c; ch++) {
        double s = 0.0, q = 0.0, sr = 0.0, srx = 0.0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) s += D(x)[(i * c + ch) * hw + j];
        double mean = s / (double)m;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) {
                double d = D(x)[(i * c + ch) * hw + j] - mean;
                q += d * d;
            }
        double inv = 1.0 / sqrt(q / (double)m + 1e-5), gm = g ? D(g)[ch] : 1.0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) {
                int64_t k = (i * c + ch) * hw + j;
                sr += D(r)[k];
                srx += D(r)[k] * (D(x)[k] - mean) * inv;
            }
        if (affine) {
            edg = fmax(edg, fmax(fabs(D(dg)[ch] - srx), fabs(D(db)[ch] - sr)));
            edg_m = fmax(edg_m, fmax(fabs(srx), fabs(sr)));
        }
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) {
                int64_t k = (i * c + ch) * hw + j;
                double want = gm * inv * (D(r)[k] - sr / (double)m - (D(x)[k] - mean) * inv * srx / (double)m);
                edx = fmax(edx, fabs(D(dx)[k] - want));
                edx_m = fmax(edx_m, fabs(want));
            }
    }
    ok(edx / edx_m < 1e-6 && edg / edg_m < 1e-6, "%s: backward matches the closed form (rel err dx %.2g, dgamma/dbeta %.2g)",
       nm, edx / edx_m, edg / edg_m);
    bn_fd f = { x, g, b, y, r, like(sm), like(si) };
    char sub[140];
    snprintf(sub, sizeof sub, "%s dx", nm);
    fd_check(sub, D(x), D(dx), NE(x), bn_loss, &f, 1e-3);
    if (affine) {
        snprintf(sub, sizeof sub, "%s dgamma", nm);
        fd_check(sub, D(g), D(dg), NE(g), bn_loss, &f, 1e-3);
        snprintf(sub, sizeof sub, "%s dbeta", nm);
        fd_check(sub, D(b), D(db), NE(b), bn_loss, &f, 1e-3);
        nl_tensor *dx2, *dg2, *db2;
        nl_tensor_clone(&dx2, dx);
        nl_tensor_clone(&dg2, dg);
        nl_tensor_clone(&db2, db);
        nl_bn_backward(ctx2, dx, dg, db, r, x, g, sm, si);
        nl_tensor_mul_scalar(dx2, dx2, 2.0f);
        nl_tensor_mul_scalar(dg2, dg2, 2.0f);
        nl_tensor_mul_scalar(db2, db2, 2.0f);
        ok(rel_errf(D(dx), D(dx2), NE(dx), 1e-3) < 1e-6 && rel_errf(D(dg), D(dg2), c, 1e-3) < 1e-6 &&
               rel_errf(D(db), D(db2), c, 1e-3) < 1e-6,
           "%s: calling backward twice doubles every gradient", nm);
        nl_tensor_free(dx2);
        nl_tensor_free(dg2);
        nl_tensor_free(db2);
    }
    nl_tensor *ts[] = { x, g, b, y, r, rm, rv, sm, si, rm0, rv0, dx, dg, db, f.sm, f.si };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) nl_tensor_free(ts[i]);
}

static void test_bn_errors(void)
{
    nl_tensor *x = mk(4, 2, 3, 4, 4), *y = like(x), *g = mk(1, 4, 0, 0, 0), *rm = mk(1, 3, 0, 0, 0);
    is_int(nl_bn_forward(ctx1, y, x, g, NULL, NULL, NULL, NULL, NULL, 1, 0.1, 1e-5), NL_ESHAPE,
           "batchnorm: wrong gamma is NL_ESHAPE");
    is_str(nl_errmsg(), "batchnorm: gamma has shape [4], expected [3]", "batchnorm: wrong gamma message");
    is_int(nl_bn_forward(ctx1, y, x, NULL, NULL, rm, NULL, NULL, NULL, 0, 0.1, 1e-5), NL_EINVAL,
           "batchnorm: eval without running stats is NL_EINVAL");
    is_str(nl_errmsg(), "batchnorm: eval mode needs running_mean and running_var", "batchnorm: eval message");
    nl_tensor *x1 = mk(2, 1, 3, 0, 0), *y1 = like(x1);
    nl_bn_forward(ctx1, y1, x1, NULL, NULL, NULL, NULL, NULL, NULL, 1, 0.1, 1e-5);
    is_str(nl_errmsg(), "batchnorm: training needs more than 1 value per channel, x has shape [1,3]",
           "batchnorm: single value message");
    nl_bn_forward(ctx1, y, x, NULL, NULL, NULL, NULL, NULL, NULL, 1, 1.5, 1e-5);
    is_str(nl_errmsg(), "batchnorm: momentum 1.5 is outside [0,1]", "batchnorm: momentum message");
    nl_tensor *x3 = mk(3, 2, 3, 4, 0);
    nl_bn_forward(ctx1, y, x3, NULL, NULL, NULL, NULL, NULL, NULL, 1, 0.1, 1e-5);
    is_str(nl_errmsg(), "batchnorm: x has shape [2,3,4], expected (N,C,H,W) or (N,C)", "batchnorm: 3-d x message");
    nl_bn_backward(ctx1, y, NULL, NULL, x, x, NULL, rm, NULL);
    is_str(nl_errmsg(), "batchnorm: save_invstd is missing", "batchnorm: missing save_invstd message");
    nl_tensor *ts[] = { x, y, g, rm, x1, y1, x3 };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) nl_tensor_free(ts[i]);
}

/* ---------------------------------------------------------------- relu */

typedef struct un_fd {
    nl_tensor *x, *y, *r;
    int k, s, p, cip;
} un_fd;

static double relu_loss(void *ud)
{
    un_fd *f = ud;
    if (nl_relu_forward(f->y, f->x)) bail("relu");
    return dot(f->r, f->y);
}

static void test_relu(void)
{
    nl_tensor *x = randn(4, 2, 3, 5, 5), *y = like(x), *r = randn(4, 2, 3, 5, 5), *dx = like(x);
    /* Keep inputs 0.1 away from the kink so the finite difference sees a
     * straight line. */
    for (int64_t i = 0; i < NE(x); i++) D(x)[i] += D(x)[i] >= 0 ? 0.1f : -0.1f;
    is_int(nl_relu_forward(y, x), 0, "relu: forward");
    int good = 1;
    for (int64_t i = 0; i < NE(x); i++) good &= D(y)[i] == (D(x)[i] > 0 ? D(x)[i] : 0.0f);
    ok(good, "relu: forward is max(x, 0)");
    is_int(nl_relu_backward(dx, r, x), 0, "relu: backward");
    un_fd f = { x, y, r, 0, 0, 0, 0 };
    fd_check("relu dx", D(x), D(dx), NE(x), relu_loss, &f, 1e-2);
    nl_relu_backward(dx, r, x);
    good = 1;
    for (int64_t i = 0; i < NE(x); i++) good &= D(dx)[i] == (D(x)[i] > 0 ? 2.0f * D(r)[i] : 0.0f);
    ok(good, "relu: calling backward twice doubles dx");
    nl_tensor *xc;
    nl_tensor_clone(&xc, x);
    nl_relu_forward(y, x); /* the finite differences left y at a perturbed x */
    nl_relu_forward(xc, xc);
    ok(memcmp(D(xc), D(y), (size_t)NE(y) * 4) == 0, "relu: in place gives the same output");
    nl_tensor *bad = mk(4, 2, 3, 5, 4);
    is_int(nl_relu_forward(bad, x), NL_ESHAPE, "relu: wrong y is NL_ESHAPE");
    is_str(nl_errmsg(), "relu: y has shape [2,3,5,4], expected [2,3,5,5]", "relu: wrong y message");
    nl_tensor *ts[] = { x, y, r, dx, xc, bad };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) nl_tensor_free(ts[i]);
}

/* ---------------------------------------------------------------- pooling */

static void pool_naive(double *y, int64_t *arg, const float *x, int64_t planes, int h, int w, int k, int s, int p,
                       int cip, int is_max, int ho, int wo)
{
    for (int64_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++) {
                double sum = 0.0, best = -INFINITY;
                int64_t bi = -1;
                int cnt = 0, padded = 0;
                for (int ki = 0; ki < k; ki++)
                    for (int kj = 0; kj < k; kj++) {
                        int ih = oh * s - p + ki, iw = ow * s - p + kj;
                        /* PyTorch counts padded positions, not positions
                         * past the padding. */
                        if (ih < h + p && iw < w + p) padded++;
                        if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                        double v = x[(pl * h + ih) * w + iw];
                        sum += v;
                        cnt++;
                        if (v > best) {
                            best = v;
                            bi = (pl * h + ih) * w + iw;
                        }
                    }
                int64_t o = (pl * ho + oh) * wo + ow;
                y[o] = is_max ? best : sum / (cip ? padded : cnt);
                if (arg) arg[o] = bi;
            }
}

static double avg_loss(void *ud)
{
    un_fd *f = ud;
    if (nl_avgpool_forward(f->y, f->x, f->k, f->s, f->p, f->cip)) bail("avgpool");
    return dot(f->r, f->y);
}

static double max_loss(void *ud)
{
    un_fd *f = ud;
    int32_t *arg = malloc((size_t)NE(f->y) * sizeof *arg);
    if (nl_maxpool_forward(f->y, arg, f->x, f->k, f->s, f->p)) bail("maxpool");
    free(arg);
    return dot(f->r, f->y);
}

static void test_pool_case(int n, int c, int h, int w, int k, int s, int p, int cip)
{
    char nm[128];
    int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
    nl_tensor *x = randn(4, n, c, h, w), *y = mk(4, n, c, ho, wo), *r = randn(4, n, c, ho, wo), *dx = like(x);
    double *ref = malloc((size_t)NE(y) * sizeof *ref);
    int64_t *aref = malloc((size_t)NE(y) * sizeof *aref);
    int32_t *arg = malloc((size_t)NE(y) * sizeof *arg);

    snprintf(nm, sizeof nm, "avgpool [%d,%d,%d,%d] k%d s%d p%d cip%d", n, c, h, w, k, s, p, cip);
    is_int(nl_avgpool_forward(y, x, k, s, p, cip), 0, "%s: forward", nm);
    pool_naive(ref, NULL, D(x), (int64_t)n * c, h, w, k, s, p, cip, 0, ho, wo);
    double e = rel_err(D(y), ref, NE(y), 1.0);
    ok(e < 1e-6, "%s: forward matches a direct loop (err %.2g)", nm, e);
    is_int(nl_avgpool_backward(dx, r, x, k, s, p, cip), 0, "%s: backward", nm);
    un_fd f = { x, y, r, k, s, p, cip };
    char sub[160];
    snprintf(sub, sizeof sub, "%s dx", nm);
    fd_check(sub, D(x), D(dx), NE(x), avg_loss, &f, 1e-2);

    /* Max pooling on distinct values spaced 0.05 apart, all negative so the
     * -inf padding matters (zero padding would win at the borders). */
    snprintf(nm, sizeof nm, "maxpool [%d,%d,%d,%d] k%d s%d p%d", n, c, h, w, k, s, p);
    int64_t m = NE(x);
    int64_t *perm = malloc((size_t)m * sizeof *perm);
    nl_rng_permutation(&rng, perm, m);
    for (int64_t i = 0; i < m; i++) D(x)[i] = -0.5f - 0.05f * (float)perm[i];
    free(perm);
    is_int(nl_maxpool_forward(y, arg, x, k, s, p), 0, "%s: forward", nm);
    pool_naive(ref, aref, D(x), (int64_t)n * c, h, w, k, s, p, 0, 1, ho, wo);
    e = rel_err(D(y), ref, NE(y), 1.0);
    int good = 1;
    for (int64_t i = 0; i < NE(y); i++) good &= arg[i] == aref[i];
    ok(e == 0.0 && good, "%s: forward and argmax indices match a direct loop", nm);
    memset(D(dx), 0, (size_t)NE(dx) * 4);
    is_int(nl_maxpool_backward(dx, r, arg), 0, "%s: backward", nm);
    snprintf(sub, sizeof sub, "%s dx", nm);
    fd_check(sub, D(x), D(dx), NE(x), max_loss, &f, 1e-2);
    free(ref);
    free(aref);
    free(arg);
    nl_tensor *ts[] = { x, y, r, dx };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) nl_tensor_free(ts[i]);
}

static void test_pool(void)
{
    test_pool_case(2, 3, 5, 5, 3, 1, 1, 0); /* NB201 avg_pool_3x3 */
    test_pool_case(2, 3, 5, 5, 3, 1, 1, 1);
    test_pool_case(1, 2, 7, 6, 3, 2, 1, 0);
    test_pool_case(2, 2, 6, 8, 2, 2, 0, 0); /* NB201 shortcut / NB101 downsample */
    test_pool_case(1, 3, 7, 7, 2, 2, 1, 0);
    test_pool_case(1, 2, 9, 8, 5, 2, 2, 0);
    test_pool_case(1, 2, 9, 8, 5, 3, 2, 1);

    /* The NB201 border case by hand: the corner of a 3x3 window with
     * padding 1 covers 4 pixels and count_include_pad=0 divides by 4. */
    nl_tensor *x = mk(4, 1, 1, 3, 3), *y = like(x);
    for (int i = 0; i < 9; i++) D(x)[i] = (float)(i + 1);
    nl_avgpool_forward(y, x, 3, 1, 1, 0);
    is_near(D(y)[0], (1 + 2 + 4 + 5) / 4.0, 1e-6, "avgpool: corner divides by 4 without the padding");
    is_near(D(y)[1], (1 + 2 + 3 + 4 + 5 + 6) / 6.0, 1e-6, "avgpool: edge divides by 6");
    is_near(D(y)[4], 5.0, 1e-6, "avgpool: centre divides by 9");
    nl_avgpool_forward(y, x, 3, 1, 1, 1);
    is_near(D(y)[0], (1 + 2 + 4 + 5) / 9.0, 1e-6, "avgpool: count_include_pad=1 divides the corner by 9");
    nl_tensor *yb = mk(4, 1, 1, 2, 2);
    is_int(nl_avgpool_forward(yb, x, 3, 1, 2, 0), NL_EINVAL, "avgpool: padding beyond k/2 is NL_EINVAL");
    is_str(nl_errmsg(), "avgpool: padding 2 must be between 0 and half the kernel size 3",
           "avgpool: padding message");
    is_int(nl_avgpool_forward(yb, x, 3, 1, 1, 0), NL_ESHAPE, "avgpool: wrong y is NL_ESHAPE");
    is_str(nl_errmsg(), "avgpool: y has shape [1,1,2,2], expected [1,1,3,3]", "avgpool: wrong y message");
    int32_t arg[4] = { 0, 1, 9, 3 };
    is_int(nl_maxpool_backward(x, yb, arg), NL_ERANGE, "maxpool: a foreign index is NL_ERANGE");
    is_str(nl_errmsg(), "maxpool: arg[2] = 9 is outside its plane of dx [1,1,3,3]", "maxpool: index message");
    nl_tensor_free(x);
    nl_tensor_free(y);
    nl_tensor_free(yb);
}

static double gap_loss(void *ud)
{
    un_fd *f = ud;
    if (nl_gap_forward(f->y, f->x)) bail("gap");
    return dot(f->r, f->y);
}

static void test_gap(void)
{
    nl_tensor *x = randn(4, 3, 4, 5, 3), *y = mk(2, 3, 4, 0, 0), *r = randn(2, 3, 4, 0, 0), *dx = like(x);
    is_int(nl_gap_forward(y, x), 0, "gap: forward");
    double e = 0.0;
    for (int p = 0; p < 12; p++) {
        double s = 0.0;
        for (int i = 0; i < 15; i++) s += D(x)[p * 15 + i];
        e = fmax(e, fabs(D(y)[p] - s / 15.0));
    }
    ok(e < 1e-6, "gap: forward is the plane mean");
    is_int(nl_gap_backward(dx, r), 0, "gap: backward");
    un_fd f = { x, y, r, 0, 0, 0, 0 };
    fd_check("gap dx", D(x), D(dx), NE(x), gap_loss, &f, 1e-2);
    nl_tensor *bad = mk(2, 3, 5, 0, 0);
    is_int(nl_gap_forward(bad, x), NL_ESHAPE, "gap: wrong y is NL_ESHAPE");
    is_str(nl_errmsg(), "gap: y has shape [3,5], expected [3,4]", "gap: wrong y message");
    nl_tensor *ts[] = { x, y, r, dx, bad };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) nl_tensor_free(ts[i]);
}

/* ---------------------------------------------------------------- linear */

typedef struct lin_fd {
    nl_tensor *x, *w, *b, *y, *r;
} lin_fd;

static double lin_loss(void *ud)
{
    lin_fd *f = ud;
    if (nl_linear_forward(ctx2, f->y, f->x, f->w, f->b)) bail("linear");
    return dot(f->r, f->y);
}

static void test_linear(void)
{
    nl_tensor *x = randn(2, 5, 7, 0, 0), *w = randn(2, 3, 7, 0, 0), *b = randn(1, 3, 0, 0, 0);
    nl_tensor *y = mk(2, 5, 3, 0, 0), *r = randn(2, 5, 3, 0, 0);
    is_int(nl_linear_forward(ctx2, y, x, w, b), 0, "linear: forward");
    double e = 0.0;
    for (int i = 0; i < 5; i++)
        for (int o = 0; o < 3; o++) {
            double s = D(b)[o];
            for (int k = 0; k < 7; k++) s += (double)D(x)[i * 7 + k] * D(w)[o * 7 + k];
            e = fmax(e, fabs(D(y)[i * 3 + o] - s));
        }
    ok(e < 1e-5, "linear: forward is x w^T + b (err %.2g)", e);
    nl_tensor *dx = like(x), *dw = like(w), *db = like(b);
    is_int(nl_linear_backward(ctx2, dx, dw, db, r, x, w), 0, "linear: backward");
    lin_fd f = { x, w, b, y, r };
    fd_check("linear dx", D(x), D(dx), NE(x), lin_loss, &f, 1e-2);
    fd_check("linear dw", D(w), D(dw), NE(w), lin_loss, &f, 1e-2);
    fd_check("linear db", D(b), D(db), NE(b), lin_loss, &f, 1e-2);
    nl_tensor *dx2, *dw2, *db2;
    nl_tensor_clone(&dx2, dx);
    nl_tensor_clone(&dw2, dw);
    nl_tensor_clone(&db2, db);
    nl_linear_backward(ctx2, dx, dw, db, r, x, w);
    nl_tensor_mul_scalar(dx2, dx2, 2.0f);
    nl_tensor_mul_scalar(dw2, dw2, 2.0f);
    nl_tensor_mul_scalar(db2, db2, 2.0f);
    ok(rel_errf(D(dx), D(dx2), NE(dx), 1e-3) < 1e-6 && rel_errf(D(dw), D(dw2), NE(dw), 1e-3) < 1e-6 &&
           rel_errf(D(db), D(db2), 3, 1e-3) < 1e-6,
       "linear: calling backward twice doubles every gradient");
    nl_tensor *x6 = mk(2, 5, 6, 0, 0);
    is_int(nl_linear_forward(ctx2, y, x6, w, b), NL_ESHAPE, "linear: feature mismatch is NL_ESHAPE");
    is_str(nl_errmsg(), "linear: weight [3,7] expects 7 input features, x has shape [5,6]",
           "linear: feature mismatch message");
    nl_tensor *ts[] = { x, w, b, y, r, dx, dw, db, dx2, dw2, db2, x6 };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) nl_tensor_free(ts[i]);
}

/* ---------------------------------------------------------------- loss */

typedef struct xent_fd {
    nl_tensor *logits;
    const int32_t *labels;
} xent_fd;

static double xent_loss(void *ud)
{
    xent_fd *f = ud;
    double l;
    if (nl_softmax_xent(&l, NULL, NULL, f->logits, f->labels)) bail("xent");
    return l;
}

static void test_xent(void)
{
    nl_tensor *lg = randn(2, 6, 5, 0, 0), *dl = like(lg);
    fill_normal(lg, 3.0);
    int32_t labels[6] = { 0, 4, 2, 2, 1, 3 };
    double loss;
    int64_t correct = -1;
    is_int(nl_softmax_xent(&loss, &correct, dl, lg, labels), 0, "softmax_xent: runs");
    double want = 0.0;
    int64_t hits = 0;
    for (int i = 0; i < 6; i++) {
        double z = 0.0;
        int am = 0;
        for (int j = 0; j < 5; j++) {
            z += exp((double)D(lg)[i * 5 + j]);
            if (D(lg)[i * 5 + j] > D(lg)[i * 5 + am]) am = j;
        }
        want += -log(exp((double)D(lg)[i * 5 + labels[i]]) / z);
        hits += am == labels[i];
    }
    is_near(loss, want / 6.0, 1e-12, "softmax_xent: mean loss matches -log(softmax)");
    is_int(correct, hits, "softmax_xent: correct count");
    xent_fd f = { lg, labels };
    fd_check("softmax_xent dlogits", D(lg), D(dl), NE(lg), xent_loss, &f, 1e-3);
    /* The gradient overwrites: calling again leaves it unchanged. */
    nl_tensor *dl2;
    nl_tensor_clone(&dl2, dl);
    nl_softmax_xent(&loss, NULL, dl, lg, labels);
    ok(memcmp(D(dl), D(dl2), (size_t)NE(dl) * 4) == 0, "softmax_xent: dlogits is overwritten, not accumulated");
    /* Logits of 1e4 would overflow exp without the max subtraction. */
    nl_tensor *big = mk(2, 1, 3, 0, 0);
    D(big)[0] = 10000.0f;
    D(big)[1] = 9999.0f;
    D(big)[2] = -10000.0f;
    int32_t l1 = 1;
    nl_softmax_xent(&loss, &correct, NULL, big, &l1);
    is_near(loss, 1.0 + log(1.0 + exp(-1.0)), 1e-9, "softmax_xent: stable for logits of 1e4");
    is_int(correct, 0, "softmax_xent: a wrong argmax is not counted");
    int32_t bad[6] = { 0, 4, 2, 5, 1, 3 };
    is_int(nl_softmax_xent(&loss, NULL, NULL, lg, bad), NL_ERANGE, "softmax_xent: bad label is NL_ERANGE");
    is_str(nl_errmsg(), "softmax_xent: label 5 at index 3 is outside 0..4", "softmax_xent: bad label message");
    nl_tensor_free(lg);
    nl_tensor_free(dl);
    nl_tensor_free(dl2);
    nl_tensor_free(big);
}

/* NB201's 'none' and 'skip_connect' edges are tensor ops: a zero fill, and
 * an in-place add of the source node into the destination node (and its
 * gradient back the same way). */
static void test_cell_ops(void)
{
    nl_tensor *a = randn(4, 2, 3, 4, 4), *acc = randn(4, 2, 3, 4, 4), *want;
    nl_tensor_clone(&want, acc);
    for (int64_t i = 0; i < NE(a); i++) D(want)[i] += D(a)[i];
    ok(nl_tensor_add(acc, acc, a) == 0 && memcmp(D(acc), D(want), (size_t)NE(a) * 4) == 0,
       "cell ops: skip_connect is an in-place add");
    nl_tensor_fill(acc, 0.0f);
    double s;
    nl_tensor_sum(acc, &s);
    ok(s == 0.0, "cell ops: none is a zero fill");
    nl_tensor_free(a);
    nl_tensor_free(acc);
    nl_tensor_free(want);
}

int main(void)
{
    nl_rng_seed(&rng, 20240601);
    ctx1 = nl_nn_ctx_new(1);
    ctx2 = nl_nn_ctx_new(2);
    if (!ctx1 || !ctx2) bail("ctx");
    is_int(nl_nn_ctx_threads(ctx2), 2, "ctx: 2 threads");
    ok(nl_nn_ctx_new(0) == NULL, "ctx: 0 threads fails");
    is_str(nl_errmsg(), "nn ctx: threads must be in 1..64, not 0", "ctx: thread count message");
    /* the fastest kernels the CPU runs, then the portable path */
    for (int pass = 0; pass < 2; pass++) {
        set_kernels(pass ? NL_NN_SIMD_NONE : NL_NN_SIMD_AUTO);
        printf("# kernels: %s\n", kern);
        test_conv();
        test_conv_determinism();
        test_bn_case(4, 3, 4, 5, 3, 1);
        test_bn_case(4, 2, 3, 3, 4, 0);
        test_bn_case(2, 9, 5, 0, 0, 1);
        test_bn_case(4, 3, 4, 9, 9, 1);
    }
    test_conv_errors();
    test_bn_errors();
    test_relu();
    test_pool();
    test_gap();
    test_linear();
    test_xent();
    test_cell_ops();
    nl_nn_ctx_free(ctx1);
    nl_nn_ctx_free(ctx2);
    return done_testing();
}
