/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gbdt.c - gradient-boosted regression trees (Friedman's gradient boosting
 * with second-order leaf values, as in XGBoost and LightGBM) on a flat
 * encoding of the architecture ("onehot" by default; any encoding of the
 * space is flattened). Each round fits one tree of at most `depth` levels to
 * the gradient g and Hessian h of the loss at the current scores F, on a
 * `subsample` fraction of the rows drawn without replacement, and adds lr
 * times its leaf values to F:
 *   mse       g = F - y, h = 1: leaves are lr times the mean residual, F
 *             starts at mean(y) and scores are in the targets' units;
 *   pairwise  g, h = gradient and diagonal Hessian of ReNAS's pairwise loss
 *             over all training pairs (nl_pairwise_grad_hess; RankNet-style
 *             boosting as LambdaMART without the metric weights): leaves are
 *             Newton steps -lr sum g / (sum h + 1), F starts at 0 and scores
 *             are unscaled.
 * Splits maximise G_L^2/(H_L+l) + G_R^2/(H_R+l) - G^2/(H+l) (l = 0 for mse,
 * 1 for pairwise) over histograms of each feature: a feature with at most
 * 256 distinct training values gets one bin per value (the search is then
 * exact; one-hot and path features have two), others 256 quantile bins. A
 * row only touches the bins that differ from its feature's most common one
 * (LightGBM's trick), so the ~6 of 30 one-hot and ~4 of 155 path features
 * that are set are all a row costs. Trees are stored in heap order (node k
 * has children 2k+1, 2k+2), trees x (2^(depth+1) - 1) nodes, so a saved
 * model's shape follows from its options, as the neural kinds' does, and it
 * goes through nn/checkpoint like them. Leaf values are rounded to float
 * when a tree is made and training adds those floats, so fit and predict
 * (and a loaded model) give the same bits. Written by hand (a few hundred
 * lines): Debian's libxgboost-dev could do the boosting, but its models
 * live in XGBoost's own files, threads and random streams, not in
 * nn/checkpoint and nl_rng, and it would be a C++ dependency for a baseline. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/checkpoint.h"
#include "predict/predictor.h"

enum {
    MAX_DEPTH = 16,
    MAX_TREES = 100000,
    MAX_NODES = 1 << 22,  /* trees x nodes per tree: 48 MB of model */
    MAX_BINS = 256,
    PROGRESS_EVERY = 10,  /* trees between progress events */
    PREDICT_ROWS = 4096,
    PREDICT_MAX_THREADS = 64, /* opts.threads is 1..64 */
    ALWAYS_LEFT = 63,         /* the bit no packed row sets */
};

typedef struct gbdt {
    nl_predictor head;
    int64_t numel;      /* features per arch */
    int pairwise;
    int ntrees, nodes;  /* of the fitted model; nodes = 2^(depth+1) - 1 */
    int32_t *feat;      /* ntrees * nodes: split feature, -1 for a leaf or an unused node */
    float *thr;         /* go left when x[feat] <= thr */
    float *val;         /* leaf value (lr included) */
    double base;        /* score before the first tree */
    float *xbuf;        /* predict scratch: PREDICT_ROWS encoded archs per worker */
    uint64_t *mbuf;     /* and PREDICT_ROWS bit masks per worker */
    int xbuf_workers;   /* workers xbuf has room for */
    /* The model compiled for predict (built at its first call after a fit
     * or load): every leaf above the last level replaced by splits that
     * always go left (feature 0, threshold +inf) down to the last level,
     * which holds the values, so each tree is walked in exactly `depth`
     * branch-free steps and rows can be walked side by side. */
    int depth;
    int32_t *cfeat;     /* ntrees * inner */
    float *cthr;        /* ntrees * inner */
    /* When every split is x > t with t in [0, 1) and the features number at
     * most 63 (one-hot encodings), a 0/1 row is one 64-bit mask and a split
     * one bit test: cbit holds the bit of each node, ALWAYS_LEFT for the
     * always-left nodes (a bit no mask sets). NULL otherwise. */
    uint8_t *cbit;      /* ntrees * inner */
    float *cval;        /* ntrees * 2^depth */
} gbdt;

static int64_t tree_nodes(int depth) { return ((int64_t)1 << (depth + 1)) - 1; }

/* ------------------------------------------------------------ options */

static void gbdt_defaults(nl_pred_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->encoding = "onehot";
    o->loss = "mse";
    o->trees = 500;
    o->depth = 6;
    o->lr = 0.05;
    o->min_leaf = 2;
    o->subsample = 0.8;
}

/* The options fit reads, checked at create and again by fit. */
static int check_opts(const nl_pred_opts *o)
{
    if (o->trees < 1 || o->trees > MAX_TREES)
        return nl_err(NL_EINVAL, "gbdt: trees must be in 1..%d (got %d)", MAX_TREES, o->trees);
    if (o->depth < 1 || o->depth > MAX_DEPTH)
        return nl_err(NL_EINVAL, "gbdt: depth must be in 1..%d (got %d)", MAX_DEPTH, o->depth);
    if ((int64_t)o->trees * tree_nodes(o->depth) > MAX_NODES)
        return nl_err(NL_EINVAL,
                      "gbdt: %d trees of depth %d have %lld nodes, more than the limit of %d (use fewer trees or "
                      "a lower depth)",
                      o->trees, o->depth, (long long)((int64_t)o->trees * tree_nodes(o->depth)), MAX_NODES);
    if (!(isfinite(o->lr) && o->lr > 0)) return nl_err(NL_EINVAL, "gbdt: lr must be finite and > 0 (got %g)", o->lr);
    if (o->min_leaf < 1) return nl_err(NL_EINVAL, "gbdt: min_leaf must be >= 1 (got %d)", o->min_leaf);
    if (!(o->subsample > 0 && o->subsample <= 1))
        return nl_err(NL_EINVAL, "gbdt: subsample must be in (0, 1] (got %g)", o->subsample);
    return 0;
}

static void gbdt_free(nl_predictor *p)
{
    if (!p) return;
    gbdt *q = (gbdt *)p;
    nl_free(q->feat);
    nl_free(q->thr);
    nl_free(q->val);
    nl_free(q->xbuf);
    nl_free(q->mbuf);
    nl_free(q->cfeat);
    nl_free(q->cthr);
    nl_free(q->cbit);
    nl_free(q->cval);
    nl_free(q);
}

/* Forget the compiled model (the trees changed). */
static void uncompile(gbdt *q)
{
    nl_free(q->cfeat);
    nl_free(q->cthr);
    nl_free(q->cbit);
    nl_free(q->cval);
    q->cfeat = NULL;
    q->cthr = NULL;
    q->cbit = NULL;
    q->cval = NULL;
}

static int gbdt_create(nl_predictor **out, const nl_space *sp, const nl_pred_opts *o)
{
    *out = NULL;
    if (!sp) return nl_err(NL_EINVAL, "gbdt: no space given");
    const char *enc = o->encoding ? o->encoding : "onehot";
    int64_t numel;
    if (nl_space_encode_numel(sp, enc, &numel, NULL, NULL)) return nl_err_context(NL_EINVAL, "gbdt");
    const char *senc = NULL;
    for (int i = 0; sp->encodings && sp->encodings[i]; i++)
        if (strcmp(sp->encodings[i], enc) == 0) senc = sp->encodings[i];
    if (!senc) return nl_err(NL_EINVAL, "gbdt: encoding '%s' is not listed by space %s", enc, sp->name);
    const char *loss = o->loss ? o->loss : "mse";
    int pairwise;
    if (strcmp(loss, "pairwise") == 0) pairwise = 1;
    else if (strcmp(loss, "mse") == 0) pairwise = 0;
    else return nl_err(NL_EINVAL, "gbdt: unknown loss '%s' (known: mse, pairwise)", loss);
    int rc = check_opts(o);
    if (rc) return rc;
    gbdt *q = nl_calloc(1, sizeof *q);
    if (!q) return NL_ENOMEM;
    q->head.kind = &nl_pred_gbdt;
    q->head.space = sp;
    q->head.opts = *o;
    q->head.opts.encoding = senc;
    q->head.opts.loss = pairwise ? "pairwise" : "mse";
    memset(q->head.opts.members, 0, sizeof q->head.opts.members);
    q->numel = numel;
    q->pairwise = pairwise;
    *out = &q->head;
    return 0;
}

/* ------------------------------------------------------------ pairwise loss */

int nl_pairwise_grad_hess(double *g, double *h, const double *s, const double *y, int64_t n)
{
    if (n < 2) return nl_err(NL_EINVAL, "pairwise loss needs at least 2 scores (got %lld)", (long long)n);
    memset(g, 0, (size_t)n * sizeof *g);
    memset(h, 0, (size_t)n * sizeof *h);
    /* As nl_pairwise_loss: pair (i, j) adds softplus(-z), z = (s_i - s_j)
     * sign(y_i - y_j); d/ds_i = -sigmoid(-z) sign, d/ds_j the opposite, and
     * both second derivatives are sigmoid(z) sigmoid(-z) = e/(1+e)^2 with
     * e = exp(-|z|). */
    for (int64_t i = 0; i < n; i++) {
        const double si = s[i], yi = y[i];
        double gi = 0, hi = 0;
        for (int64_t j = i + 1; j < n; j++) {
            const double sg = yi > y[j] ? 1.0 : yi < y[j] ? -1.0 : 0.0;
            if (sg == 0) continue;
            const double z = (si - s[j]) * sg;
            const double e = exp(-fabs(z)), d = 1.0 + e;
            const double sig = z >= 0 ? e / d : 1.0 / d;
            const double hh = e / (d * d);
            gi -= sig * sg;
            g[j] += sig * sg;
            hi += hh;
            h[j] += hh;
        }
        g[i] += gi;
        h[i] += hi;
        if ((i & 255) == 255) {
            int rc = nl_progress_report(NULL, NULL, "fit", 0, 0);
            if (rc) return rc;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ binning */

/* The training set, binned: bin[r * F + f] is row r's bin of feature f;
 * the bins of feature f are hist slots off[f] .. off[f] + nb[f] - 1, and
 * thr[off[f] + b] splits bin b from bin b + 1. A row lists in ent[] the
 * slots of the features where it is not in the feature's most common bin
 * (mode[f]), rows at ent[start[r] .. start[r + 1]). */
typedef struct binned {
    int64_t n, F;
    uint8_t *bin;
    int32_t *off, *nb, *mode;
    float *thr;
    int64_t nslots;
    int64_t *start;
    int32_t *ent;
} binned;

static void binned_free(binned *b)
{
    nl_free(b->bin);
    nl_free(b->off);
    nl_free(b->nb);
    nl_free(b->mode);
    nl_free(b->thr);
    nl_free(b->start);
    nl_free(b->ent);
}

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* A float threshold t with lo <= t < hi: the midpoint, or lo when the
 * midpoint rounds up to hi (adjacent floats). */
static float split_between(float lo, float hi)
{
    float t = (float)(0.5 * ((double)lo + (double)hi));
    return t >= hi || t < lo ? lo : t;
}

static int bin_features(binned *b, const float *x, int64_t n, int64_t F)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    b->F = F;
    float *col = nl_malloc((size_t)n * sizeof *col), *upper = nl_malloc(MAX_BINS * sizeof *upper);
    int64_t *count = nl_malloc(MAX_BINS * sizeof *count);
    b->bin = nl_malloc((size_t)(n * F));
    b->off = nl_malloc((size_t)F * sizeof *b->off);
    b->nb = nl_malloc((size_t)F * sizeof *b->nb);
    b->mode = nl_malloc((size_t)F * sizeof *b->mode);
    b->thr = nl_malloc((size_t)F * MAX_BINS * sizeof *b->thr);
    b->start = nl_malloc((size_t)(n + 1) * sizeof *b->start);
    if (!col || !upper || !count || !b->bin || !b->off || !b->nb || !b->mode || !b->thr || !b->start) {
        nl_free(col);
        nl_free(upper);
        nl_free(count);
        binned_free(b);
        return NL_ENOMEM;
    }
    int64_t slots = 0, nent = 0;
    for (int64_t f = 0; f < F; f++) {
        for (int64_t r = 0; r < n; r++) col[r] = x[r * F + f];
        qsort(col, (size_t)n, sizeof *col, cmp_float);
        int64_t distinct = 1;
        for (int64_t r = 1; r < n; r++) distinct += col[r] != col[r - 1];
        /* Upper edges: every distinct value, or the values at 256 evenly
         * spaced ranks (deduplicated) when there are more. */
        int nbins = 0;
        if (distinct <= MAX_BINS) {
            for (int64_t r = 0; r < n; r++)
                if (r == 0 || col[r] != col[r - 1]) upper[nbins++] = col[r];
        } else {
            for (int k = 1; k <= MAX_BINS; k++) {
                float v = col[(int64_t)k * n / MAX_BINS - 1];
                if (nbins == 0 || v > upper[nbins - 1]) upper[nbins++] = v;
            }
        }
        b->off[f] = (int32_t)slots;
        b->nb[f] = nbins;
        /* The split after bin k: between its upper edge and the smallest
         * training value above it. */
        int64_t r = 0;
        for (int k = 0; k + 1 < nbins; k++) {
            while (r < n && col[r] <= upper[k]) r++;
            b->thr[slots + k] = split_between(upper[k], col[r]);
        }
        memset(count, 0, MAX_BINS * sizeof *count);
        for (int64_t i = 0; i < n; i++) {
            const float v = x[i * F + f];
            int lo = 0, hi = nbins - 1; /* first upper edge >= v */
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (upper[mid] >= v) hi = mid;
                else lo = mid + 1;
            }
            b->bin[i * F + f] = (uint8_t)lo;
            count[lo]++;
        }
        int mode = 0;
        for (int k = 1; k < nbins; k++)
            if (count[k] > count[mode]) mode = k;
        b->mode[f] = mode;
        nent += n - count[mode];
        slots += nbins;
    }
    b->nslots = slots;
    nl_free(col);
    nl_free(upper);
    nl_free(count);
    if (!(b->ent = nl_malloc((size_t)(nent > 0 ? nent : 1) * sizeof *b->ent))) {
        binned_free(b);
        return NL_ENOMEM;
    }
    int64_t e = 0;
    for (int64_t r = 0; r < n; r++) {
        b->start[r] = e;
        for (int64_t f = 0; f < F; f++) {
            const int k = b->bin[r * F + f];
            if (k != b->mode[f]) b->ent[e++] = b->off[f] + k;
        }
    }
    b->start[n] = e;
    return 0;
}

/* ------------------------------------------------------------ trees */

/* What growing one tree needs: the binned data, g and h of every row, the
 * histogram (G, H, count per slot) and a partition scratch. */
typedef struct grower {
    const binned *b;
    const double *g, *h;
    double lambda;
    int depth, min_leaf;
    double lr;
    double *G, *H;
    int64_t *C;
    int64_t *scratch;
    int32_t *feat; /* the tree being grown */
    float *thr, *val;
} grower;

static void make_leaf(grower *w, int64_t node, double G, double H)
{
    w->feat[node] = -1;
    w->val[node] = (float)(-w->lr * G / (H + w->lambda));
}

static double score(double G, double H, double lambda) { return G * G / (H + lambda); }

/* Grow node `node` (heap index) at level d on rows[0..m). */
static void grow(grower *w, int64_t node, int d, int64_t *rows, int64_t m)
{
    const binned *b = w->b;
    double G = 0, H = 0;
    for (int64_t i = 0; i < m; i++) {
        G += w->g[rows[i]];
        H += w->h[rows[i]];
    }
    if (d == w->depth || m < 2 * (int64_t)w->min_leaf) {
        make_leaf(w, node, G, H);
        return;
    }
    memset(w->G, 0, (size_t)b->nslots * sizeof *w->G);
    memset(w->H, 0, (size_t)b->nslots * sizeof *w->H);
    memset(w->C, 0, (size_t)b->nslots * sizeof *w->C);
    for (int64_t i = 0; i < m; i++) {
        const int64_t r = rows[i];
        const double gr = w->g[r], hr = w->h[r];
        for (int64_t e = b->start[r]; e < b->start[r + 1]; e++) {
            const int32_t s = b->ent[e];
            w->G[s] += gr;
            w->H[s] += hr;
            w->C[s]++;
        }
    }
    const double parent = score(G, H, w->lambda);
    double best = 0;
    int64_t bf = -1;
    int bk = 0;
    for (int64_t f = 0; f < b->F; f++) {
        const int nb = b->nb[f];
        if (nb < 2) continue;
        double *Gf = w->G + b->off[f], *Hf = w->H + b->off[f];
        int64_t *Cf = w->C + b->off[f];
        /* The most common bin holds what the others do not. */
        double gs = 0, hs = 0;
        int64_t cs = 0;
        for (int k = 0; k < nb; k++) {
            gs += Gf[k];
            hs += Hf[k];
            cs += Cf[k];
        }
        const int md = b->mode[f];
        Gf[md] = G - gs;
        Hf[md] = H - hs;
        Cf[md] = m - cs;
        double gl = 0, hl = 0;
        int64_t cl = 0;
        for (int k = 0; k + 1 < nb; k++) {
            gl += Gf[k];
            hl += Hf[k];
            cl += Cf[k];
            if (cl < w->min_leaf) continue;
            if (m - cl < w->min_leaf) break;
            const double gain = score(gl, hl, w->lambda) + score(G - gl, H - hl, w->lambda) - parent;
            if (gain > best) {
                best = gain;
                bf = f;
                bk = k;
            }
        }
    }
    if (bf < 0) {
        make_leaf(w, node, G, H);
        return;
    }
    /* Stable partition: left rows keep their order, then right rows. */
    int64_t nl = 0, nr = 0;
    for (int64_t i = 0; i < m; i++) {
        const int64_t r = rows[i];
        if (b->bin[r * b->F + bf] <= bk) rows[nl++] = r;
        else w->scratch[nr++] = r;
    }
    memcpy(rows + nl, w->scratch, (size_t)nr * sizeof *rows);
    w->feat[node] = (int32_t)bf;
    w->thr[node] = b->thr[b->off[bf] + bk];
    w->val[node] = 0;
    grow(w, 2 * node + 1, d + 1, rows, nl);
    grow(w, 2 * node + 2, d + 1, rows + nl, nr);
}

/* The value of one tree for one encoded arch. */
static inline float tree_value(const int32_t *feat, const float *thr, const float *val, const float *x)
{
    int64_t k = 0;
    while (feat[k] >= 0) k = 2 * k + 1 + (x[feat[k]] > thr[k]);
    return val[k];
}

/* ------------------------------------------------------------ fit */

static int check_fit(const nl_predictor *p, const nl_arch *archs, const double *y, int64_t n)
{
    if (n < 2) return nl_err(NL_EINVAL, "gbdt: fit needs at least 2 architectures (got %lld)", (long long)n);
    if (!archs || !y) return nl_err(NL_EINVAL, "gbdt: fit needs architectures and targets");
    for (int64_t i = 0; i < n; i++) {
        if (isnan(y[i])) return nl_err(NL_EINVAL, "gbdt: y[%lld] is NaN", (long long)i);
        if (isinf(y[i])) return nl_err(NL_EINVAL, "gbdt: y[%lld] is infinite", (long long)i);
    }
    for (int64_t i = 0; i < n; i++)
        if (archs[i].space != p->space)
            return nl_err(NL_EINVAL, "gbdt: arch %lld belongs to space %s, not %s", (long long)i,
                          archs[i].space ? archs[i].space->name : "(none)", p->space->name);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int gbdt_fit(nl_predictor *p, const nl_arch *archs, const double *y, int64_t n)
{
    gbdt *q = (gbdt *)p;
    const nl_pred_opts *o = &p->opts;
    int rc = check_fit(p, archs, y, n);
    if (!rc) rc = check_opts(o);
    if (rc) return rc;
    const int ntrees = o->trees, nodes = (int)tree_nodes(o->depth);
    const int64_t total = (int64_t)ntrees * nodes, F = q->numel;
    float *x = nl_malloc((size_t)(n * F) * sizeof *x);
    int32_t *feat = nl_malloc((size_t)total * sizeof *feat);
    float *thr = nl_calloc((size_t)total, sizeof *thr), *val = nl_calloc((size_t)total, sizeof *val);
    double *s = nl_malloc((size_t)n * sizeof *s), *g = nl_malloc((size_t)n * sizeof *g),
           *h = nl_malloc((size_t)n * sizeof *h);
    int64_t *perm = nl_malloc((size_t)n * sizeof *perm), *rows = nl_malloc((size_t)n * sizeof *rows),
            *scratch = nl_malloc((size_t)n * sizeof *scratch);
    binned b;
    memset(&b, 0, sizeof b);
    grower w;
    memset(&w, 0, sizeof w);
    if (!x || !feat || !thr || !val || !s || !g || !h || !perm || !rows || !scratch) {
        rc = NL_ENOMEM;
        goto out;
    }
    /* Encoding is the last check (an op out of range): until it passes,
     * an earlier fit stays in place. */
    if ((rc = nl_space_encode_batch(p->space, archs, n, o->encoding, x))) {
        rc = nl_err_context(rc, "gbdt");
        goto out;
    }
    p->fitted = 0;
    if ((rc = bin_features(&b, x, n, F))) goto out;
    w.b = &b;
    w.g = g;
    w.h = h;
    w.lambda = q->pairwise ? 1.0 : 0.0;
    w.depth = o->depth;
    w.min_leaf = o->min_leaf;
    w.lr = o->lr;
    w.scratch = scratch;
    if (!(w.G = nl_malloc((size_t)b.nslots * sizeof *w.G)) || !(w.H = nl_malloc((size_t)b.nslots * sizeof *w.H)) ||
        !(w.C = nl_malloc((size_t)b.nslots * sizeof *w.C))) {
        rc = NL_ENOMEM;
        goto out;
    }
    for (int64_t i = 0; i < total; i++) feat[i] = -1;

    double base = 0;
    if (!q->pairwise) {
        for (int64_t i = 0; i < n; i++) base += y[i];
        base /= (double)n;
    }
    for (int64_t i = 0; i < n; i++) {
        s[i] = base;
        perm[i] = i;
        h[i] = 1;
    }
    int64_t m = (int64_t)floor(o->subsample * (double)n + 0.5);
    if (m < 1) m = 1;
    if (m > n) m = n;
    nl_rng r;
    nl_rng_seed_stream(&r, o->seed, 0);
    for (int t = 0; t < ntrees; t++) {
        if (q->pairwise) {
            if ((rc = nl_pairwise_grad_hess(g, h, s, y, n))) goto out;
        } else {
            for (int64_t i = 0; i < n; i++) g[i] = s[i] - y[i];
        }
        /* The tree's rows: a uniform m-subset (partial Fisher-Yates over a
         * permutation kept between trees), in increasing order. */
        if (m < n)
            for (int64_t i = 0; i < m; i++) {
                int64_t j = i + (int64_t)nl_rng_below(&r, (uint64_t)(n - i));
                int64_t tmp = perm[i];
                perm[i] = perm[j];
                perm[j] = tmp;
            }
        memcpy(rows, perm, (size_t)m * sizeof *rows);
        if (m < n) qsort(rows, (size_t)m, sizeof *rows, cmp_i64);
        const int64_t off = (int64_t)t * nodes;
        w.feat = feat + off;
        w.thr = thr + off;
        w.val = val + off;
        grow(&w, 0, 0, rows, m);
        for (int64_t i = 0; i < n; i++) s[i] += (double)tree_value(w.feat, w.thr, w.val, x + i * F);
        if (!isfinite(s[0]))
            for (int64_t i = 0; i < n; i++)
                if (!isfinite(s[i])) {
                    rc = nl_err(NL_ERANGE, "gbdt: scores diverged at tree %d; try a lower lr", t + 1);
                    goto out;
                }
        const int report = (t + 1) % PROGRESS_EVERY == 0 || t + 1 == ntrees;
        if ((rc = nl_progress_report(report ? o->progress : NULL, o->progress_ud, "fit", t + 1, ntrees))) goto out;
    }
    nl_free(q->feat);
    nl_free(q->thr);
    nl_free(q->val);
    q->feat = feat;
    q->thr = thr;
    q->val = val;
    feat = NULL;
    thr = val = NULL;
    q->ntrees = ntrees;
    q->nodes = nodes;
    q->depth = o->depth;
    q->base = base;
    uncompile(q);
    p->fitted = 1;
out:
    nl_free(x);
    nl_free(feat);
    nl_free(thr);
    nl_free(val);
    nl_free(s);
    nl_free(g);
    nl_free(h);
    nl_free(perm);
    nl_free(rows);
    nl_free(scratch);
    nl_free(w.G);
    nl_free(w.H);
    nl_free(w.C);
    binned_free(&b);
    return rc;
}

/* ------------------------------------------------------------ predict */

/* Node k (depth d) of tree t into the compiled arrays; `v` is the value
 * carried down from a leaf above (dummy != 0). */
static void compile_node(gbdt *q, int64_t t, int64_t k, int d, int dummy, float v)
{
    const int64_t inner = ((int64_t)1 << q->depth) - 1, o = t * q->nodes;
    if (d == q->depth) {
        q->cval[t * (inner + 1) + (k - inner)] = dummy ? v : q->val[o + k];
        return;
    }
    int32_t *cf = q->cfeat + t * inner;
    float *ct = q->cthr + t * inner;
    if (dummy || q->feat[o + k] < 0) {
        cf[k] = 0;
        ct[k] = INFINITY;
        compile_node(q, t, 2 * k + 1, d + 1, 1, dummy ? v : q->val[o + k]);
        return;
    }
    cf[k] = q->feat[o + k];
    ct[k] = q->thr[o + k];
    compile_node(q, t, 2 * k + 1, d + 1, 0, 0);
    compile_node(q, t, 2 * k + 2, d + 1, 0, 0);
}

static int compile(gbdt *q)
{
    const int64_t inner = ((int64_t)1 << q->depth) - 1;
    q->cfeat = nl_calloc((size_t)(q->ntrees * inner), sizeof *q->cfeat);
    q->cthr = nl_malloc((size_t)(q->ntrees * inner) * sizeof *q->cthr);
    q->cval = nl_calloc((size_t)(q->ntrees * (inner + 1)), sizeof *q->cval);
    if (!q->cfeat || !q->cthr || !q->cval) {
        uncompile(q);
        return NL_ENOMEM;
    }
    for (int64_t i = 0; i < q->ntrees * inner; i++) q->cthr[i] = INFINITY; /* unreachable nodes */
    for (int64_t t = 0; t < q->ntrees; t++) compile_node(q, t, 0, 0, 0, 0);
    /* The bit form, when it says the same as the thresholds for 0/1 rows. */
    const int64_t nn = q->ntrees * inner;
    int bitwise = q->numel <= ALWAYS_LEFT;
    for (int64_t i = 0; i < nn && bitwise; i++)
        if (q->cthr[i] != INFINITY && !(q->cthr[i] >= 0.0f && q->cthr[i] < 1.0f)) bitwise = 0;
    if (bitwise && (q->cbit = nl_malloc((size_t)nn))) {
        for (int64_t i = 0; i < nn; i++)
            q->cbit[i] = q->cthr[i] == INFINITY ? ALWAYS_LEFT : (uint8_t)q->cfeat[i];
    }
    return 0;
}

/* Rows x[0..n) as bit masks; 0 when a feature is neither 0 nor 1. */
static int pack_bits(const gbdt *q, const float *x, int64_t n, uint64_t *m)
{
    const int64_t F = q->numel;
    for (int64_t r = 0; r < n; r++) {
        uint64_t b = 0;
        const float *xr = x + r * F;
        for (int64_t f = 0; f < F; f++) {
            if (xr[f] == 1.0f) b |= (uint64_t)1 << f;
            else if (xr[f] != 0.0f) return 0;
        }
        m[r] = b;
    }
    return 1;
}


/* Scores of rows [0, n) through the compiled model: base plus every tree's
 * value, in tree order, in double, as fit sums them; eight rows are walked
 * side by side (the loads of one hide in the shadow of the others'
 * latency). Rows are floats x (F each), or with `bits` the masks m of
 * pack_bits, where the split x > t is one bit test (x is 0 or 1 and t in
 * [0, 1), so the two forms take the same branches and give the same bits).
 * Always inlined with a constant `bits`, so each form is its own loop. */
static inline __attribute__((always_inline)) void walk_scores(const gbdt *q, const float *x, const uint64_t *m,
                                                              int64_t n, double *out, const int bits)
{
    enum { BLOCK = 64 };
    const int64_t inner = ((int64_t)1 << q->depth) - 1, F = q->numel;
    const int D = q->depth;
    for (int64_t b0 = 0; b0 < n; b0 += BLOCK) {
        const int64_t bn = n - b0 < BLOCK ? n - b0 : BLOCK;
        double *o = out + b0;
        for (int64_t r = 0; r < bn; r++) o[r] = q->base;
        for (int64_t t = 0; t < q->ntrees; t++) {
            const int32_t *cf = q->cfeat + t * inner;
            const float *ct = q->cthr + t * inner, *cv = q->cval + t * (inner + 1);
            const uint8_t *cb = bits ? q->cbit + t * inner : NULL;
            int64_t r = 0;
#define GO(row, k) (bits ? (int64_t)((m[b0 + (row)] >> cb[k]) & 1) : (int64_t)(x[(b0 + (row)) * F + cf[k]] > ct[k]))
#define STEP(i) k##i = 2 * k##i + 1 + GO(r + (i), k##i)
            for (; r + 8 <= bn; r += 8) {
                int64_t k0 = 0, k1 = 0, k2 = 0, k3 = 0, k4 = 0, k5 = 0, k6 = 0, k7 = 0;
                for (int d = 0; d < D; d++) {
                    STEP(0);
                    STEP(1);
                    STEP(2);
                    STEP(3);
                    STEP(4);
                    STEP(5);
                    STEP(6);
                    STEP(7);
                }
                o[r] += (double)cv[k0 - inner];
                o[r + 1] += (double)cv[k1 - inner];
                o[r + 2] += (double)cv[k2 - inner];
                o[r + 3] += (double)cv[k3 - inner];
                o[r + 4] += (double)cv[k4 - inner];
                o[r + 5] += (double)cv[k5 - inner];
                o[r + 6] += (double)cv[k6 - inner];
                o[r + 7] += (double)cv[k7 - inner];
            }
            for (; r < bn; r++) {
                int64_t k = 0;
                for (int d = 0; d < D; d++) k = 2 * k + 1 + GO(r, k);
                o[r] += (double)cv[k - inner];
            }
#undef STEP
#undef GO
        }
    }
}

static void compiled_scores(const gbdt *q, const float *x, int64_t n, double *out)
{
    walk_scores(q, x, NULL, n, out, 0);
}

static void bit_scores(const gbdt *q, const uint64_t *m, int64_t n, double *out)
{
    walk_scores(q, NULL, m, n, out, 1);
}

/* One predict worker: rows [lo, hi) of the call, encoded PREDICT_ROWS at a
 * time into its own buffer. Worker 0 runs on the caller's thread and alone
 * reports progress (its share times the worker count) and notices Ctrl-C;
 * the others stop at their next block once `stop` is set. */
typedef struct predict_job {
    const gbdt *q;
    const nl_arch *archs;
    double *out;
    int64_t lo, hi, n;
    int workers;
    float *xbuf;
    uint64_t *mbuf;     /* the block's rows as bit masks (PREDICT_ROWS) */
    int rc;
    char msg[256];
    volatile int *stop;
} predict_job;

static void *predict_worker(void *arg)
{
    predict_job *j = arg;
    const gbdt *q = j->q;
    for (int64_t c0 = j->lo; c0 < j->hi && !*j->stop; c0 += PREDICT_ROWS) {
        const int64_t bn = j->hi - c0 < PREDICT_ROWS ? j->hi - c0 : PREDICT_ROWS;
        int rc = nl_space_encode_batch(q->head.space, j->archs + c0, bn, q->head.opts.encoding, j->xbuf);
        if (!rc) {
            if (q->cbit && pack_bits(q, j->xbuf, bn, j->mbuf)) bit_scores(q, j->mbuf, bn, j->out + c0);
            else compiled_scores(q, j->xbuf, bn, j->out + c0);
        }
        else snprintf(j->msg, sizeof j->msg, "%s", nl_errmsg());
        if (!rc && j->lo == 0) {
            int64_t done = (c0 + bn) * j->workers;
            rc = nl_progress_report(NULL, NULL, "predict", done < j->n ? done : j->n, j->n);
            if (rc) snprintf(j->msg, sizeof j->msg, "%s", nl_errmsg());
        }
        if (rc) {
            j->rc = rc;
            *j->stop = 1;
        }
    }
    return NULL;
}

static int gbdt_predict(nl_predictor *p, const nl_arch *archs, int64_t n, double *out)
{
    gbdt *q = (gbdt *)p;
    if (!p->fitted) return nl_err(NL_EINVAL, "gbdt: predict before fit");
    if (n < 0) return nl_err(NL_EINVAL, "gbdt: negative count %lld", (long long)n);
    if (n == 0) return 0;
    if (!archs || !out) return nl_err(NL_EINVAL, "gbdt: predict needs architectures and an output array");
    for (int64_t i = 0; i < n; i++)
        if (archs[i].space != p->space)
            return nl_err(NL_EINVAL, "gbdt: arch %lld belongs to space %s, not %s", (long long)i,
                          archs[i].space ? archs[i].space->name : "(none)", p->space->name);
    if (!q->cfeat) {
        int rc = compile(q);
        if (rc) return rc;
    }
    /* Rows split into one contiguous range per worker (at least 1,024 rows
     * each); every row's score is the same whatever the split. */
    int workers = p->opts.threads < 1 ? 1 : p->opts.threads;
    if (workers > PREDICT_MAX_THREADS) workers = PREDICT_MAX_THREADS;
    if ((int64_t)workers * 1024 > n) workers = (int)((n + 1023) / 1024);
    const size_t bufn = (size_t)(PREDICT_ROWS * q->numel);
    if (q->xbuf_workers < workers) {
        float *b = nl_malloc((size_t)workers * bufn * sizeof *b);
        uint64_t *mb = nl_malloc((size_t)workers * PREDICT_ROWS * sizeof *mb);
        if (!b || !mb) {
            nl_free(b);
            nl_free(mb);
            return NL_ENOMEM;
        }
        nl_free(q->xbuf);
        nl_free(q->mbuf);
        q->xbuf = b;
        q->mbuf = mb;
        q->xbuf_workers = workers;
    }
    predict_job jobs[PREDICT_MAX_THREADS];
    pthread_t tid[PREDICT_MAX_THREADS];
    volatile int stop = 0;
    int started = 1;
    for (int w = 0; w < workers; w++)
        jobs[w] = (predict_job){ .q = q, .archs = archs, .out = out, .lo = n * w / workers,
                                 .hi = n * (w + 1) / workers, .n = n, .workers = workers,
                                 .xbuf = q->xbuf + (size_t)w * bufn,
                                 .mbuf = q->mbuf + (size_t)w * PREDICT_ROWS, .stop = &stop };
    for (int w = 1; w < workers; w++, started++)
        if (pthread_create(&tid[w], NULL, predict_worker, &jobs[w])) break;
    /* A worker that could not start is done here, after worker 0's rows. */
    predict_worker(&jobs[0]);
    for (int w = started; w < workers; w++) predict_worker(&jobs[w]);
    for (int w = 1; w < started; w++) pthread_join(tid[w], NULL);
    for (int w = 0; w < workers; w++)
        if (jobs[w].rc) {
            if (jobs[w].rc == NL_EINTR) return nl_err(NL_EINTR, "%s", jobs[w].msg);
            return nl_err(jobs[w].rc, "gbdt: %s", jobs[w].msg);
        }
    return 0;
}

/* ------------------------------------------------------------ save, load */

/* The three records of a model: split features (as floats: exact below
 * 2^24), thresholds, leaf values, each of shape [trees, nodes]. */
static int model_params(nl_param a[3], int trees, int nodes)
{
    const int64_t shape[2] = { trees, nodes };
    static const char *const names[3] = { "gbdt.feature", "gbdt.threshold", "gbdt.value" };
    memset(a, 0, 3 * sizeof *a);
    for (int i = 0; i < 3; i++) {
        snprintf(a[i].name, sizeof a[i].name, "%s", names[i]);
        if (!(a[i].w = nl_tensor_new(2, shape))) {
            for (int k = 0; k < i; k++) nl_tensor_free(a[k].w);
            return NL_ENOMEM;
        }
    }
    return 0;
}

static void params_free(nl_param a[3])
{
    for (int i = 0; i < 3; i++) nl_tensor_free(a[i].w);
}

static int gbdt_save(const nl_predictor *p, const char *path)
{
    const gbdt *q = (const gbdt *)p;
    const nl_pred_opts *o = &p->opts;
    if (!p->fitted) return nl_err(NL_EINVAL, "gbdt: save before fit");
    if (!path || !*path) return nl_err(NL_EINVAL, "gbdt: save needs a path");
    nl_ckpt_extra e;
    memset(&e, 0, sizeof e);
    int rc;
    if ((rc = nl_ckpt_extra_set_str(&e, "kind", "gbdt")) ||
        (rc = nl_ckpt_extra_set_str(&e, "space", p->space->name)) ||
        (rc = nl_ckpt_extra_set_str(&e, "encoding", o->encoding)) ||
        (rc = nl_ckpt_extra_set_str(&e, "loss", o->loss)) ||
        (rc = nl_ckpt_extra_set_int(&e, "seed", (int64_t)o->seed)) ||
        (rc = nl_ckpt_extra_set_int(&e, "trees", q->ntrees)) ||
        (rc = nl_ckpt_extra_set_int(&e, "depth", o->depth)) ||
        (rc = nl_ckpt_extra_set_int(&e, "min_leaf", o->min_leaf)) ||
        (rc = nl_ckpt_extra_set_real(&e, "subsample", o->subsample)) ||
        (rc = nl_ckpt_extra_set_real(&e, "lr", o->lr)) || (rc = nl_ckpt_extra_set_real(&e, "base", q->base)))
        return nl_err_context(rc, "gbdt");
    nl_param a[3];
    if ((rc = model_params(a, q->ntrees, q->nodes))) return rc;
    const int64_t total = (int64_t)q->ntrees * q->nodes;
    float *fd = nl_tensor_data(a[0].w);
    for (int64_t i = 0; i < total; i++) fd[i] = (float)q->feat[i];
    memcpy(nl_tensor_data(a[1].w), q->thr, (size_t)total * sizeof(float));
    memcpy(nl_tensor_data(a[2].w), q->val, (size_t)total * sizeof(float));
    rc = nl_ckpt_save(path, a, 3, NULL, NULL, 0, &e);
    params_free(a);
    return rc ? nl_err_context(rc, "gbdt") : 0;
}

static int expect_str(const nl_ckpt_extra *e, const char *path, const char *name, const char *want, const char *what)
{
    const char *v;
    if (nl_ckpt_extra_get_str(e, name, &v))
        return nl_err(NL_EFORMAT, "gbdt: checkpoint %s is not a predictor (no value '%s')", path, name);
    if (strcmp(v, want) != 0)
        return nl_err(NL_EINVAL, "gbdt: checkpoint %s holds a predictor %s '%s', not '%s'", path, what, v, want);
    return 0;
}

static int gbdt_load(nl_predictor *p, const char *path)
{
    gbdt *q = (gbdt *)p;
    const nl_pred_opts *o = &p->opts;
    if (!path || !*path) return nl_err(NL_EINVAL, "gbdt: load needs a path");
    int rc = check_opts(o);
    if (rc) return rc;
    const int nodes = (int)tree_nodes(o->depth);
    const int64_t total = (int64_t)o->trees * nodes;
    nl_param a[3];
    if ((rc = model_params(a, o->trees, nodes))) return rc;
    nl_ckpt_extra e;
    memset(&e, 0, sizeof e);
    int32_t *feat = NULL;
    float *thr = NULL, *val = NULL;
    if ((rc = nl_ckpt_load(path, a, 3, NULL, NULL, 0, &e))) {
        if (rc == NL_ENOTFOUND || rc == NL_ESHAPE) {
            char why[512], prefix[1100];
            snprintf(prefix, sizeof prefix, "checkpoint %s: ", path);
            const char *msg = nl_errmsg();
            if (strncmp(msg, prefix, strlen(prefix)) == 0) msg += strlen(prefix);
            snprintf(why, sizeof why, "%s", msg);
            rc = nl_err(rc, "gbdt: checkpoint %s holds another kind, space or shape of predictor (%s)", path, why);
        } else {
            rc = nl_err_context(rc, "gbdt");
        }
        goto out;
    }
    if ((rc = expect_str(&e, path, "kind", "gbdt", "of kind")) ||
        (rc = expect_str(&e, path, "space", p->space->name, "for space")) ||
        (rc = expect_str(&e, path, "encoding", o->encoding, "on encoding")))
        goto out;
    const char *loss;
    int64_t seed, min_leaf;
    double subsample, lr, base;
    if (nl_ckpt_extra_get_str(&e, "loss", &loss) || nl_ckpt_extra_get_int(&e, "seed", &seed) ||
        nl_ckpt_extra_get_int(&e, "min_leaf", &min_leaf) || nl_ckpt_extra_get_real(&e, "subsample", &subsample) ||
        nl_ckpt_extra_get_real(&e, "lr", &lr) || nl_ckpt_extra_get_real(&e, "base", &base)) {
        rc = nl_err(NL_EFORMAT, "gbdt: checkpoint %s: %s", path, nl_errmsg());
        goto out;
    }
    const int pairwise = strcmp(loss, "pairwise") == 0;
    if (!pairwise && strcmp(loss, "mse") != 0) {
        rc = nl_err(NL_EFORMAT, "gbdt: checkpoint %s: unknown loss '%s'", path, loss);
        goto out;
    }
    if (!isfinite(base)) {
        rc = nl_err(NL_EFORMAT, "gbdt: checkpoint %s: base score %g is not finite", path, base);
        goto out;
    }
    /* The trees must be trees: features in range, splits only above the
     * last level, finite numbers. */
    if (!(feat = nl_malloc((size_t)total * sizeof *feat)) || !(thr = nl_malloc((size_t)total * sizeof *thr)) ||
        !(val = nl_malloc((size_t)total * sizeof *val))) {
        rc = NL_ENOMEM;
        goto out;
    }
    const float *fd = nl_tensor_data(a[0].w);
    memcpy(thr, nl_tensor_data(a[1].w), (size_t)total * sizeof *thr);
    memcpy(val, nl_tensor_data(a[2].w), (size_t)total * sizeof *val);
    const int64_t inner = tree_nodes(o->depth - 1); /* nodes that may split */
    for (int64_t i = 0; i < total; i++) {
        const float f = fd[i];
        const int64_t k = i % nodes;
        if (!(f == -1 || (f >= 0 && f < (float)q->numel && f == floorf(f) && k < inner)) || !isfinite(thr[i]) ||
            !isfinite(val[i])) {
            rc = nl_err(NL_EFORMAT, "gbdt: checkpoint %s: corrupt tree %lld (node %lld)", path,
                        (long long)(i / nodes + 1), (long long)k);
            goto out;
        }
        feat[i] = (int32_t)f;
    }
    nl_free(q->feat);
    nl_free(q->thr);
    nl_free(q->val);
    q->feat = feat;
    q->thr = thr;
    q->val = val;
    feat = NULL;
    thr = val = NULL;
    q->ntrees = o->trees;
    q->nodes = nodes;
    q->depth = o->depth;
    q->base = base;
    uncompile(q);
    q->pairwise = pairwise;
    p->opts.loss = pairwise ? "pairwise" : "mse";
    p->opts.seed = (uint64_t)seed;
    p->opts.min_leaf = (int)min_leaf;
    p->opts.subsample = subsample;
    p->opts.lr = lr;
    p->fitted = 1;
out:
    params_free(a);
    nl_free(feat);
    nl_free(thr);
    nl_free(val);
    return rc;
}

const nl_predictor_kind nl_pred_gbdt = {
    .name = "gbdt",
    .title = "gradient-boosted regression trees on a flat encoding, MSE or pairwise loss (baseline)",
    .defaults = gbdt_defaults,
    .create = gbdt_create,
    .fit = gbdt_fit,
    .predict = gbdt_predict,
    .save = gbdt_save,
    .load = gbdt_load,
    .free = gbdt_free,
};
