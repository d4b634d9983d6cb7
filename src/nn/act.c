/* SPDX-License-Identifier: GPL-3.0-or-later */
/* act.c - the ReLU activation, forward (in place allowed) and backward, as
 * flat loops over contiguous tensors of any shape, four floats at a time.
 * NaN inputs give 0 forward and block the gradient, as nl_tensor_map's relu. */
#include "core/error.h"
#include "nn/ctx.h"
#include "nn/nn.h"

int nl_relu_forward(nl_tensor *y, const nl_tensor *x)
{
    if (!x || !y) return nl_err(NL_EINVAL, "relu: %s is missing", x ? "y" : "x");
    int rc = nl_nn_contig("relu", "x", x);
    if (!rc) rc = nl_nn_check("relu", "y", y, x->ndim, x->shape);
    if (rc) return rc;
    const float *xd = nl_tensor_data(x);
    float *yd = nl_tensor_data(y);
    const int64_t n = nl_tensor_numel(x);
    const nl_vf4 zero = { 0.0f, 0.0f, 0.0f, 0.0f };
    int64_t i = 0;
    /* Bit masks keep x where x > 0 (false for NaN). */
    for (; i + 4 <= n; i += 4) {
        nl_vf4 v = nl_vld(xd + i);
        nl_vst(yd + i, (nl_vf4)((nl_vi4)v & (nl_vi4)(v > zero)));
    }
    for (; i < n; i++) yd[i] = xd[i] > 0.0f ? xd[i] : 0.0f;
    return 0;
}

int nl_relu_backward(nl_tensor *dx, const nl_tensor *dy, const nl_tensor *x)
{
    if (!x || !dy) return nl_err(NL_EINVAL, "relu: %s is missing", x ? "dy" : "x");
    int rc = nl_nn_contig("relu", "x", x);
    if (!rc) rc = nl_nn_check("relu", "dy", dy, x->ndim, x->shape);
    if (rc || !dx) return rc;
    if ((rc = nl_nn_check("relu", "dx", dx, x->ndim, x->shape))) return rc;
    const float *xd = nl_tensor_data(x), *dyd = nl_tensor_data(dy);
    float *dxd = nl_tensor_data(dx);
    const int64_t n = nl_tensor_numel(x);
    const nl_vf4 zero = { 0.0f, 0.0f, 0.0f, 0.0f };
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        nl_vf4 m = (nl_vf4)((nl_vi4)nl_vld(dyd + i) & (nl_vi4)(nl_vld(xd + i) > zero));
        nl_vst(dxd + i, nl_vld(dxd + i) + m);
    }
    for (; i < n; i++) dxd[i] += xd[i] > 0.0f ? dyd[i] : 0.0f;
    return 0;
}
