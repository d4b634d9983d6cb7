/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nb201net.h - the NAS-Bench-201 network (TinyNetwork) for any cell, and the
 * weight-sharing supernet over all cells, as one model type: a stand-alone
 * network allocates only the weights of its cell's operations; a supernet
 * allocates every operation on every edge and runs the path chosen with
 * nl_nb201net_set_cell (single-path, SPOS style; one cell shared by all
 * cells of the network, as in NAS-Bench-201).
 *
 * Layout (NAS-Bench-201's TinyNetwork): stem conv3x3 (in_ch -> C, no bias) +
 * BN; N cells at C; a ResNet basic block C -> 2C with stride 2 (ReLU-conv3x3/2
 * -BN, ReLU-conv3x3-BN, shortcut avgpool 2x2 -> conv1x1); N cells at 2C; a
 * basic block -> 4C; N cells at 4C; BN, ReLU, global average pool, linear ->
 * classes. Cell node i = sum over j < i of op_{j->i}(node j), output node 3;
 * nor_conv_k = ReLU -> conv k x k (pad (k-1)/2, no bias) -> BN (affine);
 * avg_pool_3x3 = 3x3 stride 1 pad 1 average without the padding; skip =
 * identity; none = zero. BN: eps 1e-5, momentum m->bn_momentum (0.1).
 * Initialisation is PyTorch 1.13's default (uniform +-1/sqrt(fan_in) for conv
 * and linear weights and the linear bias; BN gamma 1, beta 0), drawn from
 * the given rng in param order.
 *
 * Param names: "stem.w", "stem.bn.g", "stem.bn.b", "cell3.e2.conv3x3.w",
 * "cell3.e2.conv3x3.bn.g", "block1.a.conv.w", "block1.shortcut.conv.w", "head.bn.g", "head.fc.w",
 * "head.fc.b"; buffers "<bn>.rm" and "<bn>.rv". Cells are numbered 0..3N-1 in
 * order, blocks 0 and 1.
 *
 * ReLU hook (nn.h): a forward reports the input of every ReLU module of the
 * reference TinyNetwork, in forward order: one per nor_conv op (each
 * ReLU-conv-BN has its own ReLU, so a node read by two convolutions is
 * reported twice, as hooks on the two PyTorch modules see it), two per
 * residual block (before each conv) and the head's. Uses nn (kernels,
 * model), core. */
#ifndef NL_NB201NET_H
#define NL_NB201NET_H

#include <stdint.h>

#include "core/rng.h"
#include "nn/model.h"

typedef struct nl_nb201net_opts {
    int C;          /* channels of the first stage (16) */
    int N;          /* cells per stage (5) */
    int classes;    /* outputs (10) */
    int in_ch;      /* input channels (1 for Fashion-MNIST, 3 for CIFAR) */
    int hw;         /* input height = width (32); must be divisible by 4 */
    int supernet;   /* 1: every operation's weights on every edge */
    uint8_t ops[6]; /* the cell (ops in nl_nb201 order); a supernet starts on it */
} nl_nb201net_opts;

/* Fill *o with C 16, N 5, classes 10, in_ch 1, hw 32, not a supernet, and the
 * all-none cell. */
void nl_nb201net_defaults(nl_nb201net_opts *o);

/* *out = a new network (or supernet) as described above, its weights drawn
 * from r. NL_EINVAL naming the option for C < 1, N < 1, classes < 2, in_ch < 1,
 * hw < 4 or not divisible by 4, an op outside 0..4; NL_ENOMEM. Caller owns
 * *out (nl_model_free); NULL on failure. */
int nl_nb201net_new(nl_model **out, const nl_nb201net_opts *o, nl_rng *r);

/* Make `ops` the path the next forwards run. For a stand-alone network the
 * cell must be its own (NL_EINVAL "network was built for cell X" otherwise,
 * since other ops have no weights); for a supernet any cell. Updates
 * m->active. NL_EINVAL for an op outside 0..4 or a model of another type. */
int nl_nb201net_set_cell(nl_model *m, const uint8_t ops[6]);

/* The cell the model runs now, into ops[6]. */
void nl_nb201net_cell(const nl_model *m, uint8_t ops[6]);

/* Non-zero when m is an nb201 network or supernet (made by nl_nb201net_new),
 * and when it is a supernet. */
int nl_nb201net_is(const nl_model *m);
int nl_nb201net_is_supernet(const nl_model *m);

/* The outputs of the 3N+2 layers of the last forward, in forward order: the
 * N cells of stage 0, residual block 0, the N cells of stage 1, block 1, the
 * N cells of stage 2 (what NAS-LID measures). out[i] is a (batch, c, h, w)
 * view owned by the model, valid until its next forward; out must hold 3N+2
 * pointers (NULL: only count them). Returns 3N+2, or NL_EINVAL when m is not
 * an nb201 network or (out not NULL) has run no forward yet. */
int nl_nb201net_layers(const nl_model *m, const nl_tensor **out);

/* The features of the last forward: the head's BN and ReLU output, global
 * average pooled, i.e. what the linear classifier reads (logits = features
 * W^T + b). *out is a contiguous (batch, 4C) view owned by the model, valid
 * until its next forward. Returns 0, or NL_EINVAL when m is not an nb201
 * network, out is NULL or the model has run no forward yet. */
int nl_nb201net_features(const nl_model *m, const nl_tensor **out);

/* Op masks (NAS-LID sub-supernets): mask[e] is the set of ops allowed on
 * edge e, bit k for op k (nl_nb201 order), 31 for all five; one mask is
 * shared by every cell of the network.
 * check_mask: 0, or NL_EINVAL naming the first edge whose set is empty or
 * holds bits above 4. sample_masked: ops = a cell drawn uniformly inside
 * mask (one nl_rng_below per edge, in edge order); fails like check_mask.
 * mask_has: non-zero when the cell ops lies inside mask. */
int nl_nb201net_check_mask(const uint8_t mask[6]);
int nl_nb201net_sample_masked(const uint8_t mask[6], nl_rng *r, uint8_t ops[6]);
int nl_nb201net_mask_has(const uint8_t mask[6], const uint8_t ops[6]);

/* Multiply-adds of one forward pass of one image along the current path:
 * convolutions k*k*Cin*Cout*Hout*Wout and the linear layer in*out, as
 * NAS-Bench-201 counts FLOPs (pooling, BN and additions not counted). */
int64_t nl_nb201net_macs(const nl_model *m);

#endif
