/* SPDX-License-Identifier: GPL-3.0-or-later */
/* linear.c - fully connected layer forward and backward as three OpenBLAS
 * sgemm calls on row-major (N,In) activations and (Out,In) weights. The
 * products are small (a classifier head, a predictor MLP), so they run on the
 * caller's thread; the ctx is taken for a uniform interface and may be NULL. */
#include <cblas.h>
#include <limits.h>

#include "core/error.h"
#include "nn/ctx.h"
#include "nn/nn.h"

static int lin_setup(const nl_tensor *x, const nl_tensor *w, int64_t *n, int64_t *in, int64_t *out)
{
    char a[NL_NN_SHAPEBUF], b[NL_NN_SHAPEBUF];
    if (!x || !w) return nl_err(NL_EINVAL, "linear: %s is missing", x ? "weight" : "x");
    if (w->ndim != 2)
        return nl_err(NL_ESHAPE, "linear: weight has shape %s, expected 2 dimensions (Out,In)",
                      nl_tensor_shape_str(w, a, sizeof a));
    if (x->ndim != 2 || x->shape[1] != w->shape[1])
        return nl_err(NL_ESHAPE, "linear: weight %s expects %lld input features, x has shape %s",
                      nl_tensor_shape_str(w, a, sizeof a), (long long)w->shape[1],
                      nl_tensor_shape_str(x, b, sizeof b));
    *n = x->shape[0];
    *in = w->shape[1];
    *out = w->shape[0];
    if (*n > INT_MAX || *in > INT_MAX || *out > INT_MAX)
        return nl_err(NL_EINVAL, "linear: x %s with weight %s is too large for BLAS",
                      nl_tensor_shape_str(x, a, sizeof a), nl_tensor_shape_str(w, b, sizeof b));
    int rc = nl_nn_contig("linear", "x", x);
    if (!rc) rc = nl_nn_contig("linear", "weight", w);
    return rc;
}

int nl_linear_forward(nl_nn_ctx *c, nl_tensor *y, const nl_tensor *x, const nl_tensor *w, const nl_tensor *b)
{
    (void)c;
    int64_t n, in, out;
    int rc = lin_setup(x, w, &n, &in, &out);
    if (rc) return rc;
    int64_t ys[2] = { n, out };
    if ((rc = nl_nn_check("linear", "y", y, 2, ys))) return rc;
    if (b && (rc = nl_nn_check("linear", "bias", b, 1, &out))) return rc;
    float *yd = nl_tensor_data(y);
    if (n == 0 || out == 0) return 0;
    if (in == 0) {
        for (int64_t i = 0; i < n * out; i++) yd[i] = 0.0f;
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, nl_tensor_data(x),
                    (int)in, nl_tensor_data(w), (int)in, 0.0f, yd, (int)out);
    }
    if (b) {
        const float *bd = nl_tensor_data(b);
        for (int64_t i = 0; i < n; i++)
            for (int64_t o = 0; o < out; o++) yd[i * out + o] += bd[o];
    }
    return 0;
}

int nl_linear_backward(nl_nn_ctx *c, nl_tensor *dx, nl_tensor *dw, nl_tensor *db, const nl_tensor *dy,
                       const nl_tensor *x, const nl_tensor *w)
{
    (void)c;
    int64_t n, in, out;
    int rc = lin_setup(x, w, &n, &in, &out);
    if (rc) return rc;
    int64_t ys[2] = { n, out };
    if ((rc = nl_nn_check("linear", "dy", dy, 2, ys))) return rc;
    if (dx && (rc = nl_nn_check("linear", "dx", dx, 2, x->shape))) return rc;
    if (dw && (rc = nl_nn_check("linear", "dw", dw, 2, w->shape))) return rc;
    if (db && (rc = nl_nn_check("linear", "db", db, 1, &out))) return rc;
    if (n == 0 || out == 0) return 0;
    const float *dyd = nl_tensor_data(dy);
    if (dx && in > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out, 1.0f, dyd, (int)out,
                    nl_tensor_data(w), (int)in, 1.0f, nl_tensor_data(dx), (int)in);
    if (dw && in > 0)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0f, dyd, (int)out,
                    nl_tensor_data(x), (int)in, 1.0f, nl_tensor_data(dw), (int)in);
    if (db) {
        float *bd = nl_tensor_data(db);
        for (int64_t o = 0; o < out; o++) {
            double s = 0.0;
            for (int64_t i = 0; i < n; i++) s += dyd[i * out + o];
            bd[o] += (float)s;
        }
    }
    return 0;
}
