/* SPDX-License-Identifier: GPL-3.0-or-later */
/* lid.h - NAS-LID (He et al., AAAI 2023; ALGORITHMS.md section 5): the local
 * intrinsic dimension of a layer's activations (maximum-likelihood estimate
 * over the k nearest neighbours inside a minibatch), the per-layer LID vector
 * of a cell evaluated with supernet weights, similarity matrices between the
 * candidate operations of an edge, the exhaustive min-cut partition of those
 * operations into two groups, and the split criterion of a sub-supernet
 * (given by a per-edge op mask shared by every cell) with LID or, as the
 * baseline in the same code path, gradient matching (GM-NAS).
 *
 * Masks: mask[e] is a 5-bit set of the ops allowed on edge e (bit k = op k in
 * nl_nb201 order: none, skip_connect, nor_conv_1x1, nor_conv_3x3,
 * avg_pool_3x3); 31 allows all (nl_nb201net_sample_masked draws inside one). The schedule (train, split, train the
 * children, ...) is Lua's: lua/naslab/lid.lua. Uses nn (nb201net, loss),
 * data (dataset), core (rng; OpenBLAS: cblas_dsyrk, LAPACK dsyev). */
#ifndef NL_LID_H
#define NL_LID_H

#include <stdint.h>

#include "core/rng.h"
#include "core/tensor.h"
#include "data/dataset.h"
#include "nn/ctx.h"
#include "nn/model.h"

enum { NL_LID_OPS = 5, NL_LID_EDGES = 6, NL_LID_ALL = 31 };

/* How two feature vectors are compared. */
typedef enum nl_lid_sim {
    NL_LID_COSINE,      /* u.v / (|u| |v|); 0 when either is zero */
    NL_LID_CORRELATION, /* Pearson correlation of the entries; 0 when either is constant */
    NL_LID_INVDIST      /* 1 / (1 + |u - v|) */
} nl_lid_sim;

/* The similarity named s ("cosine", "correlation", "invdist") into *out;
 * NL_EINVAL naming the known ones otherwise. */
int nl_lid_sim_parse(const char *s, nl_lid_sim *out);

/* *lid = the MLE of the local intrinsic dimension of the n rows of x (an
 * (n, ...) tensor, each row flattened), averaged over the rows: for row i
 * with sorted distances d_1..d_k to its k nearest other rows,
 * LID_i = -k / (sum_j log(d_j / (d_k + 1e-6)) + 1e-6). Distances come from
 * the Gram matrix in double precision. NL_EINVAL when k < 1 or k >= n;
 * NL_ENOMEM. Uses O(n * d + n * n) doubles of scratch. */
int nl_lid_mle(const nl_tensor *x, int k, double *lid);

/* S (n x n, row-major) = the similarity `kind` between the n rows of f
 * (n x dim, row-major). NL_EINVAL for n < 1 or dim < 1. */
int nl_lid_similarity(double *S, const double *f, int n, int dim, nl_lid_sim kind);

/* The best split of n items (2..16) with similarity S (n x n) into two groups
 * of n/2 and n - n/2: every such partition is tried and the one with the
 * largest within-group similarity (sum over the upper triangle) wins, ties
 * to the first in lexicographic order of the smaller group. group[i] = 0 for
 * the smaller group (for even n: the one holding item 0), 1 otherwise.
 * *cut = the between-group similarity (total upper triangle minus the best
 * within-group sum), the edge score of the reference code. NL_EINVAL for n
 * outside 2..16. */
int nl_lid_mincut(const double *S, int n, uint8_t *group, double *cut);

/* lid[0..L) = the LID of each of the L = 3N+2 layer outputs of supernet m
 * (cells and residual blocks, nl_nb201net_layers) after one training-mode
 * forward of x with cell ops (batch statistics; the running statistics are
 * left untouched; the model keeps ops as its cell). lid must hold 3N+2
 * values; *nlayers receives L. N is at most 64 here and in
 * nl_lid_criterion (NL_EINVAL otherwise). */
int nl_lid_features(nl_model *m, nl_nn_ctx *c, const nl_tensor *x, const uint8_t ops[6], int k, double *lid,
                    int *nlayers);

/* Spectral clustering into two groups (the option the reference code
 * defaults to): affinity A = S + 1, the eigenvector of the second smallest
 * eigenvalue of the normalised Laplacian I - D^-1/2 A D^-1/2 (LAPACK dsyev
 * from OpenBLAS) scaled by D^-1/2, then the exact 1-D 2-means split of those
 * values. group[i] = 0 for the smaller cluster (ties: the one holding item
 * 0). *score = the mean over the two clusters of the mean similarity inside
 * each (diagonal included, as numpy's S[c][:, c].mean()). NL_EINVAL for n
 * outside 2..16 or an affinity with a non-positive degree. */
int nl_lid_spectral(const double *S, int n, uint8_t *group, double *score);

typedef enum nl_lid_part {
    NL_LID_MINCUT,  /* exhaustive 2-vs-3; score = between-group similarity */
    NL_LID_SPECTRAL /* spectral; score = mean within-cluster similarity */
} nl_lid_part;

typedef enum nl_lid_crit {
    NL_LID_CRIT_LID, /* per-layer LID vectors (NAS-LID) */
    NL_LID_CRIT_GRAD /* loss gradients w.r.t. the shared weights (GM-NAS) */
} nl_lid_crit;

typedef struct nl_lid_opts {
    nl_lid_crit criterion;
    nl_lid_sim sim;
    nl_lid_part partition; /* either way the edge with the largest score is split */
    int repeat;    /* base paths (and batches) averaged over (>= 1) */
    int batch;     /* examples per batch (>= k + 1 for LID; >= 2) */
    int k;         /* neighbours of the MLE (20) */
    uint64_t seed; /* draws the batches and the base paths */
} nl_lid_opts;

/* Fill *o: LID, cosine, min-cut, repeat 10, batch 128, k 20, seed 0. */
void nl_lid_defaults(nl_lid_opts *o);

/* What the criterion found on one edge. */
typedef struct nl_lid_edge {
    int candidate;        /* the edge is still unsplit (mask 31) */
    double S[NL_LID_OPS * NL_LID_OPS]; /* similarity averaged over the repeats */
    uint8_t group[NL_LID_OPS];         /* 0 = the smaller group (min-cut: the 2 ops), 1 = the rest */
    double score;         /* the partition's score (see nl_lid_part) */
} nl_lid_edge;

typedef struct nl_lid_result {
    nl_lid_edge edge[NL_LID_EDGES];
    int best;             /* the candidate edge with the largest score, -1 when none */
    int64_t forwards;     /* forward (+ backward) passes it ran */
    int64_t scratch_bytes;/* the largest working set the criterion allocated itself */
    double seconds;
} nl_lid_result;

/* The split criterion of the sub-supernet `mask` of supernet m on data d
 * (ALGORITHMS.md 5(a)): for each repeat, a batch drawn from d and a base cell
 * drawn within mask; for every unsplit edge e and each op k, the cell with e
 * set to k gives a feature vector (LID: the per-layer LID vector; grad: the
 * flattened gradient of the mean cross-entropy w.r.t. the active weights of
 * the other edges' ops and the classifier) and the 5x5 similarity of those
 * vectors is averaged over the repeats; each edge's ops are then split by
 * nl_lid_mincut (or nl_lid_spectral) and the edge with the largest score
 * wins. The model's cell
 * and batch-norm running statistics are restored; param gradients are left
 * zeroed. Errors: NL_EINVAL naming the option or the mask entry; NL_ESHAPE
 * when d does not fit m; NL_EINTR (Ctrl-C); NL_ENOMEM. */
int nl_lid_criterion(nl_model *m, nl_nn_ctx *c, const nl_dataset *d, const uint8_t mask[6], const nl_lid_opts *o,
                     nl_lid_result *res);

#endif
