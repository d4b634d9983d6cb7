/* SPDX-License-Identifier: GPL-3.0-or-later */
/* conv.c - 2-d convolution forward and backward. 'Same' stride-1
 * convolutions (odd k, pad (k-1)/2, one group: every convolution of an NB201
 * cell) run on the direct kernels of conv_direct.h when the CPU has them and
 * the ctx allows it. Everything else, and every convolution on other CPUs,
 * runs as im2col + OpenBLAS sgemm, one (sample, group) product at a time; a
 * 1x1 convolution with stride 1 and no padding skips im2col because the
 * input plane already is the column matrix. Workers take fixed contiguous
 * slices of the batch; weight and bias gradients go to per-worker partial
 * buffers that are added in worker order, so a fixed thread count gives
 * bit-identical results. The im2col/col2im loops are written here (no Debian
 * library exports them). */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "core/error.h"
#include "nn/conv_direct.h"
#include "nn/ctx.h"
#include "nn/nn.h"

typedef struct conv_geom {
    int64_t n, c, h, w;    /* input */
    int64_t co, ho, wo;    /* output */
    int64_t cg, cog;       /* channels per group, in and out */
    int64_t kk;            /* cg * k * k: rows of the column matrix */
    int k, s, p, g;
    int direct;            /* 1x1, stride 1, no padding: no im2col */
} conv_geom;

/* Output positions ow whose input column ow*s - p + kj lies inside 0..w-1
 * form the range [*lo, *hi). */
static void valid_range(int64_t w, int64_t wo, int s, int p, int kj, int64_t *lo, int64_t *hi)
{
    int64_t a = (int64_t)p - kj; /* ow*s >= a */
    int64_t l = a > 0 ? (a + s - 1) / s : 0;
    int64_t b = w - 1 + p - kj; /* ow*s <= b */
    int64_t h = b < 0 ? 0 : b / s + 1;
    if (h > wo) h = wo;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* col[(c*k + ki)*k + kj][oh*wo + ow] = x[c][oh*s - p + ki][ow*s - p + kj], 0
 * outside the image; rows of col are `ld` floats apart, so several samples
 * can sit side by side in one column matrix. */
static void im2col(const conv_geom *g, const float *x, float *col, int64_t ld)
{
    const int k = g->k, s = g->s, p = g->p;
    for (int64_t c = 0; c < g->cg; c++) {
        const float *xc = x + c * g->h * g->w;
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *row = col + ((c * k + ki) * k + kj) * ld;
                int64_t lo, hi;
                valid_range(g->w, g->wo, s, p, kj, &lo, &hi);
                if (s == 1 && g->wo == g->w && hi > lo) {
                    /* A 'same' convolution: the in-image rows are one
                     * contiguous run of x shifted by kj - p, so copy the run
                     * at once and clear the few border columns after. */
                    int64_t r0 = p - ki > 0 ? p - ki : 0, r1 = g->h + p - ki < g->ho ? g->h + p - ki : g->ho;
                    if (r1 < r0) r1 = r0;
                    memset(row, 0, (size_t)(r0 * g->wo) * sizeof *row);
                    memset(row + r1 * g->wo, 0, (size_t)((g->ho - r1) * g->wo) * sizeof *row);
                    if (r1 > r0) {
                        float *d = row + r0 * g->wo;
                        const float *src = xc + (r0 - p + ki) * g->w - p + kj;
                        memcpy(d + lo, src + lo, (size_t)((r1 - r0 - 1) * g->wo + hi - lo) * sizeof *d);
                        for (int64_t oh = r0; oh < r1; oh++) {
                            float *e = row + oh * g->wo;
                            for (int64_t ow = 0; ow < lo; ow++) e[ow] = 0.0f;
                            for (int64_t ow = hi; ow < g->wo; ow++) e[ow] = 0.0f;
                        }
                    }
                    continue;
                }
                for (int64_t oh = 0; oh < g->ho; oh++) {
                    float *d = row + oh * g->wo;
                    int64_t ih = oh * s - p + ki;
                    if (ih < 0 || ih >= g->h) {
                        memset(d, 0, (size_t)g->wo * sizeof *d);
                        continue;
                    }
                    const float *src = xc + ih * g->w - p + kj;
                    for (int64_t ow = 0; ow < lo; ow++) d[ow] = 0.0f;
                    if (s == 1) {
                        memcpy(d + lo, src + lo, (size_t)(hi - lo) * sizeof *d);
                    } else {
                        for (int64_t ow = lo; ow < hi; ow++) d[ow] = src[ow * s];
                    }
                    for (int64_t ow = hi; ow < g->wo; ow++) d[ow] = 0.0f;
                }
            }
    }
}

/* The adjoint of im2col: x[c][ih][iw] += every column entry that read it. */
static void col2im(const conv_geom *g, const float *col, float *x, int64_t ld)
{
    const int k = g->k, s = g->s, p = g->p;
    for (int64_t c = 0; c < g->cg; c++) {
        float *xc = x + c * g->h * g->w;
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *row = col + ((c * k + ki) * k + kj) * ld;
                int64_t lo, hi;
                valid_range(g->w, g->wo, s, p, kj, &lo, &hi);
                for (int64_t oh = 0; oh < g->ho; oh++) {
                    int64_t ih = oh * s - p + ki;
                    if (ih < 0 || ih >= g->h) continue;
                    const float *d = row + oh * g->wo;
                    float *dst = xc + ih * g->w - p + kj;
                    if (s == 1) {
                        nl_nn_acc(dst + lo, d + lo, hi - lo);
                    } else {
                        for (int64_t ow = lo; ow < hi; ow++) dst[ow * s] += d[ow];
                    }
                }
            }
    }
}

/* Checks the common arguments and fills the geometry. */
static int conv_setup(conv_geom *g, const nl_tensor *x, const nl_tensor *w, int stride, int pad, int groups)
{
    char a[NL_NN_SHAPEBUF], b[NL_NN_SHAPEBUF];
    if (!x || !w) return nl_err(NL_EINVAL, "conv2d: %s is missing", x ? "weight" : "x");
    if (x->ndim != 4)
        return nl_err(NL_ESHAPE, "conv2d: x has shape %s, expected 4 dimensions (N,C,H,W)",
                      nl_tensor_shape_str(x, a, sizeof a));
    if (w->ndim != 4 || w->shape[2] != w->shape[3] || w->shape[2] < 1 || w->shape[1] < 1)
        return nl_err(NL_ESHAPE, "conv2d: weight has shape %s, expected (Cout,Cin/groups,k,k)",
                      nl_tensor_shape_str(w, a, sizeof a));
    if (stride < 1) return nl_err(NL_EINVAL, "conv2d: stride %d must be at least 1", stride);
    if (pad < 0) return nl_err(NL_EINVAL, "conv2d: padding %d is negative", pad);
    if (groups < 1 || w->shape[0] % groups != 0)
        return nl_err(NL_EINVAL, "conv2d: groups %d does not divide the %lld output channels of weight %s",
                      groups, (long long)w->shape[0], nl_tensor_shape_str(w, a, sizeof a));
    if (w->shape[1] * groups != x->shape[1])
        return nl_err(NL_ESHAPE, "conv2d: weight %s expects %lld input channels, x has shape %s",
                      nl_tensor_shape_str(w, a, sizeof a), (long long)(w->shape[1] * groups),
                      nl_tensor_shape_str(x, b, sizeof b));
    g->n = x->shape[0];
    g->c = x->shape[1];
    g->h = x->shape[2];
    g->w = x->shape[3];
    g->co = w->shape[0];
    g->k = (int)w->shape[2];
    g->s = stride;
    g->p = pad;
    g->g = groups;
    g->cg = g->c / groups;
    g->cog = g->co / groups;
    g->kk = g->cg * g->k * g->k;
    if (g->h + 2 * (int64_t)pad < g->k || g->w + 2 * (int64_t)pad < g->k)
        return nl_err(NL_ESHAPE, "conv2d: kernel %d with padding %d does not fit x %s", g->k, pad,
                      nl_tensor_shape_str(x, a, sizeof a));
    g->ho = (g->h + 2 * pad - g->k) / stride + 1;
    g->wo = (g->w + 2 * pad - g->k) / stride + 1;
    if (g->ho * g->wo > INT_MAX || g->kk > INT_MAX || g->h * g->w > INT_MAX)
        return nl_err(NL_EINVAL, "conv2d: x %s with weight %s is too large for BLAS",
                      nl_tensor_shape_str(x, a, sizeof a), nl_tensor_shape_str(w, b, sizeof b));
    g->direct = g->k == 1 && stride == 1 && pad == 0;
    int rc = nl_nn_contig("conv2d", "x", x);
    if (!rc) rc = nl_nn_contig("conv2d", "weight", w);
    return rc;
}

static size_t round16(size_t n)
{
    return (n + 15) / 16 * 16;
}

/* Samples per product: small images are grouped so that one sgemm sees at
 * least about NN_COLS columns, because OpenBLAS packs the weights on every
 * call and a 64-column product (an 8x8 image) spends much of its time there. */
#define NN_COLS 1024

static int64_t block_samples(const conv_geom *g, int workers)
{
    int64_t hw = g->ho * g->wo;
    int64_t nb = (NN_COLS + hw - 1) / hw;
    int64_t slice = (g->n + workers - 1) / workers;
    if (nb > slice) nb = slice;
    return nb < 1 ? 1 : nb;
}

typedef struct conv_job {
    nl_nn_ctx *ctx;
    conv_geom g;
    nl_convd d, dt;                 /* direct kernels: the convolution, and dx's */
    const float *wp, *wtp;          /* their packed weights */
    int64_t nb;                     /* samples per product */
    const float *x, *w, *bias, *dy;
    float *y, *dx, *dw;
    int want_db;
    int tconv;                      /* dx as a stride-1 convolution of dy */
    conv_geom gt;                   /* its geometry: dy in, dx out */
    const float *wt;                /* its weights, flipped and transposed */
    size_t db_off, dw_off, col_off, buf_off; /* scratch layout, in floats */
    size_t tcol_off, tbuf_off;
} conv_job;

/* Rows `rows` of channel block `c0` of samples n0..n0+nb-1 of an (N,ctot,hw)
 * tensor, to or from an (rows, nb*hw) matrix. */
static void gather(float *m, const float *t, int64_t n0, int64_t nb, int64_t ctot, int64_t c0, int64_t rows,
                   int64_t hw)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < nb; i++)
            memcpy(m + r * nb * hw + i * hw, t + ((n0 + i) * ctot + c0 + r) * hw, (size_t)hw * sizeof *m);
}

static void scatter(float *t, const float *m, int64_t n0, int64_t nb, int64_t ctot, int64_t c0, int64_t rows,
                    int64_t hw)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < nb; i++)
            memcpy(t + ((n0 + i) * ctot + c0 + r) * hw, m + r * nb * hw + i * hw, (size_t)hw * sizeof *m);
}

static void conv_fwd_job(void *arg, int worker, int workers)
{
    const conv_job *j = arg;
    const conv_geom *g = &j->g;
    const int64_t hw = g->ho * g->wo, ihw = g->h * g->w;
    float *scr = nl_nn_ctx_scratch(j->ctx, worker);
    float *col = scr + j->col_off, *buf = scr + j->buf_off;
    int64_t lo, hi;
    nl_nn_split(g->n, worker, workers, &lo, &hi);
    for (int64_t n0 = lo; n0 < hi; n0 += j->nb) {
        const int64_t nb = hi - n0 < j->nb ? hi - n0 : j->nb, ld = nb * hw;
        for (int gi = 0; gi < g->g; gi++) {
            const float *b = col;
            if (nb == 1 && g->direct)
                b = j->x + (n0 * g->c + gi * g->cg) * ihw;
            else
                for (int64_t i = 0; i < nb; i++) im2col(g, j->x + ((n0 + i) * g->c + gi * g->cg) * ihw, col + i * hw, ld);
            float *out = nb == 1 ? j->y + (n0 * g->co + gi * g->cog) * hw : buf;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cog, (int)ld, (int)g->kk, 1.0f,
                        j->w + gi * g->cog * g->kk, (int)g->kk, b, (int)ld, 0.0f, out, (int)ld);
            if (nb > 1) scatter(j->y, buf, n0, nb, g->co, gi * g->cog, g->cog, hw);
        }
        if (j->bias)
            for (int64_t i = n0; i < n0 + nb; i++)
                for (int64_t o = 0; o < g->co; o++) {
                    const float bv = j->bias[o];
                    float *yo = j->y + (i * g->co + o) * hw;
                    for (int64_t q = 0; q < hw; q++) yo[q] += bv;
                }
    }
}

/* ---------------------------------------------------------------- direct
 * The plan of a direct convolution: tap offsets and lane masks (see
 * conv_direct.h), built once per call and read by every worker, and the
 * weights packed for the forward kernel. */

static int direct_ok(nl_nn_ctx *c, const conv_geom *g)
{
    return nl_nn_ctx_avx512(c) && g->g == 1 && g->s == 1 && g->k % 2 == 1 && 2 * g->p == g->k - 1;
}

/* Fills d for planes of g (input and output have the same size) from cin to
 * cout channels; the offsets and masks go to one allocation returned in
 * *mem (nl_free it). NL_ENOMEM. */
static int direct_plan(nl_convd *d, void **mem, const conv_geom *g, int64_t cin, int64_t cout)
{
    const int k = g->k, taps = k * k;
    const int64_t hw = g->h * g->w, nvec = (hw + 15) / 16;
    int64_t *off = nl_malloc((size_t)taps * sizeof *off + (size_t)((nvec + 1) * taps) * sizeof(uint16_t));
    if (!off) return NL_ENOMEM;
    uint16_t *mask = (uint16_t *)(off + taps);
    for (int t = 0; t < taps; t++) off[t] = (int64_t)(t / k - g->p) * g->w + (t % k - g->p);
    for (int64_t v = 0; v <= nvec; v++)
        for (int t = 0; t < taps; t++) {
            const int64_t di = t / k - g->p, dj = t % k - g->p;
            unsigned m = 0;
            for (int l = 0; l < 16 && v < nvec; l++) {
                const int64_t px = v * 16 + l, ih = px / g->w + di, iw = px % g->w + dj;
                if (px < hw && ih >= 0 && ih < g->h && iw >= 0 && iw < g->w) m |= 1u << l;
            }
            mask[v * taps + t] = (uint16_t)m;
        }
    d->cin = cin;
    d->cout = cout;
    d->hw = hw;
    d->nvec = nvec;
    d->taps = taps;
    d->off = off;
    d->mask = mask;
    *mem = off;
    return 0;
}

/* wp (ceil(cout/COB), taps, cin, COB) from w (cout, cin, taps); with
 * `flip`, the weights of dx's convolution instead: cin and cout swapped and
 * the taps reversed. Channels past the count are zero. */
static float *direct_pack(const float *w, int64_t wcout, int64_t wcin, int taps, int flip)
{
    const int64_t cout = flip ? wcin : wcout, cin = flip ? wcout : wcin;
    const int64_t ncob = (cout + NL_CONVD_COB - 1) / NL_CONVD_COB;
    float *wp = nl_calloc((size_t)(ncob * taps * cin * NL_CONVD_COB), sizeof *wp);
    if (!wp) return NULL;
    for (int64_t o = 0; o < cout; o++)
        for (int64_t i = 0; i < cin; i++)
            for (int t = 0; t < taps; t++) {
                const float v = flip ? w[(i * wcin + o) * taps + (taps - 1 - t)] : w[(o * wcin + i) * taps + t];
                wp[(((o / NL_CONVD_COB) * taps + t) * cin + i) * NL_CONVD_COB + o % NL_CONVD_COB] = v;
            }
    return wp;
}

static void direct_fwd_job(void *arg, int worker, int workers)
{
    const conv_job *j = arg;
    const conv_geom *g = &j->g;
    const int64_t hw = g->h * g->w;
    int64_t lo, hi;
    nl_nn_split(g->n, worker, workers, &lo, &hi);
    if (hi > lo) nl_convd_fwd_avx512(&j->d, j->wp, j->x + lo * g->c * hw, j->y + lo * g->co * hw, hi - lo, j->bias, 0);
}

static int direct_forward(nl_nn_ctx *c, conv_job *j)
{
    const conv_geom *g = &j->g;
    void *mem;
    int rc = direct_plan(&j->d, &mem, g, g->c, g->co);
    if (rc) return rc;
    float *wp = direct_pack(j->w, g->co, g->c, g->k * g->k, 0);
    if (!wp) {
        nl_free(mem);
        return NL_ENOMEM;
    }
    j->wp = wp;
    nl_nn_ctx_run(c, direct_fwd_job, j);
    nl_free(wp);
    nl_free(mem);
    return 0;
}

/* Scratch per worker: the column matrix of a block (unless the input can be
 * used as is) and, for blocks of several samples, an output-sized buffer. */
static size_t conv_scratch(conv_job *j, size_t off)
{
    const conv_geom *g = &j->g;
    const int64_t hw = g->ho * g->wo;
    j->col_off = off;
    if (!(j->nb == 1 && g->direct)) off += round16((size_t)(g->kk * j->nb * hw));
    j->buf_off = off;
    if (j->nb > 1) off += round16((size_t)(g->cog * j->nb * hw));
    return off;
}

int nl_conv2d_forward(nl_nn_ctx *c, nl_tensor *y, const nl_tensor *x, const nl_tensor *w, const nl_tensor *bias,
                      int stride, int pad, int groups)
{
    conv_job j;
    memset(&j, 0, sizeof j);
    if (!c) return nl_err(NL_EINVAL, "conv2d: ctx is missing");
    int rc = conv_setup(&j.g, x, w, stride, pad, groups);
    if (rc) return rc;
    const conv_geom *g = &j.g;
    int64_t ys[4] = { g->n, g->co, g->ho, g->wo };
    if ((rc = nl_nn_check("conv2d", "y", y, 4, ys))) return rc;
    if (bias && (rc = nl_nn_check("conv2d", "bias", bias, 1, &g->co))) return rc;
    if (g->n == 0) return 0;
    j.x = nl_tensor_data(x);
    j.w = nl_tensor_data(w);
    j.bias = bias ? nl_tensor_data(bias) : NULL;
    j.y = nl_tensor_data(y);
    if (direct_ok(c, g)) return direct_forward(c, &j);
    j.nb = block_samples(g, nl_nn_ctx_threads(c));
    size_t need = conv_scratch(&j, 0);
    if ((rc = nl_nn_ctx_reserve(c, need ? need : 1))) return rc;
    j.ctx = c;
    nl_nn_ctx_run(c, conv_fwd_job, &j);
    return 0;
}

/* pdb[o] += the sum of dy over channel o of samples n0..n1-1. */
static void bias_grad(const conv_job *j, double *pdb, int64_t n0, int64_t n1)
{
    const conv_geom *g = &j->g;
    const int64_t hw = g->ho * g->wo;
    for (int64_t i = n0; i < n1; i++)
        for (int64_t o = 0; o < g->co; o++) {
            const float *d = j->dy + (i * g->co + o) * hw;
            float s0 = 0.0f;
            /* Float sums over one plane (a few thousand values at most)
             * vectorise; planes are added in double. */
            for (int64_t q = 0; q < hw; q++) s0 += d[q];
            pdb[o] += s0;
        }
}

static void conv_bwd_job(void *arg, int worker, int workers)
{
    const conv_job *j = arg;
    const conv_geom *g = &j->g;
    const int64_t hw = g->ho * g->wo, ihw = g->h * g->w;
    float *scr = nl_nn_ctx_scratch(j->ctx, worker);
    double *pdb = (double *)(void *)(scr + j->db_off);
    float *pdw = scr + j->dw_off, *col = scr + j->col_off, *buf = scr + j->buf_off;
    if (j->want_db)
        for (int64_t o = 0; o < g->co; o++) pdb[o] = 0.0;
    if (j->dw) memset(pdw, 0, (size_t)(g->co * g->kk) * sizeof *pdw);
    int64_t lo, hi;
    nl_nn_split(g->n, worker, workers, &lo, &hi);
    for (int64_t n0 = lo; n0 < hi; n0 += j->nb) {
        const int64_t nb = hi - n0 < j->nb ? hi - n0 : j->nb, ld = nb * hw;
        const int single = nb == 1 && g->direct;
        for (int gi = 0; gi < g->g; gi++) {
            const float *wg = j->w + gi * g->cog * g->kk;
            const float *dyb = j->dy + (n0 * g->co + gi * g->cog) * hw;
            if (nb > 1 && (j->dw || j->dx)) {
                gather(buf, j->dy, n0, nb, g->co, gi * g->cog, g->cog, hw);
                dyb = buf;
            }
            if (j->dw) {
                const float *b = col;
                if (single)
                    b = j->x + (n0 * g->c + gi * g->cg) * ihw;
                else
                    for (int64_t i = 0; i < nb; i++)
                        im2col(g, j->x + ((n0 + i) * g->c + gi * g->cg) * ihw, col + i * hw, ld);
                /* dW_g += dY_g (cog x ld) . col^T (ld x kk) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->cog, (int)g->kk, (int)ld, 1.0f, dyb,
                            (int)ld, b, (int)ld, 1.0f, pdw + gi * g->cog * g->kk, (int)g->kk);
            }
            if (j->dx && j->tconv) {
                /* dX_g += Wt_g (cg x cog*k*k) . im2col(dY_g): a gather and a
                 * product shaped like the forward, instead of a product with
                 * inner dimension cog and a scatter. */
                const conv_geom *t = &j->gt;
                const int64_t ihw_ld = nb * ihw;
                float *tcol = scr + j->tcol_off, *tbuf = scr + j->tbuf_off;
                for (int64_t i = 0; i < nb; i++)
                    im2col(t, j->dy + ((n0 + i) * g->co + gi * g->cog) * hw, tcol + i * ihw, ihw_ld);
                float *dxg = j->dx + (n0 * g->c + gi * g->cg) * ihw;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cg, (int)ihw_ld, (int)t->kk, 1.0f,
                            j->wt + gi * g->cg * t->kk, (int)t->kk, tcol, (int)ihw_ld, nb == 1 ? 1.0f : 0.0f,
                            nb == 1 ? dxg : tbuf, (int)ihw_ld);
                if (nb > 1)
                    for (int64_t r = 0; r < g->cg; r++)
                        for (int64_t i = 0; i < nb; i++) {
                            float *d = j->dx + ((n0 + i) * g->c + gi * g->cg + r) * ihw;
                            const float *sv = tbuf + r * ihw_ld + i * ihw;
                            nl_nn_acc(d, sv, ihw);
                        }
            } else if (j->dx) {
                /* dcol = W_g^T (kk x cog) . dY_g (cog x ld); a 1x1 sample
                 * accumulates straight into dx. */
                if (single) {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->kk, (int)hw, (int)g->cog, 1.0f, wg,
                                (int)g->kk, dyb, (int)hw, 1.0f, j->dx + (n0 * g->c + gi * g->cg) * ihw, (int)hw);
                } else {
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->kk, (int)ld, (int)g->cog, 1.0f, wg,
                                (int)g->kk, dyb, (int)ld, 0.0f, col, (int)ld);
                    for (int64_t i = 0; i < nb; i++)
                        col2im(g, col + i * hw, j->dx + ((n0 + i) * g->c + gi * g->cg) * ihw, ld);
                }
            }
        }
        if (j->want_db) bias_grad(j, pdb, n0, n0 + nb);
    }
}

static void direct_bwd_job(void *arg, int worker, int workers)
{
    const conv_job *j = arg;
    const conv_geom *g = &j->g;
    const int64_t hw = g->h * g->w;
    float *scr = nl_nn_ctx_scratch(j->ctx, worker);
    double *pdb = (double *)(void *)(scr + j->db_off);
    float *pdw = scr + j->dw_off;
    int64_t lo, hi;
    nl_nn_split(g->n, worker, workers, &lo, &hi);
    if (j->want_db) {
        for (int64_t o = 0; o < g->co; o++) pdb[o] = 0.0;
        bias_grad(j, pdb, lo, hi);
    }
    if (j->dw) {
        memset(pdw, 0, (size_t)(g->co * g->kk) * sizeof *pdw);
        if (hi > lo)
            nl_convd_dw_avx512(&j->d, j->dy + lo * g->co * hw, j->x + lo * g->c * hw, pdw, hi - lo, scr + j->col_off);
    }
    if (j->dx && hi > lo)
        nl_convd_fwd_avx512(&j->dt, j->wtp, j->dy + lo * g->co * hw, j->dx + lo * g->c * hw, hi - lo, NULL, 1);
}

/* The backward on the direct kernels: dx as the 'same' convolution of dy
 * with the flipped, transposed weights. */
static int direct_backward(nl_nn_ctx *c, conv_job *j)
{
    const conv_geom *g = &j->g;
    void *mem;
    int rc = direct_plan(&j->d, &mem, g, g->c, g->co);
    if (rc) return rc;
    j->col_off = j->dw_off + round16(j->dw ? (size_t)(g->co * g->kk) : 0);
    size_t need = j->col_off + (j->dw ? round16((size_t)nl_convd_dw_scratch(&j->d)) : 0);
    if ((rc = nl_nn_ctx_reserve(c, need ? need : 1))) {
        nl_free(mem);
        return rc;
    }
    j->dt = j->d;
    j->dt.cin = g->co;
    j->dt.cout = g->c;
    float *wtp = NULL;
    if (j->dx && !(wtp = direct_pack(j->w, g->co, g->c, g->k * g->k, 1))) {
        nl_free(mem);
        return NL_ENOMEM;
    }
    j->wtp = wtp;
    nl_nn_ctx_run(c, direct_bwd_job, j);
    nl_free(wtp);
    nl_free(mem);
    return 0;
}

/* The backward as im2col + sgemm. */
static int gemm_backward(nl_nn_ctx *c, conv_job *jp)
{
    conv_job j = *jp;
    const conv_geom *g = &j.g;
    int rc;
    j.nb = block_samples(g, nl_nn_ctx_threads(c));
    size_t need = conv_scratch(&j, j.dw_off + round16(j.dw ? (size_t)(g->co * g->kk) : 0));
    /* With stride 1 the input gradient is the full correlation of dy with
     * the flipped kernels, padding k - 1 - pad; 1x1 kernels keep the plain
     * product. */
    float *wt = NULL;
    j.tconv = j.dx && g->s == 1 && g->k > 1 && g->p <= g->k - 1;
    if (j.tconv) {
        conv_geom *t = &j.gt;
        *t = *g;
        t->cg = g->cog;
        t->h = g->ho;
        t->w = g->wo;
        t->ho = g->h;
        t->wo = g->w;
        t->p = g->k - 1 - g->p;
        t->kk = g->cog * g->k * g->k;
        t->direct = 0;
        j.tcol_off = need;
        need += round16((size_t)(t->kk * j.nb * g->h * g->w));
        j.tbuf_off = need;
        if (j.nb > 1) need += round16((size_t)(g->cg * j.nb * g->h * g->w));
        wt = nl_malloc((size_t)(g->co * g->kk) * sizeof *wt);
        if (!wt) return NL_ENOMEM;
        const float *wd = j.w;
        const int k = g->k;
        for (int64_t gi = 0; gi < g->g; gi++)
            for (int64_t co = 0; co < g->cog; co++)
                for (int64_t ci = 0; ci < g->cg; ci++)
                    for (int ki = 0; ki < k; ki++)
                        for (int kj = 0; kj < k; kj++)
                            wt[((gi * g->cg + ci) * g->cog + co) * k * k + (k - 1 - ki) * k + (k - 1 - kj)] =
                                wd[(((gi * g->cog + co) * g->cg + ci) * k + ki) * k + kj];
        j.wt = wt;
    }
    if ((rc = nl_nn_ctx_reserve(c, need ? need : 1))) {
        nl_free(wt);
        return rc;
    }
    nl_nn_ctx_run(c, conv_bwd_job, &j);
    nl_free(wt);
    return 0;
}

int nl_conv2d_backward(nl_nn_ctx *c, nl_tensor *dx, nl_tensor *dw, nl_tensor *dbias, const nl_tensor *dy,
                       const nl_tensor *x, const nl_tensor *w, int stride, int pad, int groups)
{
    conv_job j;
    memset(&j, 0, sizeof j);
    if (!c) return nl_err(NL_EINVAL, "conv2d: ctx is missing");
    int rc = conv_setup(&j.g, x, w, stride, pad, groups);
    if (rc) return rc;
    const conv_geom *g = &j.g;
    int64_t ys[4] = { g->n, g->co, g->ho, g->wo };
    if ((rc = nl_nn_check("conv2d", "dy", dy, 4, ys))) return rc;
    if (dx && (rc = nl_nn_check("conv2d", "dx", dx, 4, x->shape))) return rc;
    if (dw && (rc = nl_nn_check("conv2d", "dw", dw, 4, w->shape))) return rc;
    if (dbias && (rc = nl_nn_check("conv2d", "dbias", dbias, 1, &g->co))) return rc;
    if (!dx && !dw && !dbias) return 0;
    int workers = nl_nn_ctx_threads(c);
    j.db_off = 0;
    j.dw_off = round16(dbias ? (size_t)g->co * 2 : 0);
    j.ctx = c;
    j.x = nl_tensor_data(x);
    j.w = nl_tensor_data(w);
    j.dy = nl_tensor_data(dy);
    j.dx = dx ? nl_tensor_data(dx) : NULL;
    j.dw = dw ? nl_tensor_data(dw) : NULL;
    j.want_db = dbias != NULL;
    if ((rc = direct_ok(c, g) ? direct_backward(c, &j) : gemm_backward(c, &j))) return rc;
    /* Partials are added in worker order: fixed for a fixed thread count. */
    if (dw) {
        float *d = nl_tensor_data(dw);
        int64_t m = g->co * g->kk;
        for (int64_t i = 0; i < m; i++) {
            float s = 0.0f;
            for (int t = 0; t < workers; t++) s += nl_nn_ctx_scratch(c, t)[j.dw_off + i];
            d[i] += s;
        }
    }
    if (dbias) {
        float *d = nl_tensor_data(dbias);
        for (int64_t o = 0; o < g->co; o++) {
            double s = 0.0;
            for (int t = 0; t < workers; t++) s += ((const double *)(const void *)nl_nn_ctx_scratch(c, t))[o];
            d[o] += (float)s;
        }
    }
    return 0;
}
