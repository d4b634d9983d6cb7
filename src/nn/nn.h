/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nn.h - the neural-network kernels: forward and backward of the layers that
 * NAS-Bench-201 networks are made of, as pure functions over naslab tensors in
 * the style of Torch's THNN (result arguments first). Networks, supernets and
 * training loops compose them; they keep no state of their own except the
 * scratch memory and threads of an nl_nn_ctx.
 *
 * Conventions for every kernel below:
 * - Activations are contiguous float32 NCHW tensors (N,C,H,W), or (N,F) for
 *   linear layers and logits. Weights: conv (Cout, Cin/groups, K, K), linear
 *   (Out, In). Output tensors are allocated by the caller with the right
 *   shape; a wrong shape fails with NL_ESHAPE naming both shapes.
 * - Backward kernels ACCUMULATE (+=) into every gradient they are given, so a
 *   node that feeds several edges, or a weight shared by several uses, just
 *   receives several calls; the caller zeroes gradients between steps. Any
 *   gradient argument may be NULL when it is not needed.
 * - Determinism: for a fixed ctx thread count the results are bit-identical
 *   from run to run (work is split in a fixed way and partial sums are added
 *   in a fixed order).
 * Uses core (tensor, error) and OpenBLAS; src/nn/ctx.h is the kernels' private
 * view of the ctx (thread pool, scratch). */
#ifndef NL_NN_H
#define NL_NN_H

#include <stdint.h>

#include "core/tensor.h"

/* Scratch memory and worker threads shared by the kernels. threads in 1..64
 * (the caller's thread works as worker 0, threads - 1 pool threads are
 * started); NULL on failure (nl_errmsg). It sets OpenBLAS to 1 thread:
 * each worker runs its own single-threaded products, and BLAS threads would
 * make the bits depend on OpenBLAS's thread count rather than the ctx's.
 * One ctx is used by one caller at a time. Free with nl_nn_ctx_free (NULL is a no-op), which joins the pool. */
typedef struct nl_nn_ctx nl_nn_ctx;
nl_nn_ctx *nl_nn_ctx_new(int threads);
void nl_nn_ctx_free(nl_nn_ctx *c);
int nl_nn_ctx_threads(const nl_nn_ctx *c);

/* An observer of ReLU inputs, for methods that read a network's activation
 * patterns (NASWOT's binary codes). While one is set, networks call fn(ud,
 * x) on the caller's thread with the input x (N, ...) of every ReLU layer of
 * every forward pass, before the ReLU runs; x is read-only and valid only
 * during the call. Networks say where they call it (nb201net.h). A non-zero
 * return stops the forward, which fails with that code. fn NULL unsets it;
 * unset, the cost is one pointer test per ReLU layer. */
typedef int (*nl_nn_relu_hook)(void *ud, const nl_tensor *x);
void nl_nn_ctx_set_relu_hook(nl_nn_ctx *c, nl_nn_relu_hook fn, void *ud);

/* 2-d convolution, square kernel k = w->shape[2], zero padding `pad`, stride
 * `stride`, `groups` groups (groups = Cin is depthwise); bias may be NULL.
 * Hout = (H + 2 pad - k) / stride + 1. c is required. NL_ESHAPE for
 * mismatched shapes ("conv2d: weight [16,3,3,3] expects 3 input channels, x
 * has shape [8,1,28,28]"), NL_EINVAL for stride < 1, pad < 0, groups not
 * dividing Cout, a non-contiguous tensor; NL_ENOMEM when scratch cannot
 * grow. The batch is split over the ctx workers. */
int nl_conv2d_forward(nl_nn_ctx *c, nl_tensor *y, const nl_tensor *x, const nl_tensor *w,
                      const nl_tensor *bias, int stride, int pad, int groups);
int nl_conv2d_backward(nl_nn_ctx *c, nl_tensor *dx, nl_tensor *dw, nl_tensor *dbias,
                       const nl_tensor *dy, const nl_tensor *x, const nl_tensor *w, int stride,
                       int pad, int groups);

/* Batch normalisation over (N,H,W) per channel; x is (N,C,H,W) or (N,C).
 * Training: normalise with the batch statistics (biased variance), save mean
 * and 1/sqrt(var+eps) per channel into save_mean/save_invstd (C; needed by
 * the backward), and update running_mean/var (unbiased variance, new =
 * (1-momentum) old + momentum batch, as PyTorch) unless both are NULL.
 * Training needs more than one value per channel (NL_EINVAL, as PyTorch).
 * Eval: normalise with the running statistics (required). gamma/beta NULL =
 * affine off. y may be x. Channels are split over the ctx workers. */
int nl_bn_forward(nl_nn_ctx *c, nl_tensor *y, const nl_tensor *x, const nl_tensor *gamma,
                  const nl_tensor *beta, nl_tensor *running_mean, nl_tensor *running_var,
                  nl_tensor *save_mean, nl_tensor *save_invstd, int training, double momentum,
                  double eps);
/* Backward of training-mode batch norm. */
int nl_bn_backward(nl_nn_ctx *c, nl_tensor *dx, nl_tensor *dgamma, nl_tensor *dbeta,
                   const nl_tensor *dy, const nl_tensor *x, const nl_tensor *gamma,
                   const nl_tensor *save_mean, const nl_tensor *save_invstd);

/* ReLU: y = max(x, 0); backward passes dy where x > 0. y may be x (in place).
 * Any shape. NB201's 'none' and 'skip_connect' edges need no kernel: they
 * are nl_tensor_fill (zeros) and nl_tensor_add (out may be an operand). */
int nl_relu_forward(nl_tensor *y, const nl_tensor *x);
int nl_relu_backward(nl_tensor *dx, const nl_tensor *dy, const nl_tensor *x);

/* Average pooling k x k, stride, zero padding 0 <= pad <= k/2 (as PyTorch);
 * count_include_pad = 0 divides by the number of input elements inside the
 * window (NB201's avg_pool_3x3), 1 by the window clipped to the padded
 * image. Floor-mode output size, as conv2d. Single-threaded. */
int nl_avgpool_forward(nl_tensor *y, const nl_tensor *x, int k, int stride, int pad,
                       int count_include_pad);
int nl_avgpool_backward(nl_tensor *dx, const nl_tensor *dy, const nl_tensor *x, int k, int stride,
                        int pad, int count_include_pad);

/* Max pooling k x k, 0 <= pad <= k/2; `arg` (numel of y int32 values,
 * caller-owned) records the flat index into x (over the whole tensor) of
 * each maximum for the backward pass. Padding is -inf; the first maximum of
 * a window wins and NaN propagates, as PyTorch. The backward adds dy at
 * those indices into dx, and fails with NL_ERANGE when an index lies outside
 * the plane of its output (a stale or foreign arg). */
int nl_maxpool_forward(nl_tensor *y, int32_t *arg, const nl_tensor *x, int k, int stride, int pad);
int nl_maxpool_backward(nl_tensor *dx, const nl_tensor *dy, const int32_t *arg);

/* Global average pooling (N,C,H,W) -> (N,C). */
int nl_gap_forward(nl_tensor *y, const nl_tensor *x);
int nl_gap_backward(nl_tensor *dx, const nl_tensor *dy);

/* Fully connected: y = x w^T + b, x (N,In), w (Out,In), b (Out) or NULL.
 * Runs on the caller's thread; c may be NULL. */
int nl_linear_forward(nl_nn_ctx *c, nl_tensor *y, const nl_tensor *x, const nl_tensor *w,
                      const nl_tensor *b);
int nl_linear_backward(nl_nn_ctx *c, nl_tensor *dx, nl_tensor *dw, nl_tensor *db,
                       const nl_tensor *dy, const nl_tensor *x, const nl_tensor *w);

/* Softmax cross-entropy, mean over the batch. logits (N,K), labels N values
 * in 0..K-1 (an out-of-range label fails with NL_ERANGE naming its index).
 * Writes *loss, *correct (argmax == label count; may be NULL) and, if dlogits
 * is not NULL, OVERWRITES it with d loss / d logits = (softmax - onehot)/N:
 * it starts a backward pass. */
int nl_softmax_xent(double *loss, int64_t *correct, nl_tensor *dlogits, const nl_tensor *logits,
                    const int32_t *labels);

#endif
