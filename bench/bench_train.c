/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_train.c - training the NAS-Bench-201 network (C=16, N=5, one input
 * channel, 32x32, 10 classes) with naslab beside PyTorch 1.13 CPU
 * (bench/train_torch.py under Debian's /usr/bin/python3), in the same run:
 *
 * 1. throughput: training steps (forward, loss, backward, SGD step) at batch
 *    128 with 2 threads on a fixed random batch, 3 warm-up steps, best of 3
 *    runs of STEPS steps; images/s, the ratio naslab / torch (above 1: naslab
 *    faster), and the GFLOP/s this is (3 x forward MACs x 2 flops per image)
 *    beside OpenBLAS SGEMM on the same machine;
 * 2. parity (with --parity E L): both train the same cell with the same recipe
 *    (SGD Nesterov 0.9, lr 0.1 cosine, wd 5e-4, batch 128) for E epochs on L
 *    Fashion-MNIST training images and report their accuracy on the 10,000
 *    test images, for seeds 1..S (--seeds; the two draw their initial
 *    weights, subsets and orders from different generators, so single runs
 *    differ by seed noise: the means over seeds are compared).
 *
 * Usage: bench_train [--steps S] [--threads T] [--arch CELL] [--C C] [--N N]
 *                    [--parity EPOCHS LIMIT] [--seeds S] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/nb201net.h"
#include "nn/train.h"
#include "space/nb201.h"

#ifndef NASLAB_SRCDIR
#define NASLAB_SRCDIR "."
#endif
#define PYTHON "/usr/bin/python3"
#define DEFAULT_ARCH "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"

static void die(const char *what)
{
    fprintf(stderr, "bench_train: %s: %s\n", what, nl_errmsg());
    exit(1);
}

static int netC = 16, netN = 5;

static nl_model *network(const char *arch, uint64_t seed)
{
    nl_arch a;
    if (nl_space_nb201.parse(arch, &a)) die("arch");
    nl_nb201net_opts o;
    nl_nb201net_defaults(&o);
    o.C = netC;
    o.N = netN;
    memcpy(o.ops, a.u.nb201.op, 6);
    nl_rng r;
    nl_rng_seed(&r, seed);
    nl_model *m;
    if (nl_nb201net_new(&m, &o, &r)) die("network");
    return m;
}

/* Run a peer command and read the number after "key": in its JSON line. */
static double peer(const char *cmd, const char *key)
{
    FILE *f = popen(cmd, "r");
    if (!f) return NAN;
    char line[4096];
    double v = NAN;
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, pat);
        if (p) v = atof(p + strlen(pat));
    }
    if (pclose(f) != 0) return NAN;
    return v;
}

static double naslab_throughput(const char *arch, int threads, int steps, double *macs)
{
    nl_model *m = network(arch, 1);
    nl_nn_ctx *c = nl_nn_ctx_new(threads);
    if (!c) die("ctx");
    int64_t xs[4] = { 128, 1, 32, 32 }, ls[2] = { 128, 10 };
    nl_tensor *x = nl_tensor_new(4, xs), *dl = nl_tensor_new(2, ls);
    int32_t labels[128];
    nl_rng r;
    nl_rng_seed(&r, 2);
    for (int64_t i = 0; i < nl_tensor_numel(x); i++) nl_tensor_data(x)[i] = (float)nl_rng_normal(&r);
    for (int i = 0; i < 128; i++) labels[i] = (int32_t)nl_rng_below(&r, 10);
    nl_optim *opt;
    nl_optim_opts oo;
    nl_optim_defaults("sgd", &oo);
    oo.lr = 0.1;
    oo.momentum = 0.9;
    oo.nesterov = 1;
    oo.weight_decay = 5e-4;
    if (nl_optim_new(&opt, "sgd", m->params, m->nparams, &oo)) die("optim");
    nl_sched_opts so;
    nl_sched_defaults(&so, NL_SCHED_COSINE, 0.1);
    so.total = 3 + 3 * steps;
    double best = 1e30;
    int64_t t = 0;
    for (int run = 0; run < 4; run++) {
        int n = run ? steps : 3;
        double t0 = now();
        for (int s = 0; s < n; s++) {
            const nl_tensor *lg;
            double loss;
            nl_optim_set_lr(opt, nl_sched_lr(&so, t++));
            if (m->vt->forward(m, c, x, 1, &lg) || nl_softmax_xent(&loss, NULL, dl, lg, labels) ||
                m->vt->backward(m, c, dl))
                die("step");
            nl_optim_step(opt);
            nl_optim_zero_grad(opt);
        }
        double el = (now() - t0) / n;
        if (run && el < best) best = el;
    }
    *macs = (double)nl_nb201net_macs(m);
    nl_optim_free(opt);
    nl_tensor_free(x);
    nl_tensor_free(dl);
    nl_nn_ctx_free(c);
    nl_model_free(m);
    return 128.0 / best;
}

static double naslab_parity(const char *arch, int threads, int epochs, int limit, uint64_t seed, double *secs)
{
    nl_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.limit = limit;
    o.has_seed = 1;
    o.seed = seed;
    o.pad = 2;
    o.normalize = 1;
    nl_dataset *tr, *te;
    if (nl_dataset_fashion_mnist(&o, &tr, NULL)) die("fashion-mnist train");
    nl_dataset_opts ot;
    memset(&ot, 0, sizeof ot);
    ot.test = 1;
    ot.pad = 2;
    ot.normalize = 1;
    ot.mean = tr->mean;
    ot.std = tr->std;
    if (nl_dataset_fashion_mnist(&ot, &te, NULL)) die("fashion-mnist test");
    nl_model *m = network(arch, seed);
    nl_nn_ctx *c = nl_nn_ctx_new(threads);
    nl_train_opts to;
    nl_train_defaults(&to);
    to.epochs = epochs;
    to.seed = seed;
    nl_train_result r;
    if (nl_train(m, c, tr, te, &to, &r)) die("train");
    double acc = r.test_acc;
    *secs = r.seconds;
    nl_train_result_free(&r);
    nl_nn_ctx_free(c);
    nl_model_free(m);
    nl_dataset_free(tr);
    nl_dataset_free(te);
    return acc;
}

int main(int argc, char **argv)
{
    int steps = 20, threads = 2, epochs = 0, limit = 0, seeds = 1;
    const char *arch = DEFAULT_ARCH;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else if (!strcmp(argv[i], "--C") && i + 1 < argc) netC = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--N") && i + 1 < argc) netN = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) seeds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--parity") && i + 2 < argc) {
            epochs = atoi(argv[++i]);
            limit = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_train [--steps S] [--threads T] [--arch CELL] [--C C] [--N N] "
                            "[--parity EPOCHS LIMIT] [--seeds S]\n");
            return 2;
        }
    }
    if (steps < 1 || threads < 1 || seeds < 1 || netC < 1 || netN < 1) return 2;
    openblas_set_num_threads(threads);
    double peak = sgemm_gflops(1024);
    char cmd[1024];
    printf("cell %s, C=%d N=%d, 1x32x32, batch 128, %d threads\n", arch, netC, netN, threads);
    printf("OpenBLAS sgemm 1024^3 with %d threads: %.1f GFLOP/s\n", threads, peak);
    if (!epochs) {
        double macs;
        double ours = naslab_throughput(arch, threads, steps, &macs);
        snprintf(cmd, sizeof cmd,
                 PYTHON " " NASLAB_SRCDIR "/bench/train_torch.py --mode throughput --arch '%s' --C %d --N %d --steps %d "
                        "--threads %d",
                 arch, netC, netN, steps, threads);
        double theirs = peer(cmd, "images_per_s");
        double gf = ours * 6.0 * macs * 1e-9, tgf = theirs * 6.0 * macs * 1e-9;
        printf("%-8s %10s %10s %8s\n", "", "images/s", "GFLOP/s", "of sgemm");
        printf("%-8s %10.1f %10.1f %7.0f%%\n", "naslab", ours, gf, 100 * gf / peak);
        printf("%-8s %10.1f %10.1f %7.0f%%\n", "torch", theirs, tgf, 100 * tgf / peak);
        printf("ratio naslab / torch: %.2f\n", ours / theirs);
    } else {
        printf("parity: %d epochs on %d Fashion-MNIST images, test on 10,000, seeds 1..%d\n", epochs, limit, seeds);
        printf("%-6s %12s %12s %10s\n", "seed", "naslab %", "torch %", "naslab s");
        double sa = 0, sb = 0, qa = 0, qb = 0;
        for (int sd = 1; sd <= seeds; sd++) {
            double secs;
            double ours = naslab_parity(arch, threads, epochs, limit, (uint64_t)sd, &secs);
            snprintf(cmd, sizeof cmd,
                     PYTHON " " NASLAB_SRCDIR "/bench/train_torch.py --mode train --arch '%s' --C %d --N %d --epochs %d "
                            "--limit %d --threads %d --seed %d",
                     arch, netC, netN, epochs, limit, threads, sd);
            double theirs = peer(cmd, "test_acc");
            printf("%-6d %12.2f %12.2f %10.1f\n", sd, ours, theirs, secs);
            fflush(stdout);
            sa += ours, qa += ours * ours, sb += theirs, qb += theirs * theirs;
        }
        double ma = sa / seeds, mb = sb / seeds;
        double da = seeds > 1 ? sqrt((qa - seeds * ma * ma) / (seeds - 1)) : 0,
               db = seeds > 1 ? sqrt((qb - seeds * mb * mb) / (seeds - 1)) : 0;
        printf("mean   %7.2f +- %.2f %7.2f +- %.2f   difference of means %.2f points\n", ma, da, mb, db, ma - mb);
    }
    return 0;
}
