/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tensor.c - float32 strided tensors (see tensor.h). Matrix products are
 * OpenBLAS's cblas_sgemm; the elementwise, reduction and view code is written
 * here because no Debian C library offers strided n-d broadcasting. Loops run
 * through one walker that merges dimensions which are contiguous in every
 * operand, so contiguous tensors reduce to a single plain inner loop that the
 * compiler vectorises. */
#include "core/tensor.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

/* ------------------------------------------------------------ storage */

static nl_storage *storage_new(int64_t n)
{
    nl_storage *st = nl_malloc(sizeof *st);
    if (!st) return NULL;
    /* calloc(0) may return NULL; one spare float keeps "NULL means failure". */
    st->data = nl_calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!st->data) {
        nl_free(st);
        return NULL;
    }
    st->n = n;
    st->refs = 1;
    return st;
}

static void storage_retain(nl_storage *st)
{
    __atomic_fetch_add(&st->refs, 1, __ATOMIC_RELAXED);
}

static void storage_release(nl_storage *st)
{
    if (__atomic_sub_fetch(&st->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        nl_free(st->data);
        nl_free(st);
    }
}

/* A new tensor header viewing `st` (one more reference to it). */
static nl_tensor *view_new(const nl_tensor *t)
{
    nl_tensor *v = nl_malloc(sizeof *v);
    if (!v) return NULL;
    *v = *t;
    storage_retain(v->st);
    return v;
}

char *nl_tensor_shape_str(const nl_tensor *t, char *buf, size_t n)
{
    size_t len = 0;
    if (n == 0) return buf;
    buf[0] = '\0';
    for (int i = 0; i < t->ndim && len < n; i++) {
        int w = snprintf(buf + len, n - len, "%s%lld", i ? "," : "[", (long long)t->shape[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
    if (len < n) snprintf(buf + len, n - len, "]");
    return buf;
}

static void shape_str_raw(int ndim, const int64_t *shape, char *buf, size_t n)
{
    nl_tensor tmp;
    tmp.ndim = ndim;
    memcpy(tmp.shape, shape, (size_t)ndim * sizeof *shape);
    nl_tensor_shape_str(&tmp, buf, n);
}

int nl_tensor_same_shape(const nl_tensor *a, const nl_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

#define SHAPEBUF 96

static int err_shapes(const char *fmt, const nl_tensor *a, const nl_tensor *b)
{
    char sa[SHAPEBUF], sb[SHAPEBUF];
    return nl_err(NL_ESHAPE, fmt, nl_tensor_shape_str(a, sa, sizeof sa), nl_tensor_shape_str(b, sb, sizeof sb));
}

static int check_shape(int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 1 || ndim > NL_TENSOR_MAXDIM)
        return nl_err(NL_EINVAL, "a tensor has 1 to %d dimensions, not %d", NL_TENSOR_MAXDIM, ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return nl_err(NL_EINVAL, "size %lld of dimension %d is negative", (long long)shape[i], i);
        if (shape[i] > 0 && n > INT64_MAX / (int64_t)sizeof(float) / shape[i])
            return nl_err(NL_ENOMEM, "a tensor of that shape would not fit in memory");
        n *= shape[i];
    }
    *numel = n;
    return 0;
}

static void set_contiguous_strides(nl_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i];
    }
}

/* ------------------------------------------------------------ creation */

int nl_tensor_zeros(nl_tensor **out, int ndim, const int64_t *shape)
{
    int64_t n = 0;
    *out = NULL;
    int rc = check_shape(ndim, shape, &n);
    if (rc) return rc;
    nl_tensor *t = nl_malloc(sizeof *t);
    if (!t) return NL_ENOMEM;
    memset(t, 0, sizeof *t);
    t->st = storage_new(n);
    if (!t->st) {
        nl_free(t);
        return NL_ENOMEM;
    }
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    set_contiguous_strides(t);
    *out = t;
    return 0;
}

nl_tensor *nl_tensor_new(int ndim, const int64_t *shape)
{
    nl_tensor *t;
    return nl_tensor_zeros(&t, ndim, shape) ? NULL : t;
}

void nl_tensor_free(nl_tensor *t)
{
    if (!t) return;
    storage_release(t->st);
    nl_free(t);
}

int64_t nl_tensor_numel(const nl_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

int nl_tensor_is_contiguous(const nl_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 0) return 1;
        if (t->shape[i] != 1 && t->stride[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

float *nl_tensor_data(const nl_tensor *t)
{
    return t->st->data + t->offset;
}

int nl_tensor_full(nl_tensor **out, int ndim, const int64_t *shape, float v)
{
    int rc = nl_tensor_zeros(out, ndim, shape);
    if (rc) return rc;
    if (v != 0.0f || signbit(v)) {
        float *d = nl_tensor_data(*out);
        int64_t n = nl_tensor_numel(*out);
        for (int64_t i = 0; i < n; i++) d[i] = v;
    }
    return 0;
}

int nl_tensor_from_data(nl_tensor **out, int ndim, const int64_t *shape, const float *data)
{
    int rc = nl_tensor_zeros(out, ndim, shape);
    if (rc) return rc;
    int64_t n = nl_tensor_numel(*out);
    if (n) memcpy(nl_tensor_data(*out), data, (size_t)n * sizeof(float));
    return 0;
}

int nl_tensor_alias(nl_tensor **out, const nl_tensor *t)
{
    *out = view_new(t);
    return *out ? 0 : NL_ENOMEM;
}

int nl_tensor_clone(nl_tensor **out, const nl_tensor *t)
{
    int rc = nl_tensor_zeros(out, t->ndim, t->shape);
    if (rc) return rc;
    return nl_tensor_copy(*out, t);
}

int nl_tensor_contiguous(nl_tensor **out, const nl_tensor *t)
{
    if (nl_tensor_is_contiguous(t)) return nl_tensor_alias(out, t);
    return nl_tensor_clone(out, t);
}

/* ------------------------------------------------------------ the walker
 * Visits every element of an n-d index space for up to three operands with
 * their own strides, as runs along the innermost (merged) dimension: the
 * caller's inner loop sees w.n elements at offsets off[k] + i * inner[k]. */

typedef struct walk {
    int nd, nops, started, done;
    int64_t shape[NL_TENSOR_MAXDIM];
    int64_t stride[3][NL_TENSOR_MAXDIM];
    int64_t idx[NL_TENSOR_MAXDIM];
    int64_t base[3];
    int64_t off[3];   /* offsets of the current run's first elements */
    int64_t inner[3]; /* strides along the run */
    int64_t n;        /* run length */
} walk;

static void walk_init(walk *w, int nd, const int64_t *shape, int nops, const int64_t *const *strides,
                      const int64_t *base)
{
    w->nops = nops;
    w->nd = 0;
    w->started = 0;
    w->done = 0;
    for (int k = 0; k < nops; k++) w->base[k] = base[k];
    /* Size-1 dimensions contribute nothing; an empty dimension empties all. */
    for (int i = 0; i < nd; i++) {
        if (shape[i] == 0) w->done = 1;
        if (shape[i] == 1) continue;
        w->shape[w->nd] = shape[i];
        for (int k = 0; k < nops; k++) w->stride[k][w->nd] = strides[k][i];
        w->nd++;
    }
    if (w->nd == 0) {
        w->nd = 1;
        w->shape[0] = 1;
        for (int k = 0; k < nops; k++) w->stride[k][0] = 0;
    }
    /* Merge dimension i into i+1 when every operand steps over i as one
     * stride of the run below it. */
    int m = w->nd - 1;
    for (int i = w->nd - 2; i >= 0; i--) {
        int merge = 1;
        for (int k = 0; k < nops; k++)
            if (w->stride[k][i] != w->stride[k][m] * w->shape[m]) merge = 0;
        if (merge) {
            w->shape[m] *= w->shape[i];
        } else {
            m--;
            w->shape[m] = w->shape[i];
            for (int k = 0; k < nops; k++) w->stride[k][m] = w->stride[k][i];
        }
    }
    /* Dimensions now live in [m, nd); shift them down to [0, nd - m). */
    int count = w->nd - m;
    if (m > 0) {
        memmove(w->shape, w->shape + m, (size_t)count * sizeof w->shape[0]);
        for (int k = 0; k < nops; k++)
            memmove(w->stride[k], w->stride[k] + m, (size_t)count * sizeof w->stride[k][0]);
    }
    w->nd = count;
    w->n = w->shape[w->nd - 1];
    for (int k = 0; k < nops; k++) {
        w->inner[k] = w->stride[k][w->nd - 1];
        w->off[k] = w->base[k];
    }
    memset(w->idx, 0, sizeof w->idx);
}

/* Returns 1 with off[] set for the next run, 0 when all runs were visited. */
static int walk_next(walk *w)
{
    if (w->done) return 0;
    if (!w->started) {
        w->started = 1;
        return 1;
    }
    for (int i = w->nd - 2; i >= 0; i--) {
        if (++w->idx[i] < w->shape[i]) {
            for (int k = 0; k < w->nops; k++) w->off[k] += w->stride[k][i];
            return 1;
        }
        for (int k = 0; k < w->nops; k++) w->off[k] -= w->stride[k][i] * (w->shape[i] - 1);
        w->idx[i] = 0;
    }
    w->done = 1;
    return 0;
}

static void walk1(walk *w, const nl_tensor *t)
{
    const int64_t *s[1] = { t->stride };
    int64_t b[1] = { t->offset };
    walk_init(w, t->ndim, t->shape, 1, s, b);
}

static void walk2(walk *w, const nl_tensor *a, const nl_tensor *b)
{
    const int64_t *s[2] = { a->stride, b->stride };
    int64_t o[2] = { a->offset, b->offset };
    walk_init(w, a->ndim, a->shape, 2, s, o);
}

/* ------------------------------------------------------------ elements */

static int check_index(const nl_tensor *t, const int64_t *idx, int64_t *off)
{
    int64_t o = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        if (idx[i] < 0 || idx[i] >= t->shape[i])
            return nl_err(NL_ERANGE, "index %lld out of range for dimension %d of size %lld", (long long)idx[i],
                          i, (long long)t->shape[i]);
        o += idx[i] * t->stride[i];
    }
    *off = o;
    return 0;
}

int nl_tensor_get(const nl_tensor *t, const int64_t *idx, float *out)
{
    int64_t o;
    int rc = check_index(t, idx, &o);
    if (rc) return rc;
    *out = t->st->data[o];
    return 0;
}

int nl_tensor_set(nl_tensor *t, const int64_t *idx, float v)
{
    int64_t o;
    int rc = check_index(t, idx, &o);
    if (rc) return rc;
    t->st->data[o] = v;
    return 0;
}

/* ------------------------------------------------------------ views */

static int check_dim(const nl_tensor *t, int dim)
{
    if (dim < 0 || dim >= t->ndim)
        return nl_err(NL_EINVAL, "dimension %d out of range for a %d-d tensor", dim, t->ndim);
    return 0;
}

int nl_tensor_slice(nl_tensor **out, const nl_tensor *t, int dim, int64_t start, int64_t stop, int64_t step)
{
    *out = NULL;
    int rc = check_dim(t, dim);
    if (rc) return rc;
    if (step < 1) return nl_err(NL_EINVAL, "slice step %lld is not positive", (long long)step);
    if (start < 0 || stop < start || stop > t->shape[dim])
        return nl_err(NL_ERANGE, "slice %lld:%lld out of range for dimension %d of size %lld", (long long)start,
                      (long long)stop, dim, (long long)t->shape[dim]);
    nl_tensor *v = view_new(t);
    if (!v) return NL_ENOMEM;
    v->offset += start * t->stride[dim];
    v->shape[dim] = (stop - start + step - 1) / step;
    v->stride[dim] *= step;
    *out = v;
    return 0;
}

int nl_tensor_select(nl_tensor **out, const nl_tensor *t, int dim, int64_t index)
{
    *out = NULL;
    int rc = check_dim(t, dim);
    if (rc) return rc;
    if (t->ndim == 1) return nl_err(NL_EINVAL, "cannot select from a 1-d tensor (it would leave 0 dimensions)");
    if (index < 0 || index >= t->shape[dim])
        return nl_err(NL_ERANGE, "index %lld out of range for dimension %d of size %lld", (long long)index, dim,
                      (long long)t->shape[dim]);
    nl_tensor *v = view_new(t);
    if (!v) return NL_ENOMEM;
    v->offset += index * t->stride[dim];
    for (int i = dim; i + 1 < t->ndim; i++) {
        v->shape[i] = t->shape[i + 1];
        v->stride[i] = t->stride[i + 1];
    }
    v->ndim--;
    v->shape[v->ndim] = 0;
    v->stride[v->ndim] = 0;
    *out = v;
    return 0;
}

int nl_tensor_transpose(nl_tensor **out, const nl_tensor *t, int d1, int d2)
{
    *out = NULL;
    int rc = check_dim(t, d1);
    if (!rc) rc = check_dim(t, d2);
    if (rc) return rc;
    nl_tensor *v = view_new(t);
    if (!v) return NL_ENOMEM;
    v->shape[d1] = t->shape[d2];
    v->stride[d1] = t->stride[d2];
    v->shape[d2] = t->shape[d1];
    v->stride[d2] = t->stride[d1];
    *out = v;
    return 0;
}

int nl_tensor_permute(nl_tensor **out, const nl_tensor *t, const int *perm)
{
    int seen[NL_TENSOR_MAXDIM] = { 0 };
    *out = NULL;
    for (int i = 0; i < t->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= t->ndim || seen[perm[i]])
            return nl_err(NL_EINVAL, "permutation entry %d (%d) is out of range or repeated", i, perm[i]);
        seen[perm[i]] = 1;
    }
    nl_tensor *v = view_new(t);
    if (!v) return NL_ENOMEM;
    for (int i = 0; i < t->ndim; i++) {
        v->shape[i] = t->shape[perm[i]];
        v->stride[i] = t->stride[perm[i]];
    }
    *out = v;
    return 0;
}

/* Resolve a -1 entry of a requested shape against t's numel. */
static int resolve_shape(const nl_tensor *t, int ndim, const int64_t *shape, int64_t *res)
{
    if (ndim < 1 || ndim > NL_TENSOR_MAXDIM)
        return nl_err(NL_EINVAL, "a tensor has 1 to %d dimensions, not %d", NL_TENSOR_MAXDIM, ndim);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        res[i] = shape[i];
        if (shape[i] == -1) {
            if (infer >= 0) return nl_err(NL_EINVAL, "only one dimension can be -1");
            infer = i;
        } else if (shape[i] < 0) {
            return nl_err(NL_EINVAL, "size %lld of dimension %d is negative", (long long)shape[i], i);
        } else {
            known *= shape[i];
        }
    }
    int64_t n = nl_tensor_numel(t);
    if (infer >= 0) {
        if (known == 0 || n % known != 0) {
            char sa[SHAPEBUF], sb[SHAPEBUF];
            res[infer] = -1;
            shape_str_raw(ndim, res, sb, sizeof sb);
            return nl_err(NL_ESHAPE, "cannot reshape %s into %s", nl_tensor_shape_str(t, sa, sizeof sa), sb);
        }
        res[infer] = n / known;
        known *= res[infer];
    }
    if (known != n) {
        char sa[SHAPEBUF], sb[SHAPEBUF];
        shape_str_raw(ndim, res, sb, sizeof sb);
        return nl_err(NL_ESHAPE, "cannot reshape %s into %s", nl_tensor_shape_str(t, sa, sizeof sa), sb);
    }
    return 0;
}

int nl_tensor_view(nl_tensor **out, const nl_tensor *t, int ndim, const int64_t *shape)
{
    int64_t res[NL_TENSOR_MAXDIM];
    *out = NULL;
    int rc = resolve_shape(t, ndim, shape, res);
    if (rc) return rc;
    if (!nl_tensor_is_contiguous(t)) {
        char sa[SHAPEBUF];
        return nl_err(NL_EINVAL, "view of a non-contiguous tensor %s (use reshape or contiguous)",
                      nl_tensor_shape_str(t, sa, sizeof sa));
    }
    nl_tensor *v = view_new(t);
    if (!v) return NL_ENOMEM;
    v->ndim = ndim;
    memset(v->shape, 0, sizeof v->shape);
    memcpy(v->shape, res, (size_t)ndim * sizeof *res);
    memset(v->stride, 0, sizeof v->stride);
    set_contiguous_strides(v);
    *out = v;
    return 0;
}

int nl_tensor_reshape(nl_tensor **out, const nl_tensor *t, int ndim, const int64_t *shape)
{
    int64_t res[NL_TENSOR_MAXDIM];
    *out = NULL;
    int rc = resolve_shape(t, ndim, shape, res);
    if (rc) return rc;
    if (nl_tensor_is_contiguous(t)) return nl_tensor_view(out, t, ndim, res);
    nl_tensor *c;
    rc = nl_tensor_clone(&c, t);
    if (rc) return rc;
    rc = nl_tensor_view(out, c, ndim, res);
    nl_tensor_free(c);
    return rc;
}

/* ------------------------------------------------------------ filling */

int nl_tensor_fill(nl_tensor *t, float v)
{
    walk w;
    walk1(&w, t);
    float *d = t->st->data;
    while (walk_next(&w)) {
        float *p = d + w.off[0];
        int64_t s = w.inner[0];
        if (s == 1)
            for (int64_t i = 0; i < w.n; i++) p[i] = v;
        else
            for (int64_t i = 0; i < w.n; i++) p[i * s] = v;
    }
    return 0;
}

int nl_tensor_copy(nl_tensor *dst, const nl_tensor *src)
{
    if (!nl_tensor_same_shape(dst, src)) return err_shapes("shapes %s and %s differ", dst, src);
    walk w;
    walk2(&w, dst, src);
    float *d = dst->st->data;
    const float *s = src->st->data;
    while (walk_next(&w)) {
        float *p = d + w.off[0];
        const float *q = s + w.off[1];
        int64_t sp = w.inner[0], sq = w.inner[1];
        if (p == q && sp == sq) continue;
        if (sp == 1 && sq == 1)
            memmove(p, q, (size_t)w.n * sizeof *p);
        else
            for (int64_t i = 0; i < w.n; i++) p[i * sp] = q[i * sq];
    }
    return 0;
}

/* ------------------------------------------------------------ products */

/* How a 2-d view can be handed to row-major cblas_sgemm without a copy:
 * rows contiguous (NoTrans, ld = row stride) or columns contiguous (Trans,
 * ld = column stride). A dimension of size 1 has no meaningful stride. */
static int blas_layout(const nl_tensor *t, CBLAS_TRANSPOSE *tr, int64_t *ld)
{
    int64_t r = t->shape[0], c = t->shape[1];
    int64_t s0 = t->stride[0], s1 = t->stride[1];
    int64_t minr = r > 1 ? r : 1, minc = c > 1 ? c : 1;
    if ((s1 == 1 || c <= 1) && (r <= 1 || s0 >= minc)) {
        *tr = CblasNoTrans;
        *ld = r <= 1 ? minc : s0;
    } else if ((s0 == 1 || r <= 1) && (c <= 1 || s1 >= minr)) {
        *tr = CblasTrans;
        *ld = c <= 1 ? minr : s1;
    } else {
        return 0;
    }
    return *ld <= INT_MAX;
}

static int shares_storage(const nl_tensor *a, const nl_tensor *b)
{
    return a->st == b->st;
}

/* The gemm once shapes are checked, with every operand already in a layout
 * sgemm accepts, or made so through a scratch copy. */
static int gemm2d(nl_tensor *out, float alpha, const nl_tensor *a, const nl_tensor *b, float beta)
{
    int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return nl_err(NL_ERANGE, "matmul: a dimension exceeds %d, the limit of the BLAS interface", INT_MAX);
    if (m == 0 || n == 0) return 0;
    if (k == 0 || alpha == 0.0f) {
        if (beta == 0.0f) return nl_tensor_fill(out, 0.0f);
        return nl_tensor_scalar(out, out, NL_OP_MUL, beta, 0);
    }
    nl_tensor *ca = NULL, *cb = NULL, *co = NULL;
    CBLAS_TRANSPOSE ta, tb, tc;
    int64_t lda, ldb, ldc;
    int rc = 0;
    if (!blas_layout(a, &ta, &lda)) {
        if ((rc = nl_tensor_clone(&ca, a))) goto done;
        a = ca;
        blas_layout(a, &ta, &lda);
    }
    if (!blas_layout(b, &tb, &ldb)) {
        if ((rc = nl_tensor_clone(&cb, b))) goto done;
        b = cb;
        blas_layout(b, &tb, &ldb);
    }
    nl_tensor *c = out;
    if (!blas_layout(out, &tc, &ldc) || tc != CblasNoTrans || shares_storage(out, a) || shares_storage(out, b)) {
        rc = beta == 0.0f ? nl_tensor_zeros(&co, 2, out->shape) : nl_tensor_clone(&co, out);
        if (rc) goto done;
        c = co;
        blas_layout(c, &tc, &ldc);
    }
    cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, alpha, nl_tensor_data(a), (int)lda,
                nl_tensor_data(b), (int)ldb, beta, nl_tensor_data(c), (int)ldc);
    if (co) rc = nl_tensor_copy(out, co);
done:
    nl_tensor_free(ca);
    nl_tensor_free(cb);
    nl_tensor_free(co);
    return rc;
}

int nl_tensor_gemm(nl_tensor *out, float alpha, const nl_tensor *a, const nl_tensor *b, float beta)
{
    if (a->ndim != 2 || b->ndim != 2)
        return err_shapes("matmul needs 2-d tensors, got shapes %s and %s", a, b);
    if (a->shape[1] != b->shape[0]) return err_shapes("shapes %s and %s cannot be multiplied", a, b);
    if (out->ndim != 2 || out->shape[0] != a->shape[0] || out->shape[1] != b->shape[1]) {
        char so[SHAPEBUF];
        int64_t want[2] = { a->shape[0], b->shape[1] };
        char sw[SHAPEBUF];
        shape_str_raw(2, want, sw, sizeof sw);
        return nl_err(NL_ESHAPE, "matmul: out has shape %s, expected %s", nl_tensor_shape_str(out, so, sizeof so),
                      sw);
    }
    return gemm2d(out, alpha, a, b, beta);
}

int nl_tensor_matmul(nl_tensor *out, const nl_tensor *a, const nl_tensor *b)
{
    return nl_tensor_gemm(out, 1.0f, a, b, 0.0f);
}

int nl_tensor_bmm(nl_tensor *out, const nl_tensor *a, const nl_tensor *b)
{
    if (a->ndim != 3 || b->ndim != 3)
        return err_shapes("bmm needs 3-d tensors, got shapes %s and %s", a, b);
    if (a->shape[0] != b->shape[0] || a->shape[2] != b->shape[1])
        return err_shapes("shapes %s and %s cannot be multiplied", a, b);
    if (out->ndim != 3 || out->shape[0] != a->shape[0] || out->shape[1] != a->shape[1] ||
        out->shape[2] != b->shape[2]) {
        char so[SHAPEBUF], sw[SHAPEBUF];
        int64_t want[3] = { a->shape[0], a->shape[1], b->shape[2] };
        shape_str_raw(3, want, sw, sizeof sw);
        return nl_err(NL_ESHAPE, "bmm: out has shape %s, expected %s", nl_tensor_shape_str(out, so, sizeof so), sw);
    }
    for (int64_t i = 0; i < a->shape[0]; i++) {
        /* Stack headers: a batch entry is a view that needs no reference of its own. */
        nl_tensor ai = *a, bi = *b, oi = *out;
        ai.offset += i * a->stride[0];
        bi.offset += i * b->stride[0];
        oi.offset += i * out->stride[0];
        for (int d = 0; d < 2; d++) {
            ai.shape[d] = a->shape[d + 1], ai.stride[d] = a->stride[d + 1];
            bi.shape[d] = b->shape[d + 1], bi.stride[d] = b->stride[d + 1];
            oi.shape[d] = out->shape[d + 1], oi.stride[d] = out->stride[d + 1];
        }
        ai.ndim = bi.ndim = oi.ndim = 2;
        int rc = gemm2d(&oi, 1.0f, &ai, &bi, 0.0f);
        if (rc) return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ elementwise */

int nl_tensor_broadcast_shape(const nl_tensor *a, const nl_tensor *b, int *ndim, int64_t *shape)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
        if (sa != sb && sa != 1 && sb != 1) return err_shapes("shapes %s and %s do not broadcast", a, b);
        shape[i] = sa == 1 ? sb : sa;
    }
    *ndim = nd;
    return 0;
}

/* t's strides as seen from an nd-dimensional broadcast result: missing
 * leading dimensions and stretched size-1 dimensions step by 0. */
static void broadcast_strides(const nl_tensor *t, int nd, const int64_t *shape, int64_t *stride)
{
    for (int i = 0; i < nd; i++) {
        int it = i - (nd - t->ndim);
        if (it < 0 || (t->shape[it] == 1 && shape[i] != 1))
            stride[i] = 0;
        else
            stride[i] = t->stride[it];
    }
}

/* Contiguous runs use 4-float vectors (GCC/Clang vector extensions: SSE on
 * x86-64, NEON on arm64, lowered to scalars elsewhere). Configure builds
 * with -O2, where GCC vectorises only loops whose trip count it knows, so the
 * plain loops below would stay scalar; no -march flag is needed. memcpy
 * makes the loads and stores unaligned-safe and keeps in-place updates
 * (out == a) well defined. */
#if defined(__GNUC__)
#define NL_VEC 1
typedef float vf4 __attribute__((vector_size(16)));
typedef int32_t vi4 __attribute__((vector_size(16)));

static inline vf4 vload(const float *p)
{
    vf4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void vstore(float *p, vf4 v)
{
    memcpy(p, &v, sizeof v);
}

static inline vf4 vsplat(float x)
{
    return (vf4){ x, x, x, x };
}
#endif

/* One run of out = a OP b; EXPR is written once and serves both the vector
 * and the scalar loops (a scalar operand broadcasts over a vector). */
#ifdef NL_VEC
#define VEC_PART(X, Y, EXPR)                                                          \
    for (; i + 4 <= n; i += 4) {                                                      \
        vf4 x = X, y = Y;                                                             \
        vstore(po + i, (EXPR));                                                       \
    }
#else
#define VEC_PART(X, Y, EXPR)
#endif

#define BINARY_RUN(EXPR)                                                              \
    do {                                                                              \
        int64_t i = 0;                                                                \
        if (so == 1 && sa == 1 && sb == 1) {                                          \
            VEC_PART(vload(pa + i), vload(pb + i), EXPR)                              \
            for (; i < n; i++) {                                                      \
                float x = pa[i], y = pb[i];                                           \
                po[i] = (EXPR);                                                       \
            }                                                                         \
        } else if (so == 1 && sa == 1 && sb == 0) {                                   \
            const float yb = pb[0];                                                   \
            VEC_PART(vload(pa + i), vsplat(yb), EXPR)                   \
            for (; i < n; i++) {                                                      \
                float x = pa[i], y = yb;                                              \
                po[i] = (EXPR);                                                       \
            }                                                                         \
        } else if (so == 1 && sa == 0 && sb == 1) {                                   \
            const float xb = pa[0];                                                   \
            VEC_PART(vsplat(xb), vload(pb + i), EXPR)                   \
            for (; i < n; i++) {                                                      \
                float x = xb, y = pb[i];                                              \
                po[i] = (EXPR);                                                       \
            }                                                                         \
        } else {                                                                      \
            for (; i < n; i++) {                                                      \
                float x = pa[i * sa], y = pb[i * sb];                                 \
                po[i * so] = (EXPR);                                                  \
            }                                                                         \
        }                                                                             \
    } while (0)

static void binary_run(nl_binop op, int64_t n, float *po, int64_t so, const float *pa, int64_t sa, const float *pb,
                       int64_t sb)
{
    switch (op) {
    case NL_OP_ADD: BINARY_RUN(x + y); break;
    case NL_OP_SUB: BINARY_RUN(x - y); break;
    case NL_OP_MUL: BINARY_RUN(x * y); break;
    case NL_OP_DIV: BINARY_RUN(x / y); break;
    }
}

static int check_binop(nl_binop op)
{
    if (op != NL_OP_ADD && op != NL_OP_SUB && op != NL_OP_MUL && op != NL_OP_DIV)
        return nl_err(NL_EINVAL, "unknown binary operation %d", (int)op);
    return 0;
}

int nl_tensor_binary(nl_tensor *out, const nl_tensor *a, const nl_tensor *b, nl_binop op)
{
    int nd;
    int64_t shape[NL_TENSOR_MAXDIM];
    int rc = check_binop(op);
    if (!rc) rc = nl_tensor_broadcast_shape(a, b, &nd, shape);
    if (rc) return rc;
    int same = out->ndim == nd;
    for (int i = 0; same && i < nd; i++) same = out->shape[i] == shape[i];
    if (!same) {
        char so[SHAPEBUF], sw[SHAPEBUF];
        shape_str_raw(nd, shape, sw, sizeof sw);
        return nl_err(NL_ESHAPE, "out has shape %s, expected %s", nl_tensor_shape_str(out, so, sizeof so), sw);
    }
    int64_t stra[NL_TENSOR_MAXDIM], strb[NL_TENSOR_MAXDIM];
    broadcast_strides(a, nd, shape, stra);
    broadcast_strides(b, nd, shape, strb);
    const int64_t *strides[3] = { out->stride, stra, strb };
    int64_t base[3] = { out->offset, a->offset, b->offset };
    walk w;
    walk_init(&w, nd, shape, 3, strides, base);
    while (walk_next(&w))
        binary_run(op, w.n, out->st->data + w.off[0], w.inner[0], a->st->data + w.off[1], w.inner[1],
                   b->st->data + w.off[2], w.inner[2]);
    return 0;
}

int nl_tensor_add(nl_tensor *out, const nl_tensor *a, const nl_tensor *b)
{
    return nl_tensor_binary(out, a, b, NL_OP_ADD);
}

int nl_tensor_sub(nl_tensor *out, const nl_tensor *a, const nl_tensor *b)
{
    return nl_tensor_binary(out, a, b, NL_OP_SUB);
}

int nl_tensor_mul(nl_tensor *out, const nl_tensor *a, const nl_tensor *b)
{
    return nl_tensor_binary(out, a, b, NL_OP_MUL);
}

int nl_tensor_div(nl_tensor *out, const nl_tensor *a, const nl_tensor *b)
{
    return nl_tensor_binary(out, a, b, NL_OP_DIV);
}

int nl_tensor_scalar(nl_tensor *out, const nl_tensor *a, nl_binop op, float s, int scalar_first)
{
    int rc = check_binop(op);
    if (rc) return rc;
    if (!nl_tensor_same_shape(out, a)) return err_shapes("out has shape %s, expected %s", out, a);
    walk w;
    walk2(&w, out, a);
    while (walk_next(&w)) {
        float *po = out->st->data + w.off[0];
        const float *pa = a->st->data + w.off[1];
        if (scalar_first)
            binary_run(op, w.n, po, w.inner[0], &s, 0, pa, w.inner[1]);
        else
            binary_run(op, w.n, po, w.inner[0], pa, w.inner[1], &s, 0);
    }
    return 0;
}

int nl_tensor_add_scalar(nl_tensor *out, const nl_tensor *a, float s)
{
    return nl_tensor_scalar(out, a, NL_OP_ADD, s, 0);
}

int nl_tensor_mul_scalar(nl_tensor *out, const nl_tensor *a, float s)
{
    return nl_tensor_scalar(out, a, NL_OP_MUL, s, 0);
}

int nl_tensor_axpy(nl_tensor *y, float alpha, const nl_tensor *x)
{
    if (!nl_tensor_same_shape(y, x)) return err_shapes("shapes %s and %s differ", y, x);
    walk w;
    walk2(&w, y, x);
    while (walk_next(&w)) {
        float *py = y->st->data + w.off[0];
        const float *px = x->st->data + w.off[1];
        int64_t sy = w.inner[0], sx = w.inner[1];
        if (sy == 1 && sx == 1) {
            int64_t i = 0;
#ifdef NL_VEC
            for (; i + 4 <= w.n; i += 4) vstore(py + i, vload(py + i) + alpha * vload(px + i));
#endif
            for (; i < w.n; i++) py[i] += alpha * px[i];
        } else
            for (int64_t i = 0; i < w.n; i++) py[i * sy] += alpha * px[i * sx];
    }
    return 0;
}

static float sigmoidf(float x)
{
    /* exp of a negative argument only: no overflow, and 1 - sigmoid keeps its tail. */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* One run of out = f(a): VEXPR (on a vf4 x) serves the contiguous vector
 * loop, EXPR (on a float x) the rest; VEXPR 0 means scalar only. */
#ifdef NL_VEC
#define UNARY_VEC(VEXPR)                                                              \
    for (; i + 4 <= n; i += 4) {                                                      \
        vf4 x = vload(pa + i);                                                        \
        vstore(po + i, (VEXPR));                                                      \
    }
#else
#define UNARY_VEC(VEXPR)
#endif

#define UNARY_RUN(VEXPR, EXPR)                                                        \
    do {                                                                              \
        int64_t i = 0;                                                                \
        if (so == 1 && sa == 1) {                                                     \
            UNARY_VEC(VEXPR)                                                          \
            for (; i < n; i++) {                                                      \
                float x = pa[i];                                                      \
                po[i] = (EXPR);                                                       \
            }                                                                         \
        } else {                                                                      \
            for (; i < n; i++) {                                                      \
                float x = pa[i * sa];                                                 \
                po[i * so] = (EXPR);                                                  \
            }                                                                         \
        }                                                                             \
    } while (0)

#define UNARY_SCALAR(EXPR)                                                            \
    do {                                                                              \
        if (so == 1 && sa == 1) {                                                     \
            for (int64_t i = 0; i < n; i++) {                                         \
                float x = pa[i];                                                      \
                po[i] = (EXPR);                                                       \
            }                                                                         \
        } else {                                                                      \
            for (int64_t i = 0; i < n; i++) {                                         \
                float x = pa[i * sa];                                                 \
                po[i * so] = (EXPR);                                                  \
            }                                                                         \
        }                                                                             \
    } while (0)

static const char *const unop_names[] = { "neg", "exp", "log", "sqrt", "abs", "relu", "tanh", "sigmoid" };
#define N_UNOPS ((int)(sizeof unop_names / sizeof unop_names[0]))

const char *nl_tensor_unop_name(nl_unop op)
{
    return (int)op >= 0 && (int)op < N_UNOPS ? unop_names[op] : NULL;
}

int nl_tensor_unop_from_name(const char *name, nl_unop *op)
{
    for (int i = 0; i < N_UNOPS; i++)
        if (strcmp(name, unop_names[i]) == 0) {
            *op = (nl_unop)i;
            return 0;
        }
    return nl_err(NL_EINVAL, "unknown unary operation '%s'", name);
}

int nl_tensor_map(nl_tensor *out, const nl_tensor *a, nl_unop op)
{
    if (!nl_tensor_unop_name(op)) return nl_err(NL_EINVAL, "unknown unary operation %d", (int)op);
    if (!nl_tensor_same_shape(out, a)) return err_shapes("out has shape %s, expected %s", out, a);
    walk w;
    walk2(&w, out, a);
    while (walk_next(&w)) {
        float *po = out->st->data + w.off[0];
        const float *pa = a->st->data + w.off[1];
        int64_t so = w.inner[0], sa = w.inner[1], n = w.n;
        switch (op) {
        case NL_OP_NEG: UNARY_RUN(-x, -x); break;
        case NL_OP_EXP: UNARY_SCALAR(expf(x)); break;
        case NL_OP_LOG: UNARY_SCALAR(logf(x)); break;
        case NL_OP_SQRT: UNARY_SCALAR(sqrtf(x)); break;
        /* Bit masks: clear the sign; keep x where x > 0 (NaN > 0 is false). */
        case NL_OP_ABS: UNARY_RUN((vf4)((vi4)x & 0x7fffffff), fabsf(x)); break;
        case NL_OP_RELU: UNARY_RUN((vf4)((vi4)x & (x > vsplat(0.0f))), x > 0.0f ? x : 0.0f); break;
        case NL_OP_TANH: UNARY_SCALAR(tanhf(x)); break;
        case NL_OP_SIGMOID: UNARY_SCALAR(sigmoidf(x)); break;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ reductions */

int nl_tensor_sum(const nl_tensor *t, double *out)
{
    walk w;
    walk1(&w, t);
    double s = 0.0;
    while (walk_next(&w)) {
        const float *p = t->st->data + w.off[0];
        int64_t st = w.inner[0];
        /* Four partial sums break the dependency chain of one accumulator. */
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int64_t i = 0;
        for (; i + 4 <= w.n; i += 4) {
            s0 += p[i * st];
            s1 += p[(i + 1) * st];
            s2 += p[(i + 2) * st];
            s3 += p[(i + 3) * st];
        }
        for (; i < w.n; i++) s0 += p[i * st];
        s += (s0 + s1) + (s2 + s3);
    }
    *out = s;
    return 0;
}

int nl_tensor_mean(const nl_tensor *t, double *out)
{
    double s;
    nl_tensor_sum(t, &s);
    int64_t n = nl_tensor_numel(t);
    *out = n ? s / (double)n : NAN;
    return 0;
}

/* Index (row-major) and value of the first extreme element; NaN wins. */
static int arg_extreme(const nl_tensor *t, int want_max, int64_t *idx, float *val)
{
    int64_t n = nl_tensor_numel(t);
    if (n == 0) return nl_err(NL_EINVAL, "%s of an empty tensor", want_max ? "max" : "min");
    walk w;
    walk1(&w, t);
    int64_t pos = 0, best_i = 0;
    float best = NAN;
    int first = 1;
    while (walk_next(&w)) {
        const float *p = t->st->data + w.off[0];
        for (int64_t i = 0; i < w.n; i++, pos++) {
            float v = p[i * w.inner[0]];
            if (isnan(v)) {
                *idx = pos;
                *val = v;
                return 0;
            }
            if (first || (want_max ? v > best : v < best)) {
                best = v;
                best_i = pos;
                first = 0;
            }
        }
    }
    *idx = best_i;
    *val = best;
    return 0;
}

int nl_tensor_max(const nl_tensor *t, float *out)
{
    int64_t i;
    return arg_extreme(t, 1, &i, out);
}

int nl_tensor_min(const nl_tensor *t, float *out)
{
    int64_t i;
    return arg_extreme(t, 0, &i, out);
}

int nl_tensor_argmax(const nl_tensor *t, int64_t *out)
{
    float v;
    return arg_extreme(t, 1, out, &v);
}

int nl_tensor_argmin(const nl_tensor *t, int64_t *out)
{
    float v;
    return arg_extreme(t, 0, out, &v);
}

enum { RED_SUM, RED_MEAN, RED_MAX, RED_MIN };

/* Checks out against t reduced along dim; on success `ostride` holds out's
 * strides laid over t's dimensions (0 along dim). */
static int check_reduce(const nl_tensor *out, const nl_tensor *t, int dim, int64_t *ostride)
{
    int rc = check_dim(t, dim);
    if (rc) return rc;
    int ok = 0;
    if (out->ndim == t->ndim) { /* keepdim */
        ok = out->shape[dim] == 1;
        for (int i = 0; ok && i < t->ndim; i++)
            if (i != dim) ok = out->shape[i] == t->shape[i];
        for (int i = 0; i < t->ndim; i++) ostride[i] = i == dim ? 0 : out->stride[i];
    } else if (out->ndim == t->ndim - 1 && t->ndim > 1) {
        ok = 1;
        for (int i = 0, j = 0; i < t->ndim; i++) {
            if (i == dim) {
                ostride[i] = 0;
                continue;
            }
            if (out->shape[j] != t->shape[i]) ok = 0;
            ostride[i] = out->stride[j++];
        }
    }
    if (!ok) {
        char so[SHAPEBUF], st[SHAPEBUF];
        return nl_err(NL_ESHAPE, "out has shape %s, which is not %s reduced along dimension %d",
                      nl_tensor_shape_str(out, so, sizeof so), nl_tensor_shape_str(t, st, sizeof st), dim);
    }
    return 0;
}

/* Visits every row along `dim`: one output position per row. `fn` gets the
 * row's start, its stride and length, and the output offset. */
static void reduce_rows(const nl_tensor *t, int dim, const int64_t *ostride, int64_t obase,
                        void (*fn)(void *ctx, const float *row, int64_t stride, int64_t len, int64_t oo, int64_t j),
                        void *ctx)
{
    int64_t shape[NL_TENSOR_MAXDIM];
    memcpy(shape, t->shape, sizeof shape);
    shape[dim] = 1;
    /* A third pseudo-operand counts output positions row-major. */
    int64_t cstride[NL_TENSOR_MAXDIM], c = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        cstride[i] = i == dim ? 0 : c;
        c *= shape[i];
    }
    const int64_t *strides[3] = { t->stride, ostride, cstride };
    int64_t base[3] = { t->offset, obase, 0 };
    walk w;
    walk_init(&w, t->ndim, shape, 3, strides, base);
    int64_t len = t->shape[dim], rs = t->stride[dim];
    while (walk_next(&w))
        for (int64_t i = 0; i < w.n; i++)
            fn(ctx, t->st->data + w.off[0] + i * w.inner[0], rs, len, w.off[1] + i * w.inner[1],
               w.off[2] + i * w.inner[2]);
}

typedef struct red_ctx {
    int kind;
    float *out;
    int64_t *idx;
} red_ctx;

static void red_row(void *vctx, const float *row, int64_t stride, int64_t len, int64_t oo, int64_t j)
{
    red_ctx *ctx = vctx;
    if (ctx->kind == RED_SUM || ctx->kind == RED_MEAN) {
        double s = 0.0;
        for (int64_t i = 0; i < len; i++) s += row[i * stride];
        ctx->out[oo] = (float)(ctx->kind == RED_MEAN ? (len ? s / (double)len : NAN) : s);
        return;
    }
    int want_max = ctx->kind == RED_MAX;
    int64_t bi = 0;
    float best = row[0];
    for (int64_t i = 1; i < len && !isnan(best); i++) {
        float v = row[i * stride];
        if (isnan(v) || (want_max ? v > best : v < best)) {
            best = v;
            bi = i;
        }
    }
    if (ctx->out) ctx->out[oo] = best;
    if (ctx->idx) ctx->idx[j] = bi;
}

static int reduce_dim(nl_tensor *out, int64_t *idx, const nl_tensor *t, int dim, int kind)
{
    int64_t ostride[NL_TENSOR_MAXDIM] = { 0 };
    if (out) {
        int rc = check_reduce(out, t, dim, ostride);
        if (rc) return rc;
    } else {
        int rc = check_dim(t, dim);
        if (rc) return rc;
    }
    int64_t rows = 1;
    for (int i = 0; i < t->ndim; i++)
        if (i != dim) rows *= t->shape[i];
    if ((kind == RED_MAX || kind == RED_MIN) && t->shape[dim] == 0 && rows != 0)
        return nl_err(NL_EINVAL, "%s along empty dimension %d", kind == RED_MAX ? "max" : "min", dim);
    red_ctx ctx = { kind, out ? out->st->data : NULL, idx };
    reduce_rows(t, dim, ostride, out ? out->offset : 0, red_row, &ctx);
    return 0;
}

int nl_tensor_sum_dim(nl_tensor *out, const nl_tensor *t, int dim)
{
    return reduce_dim(out, NULL, t, dim, RED_SUM);
}

int nl_tensor_mean_dim(nl_tensor *out, const nl_tensor *t, int dim)
{
    return reduce_dim(out, NULL, t, dim, RED_MEAN);
}

int nl_tensor_max_dim(nl_tensor *out, const nl_tensor *t, int dim)
{
    return reduce_dim(out, NULL, t, dim, RED_MAX);
}

int nl_tensor_min_dim(nl_tensor *out, const nl_tensor *t, int dim)
{
    return reduce_dim(out, NULL, t, dim, RED_MIN);
}

int nl_tensor_argmax_dim(int64_t *idx, const nl_tensor *t, int dim)
{
    return reduce_dim(NULL, idx, t, dim, RED_MAX);
}

int nl_tensor_argmin_dim(int64_t *idx, const nl_tensor *t, int dim)
{
    return reduce_dim(NULL, idx, t, dim, RED_MIN);
}

/* ------------------------------------------------------------ comparison */

int nl_tensor_allclose(const nl_tensor *a, const nl_tensor *b, double rtol, double atol, int *result)
{
    if (!(rtol >= 0.0) || !(atol >= 0.0)) return nl_err(NL_EINVAL, "allclose: tolerances must be non-negative");
    *result = 0;
    if (!nl_tensor_same_shape(a, b)) return 0;
    walk w;
    walk2(&w, a, b);
    while (walk_next(&w)) {
        const float *pa = a->st->data + w.off[0], *pb = b->st->data + w.off[1];
        for (int64_t i = 0; i < w.n; i++) {
            double x = pa[i * w.inner[0]], y = pb[i * w.inner[1]];
            if (x == y) continue; /* equal infinities */
            if (!(fabs(x - y) <= atol + rtol * fabs(y))) return 0;
        }
    }
    *result = 1;
    return 0;
}

int nl_tensor_equal(const nl_tensor *a, const nl_tensor *b, int *result)
{
    return nl_tensor_allclose(a, b, 0.0, 0.0, result);
}
