/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ctx.h - the kernels' private view of an nl_nn_ctx: a fork-join run over the
 * fixed worker pool, per-worker scratch memory that grows and is reused, and
 * the fixed split of a range among workers that makes results deterministic.
 * Only the kernel sources under src/nn include it. */
#ifndef NL_NN_CTX_H
#define NL_NN_CTX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nn/nn.h"

/* A job: fn(arg, worker, workers) runs once on each worker 0..workers-1, the
 * calling thread being worker 0. */
typedef void (*nl_nn_job)(void *arg, int worker, int workers);

/* Run `fn` on every worker and return when all have finished. Never fails:
 * the pool threads were started by nl_nn_ctx_new. */
void nl_nn_ctx_run(nl_nn_ctx *c, nl_nn_job fn, void *arg);

/* Make sure every worker has at least `nfloats` floats of scratch (contents
 * undefined), growing the buffers if needed. Call from the caller's thread
 * before nl_nn_ctx_run. 0, or NL_ENOMEM. */
int nl_nn_ctx_reserve(nl_nn_ctx *c, size_t nfloats);

/* Worker w's scratch (valid until the next nl_nn_ctx_reserve), 64-byte aligned. */
float *nl_nn_ctx_scratch(nl_nn_ctx *c, int worker);

/* Which kernels a ctx runs. NL_NN_SIMD_AUTO (the default) picks, per call,
 * the fastest kernel the running CPU supports for the shape; NL_NN_SIMD_NONE
 * keeps every operation on its portable path (im2col + OpenBLAS sgemm for
 * convolutions), so tests and benchmarks can compare the two. A new ctx
 * starts at NONE when the environment variable NASLAB_NN_SIMD is "none" (to
 * run a whole program on the portable path), else at AUTO. Results are
 * deterministic for a fixed setting, CPU and thread count; the two settings
 * agree to float rounding, not bit for bit. */
enum { NL_NN_SIMD_NONE = 0, NL_NN_SIMD_AUTO = 1 };
void nl_nn_ctx_set_simd(nl_nn_ctx *c, int mode);
/* The mode set (NL_NN_SIMD_NONE or NL_NN_SIMD_AUTO). */
int nl_nn_ctx_simd(const nl_nn_ctx *c);
/* 1 when kernels may use AVX-512 F: the mode is AUTO and the running CPU
 * has it (always 0 off x86-64 or without GCC's target attributes). */
int nl_nn_ctx_avx512(const nl_nn_ctx *c);

/* What a network calls with the input of each ReLU layer (nn.h's relu
 * hook): 0 when no hook is set, else the hook's return. */
int nl_nn_ctx_relu_input(nl_nn_ctx *c, const nl_tensor *x);

/* Validation shared by the kernels: t must be a contiguous tensor of exactly
 * `ndim` dims and `shape`. NL_EINVAL "op: name is missing" for NULL,
 * NL_ESHAPE "op: name has shape [a], expected [b]", NL_EINVAL "op: name [a]
 * is not contiguous". */
int nl_nn_check(const char *op, const char *name, const nl_tensor *t, int ndim, const int64_t *shape);
/* The "[2,3]" form of a raw shape, as nl_tensor_shape_str. */
char *nl_nn_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);
/* NL_EINVAL "op: name [a] is not contiguous" unless t is contiguous. */
int nl_nn_contig(const char *op, const char *name, const nl_tensor *t);

#define NL_NN_SHAPEBUF 96

/* Elementwise loops four floats at a time through GCC vector types: -O2
 * does not vectorise loops of unknown length, and these run over every
 * activation. Each element sees the same operations as in scalar code. */
typedef float nl_vf4 __attribute__((vector_size(16)));
typedef int32_t nl_vi4 __attribute__((vector_size(16)));

static inline nl_vf4 nl_vld(const float *p)
{
    nl_vf4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void nl_vst(float *p, nl_vf4 v)
{
    memcpy(p, &v, sizeof v);
}

/* y[i] = a * x[i] + b; y may be x. */
static inline void nl_nn_affine(float *y, const float *x, int64_t n, float a, float b)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) nl_vst(y + i, nl_vld(x + i) * a + b);
    for (; i < n; i++) y[i] = x[i] * a + b;
}

/* y[i] += x[i]. */
static inline void nl_nn_acc(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) nl_vst(y + i, nl_vld(y + i) + nl_vld(x + i));
    for (; i < n; i++) y[i] += x[i];
}

/* The fixed part [*lo, *hi) of 0..n that worker w of `workers` handles. */
static inline void nl_nn_split(int64_t n, int w, int workers, int64_t *lo, int64_t *hi)
{
    *lo = n * w / workers;
    *hi = n * (w + 1) / workers;
}

#endif
