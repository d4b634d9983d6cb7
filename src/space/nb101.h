/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nb101.h - the NAS-Bench-101 search space (google-research/nasbench): cells
 * as pruned labelled DAGs, the official module hash byte for byte, the
 * enumeration of its 423,624 unique cells, params/FLOPs of the benchmark's
 * network and three encodings. Everything is reachable through the vtable
 * nl_space_nb101; the extra functions below serve tests and benchmarks.
 * Uses core (error, md5, progress, rng) and space.h.
 *
 * Text form (format writes it, parse reads it; the "nb101:" prefix is
 * optional on input):
 *
 *     nb101:0100110/0010000/0001001/0000010/0000010/0000001/0000000:in,c3,mp,c3,c3,c1,out
 *
 * i.e. the rows of the n x n adjacency matrix (row i, column j is 1 for the
 * edge i->j) separated by '/', then ':' and the n op names separated by ','.
 * Op names: in, c3, c1, mp, out, or the official input, conv3x3-bn-relu,
 * conv1x1-bn-relu, maxpool3x3, output. Spaces around tokens are ignored. A
 * parsed cell goes through the same checks and pruning as a spec, so format
 * always prints the pruned form.
 *
 * Encodings (floats):
 * - "onehot" [36]: the 21 upper-triangle entries of the 7x7 adjacency in
 *   row-major order ((0,1), (0,2), ..., (0,6), (1,2), ..., (5,6)), then for
 *   interior vertices 1..5 a one-hot over (conv3x3, conv1x1, maxpool3x3).
 * - "path" [364]: White et al.'s path encoding as in NASLib: 1 for every op
 *   sequence (o_0..o_{L-1}) that some input->output path runs through, at index
 *   sum_i 3^i (o_i + 1) with conv3x3=0, conv1x1=1, maxpool3x3=2 (length 0 is
 *   the direct input->output edge, index 0).
 * - "renas" [19, 7, 7]: the ReNAS feature tensor (ALGORITHMS.md 1(a)):
 *   channel 0 is T[i][j] = A[i][j] * type[j] (input 1, conv1x1 2, conv3x3 3,
 *   maxpool 4, output 5), then for each of the 9 cells stack0/module0 ..
 *   stack2/module2 the FLOPs matrix A[i][j] * flops[j] and the params matrix
 *   A[i][j] * params[j] with the per-vertex counts of the default network.
 *   Raw counts, no scaling: predictors normalise.
 * Cells with fewer than 7 vertices are padded, in every encoding, by zero
 * rows and columns inserted before the output, which stays at index 6.
 *
 * Points of the space are hash classes: equal() is true for isomorphic cells
 * (same module hash), whatever their vertex numbering. at(i) is the i-th class
 * in increasing order of hash string, in a representative numbering (the
 * class's canonical graph renumbered topologically), so at(index(a)) is
 * isomorphic to a but not always numbered like it. at() and index() run
 * prepare() themselves when needed (about 3 s on 2 cores; 8.5 MB kept).
 * sample() is uniform over the 423,624 classes once prepare() has run; before
 * that it rejection-samples random 7-vertex specs (edges with probability
 * 1/2), so the same seed gives other cells after prepare(). mutate() applies
 * exactly one of the 26 decisions of the 7-vertex frame (21 edge flips, 5 op
 * changes), tried in random order until the cell is valid and of another
 * class; the 2-vertex cell, which has no such move, gets one new vertex on a
 * fresh input->vertex->output path. crossover() takes each edge bit and op
 * from either parent (frame vertices unused by both carry random ops) and
 * returns a copy of the first parent if 100 draws give no valid child. */
#ifndef NL_NB101_H
#define NL_NB101_H

#include <stdint.h>

#include "space/space.h"

extern const nl_space nl_space_nb101;

/* Number of unique cells: 423,624. */
#define NL_NB101_SIZE 423624

/* Build a pruned cell from an n x n 0/1 matrix (row-major ints, n in 2..7)
 * and n op names (official or short), as ModelSpec does: it checks shape and labels, deletes the vertices
 * not on an input->output path, then checks the vertex and edge limits on the
 * pruned cell (as the nasbench API does). Fails with NL_EINVAL and a message
 * naming the rule that failed (e.g. "10 edges, at most 9 allowed"). */
int nl_nb101_from_spec(int n, const int *matrix, const char *const *ops, nl_nb101 *out);

/* The official module hash (graph_util.hash_module with the labels
 * [-1] + op indices + [-2]) of a pruned cell, as 16 raw bytes. */
void nl_nb101_hash(const nl_nb101 *c, uint8_t out[16]);

/* Per-vertex costs of module `module` (0 .. 3*N-1, stack-major) of the
 * network described by o (NULL or zero fields: stem 128, N = 3, 10 classes,
 * 32x32), indexed by the cell's own vertex numbers (0 .. nv-1). The input
 * projection is charged to its destination vertex (ALGORITHMS.md 0.1).
 * NL_ERANGE if module is out of range. */
int nl_nb101_vertex_costs(const nl_nb101 *c, const nl_net_opts *o, int module,
                          int64_t flops[7], int64_t params[7]);

/* A set of unique cells ordered by hash, produced by nl_nb101_enumerate. */
typedef struct nl_nb101_set nl_nb101_set;

/* Enumerate, as generate_graphs.py does, every cell with 2..max_v vertices
 * (max_v in 2..7): each upper-triangular bit pattern that is a full DAG with
 * at most 9 edges, under every labelling, one cell per distinct module hash.
 * Duplicates are found through an exact canonical form (isomorphism with the
 * input and output fixed); the official hash is then computed for each class
 * and checked to be distinct, which makes the set equal to the official one.
 * Runs on `threads` threads (<= 0: 2), reports progress to fn from the
 * calling thread, and fails with NL_EINTR when interrupted, NL_ENOMEM, or
 * NL_EFORMAT if two classes share a hash. The caller owns *out. */
int nl_nb101_enumerate(int max_v, int threads, nl_progress_fn fn, void *ud,
                       nl_nb101_set **out);
/* Number of cells in s. */
int64_t nl_nb101_set_count(const nl_nb101_set *s);
/* Cell i (0 <= i < count) and/or its hash (either pointer may be NULL). */
void nl_nb101_set_get(const nl_nb101_set *s, int64_t i, nl_nb101 *cell, uint8_t hash[16]);
/* Position of a hash in s, or -1 if absent (binary search). */
int64_t nl_nb101_set_find(const nl_nb101_set *s, const uint8_t hash[16]);
/* Free a set; NULL is a no-op. */
void nl_nb101_set_free(nl_nb101_set *s);

#endif
