/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_tensor.c - TAP tests of core/tensor: creation, views sharing storage,
 * slices and transposes, sgemm products against a naive triple loop on random
 * shapes and layouts, broadcasting, reductions against direct loops, and the
 * exact error messages. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "tap.h"

static nl_rng rng;

static nl_tensor *mk(int nd, const int64_t *shape)
{
    nl_tensor *t;
    if (nl_tensor_zeros(&t, nd, shape)) {
        printf("Bail out! %s\n", nl_errmsg());
        exit(1);
    }
    return t;
}

static nl_tensor *mk2(int64_t r, int64_t c)
{
    int64_t s[2] = { r, c };
    return mk(2, s);
}

static nl_tensor *randt(int nd, const int64_t *shape)
{
    nl_tensor *t = mk(nd, shape);
    float *d = nl_tensor_data(t);
    for (int64_t i = 0; i < nl_tensor_numel(t); i++) d[i] = (float)nl_rng_normal(&rng);
    return t;
}

/* Element of a 2-d tensor read straight through the strides. */
static float at2(const nl_tensor *t, int64_t i, int64_t j)
{
    return t->st->data[t->offset + i * t->stride[0] + j * t->stride[1]];
}

/* Element at flat row-major position p, through the strides. */
static float atflat(const nl_tensor *t, int64_t p)
{
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (p % t->shape[d]) * t->stride[d];
        p /= t->shape[d];
    }
    return t->st->data[off];
}

static void test_creation(void)
{
    int64_t s[3] = { 2, 3, 4 };
    nl_tensor *t = mk(3, s);
    is_int(nl_tensor_numel(t), 24, "numel of [2,3,4]");
    ok(nl_tensor_is_contiguous(t), "new tensor is contiguous");
    is_int(t->stride[0], 12, "row-major stride 0");
    is_int(t->stride[2], 1, "row-major stride 2");
    int zero = 1;
    for (int i = 0; i < 24; i++) zero &= nl_tensor_data(t)[i] == 0.0f;
    ok(zero, "zeros are zero");
    nl_tensor_free(t);

    nl_tensor *f;
    ok(nl_tensor_full(&f, 2, s, 2.5f) == 0, "full");
    ok(nl_tensor_data(f)[5] == 2.5f, "full value");
    nl_tensor_free(f);

    float data[6] = { 1, 2, 3, 4, 5, 6 };
    int64_t s23[2] = { 2, 3 };
    nl_tensor *d;
    ok(nl_tensor_from_data(&d, 2, s23, data) == 0, "from_data");
    float v;
    int64_t idx[2] = { 1, 2 };
    ok(nl_tensor_get(d, idx, &v) == 0 && v == 6.0f, "get [1,2] = 6");
    ok(nl_tensor_set(d, idx, 9.0f) == 0 && nl_tensor_data(d)[5] == 9.0f, "set [1,2]");
    int64_t bad[2] = { 2, 0 };
    is_int(nl_tensor_get(d, bad, &v), NL_ERANGE, "get out of range is NL_ERANGE");
    is_str(nl_errmsg(), "index 2 out of range for dimension 0 of size 2", "get range message");
    char buf[32];
    is_str(nl_tensor_shape_str(d, buf, sizeof buf), "[2,3]", "shape_str");

    nl_tensor *c;
    ok(nl_tensor_clone(&c, d) == 0 && c->st != d->st, "clone has its own storage");
    int eq;
    nl_tensor_equal(c, d, &eq);
    ok(eq, "clone equals original");
    nl_tensor_free(c);
    nl_tensor_free(d);

    nl_tensor *e;
    int64_t neg[2] = { 2, -1 };
    is_int(nl_tensor_zeros(&e, 2, neg), NL_EINVAL, "negative size is NL_EINVAL");
    ok(e == NULL, "out is NULL on failure");
    is_str(nl_errmsg(), "size -1 of dimension 1 is negative", "negative size message");
    int64_t nine[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    is_int(nl_tensor_zeros(&e, 9, nine), NL_EINVAL, "9 dims is NL_EINVAL");
    is_str(nl_errmsg(), "a tensor has 1 to 8 dimensions, not 9", "too many dims message");

    int64_t z[2] = { 0, 3 };
    nl_tensor *empty = mk(2, z);
    double sum;
    nl_tensor_sum(empty, &sum);
    ok(nl_tensor_numel(empty) == 0 && sum == 0.0, "empty tensor sums to 0");
    float mx;
    is_int(nl_tensor_max(empty, &mx), NL_EINVAL, "max of empty is NL_EINVAL");
    nl_tensor_free(empty);
    nl_tensor_free(NULL);
    ok(1, "free(NULL) is a no-op");
}

static void test_views(void)
{
    float data[12];
    for (int i = 0; i < 12; i++) data[i] = (float)i;
    int64_t s[2] = { 3, 4 };
    nl_tensor *t;
    nl_tensor_from_data(&t, 2, s, data);

    nl_tensor *sl;
    ok(nl_tensor_slice(&sl, t, 1, 1, 4, 2) == 0, "slice dim 1, 1:4:2");
    is_int(sl->shape[1], 2, "slice length");
    ok(!nl_tensor_is_contiguous(sl), "column slice is not contiguous");
    ok(at2(sl, 2, 1) == 11.0f, "slice [2,1] is t[2,3]");
    int64_t i0[2] = { 0, 0 };
    nl_tensor_set(sl, i0, -5.0f);
    ok(nl_tensor_data(t)[1] == -5.0f, "write through slice is seen by t");
    ok(sl->st == t->st && t->st->refs == 2, "slice shares storage, refs 2");

    nl_tensor *row;
    ok(nl_tensor_select(&row, t, 0, 2) == 0 && row->ndim == 1 && row->shape[0] == 4, "select row 2");
    ok(row->st->data[row->offset + 3 * row->stride[0]] == 11.0f, "row 2 element 3");
    nl_tensor *col;
    ok(nl_tensor_select(&col, t, 1, 3) == 0 && col->shape[0] == 3 && col->stride[0] == 4, "select column 3");

    nl_tensor *tt;
    ok(nl_tensor_transpose(&tt, t, 0, 1) == 0 && tt->shape[0] == 4 && tt->shape[1] == 3, "transpose shape");
    ok(at2(tt, 3, 1) == at2(t, 1, 3), "transpose element");
    ok(!nl_tensor_is_contiguous(tt), "transpose is not contiguous");

    /* Free the parent first: the views keep the storage alive. */
    nl_tensor_free(t);
    ok(at2(tt, 3, 2) == 11.0f, "view outlives its parent");

    nl_tensor *r;
    int64_t s62[2] = { 6, 2 };
    ok(nl_tensor_reshape(&r, tt, 2, s62) == 0, "reshape of a transpose");
    ok(r->st != tt->st, "reshape of non-contiguous copies");
    ok(at2(r, 0, 1) == 4.0f && at2(r, 5, 1) == 11.0f, "reshape copy is row-major of the transpose");
    nl_tensor *v;
    is_int(nl_tensor_view(&v, tt, 2, s62), NL_EINVAL, "view of non-contiguous fails");
    is_str(nl_errmsg(), "view of a non-contiguous tensor [4,3] (use reshape or contiguous)", "view message");
    nl_tensor *r2;
    int64_t sinf[3] = { 2, -1, 2 };
    ok(nl_tensor_view(&r2, r, 3, sinf) == 0 && r2->shape[1] == 3 && r2->st == r->st, "view with -1 shares");
    int64_t bad[2] = { 5, 2 };
    nl_tensor *r3;
    is_int(nl_tensor_reshape(&r3, r, 2, bad), NL_ESHAPE, "reshape with wrong numel");
    is_str(nl_errmsg(), "cannot reshape [6,2] into [5,2]", "reshape message");
    int64_t bad2[2] = { 5, -1 };
    nl_tensor_reshape(&r3, r, 2, bad2);
    is_str(nl_errmsg(), "cannot reshape [6,2] into [5,-1]", "reshape -1 message");

    nl_tensor *c;
    ok(nl_tensor_contiguous(&c, tt) == 0 && nl_tensor_is_contiguous(c) && c->st != tt->st, "contiguous copies");
    nl_tensor *c2;
    ok(nl_tensor_contiguous(&c2, c) == 0 && c2->st == c->st, "contiguous of contiguous is a view");

    int64_t s234[3] = { 2, 3, 4 };
    nl_tensor *x = randt(3, s234), *p;
    int perm[3] = { 2, 0, 1 };
    ok(nl_tensor_permute(&p, x, perm) == 0 && p->shape[0] == 4 && p->shape[1] == 2 && p->shape[2] == 3,
       "permute shape");
    int good = 1;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int cc = 0; cc < 4; cc++) {
                int64_t ix[3] = { a, b, cc }, ip[3] = { cc, a, b };
                float u, w;
                nl_tensor_get(x, ix, &u);
                nl_tensor_get(p, ip, &w);
                good &= u == w;
            }
    ok(good, "permute moves every element");
    int badperm[3] = { 0, 0, 1 };
    nl_tensor *p2;
    is_int(nl_tensor_permute(&p2, x, badperm), NL_EINVAL, "bad permutation");

    nl_tensor *e;
    is_int(nl_tensor_slice(&e, x, 1, 2, 4, 1), NL_ERANGE, "slice past the end");
    is_str(nl_errmsg(), "slice 2:4 out of range for dimension 1 of size 3", "slice message");
    is_int(nl_tensor_select(&e, row, 0, 0), NL_EINVAL, "select on 1-d");
    is_int(nl_tensor_transpose(&e, x, 0, 3), NL_EINVAL, "transpose bad dim");
    is_str(nl_errmsg(), "dimension 3 out of range for a 3-d tensor", "dim message");

    /* fill and copy through strided views */
    nl_tensor *big = mk2(4, 6), *sub;
    nl_tensor_slice(&sub, big, 1, 1, 6, 2);
    nl_tensor_fill(sub, 3.0f);
    double s1;
    nl_tensor_sum(big, &s1);
    is_near(s1, 3.0 * 4 * 3, 0, "fill of a strided slice touches only its elements");
    nl_tensor *src = randt(2, (int64_t[]){ 3, 4 });
    nl_tensor *dstT = mk2(4, 3), *dst;
    nl_tensor_transpose(&dst, dstT, 0, 1);
    ok(nl_tensor_copy(dst, src) == 0, "copy into a transposed view");
    ok(at2(dstT, 2, 1) == at2(src, 1, 2), "copy honours strides");
    is_int(nl_tensor_copy(big, src), NL_ESHAPE, "copy shape mismatch");
    is_str(nl_errmsg(), "shapes [4,6] and [3,4] differ", "copy message");

    nl_tensor *views[] = { sl, row, col, tt, r, r2, c, c2, x, p, big, sub, src, dstT, dst };
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) nl_tensor_free(views[i]);
}

static void naive_matmul(const nl_tensor *a, const nl_tensor *b, double *out)
{
    int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++) s += (double)at2(a, i, p) * at2(b, p, j);
            out[i * n + j] = s;
        }
}

/* A 2-d operand [r,c] in one of four layouts: 0 contiguous, 1 transposed
 * view, 2 column slice with step 2 (no BLAS layout: copied), 3 a row-and-
 * column window of a bigger matrix (ld > cols). *owner must be freed too. */
static nl_tensor *layout(int64_t r, int64_t c, int kind, nl_tensor **owner)
{
    nl_tensor *v = NULL;
    switch (kind) {
    case 0:
        *owner = randt(2, (int64_t[]){ r, c });
        nl_tensor_alias(&v, *owner);
        break;
    case 1:
        *owner = randt(2, (int64_t[]){ c, r });
        nl_tensor_transpose(&v, *owner, 0, 1);
        break;
    case 2:
        *owner = randt(2, (int64_t[]){ r, 2 * c });
        nl_tensor_slice(&v, *owner, 1, 0, 2 * c, 2);
        break;
    default: {
        nl_tensor *w;
        *owner = randt(2, (int64_t[]){ r + 2, c + 3 });
        nl_tensor_slice(&w, *owner, 0, 1, r + 1, 1);
        nl_tensor_slice(&v, w, 1, 2, c + 2, 1);
        nl_tensor_free(w);
    }
    }
    return v;
}

static void test_matmul(void)
{
    int worst_ok = 1, cases = 0;
    double worst = 0;
    for (int trial = 0; trial < 120; trial++) {
        int64_t m = 1 + (int64_t)nl_rng_below(&rng, 37), k = 1 + (int64_t)nl_rng_below(&rng, 29),
                n = 1 + (int64_t)nl_rng_below(&rng, 41);
        if (trial % 10 == 0) m = 1;      /* 1xN rows */
        if (trial % 10 == 1) n = 1;      /* columns */
        if (trial % 10 == 2) k = 1;      /* outer products */
        int la = trial % 4, lb = (trial / 4) % 4, lo = (trial / 16) % 3;
        nl_tensor *oa, *ob, *oo;
        nl_tensor *a = layout(m, k, la, &oa), *b = layout(k, n, lb, &ob), *out = layout(m, n, lo, &oo);
        double *want = malloc((size_t)(m * n) * sizeof *want);
        naive_matmul(a, b, want);
        int rc = nl_tensor_matmul(out, a, b);
        double err = 0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double e = fabs(at2(out, i, j) - want[i * n + j]) / (1.0 + fabs(want[i * n + j]));
                if (e > err) err = e;
            }
        if (rc || err > 1e-5) {
            worst_ok = 0;
            printf("# m=%lld k=%lld n=%lld layouts %d %d %d rc=%d err=%g\n", (long long)m, (long long)k,
                   (long long)n, la, lb, lo, rc, err);
        }
        if (err > worst) worst = err;
        cases++;
        free(want);
        nl_tensor *all[] = { a, b, out, oa, ob, oo };
        for (int i = 0; i < 6; i++) nl_tensor_free(all[i]);
    }
    ok(worst_ok, "matmul matches a triple loop on %d random shapes and layouts (worst rel err %.2g)", cases, worst);

    /* gemm with alpha and beta, out accumulated in place */
    nl_tensor *a = randt(2, (int64_t[]){ 5, 7 }), *b = randt(2, (int64_t[]){ 7, 3 });
    nl_tensor *c = randt(2, (int64_t[]){ 5, 3 }), *c0;
    nl_tensor_clone(&c0, c);
    double want[15];
    naive_matmul(a, b, want);
    ok(nl_tensor_gemm(c, 2.0f, a, b, 0.5f) == 0, "gemm alpha 2 beta 0.5");
    double err = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++)
            err = fmax(err, fabs(at2(c, i, j) - (2.0 * want[i * 3 + j] + 0.5 * at2(c0, i, j))));
    ok(err < 1e-4, "gemm result (max err %.2g)", err);

    /* out sharing storage with an operand: a = a @ I */
    nl_tensor *sq = randt(2, (int64_t[]){ 4, 4 }), *eye = mk2(4, 4), *sq0;
    for (int i = 0; i < 4; i++) nl_tensor_data(eye)[i * 5] = 1.0f;
    nl_tensor_clone(&sq0, sq);
    ok(nl_tensor_matmul(sq, sq, eye) == 0, "matmul with out == a");
    int eq;
    nl_tensor_allclose(sq, sq0, 1e-6, 1e-6, &eq);
    ok(eq, "a @ I in place leaves a unchanged");

    /* k = 0: the product of empty matrices is zero */
    nl_tensor *ek = mk2(3, 0), *ek2 = mk2(0, 2), *eo = randt(2, (int64_t[]){ 3, 2 });
    ok(nl_tensor_matmul(eo, ek, ek2) == 0, "matmul with k = 0");
    double s;
    nl_tensor_sum(eo, &s);
    ok(s == 0.0, "k = 0 gives zeros");

    is_int(nl_tensor_matmul(c, a, a), NL_ESHAPE, "inner dimension mismatch");
    is_str(nl_errmsg(), "shapes [5,7] and [5,7] cannot be multiplied", "matmul shape message");
    is_int(nl_tensor_matmul(sq, a, b), NL_ESHAPE, "out shape mismatch");
    is_str(nl_errmsg(), "matmul: out has shape [4,4], expected [5,3]", "matmul out message");

    /* batched */
    nl_tensor *ba = randt(3, (int64_t[]){ 3, 4, 5 }), *bb = randt(3, (int64_t[]){ 3, 5, 2 });
    nl_tensor *bo = mk(3, (int64_t[]){ 3, 4, 2 });
    ok(nl_tensor_bmm(bo, ba, bb) == 0, "bmm");
    err = 0;
    for (int64_t i = 0; i < 3; i++) {
        nl_tensor *ai, *bi, *oi;
        nl_tensor_select(&ai, ba, 0, i);
        nl_tensor_select(&bi, bb, 0, i);
        nl_tensor_select(&oi, bo, 0, i);
        double w[8];
        naive_matmul(ai, bi, w);
        for (int p = 0; p < 8; p++) err = fmax(err, fabs(at2(oi, p / 2, p % 2) - w[p]));
        nl_tensor_free(ai);
        nl_tensor_free(bi);
        nl_tensor_free(oi);
    }
    ok(err < 1e-5, "bmm matches per-batch triple loops (max err %.2g)", err);

    nl_tensor *all[] = { a, b, c, c0, sq, eye, sq0, ek, ek2, eo, ba, bb, bo };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nl_tensor_free(all[i]);
}

/* Reference broadcasting: element of t at the broadcast multi-index. */
static float bget(const nl_tensor *t, int nd, const int64_t *ix)
{
    int64_t off = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        int64_t i = ix[d + nd - t->ndim];
        off += (t->shape[d] == 1 ? 0 : i) * t->stride[d];
    }
    return t->st->data[off];
}

static void check_broadcast(int nda, const int64_t *sa, int ndb, const int64_t *sb, int transpose_a)
{
    nl_tensor *a = randt(nda, sa), *b = randt(ndb, sb);
    for (int64_t i = 0; i < nl_tensor_numel(b); i++)
        if (nl_tensor_data(b)[i] == 0.0f) nl_tensor_data(b)[i] = 1.0f;
    if (transpose_a) {
        nl_tensor *at;
        nl_tensor_transpose(&at, a, 0, nda - 1);
        nl_tensor_free(a);
        a = at;
    }
    int nd;
    int64_t shape[NL_TENSOR_MAXDIM];
    char s1[64], s2[64];
    nl_tensor_shape_str(a, s1, sizeof s1);
    nl_tensor_shape_str(b, s2, sizeof s2);
    if (!ok(nl_tensor_broadcast_shape(a, b, &nd, shape) == 0, "broadcast %s and %s", s1, s2)) return;
    nl_tensor *out = mk(nd, shape);
    const char *names[] = { "add", "sub", "mul", "div" };
    for (int op = NL_OP_ADD; op <= NL_OP_DIV; op++) {
        int rc = nl_tensor_binary(out, a, b, (nl_binop)op);
        double err = 0;
        int64_t n = nl_tensor_numel(out);
        for (int64_t p = 0; p < n; p++) {
            int64_t ix[NL_TENSOR_MAXDIM], q = p;
            for (int d = nd - 1; d >= 0; d--) {
                ix[d] = q % shape[d];
                q /= shape[d];
            }
            float x = bget(a, nd, ix), y = bget(b, nd, ix);
            float w = op == NL_OP_ADD ? x + y : op == NL_OP_SUB ? x - y : op == NL_OP_MUL ? x * y : x / y;
            err = fmax(err, fabs(atflat(out, p) - w));
        }
        ok(rc == 0 && err == 0, "%s %s %s exact", names[op], s1, s2);
    }
    nl_tensor_free(a);
    nl_tensor_free(b);
    nl_tensor_free(out);
}

static void test_elementwise(void)
{
    check_broadcast(2, (int64_t[]){ 2, 3 }, 1, (int64_t[]){ 3 }, 0);
    check_broadcast(2, (int64_t[]){ 4, 1 }, 2, (int64_t[]){ 1, 5 }, 0);
    check_broadcast(3, (int64_t[]){ 2, 1, 3 }, 2, (int64_t[]){ 4, 1 }, 0);
    check_broadcast(2, (int64_t[]){ 37, 29 }, 2, (int64_t[]){ 37, 29 }, 0);
    check_broadcast(2, (int64_t[]){ 29, 37 }, 2, (int64_t[]){ 37, 29 }, 1);
    check_broadcast(3, (int64_t[]){ 5, 3, 2 }, 1, (int64_t[]){ 5 }, 1);
    check_broadcast(1, (int64_t[]){ 1 }, 3, (int64_t[]){ 2, 3, 4 }, 0);

    nl_tensor *a = randt(2, (int64_t[]){ 2, 3 }), *b = randt(1, (int64_t[]){ 4 }), *o = mk2(2, 3);
    is_int(nl_tensor_add(o, a, b), NL_ESHAPE, "add [2,3] and [4]");
    is_str(nl_errmsg(), "shapes [2,3] and [4] do not broadcast", "broadcast message");
    nl_tensor *row = randt(1, (int64_t[]){ 3 }), *o2 = mk2(3, 3);
    is_int(nl_tensor_add(o2, a, row), NL_ESHAPE, "wrong out shape");
    is_str(nl_errmsg(), "out has shape [3,3], expected [2,3]", "out shape message");

    /* in place: a += row */
    nl_tensor *a0;
    nl_tensor_clone(&a0, a);
    ok(nl_tensor_add(a, a, row) == 0, "in-place add");
    ok(at2(a, 1, 2) == at2(a0, 1, 2) + nl_tensor_data(row)[2], "in-place add value");

    nl_tensor_scalar(o, a0, NL_OP_SUB, 1.0f, 1);
    ok(at2(o, 1, 1) == 1.0f - at2(a0, 1, 1), "1 - a");
    nl_tensor_scalar(o, a0, NL_OP_DIV, 2.0f, 0);
    ok(at2(o, 0, 2) == at2(a0, 0, 2) / 2.0f, "a / 2");
    nl_tensor_mul_scalar(o, a0, 3.0f);
    ok(at2(o, 1, 0) == at2(a0, 1, 0) * 3.0f, "a * 3");
    nl_tensor_fill(o, 1.0f);
    nl_tensor_axpy(o, 2.0f, a0);
    ok(at2(o, 0, 1) == 1.0f + 2.0f * at2(a0, 0, 1), "axpy");

    const float xs[8] = { -3.5f, -1.0f, -1e-3f, 0.0f, 0.25f, 1.0f, 2.0f, 90.0f };
    nl_tensor *x, *y = mk(1, (int64_t[]){ 8 });
    nl_tensor_from_data(&x, 1, (int64_t[]){ 8 }, xs);
    for (int op = NL_OP_NEG; op <= NL_OP_SIGMOID; op++) {
        nl_tensor_map(y, x, (nl_unop)op);
        double err = 0;
        for (int i = 0; i < 8; i++) {
            double v = xs[i], w;
            switch (op) {
            case NL_OP_NEG: w = -v; break;
            case NL_OP_EXP: w = exp(v); break;
            case NL_OP_LOG: w = log(v); break;
            case NL_OP_SQRT: w = sqrt(v); break;
            case NL_OP_ABS: w = fabs(v); break;
            case NL_OP_RELU: w = v > 0 ? v : 0; break;
            case NL_OP_TANH: w = tanh(v); break;
            default: w = 1.0 / (1.0 + exp(-v)); break;
            }
            w = (float)w; /* exp(90) overflows float32 to inf, as it must */
            double g = nl_tensor_data(y)[i];
            if (isnan(w) != isnan(g) || (!isnan(w) && isinf(w) != isinf(g)))
                err = INFINITY;
            else if (!isnan(w) && !isinf(w))
                err = fmax(err, fabs(g - w) / fmax(1.0, fabs(w)));
        }
        ok(err < 1e-6, "%s matches libm in double (err %.2g)", nl_tensor_unop_name((nl_unop)op), err);
    }
    nl_unop u;
    ok(nl_tensor_unop_from_name("sigmoid", &u) == 0 && u == NL_OP_SIGMOID, "unop by name");
    is_int(nl_tensor_unop_from_name("cosh", &u), NL_EINVAL, "unknown unop name");

    nl_tensor *all[] = { a, b, o, row, o2, a0, x, y };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nl_tensor_free(all[i]);
}

static void test_reductions(void)
{
    int64_t s[3] = { 4, 5, 6 };
    nl_tensor *base = randt(3, s), *t;
    /* a permuted view, so the reductions walk non-contiguous memory */
    nl_tensor_permute(&t, base, (int[]){ 1, 2, 0 }); /* [5,6,4] */
    int64_t n = nl_tensor_numel(t);
    double ref = 0, mx = -INFINITY, mn = INFINITY;
    int64_t amax = 0, amin = 0;
    for (int64_t p = 0; p < n; p++) {
        double v = atflat(t, p);
        ref += v;
        if (v > mx) mx = v, amax = p;
        if (v < mn) mn = v, amin = p;
    }
    double sum, mean;
    float fmx, fmn;
    int64_t im, in;
    nl_tensor_sum(t, &sum);
    nl_tensor_mean(t, &mean);
    nl_tensor_max(t, &fmx);
    nl_tensor_min(t, &fmn);
    nl_tensor_argmax(t, &im);
    nl_tensor_argmin(t, &in);
    is_near(sum, ref, 1e-9, "sum of a permuted view");
    is_near(mean, ref / (double)n, 1e-11, "mean");
    ok(fmx == (float)mx && im == amax, "max and argmax");
    ok(fmn == (float)mn && in == amin, "min and argmin");

    for (int dim = 0; dim < 3; dim++) {
        int64_t os[2];
        for (int i = 0, j = 0; i < 3; i++)
            if (i != dim) os[j++] = t->shape[i];
        nl_tensor *o = mk(2, os), *om = mk(2, os), *ox = mk(2, os);
        int64_t keep[3] = { t->shape[0], t->shape[1], t->shape[2] };
        keep[dim] = 1;
        nl_tensor *ok3 = mk(3, keep);
        int64_t *idx = malloc((size_t)(os[0] * os[1]) * sizeof *idx);
        int rc = nl_tensor_sum_dim(o, t, dim) | nl_tensor_mean_dim(om, t, dim) | nl_tensor_max_dim(ox, t, dim) |
                 nl_tensor_argmax_dim(idx, t, dim) | nl_tensor_sum_dim(ok3, t, dim);
        double es = 0, em = 0;
        int good = rc == 0;
        for (int64_t r = 0; r < os[0] * os[1]; r++) {
            int64_t ix[3], q = r;
            int64_t a = q / os[1], b = q % os[1];
            double acc = 0, best = -INFINITY;
            int64_t bi = 0;
            for (int64_t i = 0; i < t->shape[dim]; i++) {
                for (int d = 0, j = 0; d < 3; d++) ix[d] = d == dim ? i : (j++ == 0 ? a : b);
                float v;
                nl_tensor_get(t, ix, &v);
                acc += v;
                if (v > best) best = v, bi = i;
            }
            es = fmax(es, fabs(at2(o, a, b) - acc));
            es = fmax(es, fabs(atflat(ok3, r) - acc));
            em = fmax(em, fabs(at2(om, a, b) - acc / (double)t->shape[dim]));
            good &= at2(ox, a, b) == (float)best && idx[r] == bi;
        }
        ok(good && es < 1e-5 && em < 1e-6, "reductions along dim %d match loops (sum err %.2g)", dim, es);
        free(idx);
        nl_tensor_free(o);
        nl_tensor_free(om);
        nl_tensor_free(ox);
        nl_tensor_free(ok3);
    }
    nl_tensor *bad = mk2(5, 5);
    is_int(nl_tensor_sum_dim(bad, t, 0), NL_ESHAPE, "reduce into a wrong shape");
    is_str(nl_errmsg(), "out has shape [5,5], which is not [5,6,4] reduced along dimension 0", "reduce message");
    is_int(nl_tensor_sum_dim(bad, t, 3), NL_EINVAL, "reduce along a bad dim");

    /* 1-d reduces into a 1-element tensor; sums accumulate in double */
    nl_tensor *v = mk(1, (int64_t[]){ 3 }), *one = mk(1, (int64_t[]){ 1 });
    nl_tensor_data(v)[0] = 1e8f;
    nl_tensor_data(v)[1] = 1.0f;
    nl_tensor_data(v)[2] = -1e8f;
    nl_tensor_sum(v, &sum);
    ok(sum == 1.0, "sum accumulates in double (1e8 + 1 - 1e8 = 1)");
    ok(nl_tensor_sum_dim(one, v, 0) == 0 && nl_tensor_data(one)[0] == 1.0f, "sum_dim of 1-d into [1]");
    nl_tensor_data(v)[1] = NAN;
    nl_tensor_max(v, &fmx);
    nl_tensor_argmax(v, &im);
    ok(isnan(fmx) && im == 1, "NaN propagates through max");

    int eq;
    nl_tensor *c;
    nl_tensor_clone(&c, t);
    nl_tensor_allclose(c, t, 0, 0, &eq);
    ok(eq, "allclose of a copy");
    nl_tensor_data(c)[0] += 1e-3f;
    nl_tensor_allclose(c, t, 1e-5, 1e-8, &eq);
    ok(!eq, "allclose sees a 1e-3 change");
    nl_tensor_allclose(c, t, 0, 1e-2, &eq);
    ok(eq, "allclose within atol");
    nl_tensor_allclose(c, bad, 1, 1, &eq);
    ok(!eq, "different shapes are not close");

    nl_tensor *all[] = { base, t, bad, v, one, c };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nl_tensor_free(all[i]);
}

int main(void)
{
    nl_rng_seed(&rng, 20240601);
    test_creation();
    test_views();
    test_matmul();
    test_elementwise();
    test_reductions();
    return done_testing();
}
