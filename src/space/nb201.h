/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nb201.h - the NAS-Bench-201 cell space (nl_space_nb201): the benchmark's cell
 * string, naslab's base-5 index, canonical forms, parameter and FLOP counts of
 * the benchmark's CIFAR network, and the onehot, path and renas encodings.
 *
 * Index: index = sum over edges e = 0..5 of op[e] * 5^(5-e), edges in canonical
 * order (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2), ops in the official order
 * (none=0, skip_connect=1, nor_conv_1x1=2, nor_conv_3x3=3, avg_pool_3x3=4).
 * The first edge is the most significant digit; this is naslab's own order,
 * not the benchmark file's idx.
 *
 * Equivalence (canonical, nl_space_distinct): two cells are merged when they
 * are the same graph after (1) dropping dead edges -- an edge j->i is live only
 * when it is not `none`, node j is reached from node 0 and node i reaches node
 * 3 along non-none edges; dead edges become `none` (a cell whose output is not
 * reached becomes all-none) -- and (2) swapping nodes 1 and 2, allowed when the
 * edge 2<-1 is none after step 1. The representative is the member with the
 * smaller index. NOT merged: identities of skip_connect (a skip edge followed
 * by an op is not equated with that op on a shorter path), commutativity of
 * sums beyond the 1<->2 swap, and numerical coincidences (an op on a constant
 * input). The benchmark's own `to_unique_str` merges skip_connect chains too
 * and so reports fewer unique cells than naslab's structural count.
 *
 * Costs: parameters count every conv, BN (gamma, beta) and linear weight of
 * TinyNetwork (stem conv3x3+BN, 3 stages of N cells, two ResNet basic blocks,
 * final BN, classifier), dead edges included, as the benchmark does. FLOPs
 * are the benchmark's published MACs: k*k*Cin*Cout*Hout*Wout per conv and
 * in*out+out per linear layer; pooling (the avg_pool_3x3 op and the basic
 * block's 2x2 shortcut pool), BN, ReLU and additions are not counted, which is
 * what reproduces the published figures (see tests/test_nb201.c).
 *
 * Encodings:
 *  - "onehot" [30]: row e (canonical edge order) of a 6x5 matrix has a 1 in
 *    column op[e]; flattened row-major.
 *  - "path" [155]: White et al.'s (BANANAS, NASLib) path encoding. The four
 *    input->output paths are 3<-0, (1<-0, 3<-1), (2<-0, 3<-2) and
 *    (1<-0, 2<-1, 3<-2); a path of length L with ops o_0..o_{L-1} (from the
 *    input) sets feature off(L) + sum_j o_j * 5^j, off(1)=0, off(2)=5,
 *    off(3)=30. As in NASLib, all five ops count, none included.
 *  - "renas" [31,4,4]: channel 0 is the type matrix T[j][i] = op(i<-j) + 1
 *    (1..5, so none differs from "no edge"); then for each of the 15 cells
 *    c = 1..15 (stage (c-1)/5), a FLOPs matrix F_c[j][i] = MACs of the edge's
 *    op in that cell and a params matrix P_c[j][i] = its parameters, in the
 *    order [T, F_1, P_1, ..., F_15, P_15]. Raw counts, as ReNAS feeds them to
 *    its per-feature standardisation (NAR instead divides by 1e7 and 1e5);
 *    nb101's 19x7x7 tensor follows the same convention.
 *  - "renas_onehot" [35,4,4]: "renas" with the ordinal type matrix replaced
 *    by five 0/1 matrices, one per op in the official order: channel k has
 *    a 1 at [j][i] when edge i<-j carries op k (none included, so a none
 *    edge still differs from "no edge"); then the same 30 FLOPs and params
 *    matrices. Op types are categories: the codes 1..5 of "renas" tell a
 *    network that avg_pool_3x3 lies beyond nor_conv_3x3. */
#ifndef NL_NB201_H
#define NL_NB201_H

#include "space/space.h"

#define NL_NB201_NOPS 5
#define NL_NB201_NEDGES 6
#define NL_NB201_SIZE 15625

extern const nl_space nl_space_nb201;

/* Name of op k (0..4) in the official order; NULL when out of range. */
const char *nl_nb201_op_name(int k);

#endif
