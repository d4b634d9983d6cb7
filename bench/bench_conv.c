/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_conv.c - times the NB201 convolutions at batch 128 (forward, and
 * forward + backward for dx and dw, no bias) with a 2-thread nn ctx, beside
 * PyTorch's F.conv2d + autograd on CPU with torch.set_num_threads(2), run by
 * Debian's /usr/bin/python3 on bench/conv_torch.py in the same run. Prints
 * milliseconds per call, GFLOP/s (2 flops per multiply-add; backward counts
 * two products like the forward) and the time ratio torch / naslab (above 1
 * means naslab is faster). naslab runs twice: with the kernels the ctx
 * picks (the AVX-512 direct convolution when the CPU has it and the shape
 * suits it) and forced onto the portable path (im2col + OpenBLAS sgemm,
 * NL_NN_SIMD_NONE). Also prints OpenBLAS SGEMM GFLOP/s on a 1024^3 product
 * with 1 and 2 BLAS threads for reference.
 *
 * Usage: bench_conv [SCRIPT [THREADS [REPS]]]   (defaults: the source tree's
 * bench/conv_torch.py, 2, 10) */
#include <cblas.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "nn/ctx.h"
#include "nn/nn.h"
#include "benchutil.h"

#ifndef NASLAB_SRCDIR
#define NASLAB_SRCDIR "."
#endif

#define PYTHON "/usr/bin/python3"

typedef struct cfg {
    int n, c, h, k, s, p;
    double fwd, fb;       /* ours, seconds per call */
    double pfwd, pfb;     /* ours on the portable path */
    double tfwd, tfb;     /* torch */
} cfg;

static cfg cfgs[] = {
    { 128, 16, 32, 3, 1, 1, 0, 0, 0, 0, 0, 0 },
    { 128, 32, 16, 3, 1, 1, 0, 0, 0, 0, 0, 0 },
    { 128, 64, 8, 3, 1, 1, 0, 0, 0, 0, 0, 0 },
    { 128, 16, 32, 1, 1, 0, 0, 0, 0, 0, 0, 0 },
    { 128, 64, 8, 1, 1, 0, 0, 0, 0, 0, 0, 0 },
};
#define NCFG ((int)(sizeof cfgs / sizeof cfgs[0]))

static void die(const char *what)
{
    fprintf(stderr, "bench_conv: %s: %s\n", what, nl_errmsg());
    exit(1);
}

static nl_tensor *randt(nl_rng *r, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t s[4] = { a, b, c, d };
    nl_tensor *t;
    if (nl_tensor_zeros(&t, 4, s)) die("alloc");
    float *p = nl_tensor_data(t);
    for (int64_t i = 0; i < nl_tensor_numel(t); i++) p[i] = (float)nl_rng_normal(r);
    return t;
}

static void run_ours(nl_nn_ctx *ctx, cfg *c, int reps, nl_rng *r, double *fwd, double *fb)
{
    int ho = (c->h + 2 * c->p - c->k) / c->s + 1;
    nl_tensor *x = randt(r, c->n, c->c, c->h, c->h), *w = randt(r, c->c, c->c, c->k, c->k);
    nl_tensor *y = randt(r, c->n, c->c, ho, ho), *dy = randt(r, c->n, c->c, ho, ho);
    nl_tensor *dx = randt(r, c->n, c->c, c->h, c->h), *dw = randt(r, c->c, c->c, c->k, c->k);
    for (int mode = 0; mode < 2; mode++) {
        double best = 1e30;
        for (int round = 0; round < 4; round++) { /* round 0 warms up */
            double t0 = now();
            for (int i = 0; i < reps; i++) {
                if (nl_conv2d_forward(ctx, y, x, w, NULL, c->s, c->p, 1)) die("forward");
                if (mode) {
                    nl_tensor_fill(dx, 0.0f);
                    nl_tensor_fill(dw, 0.0f);
                    if (nl_conv2d_backward(ctx, dx, dw, NULL, dy, x, w, c->s, c->p, 1)) die("backward");
                }
            }
            double t = (now() - t0) / reps;
            if (round && t < best) best = t;
        }
        if (mode)
            *fb = best;
        else
            *fwd = best;
    }
    nl_tensor_free(x);
    nl_tensor_free(w);
    nl_tensor_free(y);
    nl_tensor_free(dy);
    nl_tensor_free(dx);
    nl_tensor_free(dw);
}

/* Runs the torch peer; fills tfwd/tfb. 0 on success. */
static int run_torch(const char *script, int threads, int reps)
{
    char targ[16], rarg[16], specs[NCFG][64];
    char *argv[4 + NCFG + 1];
    snprintf(targ, sizeof targ, "%d", threads);
    snprintf(rarg, sizeof rarg, "%d", reps);
    argv[0] = PYTHON;
    argv[1] = (char *)script;
    argv[2] = targ;
    argv[3] = rarg;
    for (int i = 0; i < NCFG; i++) {
        snprintf(specs[i], sizeof specs[i], "%d,%d,%d,%d,%d,%d", cfgs[i].n, cfgs[i].c, cfgs[i].h, cfgs[i].k,
                 cfgs[i].s, cfgs[i].p);
        argv[4 + i] = specs[i];
    }
    argv[4 + NCFG] = NULL;
    int fd[2];
    if (pipe(fd) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execv(PYTHON, argv);
        fprintf(stderr, "bench_conv: cannot run %s: %s\n", PYTHON, strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    char line[256];
    int got = 0;
    while (f && fgets(line, sizeof line, f)) {
        char spec[64];
        double a, b;
        if (sscanf(line, "%63s %lf %lf", spec, &a, &b) != 3) continue;
        for (int i = 0; i < NCFG; i++)
            if (strcmp(spec, specs[i]) == 0) {
                cfgs[i].tfwd = a;
                cfgs[i].tfb = b;
                got++;
            }
    }
    if (f) fclose(f);
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == NCFG ? 0 : -1;
}


int main(int argc, char **argv)
{
    const char *script = argc > 1 ? argv[1] : NASLAB_SRCDIR "/bench/conv_torch.py";
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    int reps = argc > 3 ? atoi(argv[3]) : 10;
    if (threads < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_conv [SCRIPT [THREADS >= 1 [REPS >= 1]]]\n");
        return 2;
    }
    openblas_set_num_threads(2);
    double g2 = sgemm_gflops(1024);
    openblas_set_num_threads(1);
    double g1 = sgemm_gflops(1024);
    printf("OpenBLAS sgemm 1024^3: %.1f GFLOP/s with 1 thread, %.1f GFLOP/s with 2 threads\n", g1, g2);

    nl_nn_ctx *ctx = nl_nn_ctx_new(threads);
    if (!ctx) die("ctx");
    nl_rng r;
    nl_rng_seed(&r, 42);
    for (int i = 0; i < NCFG; i++) run_ours(ctx, &cfgs[i], reps, &r, &cfgs[i].fwd, &cfgs[i].fb);
    const char *kern = nl_nn_ctx_avx512(ctx) ? "AVX-512 direct" : "portable";
    nl_nn_ctx_set_simd(ctx, NL_NN_SIMD_NONE);
    for (int i = 0; i < NCFG; i++) run_ours(ctx, &cfgs[i], reps, &r, &cfgs[i].pfwd, &cfgs[i].pfb);
    nl_nn_ctx_free(ctx);
    int have_torch = run_torch(script, threads, reps) == 0;
    if (!have_torch) printf("(PyTorch peer failed or missing: %s %s)\n", PYTHON, script);

    printf("conv2d, batch 128, Cin = Cout, %d threads; ms per call, GFLOP/s, ratio = torch time / naslab time\n",
           threads);
    printf("naslab: the ctx's kernels (here %s); portable: im2col + OpenBLAS sgemm\n", kern);
    printf("%-18s %9s %9s %7s | %9s %9s | %9s %9s %7s | %6s %6s\n", "N,C,HxW,k,s,p", "fwd", "fwd+bwd", "GF/s",
           "port fwd", "fwd+bwd", "torch fwd", "fwd+bwd", "GF/s", "r fwd", "r f+b");
    double sum_o = 0, sum_p = 0, sum_t = 0;
    for (int i = 0; i < NCFG; i++) {
        const cfg *c = &cfgs[i];
        int ho = (c->h + 2 * c->p - c->k) / c->s + 1;
        double fl = 2.0 * c->n * c->c * (double)c->c * c->k * c->k * ho * ho;
        char name[48];
        snprintf(name, sizeof name, "%d,%d,%dx%d,%d,%d,%d", c->n, c->c, c->h, c->h, c->k, c->s, c->p);
        printf("%-18s %9.2f %9.2f %7.1f | %9.2f %9.2f", name, c->fwd * 1e3, c->fb * 1e3, 3 * fl / c->fb * 1e-9,
               c->pfwd * 1e3, c->pfb * 1e3);
        sum_o += c->fb;
        sum_p += c->pfb;
        if (have_torch) {
            printf(" | %9.2f %9.2f %7.1f | %6.2f %6.2f\n", c->tfwd * 1e3, c->tfb * 1e3, 3 * fl / c->tfb * 1e-9,
                   c->tfwd / c->fwd, c->tfb / c->fb);
            sum_t += c->tfb;
        } else {
            printf("\n");
        }
    }
    printf("total fwd+bwd: naslab %.1f ms, portable %.1f ms", sum_o * 1e3, sum_p * 1e3);
    if (have_torch) printf(", torch %.1f ms, ratio torch / naslab %.2f (torch / portable %.2f)", sum_t * 1e3,
                           sum_t / sum_o, sum_t / sum_p);
    printf("\n");
    return 0;
}
