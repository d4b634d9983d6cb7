/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tensor.h - float32 n-d tensors (1..NL_TENSOR_MAXDIM dims) over reference-
 * counted storage, so slices and reshapes are views that share memory.
 * Matrix products go through OpenBLAS cblas_sgemm. Uses core/error.
 *
 * Conventions: functions return 0 or a negative NL_E* code (message in
 * nl_errmsg()); results come back through out-parameters; a function that
 * writes into an existing tensor takes it first (nl_tensor_add(out, a, b)).
 * Shape mismatches are NL_ESHAPE and the message shows the shapes involved,
 * as in "shapes [2,3] and [4] do not broadcast". Dimensions and indices are
 * 0-based here; the Lua binding converts. Storage reference counts are
 * atomic, so threads may create and free views of one storage concurrently;
 * writing the same elements from two threads is still the caller's problem. */
#ifndef NL_TENSOR_H
#define NL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define NL_TENSOR_MAXDIM 8

typedef struct nl_storage {
    float *data;
    int64_t n;   /* number of floats */
    int refs;
} nl_storage;

typedef struct nl_tensor {
    nl_storage *st;
    int64_t offset; /* in floats */
    int ndim;
    int64_t shape[NL_TENSOR_MAXDIM];
    int64_t stride[NL_TENSOR_MAXDIM]; /* in floats */
} nl_tensor;

/* A new zero-filled contiguous tensor; ndim in 1..NL_TENSOR_MAXDIM, every
 * shape[i] >= 0. Caller owns it (nl_tensor_free). NULL on failure (nl_errmsg). */
nl_tensor *nl_tensor_new(int ndim, const int64_t *shape);
/* Free the view; the storage goes with its last view. NULL is a no-op. */
void nl_tensor_free(nl_tensor *t);
/* Number of elements (product of the shape). */
int64_t nl_tensor_numel(const nl_tensor *t);
/* Non-zero when elements are laid out row-major without gaps. */
int nl_tensor_is_contiguous(const nl_tensor *t);
/* Pointer to element [0,...,0]. For a contiguous tensor, the numel floats. */
float *nl_tensor_data(const nl_tensor *t);

/* ------------------------------------------------------------ creation */

/* *out = a new zero-filled contiguous tensor of the given shape. Caller owns
 * *out. NL_EINVAL for ndim outside 1..NL_TENSOR_MAXDIM or a negative size,
 * NL_ENOMEM when memory runs out; *out is NULL on failure. */
int nl_tensor_zeros(nl_tensor **out, int ndim, const int64_t *shape);
/* Like nl_tensor_zeros, every element set to v. */
int nl_tensor_full(nl_tensor **out, int ndim, const int64_t *shape, float v);
/* Like nl_tensor_zeros, filled with a copy of `data` (numel floats, row-major;
 * may be NULL only when numel is 0). */
int nl_tensor_from_data(nl_tensor **out, int ndim, const int64_t *shape, const float *data);
/* *out = a new contiguous tensor with t's shape and values (a deep copy that
 * shares nothing with t). Caller owns *out. Fails like nl_tensor_zeros. */
int nl_tensor_clone(nl_tensor **out, const nl_tensor *t);
/* *out = t itself as a new view when t is contiguous, else a contiguous deep
 * copy; either way row-major data the caller may read through
 * nl_tensor_data(). Caller owns *out. Fails like nl_tensor_zeros. */
int nl_tensor_contiguous(nl_tensor **out, const nl_tensor *t);
/* *out = a new view of all of t (same shape, strides and storage). Caller
 * owns *out. NL_ENOMEM only. */
int nl_tensor_alias(nl_tensor **out, const nl_tensor *t);
/* Write t's shape as "[2,3]" into buf (size n, always NUL-terminated when
 * n > 0). Returns buf so it can sit inside a printf argument list. */
char *nl_tensor_shape_str(const nl_tensor *t, char *buf, size_t n);
/* Non-zero when a and b have the same ndim and shape. */
int nl_tensor_same_shape(const nl_tensor *a, const nl_tensor *b);

/* ------------------------------------------------------------ elements */

/* *out = t[idx[0], ..., idx[ndim-1]]. NL_ERANGE when an index is outside
 * 0..shape-1; the message names the dimension, the index and the size. */
int nl_tensor_get(const nl_tensor *t, const int64_t *idx, float *out);
/* t[idx...] = v; fails like nl_tensor_get. */
int nl_tensor_set(nl_tensor *t, const int64_t *idx, float v);

/* ------------------------------------------------------------ views
 * Each returns a new view (caller owns it, frees with nl_tensor_free) that
 * shares t's storage: writes through one are seen through the other. */

/* Elements start, start+step, ... before stop along `dim` (Python's
 * t[start:stop:step] with step > 0 and no negative indices). Requires
 * 0 <= start <= stop <= shape[dim]; NL_EINVAL for a bad dim or step,
 * NL_ERANGE for bad bounds. */
int nl_tensor_slice(nl_tensor **out, const nl_tensor *t, int dim, int64_t start, int64_t stop,
                    int64_t step);
/* The sub-tensor at `index` along `dim`, with that dimension removed. A 1-d
 * tensor has nothing left to keep: NL_EINVAL (use nl_tensor_get, or slice to
 * a 1-element view). NL_ERANGE for a bad index. */
int nl_tensor_select(nl_tensor **out, const nl_tensor *t, int dim, int64_t index);
/* Dimensions d1 and d2 swapped (no data moves). NL_EINVAL for a bad dim. */
int nl_tensor_transpose(nl_tensor **out, const nl_tensor *t, int d1, int d2);
/* Dimension i of *out is dimension perm[i] of t; perm must be a permutation
 * of 0..ndim-1 (NL_EINVAL otherwise). */
int nl_tensor_permute(nl_tensor **out, const nl_tensor *t, const int *perm);
/* t with a new shape of the same numel; one entry of shape may be -1 and is
 * then inferred. Strict: t must be contiguous, and *out is always a view
 * (NL_EINVAL "view of a non-contiguous tensor [..]" otherwise). NL_ESHAPE
 * when the element counts differ, naming both shapes. */
int nl_tensor_view(nl_tensor **out, const nl_tensor *t, int ndim, const int64_t *shape);
/* Like nl_tensor_view, but a non-contiguous t is first copied, so *out is a
 * view of t when t is contiguous and an independent copy otherwise (the rule
 * numpy and torch follow). Use nl_tensor_view when sharing matters. */
int nl_tensor_reshape(nl_tensor **out, const nl_tensor *t, int ndim, const int64_t *shape);

/* ------------------------------------------------------------ filling */

/* Every element of t (any strides) = v. Always returns 0. */
int nl_tensor_fill(nl_tensor *t, float v);
/* dst[i] = src[i] for tensors of the same shape and any strides; NL_ESHAPE
 * otherwise. Overlapping dst and src must be the same view. */
int nl_tensor_copy(nl_tensor *dst, const nl_tensor *src);

/* ------------------------------------------------------------ products */

/* out = alpha * a @ b + beta * out for 2-d a [m,k], b [k,n], out [m,n]
 * (beta == 0 ignores out's old contents, NaN included). Transposed views go
 * to cblas_sgemm as transposed operands without a copy when one of their
 * strides is 1; other layouts are copied first. out may share storage with a
 * or b (the product then goes through a scratch matrix). NL_ESHAPE names the
 * shapes, NL_ENOMEM when a scratch copy cannot be made. */
int nl_tensor_gemm(nl_tensor *out, float alpha, const nl_tensor *a, const nl_tensor *b, float beta);
/* out = a @ b: nl_tensor_gemm with alpha 1 and beta 0. */
int nl_tensor_matmul(nl_tensor *out, const nl_tensor *a, const nl_tensor *b);
/* Batched: out[i] = a[i] @ b[i] for 3-d a [B,m,k], b [B,k,n], out [B,m,n];
 * one sgemm per batch entry. Fails like nl_tensor_gemm. */
int nl_tensor_bmm(nl_tensor *out, const nl_tensor *a, const nl_tensor *b);

/* ------------------------------------------------------------ elementwise */

typedef enum nl_binop { NL_OP_ADD, NL_OP_SUB, NL_OP_MUL, NL_OP_DIV } nl_binop;

typedef enum nl_unop {
    NL_OP_NEG,
    NL_OP_EXP,
    NL_OP_LOG,
    NL_OP_SQRT,
    NL_OP_ABS,
    NL_OP_RELU,
    NL_OP_TANH,
    NL_OP_SIGMOID
} nl_unop;

/* The shape a and b broadcast to under numpy's rules (align the trailing
 * dimensions; a size-1 or missing dimension stretches): *ndim and shape[]
 * (room for NL_TENSOR_MAXDIM). NL_ESHAPE "shapes [2,3] and [4] do not
 * broadcast" when they do not. */
int nl_tensor_broadcast_shape(const nl_tensor *a, const nl_tensor *b, int *ndim, int64_t *shape);
/* out = a op b elementwise with broadcasting; out must have exactly the
 * broadcast shape (NL_ESHAPE otherwise, naming the shapes). out may be the
 * same view as a or b (in-place update); it must not overlap them in any
 * other way. Contiguous operands of equal shape take a plain vectorisable
 * loop. Division follows IEEE rules (x/0 is inf or NaN, not an error). */
int nl_tensor_binary(nl_tensor *out, const nl_tensor *a, const nl_tensor *b, nl_binop op);
/* The four nl_tensor_binary operations by name. */
int nl_tensor_add(nl_tensor *out, const nl_tensor *a, const nl_tensor *b);
int nl_tensor_sub(nl_tensor *out, const nl_tensor *a, const nl_tensor *b);
int nl_tensor_mul(nl_tensor *out, const nl_tensor *a, const nl_tensor *b);
int nl_tensor_div(nl_tensor *out, const nl_tensor *a, const nl_tensor *b);
/* out = a op s, or s op a when scalar_first is non-zero (for 1 - a, 1 / a);
 * out must have a's shape (NL_ESHAPE) and may be a itself. */
int nl_tensor_scalar(nl_tensor *out, const nl_tensor *a, nl_binop op, float s, int scalar_first);
/* out = a + s and out = a * s. */
int nl_tensor_add_scalar(nl_tensor *out, const nl_tensor *a, float s);
int nl_tensor_mul_scalar(nl_tensor *out, const nl_tensor *a, float s);
/* y += alpha * x for tensors of the same shape (NL_ESHAPE otherwise). */
int nl_tensor_axpy(nl_tensor *y, float alpha, const nl_tensor *x);
/* out = f(a) elementwise; out must have a's shape (NL_ESHAPE) and may be a
 * itself. relu(x) = x > 0 ? x : 0 (so NaN gives 0); sigmoid(x) =
 * 1 / (1 + exp(-x)), computed so that large |x| neither overflows nor loses
 * the tail. NL_EINVAL for an unknown op. */
int nl_tensor_map(nl_tensor *out, const nl_tensor *a, nl_unop op);
/* The name of a unary op ("exp"), or NULL; and the op of a name (NL_EINVAL
 * when the name is unknown). */
const char *nl_tensor_unop_name(nl_unop op);
int nl_tensor_unop_from_name(const char *name, nl_unop *op);

/* ------------------------------------------------------------ reductions
 * Sums accumulate in double. max/min ignore nothing: a NaN element makes
 * the result NaN (argmax then points at the first NaN). Reductions over an
 * empty tensor: sum 0, mean NaN, max/min/argmax NL_EINVAL. */

/* *out = the sum (the mean) of every element of t, any strides. Returns 0. */
int nl_tensor_sum(const nl_tensor *t, double *out);
int nl_tensor_mean(const nl_tensor *t, double *out);
/* *out = the largest (smallest) element; NL_EINVAL for an empty t. */
int nl_tensor_max(const nl_tensor *t, float *out);
int nl_tensor_min(const nl_tensor *t, float *out);
/* *out = the row-major flat index of the first largest (smallest) element. */
int nl_tensor_argmax(const nl_tensor *t, int64_t *out);
int nl_tensor_argmin(const nl_tensor *t, int64_t *out);

/* Reductions along `dim`: out has t's shape either with `dim` removed or
 * with shape[dim] = 1 (keepdim); a 1-d t reduces into a 1-element out.
 * NL_EINVAL for a bad dim, NL_ESHAPE when out has another shape, and for
 * max/min an empty dim. out must not overlap t. */
int nl_tensor_sum_dim(nl_tensor *out, const nl_tensor *t, int dim);
int nl_tensor_mean_dim(nl_tensor *out, const nl_tensor *t, int dim);
int nl_tensor_max_dim(nl_tensor *out, const nl_tensor *t, int dim);
int nl_tensor_min_dim(nl_tensor *out, const nl_tensor *t, int dim);
/* idx[j] = position along `dim` of the first largest (smallest) element of
 * the j-th row, rows counted row-major over the remaining dimensions; idx
 * holds numel(t) / shape[dim] entries. Fails like nl_tensor_max_dim. */
int nl_tensor_argmax_dim(int64_t *idx, const nl_tensor *t, int dim);
int nl_tensor_argmin_dim(int64_t *idx, const nl_tensor *t, int dim);

/* ------------------------------------------------------------ comparison */

/* *result = 1 when a and b have the same shape and every pair satisfies
 * |a - b| <= atol + rtol * |b| (numpy's allclose, without broadcasting; NaN
 * is never close), else 0. Different shapes are a 0, not an error. Returns
 * NL_EINVAL for a negative tolerance. */
int nl_tensor_allclose(const nl_tensor *a, const nl_tensor *b, double rtol, double atol, int *result);
/* *result = 1 when the shapes match and every element compares equal. */
int nl_tensor_equal(const nl_tensor *a, const nl_tensor *b, int *result);

#endif
