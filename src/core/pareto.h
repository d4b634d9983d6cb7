/* SPDX-License-Identifier: GPL-3.0-or-later */
/* pareto.h - Pareto dominance over sets of points: non-dominated sorting
 * (ranks of every point), the first front, NSGA-II crowding distance and the
 * hypervolume indicator. Uses core/error and core/progress only.
 *
 * Points are n x m row-major doubles: point i is pts[i*m .. i*m+m-1].
 * `sense` is an array of m values NL_PARETO_MIN / NL_PARETO_MAX, or NULL for
 * "minimise every objective". Maximised objectives are negated internally, so
 * every function behaves as if the caller had negated those columns (and, for
 * the hypervolume, the matching reference coordinate) and minimised all.
 * Point a dominates b when a is no worse in every objective and differs from b;
 * equal points never dominate each other, so duplicates share a front. */
#ifndef NL_PARETO_H
#define NL_PARETO_H

#include <stdint.h>

#include "core/progress.h"

enum { NL_PARETO_MIN = 0, NL_PARETO_MAX = 1 };

/* Non-dominated sorting. Fills rank[0..n) with each point's front number
 * (0 = non-dominated, k = dominated only by points of fronts < k) and, when
 * nfronts is not NULL, stores the number of fronts (0 when n == 0).
 * m == 1 and m == 2 use an O(n log n) sweep, m == 3 an O(n log^2 n) divide and
 * conquer over the sorted points, m >= 4 the ENS-BS algorithm of Zhang et al.
 * (2015): O(m n log F) times the front size, so O(m n^2) when one front holds
 * most points (100,000 uniform points in 4 objectives take about 15 s).
 * `rank` is caller-owned. Fails with NL_EINVAL (m < 1, n < 0, NaN value, bad
 * sense entry), NL_ENOMEM, or NL_EINTR when fn asks to stop or the user
 * pressed Ctrl-C (fn may be NULL; it is called about every 16384 points). */
int nl_pareto_ranks(int64_t *rank, int64_t *nfronts, const double *pts, int64_t n, int m,
                    const int *sense, nl_progress_fn fn, void *ud);

/* The non-dominated points: writes their indices, ascending, to idx (the
 * caller provides room for n) and their number to *count. Same cost, inputs
 * and failures as nl_pareto_ranks, except that for m >= 4 only the first
 * front is built (O(m n |front|)). */
int nl_pareto_front(int64_t *idx, int64_t *count, const double *pts, int64_t n, int m,
                    const int *sense, nl_progress_fn fn, void *ud);

/* NSGA-II crowding distance (Deb et al. 2002). rank[0..n) assigns each point
 * to a front (for instance from nl_pareto_ranks); rank == NULL puts all points
 * in one front. Within a front, for each objective the members are ordered by
 * value (ties by index); the first and last get INFINITY and an inner member
 * adds (next - previous) / (max - min), or 0 when max == min. Fronts with one
 * or two members are all INFINITY. Reversing an objective reverses only the
 * order of ties, so no sense argument is needed. Fills the caller-owned
 * dist[0..n). Fails with NL_EINVAL (m < 1, n < 0, non-finite value, negative
 * rank) or NL_ENOMEM. */
int nl_pareto_crowding(double *dist, const double *pts, int64_t n, int m, const int64_t *rank);

/* Hypervolume: the Lebesgue measure of the region dominated by the points and
 * bounded by the reference point ref[0..m). After the sense negation, a point
 * counts only when it is strictly better (smaller) than ref in every
 * objective; other points contribute nothing, and with none left the result
 * is 0. For a maximised objective j this means ref[j] must be smaller than
 * the values, as usual (e.g. accuracy maximised with ref 0). Exact for all m:
 * m <= 2 a sort sweep, m == 3 a z-sweep over a 2-d staircase (O(n log n)
 * comparisons), m >= 4 the WFG algorithm (While, Bradstreet, Barone 2012) with
 * slicing on the last objective, exponential in m in the worst case.
 * Stores the volume in *hv. Fails with NL_EINVAL (m < 1, n < 0, non-finite
 * point or reference value, bad sense entry), NL_ENOMEM or NL_EINTR. */
int nl_pareto_hypervolume(double *hv, const double *pts, int64_t n, int m, const double *ref,
                          const int *sense, nl_progress_fn fn, void *ud);

#endif
