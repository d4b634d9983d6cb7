/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_nb101.c - NAS-Bench-101 enumeration: naslab (canonical-form dedup,
 * official hash per class, 2 threads) against bench/nb101_enum_peer.py (the
 * generate_graphs.py algorithm with hashlib) on the same workload, cells of
 * up to MAX_V vertices (default 6; the peer takes minutes for 7), then
 * naslab's time for the full space on 1 and 2 threads.
 * Usage: bench_nb101 [MAX_V]   (run from the build tree; needs /usr/bin/python3) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/md5.h"
#include "space/nb101.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Enumerate and return seconds; count and digest (md5 of the sorted hashes
 * joined by newlines, as the peer prints it) go to the out parameters. */
static double run(int max_v, int threads, long long *count, char digest[33])
{
    nl_nb101_set *s;
    double t0 = now();
    int rc = nl_nb101_enumerate(max_v, threads, NULL, NULL, &s);
    double t = now() - t0;
    if (rc) {
        fprintf(stderr, "bench_nb101: %s\n", nl_errmsg());
        exit(1);
    }
    nl_md5_ctx m;
    nl_md5_init(&m);
    for (int64_t i = 0; i < nl_nb101_set_count(s); i++) {
        uint8_t h[16];
        char hex[33];
        nl_nb101_set_get(s, i, NULL, h);
        nl_md5_hex(h, hex);
        if (i) nl_md5_update(&m, "\n", 1);
        nl_md5_update(&m, hex, 32);
    }
    uint8_t d[16];
    nl_md5_final(&m, d);
    nl_md5_hex(d, digest);
    *count = (long long)nl_nb101_set_count(s);
    nl_nb101_set_free(s);
    return t;
}

int main(int argc, char **argv)
{
    int max_v = argc > 1 ? atoi(argv[1]) : 6;
    if (max_v < 2 || max_v > 7) {
        fprintf(stderr, "usage: bench_nb101 [MAX_V in 2..7]\n");
        return 2;
    }
    long long n_nl, n_py = -1;
    char d_nl[33], d_py[64] = "?";
    double t_nl = run(max_v, 2, &n_nl, d_nl);

    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/bench/nb101_enum_peer.py' %d", NASLAB_SRCDIR, max_v);
    double t_py = -1;
    FILE *p = popen(cmd, "r");
    if (p) {
        char line[256];
        if (fgets(line, sizeof line, p) && sscanf(line, "count=%lld seconds=%lf digest=%63s", &n_py, &t_py, d_py) != 3)
            t_py = -1;
        pclose(p);
    }

    printf("workload: every NB101 cell of 2..%d vertices, <= 9 edges (generate_graphs.py)\n", max_v);
    printf("naslab (C, 2 threads)        %9.3f s  %lld cells  digest %s\n", t_nl, n_nl, d_nl);
    if (t_py < 0) {
        printf("peer (Python hashlib)        unavailable (%s)\n", cmd);
    } else {
        printf("peer (Python, hashlib, 1 core) %7.3f s  %lld cells  digest %s\n", t_py, n_py, d_py);
        printf("same set of hashes: %s\n", n_py == n_nl && strcmp(d_py, d_nl) == 0 ? "yes" : "NO");
        printf("speedup naslab / peer: %.1fx\n", t_py / t_nl);
    }
    if (max_v < 7) {
        char d[33];
        long long n;
        double t2 = run(7, 2, &n, d);
        double t1 = run(7, 1, &n, d);
        printf("naslab full space (%lld cells): %.3f s on 2 threads, %.3f s on 1 thread\n", n, t2, t1);
    }
    return 0;
}
