/* SPDX-License-Identifier: GPL-3.0-or-later */
/* stats.c - ranking statistics over double arrays (see stats.h). Everything
 * rests on one stable LSD radix sort of (order key, payload) records, which
 * sorts a million doubles several times faster than a comparison sort; Kendall's
 * tau adds a Fenwick tree that counts what Knight's (1966) merge sort counts as
 * exchanges. Both are written here because qsort is neither stable nor able to
 * count. */
#include "core/stats.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"

/* A sort record: an order-preserving key and a payload (an index or a rank). */
typedef struct rec {
    uint64_t key, val;
} rec;

/* Map a double (not NaN) to an unsigned key with the same order, so that keys
 * compare as the values do: flip every bit of negatives, only the sign bit of
 * positives. -0 becomes +0 first, since the two are equal values. */
static inline uint64_t order_key(double v)
{
    if (v == 0) v = 0.0;
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
}

/* Stable LSD radix sort of a[0..n) by key, one byte per pass, with tmp[0..n)
 * as the second buffer; a pass whose byte is the same in every key is skipped
 * (integer-valued doubles need about 3 of the 8). The counts take 16 KiB of
 * stack. Returns whichever buffer holds the result. */
static rec *radix_sort(rec *a, rec *tmp, size_t n)
{
    size_t count[8][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = a[i].key;
        count[0][k & 255]++;
        count[1][(k >> 8) & 255]++;
        count[2][(k >> 16) & 255]++;
        count[3][(k >> 24) & 255]++;
        count[4][(k >> 32) & 255]++;
        count[5][(k >> 40) & 255]++;
        count[6][(k >> 48) & 255]++;
        count[7][k >> 56]++;
    }
    rec *src = a, *dst = tmp;
    for (int d = 0; d < 8; d++) {
        int shift = 8 * d;
        if (n == 0 || count[d][(src[0].key >> shift) & 255] == n) continue;
        size_t off[256], sum = 0;
        for (int b = 0; b < 256; b++) {
            off[b] = sum;
            sum += count[d][b];
        }
        for (size_t i = 0; i < n; i++) dst[off[(src[i].key >> shift) & 255]++] = src[i];
        rec *t = src;
        src = dst;
        dst = t;
    }
    return src;
}

/* Fill buf[0..n) with (key of v[i] or of -v[i] when `desc`, i) and sort it
 * stably, using buf[n..2n) as the second buffer: ties keep index order. */
static rec *sort_indexed(const double *v, size_t n, int desc, rec *buf)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t k = order_key(v[i]);
        buf[i].key = desc ? ~k : k;
        buf[i].val = i;
    }
    return radix_sort(buf, buf + n, n);
}

int nl_stats_check(const char *fn, const char *name, const double *v, size_t n, size_t min_n, int finite)
{
    if (n == 0) return nl_err(NL_EINVAL, "%s is empty", name);
    if (n < min_n) return nl_err(NL_EINVAL, "%s needs at least %zu values, got %zu", fn, min_n, n);
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) return nl_err(NL_EINVAL, "%s[%zu] is NaN", name, i + 1);
        if (finite && isinf(v[i])) return nl_err(NL_EINVAL, "%s[%zu] is infinite", name, i + 1);
    }
    return 0;
}

/* The checks shared by the paired functions, in the order a reader of the call
 * would look: x itself, whether y matches it, then y. */
static int check_pair(const char *fn, const double *x, size_t nx, const double *y, size_t ny, size_t min_n,
                      int finite)
{
    if (nx == 0) return nl_err(NL_EINVAL, "x is empty");
    if (nx != ny) return nl_err(NL_EINVAL, "x has %zu values but y has %zu", nx, ny);
    int rc = nl_stats_check(fn, "x", x, nx, min_n, finite);
    if (rc) return rc;
    return nl_stats_check(fn, "y", y, ny, min_n, finite);
}

static int check_k(int64_t k, size_t n)
{
    if (k < 1 || (uint64_t)k > (uint64_t)n) return nl_err(NL_ERANGE, "k must be in 1..%zu, got %lld", n, (long long)k);
    return 0;
}

int nl_stats_kendall(double *tau, const double *x, size_t nx, const double *y, size_t ny, int variant)
{
    int rc = check_pair("kendall", x, nx, y, ny, 2, 0);
    if (rc) return rc;
    if (variant != NL_TAU_B && variant != NL_TAU_A)
        return nl_err(NL_EINVAL, "unknown Kendall tau variant %d", variant);
    size_t n = nx;
    /* n(n-1)/2 must fit the 64-bit pair counts. */
    if (n > UINT32_MAX) return nl_err(NL_ERANGE, "kendall handles at most %lu values, got %zu", (unsigned long)UINT32_MAX, n);

    rec *buf = nl_malloc(2 * n * sizeof *buf);
    if (!buf) return NL_ENOMEM;

    /* Sort (y, x) keys by y; replace y by its dense rank (0..m-1) and count
     * y-ties. Laid out in y order with x as the key, a stable sort by x then
     * leaves the pairs in (x, y) order. Carrying x's key along avoids a random
     * gather from x, which costs more than the sort. */
    for (size_t i = 0; i < n; i++) {
        buf[i].key = order_key(y[i]);
        buf[i].val = order_key(x[i]);
    }
    rec *s = radix_sort(buf, buf + n, n), *o = s == buf ? buf + n : buf;
    int64_t ytie = 0;
    size_t m = 0;
    for (size_t lo = 0, hi; lo < n; lo = hi, m++) {
        for (hi = lo + 1; hi < n && s[hi].key == s[lo].key; hi++) {}
        int64_t g = (int64_t)(hi - lo);
        ytie += g * (g - 1) / 2;
        for (size_t p = lo; p < hi; p++) {
            o[p].key = s[p].val;
            o[p].val = m;
        }
    }
    s = radix_sort(o, s, n);

    /* Pairs tied in x, and tied in both, from runs of the sorted pairs. */
    int64_t xtie = 0, ntie = 0;
    for (size_t lo = 0, hi; lo < n; lo = hi) {
        for (hi = lo + 1; hi < n && s[hi].key == s[lo].key; hi++) {}
        int64_t g = (int64_t)(hi - lo);
        xtie += g * (g - 1) / 2;
        for (size_t l2 = lo, h2; l2 < hi; l2 = h2) {
            for (h2 = l2 + 1; h2 < hi && s[h2].val == s[l2].val; h2++) {}
            int64_t g2 = (int64_t)(h2 - l2);
            ntie += g2 * (g2 - 1) / 2;
        }
    }

    /* Discordant pairs: with x ascending and x-ties ordered by y, each earlier
     * pair whose y rank is strictly greater is discordant. A Fenwick tree of
     * the y ranks seen so far counts them: Knight's merge-sort exchange count,
     * got in O(n log m) with m distinct y values, which stays in cache when y
     * has few levels. */
    uint32_t *tree = nl_calloc(m + 1, sizeof *tree);
    if (!tree) {
        nl_free(buf);
        return NL_ENOMEM;
    }
    int64_t dis = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = (size_t)s[i].val + 1;
        uint64_t le = 0;
        for (size_t j = r; j > 0; j -= j & (~j + 1)) le += tree[j];
        dis += (int64_t)(i - le);
        for (size_t j = r; j <= m; j += j & (~j + 1)) tree[j]++;
    }
    nl_free(tree);
    nl_free(buf);

    int64_t tot = (int64_t)((uint64_t)n * (uint64_t)(n - 1) / 2);
    int64_t con_minus_dis = tot - xtie - ytie + ntie - 2 * dis;
    double t;
    if (variant == NL_TAU_A) {
        t = (double)con_minus_dis / (double)tot;
    } else if (xtie == tot || ytie == tot) {
        t = NAN;
    } else {
        /* The same operations, in the same order, as scipy, so the two agree to
         * the last bit or two. */
        t = (double)con_minus_dis / sqrt((double)(tot - xtie)) / sqrt((double)(tot - ytie));
    }
    if (t > 1.0) t = 1.0;
    if (t < -1.0) t = -1.0;
    *tau = t;
    return 0;
}

/* Average ranks of v into out using buf[0..2n) as sort space; input checked. */
static void rank_into(double *out, const double *v, size_t n, rec *buf)
{
    rec *s = sort_indexed(v, n, 0, buf);
    for (size_t lo = 0, hi; lo < n; lo = hi) {
        for (hi = lo + 1; hi < n && s[hi].key == s[lo].key; hi++) {}
        /* places lo+1 .. hi, 1-based */
        double r = ((double)lo + 1.0 + (double)hi) / 2.0;
        for (size_t p = lo; p < hi; p++) out[s[p].val] = r;
    }
}

static int is_constant(const double *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[0]) return 0;
    return 1;
}

/* Mean with one correction pass, which removes most of the rounding of the
 * plain sum when the values sit far from zero. */
static double mean_of(const double *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += v[i];
    double m = s / (double)n, c = 0.0;
    for (size_t i = 0; i < n; i++) c += v[i] - m;
    return m + c / (double)n;
}

/* Pearson r of checked input; NaN when either side is constant (tested
 * exactly, since a rounded mean leaves a tiny nonzero spread). */
static double pearson_core(const double *x, const double *y, size_t n)
{
    if (is_constant(x, n) || is_constant(y, n)) return NAN;
    double mx = mean_of(x, n), my = mean_of(y, n);
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    /* One square root is exact for perfectly correlated data (r = 1, not 1 -
     * 1 ulp); two are the fallback when the product overflows. */
    double prod = sxx * syy;
    double r = isinf(prod) ? sxy / (sqrt(sxx) * sqrt(syy)) : sxy / sqrt(prod);
    if (r > 1.0) r = 1.0;
    if (r < -1.0) r = -1.0;
    return r;
}

int nl_stats_pearson(double *r, const double *x, size_t nx, const double *y, size_t ny)
{
    int rc = check_pair("pearson", x, nx, y, ny, 2, 1);
    if (rc) return rc;
    *r = pearson_core(x, y, nx);
    return 0;
}

int nl_stats_rank(double *ranks, const double *x, size_t n)
{
    int rc = nl_stats_check("rank", "x", x, n, 1, 0);
    if (rc) return rc;
    rec *buf = nl_malloc(2 * n * sizeof *buf);
    if (!buf) return NL_ENOMEM;
    rank_into(ranks, x, n, buf);
    nl_free(buf);
    return 0;
}

int nl_stats_spearman(double *rho, const double *x, size_t nx, const double *y, size_t ny)
{
    int rc = check_pair("spearman", x, nx, y, ny, 2, 0);
    if (rc) return rc;
    size_t n = nx;
    rec *buf = nl_malloc(2 * n * sizeof *buf);
    double *rk = nl_malloc(2 * n * sizeof *rk);
    if (!buf || !rk) {
        nl_free(buf);
        nl_free(rk);
        return NL_ENOMEM;
    }
    rank_into(rk, x, n, buf);
    rank_into(rk + n, y, n, buf);
    *rho = pearson_core(rk, rk + n, n);
    nl_free(buf);
    nl_free(rk);
    return 0;
}

/* prob[i] = probability that item i is in the top k of v when ties at the
 * k-th place are broken uniformly at random; prob must start zeroed. */
static void topk_probs(double *prob, const double *v, size_t n, size_t k, rec *buf)
{
    rec *s = sort_indexed(v, n, 1, buf);
    size_t lo = k - 1, hi = k;
    while (lo > 0 && s[lo - 1].key == s[k - 1].key) lo--;
    while (hi < n && s[hi].key == s[k - 1].key) hi++;
    for (size_t p = 0; p < lo; p++) prob[s[p].val] = 1.0;
    double share = (double)(k - lo) / (double)(hi - lo);
    for (size_t p = lo; p < hi; p++) prob[s[p].val] = share;
}

int nl_stats_topk(double *prec, const double *x, size_t nx, const double *y, size_t ny, int64_t k)
{
    int rc = check_pair("topk", x, nx, y, ny, 1, 0);
    if (rc) return rc;
    size_t n = nx;
    if ((rc = check_k(k, n))) return rc;
    rec *buf = nl_malloc(2 * n * sizeof *buf);
    double *prob = nl_calloc(2 * n, sizeof *prob);
    if (!buf || !prob) {
        nl_free(buf);
        nl_free(prob);
        return NL_ENOMEM;
    }
    topk_probs(prob, x, n, (size_t)k, buf);
    topk_probs(prob + n, y, n, (size_t)k, buf);
    /* The two tie breaks are independent, so membership probabilities multiply. */
    double hit = 0.0;
    for (size_t i = 0; i < n; i++) hit += prob[i] * prob[n + i];
    nl_free(buf);
    nl_free(prob);
    double p = hit / (double)k;
    *prec = p > 1.0 ? 1.0 : p;
    return 0;
}

int nl_stats_ndcg(double *ndcg, const double *x, size_t nx, const double *y, size_t ny, int64_t k)
{
    int rc = check_pair("ndcg", x, nx, y, ny, 1, 0);
    if (rc) return rc;
    size_t n = nx;
    for (size_t i = 0; i < n; i++) {
        if (isinf(y[i])) return nl_err(NL_EINVAL, "y[%zu] is infinite", i + 1);
        if (y[i] < 0) return nl_err(NL_EINVAL, "y[%zu] is negative", i + 1);
    }
    if ((rc = check_k(k, n))) return rc;
    size_t kk = (size_t)k;
    rec *buf = nl_malloc(2 * n * sizeof *buf);
    if (!buf) return NL_ENOMEM;

    /* Places are 0-based here, so place p has discount 1 / log2(p + 2). */
    double dcg = 0.0;
    rec *s = sort_indexed(x, n, 1, buf);
    for (size_t lo = 0, hi; lo < kk; lo = hi) {
        double gain = 0.0;
        for (hi = lo; hi < n && s[hi].key == s[lo].key; hi++) gain += y[s[hi].val];
        double disc = 0.0;
        for (size_t p = lo; p < hi && p < kk; p++) disc += 1.0 / log2((double)p + 2.0);
        dcg += gain / (double)(hi - lo) * disc;
    }
    double ideal = 0.0;
    s = sort_indexed(y, n, 1, buf);
    for (size_t p = 0; p < kk; p++) ideal += y[s[p].val] / log2((double)p + 2.0);
    nl_free(buf);

    if (ideal == 0.0) {
        *ndcg = NAN;
    } else {
        double v = dcg / ideal;
        *ndcg = v > 1.0 ? 1.0 : v;
    }
    return 0;
}
