/* SPDX-License-Identifier: GPL-3.0-or-later */
/* pairclf.h - the hot loop of surrogate-assisted NSGA-II as SMEM-NAS runs it
 * (ALGORITHMS.md section 4): a binary classifier on ordered pairs of encoded
 * architectures that says whether the first is the more accurate, and the
 * score NSGA-II sorts on, a candidate's number of predicted wins against a
 * reference set. The rest of NSGA-II (sorting, crowding, tournaments,
 * environmental selection) is cheap and lives in Lua
 * (lua/naslab/search/smem.lua) over core/pareto. Uses core only.
 *
 * The model, for rows x_i, x_j of an encoding (dim floats each):
 *   hidden > 0:  P(i beats j) = sigmoid(v . relu(W1 x_i + W2 x_j + b) + c)
 *   hidden == 0: P(i beats j) = sigmoid(w1 . x_i + w2 . x_j + c)   (logistic)
 * i.e. a one-hidden-layer MLP (or a logistic regression) on concat(x_i, x_j).
 * Because the first layer splits into a part for x_i and a part for x_j, a
 * pair costs O(hidden) once both halves are computed per row, so fitting on
 * all n(n-1) ordered pairs costs O(n^2 hidden) per epoch, not O(n^2 dim
 * hidden). */
#ifndef NL_PAIRCLF_H
#define NL_PAIRCLF_H

#include <stdint.h>

#include "core/progress.h"

typedef struct nl_pairclf_opts {
    int hidden;          /* width of the hidden layer, 0..4096 (0: logistic regression) */
    int epochs;          /* full-batch Adam steps, 1..1000000 */
    double lr;           /* Adam step size, > 0 */
    double weight_decay; /* L2 penalty 0.5*wd*|w|^2 on the weights (not the biases), >= 0 */
    uint64_t seed;       /* the initial weights */
    nl_progress_fn progress; /* called every 16 epochs ("fit pairs", epoch, epochs); may be NULL */
    void *progress_ud;
} nl_pairclf_opts;

/* The defaults: hidden 16, epochs 150, lr 0.01, weight_decay 1e-4, seed 0. */
void nl_pairclf_defaults(nl_pairclf_opts *o);

typedef struct nl_pairclf nl_pairclf;

/* A new classifier for rows of `dim` floats (weights drawn from o->seed:
 * normal with sd 1/sqrt(dim) in the first layer, 1/sqrt(hidden) in the
 * second; logistic weights start at zero). *out is the caller's
 * (nl_pairclf_free). Fails with NL_EINVAL naming the bad option or NL_ENOMEM. */
int nl_pairclf_new(nl_pairclf **out, int64_t dim, const nl_pairclf_opts *o);
/* Free; NULL is a no-op. */
void nl_pairclf_free(nl_pairclf *c);

/* Fit on every ordered pair (i, j), i != j, of the rows X[0..n) (n x dim,
 * row-major) whose targets differ, with label 1[y_i > y_j]; pairs of equal
 * targets say nothing about the order and are left out. The weights are
 * first reset to their seeded initial values, so a fit depends only on
 * (opts, X, y). Minimises the mean binary cross-entropy plus the L2 penalty
 * by full-batch Adam. Stores the final objective in *loss (may be NULL).
 * Fails with NL_EINVAL (n < 2, a non-finite target, no two targets differ)
 * leaving the weights as they were, NL_ENOMEM, or NL_EINTR (progress or
 * Ctrl-C; the weights are then those of the last epoch done). */
int nl_pairclf_fit(nl_pairclf *c, const float *X, const double *y, int64_t n, double *loss);

/* p[i*nb + j] = P(A_i beats B_j) for the rows A[0..na), B[0..nb); p is the
 * caller's, na*nb doubles. NL_ENOMEM only. */
int nl_pairclf_prob(const nl_pairclf *c, double *p, const float *A, int64_t na, const float *B, int64_t nb);

/* SMEM-NAS's surrogate score: wins[i] = number of j with P(A_i beats B_j)
 * > 0.5 (soft == 0), or the sum of the probabilities (soft != 0, a finer
 * score with the same scale). wins is the caller's, na doubles. NL_ENOMEM only. */
int nl_pairclf_wins(const nl_pairclf *c, double *wins, const float *A, int64_t na, const float *B, int64_t nb,
                    int soft);

/* The training objective at the current weights and its gradient (grad:
 * nl_pairclf_nparams doubles, or NULL), for gradient checks. Same
 * failures as fit, without NL_EINTR. */
int nl_pairclf_loss(const nl_pairclf *c, double *loss, double *grad, const float *X, const double *y, int64_t n);

/* The weights as one vector (W1, W2, b, v, c; or w1, w2, c), owned by the
 * classifier and writable, and its length. */
double *nl_pairclf_params(nl_pairclf *c);
int64_t nl_pairclf_nparams(const nl_pairclf *c);

#endif
