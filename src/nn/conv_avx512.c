/* SPDX-License-Identifier: GPL-3.0-or-later */
/* conv_avx512.c - AVX-512 direct convolution kernels for conv_direct.h. The
 * whole file is compiled for AVX-512 F (a target pragma, so the build needs
 * no per-file flags) and conv.c calls it only after nl_nn_ctx_avx512().
 * Written by hand because no Debian library covers it: OpenBLAS has no
 * convolution, and at NB201 sizes (16 to 64 channels) its sgemm spends much
 * of its time packing small matrices, with im2col copying each input 9 times
 * before that; oneDNN is not packaged for C consumers.
 *
 * Layout stays NCHW: 16 consecutive pixels of a plane sit in one register,
 * so a tap of a 'same' convolution is one masked unaligned load (the masks
 * blank the padding). The forward keeps an 8 output channels x 3 pixel
 * vectors block of sums in registers and broadcasts one weight per output
 * channel; dx is the same kernel on dy with flipped, transposed weights.
 * The weight gradient copies a group of samples into aligned scratch and
 * keeps, per tap, an 8 output x 3 input channels block of sums in
 * registers, each a vector of 16 pixel partial sums; the 24 vectors are
 * reduced with a transposing tree once per group. */
#include "nn/conv_direct.h"

#if defined(__x86_64__) && defined(__GNUC__)

#pragma GCC push_options
#pragma GCC target("avx512f")

#include <immintrin.h>
#include <string.h>

#define COB NL_CONVD_COB
#define PV 3 /* pixel vectors per forward block */
#define DCO NL_CONVD_DCO
#define DCI NL_CONVD_DCI

/* Addresses are formed as integers: a tap offset can point before the plane
 * (into the lanes the mask blanks), where C pointer arithmetic would be
 * undefined. Masked-off lanes are never read, so no fault can occur. */
static inline __m512 ldm(__mmask16 m, uintptr_t a)
{
    return _mm512_maskz_loadu_ps(m, (const void *)a);
}

/* One block: COB output channels (nco of them real) x PV pixel vectors. */
static inline __attribute__((always_inline)) void fwd_block(const nl_convd *d, const float *wb,
                                                            const uintptr_t xb[PV], float *const yb[PV],
                                                            const uint16_t *const mrow[PV], const __mmask16 sm[PV],
                                                            int nco, const float *bias, int accumulate)
{
    const int64_t cin = d->cin, hw = d->hw;
    const uintptr_t hwb = (uintptr_t)hw * sizeof(float);
    __m512 acc[COB][PV];
#pragma GCC unroll 8
    for (int co = 0; co < COB; co++) {
        __m512 b0 = _mm512_setzero_ps();
        if (bias && co < nco) b0 = _mm512_set1_ps(bias[co]);
#pragma GCC unroll 4
        for (int j = 0; j < PV; j++)
            acc[co][j] = accumulate && co < nco ? _mm512_maskz_loadu_ps(sm[j], yb[j] + co * hw) : b0;
    }
    for (int t = 0; t < d->taps; t++) {
        __mmask16 m[PV];
        uintptr_t p[PV];
#pragma GCC unroll 4
        for (int j = 0; j < PV; j++) {
            m[j] = mrow[j][t];
            p[j] = xb[j] + (uintptr_t)d->off[t] * sizeof(float);
        }
        const float *w = wb + (int64_t)t * cin * COB;
        for (int64_t ci = 0; ci < cin; ci++) {
            __m512 xv[PV];
#pragma GCC unroll 4
            for (int j = 0; j < PV; j++) {
                xv[j] = ldm(m[j], p[j]);
                p[j] += hwb;
            }
#pragma GCC unroll 8
            for (int co = 0; co < COB; co++) {
                const __m512 b = _mm512_set1_ps(w[co]);
#pragma GCC unroll 4
                for (int j = 0; j < PV; j++) acc[co][j] = _mm512_fmadd_ps(b, xv[j], acc[co][j]);
            }
            w += COB;
        }
    }
#pragma GCC unroll 8
    for (int co = 0; co < COB; co++)
        if (co < nco)
#pragma GCC unroll 4
            for (int j = 0; j < PV; j++) _mm512_mask_storeu_ps(yb[j] + co * hw, sm[j], acc[co][j]);
}

/* Samples per group: enough pixel vectors for the blocks to be full, a
 * multiple of PV when the plane alone is not. */
static int64_t fwd_group(int64_t nvec)
{
    int64_t g = (48 + nvec - 1) / nvec;
    if (nvec % PV) g = (g + PV - 1) / PV * PV;
    return g;
}

void nl_convd_fwd_avx512(const nl_convd *d, const float *wp, const float *x, float *y, int64_t nsamp,
                         const float *bias, int accumulate)
{
    const int64_t hw = d->hw, nvec = d->nvec, cin = d->cin, cout = d->cout;
    const int64_t ncob = (cout + COB - 1) / COB, g = fwd_group(nvec);
    const __mmask16 tail = hw % 16 ? (__mmask16)((1u << (hw % 16)) - 1) : (__mmask16)0xFFFF;
    for (int64_t s0 = 0; s0 < nsamp; s0 += g) {
        const int64_t items = (nsamp - s0 < g ? nsamp - s0 : g) * nvec;
        for (int64_t cb = 0; cb < ncob; cb++) {
            const float *wb = wp + cb * d->taps * cin * COB;
            const int nco = cout - cb * COB < COB ? (int)(cout - cb * COB) : COB;
            const float *bb = bias ? bias + cb * COB : NULL;
            for (int64_t i = 0; i < items; i += PV) {
                uintptr_t xb[PV];
                float *yb[PV];
                const uint16_t *mrow[PV];
                __mmask16 sm[PV];
                for (int j = 0; j < PV; j++) {
                    if (i + j < items) {
                        const int64_t s = s0 + (i + j) / nvec, v = (i + j) % nvec;
                        xb[j] = (uintptr_t)(x + s * cin * hw + v * 16);
                        yb[j] = y + (s * cout + cb * COB) * hw + v * 16;
                        mrow[j] = d->mask + v * d->taps;
                        sm[j] = v == nvec - 1 ? tail : (__mmask16)0xFFFF;
                    } else { /* padding of the last block: reads and writes nothing */
                        xb[j] = (uintptr_t)x;
                        yb[j] = y;
                        mrow[j] = d->mask + nvec * d->taps;
                        sm[j] = 0;
                    }
                }
                fwd_block(d, wb, xb, yb, mrow, sm, nco, bb, accumulate);
            }
        }
    }
}

/* The 16 sums of v[0..15] as one vector: lane k holds the sum of the lanes
 * of v[perm16[k]] (a transposing tree of adds instead of 16 horizontal
 * sums). */
static const int perm16[16] = { 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15 };

static inline __m512 sum16(const __m512 v[16])
{
    __m512 a[8], b[4], c[2];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        a[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
        b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xDD));
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++)
        c[i] = _mm512_add_ps(_mm512_shuffle_ps(b[2 * i], b[2 * i + 1], 0x44),
                             _mm512_shuffle_ps(b[2 * i], b[2 * i + 1], 0xEE));
    return _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], 0x88), _mm512_shuffle_ps(c[0], c[1], 0xDD));
}

void nl_convd_dw_avx512(const nl_convd *d, const float *dy, const float *x, float *dw, int64_t nsamp,
                        float *scratch)
{
    const int64_t hw = d->hw, nvec = d->nvec, cin = d->cin, cout = d->cout;
    const int taps = d->taps;
    const int64_t g = nl_convd_dw_group(d), ld = nl_convd_dw_ld(d), ncob = (cout + DCO - 1) / DCO;
    const int64_t ncib = (cin + DCI - 1) / DCI;
    /* A group of samples is copied into aligned scratch, tails zeroed: dy
     * as (output block, vector, DCO channels, 16 pixels), so that a block's
     * loads share one pointer, and x channel by channel in rows of ld floats
     * (taps are offsets within a row). The loop below then runs over every
     * vector of the group at once. */
    float *dyg = scratch, *xg = scratch + ncob * g * nvec * DCO * 16;
    /* the reduced sums of every (block, tap), in reduction lane order, added
     * over groups and scattered into dw at the end */
    float *acc32 = xg + cin * ld;
    uint16_t *gm = (uint16_t *)(void *)(acc32 + ncob * ncib * taps * 32);
    memset(acc32, 0, (size_t)(ncob * ncib * taps * 32) * sizeof *acc32);
    for (int64_t u = 0; u < g * nvec; u++)
        memcpy(gm + u * taps, d->mask + (u % nvec) * taps, (size_t)taps * sizeof *gm);
    for (int64_t s0 = 0; s0 < nsamp; s0 += g) {
        const int64_t ns = nsamp - s0 < g ? nsamp - s0 : g, nv = ns * nvec;
        if (hw % 16 || cout % DCO) memset(dyg, 0, (size_t)(ncob * nv * DCO * 16) * sizeof *dyg);
        for (int64_t s = 0; s < ns; s++) {
            for (int64_t co = 0; co < cout; co++) {
                const float *src = dy + ((s0 + s) * cout + co) * hw;
                float *dst = dyg + (((co / DCO) * nv + s * nvec) * DCO + co % DCO) * 16;
                for (int64_t v = 0; v < nvec; v++) {
                    const int64_t n = hw - v * 16 < 16 ? hw - v * 16 : 16;
                    memcpy(dst + v * DCO * 16, src + v * 16, (size_t)n * sizeof *dst);
                }
            }
            for (int64_t ci = 0; ci < cin; ci++) {
                float *r = xg + ci * ld + s * nvec * 16;
                memcpy(r, x + ((s0 + s) * cin + ci) * hw, (size_t)hw * sizeof *r);
                memset(r + hw, 0, (size_t)(nvec * 16 - hw) * sizeof *r);
            }
        }
        for (int64_t co0 = 0; co0 < cout; co0 += DCO)
            for (int64_t ci0 = 0; ci0 < cin; ci0 += DCI) {
                /* an input block past the channel count repeats the last
                 * channel and drops those sums */
                const float *dyb = dyg + (co0 / DCO) * nv * DCO * 16;
                uintptr_t xr[DCI];
                for (int i = 0; i < DCI; i++) xr[i] = (uintptr_t)(xg + (ci0 + i < cin ? ci0 + i : cin - 1) * ld);
                for (int t = 0; t < taps; t++) {
                    __m512 acc[32];
#pragma GCC unroll 32
                    for (int q = 0; q < 32; q++) acc[q] = _mm512_setzero_ps();
                    const uintptr_t offb = (uintptr_t)d->off[t] * sizeof(float);
                    const uint16_t *mt = gm + t;
                    uintptr_t xp[DCI];
#pragma GCC unroll 4
                    for (int i = 0; i < DCI; i++) xp[i] = xr[i] + offb;
                    const float *dp = dyb;
                    for (int64_t u = 0; u < nv; u++) {
                        const __mmask16 m = mt[u * taps];
                        __m512 b[DCI];
#pragma GCC unroll 4
                        for (int i = 0; i < DCI; i++) {
                            b[i] = ldm(m, xp[i]);
                            xp[i] += 16 * sizeof(float);
                        }
#pragma GCC unroll 8
                        for (int j = 0; j < DCO; j++) {
                            __m512 a = _mm512_load_ps(dp + j * 16);
                            /* keep a in a register: folded into each FMA
                             * it would be loaded DCI times */
                            __asm__("" : "+v"(a));
#pragma GCC unroll 4
                            for (int i = 0; i < DCI; i++)
                                acc[j * DCI + i] = _mm512_fmadd_ps(a, b[i], acc[j * DCI + i]);
                        }
                        dp += DCO * 16;
                    }
                    float *a32 = acc32 + (((co0 / DCO) * ncib + ci0 / DCI) * taps + t) * 32;
                    _mm512_store_ps(a32, _mm512_add_ps(_mm512_load_ps(a32), sum16(acc)));
                    _mm512_store_ps(a32 + 16, _mm512_add_ps(_mm512_load_ps(a32 + 16), sum16(acc + 16)));
                }
            }
    }
    for (int64_t cb = 0; cb < ncob; cb++)
        for (int64_t ib = 0; ib < ncib; ib++)
            for (int t = 0; t < taps; t++) {
                const float *a32 = acc32 + ((cb * ncib + ib) * taps + t) * 32;
                for (int k = 0; k < 32; k++) {
                    const int q = (k / 16) * 16 + perm16[k % 16];
                    const int64_t co = cb * DCO + q / DCI, ci = ib * DCI + q % DCI;
                    if (q < DCO * DCI && co < cout && ci < cin) dw[(co * cin + ci) * taps + t] += a32[k];
                }
            }
}

#pragma GCC pop_options

#else

void nl_convd_fwd_avx512(const nl_convd *d, const float *wp, const float *x, float *y, int64_t nsamp,
                         const float *bias, int accumulate)
{
    (void)d, (void)wp, (void)x, (void)y, (void)nsamp, (void)bias, (void)accumulate;
}

void nl_convd_dw_avx512(const nl_convd *d, const float *dy, const float *x, float *dw, int64_t nsamp,
                        float *scratch)
{
    (void)d, (void)dy, (void)x, (void)dw, (void)nsamp, (void)scratch;
}

#endif
