/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_proxy.c - TAP tests of the zero-cost proxies: slogdet against known
 * determinants; NASWOT's K against a direct Hamming-distance computation
 * from the ReLU inputs the hook reports (and the first of them against the
 * stem computed by hand); synflow against an independent BN-free forward in
 * double differentiated by central differences, and its range past float32;
 * grad_norm and snip against finite differences of the cross-entropy;
 * params and flops against the network; determinism; the all-none and
 * skip-only cells; the error messages. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "nn/nb201net.h"
#include "predict/proxy.h"
#include "tap.h"

enum { NONE, SKIP, CONV1, CONV3, POOL };
static const int esrc[6] = { 0, 0, 1, 0, 1, 2 };
static const int edst[6] = { 1, 2, 2, 3, 3, 3 };

static nl_nn_ctx *ctx;

static void bail(const char *what)
{
    printf("Bail out! %s: %s\n", what, nl_errmsg());
    exit(1);
}

static nl_nb201net_opts netopts(int C, int N, int hw, int classes, const uint8_t ops[6])
{
    nl_nb201net_opts o;
    nl_nb201net_defaults(&o);
    o.C = C;
    o.N = N;
    o.hw = hw;
    o.classes = classes;
    memcpy(o.ops, ops, 6);
    return o;
}

static nl_model *mknet(const nl_nb201net_opts *o, uint64_t seed)
{
    nl_rng r;
    nl_rng_seed(&r, seed);
    nl_model *m;
    if (nl_nb201net_new(&m, o, &r)) bail("nb201net_new");
    return m;
}

static nl_tensor *randn(int64_t b, int64_t c, int64_t h, uint64_t seed)
{
    int64_t s[4] = { b, c, h, h };
    nl_tensor *x = nl_tensor_new(4, s);
    nl_rng r;
    nl_rng_seed(&r, seed);
    float *d = nl_tensor_data(x);
    for (int64_t i = 0; i < nl_tensor_numel(x); i++) d[i] = (float)nl_rng_normal(&r);
    return x;
}

static int param_index(const nl_model *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (!strcmp(m->params[i].name, name)) return i;
    return -1;
}

/* conv and linear weights: the params named "*.w" */
static int is_w(const nl_model *m, int i)
{
    size_t n = strlen(m->params[i].name);
    return m->active[i] && n > 2 && !strcmp(m->params[i].name + n - 2, ".w");
}

/* ------------------------------------------------------------ slogdet */

static void test_slogdet(void)
{
    double la;
    int sg;
    const double a2[4] = { 2, 1, 1, 3 };
    if (nl_proxy_slogdet(&la, &sg, a2, 2)) bail("slogdet");
    is_near(la, log(5.0), 1e-14, "slogdet [[2,1],[1,3]] = log 5");
    is_int(sg, 1, "  sign +1");
    /* a zero leading entry needs a row exchange; det = -4 */
    const double p3[9] = { 0, 1, 0, 1, 0, 0, 0, 0, 4 };
    if (nl_proxy_slogdet(&la, &sg, p3, 3)) bail("slogdet");
    is_near(la, log(4.0), 1e-14, "permutation-like 3x3: log|det| = log 4");
    is_int(sg, -1, "  sign -1");
    /* Hilbert 4x4: det = 1/6048000 */
    double h4[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) h4[i * 4 + j] = 1.0 / (i + j + 1);
    if (nl_proxy_slogdet(&la, &sg, h4, 4)) bail("slogdet");
    is_near(la, -log(6048000.0), 1e-9, "Hilbert 4x4: log det = -log 6048000");
    /* upper triangular, row-major: the transpose is not the same matrix */
    const double u3[9] = { 2, 5, 7, 0, -3, 1, 0, 0, 0.5 };
    if (nl_proxy_slogdet(&la, &sg, u3, 3)) bail("slogdet");
    is_near(la, log(3.0), 1e-14, "triangular: log|2 * -3 * 0.5| = log 3");
    is_int(sg, -1, "  sign -1");
    const double s2[4] = { 1, 2, 2, 4 };
    if (nl_proxy_slogdet(&la, &sg, s2, 2)) bail("slogdet");
    ok(isinf(la) && la < 0 && sg == 0, "singular: -inf, sign 0");
    double k3[9];
    for (int i = 0; i < 9; i++) k3[i] = 7;
    if (nl_proxy_slogdet(&la, &sg, k3, 3)) bail("slogdet");
    ok(isinf(la) && la < 0, "a constant matrix (the all-none K) is singular: -inf");
    is_int(nl_proxy_slogdet(&la, &sg, a2, 0), NL_EINVAL, "n = 0 fails");
    is_str(nl_errmsg(), "slogdet: the matrix must be at least 1 x 1, got n = 0", "  message");
    const double bad[4] = { 1, NAN, 0, 1 };
    is_int(nl_proxy_slogdet(&la, &sg, bad, 2), NL_EINVAL, "NaN entry fails");
    is_str(nl_errmsg(), "slogdet: entry (1,2) is not finite", "  message");
}

/* ------------------------------------------------------------ naswot K */

/* K_ij += N - Hamming(c_i, c_j), counted one element at a time. */
static void k_direct(double *K, const float *x, int64_t B, int64_t N)
{
    for (int64_t i = 0; i < B; i++)
        for (int64_t j = 0; j < B; j++) {
            int64_t ham = 0;
            for (int64_t k = 0; k < N; k++) ham += (x[i * N + k] > 0) != (x[j * N + k] > 0);
            K[i * B + j] += (double)(N - ham);
        }
}

static void test_naswot_add(void)
{
    /* B = 3, N = 4 by hand: codes 1100, 1010, 0000 */
    const float v[12] = { 1, 2, -1, 0, 3, -2, 5, -1, -1, 0, -3, -0.5f };
    int64_t s[2] = { 3, 4 };
    nl_tensor *x = nl_tensor_new(2, s);
    memcpy(nl_tensor_data(x), v, sizeof v);
    double K[9] = { 0 };
    if (nl_proxy_naswot_add(K, x)) bail("naswot_add");
    const double want[9] = { 4, 2, 2, 2, 4, 2, 2, 2, 4 };
    int same = 1;
    for (int i = 0; i < 9; i++) same &= K[i] == want[i];
    ok(same, "naswot K of codes 1100, 1010, 0000 = N - Hamming: [4 2 2; 2 4 2; 2 2 4]");
    nl_tensor_free(x);

    /* wider than one column chunk (4096), and accumulating: 2 calls */
    nl_tensor *y = randn(6, 3, 50, 3); /* N = 3 * 50 * 50 = 7500 */
    double Kp[36] = { 0 }, Kd[36] = { 0 };
    if (nl_proxy_naswot_add(Kp, y) || nl_proxy_naswot_add(Kp, y)) bail("naswot_add");
    k_direct(Kd, nl_tensor_data(y), 6, 7500);
    k_direct(Kd, nl_tensor_data(y), 6, 7500);
    same = 1;
    for (int i = 0; i < 36; i++) same &= Kp[i] == Kd[i];
    ok(same, "naswot K over 7500 columns (two chunks), accumulated twice: exactly the direct count");
    is_near(Kp[0], 15000, 0, "  diagonal = 2 N");
    nl_tensor_free(y);
}

/* The hook's record of every ReLU input of a forward. */
typedef struct rec {
    int n;
    nl_tensor *x[64];
} rec;

static int record(void *ud, const nl_tensor *x)
{
    rec *r = ud;
    if (r->n == 64) return NL_ERANGE;
    if (nl_tensor_clone(&r->x[r->n], x)) return NL_ENOMEM;
    r->n++;
    return 0;
}

static void test_naswot_net(void)
{
    /* conv3 1<-0, skip 2<-0, conv1 2<-1, conv3 3<-0, pool 3<-1, conv3 3<-2:
     * node 0 feeds two convs, so its ReLU input is reported twice */
    const uint8_t ops[6] = { CONV3, SKIP, CONV1, CONV3, POOL, CONV3 };
    nl_nb201net_opts o = netopts(2, 1, 8, 3, ops);
    nl_model *m = mknet(&o, 5);
    const int B = 12;
    nl_tensor *x = randn(B, 1, 8, 9);
    int32_t labels[12];
    for (int i = 0; i < B; i++) labels[i] = i % 3;

    rec r = { 0 };
    const nl_tensor *lg;
    nl_nn_ctx_set_relu_hook(ctx, record, &r);
    if (m->vt->forward(m, ctx, x, 1, &lg)) bail("forward");
    nl_nn_ctx_set_relu_hook(ctx, NULL, NULL);
    is_int(r.n, 3 * 4 + 2 * 2 + 1, "hook: 4 conv ops x 3 cells + 2 per block + the head = 17 ReLU inputs");

    /* the first is the stem's output (cell 0, edge 1<-0): conv then
     * training-mode BN, computed here with the kernels */
    int64_t ss[4] = { B, 2, 8, 8 }, cs[1] = { 2 };
    nl_tensor *c1 = nl_tensor_new(4, ss), *y1 = nl_tensor_new(4, ss), *sm = nl_tensor_new(1, cs),
              *si = nl_tensor_new(1, cs);
    int w = param_index(m, "stem.w"), g = param_index(m, "stem.bn.g"), b = param_index(m, "stem.bn.b");
    if (w < 0 || g < 0 || b < 0) bail("stem params");
    if (nl_conv2d_forward(ctx, c1, x, m->params[w].w, NULL, 1, 1, 1) ||
        nl_bn_forward(ctx, y1, c1, m->params[g].w, m->params[b].w, NULL, NULL, sm, si, 1, 0.1, 1e-5))
        bail("stem by hand");
    int eq = 0;
    nl_tensor_equal(r.x[0], y1, &eq);
    ok(eq, "hook: the first ReLU input is the stem's output");
    nl_tensor_equal(r.x[2], y1, &eq);
    ok(eq, "hook: the third (conv 3<-0 reads node 0 again, after conv 2<-1) is the same tensor");
    nl_tensor_equal(r.x[1], y1, &eq);
    ok(!eq, "hook: the second (conv 2<-1) is node 1, another tensor");

    double *K = calloc((size_t)(B * B), sizeof *K);
    for (int i = 0; i < r.n; i++) {
        int64_t n = nl_tensor_numel(r.x[i]) / B;
        ok(r.x[i]->shape[0] == B, "  input %d has the batch as its first dimension (N_l = %lld)", i + 1, (long long)n);
        k_direct(K, nl_tensor_data(r.x[i]), B, n);
    }
    double la_direct;
    int sg;
    if (nl_proxy_slogdet(&la_direct, &sg, K, B)) bail("slogdet");
    double score;
    if (nl_proxy_find("naswot")->score(&score, m, &o, ctx, x, labels)) bail("naswot");
    ok(score == la_direct, "naswot score = log|det K| of the direct Hamming count over the 17 inputs (%.6f)", score);
    ok(sg == 1 && isfinite(score), "  K is positive definite here");
    free(K);
    for (int i = 0; i < r.n; i++) nl_tensor_free(r.x[i]);
    nl_tensor_free(c1);
    nl_tensor_free(y1);
    nl_tensor_free(sm);
    nl_tensor_free(si);
    nl_tensor_free(x);
    nl_model_free(m);
}

/* ------------------------------------------------------------ synflow reference
 * The BN-free network on one all-ones image in double, straight from the
 * definitions (naive loops), with weights wd[param][k] = |w| in double. */

typedef struct dt {
    int c, h;
    double *v;
} dt;

static dt dnew(int c, int h)
{
    dt t = { c, h, calloc((size_t)(c * h * h), sizeof(double)) };
    return t;
}

static dt dconv(const dt *x, const double *w, int co, int k, int stride)
{
    int pad = (k - 1) / 2, ho = (x->h + 2 * pad - k) / stride + 1;
    dt y = dnew(co, ho);
    for (int o = 0; o < co; o++)
        for (int i = 0; i < ho; i++)
            for (int j = 0; j < ho; j++) {
                double s = 0;
                for (int c = 0; c < x->c; c++)
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++) {
                            int yi = i * stride - pad + a, xj = j * stride - pad + b;
                            if (yi < 0 || xj < 0 || yi >= x->h || xj >= x->h) continue;
                            s += w[((o * x->c + c) * k + a) * k + b] * x->v[(c * x->h + yi) * x->h + xj];
                        }
                y.v[(o * ho + i) * ho + j] = s;
            }
    return y;
}

static dt drelu(const dt *x)
{
    dt y = dnew(x->c, x->h);
    for (int i = 0; i < x->c * x->h * x->h; i++) y.v[i] = x->v[i] > 0 ? x->v[i] : 0;
    return y;
}

/* 3x3 stride 1 pad 1 without the padding in the divisor, or 2x2 stride 2 */
static dt dpool(const dt *x, int k)
{
    int ho = k == 3 ? x->h : x->h / 2;
    dt y = dnew(x->c, ho);
    for (int c = 0; c < x->c; c++)
        for (int i = 0; i < ho; i++)
            for (int j = 0; j < ho; j++) {
                double s = 0;
                int n = 0;
                for (int a = 0; a < k; a++)
                    for (int b = 0; b < k; b++) {
                        int yi = k == 3 ? i - 1 + a : 2 * i + a, xj = k == 3 ? j - 1 + b : 2 * j + b;
                        if (yi < 0 || xj < 0 || yi >= x->h || xj >= x->h) continue;
                        s += x->v[(c * x->h + yi) * x->h + xj];
                        n++;
                    }
                y.v[(c * ho + i) * ho + j] = s / n;
            }
    return y;
}

static void dadd(dt *y, const dt *x)
{
    for (int i = 0; i < y->c * y->h * y->h; i++) y->v[i] += x->v[i];
}

static const double *W(const nl_model *m, double **wd, const char *name)
{
    int i = param_index(m, name);
    if (i < 0) bail(name);
    return wd[i];
}

static double ref_R(const nl_model *m, double **wd, const nl_nb201net_opts *o)
{
    char name[64];
    dt x = dnew(o->in_ch, o->hw);
    for (int i = 0; i < o->in_ch * o->hw * o->hw; i++) x.v[i] = 1;
    dt h = dconv(&x, W(m, wd, "stem.w"), o->C, 3, 1);
    free(x.v);
    int c = o->C;
    for (int s = 0; s < 3; s++) {
        if (s > 0) {
            dt r = drelu(&h);
            snprintf(name, sizeof name, "block%d.a.conv.w", s - 1);
            dt a = dconv(&r, W(m, wd, name), 2 * c, 3, 2);
            dt ra = drelu(&a);
            snprintf(name, sizeof name, "block%d.b.conv.w", s - 1);
            dt out = dconv(&ra, W(m, wd, name), 2 * c, 3, 1);
            dt p = dpool(&h, 2);
            snprintf(name, sizeof name, "block%d.shortcut.conv.w", s - 1);
            dt sc = dconv(&p, W(m, wd, name), 2 * c, 1, 1);
            dadd(&out, &sc);
            free(r.v), free(a.v), free(ra.v), free(p.v), free(sc.v), free(h.v);
            h = out;
            c *= 2;
        }
        for (int k = 0; k < o->N; k++) {
            int ci = s * o->N + k;
            dt node[4];
            node[0] = h;
            for (int i = 1; i < 4; i++) {
                node[i] = dnew(c, h.h);
                for (int e = 0; e < 6; e++) {
                    if (edst[e] != i || o->ops[e] == NONE) continue;
                    const dt *src = &node[esrc[e]];
                    dt t;
                    if (o->ops[e] == SKIP) {
                        dadd(&node[i], src);
                        continue;
                    }
                    if (o->ops[e] == POOL) {
                        t = dpool(src, 3);
                    } else {
                        dt r = drelu(src);
                        snprintf(name, sizeof name, "cell%d.e%d.conv%s.w", ci, e, o->ops[e] == CONV3 ? "3x3" : "1x1");
                        t = dconv(&r, W(m, wd, name), c, o->ops[e] == CONV3 ? 3 : 1, 1);
                        free(r.v);
                    }
                    dadd(&node[i], &t);
                    free(t.v);
                }
            }
            for (int i = 0; i < 3; i++) free(node[i].v);
            h = node[3];
        }
    }
    dt r = drelu(&h);
    const double *fw = W(m, wd, "head.fc.w"), *fb = W(m, wd, "head.fc.b");
    double R = 0;
    for (int k = 0; k < o->classes; k++) {
        double z = fb[k];
        for (int ch = 0; ch < c; ch++) {
            double f = 0;
            for (int i = 0; i < r.h * r.h; i++) f += r.v[ch * r.h * r.h + i];
            z += fw[k * c + ch] * f / (r.h * r.h);
        }
        R += z;
    }
    free(r.v);
    free(h.v);
    return R;
}

/* sum over conv and linear weights of |theta * dR/dtheta|, dR/dtheta by
 * central differences of ref_R (R is affine in each single weight). */
static double ref_synflow(const nl_model *m, const nl_nb201net_opts *o)
{
    double **wd = calloc((size_t)m->nparams, sizeof *wd);
    for (int i = 0; i < m->nparams; i++) {
        int64_t n = nl_tensor_numel(m->params[i].w);
        wd[i] = malloc((size_t)n * sizeof(double));
        const float *f = nl_tensor_data(m->params[i].w);
        for (int64_t k = 0; k < n; k++) wd[i][k] = fabs((double)f[k]);
    }
    double score = 0;
    for (int i = 0; i < m->nparams; i++) {
        if (!is_w(m, i)) continue;
        for (int64_t k = 0; k < nl_tensor_numel(m->params[i].w); k++) {
            double t = wd[i][k], h = 1e-3;
            wd[i][k] = t + h;
            double rp = ref_R(m, wd, o);
            wd[i][k] = t - h;
            double rm = ref_R(m, wd, o);
            wd[i][k] = t;
            score += fabs(t * (rp - rm) / (2 * h));
        }
    }
    for (int i = 0; i < m->nparams; i++) free(wd[i]);
    free(wd);
    return score;
}

static double synflow_of(nl_model *m, const nl_nb201net_opts *o)
{
    double v;
    if (nl_proxy_find("synflow")->score(&v, m, o, ctx, NULL, NULL)) bail("synflow");
    return v;
}

static void test_synflow(void)
{
    const uint8_t cells[3][6] = {
        { CONV3, SKIP, CONV1, CONV3, POOL, CONV3 },
        { POOL, CONV1, NONE, SKIP, CONV3, NONE },   /* node 2's conv 2<-1 absent, 3<-2 none */
        { CONV1, NONE, NONE, NONE, CONV3, NONE },   /* a chain through node 1 */
    };
    for (int t = 0; t < 3; t++) {
        nl_nb201net_opts o = netopts(2, 1, 4, 3, cells[t]);
        o.in_ch = 2;
        nl_model *m = mknet(&o, 21 + t);
        double got = synflow_of(m, &o), want = ref_synflow(m, &o);
        is_near(got / want, 1.0, 2e-6, "synflow = sum |theta dR/dtheta| of a BN-free double forward by central "
                "differences, cell %d (%.9g vs %.9g)", t + 1, got, want);
        nl_model_free(m);
    }

    /* scaling one layer by 2^k scales every term by 2^k: exact with the
     * per-tensor exponents, even where float32 would overflow (2^125 * R) */
    const uint8_t c3[6] = { CONV3, CONV3, CONV3, CONV3, CONV3, CONV3 };
    nl_nb201net_opts o = netopts(3, 1, 8, 4, c3);
    nl_model *m = mknet(&o, 33);
    double base = synflow_of(m, &o);
    int w = param_index(m, "stem.w");
    float *d = nl_tensor_data(m->params[w].w);
    for (int64_t k = 0; k < nl_tensor_numel(m->params[w].w); k++) d[k] = ldexpf(d[k], 125);
    double big = synflow_of(m, &o);
    ok(isfinite(big) && big > 3.5e38, "stem x 2^125: synflow %.4g is past float32's range", big);
    is_near(big / ldexp(base, 125), 1.0, 1e-12, "  and exactly 2^125 times the unscaled score");
    for (int64_t k = 0; k < nl_tensor_numel(m->params[w].w); k++) d[k] = ldexpf(d[k], -225);
    double tiny = synflow_of(m, &o);
    is_near(tiny / ldexp(base, -100), 1.0, 1e-12, "stem x 2^-100: exactly 2^-100 times the unscaled score");
    nl_model_free(m);

    /* the default NAS-Bench-201 size, every edge a 3x3 conv: R is far past 3e38 */
    nl_nb201net_opts big_o = netopts(16, 5, 32, 10, c3);
    m = mknet(&big_o, 1);
    double v = synflow_of(m, &big_o);
    ok(isfinite(v) && v > 1e39, "C=16 N=5 32x32 all-conv3x3: synflow %.4g, finite and beyond float32", v);
    nl_model_free(m);
}

/* ------------------------------------------------------------ grad_norm, snip */

static double xent(nl_model *m, const nl_tensor *x, const int32_t *labels)
{
    const nl_tensor *lg;
    double loss;
    if (m->vt->forward(m, ctx, x, 1, &lg) || nl_softmax_xent(&loss, NULL, NULL, lg, labels)) bail("xent");
    return loss;
}

static void test_grad_proxies(void)
{
    const uint8_t ops[6] = { CONV3, CONV1, POOL, SKIP, NONE, CONV3 };
    nl_nb201net_opts o = netopts(2, 1, 8, 3, ops);
    nl_model *m = mknet(&o, 77);
    const int B = 8;
    nl_tensor *x = randn(B, 1, 8, 78);
    int32_t labels[8];
    for (int i = 0; i < B; i++) labels[i] = (i * 7) % 3;
    double gn, sn;
    if (nl_proxy_find("grad_norm")->score(&gn, m, &o, ctx, x, labels)) bail("grad_norm");
    if (nl_proxy_find("snip")->score(&sn, m, &o, ctx, x, labels)) bail("snip");

    /* central differences of the mean cross-entropy (float forward, loss in
     * double; step 1e-3 and a 2% tolerance for float32 rounding) */
    double fd_gn = 0, fd_sn = 0;
    int nw = 0;
    for (int i = 0; i < m->nparams; i++) {
        if (!is_w(m, i)) continue;
        nw++;
        float *w = nl_tensor_data(m->params[i].w);
        double q = 0;
        for (int64_t k = 0; k < nl_tensor_numel(m->params[i].w); k++) {
            float t = w[k];
            const float h = 1e-3f;
            w[k] = t + h;
            double lp = xent(m, x, labels);
            w[k] = t - h;
            double lm = xent(m, x, labels);
            w[k] = t;
            double g = (lp - lm) / ((double)(t + h) - (double)(t - h));
            q += g * g;
            fd_sn += fabs(t * g);
        }
        fd_gn += sqrt(q);
    }
    is_int(nw, 1 + 3 * 3 + 2 * 3 + 1, "weights read: stem, 3 conv edges x 3 cells, 3 per block, the fc");
    is_near(gn / fd_gn, 1.0, 0.02, "grad_norm = sum of per-layer L2 norms of dL/dw by central differences (%.6g vs %.6g)",
            gn, fd_gn);
    is_near(sn / fd_sn, 1.0, 0.02, "snip = sum |w dL/dw| by central differences (%.6g vs %.6g)", sn, fd_sn);

    /* the same sums from the network's own backward, which must agree to rounding */
    double dummy;
    if (nl_proxy_find("snip")->score(&dummy, m, &o, ctx, x, labels)) bail("snip");
    double own_gn = 0, own_sn = 0;
    for (int i = 0; i < m->nparams; i++) {
        if (!is_w(m, i)) continue;
        const float *w = nl_tensor_data(m->params[i].w), *g = nl_tensor_data(m->params[i].g);
        double q = 0;
        for (int64_t k = 0; k < nl_tensor_numel(m->params[i].w); k++) {
            q += (double)g[k] * g[k];
            own_sn += fabs((double)w[k] * g[k]);
        }
        own_gn += sqrt(q);
    }
    is_near(gn, own_gn, 1e-9 * own_gn, "grad_norm from the backward's gradients");
    is_near(sn, own_sn, 1e-9 * own_sn, "snip from the backward's gradients (BN params and the fc bias not counted)");
    nl_tensor_free(x);
    nl_model_free(m);
}

/* ------------------------------------------------------------ nl_proxy_run */

static nl_dataset *synthetic(int n, int hw, uint64_t seed)
{
    nl_dataset *d;
    if (nl_dataset_new("synthetic", n, 1, hw, hw, 3, &d)) bail("dataset_new");
    nl_rng r;
    nl_rng_seed(&r, seed);
    float *p = nl_tensor_data(d->images);
    for (int64_t i = 0; i < nl_tensor_numel(d->images); i++) p[i] = (float)nl_rng_normal(&r);
    for (int i = 0; i < n; i++) d->labels[i] = i % 3;
    return d;
}

static double run(const char *name, const uint8_t ops[6], const nl_dataset *d, int batch, uint64_t seed)
{
    nl_proxy_opts o;
    nl_proxy_defaults(&o);
    o.net = netopts(4, 1, 8, 3, ops);
    o.batch = batch;
    o.seed = seed;
    double v;
    if (nl_proxy_run(&v, nl_proxy_find(name), &o, d, ctx)) bail(name);
    return v;
}

static void test_run(void)
{
    nl_dataset *d = synthetic(40, 8, 4);
    const uint8_t mixed[6] = { CONV3, SKIP, CONV1, POOL, CONV3, SKIP };
    const uint8_t none[6] = { NONE, NONE, NONE, NONE, NONE, NONE };
    const uint8_t skip[6] = { SKIP, SKIP, SKIP, SKIP, SKIP, SKIP };
    for (int i = 0; nl_proxies[i]; i++) {
        const char *n = nl_proxies[i]->name;
        double a = run(n, mixed, d, 16, 3), b = run(n, mixed, d, 16, 3);
        ok(memcmp(&a, &b, sizeof a) == 0 && isfinite(a), "%s: the same seed gives the same bits (%.9g)", n, a);
    }
    ok(run("naswot", mixed, d, 16, 3) != run("naswot", mixed, d, 16, 4), "naswot: another seed, another score");
    ok(run("synflow", mixed, d, 16, 3) != run("synflow", mixed, d, 16, 4), "synflow: another seed, other weights");
    ok(run("snip", mixed, d, 16, 3) != run("snip", mixed, d, 24, 3), "snip: another batch size, another score");

    double v = run("naswot", none, d, 16, 3);
    ok(isinf(v) && v < 0, "all-none cell: naswot -inf (every ReLU sees zeros: K = const * ones is singular)");
    is_near(run("synflow", none, d, 16, 3), 0, 0, "all-none cell: synflow 0 (no path from input to output)");
    is_near(run("grad_norm", none, d, 16, 3), 0, 0, "all-none cell: grad_norm 0");
    is_near(run("snip", none, d, 16, 3), 0, 0, "all-none cell: snip 0");
    for (int i = 0; nl_proxies[i]; i++) {
        double s = run(nl_proxies[i]->name, skip, d, 16, 3);
        ok(isfinite(s) && s > 0, "skip-only cell: %s finite and positive (%.6g)", nl_proxies[i]->name, s);
    }

    /* params and flops: the network's own counts */
    nl_nb201net_opts o = netopts(4, 1, 8, 3, mixed);
    nl_model *m = mknet(&o, 0);
    is_near(run("params", mixed, d, 16, 0), (double)nl_model_numel(m), 0, "params = the network's parameter count");
    is_near(run("flops", mixed, d, 16, 0), (double)nl_nb201net_macs(m), 0, "flops = the network's multiply-adds");
    nl_model_free(m);

    /* errors */
    nl_proxy_opts po;
    nl_proxy_defaults(&po);
    po.net = netopts(4, 1, 8, 3, mixed);
    po.batch = 41;
    is_int(nl_proxy_run(&v, nl_proxy_find("naswot"), &po, d, ctx), NL_EINVAL, "batch larger than the data fails");
    is_str(nl_errmsg(), "naswot: batch 41 is larger than the data (40 examples)", "  message");
    is_int(nl_proxy_run(&v, nl_proxy_find("params"), &po, d, ctx), 0, "  params reads no batch: no error");
    po.batch = 1;
    is_int(nl_proxy_run(&v, nl_proxy_find("snip"), &po, d, ctx), NL_EINVAL, "batch 1 fails");
    is_str(nl_errmsg(), "snip: batch must be at least 2 (batch norm), got 1", "  message");
    po.batch = 16;
    po.net.hw = 16;
    is_int(nl_proxy_run(&v, nl_proxy_find("synflow"), &po, d, ctx), NL_ESHAPE, "data of another size fails");
    is_str(nl_errmsg(), "synflow: images are 1x8x8, the network takes 1x16x16", "  message");
    ok(nl_proxy_find("nope") == NULL, "unknown proxy: NULL");
    is_str(nl_errmsg(), "unknown proxy 'nope' (known: naswot, synflow, grad_norm, snip, params, flops)", "  message");
    nl_dataset_free(d);
}

int main(void)
{
    ctx = nl_nn_ctx_new(2);
    if (!ctx) bail("ctx");
    test_slogdet();
    test_naswot_add();
    test_naswot_net();
    test_synflow();
    test_grad_proxies();
    test_run();
    nl_nn_ctx_free(ctx);
    return done_testing();
}
