/* SPDX-License-Identifier: GPL-3.0-or-later */
/* conv_direct.h - direct convolution kernels for 'same' stride-1 convolutions
 * (odd k, pad (k-1)/2, one group) on NCHW planes, the shapes that fill a
 * NAS-Bench-201 network. conv.c prepares a plan (tap offsets and per-vector
 * lane masks, portable C) and calls the kernels, which live in files built
 * for one instruction set each and are called only when nl_nn_ctx_avx512()
 * says the CPU runs them (AVX-512 F, no other extension); shapes and CPUs
 * they do not cover keep im2col + OpenBLAS sgemm. Only conv.c and the kernel
 * files include this header. */
#ifndef NL_NN_CONV_DIRECT_H
#define NL_NN_CONV_DIRECT_H

#include <stdint.h>

/* Output channels per register block of the forward kernel: weights are
 * packed in blocks of this many (zero-padded) output channels. */
#define NL_CONVD_COB 8
/* Output and input channels per register block of the weight gradient. */
#define NL_CONVD_DCO 8
#define NL_CONVD_DCI 3

/* A 'same' convolution over planes of h x w pixels, read as vectors of 16
 * consecutive pixels of the flattened plane (the last one may be partial).
 * For output vector v and tap t = ki*k + kj, the input values are the 16
 * floats at v*16 + off[t] of the input plane, lanes outside the image (or
 * past the plane) masked off by mask[v*taps + t]. Row nvec of mask is all
 * zero: a vector with that index reads nothing and writes nothing. */
typedef struct nl_convd {
    int64_t cin, cout;      /* channels of the input and of the output */
    int64_t hw, nvec;       /* pixels per plane, 16-pixel vectors per plane */
    int taps;               /* k * k */
    const int64_t *off;     /* taps values */
    const uint16_t *mask;   /* (nvec + 1) * taps values */
} nl_convd;

/* Forward over `nsamp` consecutive samples: y (nsamp, cout, hw) = or += the
 * convolution of x (nsamp, cin, hw) with packed weights wp
 * (ceil(cout / NL_CONVD_COB), taps, cin, NL_CONVD_COB). bias (cout) may be
 * NULL; accumulate = 1 adds to y instead of overwriting it (bias must then
 * be NULL). Each output value is summed in one fixed order (tap, then input
 * channel), so the result does not depend on how samples are split. */
void nl_convd_fwd_avx512(const nl_convd *d, const float *wp, const float *x, float *y, int64_t nsamp,
                         const float *bias, int accumulate);

/* Weight gradient over `nsamp` samples: dw (cout, cin, taps) += sum over
 * samples and pixels of dy (nsamp, cout, hw) times the tap-shifted x
 * (nsamp, cin, hw). It works on groups of nl_convd_dw_group() samples and
 * needs nl_convd_dw_scratch() floats of 64-byte aligned scratch. */
void nl_convd_dw_avx512(const nl_convd *d, const float *dy, const float *x, float *dw, int64_t nsamp,
                        float *scratch);

/* About 48 vectors per group: enough work per horizontal reduction, and the
 * rows a block reads over its taps fit in L1. */
static inline int64_t nl_convd_dw_group(const nl_convd *d)
{
    return (48 + d->nvec - 1) / d->nvec;
}

/* Row stride of the group copies: whole vectors plus one, so that rows do
 * not all fall on the same cache sets. */
static inline int64_t nl_convd_dw_ld(const nl_convd *d)
{
    return nl_convd_dw_group(d) * d->nvec * 16 + 16;
}

static inline int64_t nl_convd_dw_scratch(const nl_convd *d)
{
    const int64_t gv = nl_convd_dw_group(d) * d->nvec;
    const int64_t ncob = (d->cout + NL_CONVD_DCO - 1) / NL_CONVD_DCO, ncib = (d->cin + NL_CONVD_DCI - 1) / NL_CONVD_DCI;
    return ncob * NL_CONVD_DCO * gv * 16 + d->cin * nl_convd_dw_ld(d) + ncob * ncib * d->taps * 32 +
           (gv * d->taps + 1) / 2;
}

#endif
