/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_load.c - how fast naslab loads a tabular benchmark (default: the real
 * NAS-Bench-201 table, $NASLAB_SHARED/data/nb201.csv) and how much resident
 * memory the loaded table takes, beside a peer measured in the same run:
 * /usr/bin/python3 reading the same file with the standard csv module into a
 * dict keyed by the arch string (value: idx and a list of floats), the way a
 * Python NAS script typically holds a benchmark. Wall time is the best of 5
 * loads; memory is the growth of resident set size across one load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "data/bench.h"

#ifndef NASLAB_SRCDIR
#define NASLAB_SRCDIR "."
#endif

static const char peer_py[] =
    "import csv, sys, time\n"
    "def rss_kb():\n"
    "    with open('/proc/self/statm') as f:\n"
    "        return int(f.read().split()[1]) * 4096 // 1024\n"
    "def load(path):\n"
    "    table = {}\n"
    "    with open(path, newline='') as f:\n"
    "        r = csv.reader(f)\n"
    "        header = next(r)\n"
    "        ia = header.index('arch')\n"
    "        ii = header.index('idx') if 'idx' in header else None\n"
    "        cols = [i for i, h in enumerate(header) if h not in ('arch', 'idx')]\n"
    "        for row in r:\n"
    "            table[row[ia]] = (int(row[ii]) if ii is not None else None, [float(row[i]) for i in cols])\n"
    "    return table\n"
    "path = sys.argv[1]\n"
    "r0 = rss_kb()\n"
    "kept = load(path)\n"
    "r1 = rss_kb()\n"
    "best = 1e30\n"
    "for _ in range(5):\n"
    "    t = time.perf_counter()\n"
    "    t2 = load(path)\n"
    "    best = min(best, time.perf_counter() - t)\n"
    "    del t2\n"
    "print(len(kept), best * 1e3, r1 - r0)\n";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv)
{
    char path[4096];
    const char *shared = getenv("NASLAB_SHARED");
    if (argc > 1)
        snprintf(path, sizeof path, "%s", argv[1]);
    else if (shared)
        snprintf(path, sizeof path, "%s/data/nb201.csv", shared);
    else
        snprintf(path, sizeof path, "%s/../shared/data/nb201.csv", NASLAB_SRCDIR);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "bench_load: %s not readable (give a path or set NASLAB_SHARED)\n", path);
        return 77;
    }

    /* Memory first, in a fresh heap, keeping the table alive. */
    long r0 = rss_kb();
    nl_bench *kept;
    if (nl_bench_load(path, NULL, &kept) < 0) {
        fprintf(stderr, "bench_load: %s\n", nl_errmsg());
        return 1;
    }
    long r1 = rss_kb();

    double best = 1e30;
    for (int i = 0; i < 5; i++) {
        nl_bench *b;
        double t = now();
        if (nl_bench_load(path, NULL, &b) < 0) {
            fprintf(stderr, "bench_load: %s\n", nl_errmsg());
            return 1;
        }
        double dt = now() - t;
        if (dt < best) best = dt;
        nl_bench_free(b);
    }

    char cmd[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"$NL_PEER\" '%s'", path);
    setenv("NL_PEER", peer_py, 1);
    FILE *p = popen(cmd, "r");
    long prows = 0;
    double pms = 0, pkb = 0;
    int got = p && fscanf(p, "%ld %lf %lf", &prows, &pms, &pkb) == 3;
    if (p) pclose(p);

    printf("bench_load: %s, %zu rows x %d metrics (%s)\n", path, nl_bench_size(kept), nl_bench_nmetrics(kept),
           nl_bench_space(kept)->name);
    printf("peer: /usr/bin/python3, csv module, dict keyed by arch -> (idx, [floats])\n");
    printf("%-28s %12s %14s %10s\n", "", "naslab", "python3 csv", "ratio");
    if (got) {
        printf("%-28s %9.1f ms %11.1f ms %9.1fx\n", "load time (best of 5)", best * 1e3, pms, pms / (best * 1e3));
        printf("%-28s %9.2f MB %11.2f MB %9.1fx\n", "resident memory of table", (double)(r1 - r0) / 1024, pkb / 1024,
               pkb / (double)(r1 - r0 > 0 ? r1 - r0 : 1));
        if (prows != (long)nl_bench_size(kept)) printf("note: the peer read %ld rows\n", prows);
    } else {
        printf("%-28s %9.1f ms %14s\n", "load time (best of 5)", best * 1e3, "(peer failed)");
        printf("%-28s %9.2f MB\n", "resident memory of table", (double)(r1 - r0) / 1024);
    }
    printf("naslab's own estimate of the table's heap: %.2f MB\n", (double)nl_bench_bytes(kept) / (1024.0 * 1024.0));
    nl_bench_free(kept);
    return 0;
}
