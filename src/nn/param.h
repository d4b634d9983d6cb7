/* SPDX-License-Identifier: GPL-3.0-or-later */
/* param.h - a trainable parameter: a named value tensor with its gradient, the
 * unit that optimisers update and checkpoints store. Networks own their
 * params; optimisers and checkpoints only borrow them. */
#ifndef NL_PARAM_H
#define NL_PARAM_H

#include "core/tensor.h"

typedef struct nl_param {
    char name[64];  /* unique within a network, e.g. "cells.3.edge2.conv.w" */
    nl_tensor *w;   /* value */
    nl_tensor *g;   /* gradient, same shape; backward kernels accumulate into it */
    int decay;      /* 1 if weight decay applies (conv/linear weights; 0 for BN and biases) */
} nl_param;

#endif
