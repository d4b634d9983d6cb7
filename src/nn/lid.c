/* SPDX-License-Identifier: GPL-3.0-or-later */
/* lid.c - NAS-LID's estimator, similarities, min-cut and split criterion (see
 * lid.h). The neighbour distances come from one cblas_dsyrk per layer; the
 * k-nearest selection, the similarities and the exhaustive partition are
 * written here, as they are a few lines each over tiny matrices. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/progress.h"
#include "nn/lid.h"
#include "nn/nb201net.h"
#include "nn/nn.h"

int nl_lid_sim_parse(const char *s, nl_lid_sim *out)
{
    if (!strcmp(s, "cosine")) *out = NL_LID_COSINE;
    else if (!strcmp(s, "correlation")) *out = NL_LID_CORRELATION;
    else if (!strcmp(s, "invdist")) *out = NL_LID_INVDIST;
    else return nl_err(NL_EINVAL, "similarity must be cosine, correlation or invdist (got '%s')", s);
    return 0;
}

/* ------------------------------------------------------------ estimator */

int nl_lid_mle(const nl_tensor *x, int k, double *lid)
{
    *lid = NAN;
    if (x->ndim < 1) return nl_err(NL_EINVAL, "lid: x must have at least one dimension");
    int64_t n = x->shape[0], d = n ? nl_tensor_numel(x) / n : 0;
    if (k < 1) return nl_err(NL_EINVAL, "lid: k must be >= 1 (got %d)", k);
    if (k >= n) return nl_err(NL_EINVAL, "lid: k (%d) must be less than the number of points (%lld)", k, (long long)n);
    if (d < 1) return nl_err(NL_EINVAL, "lid: points have no coordinates");
    double *X = malloc((size_t)(n * d) * sizeof *X), *G = malloc((size_t)(n * n) * sizeof *G),
           *row = malloc((size_t)k * sizeof *row);
    nl_tensor *cx = NULL;
    int rc = 0;
    if (!X || !G || !row) {
        rc = nl_err(NL_ENOMEM, "lid: out of memory for %lld points of %lld values", (long long)n, (long long)d);
        goto done;
    }
    if (nl_tensor_is_contiguous(x)) {
        const float *s = nl_tensor_data((nl_tensor *)x);
        for (int64_t i = 0; i < n * d; i++) X[i] = s[i];
    } else {
        if ((rc = nl_tensor_contiguous(&cx, x))) goto done;
        const float *s = nl_tensor_data(cx);
        for (int64_t i = 0; i < n * d; i++) X[i] = s[i];
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)d, 1.0, X, (int)d, 0.0, G, (int)n);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        /* the k smallest squared distances, kept sorted by insertion */
        int m = 0;
        for (int64_t j = 0; j < n; j++) {
            if (j == i) continue;
            double gij = i < j ? G[i * n + j] : G[j * n + i];
            double d2 = G[i * n + i] + G[j * n + j] - 2 * gij;
            if (d2 < 0) d2 = 0;
            if (m == k && d2 >= row[k - 1]) continue;
            int p = m < k ? m++ : k - 1;
            while (p > 0 && row[p - 1] > d2) {
                row[p] = row[p - 1];
                p--;
            }
            row[p] = d2;
        }
        for (int j = 0; j < k; j++) row[j] = sqrt(row[j]);
        double dk = row[k - 1], s = 0;
        for (int j = 0; j < k; j++) s += log(row[j] / (dk + 1e-6));
        sum += -k / (s + 1e-6);
    }
    *lid = sum / (double)n;
done:
    nl_tensor_free(cx);
    free(X);
    free(G);
    free(row);
    return rc;
}

/* ------------------------------------------------------------ similarity */

int nl_lid_similarity(double *S, const double *f, int n, int dim, nl_lid_sim kind)
{
    if (n < 1 || dim < 1)
        return nl_err(NL_EINVAL, "similarity: needs at least one vector of one value (got %d x %d)", n, dim);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            const double *u = f + (size_t)i * dim, *v = f + (size_t)j * dim;
            double s = 0;
            if (kind == NL_LID_INVDIST) {
                double d2 = 0;
                for (int t = 0; t < dim; t++) d2 += (u[t] - v[t]) * (u[t] - v[t]);
                s = 1.0 / (1.0 + sqrt(d2));
            } else {
                double mu = 0, mv = 0;
                if (kind == NL_LID_CORRELATION) {
                    for (int t = 0; t < dim; t++) mu += u[t], mv += v[t];
                    mu /= dim;
                    mv /= dim;
                }
                double uv = 0, uu = 0, vv = 0;
                for (int t = 0; t < dim; t++) {
                    double a = u[t] - mu, b = v[t] - mv;
                    uv += a * b;
                    uu += a * a;
                    vv += b * b;
                }
                s = uu > 0 && vv > 0 ? uv / sqrt(uu * vv) : 0;
            }
            S[i * n + j] = s;
        }
    return 0;
}

/* ------------------------------------------------------------ min-cut */

int nl_lid_mincut(const double *S, int n, uint8_t *group, double *cut)
{
    if (n < 2 || n > 16) return nl_err(NL_EINVAL, "mincut: the number of items must be in 2..16 (got %d)", n);
    int small = n / 2;
    double total = 0, best = -INFINITY;
    unsigned bestset = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) total += S[i * n + j];
    /* subsets of size `small` in lexicographic order of their members */
    int idx[16];
    for (int i = 0; i < small; i++) idx[i] = i;
    for (;;) {
        unsigned set = 0;
        for (int i = 0; i < small; i++) set |= 1u << idx[i];
        if (!(2 * small == n && !(set & 1u))) { /* even n: each partition once, item 0 in the first group */
            double intra = 0;
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++)
                    if (!((set >> i) & 1u) == !((set >> j) & 1u)) intra += S[i * n + j];
            if (intra > best) {
                best = intra;
                bestset = set;
            }
        }
        int p = small - 1;
        while (p >= 0 && idx[p] == n - small + p) p--;
        if (p < 0) break;
        idx[p]++;
        for (int i = p + 1; i < small; i++) idx[i] = idx[i - 1] + 1;
    }
    for (int i = 0; i < n; i++) group[i] = (bestset >> i) & 1u ? 0 : 1;
    *cut = total - best;
    return 0;
}

/* ------------------------------------------------------------ spectral */

/* LAPACK's symmetric eigensolver, as OpenBLAS exports it (gfortran ABI: the
 * lengths of the two character arguments trail the list). */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                   double *work, const int *lwork, int *info, size_t ljobz, size_t luplo);

int nl_lid_spectral(const double *S, int n, uint8_t *group, double *score)
{
    if (n < 2 || n > 16) return nl_err(NL_EINVAL, "spectral: the number of items must be in 2..16 (got %d)", n);
    double A[256], dinv[16], w[16], work[16 * 16 * 4], v[16];
    for (int i = 0; i < n; i++) {
        double deg = 0;
        for (int j = 0; j < n; j++) deg += S[i * n + j] + 1;
        if (!(deg > 0)) return nl_err(NL_EINVAL, "spectral: item %d has no positive affinity (degree %g)", i + 1, deg);
        dinv[i] = 1 / sqrt(deg);
    }
    /* column-major = row-major for a symmetric matrix */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) A[i * n + j] = (i == j) - dinv[i] * (S[i * n + j] + 1) * dinv[j];
    int lwork = (int)(sizeof work / sizeof *work), info = 0;
    dsyev_("V", "U", &n, A, &n, w, work, &lwork, &info, 1, 1);
    if (info) return nl_err(NL_EINVAL, "spectral: the eigensolver failed (info %d)", info);
    /* eigenvalues ascend: column 1 holds the Fiedler vector */
    for (int i = 0; i < n; i++) v[i] = A[1 * n + i] * dinv[i];
    /* exact 1-D 2-means: the best threshold between sorted values */
    int ord[16];
    for (int i = 0; i < n; i++) ord[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[ord[j]] < v[ord[j - 1]]; j--) {
            int t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    double best = INFINITY;
    int cut = 1;
    for (int c = 1; c < n; c++) {
        double sse = 0;
        for (int part = 0; part < 2; part++) {
            int lo = part ? c : 0, hi = part ? n : c;
            double m = 0;
            for (int i = lo; i < hi; i++) m += v[ord[i]];
            m /= hi - lo;
            for (int i = lo; i < hi; i++) sse += (v[ord[i]] - m) * (v[ord[i]] - m);
        }
        if (sse < best - 1e-15) {
            best = sse;
            cut = c;
        }
    }
    uint8_t lowside[16];
    for (int i = 0; i < n; i++) lowside[ord[i]] = i < cut;
    int nlow = cut;
    uint8_t small = 2 * nlow < n || (2 * nlow == n && lowside[0]);
    for (int i = 0; i < n; i++) group[i] = lowside[i] == small ? 0 : 1;
    double sc = 0;
    for (int g = 0; g < 2; g++) {
        double s = 0;
        int cnt = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (group[i] == g && group[j] == g) {
                    s += S[i * n + j];
                    cnt++;
                }
        sc += s / cnt / 2;
    }
    *score = sc;
    return 0;
}

/* ------------------------------------------------------------ criterion */

void nl_lid_defaults(nl_lid_opts *o)
{
    memset(o, 0, sizeof *o);
    o->criterion = NL_LID_CRIT_LID;
    o->sim = NL_LID_COSINE;
    o->repeat = 10;
    o->batch = 128;
    o->k = 20;
}

/* A training-mode forward that leaves the running statistics alone. */
static int forward_batchstats(nl_model *m, nl_nn_ctx *c, const nl_tensor *x, const nl_tensor **logits)
{
    double saved = m->bn_momentum;
    m->bn_momentum = 0;
    int rc = m->vt->forward(m, c, x, 1, logits);
    m->bn_momentum = saved;
    return rc;
}

int nl_lid_features(nl_model *m, nl_nn_ctx *c, const nl_tensor *x, const uint8_t ops[6], int k, double *lid,
                    int *nlayers)
{
    if (!nl_nb201net_is_supernet(m)) return nl_err(NL_EINVAL, "lid: the model is not an nb201 supernet");
    if (nl_nb201net_layers(m, NULL) > 3 * 64 + 2) return nl_err(NL_EINVAL, "lid: at most 64 cells per stage");
    int rc = nl_nb201net_set_cell(m, ops);
    const nl_tensor *logits, *layers[3 * 64 + 2];
    if (rc || (rc = forward_batchstats(m, c, x, &logits))) return rc;
    int L = nl_nb201net_layers(m, layers);
    if (L < 0) return L;
    for (int i = 0; i < L; i++)
        if ((rc = nl_lid_mle(layers[i], k, &lid[i]))) return rc;
    *nlayers = L;
    return 0;
}

/* Which params a gradient feature holds: edge[i] = the edge of a cell op's
 * param, -1 for the rest; fc[i] = the classifier. */
static void param_roles(const nl_model *m, int *edge, uint8_t *fc)
{
    for (int i = 0; i < m->nparams; i++) {
        const char *nm = m->params[i].name;
        int ci, e;
        edge[i] = sscanf(nm, "cell%d.e%d.", &ci, &e) == 2 ? e : -1;
        fc[i] = !strncmp(nm, "head.fc.", 8);
    }
}

/* The flattened gradient of the mean loss w.r.t. the active params of the
 * other edges and the classifier, for the current cell, into g (grown as
 * needed; *len its length). */
static int grad_feature(nl_model *m, nl_nn_ctx *c, const nl_tensor *x, const int32_t *labels, nl_tensor *dlogits,
                        const int *edge, const uint8_t *fc, int e, float **g, int64_t *len, int64_t *cap)
{
    const nl_tensor *logits;
    double loss;
    int rc;
    for (int i = 0; i < m->nparams; i++)
        if (m->active[i]) nl_tensor_fill(m->params[i].g, 0.0f);
    if ((rc = forward_batchstats(m, c, x, &logits)) ||
        (rc = nl_softmax_xent(&loss, NULL, dlogits, logits, labels)) || (rc = m->vt->backward(m, c, dlogits)))
        return rc;
    int64_t n = 0;
    for (int i = 0; i < m->nparams; i++)
        if (m->active[i] && (fc[i] || (edge[i] >= 0 && edge[i] != e))) n += nl_tensor_numel(m->params[i].g);
    if (n > *cap) {
        float *ng = realloc(*g, (size_t)n * sizeof *ng);
        if (!ng) return nl_err(NL_ENOMEM, "lid: out of memory for a gradient of %lld values", (long long)n);
        *g = ng;
        *cap = n;
    }
    n = 0;
    for (int i = 0; i < m->nparams; i++)
        if (m->active[i] && (fc[i] || (edge[i] >= 0 && edge[i] != e))) {
            int64_t t = nl_tensor_numel(m->params[i].g);
            memcpy(*g + n, nl_tensor_data(m->params[i].g), (size_t)t * sizeof **g);
            n += t;
        }
    *len = n;
    return 0;
}

/* The similarity of gradient vectors, accumulated in double. */
static void grad_similarity(double *S, float *const *g, int64_t len, nl_lid_sim kind)
{
    for (int i = 0; i < NL_LID_OPS; i++)
        for (int j = i; j < NL_LID_OPS; j++) {
            double s = 0;
            const float *u = g[i], *v = g[j];
            if (kind == NL_LID_INVDIST) {
                double d2 = 0;
                for (int64_t t = 0; t < len; t++) d2 += ((double)u[t] - v[t]) * ((double)u[t] - v[t]);
                s = 1.0 / (1.0 + sqrt(d2));
            } else {
                double mu = 0, mv = 0;
                if (kind == NL_LID_CORRELATION && len > 0) {
                    for (int64_t t = 0; t < len; t++) mu += u[t], mv += v[t];
                    mu /= (double)len;
                    mv /= (double)len;
                }
                double uv = 0, uu = 0, vv = 0;
                for (int64_t t = 0; t < len; t++) {
                    double a = u[t] - mu, b = v[t] - mv;
                    uv += a * b;
                    uu += a * a;
                    vv += b * b;
                }
                s = uu > 0 && vv > 0 ? uv / sqrt(uu * vv) : 0;
            }
            S[i * NL_LID_OPS + j] = S[j * NL_LID_OPS + i] = s;
        }
}

int nl_lid_criterion(nl_model *m, nl_nn_ctx *c, const nl_dataset *d, const uint8_t mask[6], const nl_lid_opts *o,
                     nl_lid_result *res)
{
    memset(res, 0, sizeof *res);
    res->best = -1;
    if (!nl_nb201net_is_supernet(m)) return nl_err(NL_EINVAL, "lid: the model is not an nb201 supernet");
    if (nl_nb201net_layers(m, NULL) > 3 * 64 + 2) return nl_err(NL_EINVAL, "lid: at most 64 cells per stage");
    int rc = nl_nb201net_check_mask(mask);
    if (rc) return rc;
    if (o->repeat < 1) return nl_err(NL_EINVAL, "lid: repeat must be >= 1 (got %d)", o->repeat);
    if (o->k < 1) return nl_err(NL_EINVAL, "lid: k must be >= 1 (got %d)", o->k);
    if (o->batch < 2 || (o->criterion == NL_LID_CRIT_LID && o->batch <= o->k))
        return nl_err(NL_EINVAL, "lid: batch (%d) must exceed k (%d) and be at least 2", o->batch, o->k);
    if (d->n < o->batch)
        return nl_err(NL_EINVAL, "lid: the data set has %lld examples, fewer than batch (%d)", (long long)d->n,
                      o->batch);
    if (d->nclasses > m->classes)
        return nl_err(NL_ESHAPE, "lid: the data set has %d classes but the network has %d outputs", d->nclasses,
                      m->classes);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int e = 0; e < 6; e++) res->edge[e].candidate = mask[e] == NL_LID_ALL;

    uint8_t keep[6];
    nl_nb201net_cell(m, keep);
    int64_t s4[4] = { o->batch, d->c, d->h, d->w }, s2[2] = { o->batch, m->classes };
    nl_tensor *x = nl_tensor_new(4, s4), *dlogits = nl_tensor_new(2, s2);
    int32_t *labels = malloc((size_t)o->batch * sizeof *labels);
    int64_t *idx = malloc((size_t)o->batch * sizeof *idx);
    int *edge = malloc((size_t)m->nparams * sizeof *edge);
    uint8_t *fc = malloc((size_t)m->nparams);
    int L = 0;
    const nl_tensor *tmp[3 * 64 + 2];
    double *feat = calloc((size_t)NL_LID_OPS * (3 * 64 + 2), sizeof *feat);
    float *g[NL_LID_OPS] = { 0 };
    int64_t glen = 0, gcap[NL_LID_OPS] = { 0 };
    double S[NL_LID_OPS * NL_LID_OPS];
    nl_rng r;
    nl_rng_seed_stream(&r, o->seed, 8);
    if (!x || !dlogits || !labels || !idx || !edge || !fc || !feat) {
        rc = nl_err(NL_ENOMEM, "lid: out of memory");
        goto done;
    }
    param_roles(m, edge, fc);
    res->scratch_bytes = (int64_t)nl_tensor_numel(x) * 4 + (int64_t)NL_LID_OPS * (3 * 64 + 2) * 8;
    for (int rep = 0; rep < o->repeat && !rc; rep++) {
        for (int i = 0; i < o->batch; i++) idx[i] = (int64_t)nl_rng_below(&r, (uint64_t)d->n);
        uint8_t base[6];
        if ((rc = nl_dataset_batch(d, idx, o->batch, x, labels)) || (rc = nl_nb201net_sample_masked(mask, &r, base)))
            break;
        for (int e = 0; e < 6 && !rc; e++) {
            if (!res->edge[e].candidate) continue;
            for (int k = 0; k < NL_LID_OPS && !rc; k++) {
                uint8_t ops[6];
                memcpy(ops, base, 6);
                ops[e] = (uint8_t)k;
                if (o->criterion == NL_LID_CRIT_LID) {
                    rc = nl_lid_features(m, c, x, ops, o->k, feat + (size_t)k * (3 * 64 + 2), &L);
                } else {
                    int64_t len = 0;
                    if (!(rc = nl_nb201net_set_cell(m, ops)))
                        rc = grad_feature(m, c, x, labels, dlogits, edge, fc, e, &g[k], &len, &gcap[k]);
                    glen = len;
                }
                res->forwards++;
                if (!rc) rc = nl_progress_report(NULL, NULL, "lid criterion", rep + 1, o->repeat);
            }
            if (rc) break;
            if (o->criterion == NL_LID_CRIT_LID) {
                /* rows of feat are (3*64+2) apart: pack them to L columns */
                double packed[NL_LID_OPS * (3 * 64 + 2)];
                for (int k = 0; k < NL_LID_OPS; k++)
                    memcpy(packed + k * L, feat + (size_t)k * (3 * 64 + 2), (size_t)L * sizeof *packed);
                rc = nl_lid_similarity(S, packed, NL_LID_OPS, L, o->sim);
            } else {
                grad_similarity(S, g, glen, o->sim);
                int64_t gb = 0;
                for (int k = 0; k < NL_LID_OPS; k++) gb += gcap[k] * 4;
                gb += (int64_t)nl_tensor_numel(x) * 4;
                if (gb > res->scratch_bytes) res->scratch_bytes = gb;
            }
            for (int t = 0; t < NL_LID_OPS * NL_LID_OPS; t++) res->edge[e].S[t] += S[t] / o->repeat;
        }
    }
    if (!rc && o->criterion == NL_LID_CRIT_LID) {
        /* the estimator's own scratch for the widest layer: X (n x d) and G (n x n) in double */
        int64_t widest = 0;
        int n = nl_nb201net_layers(m, tmp);
        for (int i = 0; i < n; i++) {
            int64_t w = nl_tensor_numel(tmp[i]) / o->batch;
            if (w > widest) widest = w;
        }
        res->scratch_bytes += (int64_t)o->batch * (widest + o->batch + 1) * 8;
    }
    if (!rc) {
        double best = -INFINITY;
        for (int e = 0; e < 6; e++) {
            nl_lid_edge *ed = &res->edge[e];
            if (!ed->candidate) continue;
            rc = o->partition == NL_LID_SPECTRAL ? nl_lid_spectral(ed->S, NL_LID_OPS, ed->group, &ed->score)
                                                 : nl_lid_mincut(ed->S, NL_LID_OPS, ed->group, &ed->score);
            if (rc) break;
            if (ed->score > best) {
                best = ed->score;
                res->best = e;
            }
        }
    }
done:
    if (o->criterion == NL_LID_CRIT_GRAD)
        for (int i = 0; i < m->nparams; i++) nl_tensor_fill(m->params[i].g, 0.0f);
    nl_nb201net_set_cell(m, keep);
    for (int k = 0; k < NL_LID_OPS; k++) free(g[k]);
    nl_tensor_free(x);
    nl_tensor_free(dlogits);
    free(labels);
    free(idx);
    free(edge);
    free(fc);
    free(feat);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return rc;
}
