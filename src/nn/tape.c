/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tape.c - see tape.h. Values live in one growing float arena addressed by
 * offsets (the arena moves when it grows); backward allocates a gradient
 * arena of the same layout, so node v's gradient sits at the same offset as
 * its value. Param leaves point at the param's own w and g instead. */
#include "nn/tape.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

enum {
    OP_LEAF,
    OP_PARAM,
    OP_LINEAR,
    OP_MATMUL,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_SCALE,
    OP_SIGMOID,
    OP_TANH,
    OP_RELU,
    OP_SOFTMAX,
    OP_CONCAT,
    OP_VCAT,
    OP_EXP,
    OP_SLICE,
    OP_SUMROWS,
    OP_SUM,
    OP_CE,
    OP_BCE,
    OP_MSE,
    OP_KL
};

typedef struct node {
    int op, r, c;
    int a, b, w;     /* inputs (-1: none); linear: a = x, w = W, b = bias */
    size_t val;      /* offset in the arena (not for params) */
    size_t aux;      /* offset of auxiliary floats (targets) in the arena */
    nl_param *p;     /* OP_PARAM */
    float s;         /* scale */
    int r0, c0;      /* slice origin; matmul: transb in r0 */
    int rg;          /* 1 when a param lies upstream: only then does backward need it */
} node;

struct nl_tape {
    node *n;
    int nn, capn;
    float *mem;      /* values */
    size_t used, cap;
    float *grad;     /* backward: gradients, same layout as mem */
    size_t gcap;
};

/* OpenBLAS's own (no cblas.h prototype). */
void openblas_set_num_threads(int);

nl_tape *nl_tape_new(void)
{
    /* as nn/ctx.c does: a product's summation order depends on BLAS's thread
     * count, so one thread gives the same bits wherever a tape runs; and on
     * these small products BLAS threads spend more time waking than working
     * (measured: a 512-wide MetaD2A predictor step takes 0.30 s with two
     * BLAS threads, 0.16 s with one) */
    openblas_set_num_threads(1);
    return nl_calloc(1, sizeof(nl_tape));
}

void nl_tape_reset(nl_tape *t)
{
    t->nn = 0;
    t->used = 0;
}

void nl_tape_free(nl_tape *t)
{
    if (!t) return;
    free(t->n);
    free(t->mem);
    free(t->grad);
    free(t);
}

int nl_tape_size(const nl_tape *t) { return t->nn; }

/* Reserve n floats in the arena; returns the offset or (size_t)-1. */
static size_t reserve(nl_tape *t, size_t n)
{
    n = (n + 15) & ~(size_t)15; /* 64-byte rows for the vector units */
    if (t->used + n > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->used + n) cap *= 2;
        float *m = realloc(t->mem, cap * sizeof(float));
        if (!m) return (size_t)-1;
        t->mem = m;
        t->cap = cap;
    }
    size_t off = t->used;
    t->used += n;
    return off;
}

static float *V(const nl_tape *t, int v)
{
    const node *d = &t->n[v];
    return d->op == OP_PARAM ? nl_tensor_data(d->p->w) : t->mem + d->val;
}

static float *G(const nl_tape *t, int v)
{
    const node *d = &t->n[v];
    return d->op == OP_PARAM ? nl_tensor_data(d->p->g) : t->grad + d->val;
}

/* Append a node of shape (r, c) whose value the caller fills; returns its id
 * or a negative code. */
static int push(nl_tape *t, int op, int r, int c, int a, int b)
{
    if (t->nn == t->capn) {
        int cap = t->capn ? 2 * t->capn : 256;
        node *n = realloc(t->n, (size_t)cap * sizeof(node));
        if (!n) return nl_err(NL_ENOMEM, "tape: out of memory (%d nodes)", cap);
        t->n = n;
        t->capn = cap;
    }
    size_t off = 0;
    if (op != OP_PARAM) {
        off = reserve(t, (size_t)r * (size_t)c);
        if (off == (size_t)-1) return nl_err(NL_ENOMEM, "tape: out of memory (%zu floats)", t->used);
    }
    node *d = &t->n[t->nn];
    memset(d, 0, sizeof *d);
    d->op = op;
    d->r = r;
    d->c = c;
    d->a = a;
    d->b = b;
    d->w = -1;
    d->val = off;
    d->rg = op == OP_PARAM || (a >= 0 && t->n[a].rg) || (b >= 0 && t->n[b].rg);
    return t->nn++;
}

static int bad(const nl_tape *t, int v) { return v < 0 || v >= t->nn; }

#define CHECK1(a)                                                                                    \
    do {                                                                                             \
        if ((a) < 0) return (a);                                                                     \
        if ((a) >= t->nn) return nl_err(NL_EINVAL, "tape: node %d does not exist", (a));              \
    } while (0)

int nl_tape_rows_of(const nl_tape *t, int v) { return bad(t, v) ? 0 : t->n[v].r; }
int nl_tape_cols_of(const nl_tape *t, int v) { return bad(t, v) ? 0 : t->n[v].c; }
const float *nl_tape_value(const nl_tape *t, int v) { return bad(t, v) ? NULL : V(t, v); }

/* ------------------------------------------------------------ leaves */

int nl_tape_param(nl_tape *t, nl_param *p)
{
    if (!p || !p->w || !p->g || !nl_tensor_is_contiguous(p->w) || !nl_tensor_is_contiguous(p->g))
        return nl_err(NL_EINVAL, "tape: param %s needs contiguous w and g", p ? p->name : "(null)");
    int64_t n = nl_tensor_numel(p->w);
    int64_t r = p->w->ndim >= 2 ? p->w->shape[0] : 1;
    if (n != nl_tensor_numel(p->g) || r < 1 || n / r > INT32_MAX || r > INT32_MAX)
        return nl_err(NL_EINVAL, "tape: param %s has a bad shape", p->name);
    int v = push(t, OP_PARAM, (int)r, (int)(n / r), -1, -1);
    if (v >= 0) t->n[v].p = p;
    return v;
}

int nl_tape_const(nl_tape *t, int rows, int cols, const float *data)
{
    if (rows < 1 || cols < 1) return nl_err(NL_EINVAL, "tape: constant of shape (%d, %d)", rows, cols);
    int v = push(t, OP_LEAF, rows, cols, -1, -1);
    if (v < 0) return v;
    float *y = V(t, v);
    if (data)
        memcpy(y, data, (size_t)rows * cols * sizeof(float));
    else
        memset(y, 0, (size_t)rows * cols * sizeof(float));
    return v;
}

int nl_tape_fill(nl_tape *t, int rows, int cols, float x)
{
    int v = nl_tape_const(t, rows, cols, NULL);
    if (v < 0) return v;
    float *y = V(t, v);
    for (size_t i = 0; i < (size_t)rows * cols; i++) y[i] = x;
    return v;
}

int nl_tape_onehot(nl_tape *t, int rows, int cols, const int *idx, int col)
{
    for (int i = 0; i < rows; i++) {
        int k = idx ? idx[i] : col;
        if (k < 0 || k >= cols) return nl_err(NL_EINVAL, "tape: one-hot index %d outside 0..%d", k, cols - 1);
    }
    int v = nl_tape_const(t, rows, cols, NULL);
    if (v < 0) return v;
    float *y = V(t, v);
    for (int i = 0; i < rows; i++) y[(size_t)i * cols + (idx ? idx[i] : col)] = 1.0f;
    return v;
}

/* ------------------------------------------------------------ ops */

int nl_tape_linear(nl_tape *t, int x, int W, int b)
{
    CHECK1(x);
    CHECK1(W);
    if (b != -1) CHECK1(b);
    const node *X = &t->n[x], *Wn = &t->n[W];
    if (X->c != Wn->c)
        return nl_err(NL_ESHAPE, "tape: linear of (%d, %d) by a weight (%d, %d)", X->r, X->c, Wn->r, Wn->c);
    if (b >= 0 && t->n[b].r * t->n[b].c != Wn->r)
        return nl_err(NL_ESHAPE, "tape: bias of %d values for %d outputs", t->n[b].r * t->n[b].c, Wn->r);
    int n = X->r, in = X->c, out = Wn->r;
    int v = push(t, OP_LINEAR, n, out, x, b);
    if (v < 0) return v;
    t->n[v].w = W;
    t->n[v].rg |= t->n[W].rg;
    float *y = V(t, v);
    if (b >= 0) {
        const float *bb = V(t, b);
        for (int i = 0; i < n; i++) memcpy(y + (size_t)i * out, bb, (size_t)out * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, V(t, x), in, V(t, W), in,
                b >= 0 ? 1.0f : 0.0f, y, out);
    return v;
}

int nl_tape_matmul(nl_tape *t, int a, int b, int transb)
{
    CHECK1(a);
    CHECK1(b);
    const node *A = &t->n[a], *B = &t->n[b];
    int k = transb ? B->c : B->r, m = transb ? B->r : B->c;
    if (A->c != k)
        return nl_err(NL_ESHAPE, "tape: matmul of (%d, %d) by (%d, %d)%s", A->r, A->c, B->r, B->c,
                      transb ? " transposed" : "");
    int n = A->r;
    int v = push(t, OP_MATMUL, n, m, a, b);
    if (v < 0) return v;
    t->n[v].r0 = transb;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transb ? CblasTrans : CblasNoTrans, n, m, k, 1.0f, V(t, a), k, V(t, b),
                transb ? k : m, 0.0f, V(t, v), m);
    return v;
}

/* How b broadcasts against a: 0 same shape, 1 row, 2 column, 3 scalar. */
static int bcast(const node *A, const node *B)
{
    if (B->r == A->r && B->c == A->c) return 0;
    if (B->r == 1 && B->c == A->c) return 1;
    if (B->r == A->r && B->c == 1) return 2;
    if (B->r == 1 && B->c == 1) return 3;
    return -1;
}

static inline size_t bidx(int mode, int i, int j, int c)
{
    switch (mode) {
    case 0: return (size_t)i * c + j;
    case 1: return (size_t)j;
    case 2: return (size_t)i;
    default: return 0;
    }
}

static int binary(nl_tape *t, int op, int a, int b)
{
    CHECK1(a);
    CHECK1(b);
    int mode = bcast(&t->n[a], &t->n[b]);
    if (mode < 0)
        return nl_err(NL_ESHAPE, "tape: shapes (%d, %d) and (%d, %d) do not broadcast", t->n[a].r, t->n[a].c,
                      t->n[b].r, t->n[b].c);
    int r = t->n[a].r, c = t->n[a].c;
    int v = push(t, op, r, c, a, b);
    if (v < 0) return v;
    t->n[v].r0 = mode;
    const float *x = V(t, a), *z = V(t, b);
    float *y = V(t, v);
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++) {
            size_t k = (size_t)i * c + j;
            float u = z[bidx(mode, i, j, c)];
            y[k] = op == OP_ADD ? x[k] + u : op == OP_SUB ? x[k] - u : x[k] * u;
        }
    return v;
}

int nl_tape_add(nl_tape *t, int a, int b) { return binary(t, OP_ADD, a, b); }
int nl_tape_sub(nl_tape *t, int a, int b) { return binary(t, OP_SUB, a, b); }
int nl_tape_mul(nl_tape *t, int a, int b) { return binary(t, OP_MUL, a, b); }

static int unary(nl_tape *t, int op, int a, float s)
{
    CHECK1(a);
    int r = t->n[a].r, c = t->n[a].c;
    int v = push(t, op, r, c, a, -1);
    if (v < 0) return v;
    t->n[v].s = s;
    const float *x = V(t, a);
    float *y = V(t, v);
    size_t n = (size_t)r * c;
    switch (op) {
    case OP_SCALE:
        for (size_t i = 0; i < n; i++) y[i] = s * x[i];
        break;
    case OP_SIGMOID:
        for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case OP_TANH:
        for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    case OP_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
        break;
    case OP_EXP:
        for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
        break;
    default: /* OP_SOFTMAX */
        for (int i = 0; i < r; i++) {
            const float *xi = x + (size_t)i * c;
            float *yi = y + (size_t)i * c, mx = xi[0], sum = 0;
            for (int j = 1; j < c; j++) mx = xi[j] > mx ? xi[j] : mx;
            for (int j = 0; j < c; j++) sum += yi[j] = expf(xi[j] - mx);
            for (int j = 0; j < c; j++) yi[j] /= sum;
        }
    }
    return v;
}

int nl_tape_scale(nl_tape *t, int a, float s) { return unary(t, OP_SCALE, a, s); }
int nl_tape_sigmoid(nl_tape *t, int a) { return unary(t, OP_SIGMOID, a, 0); }
int nl_tape_tanh(nl_tape *t, int a) { return unary(t, OP_TANH, a, 0); }
int nl_tape_relu(nl_tape *t, int a) { return unary(t, OP_RELU, a, 0); }
int nl_tape_softmax(nl_tape *t, int a) { return unary(t, OP_SOFTMAX, a, 0); }
int nl_tape_exp(nl_tape *t, int a) { return unary(t, OP_EXP, a, 0); }

int nl_tape_concat(nl_tape *t, int a, int b)
{
    CHECK1(a);
    CHECK1(b);
    int r = t->n[a].r, ca = t->n[a].c, cb = t->n[b].c;
    if (t->n[b].r != r) return nl_err(NL_ESHAPE, "tape: concat of %d rows and %d rows", r, t->n[b].r);
    int v = push(t, OP_CONCAT, r, ca + cb, a, b);
    if (v < 0) return v;
    const float *x = V(t, a), *z = V(t, b);
    float *y = V(t, v);
    for (int i = 0; i < r; i++) {
        memcpy(y + (size_t)i * (ca + cb), x + (size_t)i * ca, (size_t)ca * sizeof(float));
        memcpy(y + (size_t)i * (ca + cb) + ca, z + (size_t)i * cb, (size_t)cb * sizeof(float));
    }
    return v;
}

int nl_tape_vconcat(nl_tape *t, int a, int b)
{
    CHECK1(a);
    CHECK1(b);
    int c = t->n[a].c, ra = t->n[a].r, rb = t->n[b].r;
    if (t->n[b].c != c) return nl_err(NL_ESHAPE, "tape: vconcat of %d columns and %d columns", c, t->n[b].c);
    int v = push(t, OP_VCAT, ra + rb, c, a, b);
    if (v < 0) return v;
    float *y = V(t, v);
    memcpy(y, V(t, a), (size_t)ra * c * sizeof(float));
    memcpy(y + (size_t)ra * c, V(t, b), (size_t)rb * c * sizeof(float));
    return v;
}

static int slice(nl_tape *t, int a, int r0, int r1, int c0, int c1)
{
    CHECK1(a);
    const node *A = &t->n[a];
    if (r0 < 0 || r1 > A->r || r0 >= r1 || c0 < 0 || c1 > A->c || c0 >= c1)
        return nl_err(NL_ERANGE, "tape: slice rows %d..%d cols %d..%d of (%d, %d)", r0, r1, c0, c1, A->r, A->c);
    int ac = A->c;
    int v = push(t, OP_SLICE, r1 - r0, c1 - c0, a, -1);
    if (v < 0) return v;
    t->n[v].r0 = r0;
    t->n[v].c0 = c0;
    const float *x = V(t, a);
    float *y = V(t, v);
    for (int i = r0; i < r1; i++)
        memcpy(y + (size_t)(i - r0) * (c1 - c0), x + (size_t)i * ac + c0, (size_t)(c1 - c0) * sizeof(float));
    return v;
}

int nl_tape_cols(nl_tape *t, int a, int c0, int c1)
{
    CHECK1(a);
    return slice(t, a, 0, t->n[a].r, c0, c1);
}

int nl_tape_rows(nl_tape *t, int a, int r0, int r1)
{
    CHECK1(a);
    return slice(t, a, r0, r1, 0, t->n[a].c);
}

int nl_tape_sumrows(nl_tape *t, int a)
{
    CHECK1(a);
    int r = t->n[a].r, c = t->n[a].c;
    int v = push(t, OP_SUMROWS, 1, c, a, -1);
    if (v < 0) return v;
    const float *x = V(t, a);
    float *y = V(t, v);
    memset(y, 0, (size_t)c * sizeof(float));
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++) y[j] += x[(size_t)i * c + j];
    return v;
}

int nl_tape_sum(nl_tape *t, int a)
{
    CHECK1(a);
    size_t n = (size_t)t->n[a].r * t->n[a].c;
    int v = push(t, OP_SUM, 1, 1, a, -1);
    if (v < 0) return v;
    const float *x = V(t, a);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    V(t, v)[0] = (float)s;
    return v;
}

/* ------------------------------------------------------------ losses */

/* A loss node keeping n auxiliary floats (targets) copied from aux. */
static int loss_node(nl_tape *t, int op, int a, int b, const float *aux, size_t n)
{
    int v = push(t, op, 1, 1, a, b);
    if (v < 0) return v;
    if (n) {
        size_t off = reserve(t, n);
        if (off == (size_t)-1) return nl_err(NL_ENOMEM, "tape: out of memory");
        t->n[v].aux = off;
        memcpy(t->mem + off, aux, n * sizeof(float));
    }
    return v;
}

int nl_tape_ce(nl_tape *t, int logits, const int *target)
{
    CHECK1(logits);
    int r = t->n[logits].r, c = t->n[logits].c;
    for (int i = 0; i < r; i++)
        if (target[i] >= c) return nl_err(NL_EINVAL, "tape: target %d of row %d outside 0..%d", target[i], i, c - 1);
    int sm = nl_tape_softmax(t, logits); /* kept for backward: d = p - onehot */
    if (sm < 0) return sm;
    float *tf = malloc((size_t)r * sizeof(float));
    if (!tf) return nl_err(NL_ENOMEM, "tape: out of memory");
    for (int i = 0; i < r; i++) tf[i] = (float)target[i];
    int v = loss_node(t, OP_CE, logits, sm, tf, (size_t)r);
    free(tf);
    if (v < 0) return v;
    const float *p = V(t, sm);
    double s = 0;
    for (int i = 0; i < r; i++)
        if (target[i] >= 0) s -= log(fmax(p[(size_t)i * c + target[i]], 1e-30));
    V(t, v)[0] = (float)s;
    return v;
}

int nl_tape_bce(nl_tape *t, int p, const float *y)
{
    CHECK1(p);
    size_t n = (size_t)t->n[p].r * t->n[p].c;
    int v = loss_node(t, OP_BCE, p, -1, y, n);
    if (v < 0) return v;
    const float *x = V(t, p), *yy = t->mem + t->n[v].aux;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double l1 = fmax(log(x[i]), -100.0), l0 = fmax(log(1.0 - x[i]), -100.0);
        s -= yy[i] * l1 + (1 - yy[i]) * l0;
    }
    V(t, v)[0] = (float)s;
    return v;
}

int nl_tape_mse(nl_tape *t, int a, const float *y)
{
    CHECK1(a);
    size_t n = (size_t)t->n[a].r * t->n[a].c;
    int v = loss_node(t, OP_MSE, a, -1, y, n);
    if (v < 0) return v;
    const float *x = V(t, a), *yy = t->mem + t->n[v].aux;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)(x[i] - yy[i]) * (x[i] - yy[i]);
    V(t, v)[0] = (float)s;
    return v;
}

int nl_tape_kl(nl_tape *t, int mu, int logvar)
{
    CHECK1(mu);
    CHECK1(logvar);
    if (t->n[mu].r != t->n[logvar].r || t->n[mu].c != t->n[logvar].c)
        return nl_err(NL_ESHAPE, "tape: kl of mu (%d, %d) and logvar (%d, %d)", t->n[mu].r, t->n[mu].c,
                      t->n[logvar].r, t->n[logvar].c);
    size_t n = (size_t)t->n[mu].r * t->n[mu].c;
    int v = loss_node(t, OP_KL, mu, logvar, NULL, 0);
    if (v < 0) return v;
    const float *m = V(t, mu), *lv = V(t, logvar);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += 1.0 + lv[i] - (double)m[i] * m[i] - exp(lv[i]);
    V(t, v)[0] = (float)(-0.5 * s);
    return v;
}

/* ------------------------------------------------------------ backward */

/* Gradient of node v given dy: accumulate into its inputs' gradients. */
static void back(nl_tape *t, int v)
{
    const node *d = &t->n[v];
    if (!d->rg) return; /* nothing upstream learns: constants, and ops on them only */
    const float *dy = G(t, v), *y = V(t, v);
    int r = d->r, c = d->c;
    size_t n = (size_t)r * c;
    switch (d->op) {
    case OP_LEAF:
    case OP_PARAM:
        return;
    case OP_LINEAR: {
        int in = t->n[d->a].c;
        /* dx += dy W ; dW += dy^T x ; db += sum rows dy (each when needed:
         * the input is often a constant, the weight sometimes one) */
        if (t->n[d->a].rg)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, in, c, 1.0f, dy, c, V(t, d->w), in, 1.0f,
                        G(t, d->a), in);
        if (t->n[d->w].rg)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, in, r, 1.0f, dy, c, V(t, d->a), in, 1.0f,
                        G(t, d->w), in);
        if (d->b >= 0 && t->n[d->b].rg) {
            float *db = G(t, d->b);
            for (int i = 0; i < r; i++)
                for (int j = 0; j < c; j++) db[j] += dy[(size_t)i * c + j];
        }
        return;
    }
    case OP_MATMUL: {
        int k = t->n[d->a].c, transb = d->r0;
        /* y = a b: da += dy b^T, db += a^T dy ; y = a b^T: da += dy b, db += dy^T a */
        if (t->n[d->a].rg)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, transb ? CblasNoTrans : CblasTrans, r, k, c, 1.0f, dy, c,
                        V(t, d->b), transb ? k : c, 1.0f, G(t, d->a), k);
        if (!t->n[d->b].rg)
            return;
        if (transb)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, k, r, 1.0f, dy, c, V(t, d->a), k, 1.0f,
                        G(t, d->b), k);
        else
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, c, r, 1.0f, V(t, d->a), k, dy, c, 1.0f,
                        G(t, d->b), c);
        return;
    }
    case OP_ADD:
    case OP_SUB:
    case OP_MUL: {
        int mode = d->r0;
        float *da = G(t, d->a), *db = G(t, d->b);
        const float *x = V(t, d->a), *z = V(t, d->b);
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) {
                size_t k = (size_t)i * c + j, kb = bidx(mode, i, j, c);
                if (d->op == OP_MUL) {
                    da[k] += dy[k] * z[kb];
                    db[kb] += dy[k] * x[k];
                } else {
                    da[k] += dy[k];
                    db[kb] += d->op == OP_ADD ? dy[k] : -dy[k];
                }
            }
        return;
    }
    case OP_SCALE: {
        float *da = G(t, d->a);
        for (size_t i = 0; i < n; i++) da[i] += d->s * dy[i];
        return;
    }
    case OP_SIGMOID: {
        float *da = G(t, d->a);
        for (size_t i = 0; i < n; i++) da[i] += dy[i] * y[i] * (1 - y[i]);
        return;
    }
    case OP_TANH: {
        float *da = G(t, d->a);
        for (size_t i = 0; i < n; i++) da[i] += dy[i] * (1 - y[i] * y[i]);
        return;
    }
    case OP_RELU: {
        float *da = G(t, d->a);
        for (size_t i = 0; i < n; i++)
            if (y[i] > 0) da[i] += dy[i];
        return;
    }
    case OP_SOFTMAX: {
        float *da = G(t, d->a);
        for (int i = 0; i < r; i++) {
            const float *yi = y + (size_t)i * c, *gi = dy + (size_t)i * c;
            float dot = 0;
            for (int j = 0; j < c; j++) dot += yi[j] * gi[j];
            for (int j = 0; j < c; j++) da[(size_t)i * c + j] += yi[j] * (gi[j] - dot);
        }
        return;
    }
    case OP_CONCAT: {
        int ca = t->n[d->a].c, cb = t->n[d->b].c;
        float *da = G(t, d->a), *db = G(t, d->b);
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < ca; j++) da[(size_t)i * ca + j] += dy[(size_t)i * c + j];
            for (int j = 0; j < cb; j++) db[(size_t)i * cb + j] += dy[(size_t)i * c + ca + j];
        }
        return;
    }
    case OP_VCAT: {
        size_t na = (size_t)t->n[d->a].r * c, nb = (size_t)t->n[d->b].r * c;
        float *da = G(t, d->a), *db = G(t, d->b);
        for (size_t i = 0; i < na; i++) da[i] += dy[i];
        for (size_t i = 0; i < nb; i++) db[i] += dy[na + i];
        return;
    }
    case OP_EXP: {
        float *da = G(t, d->a);
        for (size_t i = 0; i < n; i++) da[i] += dy[i] * y[i];
        return;
    }
    case OP_SLICE: {
        int ac = t->n[d->a].c;
        float *da = G(t, d->a);
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) da[(size_t)(i + d->r0) * ac + j + d->c0] += dy[(size_t)i * c + j];
        return;
    }
    case OP_SUMROWS: {
        int ar = t->n[d->a].r;
        float *da = G(t, d->a);
        for (int i = 0; i < ar; i++)
            for (int j = 0; j < c; j++) da[(size_t)i * c + j] += dy[j];
        return;
    }
    case OP_SUM: {
        size_t an = (size_t)t->n[d->a].r * t->n[d->a].c;
        float *da = G(t, d->a);
        for (size_t i = 0; i < an; i++) da[i] += dy[0];
        return;
    }
    case OP_CE: {
        int ar = t->n[d->a].r, ac = t->n[d->a].c;
        const float *p = V(t, d->b), *tg = t->mem + d->aux;
        float *da = G(t, d->a);
        for (int i = 0; i < ar; i++) {
            int k = (int)tg[i];
            if (k < 0) continue;
            for (int j = 0; j < ac; j++) da[(size_t)i * ac + j] += dy[0] * (p[(size_t)i * ac + j] - (j == k));
        }
        return;
    }
    case OP_BCE: {
        size_t an = (size_t)t->n[d->a].r * t->n[d->a].c;
        const float *x = V(t, d->a), *yy = t->mem + d->aux;
        float *da = G(t, d->a);
        /* d/dx -(y log x + (1-y) log(1-x)) = (x - y) / (x (1 - x)), with
         * PyTorch's guard against dividing by zero */
        for (size_t i = 0; i < an; i++) {
            double den = fmax((double)x[i] * (1.0 - x[i]), 1e-12);
            da[i] += (float)(dy[0] * (x[i] - yy[i]) / den);
        }
        return;
    }
    case OP_MSE: {
        size_t an = (size_t)t->n[d->a].r * t->n[d->a].c;
        const float *x = V(t, d->a), *yy = t->mem + d->aux;
        float *da = G(t, d->a);
        for (size_t i = 0; i < an; i++) da[i] += dy[0] * 2 * (x[i] - yy[i]);
        return;
    }
    case OP_KL: {
        size_t an = (size_t)t->n[d->a].r * t->n[d->a].c;
        const float *m = V(t, d->a), *lv = V(t, d->b);
        float *dm = G(t, d->a), *dl = G(t, d->b);
        for (size_t i = 0; i < an; i++) {
            dm[i] += dy[0] * m[i];
            dl[i] += dy[0] * 0.5f * (expf(lv[i]) - 1);
        }
        return;
    }
    }
}

int nl_tape_backward(nl_tape *t, int loss, float scale)
{
    CHECK1(loss);
    if (t->n[loss].r != 1 || t->n[loss].c != 1)
        return nl_err(NL_ESHAPE, "tape: backward from a (%d, %d) value, not a scalar", t->n[loss].r, t->n[loss].c);
    if (t->gcap < t->used) {
        float *g = realloc(t->grad, t->used * sizeof(float));
        if (!g) return nl_err(NL_ENOMEM, "tape: out of memory for gradients");
        t->grad = g;
        t->gcap = t->used;
    }
    memset(t->grad, 0, t->used * sizeof(float));
    G(t, loss)[0] = scale;
    /* a node's inputs always precede it: reverse order is a topological one */
    for (int v = loss; v >= 0; v--) back(t, v);
    return 0;
}
