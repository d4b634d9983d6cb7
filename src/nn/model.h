/* SPDX-License-Identifier: GPL-3.0-or-later */
/* model.h - a trainable model as a vtable, so one training loop serves the
 * NAS-Bench-201 network, the supernet and whatever comes next. A model owns
 * its params, buffers (batch-norm running statistics) and the activations it
 * keeps between forward and backward. Uses nn (kernels, params). */
#ifndef NL_MODEL_H
#define NL_MODEL_H

#include <stdint.h>

#include "core/tensor.h"
#include "nn/nn.h"
#include "nn/param.h"

typedef struct nl_model nl_model;

typedef struct nl_model_vt {
    const char *name; /* "nb201", "nb201-supernet", ... */
    /* Forward a batch x (N, C, H, W). training = 1 uses batch statistics,
     * updates the running statistics with momentum m->bn_momentum and keeps
     * what backward needs; 0 is evaluation (running statistics). *logits
     * (N, classes) belongs to the model and stays valid until the next
     * forward. The batch size may change from call to call. */
    int (*forward)(nl_model *m, nl_nn_ctx *c, const nl_tensor *x, int training,
                   const nl_tensor **logits);
    /* Backward from d loss / d logits of the last training forward:
     * accumulates into the g of every active param (the caller zeroes them). */
    int (*backward)(nl_model *m, nl_nn_ctx *c, const nl_tensor *dlogits);
    /* Reset every batch-norm running statistic to mean 0, variance 1. */
    void (*reset_bn)(nl_model *m);
    void (*free)(nl_model *m);
} nl_model_vt;

/* The common head of every model; a model struct starts with it. */
struct nl_model {
    const nl_model_vt *vt;
    nl_param *params;  /* trainable: w and g */
    int nparams;
    uint8_t *active;   /* nparams flags: 1 when the current path uses params[i]
                        * (always 1 outside a supernet); optimisers update only
                        * active params, as PyTorch skips params without grad */
    nl_param *buffers; /* saved but not trained (g == NULL): BN running stats */
    int nbuffers;
    int classes;
    double bn_momentum; /* running-statistics momentum of training forwards (0.1) */
};

/* Free a model through its vtable; NULL is a no-op. */
void nl_model_free(nl_model *m);
/* Total number of trainable values (every param, active or not). */
int64_t nl_model_numel(const nl_model *m);

#endif
