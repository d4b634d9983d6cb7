/* SPDX-License-Identifier: GPL-3.0-or-later */
/* loss.c - softmax cross-entropy over a batch of logits: the mean loss in
 * double, the count of correct argmax predictions, and the gradient that
 * starts the backward pass. Each row subtracts its maximum before
 * exponentiating, so large logits neither overflow nor lose precision. */
#include <math.h>

#include "core/error.h"
#include "nn/ctx.h"
#include "nn/nn.h"

int nl_softmax_xent(double *loss, int64_t *correct, nl_tensor *dlogits, const nl_tensor *logits,
                    const int32_t *labels)
{
    char a[NL_NN_SHAPEBUF];
    if (!loss || !logits || !labels)
        return nl_err(NL_EINVAL, "softmax_xent: %s is missing", !loss ? "loss" : !logits ? "logits" : "labels");
    if (logits->ndim != 2 || logits->shape[1] < 1)
        return nl_err(NL_ESHAPE, "softmax_xent: logits have shape %s, expected (N,K) with K >= 1",
                      nl_tensor_shape_str(logits, a, sizeof a));
    int rc = nl_nn_contig("softmax_xent", "logits", logits);
    if (rc) return rc;
    if (dlogits && (rc = nl_nn_check("softmax_xent", "dlogits", dlogits, 2, logits->shape))) return rc;
    const int64_t n = logits->shape[0], k = logits->shape[1];
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return nl_err(NL_ERANGE, "softmax_xent: label %d at index %lld is outside 0..%lld", (int)labels[i],
                          (long long)i, (long long)(k - 1));
    const float *ld = nl_tensor_data(logits);
    float *gd = dlogits ? nl_tensor_data(dlogits) : NULL;
    double total = 0.0;
    int64_t hits = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *r = ld + i * k;
        int64_t am = 0;
        for (int64_t j = 1; j < k; j++)
            if (r[j] > r[am]) am = j;
        const double m = r[am];
        double z = 0.0;
        for (int64_t j = 0; j < k; j++) z += exp(r[j] - m);
        const double lz = log(z);
        total += lz - (r[labels[i]] - m);
        hits += am == labels[i];
        if (gd)
            for (int64_t j = 0; j < k; j++) {
                double p = exp(r[j] - m) / z - (j == labels[i]);
                gd[i * k + j] = (float)(p / (double)n);
            }
    }
    *loss = n ? total / (double)n : NAN;
    if (correct) *correct = hits;
    return 0;
}
