/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_encode.c - time the batched encoding of all 15,625 NAS-Bench-201 cells
 * (onehot, path, renas) and, as the peer, numpy building the same onehot
 * matrix from the index digits (/usr/bin/python3, measured in the same run).
 * Prints each figure with the ratio peer/naslab; the target is < 50 ms for
 * the whole space. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "space/nb201.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best of `reps` runs: enumerate the space and encode it in one batch. */
static double time_encode(const char *kind, int reps, float **keep, int64_t *numel)
{
    const nl_space *sp = &nl_space_nb201;
    nl_space_encode_numel(sp, kind, numel, NULL, NULL);
    nl_arch *archs = malloc(NL_NB201_SIZE * sizeof *archs);
    float *out = malloc((size_t)NL_NB201_SIZE * (size_t)*numel * sizeof *out);
    if (!archs || !out) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int64_t i = 0; i < NL_NB201_SIZE; i++) sp->at(i, &archs[i]);
        if (nl_space_encode_batch(sp, archs, NL_NB201_SIZE, kind, out)) {
            fprintf(stderr, "encode failed\n");
            exit(1);
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    free(archs);
    *keep = out;
    return best;
}

static const char *peer =
    "import time, numpy as np\n"
    "best = 1e30\n"
    "for _ in range(20):\n"
    "    t0 = time.perf_counter()\n"
    "    idx = np.arange(15625)\n"
    "    digits = (idx[:, None] // 5 ** np.arange(5, -1, -1)) % 5\n"
    "    enc = np.zeros((15625, 6, 5), dtype=np.float32)\n"
    "    enc[np.arange(15625)[:, None], np.arange(6), digits] = 1\n"
    "    enc = enc.reshape(15625, 30)\n"
    "    best = min(best, time.perf_counter() - t0)\n"
    "print('%.9f %.1f' % (best, enc.sum()))\n";

int main(void)
{
    float *onehot, *other;
    int64_t n1, n2;
    double t_onehot = time_encode("onehot", 20, &onehot, &n1);
    double sum = 0;
    for (int64_t i = 0; i < NL_NB201_SIZE * n1; i++) sum += onehot[i];

    double t_peer = -1, peer_sum = -1;
    char script[] = "/tmp/naslab_peer_XXXXXX";
    int fd = mkstemp(script);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fp) {
        fputs(peer, fp);
        fclose(fp);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", script);
        FILE *pp = popen(cmd, "r");
        if (pp) {
            if (fscanf(pp, "%lf %lf", &t_peer, &peer_sum) != 2) t_peer = -1;
            pclose(pp);
        }
        remove(script);
    }
    printf("nb201 onehot, all 15625 cells: naslab %.3f ms", t_onehot * 1e3);
    if (t_peer > 0)
        printf(", numpy %.3f ms, ratio numpy/naslab %.2f (sums %.0f / %.0f)\n", t_peer * 1e3, t_peer / t_onehot,
               sum, peer_sum);
    else
        printf(", numpy peer unavailable (/usr/bin/python3 with numpy)\n");
    free(onehot);

    double t = time_encode("path", 20, &other, &n2);
    printf("nb201 path,   all 15625 cells: naslab %.3f ms\n", t * 1e3);
    free(other);
    t = time_encode("renas", 20, &other, &n2);
    printf("nb201 renas,  all 15625 cells: naslab %.3f ms (%lld floats)\n", t * 1e3,
           (long long)(NL_NB201_SIZE * n2));
    free(other);
    printf("target: < 50 ms per batch: %s\n", t_onehot < 0.05 && t < 0.05 ? "met" : "NOT met");
    return 0;
}
