/* SPDX-License-Identifier: GPL-3.0-or-later */
/* stats.h - ranking statistics for judging predictors against ground truth:
 * Kendall tau (b and a) in O(n log n), Spearman rho, Pearson r, average ranks,
 * top-k precision and NDCG@k, all over plain double arrays. Uses only libc and
 * libm; the sort (a stable radix sort) and the discordant-pair count are
 * written here because qsort is neither stable nor able to count.
 *
 * Conventions shared by every function below:
 * - The result comes first and is written only on success.
 * - Paired functions take x with nx values and y with ny values; nx must equal
 *   ny. Where a direction matters (topk, ndcg), x holds the predicted scores
 *   and y the true values; "top" means the largest values.
 * - No input value may be NaN. Infinities are accepted where only the order of
 *   the values matters (kendall, spearman, rank, topk, and x of ndcg).
 * - Errors return a negative NL_E* code with nl_errmsg() set: NL_EINVAL for
 *     "x is empty", "x has 5 values but y has 4",
 *     "kendall needs at least 2 values, got 1", "x[3] is NaN" (1-based index);
 *     NL_ERANGE for "k must be in 1..5, got 0"; NL_ENOMEM if scratch memory is
 *     not available. x is checked before y, and k last.
 * - A statistic that is undefined for the data (a constant variable for
 *   tau-b, rho and r; an ideal DCG of zero for ndcg) is returned as NaN with
 *   success, as scipy does, because "undefined" is a fact about the data, not a
 *   mistake of the caller. */
#ifndef NL_STATS_H
#define NL_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Which Kendall tau nl_stats_kendall computes. */
enum {
    /* tau-b = (C - D) / sqrt((P - Tx) (P - Ty)), with P = n(n-1)/2 pairs, Tx and
     * Ty the pairs tied in x and in y: scipy.stats.kendalltau's default. */
    NL_TAU_B = 0,
    /* tau-a = (C - D) / P: ties count as neither concordant nor discordant, and
     * stay in the denominator (the form ReNAS reports; its right_pair lets its
     * sort order decide tied pairs instead, so the two agree without ties). */
    NL_TAU_A = 1
};

/* Validate one input vector for function `fn` (a name used in messages, such
 * as "kendall") under the argument name `name` (such as "x"): n >= 1, n >=
 * min_n, no NaN; with `finite` set, no infinity either. Returns 0 or NL_EINVAL
 * with "x is empty", "kendall needs at least 2 values, got 1", "x[3] is NaN" or
 * "x[3] is infinite". The functions below call it; bindings call it first to
 * learn which argument is at fault. */
int nl_stats_check(const char *fn, const char *name, const double *v, size_t n, size_t min_n, int finite);

/* Kendall rank correlation of x and y (nx == ny >= 2) by Knight's method with
 * tie corrections (sort by (x, y), count ties, count discordant pairs), in
 * O(n log n); `variant` is NL_TAU_B or NL_TAU_A. Writes the value, clamped to
 * [-1, 1], to *tau: NaN for tau-b when x or y is constant. Uses 32 bytes of
 * scratch memory per pair plus 4 per distinct y; counts are 64-bit. Fails with
 * NL_EINVAL for bad input or variant, NL_ERANGE beyond 2^32 - 1 values,
 * NL_ENOMEM without memory. */
int nl_stats_kendall(double *tau, const double *x, size_t nx, const double *y, size_t ny, int variant);

/* Spearman rank correlation (nx == ny >= 2): the Pearson correlation of the
 * average ranks of x and of y, so ties are handled as in
 * scipy.stats.spearmanr. Writes *rho (NaN when x or y is constant). Fails like
 * nl_stats_kendall. */
int nl_stats_spearman(double *rho, const double *x, size_t nx, const double *y, size_t ny);

/* Pearson product-moment correlation (nx == ny >= 2), computed about the
 * means in two passes and clamped to [-1, 1]. Writes *r (NaN when x or y is
 * constant). Values must be finite. Fails with NL_EINVAL for bad input. */
int nl_stats_pearson(double *r, const double *x, size_t nx, const double *y, size_t ny);

/* Average ranks of x[0..n) (n >= 1) into ranks[0..n), caller-owned: the
 * smallest value has rank 1, and tied values share the mean of the ranks they
 * occupy (scipy.stats.rankdata's "average"). ranks may not alias x. Fails with
 * NL_EINVAL for bad input, NL_ENOMEM without memory. */
int nl_stats_rank(double *ranks, const double *x, size_t n);

/* Top-k precision: the fraction of the true top-k (the k largest y) that is
 * also in the predicted top-k (the k largest x), 1 <= k <= n. When ties
 * straddle the k-th place, the set is not unique; the result is then the
 * expected precision when each tie is broken uniformly at random (independently
 * for x and y): an item above the tied value counts fully, an item in the tie
 * with k-a free places among g tied items counts with probability (k-a)/g.
 * This is deterministic, independent of input order, and equals the plain
 * precision when there are no ties at the boundary. Writes *prec in [0, 1].
 * Fails with NL_EINVAL for bad input or k, NL_ENOMEM without memory. */
int nl_stats_topk(double *prec, const double *x, size_t nx, const double *y, size_t ny, int64_t k);

/* NDCG@k of the ranking by predicted scores x against gains y (1 <= k <= n):
 * DCG@k = sum over the first k places i = 1..k of gain / log2(i + 1), where the
 * gain of an item is its y value as given (linear gain, as sklearn's
 * ndcg_score), and NDCG = DCG@k / ideal DCG@k (y sorted in decreasing order).
 * Items tied in x share their places: each gets the mean discount of the places
 * the tie occupies (McSherry and Najork, 2008), which is the expected DCG over
 * random tie breaks. y must be finite and >= 0 ("y[3] is negative"). Writes
 * *ndcg in [0, 1], or NaN when the ideal DCG is 0 (every gain is 0).
 * Fails with NL_EINVAL for bad input or k, NL_ENOMEM without memory. */
int nl_stats_ndcg(double *ndcg, const double *x, size_t nx, const double *y, size_t ny, int64_t k);

#endif
