/* SPDX-License-Identifier: GPL-3.0-or-later */
/* pool.c - average, max and global average pooling over NCHW planes, with
 * PyTorch's floor-mode output size and divisors (count_include_pad = 0
 * divides by the in-image part of the window, as NB201's avg_pool_3x3).
 * Average pooling is separable: each output row first sums its window's input
 * rows, then slides along the row, which keeps the inner loops contiguous. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ctx.h"
#include "nn/nn.h"

typedef struct pool_geom {
    int64_t planes, h, w, ho, wo;
    int k, s, p;
} pool_geom;

static int pool_setup(const char *op, pool_geom *g, const nl_tensor *x, int k, int stride, int pad)
{
    char a[NL_NN_SHAPEBUF];
    if (!x) return nl_err(NL_EINVAL, "%s: x is missing", op);
    if (x->ndim != 4)
        return nl_err(NL_ESHAPE, "%s: x has shape %s, expected 4 dimensions (N,C,H,W)", op,
                      nl_tensor_shape_str(x, a, sizeof a));
    if (k < 1) return nl_err(NL_EINVAL, "%s: kernel size %d must be at least 1", op, k);
    if (stride < 1) return nl_err(NL_EINVAL, "%s: stride %d must be at least 1", op, stride);
    if (pad < 0 || pad > k / 2)
        return nl_err(NL_EINVAL, "%s: padding %d must be between 0 and half the kernel size %d", op, pad, k);
    if (x->shape[2] + 2 * (int64_t)pad < k || x->shape[3] + 2 * (int64_t)pad < k)
        return nl_err(NL_ESHAPE, "%s: kernel %d with padding %d does not fit x %s", op, k, pad,
                      nl_tensor_shape_str(x, a, sizeof a));
    g->planes = x->shape[0] * x->shape[1];
    g->h = x->shape[2];
    g->w = x->shape[3];
    g->k = k;
    g->s = stride;
    g->p = pad;
    g->ho = (g->h + 2 * pad - k) / stride + 1;
    g->wo = (g->w + 2 * pad - k) / stride + 1;
    return nl_nn_contig(op, "x", x);
}

static int64_t imax(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t imin(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Window of output o along a dimension of size n: the in-image part
 * [*lo, *hi) and PyTorch's padded-count extent (window clipped to n + pad). */
static void window(int64_t o, int64_t n, const pool_geom *g, int64_t *lo, int64_t *hi, int64_t *padded)
{
    int64_t start = o * g->s - g->p;
    int64_t end = imin(start + g->k, n + g->p);
    *padded = end - start;
    *lo = imax(start, 0);
    *hi = imin(end, n);
}

/* Per-output reciprocal divisors along one dimension (in-image or padded
 * counts); the 2-d divisor is their product because windows are boxes. */
static void divisors(float *inv, int64_t *lo, int64_t *hi, int64_t no, int64_t n, const pool_geom *g, int inc)
{
    for (int64_t o = 0; o < no; o++) {
        int64_t padded;
        window(o, n, g, &lo[o], &hi[o], &padded);
        inv[o] = (float)(inc ? padded : hi[o] - lo[o]);
    }
}

typedef struct avg_plan {
    float *dh, *dw, *row; /* divisors per output row / column, one row of sums */
    int64_t *hlo, *hhi, *wlo, *whi;
    void *mem;
} avg_plan;

static int avg_plan_new(avg_plan *pl, const pool_geom *g, int inc)
{
    size_t nf = (size_t)(g->ho + g->wo + g->w), ni = (size_t)(2 * (g->ho + g->wo));
    pl->mem = nl_malloc(nf * sizeof(float) + ni * sizeof(int64_t) + 1);
    if (!pl->mem) return NL_ENOMEM;
    pl->hlo = pl->mem;
    pl->hhi = pl->hlo + g->ho;
    pl->wlo = pl->hhi + g->ho;
    pl->whi = pl->wlo + g->wo;
    pl->dh = (float *)(pl->whi + g->wo);
    pl->dw = pl->dh + g->ho;
    pl->row = pl->dw + g->wo;
    divisors(pl->dh, pl->hlo, pl->hhi, g->ho, g->h, g, inc);
    divisors(pl->dw, pl->wlo, pl->whi, g->wo, g->w, g, inc);
    return 0;
}

int nl_avgpool_forward(nl_tensor *y, const nl_tensor *x, int k, int stride, int pad, int count_include_pad)
{
    pool_geom g;
    int rc = pool_setup("avgpool", &g, x, k, stride, pad);
    if (rc) return rc;
    int64_t ys[4] = { x->shape[0], x->shape[1], g.ho, g.wo };
    if ((rc = nl_nn_check("avgpool", "y", y, 4, ys))) return rc;
    avg_plan pl;
    if ((rc = avg_plan_new(&pl, &g, count_include_pad))) return rc;
    const float *xd = nl_tensor_data(x);
    float *yd = nl_tensor_data(y);
    for (int64_t pi = 0; pi < g.planes; pi++) {
        const float *xp = xd + pi * g.h * g.w;
        float *yp = yd + pi * g.ho * g.wo;
        for (int64_t oh = 0; oh < g.ho; oh++) {
            float *row = pl.row;
            memcpy(row, xp + pl.hlo[oh] * g.w, (size_t)g.w * sizeof *row);
            for (int64_t ih = pl.hlo[oh] + 1; ih < pl.hhi[oh]; ih++) {
                nl_nn_acc(row, xp + ih * g.w, g.w);
            }
            float *yr = yp + oh * g.wo;
            const float dh = pl.dh[oh];
            for (int64_t ow = 0; ow < g.wo; ow++) {
                float s = 0.0f;
                for (int64_t iw = pl.wlo[ow]; iw < pl.whi[ow]; iw++) s += row[iw];
                yr[ow] = s / (dh * pl.dw[ow]);
            }
        }
    }
    nl_free(pl.mem);
    return 0;
}

int nl_avgpool_backward(nl_tensor *dx, const nl_tensor *dy, const nl_tensor *x, int k, int stride, int pad,
                        int count_include_pad)
{
    pool_geom g;
    int rc = pool_setup("avgpool", &g, x, k, stride, pad);
    if (rc) return rc;
    int64_t ys[4] = { x->shape[0], x->shape[1], g.ho, g.wo };
    if ((rc = nl_nn_check("avgpool", "dy", dy, 4, ys))) return rc;
    if ((rc = nl_nn_check("avgpool", "dx", dx, 4, x->shape))) return rc;
    avg_plan pl;
    if ((rc = avg_plan_new(&pl, &g, count_include_pad))) return rc;
    const float *dyd = nl_tensor_data(dy);
    float *dxd = nl_tensor_data(dx);
    for (int64_t pi = 0; pi < g.planes; pi++) {
        float *dxp = dxd + pi * g.h * g.w;
        const float *dyp = dyd + pi * g.ho * g.wo;
        for (int64_t oh = 0; oh < g.ho; oh++) {
            /* The row gradient every input row of this window receives. */
            float *row = pl.row;
            memset(row, 0, (size_t)g.w * sizeof *row);
            const float *dr = dyp + oh * g.wo;
            const float dh = pl.dh[oh];
            for (int64_t ow = 0; ow < g.wo; ow++) {
                float v = dr[ow] / (dh * pl.dw[ow]);
                for (int64_t iw = pl.wlo[ow]; iw < pl.whi[ow]; iw++) row[iw] += v;
            }
            for (int64_t ih = pl.hlo[oh]; ih < pl.hhi[oh]; ih++) {
                nl_nn_acc(dxp + ih * g.w, row, g.w);
            }
        }
    }
    nl_free(pl.mem);
    return 0;
}

int nl_maxpool_forward(nl_tensor *y, int32_t *arg, const nl_tensor *x, int k, int stride, int pad)
{
    pool_geom g;
    int rc = pool_setup("maxpool", &g, x, k, stride, pad);
    if (rc) return rc;
    int64_t ys[4] = { x->shape[0], x->shape[1], g.ho, g.wo };
    if ((rc = nl_nn_check("maxpool", "y", y, 4, ys))) return rc;
    if (!arg) return nl_err(NL_EINVAL, "maxpool: arg is missing");
    if (nl_tensor_numel(x) > INT32_MAX) {
        char a[NL_NN_SHAPEBUF];
        return nl_err(NL_EINVAL, "maxpool: x %s has too many elements for int32 indices",
                      nl_tensor_shape_str(x, a, sizeof a));
    }
    const float *xd = nl_tensor_data(x);
    float *yd = nl_tensor_data(y);
    for (int64_t pi = 0; pi < g.planes; pi++) {
        const int64_t base = pi * g.h * g.w;
        const float *xp = xd + base;
        float *yp = yd + pi * g.ho * g.wo;
        int32_t *ap = arg + pi * g.ho * g.wo;
        for (int64_t oh = 0; oh < g.ho; oh++) {
            int64_t hlo, hhi, wlo, whi, padded;
            window(oh, g.h, &g, &hlo, &hhi, &padded);
            for (int64_t ow = 0; ow < g.wo; ow++) {
                window(ow, g.w, &g, &wlo, &whi, &padded);
                float best = -INFINITY;
                int64_t bi = hlo * g.w + wlo;
                /* PyTorch's rule: the first maximum wins, and NaN beats all. */
                for (int64_t ih = hlo; ih < hhi; ih++)
                    for (int64_t iw = wlo; iw < whi; iw++) {
                        float v = xp[ih * g.w + iw];
                        if (v > best || isnan(v)) {
                            best = v;
                            bi = ih * g.w + iw;
                            if (isnan(v)) goto found;
                        }
                    }
            found:
                yp[oh * g.wo + ow] = best;
                ap[oh * g.wo + ow] = (int32_t)(base + bi);
            }
        }
    }
    return 0;
}

int nl_maxpool_backward(nl_tensor *dx, const nl_tensor *dy, const int32_t *arg)
{
    if (!dx || !dy || !arg) return nl_err(NL_EINVAL, "maxpool: %s is missing", !dx ? "dx" : !dy ? "dy" : "arg");
    int rc = nl_nn_contig("maxpool", "dx", dx);
    if (!rc) rc = nl_nn_contig("maxpool", "dy", dy);
    if (rc) return rc;
    if (dx->ndim != 4 || dy->ndim != 4 || dx->shape[0] != dy->shape[0] || dx->shape[1] != dy->shape[1]) {
        char a[NL_NN_SHAPEBUF], b[NL_NN_SHAPEBUF];
        return nl_err(NL_ESHAPE, "maxpool: dy has shape %s, which does not match dx %s",
                      nl_tensor_shape_str(dy, a, sizeof a), nl_tensor_shape_str(dx, b, sizeof b));
    }
    const int64_t m = nl_tensor_numel(dy);
    const int64_t hw = dx->shape[2] * dx->shape[3], ohw = dy->shape[2] * dy->shape[3];
    /* Each index must lie in the plane of its output, so a stale or foreign
     * arg array fails instead of writing anywhere. */
    for (int64_t i = 0; i < m; i++) {
        int64_t plane = ohw ? i / ohw : 0;
        if (arg[i] < plane * hw || arg[i] >= (plane + 1) * hw) {
            char b[NL_NN_SHAPEBUF];
            return nl_err(NL_ERANGE, "maxpool: arg[%lld] = %d is outside its plane of dx %s", (long long)i,
                          (int)arg[i], nl_tensor_shape_str(dx, b, sizeof b));
        }
    }
    float *dxd = nl_tensor_data(dx);
    const float *dyd = nl_tensor_data(dy);
    for (int64_t i = 0; i < m; i++) dxd[arg[i]] += dyd[i];
    return 0;
}

int nl_gap_forward(nl_tensor *y, const nl_tensor *x)
{
    char a[NL_NN_SHAPEBUF];
    if (!x) return nl_err(NL_EINVAL, "gap: x is missing");
    if (x->ndim != 4)
        return nl_err(NL_ESHAPE, "gap: x has shape %s, expected 4 dimensions (N,C,H,W)",
                      nl_tensor_shape_str(x, a, sizeof a));
    int rc = nl_nn_contig("gap", "x", x);
    if (rc) return rc;
    if ((rc = nl_nn_check("gap", "y", y, 2, x->shape))) return rc;
    const int64_t planes = x->shape[0] * x->shape[1], hw = x->shape[2] * x->shape[3];
    const float *xd = nl_tensor_data(x);
    float *yd = nl_tensor_data(y);
    for (int64_t p = 0; p < planes; p++) {
        double s = 0.0;
        for (int64_t i = 0; i < hw; i++) s += xd[p * hw + i];
        yd[p] = hw ? (float)(s / (double)hw) : NAN;
    }
    return 0;
}

int nl_gap_backward(nl_tensor *dx, const nl_tensor *dy)
{
    char a[NL_NN_SHAPEBUF];
    if (!dx || !dy) return nl_err(NL_EINVAL, "gap: %s is missing", dx ? "dy" : "dx");
    if (dx->ndim != 4)
        return nl_err(NL_ESHAPE, "gap: dx has shape %s, expected 4 dimensions (N,C,H,W)",
                      nl_tensor_shape_str(dx, a, sizeof a));
    int rc = nl_nn_contig("gap", "dx", dx);
    if (rc) return rc;
    if ((rc = nl_nn_check("gap", "dy", dy, 2, dx->shape))) return rc;
    const int64_t planes = dx->shape[0] * dx->shape[1], hw = dx->shape[2] * dx->shape[3];
    float *dxd = nl_tensor_data(dx);
    const float *dyd = nl_tensor_data(dy);
    for (int64_t p = 0; p < planes; p++) {
        const float v = (float)(dyd[p] / (double)hw);
        float *d = dxd + p * hw;
        for (int64_t i = 0; i < hw; i++) d[i] += v;
    }
    return 0;
}
