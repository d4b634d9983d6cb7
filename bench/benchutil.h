/* SPDX-License-Identifier: GPL-3.0-or-later */
/* benchutil.h - what several benchmarks share: a monotonic clock and the
 * OpenBLAS SGEMM rate that GFLOP/s figures are read against. Header-only:
 * each benchmark is one program. */
#ifndef NL_BENCHUTIL_H
#define NL_BENCHUTIL_H

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void openblas_set_num_threads(int);

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP/s of an n x n x n SGEMM with OpenBLAS's current thread count, best
 * of 5 after a warm-up call. */
static inline double sgemm_gflops(int n)
{
    float *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b),
          *c = malloc((size_t)n * n * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "sgemm_gflops: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < (size_t)n * n; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    double best = 1e30;
    for (int r = 0; r < 6; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double t = now() - t0;
        if (r && t < best) best = t;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * (double)n * n / best * 1e-9;
}

#endif
