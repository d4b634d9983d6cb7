/* SPDX-License-Identifier: GPL-3.0-or-later */
/* proxy.h - zero-cost proxies: scores of an untrained NAS-Bench-201 network
 * (seeded initialisation) computed from at most one minibatch, as const
 * entries of one registry. A higher score is meant to predict a better
 * architecture; none of them is an accuracy.
 *
 * - "naswot" (Mellor et al. 2021, ../shared/ALGORITHMS.md 6a): one
 *   training-mode forward of the minibatch; for the input x of every ReLU
 *   module, flattened to (B, N_l), the codes c = 1[x > 0] add
 *   c c^T + (1-c)(1-c)^T to the B x B matrix K; the score is log|det K|.
 *   Which ReLUs: every ReLU module of the reference network, including
 *   those whose output only reaches a 'none' edge. The official code counts
 *   the modules its backward pass visits, and NAS-Bench-201's 'none' op is
 *   x.mul(0.), which autograd still traverses, so it visits them all. A K
 *   that is singular (the all-'none' cell, whose every ReLU sees zeros,
 *   gives K = const * ones) scores -inf, as numpy's slogdet.
 * - "synflow" (Tanaka et al. 2020; Abdelfattah et al. 2021's default,
 *   bn=False): the network without batch norm, every param replaced by its
 *   absolute value, one all-ones input image, R = the sum of the logits;
 *   score = sum over conv and linear weights of |theta * dR/dtheta|. Batch
 *   norm is removed, not run: SynFlow is data-free and measures how the
 *   weights' magnitudes carry a signal through the graph, which a
 *   normalisation by one image's statistics would cancel (and with one
 *   near-constant image the batch variance is near zero). The values grow
 *   geometrically with depth (a C = 16, N = 5 network with 3x3 convolutions
 *   on every edge scores about 4e49) and float32 ends at 3.4e38, so every
 *   activation and gradient tensor carries its own
 *   power-of-two exponent (block floating point) and the products are
 *   summed in double: no overflow at any depth.
 * - "grad_norm": sum over conv and linear weights of the L2 norm of each
 *   weight tensor's gradient of the mean cross-entropy on the minibatch
 *   (training-mode batch norm, as zero-cost-nas's bn=True).
 * - "snip" (Lee et al. 2019): sum over the same weights of |theta * dL/dtheta|.
 * - "params": trainable parameters of the network; "flops": its
 *   multiply-adds for one image of the data's size, NAS-Bench-201's
 *   convention (nl_nb201net_macs).
 *
 * Randomness: the weights come from nl_rng stream 2 of the seed (the stream
 * nl.train initialises with, so seed s scores the very network nl.train{seed
 * = s} starts from); the minibatch is the first `batch` examples of a
 * permutation of the data drawn from stream 3. Same seed, same thread count:
 * the same bits. Uses nn (nb201net, kernels), data (dataset), core, and
 * LAPACK's dgetrf from OpenBLAS for the determinant. */
#ifndef NL_PROXY_H
#define NL_PROXY_H

#include <stdint.h>

#include "data/dataset.h"
#include "nn/model.h"
#include "nn/nb201net.h"
#include "nn/nn.h"

typedef struct nl_proxy {
    const char *name;  /* "naswot" */
    const char *title; /* one line for listings */
    int uses_batch;    /* 1: reads a minibatch of the data (x, labels) */
    /* *out = the score of m, an nb201 network built with options *no (its
     * cell, C, N, input and classes). x (B, in_ch, hw, hw) and labels[B] are
     * the minibatch for proxies with uses_batch (NULL otherwise). The
     * weights are not changed; gradients and batch-norm running statistics
     * are (training-mode forwards). NL_EINVAL/NL_ESHAPE for a model that is
     * not an nb201 network or a batch that does not fit it, NL_ENOMEM. */
    int (*score)(double *out, nl_model *m, const nl_nb201net_opts *no, nl_nn_ctx *c, const nl_tensor *x,
                 const int32_t *labels);
} nl_proxy;

/* The registry: every proxy, NULL-terminated, in listing order. */
extern const nl_proxy *const nl_proxies[];

/* The proxy called `name`, or NULL (NL_ENOTFOUND "unknown proxy 'x' (known:
 * naswot, synflow, ...)" in nl_errmsg). */
const nl_proxy *nl_proxy_find(const char *name);

/* Options of nl_proxy_run. */
typedef struct nl_proxy_opts {
    nl_nb201net_opts net; /* the network: cell, C, N, classes, in_ch, hw */
    int batch;            /* minibatch size (128) */
    uint64_t seed;        /* weights and minibatch (see above) */
} nl_proxy_opts;

/* Defaults: the network of nl_nb201net_defaults, batch 128, seed 0. */
void nl_proxy_defaults(nl_proxy_opts *o);

/* *out = proxy p of the network o->net, initialised from o->seed, on a
 * minibatch of d (p->uses_batch). d's images must be (in_ch, hw, hw) of
 * o->net. NL_EINVAL for a batch outside 2..d->n ("batch 200 is larger than
 * the data (100 examples)"), bad network options or data of another shape;
 * NL_ENOMEM. */
int nl_proxy_run(double *out, const nl_proxy *p, const nl_proxy_opts *o, const nl_dataset *d, nl_nn_ctx *c);

/* K += c c^T + (1-c)(1-c)^T for the codes c = 1[x > 0] of x (B, ...)
 * flattened to (B, N); K is B x B, row-major, in double. Entries are exact
 * integers (the products are counted in float32, exact below 2^24 per layer,
 * in column chunks that stay below it). NL_EINVAL for a non-contiguous x,
 * NL_ENOMEM. */
int nl_proxy_naswot_add(double *K, const nl_tensor *x);

/* Log of the absolute determinant of the n x n row-major matrix a (n >= 1),
 * by LU with partial pivoting (LAPACK dgetrf) in double, and its sign (+1,
 * -1, or 0 for an exactly singular matrix, whose *logabs is -inf); a is not
 * changed. NL_EINVAL for n < 1 or a non-finite entry, NL_ENOMEM. */
int nl_proxy_slogdet(double *logabs, int *sign, const double *a, int n);

#endif
