/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tape.h - reverse-mode automatic differentiation over small float matrices,
 * for the models whose shape changes with their input: graph encoders and
 * decoders that step a GRU node by node, set encoders with attention. The
 * convolutional networks keep their hand-written kernels (nn.h); these models
 * are thousands of small products whose order depends on the graph, and a
 * tape records that order once per forward and replays it backwards.
 *
 * Every value is a row-major matrix (rows, cols). An op appends a node and
 * returns its id (>= 0), or a negative NL_E* code; an op given a negative id
 * returns that code unchanged, so a forward can chain ops and check only the
 * last one. Params enter as leaves bound to an nl_param: their values are
 * read in place and backward accumulates into the param's g (the caller
 * zeroes it, as for every other model). Uses core (error, tensor) and
 * OpenBLAS for the products. A tape is single-threaded, and creating one
 * sets OpenBLAS to one thread, as an nn ctx does, so results do not depend on
 * the machine's core count. */
#ifndef NL_TAPE_H
#define NL_TAPE_H

#include <stdint.h>

#include "nn/param.h"

typedef struct nl_tape nl_tape;

/* A new empty tape; NULL when memory runs out (nl_errmsg). */
nl_tape *nl_tape_new(void);
/* Forget every node, keep the memory for the next forward. */
void nl_tape_reset(nl_tape *t);
void nl_tape_free(nl_tape *t);
/* Number of nodes recorded since the last reset. */
int nl_tape_size(const nl_tape *t);

/* ------------------------------------------------------------ leaves */

/* A param as a leaf: p->w seen as (rows, cols) = (shape[0], numel/shape[0])
 * for 2-d and more, (1, n) for 1-d. Its value is not copied: change p->w only
 * between forwards. */
int nl_tape_param(nl_tape *t, nl_param *p);
/* A constant (rows, cols) copied from data (NULL: zeros). */
int nl_tape_const(nl_tape *t, int rows, int cols, const float *data);
/* A constant (rows, cols) with every element v. */
int nl_tape_fill(nl_tape *t, int rows, int cols, float v);
/* A constant (rows, cols) of one-hot rows: row i has 1 at column idx[i]
 * (idx NULL: every row at column `col`). */
int nl_tape_onehot(nl_tape *t, int rows, int cols, const int *idx, int col);

/* ------------------------------------------------------------ ops */

/* x W^T + b: x (n, in), W (out, in), b (1, out) or -1 for none. */
int nl_tape_linear(nl_tape *t, int x, int W, int b);
/* a b, or a b^T when transb: a (n, k), b (k, m) or (m, k). */
int nl_tape_matmul(nl_tape *t, int a, int b, int transb);
/* Element-wise a + b, a - b, a * b. b has a's shape, or broadcasts as a row
 * (1, cols), a column (rows, 1) or a scalar (1, 1). */
int nl_tape_add(nl_tape *t, int a, int b);
int nl_tape_sub(nl_tape *t, int a, int b);
int nl_tape_mul(nl_tape *t, int a, int b);
/* s a */
int nl_tape_scale(nl_tape *t, int a, float s);
int nl_tape_sigmoid(nl_tape *t, int a);
int nl_tape_tanh(nl_tape *t, int a);
int nl_tape_relu(nl_tape *t, int a);
int nl_tape_exp(nl_tape *t, int a);
/* Softmax of each row. */
int nl_tape_softmax(nl_tape *t, int a);
/* [a b]: columns of a then of b (same rows); vconcat: rows of a then of b
 * (same columns). */
int nl_tape_concat(nl_tape *t, int a, int b);
int nl_tape_vconcat(nl_tape *t, int a, int b);
/* Columns c0..c1-1, rows r0..r1-1. */
int nl_tape_cols(nl_tape *t, int a, int c0, int c1);
int nl_tape_rows(nl_tape *t, int a, int r0, int r1);
/* Sum over rows (1, cols); sum of every element (1, 1). */
int nl_tape_sumrows(nl_tape *t, int a);
int nl_tape_sum(nl_tape *t, int a);

/* ------------------------------------------------------------ losses (1, 1) */

/* Sum over rows of -log softmax(logits)[row, target[row]]; rows whose target
 * is negative are skipped. */
int nl_tape_ce(nl_tape *t, int logits, const int *target);
/* Sum of binary cross-entropy of probabilities p against targets y (same
 * shape), log clamped at -100 as PyTorch's BCELoss. */
int nl_tape_bce(nl_tape *t, int p, const float *y);
/* Sum of (a - y)^2. */
int nl_tape_mse(nl_tape *t, int a, const float *y);
/* -1/2 sum(1 + logvar - mu^2 - exp(logvar)), the KL divergence of
 * N(mu, exp(logvar)) from N(0, 1). */
int nl_tape_kl(nl_tape *t, int mu, int logvar);

/* ------------------------------------------------------------ use */

int nl_tape_rows_of(const nl_tape *t, int v);
int nl_tape_cols_of(const nl_tape *t, int v);
/* The value of node v (rows * cols floats, row-major); valid until the next
 * op or reset. NULL for a bad id. */
const float *nl_tape_value(const nl_tape *t, int v);
/* Back-propagate from the (1, 1) node `loss` with seed d loss = scale:
 * every param leaf's g gets its gradient added. */
int nl_tape_backward(nl_tape *t, int loss, float scale);

#endif
