/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dataset.c - image data sets from IDX files and scikit-learn's digits (see
 * dataset.h). A load keeps the raw arrays (IDX files, or the digits parsed
 * into the same nl_idx form in memory) only while it selects examples and
 * computes statistics, then writes each chosen image once into the final
 * float tensor: ubyte pixels go through a 256-entry table per channel that
 * folds scaling, normalisation and nothing else, so the full Fashion-MNIST
 * training set converts in a few tens of milliseconds. */
#include "data/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "data/csv.h"
#include "data/idx.h"

const char *const nl_fashion_mnist_classes[10] = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot" };

enum { MAXPAD = 64, MAXFACTOR = 64 };

/* scikit-learn's digits: 8x8 images of 4x4-block counts 0..16, ten classes. */
enum { DIGIT_SIDE = 8, DIGIT_PIXELS = DIGIT_SIDE * DIGIT_SIDE, DIGIT_MAX = 16, DIGIT_CLASSES = 10 };

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = nl_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* ------------------------------------------------------------ data sets */

void nl_dataset_free(nl_dataset *ds)
{
    if (!ds) return;
    if (ds->class_names)
        for (int k = 0; k < ds->nclasses; k++) nl_free(ds->class_names[k]);
    nl_free(ds->class_names);
    nl_free(ds->class_ids);
    nl_free(ds->labels);
    nl_tensor_free(ds->images);
    nl_free(ds->name);
    nl_free(ds);
}

/* A data set of n zeroed examples with room for nclasses classes; the caller
 * fills images, labels, classes and statistics. */
static nl_dataset *ds_new(const char *name, int64_t n, int64_t c, int64_t h, int64_t w, int nclasses)
{
    nl_dataset *ds = nl_calloc(1, sizeof *ds);
    if (!ds) return NULL;
    int64_t shape[4] = { n, c, h, w };
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->nclasses = nclasses;
    ds->name = dupstr(name);
    ds->images = nl_tensor_new(4, shape);
    ds->labels = nl_malloc(n ? (size_t)n * sizeof *ds->labels : 1);
    ds->class_names = nl_calloc(nclasses ? (size_t)nclasses : 1, sizeof *ds->class_names);
    ds->class_ids = nl_calloc(nclasses ? (size_t)nclasses : 1, sizeof *ds->class_ids);
    for (int ch = 0; ch < NL_DATASET_MAXCH; ch++) ds->std[ch] = 1;
    if (!ds->name || !ds->images || !ds->labels || !ds->class_names || !ds->class_ids) {
        nl_dataset_free(ds);
        return NULL;
    }
    return ds;
}

static int ds_setclass(nl_dataset *ds, int k, int32_t id, const char *name)
{
    ds->class_ids[k] = id;
    ds->class_names[k] = dupstr(name);
    return ds->class_names[k] ? 0 : NL_ENOMEM;
}

int nl_dataset_new(const char *name, int64_t n, int64_t c, int64_t h, int64_t w, int nclasses, nl_dataset **out)
{
    *out = NULL;
    if (n < 0 || c < 1 || h < 1 || w < 1 || nclasses < 1 || c > NL_DATASET_MAXCH)
        return nl_err(NL_EINVAL, "dataset: bad size (%lld examples of %lldx%lldx%lld, %d classes)", (long long)n,
                      (long long)c, (long long)h, (long long)w, nclasses);
    nl_dataset *ds = ds_new(name, n, c, h, w, nclasses);
    if (!ds) return nl_err(NL_ENOMEM, "dataset: out of memory");
    for (int k = 0; k < nclasses; k++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", k);
        if (ds_setclass(ds, k, k, buf)) {
            nl_dataset_free(ds);
            return nl_err(NL_ENOMEM, "dataset: out of memory");
        }
    }
    *out = ds;
    return 0;
}

static void copy_stats(nl_dataset *to, const nl_dataset *from)
{
    to->normalized = from->normalized;
    memcpy(to->mean, from->mean, sizeof to->mean);
    memcpy(to->std, from->std, sizeof to->std);
}

/* *out = an empty data set of ds's examples at h x w per channel, with ds's
 * labels, classes and statistics: what downsample and upsample fill. */
static int resized(const nl_dataset *ds, int64_t h, int64_t w, const char *what, nl_dataset **out)
{
    nl_dataset *d = ds_new(ds->name, ds->n, ds->c, h, w, ds->nclasses);
    int rc = d ? 0 : NL_ENOMEM;
    for (int k = 0; k < ds->nclasses && rc == 0; k++) rc = ds_setclass(d, k, ds->class_ids[k], ds->class_names[k]);
    if (rc < 0) {
        nl_dataset_free(d);
        return nl_err(NL_ENOMEM, "%s: out of memory", what);
    }
    memcpy(d->labels, ds->labels, (size_t)ds->n * sizeof *d->labels);
    copy_stats(d, ds);
    *out = d;
    return 0;
}

int nl_dataset_downsample(const nl_dataset *ds, int f, nl_dataset **out)
{
    *out = NULL;
    if (f < 1 || ds->h % f || ds->w % f)
        return nl_err(NL_EINVAL, "downsample: factor %d does not divide the %lldx%lld images", f, (long long)ds->h,
                      (long long)ds->w);
    int64_t H = ds->h / f, W = ds->w / f;
    nl_dataset *d;
    int rc = resized(ds, H, W, "downsample", &d);
    if (rc < 0) return rc;
    const float *src = nl_tensor_data(ds->images);
    float *dst = nl_tensor_data(d->images);
    const float inv = 1.0f / (float)(f * f);
    for (int64_t p = 0; p < ds->n * ds->c; p++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                float s = 0;
                for (int dy = 0; dy < f; dy++)
                    for (int dx = 0; dx < f; dx++) s += src[(p * ds->h + y * f + dy) * ds->w + x * f + dx];
                dst[(p * H + y) * W + x] = s * inv;
            }
    *out = d;
    return 0;
}

int nl_dataset_upsample(const nl_dataset *ds, int f, nl_dataset **out)
{
    *out = NULL;
    if (f < 1 || f > MAXFACTOR) return nl_err(NL_EINVAL, "upsample: factor %d is outside 1..%d", f, MAXFACTOR);
    int64_t H = ds->h * f, W = ds->w * f;
    nl_dataset *d;
    int rc = resized(ds, H, W, "upsample", &d);
    if (rc < 0) return rc;
    const float *src = nl_tensor_data(ds->images);
    float *dst = nl_tensor_data(d->images);
    for (int64_t p = 0; p < ds->n * ds->c; p++)
        for (int64_t y = 0; y < H; y++) {
            const float *row = src + (p * ds->h + y / f) * ds->w;
            float *o = dst + (p * H + y) * W;
            for (int64_t x = 0; x < W; x++) o[x] = row[x / f];
        }
    *out = d;
    return 0;
}

void nl_dataset_histogram(const nl_dataset *ds, int64_t *counts)
{
    for (int k = 0; k < ds->nclasses; k++) counts[k] = 0;
    for (int64_t i = 0; i < ds->n; i++) counts[ds->labels[i]]++;
}

static int check_indices(const nl_dataset *ds, const int64_t *idx, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        if (idx[j] < 0 || idx[j] >= ds->n)
            return nl_err(NL_ERANGE, "example index %lld is outside 0..%lld", (long long)idx[j], (long long)ds->n - 1);
    return 0;
}

/* Copy examples idx[0..n) of ds into rows of dst (same per-example size). */
static void gather(const nl_dataset *ds, const int64_t *idx, int64_t n, float *dst, int32_t *labels)
{
    size_t per = (size_t)(ds->c * ds->h * ds->w);
    const float *src = nl_tensor_data(ds->images);
    for (int64_t j = 0; j < n; j++) {
        memcpy(dst + (size_t)j * per, src + (size_t)idx[j] * per, per * sizeof *dst);
        if (labels) labels[j] = ds->labels[idx[j]];
    }
}

int nl_dataset_select(const nl_dataset *ds, const int64_t *idx, int64_t n, nl_dataset **out)
{
    *out = NULL;
    int rc = check_indices(ds, idx, n);
    if (rc < 0) return rc;
    nl_dataset *d = ds_new(ds->name, n, ds->c, ds->h, ds->w, ds->nclasses);
    if (!d) return NL_ENOMEM;
    for (int k = 0; k < ds->nclasses && rc == 0; k++) rc = ds_setclass(d, k, ds->class_ids[k], ds->class_names[k]);
    if (rc < 0) {
        nl_dataset_free(d);
        return rc;
    }
    copy_stats(d, ds);
    gather(ds, idx, n, nl_tensor_data(d->images), d->labels);
    *out = d;
    return 0;
}

/* The number of held-out examples `valid` means for m examples. */
static int valid_count(double valid, int64_t m, int64_t *v)
{
    *v = 0;
    if (!(valid >= 0) || isinf(valid))
        return nl_err(NL_EINVAL, "valid must be a fraction in (0,1) or a count >= 1, got %g", valid);
    if (valid == 0) return 0;
    if (valid < 1) *v = (int64_t)llround(valid * (double)m);
    else if (valid != floor(valid))
        return nl_err(NL_EINVAL, "valid must be a fraction in (0,1) or a whole count, got %g", valid);
    else *v = valid > 9e18 ? INT64_MAX : (int64_t)valid;
    if (*v < 1 || *v >= m)
        return nl_err(NL_EINVAL, "valid=%g of %lld examples leaves the %s part empty", valid, (long long)m,
                      *v < 1 ? "validation" : "training");
    return 0;
}

int nl_dataset_split(const nl_dataset *ds, double valid, int has_seed, uint64_t seed, nl_dataset **a, nl_dataset **b)
{
    *a = *b = NULL;
    int64_t v;
    int rc = valid_count(valid, ds->n, &v);
    if (rc < 0) return rc;
    if (v == 0) return nl_err(NL_EINVAL, "valid must be a fraction in (0,1) or a count >= 1, got 0");
    int64_t *order = nl_malloc((size_t)ds->n * sizeof *order);
    if (!order) return NL_ENOMEM;
    if (has_seed) {
        nl_rng r;
        nl_rng_seed(&r, seed);
        nl_rng_permutation(&r, order, ds->n);
    } else {
        for (int64_t i = 0; i < ds->n; i++) order[i] = i;
    }
    rc = nl_dataset_select(ds, order, ds->n - v, a);
    if (rc == 0) rc = nl_dataset_select(ds, order + (ds->n - v), v, b);
    nl_free(order);
    if (rc < 0) {
        nl_dataset_free(*a);
        *a = NULL;
    }
    return rc;
}

/* map[id] = new label of original id, or -1; NL_EINVAL for bad lists. */
static int class_map(const int32_t *classes, int k, int nclasses, int32_t *map)
{
    for (int i = 0; i < nclasses; i++) map[i] = k ? -1 : i;
    for (int j = 0; j < k; j++) {
        if (classes[j] < 0 || classes[j] >= nclasses)
            return nl_err(NL_EINVAL, "class %d is outside 0..%d", (int)classes[j], nclasses - 1);
        if (map[classes[j]] >= 0) return nl_err(NL_EINVAL, "class %d is listed twice", (int)classes[j]);
        map[classes[j]] = j;
    }
    return 0;
}

int nl_dataset_subset(const nl_dataset *ds, const int32_t *classes, int k, nl_dataset **out)
{
    *out = NULL;
    if (k < 1) return nl_err(NL_EINVAL, "a class subset needs at least one class");
    int32_t *map = nl_malloc((size_t)ds->nclasses * sizeof *map + 1);
    int64_t *idx = nl_malloc((size_t)ds->n * sizeof *idx + 1);
    int rc = map && idx ? class_map(classes, k, ds->nclasses, map) : NL_ENOMEM;
    int64_t m = 0;
    nl_dataset *d = NULL;
    if (rc == 0) {
        for (int64_t i = 0; i < ds->n; i++)
            if (map[ds->labels[i]] >= 0) idx[m++] = i;
        d = ds_new(ds->name, m, ds->c, ds->h, ds->w, k);
        if (!d) rc = NL_ENOMEM;
    }
    for (int j = 0; j < k && rc == 0; j++)
        rc = ds_setclass(d, j, ds->class_ids[classes[j]], ds->class_names[classes[j]]);
    if (rc == 0) {
        copy_stats(d, ds);
        gather(ds, idx, m, nl_tensor_data(d->images), d->labels);
        for (int64_t i = 0; i < m; i++) d->labels[i] = map[d->labels[i]];
        *out = d;
    } else {
        nl_dataset_free(d);
    }
    nl_free(map);
    nl_free(idx);
    return rc;
}

int nl_dataset_shuffle(nl_dataset *ds, nl_rng *r)
{
    int64_t *order = nl_malloc((size_t)ds->n * sizeof *order + 1);
    nl_tensor *copy = NULL;
    int32_t *labels = nl_malloc((size_t)ds->n * sizeof *labels + 1);
    if (!order || !labels || nl_tensor_clone(&copy, ds->images) < 0) {
        nl_free(order);
        nl_free(labels);
        return NL_ENOMEM;
    }
    nl_rng_permutation(r, order, ds->n);
    size_t per = (size_t)(ds->c * ds->h * ds->w);
    const float *src = nl_tensor_data(copy);
    float *dst = nl_tensor_data(ds->images);
    for (int64_t j = 0; j < ds->n; j++) {
        memcpy(dst + (size_t)j * per, src + (size_t)order[j] * per, per * sizeof *dst);
        labels[j] = ds->labels[order[j]];
    }
    memcpy(ds->labels, labels, (size_t)ds->n * sizeof *labels);
    nl_tensor_free(copy);
    nl_free(order);
    nl_free(labels);
    return 0;
}

int nl_dataset_batch(const nl_dataset *ds, const int64_t *idx, int64_t n, nl_tensor *images, int32_t *labels)
{
    const nl_tensor *t = images;
    if (t->ndim != 4 || t->shape[0] < n || t->shape[1] != ds->c || t->shape[2] != ds->h || t->shape[3] != ds->w) {
        char got[96];
        return nl_err(NL_ESHAPE, "batch of %lld examples of [%lld,%lld,%lld] does not fit a tensor of shape %s",
                      (long long)n, (long long)ds->c, (long long)ds->h, (long long)ds->w,
                      nl_tensor_shape_str(t, got, sizeof got));
    }
    if (!nl_tensor_is_contiguous(t)) return nl_err(NL_EINVAL, "batch tensor must be contiguous");
    int rc = check_indices(ds, idx, n);
    if (rc < 0) return rc;
    gather(ds, idx, n, nl_tensor_data(t), labels);
    return 0;
}

/* ------------------------------------------------------------ loading */

/* The raw arrays of a load and the examples it selected. The arrays come
 * from IDX files or are built in memory (the digits); either way the
 * selection, statistics and pixel conversion below read them alike. */
typedef struct src {
    nl_idx *img, *lab;
    int64_t n, c, h, w;
    int chlast;
    int nclasses;      /* of the file's label space */
    int32_t *map;      /* original id -> new label, or -1 */
    int k;             /* classes kept */
    int64_t *order;    /* m selected examples */
    int64_t m;
} src;

static void src_close(src *s)
{
    nl_idx_free(s->img);
    nl_idx_free(s->lab);
    nl_free(s->map);
    nl_free(s->order);
    memset(s, 0, sizeof *s);
}

static int is_integer_type(int type) { return type == NL_IDX_U8 || type == NL_IDX_I8 || type == NL_IDX_I16 || type == NL_IDX_I32; }

/* Offset of pixel (ch, y, x) of example i in the raw image array. */
static inline int64_t raw_at(const src *s, int64_t i, int64_t ch, int64_t y, int64_t x)
{
    if (s->chlast) return ((i * s->h + y) * s->w + x) * s->c + ch;
    return ((i * s->c + ch) * s->h + y) * s->w + x;
}

static inline double raw_value(const src *s, int64_t k)
{
    if (s->img->type == NL_IDX_U8) return ((const uint8_t *)s->img->data)[k] / 255.0;
    return nl_idx_get(s->img, k);
}

/* With s->img and s->lab in place: check shapes and labels, apply classes,
 * shuffle and limit (steps 1-3). Messages name the arrays `images` and
 * `labels`. */
static int src_select(src *s, const char *images, const char *labels, const nl_dataset_opts *o)
{
    const nl_idx *im = s->img, *lb = s->lab;
    int rc;
    char ds[16 * NL_IDX_MAXDIM];
    if (im->ndim < 2 || im->ndim > 4)
        return nl_err(NL_EFORMAT, "%s: header says %d dimension%s of sizes %s but images need 2 to 4 dimensions", images,
                      im->ndim, im->ndim == 1 ? "" : "s", nl_idx_dims_str(im, ds, sizeof ds));
    if (lb->ndim != 1)
        return nl_err(NL_EFORMAT, "%s: header says %d dimensions of sizes %s but labels need 1 dimension", labels,
                      lb->ndim, nl_idx_dims_str(lb, ds, sizeof ds));
    if (!is_integer_type(lb->type))
        return nl_err(NL_EFORMAT, "%s: labels must be integers, not %s", labels, nl_idx_type_name(lb->type));
    if (im->dims[0] != lb->dims[0])
        return nl_err(NL_EFORMAT, "%s holds %lld images but %s holds %lld labels", images, (long long)im->dims[0],
                      labels, (long long)lb->dims[0]);
    s->n = im->dims[0];
    s->c = s->h = 1;
    if (im->ndim == 2) s->w = im->dims[1];
    else if (im->ndim == 3) {
        s->h = im->dims[1];
        s->w = im->dims[2];
    } else if (o->channels_last) {
        s->h = im->dims[1];
        s->w = im->dims[2];
        s->c = im->dims[3];
        s->chlast = 1;
    } else {
        s->c = im->dims[1];
        s->h = im->dims[2];
        s->w = im->dims[3];
    }
    if (s->c > NL_DATASET_MAXCH)
        return nl_err(NL_EFORMAT, "%s: images of %lld channels; at most %d are supported", images, (long long)s->c,
                      NL_DATASET_MAXCH);

    int64_t maxlab = -1;
    for (int64_t i = 0; i < s->n; i++) {
        double v = nl_idx_get(lb, i);
        int64_t l = (int64_t)v;
        if (l < 0 || (o->nclasses > 0 && l >= o->nclasses) || l > 65535) {
            if (o->nclasses > 0)
                return nl_err(NL_EFORMAT, "%s: label %lld at position %lld is outside 0..%d", labels, (long long)l,
                              (long long)i, o->nclasses - 1);
            return nl_err(NL_EFORMAT, "%s: label %lld at position %lld is outside 0..65535", labels, (long long)l,
                          (long long)i);
        }
        if (l > maxlab) maxlab = l;
    }
    s->nclasses = o->nclasses > 0 ? o->nclasses : (int)(maxlab + 1);
    if (s->nclasses < 1) s->nclasses = 1; /* an empty file still has a label space */

    s->map = nl_malloc((size_t)s->nclasses * sizeof *s->map);
    s->order = nl_malloc((size_t)s->n * sizeof *s->order + 1);
    if (!s->map || !s->order) return NL_ENOMEM;
    rc = class_map(o->classes, o->nkeep, s->nclasses, s->map);
    if (rc < 0) return rc;
    s->k = o->nkeep ? o->nkeep : s->nclasses;

    for (int64_t i = 0; i < s->n; i++)
        if (s->map[(int64_t)nl_idx_get(lb, i)] >= 0) s->order[s->m++] = i;
    if (o->has_seed) {
        nl_rng r;
        nl_rng_seed(&r, o->seed);
        nl_rng_shuffle(&r, s->order, s->m, sizeof *s->order);
    }
    if (o->limit > 0 && o->limit < s->m) {
        if (!o->balanced) s->m = o->limit;
        else {
            int64_t *quota = nl_calloc((size_t)s->k, sizeof *quota);
            if (!quota) return NL_ENOMEM;
            for (int j = 0; j < s->k; j++) quota[j] = o->limit / s->k + (j < o->limit % s->k);
            int64_t m = 0;
            for (int64_t j = 0; j < s->m; j++) {
                int32_t lab = s->map[(int64_t)nl_idx_get(lb, s->order[j])];
                if (quota[lab] > 0) {
                    quota[lab]--;
                    s->order[m++] = s->order[j];
                }
            }
            s->m = m;
            nl_free(quota);
        }
    }
    return 0;
}

/* src_select on the arrays of two IDX files. */
static int src_open(src *s, const char *images, const char *labels, const nl_dataset_opts *o)
{
    memset(s, 0, sizeof *s);
    int rc = nl_idx_load(images, &s->img);
    if (rc == 0) rc = nl_idx_load(labels, &s->lab);
    return rc < 0 ? rc : src_select(s, images, labels, o);
}

/* Per-channel mean and population deviation of examples idx[0..n), in [0,1]
 * pixel units. Ubyte pixels are counted into a histogram, which makes the
 * sums exact; other types take two passes in double. */
static int src_stats(const src *s, const int64_t *idx, int64_t n, double *mean, double *std)
{
    int64_t hw = s->h * s->w;
    double cnt = (double)n * (double)hw;
    if (s->img->type == NL_IDX_U8) {
        int64_t *hist = nl_calloc((size_t)s->c * 256, sizeof *hist);
        if (!hist) return NL_ENOMEM;
        const uint8_t *p = s->img->data;
        for (int64_t j = 0; j < n; j++) {
            if (!s->chlast) {
                for (int64_t ch = 0; ch < s->c; ch++) {
                    const uint8_t *q = p + raw_at(s, idx[j], ch, 0, 0);
                    int64_t *hc = hist + ch * 256;
                    for (int64_t k = 0; k < hw; k++) hc[q[k]]++;
                }
            } else {
                const uint8_t *q = p + raw_at(s, idx[j], 0, 0, 0);
                for (int64_t k = 0; k < hw * s->c; k++) hist[(k % s->c) * 256 + q[k]]++;
            }
        }
        for (int64_t ch = 0; ch < s->c; ch++) {
            double sum = 0, sq = 0;
            for (int v = 0; v < 256; v++) {
                sum += (double)hist[ch * 256 + v] * v;
                sq += (double)hist[ch * 256 + v] * v * v;
            }
            /* Integer sums of up to ~1e12 are exact in double. */
            double m = cnt > 0 ? sum / cnt : 0;
            double var = cnt > 0 ? sq / cnt - m * m : 0;
            mean[ch] = m / 255.0;
            std[ch] = sqrt(var > 0 ? var : 0) / 255.0;
        }
        nl_free(hist);
        return 0;
    }
    for (int64_t ch = 0; ch < s->c; ch++) {
        double sum = 0, dev = 0;
        for (int64_t j = 0; j < n; j++)
            for (int64_t y = 0; y < s->h; y++)
                for (int64_t x = 0; x < s->w; x++) sum += raw_value(s, raw_at(s, idx[j], ch, y, x));
        double m = cnt > 0 ? sum / cnt : 0;
        for (int64_t j = 0; j < n; j++)
            for (int64_t y = 0; y < s->h; y++)
                for (int64_t x = 0; x < s->w; x++) {
                    double d = raw_value(s, raw_at(s, idx[j], ch, y, x)) - m;
                    dev += d * d;
                }
        mean[ch] = m;
        std[ch] = cnt > 0 ? sqrt(dev / cnt) : 0;
    }
    return 0;
}

/* Write examples idx[0..n) into a new data set with the given statistics
 * (step 6 of dataset.h). names[id] names original class id, or is NULL. */
static int src_build(const src *s, const int64_t *idx, int64_t n, const char *name, const nl_dataset_opts *o,
                     const double *mean, const double *std, const char *const *names, nl_dataset **out)
{
    *out = NULL;
    int64_t p = o->pad, H = s->h + 2 * p, W = s->w + 2 * p;
    nl_dataset *d = ds_new(name, n, s->c, H, W, s->k);
    if (!d) return NL_ENOMEM;
    int rc = 0;
    for (int id = 0; id < s->nclasses && rc == 0; id++) {
        if (s->map[id] < 0) continue;
        char num[16];
        snprintf(num, sizeof num, "%d", id);
        rc = ds_setclass(d, s->map[id], id, names ? names[id] : num);
    }
    if (rc < 0) {
        nl_dataset_free(d);
        return rc;
    }
    d->normalized = o->normalize != 0;
    for (int64_t ch = 0; ch < s->c; ch++) {
        d->mean[ch] = mean[ch];
        d->std[ch] = std[ch];
    }
    double sh[NL_DATASET_MAXCH], sc[NL_DATASET_MAXCH]; /* x = (raw - sh) * sc */
    for (int64_t ch = 0; ch < s->c; ch++) {
        sh[ch] = o->normalize ? mean[ch] : 0;
        sc[ch] = o->normalize ? 1 / std[ch] : 1;
    }
    float lut[256];
    float *dst = nl_tensor_data(d->images);
    int u8 = s->img->type == NL_IDX_U8;
    for (int64_t ch = 0; ch < s->c; ch++) {
        if (u8)
            for (int v = 0; v < 256; v++) lut[v] = (float)((v / 255.0 - sh[ch]) * sc[ch]);
        float padv = (float)((0 - sh[ch]) * sc[ch]);
        for (int64_t j = 0; j < n; j++) {
            float *img = dst + ((j * s->c + ch) * H) * W;
            if (p > 0)
                for (int64_t k = 0; k < H * W; k++) img[k] = padv;
            if (u8 && !s->chlast) {
                const uint8_t *q = (const uint8_t *)s->img->data + raw_at(s, idx[j], ch, 0, 0);
                for (int64_t y = 0; y < s->h; y++) {
                    float *row = img + (y + p) * W + p;
                    for (int64_t x = 0; x < s->w; x++) row[x] = lut[q[y * s->w + x]];
                }
            } else {
                for (int64_t y = 0; y < s->h; y++)
                    for (int64_t x = 0; x < s->w; x++)
                        img[(y + p) * W + p + x] = (float)((raw_value(s, raw_at(s, idx[j], ch, y, x)) - sh[ch]) * sc[ch]);
            }
        }
    }
    for (int64_t j = 0; j < n; j++) d->labels[j] = s->map[(int64_t)nl_idx_get(s->lab, idx[j])];
    *out = d;
    return 0;
}

static int check_opts(const nl_dataset_opts *o)
{
    if (o->limit < 0) return nl_err(NL_EINVAL, "limit must be a positive integer, got %lld", (long long)o->limit);
    if (o->pad < 0 || o->pad > MAXPAD) return nl_err(NL_EINVAL, "pad must be in 0..%d, got %d", MAXPAD, o->pad);
    if (o->nkeep < 0 || (o->nkeep > 0 && !o->classes)) return nl_err(NL_EINVAL, "classes: a list of %d ids without the list", o->nkeep);
    if (o->nclasses < 0) return nl_err(NL_EINVAL, "nclasses must be positive, got %d", o->nclasses);
    if (o->class_names && o->nclasses == 0) return nl_err(NL_EINVAL, "class names need nclasses");
    if ((o->mean == NULL) != (o->std == NULL)) return nl_err(NL_EINVAL, "give both mean and std, or neither");
    return 0;
}

/* The rest of a load once src_select has chosen the examples of s (steps
 * 4-6): hold out the validation part, compute the statistics and build the
 * data sets. stats_src, when given, supplies the statistics (Fashion-MNIST's
 * test split). The caller closes s. */
static int load(const src *s, const nl_dataset_opts *o, const char *const *names, const char *tname, const char *vname,
                const src *stats_src, nl_dataset **train, nl_dataset **valid)
{
    int64_t v = 0;
    int rc = valid_count(o->valid, s->m, &v);
    if (rc == 0 && v > 0 && !valid) rc = nl_err(NL_EINVAL, "valid > 0 needs somewhere to put the validation set");
    double mean[NL_DATASET_MAXCH], std[NL_DATASET_MAXCH];
    if (rc == 0) {
        if (o->mean) {
            for (int64_t ch = 0; ch < s->c; ch++) {
                if (!(o->std[ch] > 0) || !isfinite(o->std[ch]) || !isfinite(o->mean[ch]))
                    rc = nl_err(NL_EINVAL, "std must be positive and finite, mean finite (channel %lld)", (long long)ch);
                mean[ch] = o->mean[ch];
                std[ch] = o->std[ch];
            }
        } else if (stats_src) {
            if (stats_src->c != s->c)
                rc = nl_err(NL_EFORMAT, "training images have %lld channels, these %lld", (long long)stats_src->c,
                            (long long)s->c);
            else rc = src_stats(stats_src, stats_src->order, stats_src->m, mean, std);
        } else {
            rc = src_stats(s, s->order, s->m - v, mean, std);
        }
        for (int64_t ch = 0; ch < s->c && rc == 0; ch++)
            if (!(std[ch] > 0)) std[ch] = 1;
    }
    if (rc == 0) rc = src_build(s, s->order, s->m - v, tname, o, mean, std, names, train);
    if (rc == 0 && v > 0) {
        rc = src_build(s, s->order + (s->m - v), v, vname, o, mean, std, names, valid);
        if (rc < 0) {
            nl_dataset_free(*train);
            *train = NULL;
        }
    }
    return rc;
}

int nl_dataset_load_idx(const char *images, const char *labels, const nl_dataset_opts *opts, nl_dataset **train,
                        nl_dataset **valid)
{
    static const nl_dataset_opts none;
    const nl_dataset_opts *o = opts ? opts : &none;
    *train = NULL;
    if (valid) *valid = NULL;
    int rc = check_opts(o);
    if (rc < 0) return rc;
    char vname[1100];
    snprintf(vname, sizeof vname, "%s (valid)", images);
    src s;
    rc = src_open(&s, images, labels, o);
    if (rc == 0) rc = load(&s, o, o->class_names, images, vname, NULL, train, valid);
    src_close(&s);
    return rc;
}

const char *nl_dataset_fashion_mnist_dir(const char *dir)
{
    if (dir && *dir) return dir;
    const char *env = getenv("NASLAB_FASHION_MNIST");
    return env && *env ? env : NL_FASHION_MNIST_DIR;
}

/* dir/base.gz when it exists, else dir/base; 0 when neither does. */
static int find_file(const char *dir, const char *base, char *buf, size_t n)
{
    struct stat st;
    snprintf(buf, n, "%s/%s.gz", dir, base);
    if (stat(buf, &st) == 0) return 1;
    snprintf(buf, n, "%s/%s", dir, base);
    return stat(buf, &st) == 0;
}

int nl_dataset_fashion_mnist(const nl_dataset_opts *opts, nl_dataset **train, nl_dataset **valid)
{
    static const nl_dataset_opts none;
    const nl_dataset_opts *o = opts ? opts : &none;
    *train = NULL;
    if (valid) *valid = NULL;
    int rc = check_opts(o);
    if (rc < 0) return rc;
    nl_dataset_opts fo = *o;
    fo.nclasses = 10;
    fo.channels_last = 0;
    fo.class_names = nl_fashion_mnist_classes;
    const char *dir = nl_dataset_fashion_mnist_dir(o->dir);
    const char *split = o->test ? "t10k" : "train";
    char images[4096], labels[4096], base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", split);
    if (!find_file(dir, base, images, sizeof images))
        return nl_err(NL_ENOTFOUND, "Fashion-MNIST not found in %s (Debian: apt-get install dataset-fashion-mnist)", dir);
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", split);
    find_file(dir, base, labels, sizeof labels);

    src stats_src;
    int have_stats_src = 0;
    if (o->test && o->normalize && !o->mean) {
        /* Test images are normalised with the training set's statistics. */
        char timg[4096], tlab[4096];
        if (!find_file(dir, "train-images-idx3-ubyte", timg, sizeof timg))
            return nl_err(NL_ENOTFOUND,
                          "Fashion-MNIST training files (for the normalisation statistics) not found in %s (Debian: "
                          "apt-get install dataset-fashion-mnist)",
                          dir);
        find_file(dir, "train-labels-idx1-ubyte", tlab, sizeof tlab);
        nl_dataset_opts so = { 0 };
        so.nclasses = 10;
        so.classes = o->classes;
        so.nkeep = o->nkeep;
        rc = src_open(&stats_src, timg, tlab, &so);
        if (rc < 0) {
            src_close(&stats_src);
            return rc;
        }
        have_stats_src = 1;
    }
    src s;
    rc = src_open(&s, images, labels, &fo);
    if (rc == 0)
        rc = load(&s, &fo, nl_fashion_mnist_classes, o->test ? "fashion-mnist test" : "fashion-mnist train",
                  "fashion-mnist valid", have_stats_src ? &stats_src : NULL, train, valid);
    src_close(&s);
    if (have_stats_src) src_close(&stats_src);
    return rc;
}

/* ------------------------------------------------------------ digits */

const char *nl_dataset_digits_path(const char *path)
{
    if (path && *path) return path;
    const char *env = getenv("NASLAB_DIGITS");
    return env && *env ? env : NL_DIGITS_PATH;
}

/* One CSV field of the digits file as an integer; NL_EFORMAT naming the line
 * and the value's position (1-based, as a reader counts columns) otherwise. */
static int digit_value(const nl_csv *c, int i, long *v)
{
    const char *f = nl_csv_field(c, i, NULL);
    char *end;
    errno = 0;
    *v = strtol(f, &end, 10);
    if (end == f || *end || errno)
        return nl_err(NL_EFORMAT, "%s:%ld: value %d ('%s') is not an integer", nl_csv_name(c), nl_csv_line(c), i + 1,
                      f);
    return 0;
}

/* Parse the digits CSV at path into s->img (n,8,8) float pixels already
 * scaled to [0,1] (value / 16; float holds every such value exactly, and the
 * pipeline takes non-byte pixels as they are) and s->lab (n) int32 labels. */
static int digits_read(const char *path, src *s)
{
    nl_csv *c;
    int rc = nl_csv_open(path, &c);
    if (rc < 0) return rc;
    float *px = NULL;
    int32_t *lab = NULL;
    int64_t n = 0, cap = 0;
    while ((rc = nl_csv_next(c)) == 1) {
        int nf = nl_csv_nfields(c);
        size_t len;
        nl_csv_field(c, 0, &len);
        if (nf == 1 && len == 0) continue; /* a blank line, which numpy's loadtxt (scikit-learn's reader) skips too */
        if (nf != DIGIT_PIXELS + 1) {
            rc = nl_err(NL_EFORMAT, "%s:%ld: expected %d values (%d pixels and a label), found %d", path,
                        nl_csv_line(c), DIGIT_PIXELS + 1, DIGIT_PIXELS, nf);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 2048; /* the real file holds 1,797 */
            float *np = nl_realloc(px, (size_t)cap * DIGIT_PIXELS * sizeof *px);
            if (np) px = np;
            int32_t *nlab = nl_realloc(lab, (size_t)cap * sizeof *lab);
            if (nlab) lab = nlab;
            if (!np || !nlab) {
                rc = NL_ENOMEM;
                break;
            }
        }
        long v = 0;
        for (int k = 0; k <= DIGIT_PIXELS && rc == 1; k++) {
            if (digit_value(c, k, &v) < 0) rc = NL_EFORMAT;
            else if (k < DIGIT_PIXELS && (v < 0 || v > DIGIT_MAX))
                rc = nl_err(NL_EFORMAT, "%s:%ld: pixel %d is %ld, outside 0..%d", path, nl_csv_line(c), k + 1, v,
                            DIGIT_MAX);
            else if (k == DIGIT_PIXELS && (v < 0 || v >= DIGIT_CLASSES))
                rc = nl_err(NL_EFORMAT, "%s:%ld: label %ld is outside 0..%d", path, nl_csv_line(c), v,
                            DIGIT_CLASSES - 1);
            else if (k < DIGIT_PIXELS) px[n * DIGIT_PIXELS + k] = (float)v / DIGIT_MAX;
        }
        if (rc != 1) break;
        lab[n++] = (int32_t)v;
    }
    nl_csv_close(c);
    if (rc == 0 && n == 0) rc = nl_err(NL_EFORMAT, "%s: no digits in the file", path);
    if (rc == 0) {
        s->img = nl_calloc(1, sizeof *s->img);
        s->lab = nl_calloc(1, sizeof *s->lab);
        if (!s->img || !s->lab) rc = NL_ENOMEM;
    }
    if (rc < 0) {
        nl_free(px);
        nl_free(lab);
        return rc;
    }
    *s->img = (nl_idx){ .type = NL_IDX_F32, .ndim = 3, .dims = { n, DIGIT_SIDE, DIGIT_SIDE }, .count = n * DIGIT_PIXELS,
                        .data = px };
    *s->lab = (nl_idx){ .type = NL_IDX_I32, .ndim = 1, .dims = { n }, .count = n, .data = lab };
    return 0;
}

int nl_dataset_digits(const char *path, const nl_dataset_opts *opts, nl_dataset **train, nl_dataset **valid)
{
    static const nl_dataset_opts none;
    const nl_dataset_opts *o = opts ? opts : &none;
    *train = NULL;
    if (valid) *valid = NULL;
    int rc = check_opts(o);
    if (rc < 0) return rc;
    nl_dataset_opts dopt = *o;
    dopt.nclasses = DIGIT_CLASSES;
    dopt.channels_last = 0;
    dopt.class_names = NULL; /* "0".."9", the numbers themselves */
    path = nl_dataset_digits_path(path);
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return nl_err(NL_ENOTFOUND, "%s: not found (Debian: apt-get install python3-sklearn)", path);
    src s;
    memset(&s, 0, sizeof s);
    rc = digits_read(path, &s);
    if (rc == 0) rc = src_select(&s, path, path, &dopt);
    if (rc == 0) rc = load(&s, &dopt, NULL, "digits train", "digits valid", NULL, train, valid);
    src_close(&s);
    return rc;
}
