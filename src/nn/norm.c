/* SPDX-License-Identifier: GPL-3.0-or-later */
/* norm.c - batch normalisation forward (training and eval) and backward with
 * PyTorch's semantics: biased batch variance to normalise, unbiased variance
 * into the running estimate. Statistics accumulate in double around a
 * per-channel shift (the channel's first value), which keeps the one-pass
 * variance free of cancellation. Workers take fixed slices of the channels,
 * so every channel is reduced by one thread in one order whatever the thread
 * count. When the ctx allows AVX-512 (nl_nn_ctx_avx512) the per-plane loops
 * run 16 floats (8 doubles) at a time, with the same double accumulation;
 * sums are then added in another order, so the two paths agree to rounding. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "nn/ctx.h"
#include "nn/nn.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NN_HAVE_AVX512 1
#define NN_AVX512 __attribute__((target("avx512f")))
#endif

typedef struct bn_job {
    int64_t n, c, hw;
    const float *x, *dy, *gamma, *beta;
    float *y, *dx, *dgamma, *dbeta;
    float *rmean, *rvar, *smean, *sinvstd;
    int training;
    int avx512; /* use the AVX-512 plane loops */
    double momentum, eps;
} bn_job;

/* Sum of d and of d*d over one plane, d = p[i] - shift, in double with
 * independent accumulators so the loop is not one long dependency chain. */
static void plane_moments(const float *p, int64_t m, double shift, double *s1, double *s2)
{
    double a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) {
        double d0 = p[i] - shift, d1 = p[i + 1] - shift;
        a0 += d0;
        a1 += d1;
        b0 += d0 * d0;
        b1 += d1 * d1;
    }
    for (; i < m; i++) {
        double d = p[i] - shift;
        a0 += d;
        b0 += d * d;
    }
    *s1 += a0 + a1;
    *s2 += b0 + b1;
}

#ifdef NN_HAVE_AVX512
NN_AVX512 static void plane_moments_avx512(const float *p, int64_t m, double shift, double *s1, double *s2)
{
    const __m512d sh = _mm512_set1_pd(shift);
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
    int64_t i = 0;
    for (; i + 16 <= m; i += 16) {
        const __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(p + i)), sh);
        const __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(p + i + 8)), sh);
        a0 = _mm512_add_pd(a0, d0);
        a1 = _mm512_add_pd(a1, d1);
        b0 = _mm512_fmadd_pd(d0, d0, b0);
        b1 = _mm512_fmadd_pd(d1, d1, b1);
    }
    double t1 = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1)), t2 = _mm512_reduce_add_pd(_mm512_add_pd(b0, b1));
    for (; i < m; i++) {
        double d = p[i] - shift;
        t1 += d;
        t2 += d * d;
    }
    *s1 += t1;
    *s2 += t2;
}

/* y[i] = a * x[i] + b, one rounding (fused multiply-add). */
NN_AVX512 static void affine_avx512(float *y, const float *x, int64_t n, float a, float b)
{
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(_mm512_loadu_ps(x + i), va, vb));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), va, vb));
    }
}

/* Sum of dy and of dy * (x - mean) over one plane, in double. */
NN_AVX512 static void plane_dsums_avx512(const float *xp, const float *dp, int64_t m, double mean, double *sdy,
                                          double *sdyx)
{
    const __m512d mu = _mm512_set1_pd(mean);
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
    int64_t i = 0;
    for (; i + 16 <= m; i += 16) {
        const __m512d d0 = _mm512_cvtps_pd(_mm256_loadu_ps(dp + i)), d1 = _mm512_cvtps_pd(_mm256_loadu_ps(dp + i + 8));
        const __m512d x0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(xp + i)), mu);
        const __m512d x1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(xp + i + 8)), mu);
        a0 = _mm512_add_pd(a0, d0);
        a1 = _mm512_add_pd(a1, d1);
        b0 = _mm512_fmadd_pd(d0, x0, b0);
        b1 = _mm512_fmadd_pd(d1, x1, b1);
    }
    double t1 = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1)), t2 = _mm512_reduce_add_pd(_mm512_add_pd(b0, b1));
    for (; i < m; i++) {
        t1 += dp[i];
        t2 += dp[i] * (xp[i] - mean);
    }
    *sdy += t1;
    *sdyx += t2;
}

/* op[i] += f1 * dp[i] + f2 * xp[i] + f3. */
NN_AVX512 static void dx_avx512(float *op, const float *dp, const float *xp, int64_t n, float f1, float f2, float f3)
{
    const __m512 v1 = _mm512_set1_ps(f1), v2 = _mm512_set1_ps(f2), v3 = _mm512_set1_ps(f3);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 t = _mm512_fmadd_ps(v1, _mm512_loadu_ps(dp + i), _mm512_fmadd_ps(v2, _mm512_loadu_ps(xp + i), v3));
        _mm512_storeu_ps(op + i, _mm512_add_ps(_mm512_loadu_ps(op + i), t));
    }
    for (; i < n; i++) op[i] += f1 * dp[i] + f2 * xp[i] + f3;
}
#endif

static void bn_fwd_job(void *arg, int worker, int workers)
{
    const bn_job *j = arg;
    int64_t lo, hi;
    nl_nn_split(j->c, worker, workers, &lo, &hi);
    const double cnt = (double)(j->n * j->hw);
    for (int64_t ch = lo; ch < hi; ch++) {
        double mean, invstd;
        if (j->training) {
            double shift = j->x[ch * j->hw], s1 = 0.0, s2 = 0.0;
            for (int64_t n = 0; n < j->n; n++) {
                const float *p = j->x + (n * j->c + ch) * j->hw;
#ifdef NN_HAVE_AVX512
                if (j->avx512) {
                    plane_moments_avx512(p, j->hw, shift, &s1, &s2);
                    continue;
                }
#endif
                plane_moments(p, j->hw, shift, &s1, &s2);
            }
            double dm = s1 / cnt;
            double var = s2 / cnt - dm * dm;
            if (var < 0.0) var = 0.0;
            mean = shift + dm;
            invstd = 1.0 / sqrt(var + j->eps);
            if (j->smean) j->smean[ch] = (float)mean;
            if (j->sinvstd) j->sinvstd[ch] = (float)invstd;
            if (j->rmean) j->rmean[ch] = (float)((1.0 - j->momentum) * j->rmean[ch] + j->momentum * mean);
            if (j->rvar)
                j->rvar[ch] = (float)((1.0 - j->momentum) * j->rvar[ch] + j->momentum * var * cnt / (cnt - 1.0));
        } else {
            mean = j->rmean[ch];
            invstd = 1.0 / sqrt((double)j->rvar[ch] + j->eps);
        }
        double a = j->gamma ? j->gamma[ch] * invstd : invstd;
        double b = (j->beta ? j->beta[ch] : 0.0) - mean * a;
        const float fa = (float)a, fb = (float)b;
        for (int64_t n = 0; n < j->n; n++) {
            const float *xp = j->x + (n * j->c + ch) * j->hw;
            float *yp = j->y + (n * j->c + ch) * j->hw;
#ifdef NN_HAVE_AVX512
            if (j->avx512) {
                affine_avx512(yp, xp, j->hw, fa, fb);
                continue;
            }
#endif
            nl_nn_affine(yp, xp, j->hw, fa, fb);
        }
    }
}

/* x is (N,C,H,W) or (N,C); the count per channel goes to *n and *hw. */
static int bn_shape(const nl_tensor *x, int64_t *n, int64_t *c, int64_t *hw)
{
    char a[NL_NN_SHAPEBUF];
    if (!x) return nl_err(NL_EINVAL, "batchnorm: x is missing");
    if (x->ndim != 4 && x->ndim != 2)
        return nl_err(NL_ESHAPE, "batchnorm: x has shape %s, expected (N,C,H,W) or (N,C)",
                      nl_tensor_shape_str(x, a, sizeof a));
    *n = x->shape[0];
    *c = x->shape[1];
    *hw = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
    return nl_nn_contig("batchnorm", "x", x);
}

static int bn_vec(const char *name, const nl_tensor *t, int64_t c)
{
    return t ? nl_nn_check("batchnorm", name, t, 1, &c) : 0;
}

int nl_bn_forward(nl_nn_ctx *c, nl_tensor *y, const nl_tensor *x, const nl_tensor *gamma, const nl_tensor *beta,
                  nl_tensor *running_mean, nl_tensor *running_var, nl_tensor *save_mean, nl_tensor *save_invstd,
                  int training, double momentum, double eps)
{
    bn_job j;
    memset(&j, 0, sizeof j);
    int rc = bn_shape(x, &j.n, &j.c, &j.hw);
    if (rc) return rc;
    if ((rc = nl_nn_check("batchnorm", "y", y, x->ndim, x->shape))) return rc;
    if ((rc = bn_vec("gamma", gamma, j.c)) || (rc = bn_vec("beta", beta, j.c)) ||
        (rc = bn_vec("running_mean", running_mean, j.c)) || (rc = bn_vec("running_var", running_var, j.c)) ||
        (rc = bn_vec("save_mean", save_mean, j.c)) || (rc = bn_vec("save_invstd", save_invstd, j.c)))
        return rc;
    if (!(eps > 0.0)) return nl_err(NL_EINVAL, "batchnorm: eps %g must be positive", eps);
    if (training) {
        if (!(momentum >= 0.0 && momentum <= 1.0))
            return nl_err(NL_EINVAL, "batchnorm: momentum %g is outside [0,1]", momentum);
        if (j.n * j.hw < 2) {
            char a[NL_NN_SHAPEBUF];
            return nl_err(NL_EINVAL, "batchnorm: training needs more than 1 value per channel, x has shape %s",
                          nl_tensor_shape_str(x, a, sizeof a));
        }
        if ((running_mean == NULL) != (running_var == NULL))
            return nl_err(NL_EINVAL, "batchnorm: give both running_mean and running_var, or neither");
    } else if (!running_mean || !running_var) {
        return nl_err(NL_EINVAL, "batchnorm: eval mode needs running_mean and running_var");
    }
    j.x = nl_tensor_data(x);
    j.y = nl_tensor_data(y);
    j.gamma = gamma ? nl_tensor_data(gamma) : NULL;
    j.beta = beta ? nl_tensor_data(beta) : NULL;
    j.rmean = running_mean ? nl_tensor_data(running_mean) : NULL;
    j.rvar = running_var ? nl_tensor_data(running_var) : NULL;
    j.smean = training && save_mean ? nl_tensor_data(save_mean) : NULL;
    j.sinvstd = training && save_invstd ? nl_tensor_data(save_invstd) : NULL;
    j.training = training != 0;
    j.momentum = momentum;
    j.eps = eps;
    j.avx512 = nl_nn_ctx_avx512(c);
    if (j.n * j.hw == 0) return 0;
    nl_nn_ctx_run(c, bn_fwd_job, &j);
    return 0;
}

static void bn_bwd_job(void *arg, int worker, int workers)
{
    const bn_job *j = arg;
    int64_t lo, hi;
    nl_nn_split(j->c, worker, workers, &lo, &hi);
    const double cnt = (double)(j->n * j->hw);
    for (int64_t ch = lo; ch < hi; ch++) {
        const double mean = j->smean[ch], invstd = j->sinvstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t n = 0; n < j->n; n++) {
            const float *xp = j->x + (n * j->c + ch) * j->hw;
            const float *dp = j->dy + (n * j->c + ch) * j->hw;
#ifdef NN_HAVE_AVX512
            if (j->avx512) {
                plane_dsums_avx512(xp, dp, j->hw, mean, &sdy, &sdyx);
                continue;
            }
#endif
            double a0 = 0, a1 = 0, b0 = 0, b1 = 0;
            int64_t i = 0;
            for (; i + 2 <= j->hw; i += 2) {
                a0 += dp[i];
                a1 += dp[i + 1];
                b0 += dp[i] * (xp[i] - mean);
                b1 += dp[i + 1] * (xp[i + 1] - mean);
            }
            for (; i < j->hw; i++) {
                a0 += dp[i];
                b0 += dp[i] * (xp[i] - mean);
            }
            sdy += a0 + a1;
            sdyx += b0 + b1;
        }
        if (j->dbeta) j->dbeta[ch] += (float)sdy;
        if (j->dgamma) j->dgamma[ch] += (float)(sdyx * invstd);
        if (!j->dx) continue;
        /* dx = g*invstd*(dy - mean(dy) - xhat*mean(dy*xhat)), written as
         * k1*dy + k2*x + k3 so the inner loop is two fused multiply-adds. */
        const double g = j->gamma ? j->gamma[ch] : 1.0;
        const double k1 = g * invstd;
        const double k2 = -g * invstd * invstd * invstd * sdyx / cnt;
        const double k3 = -g * invstd * sdy / cnt - k2 * mean;
        const float f1 = (float)k1, f2 = (float)k2, f3 = (float)k3;
        for (int64_t n = 0; n < j->n; n++) {
            const float *xp = j->x + (n * j->c + ch) * j->hw;
            const float *dp = j->dy + (n * j->c + ch) * j->hw;
            float *op = j->dx + (n * j->c + ch) * j->hw;
#ifdef NN_HAVE_AVX512
            if (j->avx512) {
                dx_avx512(op, dp, xp, j->hw, f1, f2, f3);
                continue;
            }
#endif
            int64_t i = 0;
            for (; i + 4 <= j->hw; i += 4)
                nl_vst(op + i, nl_vld(op + i) + (f1 * nl_vld(dp + i) + f2 * nl_vld(xp + i) + f3));
            for (; i < j->hw; i++) op[i] += f1 * dp[i] + f2 * xp[i] + f3;
        }
    }
}

int nl_bn_backward(nl_nn_ctx *c, nl_tensor *dx, nl_tensor *dgamma, nl_tensor *dbeta, const nl_tensor *dy,
                   const nl_tensor *x, const nl_tensor *gamma, const nl_tensor *save_mean,
                   const nl_tensor *save_invstd)
{
    bn_job j;
    memset(&j, 0, sizeof j);
    int rc = bn_shape(x, &j.n, &j.c, &j.hw);
    if (rc) return rc;
    if ((rc = nl_nn_check("batchnorm", "dy", dy, x->ndim, x->shape))) return rc;
    if (dx && (rc = nl_nn_check("batchnorm", "dx", dx, x->ndim, x->shape))) return rc;
    if ((rc = bn_vec("gamma", gamma, j.c)) || (rc = bn_vec("dgamma", dgamma, j.c)) ||
        (rc = bn_vec("dbeta", dbeta, j.c)) || (rc = nl_nn_check("batchnorm", "save_mean", save_mean, 1, &j.c)) ||
        (rc = nl_nn_check("batchnorm", "save_invstd", save_invstd, 1, &j.c)))
        return rc;
    j.x = nl_tensor_data(x);
    j.dy = nl_tensor_data(dy);
    j.dx = dx ? nl_tensor_data(dx) : NULL;
    j.gamma = gamma ? nl_tensor_data(gamma) : NULL;
    j.dgamma = dgamma ? nl_tensor_data(dgamma) : NULL;
    j.dbeta = dbeta ? nl_tensor_data(dbeta) : NULL;
    j.smean = nl_tensor_data(save_mean);
    j.sinvstd = nl_tensor_data(save_invstd);
    j.avx512 = nl_nn_ctx_avx512(c);
    if (j.n * j.hw == 0) return 0;
    nl_nn_ctx_run(c, bn_bwd_job, &j);
    return 0;
}
